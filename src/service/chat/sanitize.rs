//! Neutralising text before it reaches anyone's terminal.
//!
//! Chat text ends up on raw terminals (nc, telnet), where an escape sequence
//! can recolour the screen, move the cursor, set the window title or, on some
//! terminals, answer back keystrokes. Line breaks would let a sender forge a
//! second `<name> text` line. So before storage and fan-out:
//! - ANSI sequences are removed whole, the ESC included: CSI (`ESC [` ...
//!   final byte), OSC/DCS/SOS/PM/APC strings (`ESC ]` ... up to BEL or
//!   `ESC \`), two-character escapes (`ESC c`, `ESC ( B`), and their
//!   one-character C1 forms (U+009B, U+009D, ...);
//! - tab, CR, LF, VT, FF and the Unicode line/paragraph separators become a
//!   space, so a message is always one line;
//! - every other C0 control, DEL and C1 control is removed, as are the
//!   Unicode bidi embedding/override/isolate controls, which can make text
//!   display in an order other than the one it was written in;
//! - the result is NFC-normalised (so filter rules and names compare equal
//!   however the text was composed) and trimmed of surrounding spaces.

use unicode_normalization::UnicodeNormalization;

const ESC: char = '\u{1b}';
const BEL: char = '\u{7}';
/// C1 String Terminator.
const ST: char = '\u{9c}';

/// Returns `text` with every control and escape sequence neutralised (see
/// the module documentation), NFC-normalised and trimmed.
pub fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ESC => match chars.next() {
                Some('[') => skip_csi(&mut chars),
                Some(']' | 'P' | 'X' | '^' | '_') => skip_string(&mut chars),
                Some(' '..='/') => {
                    // Intermediates, then one final byte: `ESC ( B`.
                    while chars.next_if(|c| matches!(c, ' '..='/')).is_some() {}
                    chars.next_if(|c| matches!(c, '0'..='~'));
                }
                // `ESC c`, `ESC 7`, ...: the pair is the whole sequence.
                Some(_) | None => {}
            },
            '\u{9b}' => skip_csi(&mut chars),
            '\u{90}' | '\u{98}' | '\u{9d}' | '\u{9e}' | '\u{9f}' => skip_string(&mut chars),
            '\t' | '\n' | '\r' | '\u{b}' | '\u{c}' | '\u{2028}' | '\u{2029}' => out.push(' '),
            c if c.is_control() || is_bidi_control(c) => {}
            c => out.push(c),
        }
    }
    let trimmed = out.trim();
    if unicode_normalization::is_nfc_quick(trimmed.chars())
        == unicode_normalization::IsNormalized::Yes
    {
        if trimmed.len() == out.len() {
            return out;
        }
        return trimmed.to_owned();
    }
    trimmed.nfc().collect()
}

/// Skips a CSI sequence after its introducer: parameter and intermediate
/// bytes, then the final byte if there is one.
fn skip_csi(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while chars.next_if(|c| matches!(c, ' '..='?')).is_some() {}
    chars.next_if(|c| matches!(c, '@'..='~'));
}

/// Skips a control string (OSC, DCS, ...) up to and including its
/// terminator: BEL, `ESC \` or ST; an unterminated one runs to the end.
fn skip_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while let Some(c) = chars.next() {
        match c {
            BEL | ST => return,
            ESC => {
                chars.next_if_eq(&'\\');
                return;
            }
            _ => {}
        }
    }
}

/// Bidi embedding, override and isolate controls (LRE..RLO, LRI..PDI).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_kept() {
        assert_eq!(sanitize("hello, wörld 👋"), "hello, wörld 👋");
    }

    #[test]
    fn ansi_sequences_are_removed_whole() {
        assert_eq!(sanitize("\x1b[31;1mred\x1b[0m text"), "red text");
        assert_eq!(sanitize("a\x1b]0;pwned title\x07b"), "ab");
        assert_eq!(
            sanitize("a\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\b"),
            "alinkb"
        );
        assert_eq!(sanitize("\x1bcreset"), "reset");
        assert_eq!(sanitize("x\x1b(By"), "xy");
        assert_eq!(sanitize("x\u{9b}2Jy"), "xy");
        assert_eq!(sanitize("x\u{9d}0;t\u{9c}y"), "xy");
        assert_eq!(sanitize("dangling\x1b"), "dangling");
        assert_eq!(sanitize("\x1b[2J\x1b[H"), "");
    }

    #[test]
    fn controls_are_removed_and_breaks_become_spaces() {
        assert_eq!(sanitize("a\tb\r\n<bob> forged"), "a b  <bob> forged");
        assert_eq!(sanitize("bell\x07\x00\x7f\u{85}!"), "bell!");
        assert_eq!(sanitize("\u{202e}txt.exe"), "txt.exe");
        assert_eq!(sanitize("  padded \n"), "padded");
    }

    #[test]
    fn text_is_nfc_normalised() {
        assert_eq!(sanitize("cafe\u{301}"), "caf\u{e9}");
    }
}
