//! Where `sockit get` finds a share link and, for an end-to-end encrypted
//! one, its key: the environment ($SOCKIT_LINK) or a prompt that does not
//! echo, never the command line, which any user of the machine reads in
//! `ps` (and the shell keeps in its history). Then the decrypting fetch.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use sockit::client::e2e::LinkKey;
use sockit::client::e2e::fetch::{Fetched, fetch};
use sockit::client::share_link::{Link, LinkError, LinkInfo};

/// The variable that carries a whole link, key included.
pub const LINK_ENV: &str = "SOCKIT_LINK";

/// The one line for a key on the command line.
const KEY_IN_ARGV: &str = "refusing a share link with its #key on the command line, where other users see it (ps, shell history): run SOCKIT_LINK='LINK' sockit get, or give the link without #key and paste it whole at the prompt";

fn bad(msg: String) -> LinkError {
    LinkError::BadLink(msg)
}

/// The link to fetch: the operand (refused with a key), completed by
/// $SOCKIT_LINK when that names the same share; or $SOCKIT_LINK alone; or,
/// on a terminal, the link pasted at a prompt.
pub fn resolve(arg: Option<&str>) -> Result<Link, LinkError> {
    let env = std::env::var(LINK_ENV)
        .ok()
        .filter(|v| !v.trim().is_empty());
    let env = env.map(|v| Link::parse(v.trim())).transpose()?;
    match (arg, env) {
        (Some(a), env) => {
            let l = Link::parse(a)?;
            if l.fragment.is_some() {
                return Err(bad(KEY_IN_ARGV.into()));
            }
            match env {
                Some(e) if e.id != l.id => Err(bad(format!(
                    "${LINK_ENV} names share {}, the command line {}; give the same link in both (or only ${LINK_ENV})",
                    e.id, l.id
                ))),
                Some(e) => Ok(Link {
                    fragment: e.fragment,
                    ..l
                }),
                None => Ok(l),
            }
        }
        (None, Some(e)) => Ok(e),
        (None, None) if std::io::stdin().is_terminal() => {
            Link::parse(prompt("share link (not echoed): ")?.trim())
        }
        (None, None) => Err(bad(format!(
            "give a remote PATH or a share LINK; a link with its #key goes in ${LINK_ENV}"
        ))),
    }
}

/// The key of an end-to-end share: the link's fragment, or the whole link
/// pasted at a prompt on a terminal.
pub fn key_for(l: &Link) -> Result<LinkKey, LinkError> {
    let fragment = match &l.fragment {
        Some(f) => f.clone(),
        None if std::io::stdin().is_terminal() => {
            let pasted = prompt(
                "this share is end-to-end encrypted; paste its whole link with #key (not echoed): ",
            )?;
            let p = Link::parse(pasted.trim())?;
            if p.id != l.id {
                return Err(bad(format!(
                    "the pasted link is share {}, not {}; paste the link of this share",
                    p.id, l.id
                )));
            }
            p.fragment.unwrap_or_default()
        }
        None => {
            return Err(bad(format!(
                "this share is end-to-end encrypted and its key is the link's #fragment: run {LINK_ENV}='WHOLE LINK' sockit get"
            )));
        }
    };
    Ok(LinkKey::from_fragment(&fragment)?)
}

fn prompt(text: &str) -> Result<String, LinkError> {
    rpassword::prompt_password(text).map_err(|source| LinkError::Local {
        path: "/dev/tty".into(),
        source,
    })
}

/// Fetches and decrypts with a progress bar on a terminal.
pub async fn fetch_e2e(
    l: &Link,
    info: &LinkInfo,
    key: &LinkKey,
    (dest, force): (&Path, bool),
    timeout: Duration,
    json: bool,
) -> Result<Fetched, LinkError> {
    let meta = sockit::client::e2e::fetch::open(info, key)?;
    let bar = super::share_get::bar(json, meta.size, &meta.name);
    let got = fetch(l, info, key, (dest, force), timeout, |n| {
        if let Some(b) = &bar {
            b.set_position(n);
        }
    })
    .await;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    got
}

/// Prints what a decrypting fetch did.
pub fn report(f: &Fetched, secs: f64, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::json!({
                "path": f.target.display().to_string(),
                "file_size": f.meta.size,
                "sha256": f.meta.sha256,
                "received": f.received,
                "secs": secs,
                "e2e": true,
            })
        );
    } else {
        println!(
            "{} ({} bytes, decrypted: every record authenticated, SHA-256 verified)",
            f.target.display(),
            f.meta.size
        );
    }
}
