//! The CLI's trust-on-first-use store, as ssh's known_hosts: `known_hosts`
//! in the config directory (see [`super::config_dir::config_dir`]), one
//! `HOST:PORT sha256:<hex>` per line; `#` comments and blank lines are kept.
//!
//! Written atomically (temporary file, fsync, rename) and serialised within
//! the process, so fifty connections that meet a server for the first time
//! at once (`sockit bench --conns 50`) store it once.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::net::tls::{Fingerprint, Known, KnownHosts};

use super::config_dir::{config_dir, write_private};
use super::credentials::CredentialsError;

/// The file's name in the config directory.
pub const FILE_NAME: &str = "known_hosts";

/// One entry of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `HOST:PORT` as dialed (IPv6 hosts in brackets).
    pub server: String,
    /// The trusted certificate.
    pub fingerprint: Fingerprint,
    /// 1-based line number.
    pub line: usize,
}

/// The known_hosts file.
#[derive(Debug)]
pub struct KnownHostsFile {
    path: PathBuf,
    /// Print one line to stderr when a server is first trusted.
    announce: bool,
    /// Serialises read-modify-write within this process.
    lock: Mutex<()>,
}

impl KnownHostsFile {
    /// The file in the config directory; `announce` prints first uses.
    pub fn from_env(announce: bool) -> Result<Self, CredentialsError> {
        Ok(Self::at(config_dir()?.join(FILE_NAME), announce))
    }

    /// The file at `path`.
    pub fn at(path: PathBuf, announce: bool) -> Self {
        KnownHostsFile {
            path,
            announce,
            lock: Mutex::new(()),
        }
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every entry, in file order (an absent file has none). A line that
    /// cannot be read is an error naming the file and line: guessing could
    /// trust the wrong certificate.
    pub fn entries(&self) -> io::Result<Vec<Entry>> {
        Ok(parse(&self.path, &self.read()?)?.1)
    }

    fn read(&self) -> io::Result<String> {
        match fs::read_to_string(&self.path) {
            Ok(t) => Ok(t),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(String::new()),
            Err(e) => Err(io::Error::new(
                e.kind(),
                format!("{}: {e}", self.path.display()),
            )),
        }
    }

    /// Removes `server`'s entries; returns how many there were.
    pub fn forget(&self, server: &str) -> io::Result<usize> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let text = self.read()?;
        let (lines, entries) = parse(&self.path, &text)?;
        let gone = entries.iter().filter(|e| e.server == server).count();
        if gone > 0 {
            let kept: Vec<&str> = lines
                .iter()
                .filter(|l| first_word(l) != Some(server))
                .copied()
                .collect();
            self.write(&kept)?;
        }
        Ok(gone)
    }

    fn write(&self, lines: &[&str]) -> io::Result<()> {
        let mut text = lines.join("\n");
        if !text.is_empty() {
            text.push('\n');
        }
        write_private(&self.path, text.as_bytes())
    }
}

fn first_word(line: &str) -> Option<&str> {
    let line = line.trim();
    if line.starts_with('#') {
        return None;
    }
    line.split_whitespace().next()
}

/// The file's lines and its entries.
fn parse<'a>(path: &Path, text: &'a str) -> io::Result<(Vec<&'a str>, Vec<Entry>)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut entries = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(server) = first_word(line) else {
            continue;
        };
        let bad = || {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{}:{}: expected `HOST:PORT sha256:HEX`; fix or delete the line",
                    path.display(),
                    i + 1
                ),
            )
        };
        let mut words = line.split_whitespace().skip(1);
        let fp = words.next().ok_or_else(bad)?.parse().map_err(|_| bad())?;
        if words.next().is_some() {
            return Err(bad());
        }
        entries.push(Entry {
            server: server.to_owned(),
            fingerprint: fp,
            line: i + 1,
        });
    }
    Ok((lines, entries))
}

impl KnownHosts for KnownHostsFile {
    fn lookup(&self, server: &str) -> io::Result<Option<Known>> {
        Ok(self
            .entries()?
            .into_iter()
            .find(|e| e.server == server)
            .map(|e| Known {
                fingerprint: e.fingerprint,
                whence: format!("{}:{}", self.path.display(), e.line),
            }))
    }

    fn remember(&self, server: &str, fingerprint: Fingerprint) -> io::Result<()> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let text = self.read()?;
        let (mut lines, entries) = parse(&self.path, &text)?;
        if let Some(e) = entries.iter().find(|e| e.server == server) {
            // Another connection stored it meanwhile; a different one there
            // means the certificate changed between two of our connections.
            return if e.fingerprint == fingerprint {
                Ok(())
            } else {
                Err(io::Error::other(format!(
                    "{}:{} trusts {} for {server}, but the server just presented {fingerprint}",
                    self.path.display(),
                    e.line,
                    e.fingerprint
                )))
            };
        }
        let line = format!("{server} {fingerprint}");
        lines.push(&line);
        self.write(&lines)?;
        if self.announce {
            eprintln!(
                "sockit: first connection to {server}: trusting its certificate {fingerprint} \
                 (stored in {})",
                self.path.display()
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(b: u8) -> Fingerprint {
        Fingerprint([b; 32])
    }

    #[test]
    fn remember_lookup_forget() {
        let dir = tempfile::tempdir().unwrap();
        let kh = KnownHostsFile::at(dir.path().join("cfg").join(FILE_NAME), false);
        assert!(kh.lookup("h:1").unwrap().is_none());
        kh.remember("h:1", fp(1)).unwrap();
        kh.remember("[::1]:2", fp(2)).unwrap();
        kh.remember("h:1", fp(1)).unwrap();
        let known = kh.lookup("[::1]:2").unwrap().unwrap();
        assert_eq!(known.fingerprint, fp(2));
        assert!(known.whence.ends_with("known_hosts:2"), "{}", known.whence);
        let e = kh.remember("h:1", fp(9)).unwrap_err().to_string();
        assert!(e.contains("known_hosts:1"), "{e}");
        assert_eq!(kh.forget("h:1").unwrap(), 1);
        assert_eq!(kh.forget("h:1").unwrap(), 0);
        assert_eq!(kh.entries().unwrap().len(), 1);
    }

    #[test]
    fn comments_survive_and_bad_lines_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        fs::write(&path, format!("# mine\n\nh:1 {}\n", fp(1))).unwrap();
        let kh = KnownHostsFile::at(path.clone(), false);
        kh.remember("h:2", fp(2)).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# mine\n\nh:1 "), "{text}");
        fs::write(&path, "h:1 nonsense\n").unwrap();
        let e = kh.lookup("h:1").unwrap_err().to_string();
        assert!(e.contains("known_hosts:1"), "{e}");
    }
}
