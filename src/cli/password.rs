//! Reading a password without it ever touching argv: from a no-echo prompt,
//! from one line of stdin (`--password-stdin`), or from `SOCKIT_PASSWORD`.

use std::io::{BufRead, IsTerminal};

use anyhow::{Context, bail};
use sockit::wire::MAX_PASSWORD_BYTES;

/// Environment variable `sockit login` reads a password from.
pub const PASSWORD_ENV: &str = "SOCKIT_PASSWORD";

/// Where a password comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// One line of stdin.
    Stdin,
    /// `SOCKIT_PASSWORD`, when set; else a prompt.
    EnvOrPrompt,
    /// A prompt only (commands that set a password do not read the env).
    Prompt,
}

/// Reads a password. `confirm` asks twice at a prompt (setting a password).
pub fn read(source: Source, prompt: &str, confirm: bool) -> anyhow::Result<String> {
    if source == Source::EnvOrPrompt {
        if let Some(v) = std::env::var_os(PASSWORD_ENV) {
            return v.into_string().map_err(|_| {
                anyhow::anyhow!("{PASSWORD_ENV} is not valid UTF-8; passwords are UTF-8 text")
            });
        }
    }
    if source == Source::Stdin {
        return password_line(std::io::stdin().lock());
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "stdin is not a terminal, so the password cannot be prompted; \
             pipe it in with --password-stdin"
        );
    }
    let first = rpassword::prompt_password(prompt).context("reading the password")?;
    if confirm {
        let again =
            rpassword::prompt_password("repeat the password: ").context("reading the password")?;
        if again != first {
            bail!("the two passwords differ; run the command again");
        }
    }
    Ok(first)
}

/// One line of `input`, without its `\n` (or `\r\n`). Reads at most a
/// little more than the longest password, so a huge stdin costs nothing.
fn password_line(input: impl BufRead) -> anyhow::Result<String> {
    let limit = u64::try_from(MAX_PASSWORD_BYTES + 2).unwrap_or(u64::MAX);
    let mut buf = Vec::new();
    input
        .take(limit)
        .read_until(b'\n', &mut buf)
        .context("reading the password from stdin")?;
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
    } else if buf.len() > MAX_PASSWORD_BYTES {
        bail!("the password on stdin is longer than {MAX_PASSWORD_BYTES} bytes; use a shorter one");
    }
    if buf.is_empty() {
        bail!("no password on stdin; write it as one line, e.g. printf '%s\\n' \"$PASS\" | ...");
    }
    String::from_utf8(buf).map_err(|_| {
        anyhow::anyhow!(
            "the password on stdin is not valid UTF-8; check the terminal's or file's encoding"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_line_strips_one_newline_and_checks_utf8() {
        assert_eq!(password_line(&b"secret pw\n"[..]).unwrap(), "secret pw");
        assert_eq!(
            password_line(&b"secret pw\r\nmore\n"[..]).unwrap(),
            "secret pw"
        );
        assert_eq!(password_line(&b"no newline"[..]).unwrap(), "no newline");
        assert_eq!(
            password_line(&b" spaces kept \n"[..]).unwrap(),
            " spaces kept "
        );
        let e = password_line(&b"\xff\xfe bad\n"[..])
            .unwrap_err()
            .to_string();
        assert!(e.contains("UTF-8"), "{e}");
        let long = vec![b'x'; MAX_PASSWORD_BYTES + 10];
        let e = password_line(&long[..]).unwrap_err().to_string();
        assert!(e.contains("longer"), "{e}");
        assert!(password_line(&b"\n"[..]).is_err());
    }
}
