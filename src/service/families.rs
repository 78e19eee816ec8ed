//! Which request families a server answers, decided once from the services
//! it runs: every door and `hello` read the same answer.

use super::Services;

/// The request families on, beyond the stateless core (`hello`, `ping`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Families {
    /// `auth.*`: there is an account store.
    pub login: bool,
    /// `chat.*`: there is a chat hub.
    pub chat: bool,
    /// `file.*`: there is a file store, and accounts to own the files.
    pub file: bool,
    /// `share.*`: there is a shares service beside the file store.
    pub share: bool,
}

impl Families {
    /// The families `services` can answer.
    pub fn of(services: &Services) -> Families {
        let login = services.accounts.is_some();
        Families {
            login,
            chat: services.chat.is_some(),
            file: login && services.files.is_some(),
            share: login && services.files.is_some() && services.shares.is_some(),
        }
    }

    /// Their names as `hello` lists them in `features`, in this order.
    pub fn features(self) -> Vec<String> {
        [
            ("login", self.login),
            ("chat", self.chat),
            ("file", self.file),
            ("share", self.share),
        ]
        .into_iter()
        .filter(|(_, on)| *on)
        .map(|(name, _)| name.to_owned())
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_need_accounts_and_none_means_no_features() {
        assert!(Families::of(&Services::default()).features().is_empty());
        let all = Families {
            login: true,
            chat: true,
            file: true,
            share: true,
        };
        assert_eq!(all.features(), ["login", "chat", "file", "share"]);
    }
}
