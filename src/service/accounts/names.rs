//! Account names: the one rule for what a name may be, and the key that
//! makes `Alice` and `alice` the same account.

use unicode_normalization::UnicodeNormalization;

/// Longest name, in characters (after NFC): fits a chat prefix and a table column.
pub const MAX_NAME_CHARS: usize = 32;

/// Why a name was refused; each message names the rule that was broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name is empty.
    #[error("the name is empty; give 1 to {MAX_NAME_CHARS} letters, digits, `_`, `-` or `.`")]
    Empty,
    /// More than [`MAX_NAME_CHARS`] characters.
    #[error("the name has {0} characters; the limit is {MAX_NAME_CHARS}")]
    TooLong(usize),
    /// `~` marks guests in chat, so no account may carry it.
    #[error("`~` is not allowed in names: chat shows guests as ~name")]
    Tilde,
    /// A character outside letters, digits, `_`, `-` and `.`.
    #[error("{0:?} is not allowed in names; use letters, digits, `_`, `-` or `.`")]
    BadChar(char),
    /// The first character is `_`, `-` or `.`.
    #[error("a name must start with a letter or a digit, not {0:?}")]
    BadStart(char),
}

/// Checks an account name and returns its canonical (NFC) form.
///
/// The rule: the name is first NFC-normalised (so `é` typed as `e` + accent
/// is the same name as the precomposed `é`); it then has 1 to 32 characters,
/// each a Unicode letter or digit (`char::is_alphanumeric`) or one of `_`,
/// `-` and `.`, and it starts with a letter or a digit. `~` is never allowed:
/// chat shows guests as `~name`, so a guest can never pass for an account.
/// Names are unique ignoring case: `Alice` and `alice` are the same account
/// (see [`name_key`]); the account keeps the spelling it was created with.
pub fn validate_name(name: &str) -> Result<String, NameError> {
    let nfc: String = name.nfc().collect();
    let count = nfc.chars().count();
    if count == 0 {
        return Err(NameError::Empty);
    }
    if count > MAX_NAME_CHARS {
        return Err(NameError::TooLong(count));
    }
    for c in nfc.chars() {
        if c == '~' {
            return Err(NameError::Tilde);
        }
        if !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.')) {
            return Err(NameError::BadChar(c));
        }
    }
    match nfc.chars().next() {
        Some(c) if !c.is_alphanumeric() => Err(NameError::BadStart(c)),
        _ => Ok(nfc),
    }
}

/// The uniqueness key of a (valid, NFC) name: lower-cased, then NFC again
/// because lower-casing can produce sequences that compose differently.
pub fn name_key(nfc_name: &str) -> String {
    nfc_name.to_lowercase().nfc().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nfc_and_case_collide_on_one_key() {
        let composed = validate_name("Jos\u{e9}").unwrap();
        let decomposed = validate_name("Jose\u{301}").unwrap();
        assert_eq!(composed, decomposed, "NFC makes both spellings one name");
        assert_eq!(
            name_key(&composed),
            name_key(&validate_name("JOS\u{c9}").unwrap())
        );
        assert_eq!(name_key("Alice"), name_key("aLiCe"));
        assert_ne!(name_key("alice"), name_key("alice2"));
    }

    #[test]
    fn accepts_letters_digits_and_three_marks() {
        for ok in ["a", "alice", "Bob_2", "x.y-z", "7up", "Zoë", "名前", "ÅSA"] {
            assert_eq!(validate_name(ok).as_deref(), Ok(ok), "{ok}");
        }
    }

    #[test]
    fn refuses_tilde_marks_at_start_spaces_and_symbols() {
        assert_eq!(validate_name("~alice"), Err(NameError::Tilde));
        assert_eq!(validate_name("al~ice"), Err(NameError::Tilde));
        assert_eq!(validate_name("_alice"), Err(NameError::BadStart('_')));
        assert_eq!(validate_name(".x"), Err(NameError::BadStart('.')));
        assert_eq!(validate_name("a b"), Err(NameError::BadChar(' ')));
        assert_eq!(validate_name("a@b"), Err(NameError::BadChar('@')));
        assert_eq!(validate_name("a\u{0}"), Err(NameError::BadChar('\u{0}')));
        assert!(validate_name("a\u{202e}b").is_err(), "no bidi controls");
    }

    #[test]
    fn length_is_counted_in_characters_after_nfc() {
        assert_eq!(validate_name(""), Err(NameError::Empty));
        let max = "é".repeat(MAX_NAME_CHARS);
        assert!(validate_name(&max).is_ok(), "32 two-byte chars are fine");
        let decomposed = "e\u{301}".repeat(MAX_NAME_CHARS);
        assert!(
            validate_name(&decomposed).is_ok(),
            "64 code points, 32 after NFC"
        );
        assert_eq!(validate_name(&"a".repeat(33)), Err(NameError::TooLong(33)));
    }
}
