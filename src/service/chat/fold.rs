//! Folding text for comparison: what the word filter matches on, so that
//! look-alike spellings of a filtered word are caught.
//!
//! A character folds to: its NFKC compatibility form (full-width `ｄ` and
//! ligatures like `ﬁ` become plain letters), minus Unicode
//! default-ignorable code points (zero-width space, soft hyphen, joiners,
//! variation selectors: invisible, so they must not split a word), with
//! the Cyrillic and Greek letters that look like Latin ones mapped to
//! those, then lowercased. The stored text is never folded: only the
//! filter's comparison is.
//!
//! The look-alike table is small and by hand on purpose: UTS #39 skeletons
//! (the `unicode-security` crate) also map `m` to `rn` and `1` to `l`, so a
//! rule for one word would block innocent others.

use unicode_normalization::UnicodeNormalization;

/// True for Unicode's Default_Ignorable_Code_Point property (Unicode 15.1,
/// DerivedCoreProperties.txt): characters that render as nothing.
pub(crate) fn is_default_ignorable(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}'..='\u{1160}'
        | '\u{17B4}'..='\u{17B5}' | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{3164}'
        | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}' | '\u{FFF0}'..='\u{FFF8}'
        | '\u{1BCA0}'..='\u{1BCA3}' | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E0FFF}')
}

/// The Latin letter a Cyrillic or Greek letter is drawn like, if any.
fn latin_lookalike(c: char) -> Option<char> {
    Some(match c {
        // Cyrillic
        'а' | 'А' => 'a',
        'В' => 'b',
        'е' | 'Е' => 'e',
        'һ' | 'Һ' | 'Н' => 'h',
        'і' | 'І' | 'Ӏ' => 'i',
        'ј' | 'Ј' => 'j',
        'к' | 'К' => 'k',
        'М' => 'm',
        'о' | 'О' => 'o',
        'р' | 'Р' => 'p',
        'ԛ' | 'Ԛ' => 'q',
        'с' | 'С' => 'c',
        'ѕ' | 'Ѕ' => 's',
        'Т' => 't',
        'у' | 'У' | 'ү' | 'Ү' => 'y',
        'х' | 'Х' => 'x',
        'ԁ' | 'Ԁ' => 'd',
        'ԝ' | 'Ԝ' => 'w',
        // Greek
        'α' | 'Α' => 'a',
        'Β' => 'b',
        'Ε' => 'e',
        'Ζ' => 'z',
        'Η' => 'h',
        'ι' | 'Ι' => 'i',
        'κ' | 'Κ' => 'k',
        'Μ' => 'm',
        'ν' | 'Ν' => 'n',
        'ο' | 'Ο' => 'o',
        'ρ' | 'Ρ' => 'p',
        'Τ' => 't',
        'υ' | 'Υ' => 'y',
        'χ' | 'Χ' => 'x',
        'ϲ' | 'Ϲ' => 'c',
        'ϳ' => 'j',
        _ => return None,
    })
}

/// Appends the folded form of `c` to `out` (see the module documentation);
/// nothing for an invisible character.
pub(crate) fn fold_char_into(c: char, out: &mut String) {
    for k in std::iter::once(c).nfkc() {
        if is_default_ignorable(k) {
            continue;
        }
        let k = latin_lookalike(k).unwrap_or(k);
        out.extend(k.to_lowercase());
    }
}

/// The folded form of a whole string.
#[cfg(test)]
fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        fold_char_into(c, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_alikes_fold_to_latin() {
        assert_eq!(fold("ＤＡＲＮ"), "darn");
        assert_eq!(fold("d\u{200B}a\u{AD}r\u{2060}n\u{FE0F}"), "darn");
        assert_eq!(fold("dаrn"), "darn"); // Cyrillic а
        assert_eq!(fold("ΑΡΕ"), "ape"); // Greek capitals
        assert_eq!(fold("ﬁne"), "fine");
        // Letters with no Latin twin stay themselves.
        assert_eq!(fold("дурак"), "дypak");
    }
}
