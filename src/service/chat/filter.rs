//! The word filter: the classic keyword rule, shared by every door.
//!
//! Rules come from the config file and `--chat-filter` flags, one per entry:
//! - `FROM=TO` replaces every whole word `FROM` by `TO` ("darn=****");
//! - `FROM=!block` refuses any message containing the word `FROM`, with an
//!   error the door shows as a notice (a `TO` starting with `!` is reserved
//!   for actions, and `!block` is the only one);
//! - `FROM=` (empty `TO`) deletes the word.
//!
//! Words are maximal runs of Unicode alphanumeric characters (invisible
//! default-ignorable characters inside a run do not split it), so "darn"
//! matches in "Darn, it!" but not in "darning"; `FROM` must itself be one
//! such word. Words are compared [folded](super::fold): NFKC, without
//! invisible characters, Cyrillic and Greek look-alikes read as Latin,
//! lowercased; so "ＤＡＲＮ", "d\u{200B}arn", "d\u{AD}arn" and "dаrn" (a
//! Cyrillic `а`) all match a rule for "darn", and the whole run as written
//! is what gets replaced. When several rules name the same word, the last one
//! wins, so flags given after the config file override it.

use std::borrow::Cow;
use std::collections::HashMap;
use std::str::FromStr;

use unicode_normalization::UnicodeNormalization;

use super::error::ChatError;
use super::fold::{fold_char_into, is_default_ignorable};
use super::sanitize::sanitize;

/// The action word that turns a rule into a block.
const BLOCK: &str = "!block";

/// One filter rule, as parsed from `FROM=TO` or `FROM=!block`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterRule {
    /// The word to match (one alphanumeric run).
    pub word: String,
    /// What happens to a message containing it.
    pub action: FilterAction,
}

/// What a rule does to a message containing its word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterAction {
    /// Replace the word by this text.
    Replace(String),
    /// Refuse the whole message.
    Block,
}

/// A rule that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("filter rule {rule:?}: {why}; write FROM=TO or FROM=!block")]
pub struct FilterRuleError {
    /// The rule as given.
    pub rule: String,
    /// What is wrong with it.
    pub why: &'static str,
}

impl FilterRule {
    /// Parses `FROM=TO` or `FROM=!block` (see the module documentation).
    pub fn parse(rule: &str) -> Result<FilterRule, FilterRuleError> {
        let err = |why| FilterRuleError {
            rule: rule.to_owned(),
            why,
        };
        let (from, to) = rule.split_once('=').ok_or_else(|| err("no '='"))?;
        let word: String = from.trim().nfc().collect();
        if word.is_empty() {
            return Err(err("FROM is empty"));
        }
        if !word.chars().all(char::is_alphanumeric) {
            return Err(err("FROM must be one word of letters and digits"));
        }
        let action = match to.trim() {
            BLOCK => FilterAction::Block,
            t if t.starts_with('!') => return Err(err("unknown action; the only one is !block")),
            t => FilterAction::Replace(sanitize(t)),
        };
        Ok(FilterRule { word, action })
    }
}

impl FromStr for FilterRule {
    type Err = FilterRuleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FilterRule::parse(s)
    }
}

/// The compiled filter: a map from lowercased word to action.
#[derive(Debug, Clone, Default)]
pub struct WordFilter {
    rules: HashMap<String, FilterAction>,
}

impl WordFilter {
    /// Compiles `rules`; for a repeated word the last rule wins.
    pub fn new(rules: &[FilterRule]) -> WordFilter {
        let mut map = HashMap::with_capacity(rules.len());
        for r in rules {
            let mut key = String::new();
            lower_into(&r.word, &mut key);
            map.insert(key, r.action.clone());
        }
        WordFilter { rules: map }
    }

    /// Applies the filter to sanitised (NFC) text: the text with words
    /// replaced, or [`ChatError::Blocked`] naming the first blocked word.
    pub fn apply<'a>(&self, text: &'a str) -> Result<Cow<'a, str>, ChatError> {
        if self.rules.is_empty() {
            return Ok(Cow::Borrowed(text));
        }
        let mut out: Option<String> = None;
        let mut key = String::new();
        let mut copied = 0; // bytes of `text` already accounted for in `out`
        for (start, end) in words(text) {
            let word = &text[start..end];
            lower_into(word, &mut key);
            match self.rules.get(&key) {
                None => {}
                Some(FilterAction::Block) => return Err(ChatError::Blocked(word.to_owned())),
                Some(FilterAction::Replace(to)) => {
                    let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
                    o.push_str(&text[copied..start]);
                    o.push_str(to);
                    copied = end;
                }
            }
        }
        Ok(match out {
            None => Cow::Borrowed(text),
            Some(mut o) => {
                o.push_str(&text[copied..]);
                Cow::Owned(o)
            }
        })
    }
}

/// Writes the folded form of `word` into `key` (cleared first): the form
/// rules and words are compared in.
fn lower_into(word: &str, key: &mut String) {
    key.clear();
    for c in word.chars() {
        fold_char_into(c, key);
    }
}

/// True for a character that continues a word: a letter or digit, or an
/// invisible one (which must not let a word be split unseen).
fn in_word(c: char) -> bool {
    c.is_alphanumeric() || is_default_ignorable(c)
}

/// Byte ranges of the maximal word runs in `text` (see [`in_word`]).
fn words(text: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut it = text.char_indices().peekable();
    std::iter::from_fn(move || {
        let (start, _) = it.find(|(_, c)| c.is_alphanumeric())?;
        let mut end = text.len();
        while let Some(&(i, c)) = it.peek() {
            if !in_word(c) {
                end = i;
                break;
            }
            it.next();
        }
        Some((start, end))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(rules: &[&str]) -> WordFilter {
        let rules: Vec<FilterRule> = rules.iter().map(|r| r.parse().unwrap()).collect();
        WordFilter::new(&rules)
    }

    #[test]
    fn replaces_whole_words_case_insensitively() {
        let f = filter(&["darn=****"]);
        assert_eq!(
            f.apply("Darn, it! DARN darn.").unwrap(),
            "****, it! **** ****."
        );
        assert_eq!(
            f.apply("darning undarn darn_it").unwrap(),
            "darning undarn ****_it"
        );
        assert!(matches!(f.apply("nothing here").unwrap(), Cow::Borrowed(_)));
    }

    #[test]
    fn unicode_words_and_boundaries() {
        let f = filter(&["Ärger=ärgernis", "дурак=***"]);
        assert_eq!(f.apply("ÄRGER! ärger").unwrap(), "ärgernis! ärgernis");
        assert_eq!(f.apply("Дурак, дураки").unwrap(), "***, дураки");
        // A letter outside ASCII continues a word: no match inside "ärgerö".
        assert_eq!(f.apply("ärgerö").unwrap(), "ärgerö");
    }

    #[test]
    fn block_refuses_naming_the_word() {
        let f = filter(&["darn=****", "spam=!block"]);
        assert_eq!(
            f.apply("buy SPAM now"),
            Err(ChatError::Blocked("SPAM".into()))
        );
        assert_eq!(f.apply("spammer").unwrap(), "spammer");
    }

    #[test]
    fn last_rule_wins_and_empty_to_deletes() {
        let f = filter(&["x=y", "x=", "z=!block", "z=zz"]);
        assert_eq!(f.apply("a x z").unwrap(), "a  zz");
    }

    #[test]
    fn look_alikes_do_not_get_past() {
        let f = filter(&["darn=!block", "admin=****"]);
        for sneaky in [
            "d\u{200B}arn",
            "d\u{AD}arn",
            "da\u{2060}rn!",
            "ＤＡＲＮ",
            "dаrn", // Cyrillic а
            "DΑRN", // Greek Alpha
            "dar\u{FE0F}n",
        ] {
            assert!(
                matches!(f.apply(sneaky), Err(ChatError::Blocked(_))),
                "{sneaky:?} got through"
            );
        }
        // The whole run as written is replaced.
        assert_eq!(f.apply("hi аdmin\u{200B}!").unwrap(), "hi ****!");
        // Words that merely share letters are left alone.
        assert_eq!(f.apply("darning dam").unwrap(), "darning dam");
    }

    #[test]
    fn bad_rules_are_refused() {
        for bad in ["nodelim", "=x", "two words=x", "a=!nuke", "d*mn=x"] {
            let e = FilterRule::parse(bad).unwrap_err();
            assert!(e.to_string().contains("FROM=TO"), "{e}");
        }
    }
}
