//! `sockit share`: links to your files for people without an account;
//! `sockit share ls`, `sockit share rm`. Fetching a link is `sockit get
//! LINK` (`share_get.rs`).

use std::process::ExitCode;

use sockit::service::shares::parse_duration;
use sockit::wire::{ShareEntry, ShareReply, ShareRequest};

use super::files::{Common, Failure, Failures, connect};

/// Arguments of `sockit share`.
#[derive(Debug, clap::Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = format!("Prints the link (http://HOST:PORT/s/ID, from the server's web door or its
--share-url) and a token that revokes it. Anyone holding the link downloads the
file in a browser or with `sockit get LINK`, no account needed, until its
downloads are spent (a download counts once, when the whole file has been
sent; resuming does not count again), it expires, or you revoke it. The server
caps --expires and --downloads (serve --share-max-expiry, --share-max-downloads)
and how many shares you create per hour; the bytes you share count within your
quota. A share is of one file as it is now: replacing or removing the file ends
the share. A file named `ls` or `rm` is written `:ls`.

With --e2e, PATH is a file on THIS machine: it is encrypted here (AES-256-GCM,
a random key) while it is uploaded into your store's .e2e-shares folder (it
counts within your quota), and the link ends in #KEY. Browsers never send the
part after # to a server, so the server holds ciphertext only and never learns
the key, the file's name or a byte of its content. Receivers open the link in a
browser, or run `SOCKIT_LINK='LINK' sockit get` (never the link with its key
on a command line, where other users see it).

PATH may be a folder: the link then holds a snapshot of the files below it
(names, sizes and BLAKE3s as they are now; files added later are not in it,
and changing or removing one ends the share). Receivers see the list and fetch
each file or all of it as one .tar stream; `sockit get LINK` fetches it file by
file, each verified, into DEST/NAME/. The download counts once, when one
address has been sent every file (in one archive, file by file, or resumed).

With --upload, DIR is a folder of yours (made if missing) and the link is an
upload link, http://HOST:PORT/u/ID: anyone holding it drops files into DIR
from a browser (drag and drop) or with `sockit send LINK FILE...`, no account
needed; each file is resumable, verified (BLAKE3) before it appears, counts
within YOUR quota, and never overwrites one already there (it lands as
`name (1).ext`). --max-size and --max-files cap what the link takes in (the
server caps both: serve --share-upload-max-size, --share-upload-max-files);
once full it ends as consumed. `share log NUM|LINK` lists what it took in:
name, size, BLAKE3, the sender's address and the time.

`share ls` lists your shares with their number, state (available, consumed,
revoked, expired), downloads and expiry (an upload link: files and bytes
taken in); `share rm NUM|LINK|TOKEN` revokes one. --json prints the server's
reply.

{}

Examples:
  sockit share report.pdf
  sockit share :docs/a.txt --expires 3d --downloads 5
  sockit share ./secret.pdf --e2e --downloads 3
  sockit share :photos --downloads 3
  sockit share --upload :inbox --expires 3d --max-size 1G --max-files 20
  sockit share log 7
  sockit share ls
  sockit share ls --json", super::files::EXIT_HELP)
)]
pub struct ShareArgs {
    #[command(subcommand)]
    action: Option<Action>,
    /// The remote file or folder to share.
    #[arg(value_name = "[[ADDR]:]PATH")]
    path: Option<String>,
    /// Lifetime: 90s, 30m, 12h, 3d, 2w [default: the server's, 1d].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    expires: Option<u64>,
    /// Downloads allowed [default: the server's, 1].
    #[arg(long, value_name = "N")]
    downloads: Option<u64>,
    /// End to end: PATH is a LOCAL file, encrypted here while it is
    /// uploaded; the key travels only in the link's #fragment.
    #[arg(long, conflicts_with = "upload")]
    e2e: bool,
    /// An upload link into the folder PATH (made if missing): anyone
    /// holding it sends files there.
    #[arg(long, conflicts_with = "downloads")]
    upload: bool,
    /// Most bytes the upload link takes in (K, M, G, T are binary)
    /// [default: the server's maximum, 1G].
    #[arg(long, value_name = "SIZE", requires = "upload", value_parser = super::serve::filestore::parse_size)]
    max_size: Option<u64>,
    /// Most files the upload link takes in [default: the server's maximum, 100].
    #[arg(long, value_name = "N", requires = "upload")]
    max_files: Option<u64>,
    #[command(flatten)]
    common: Common,
}

/// `share ls`, `share rm`.
#[derive(Debug, clap::Subcommand)]
enum Action {
    /// List your shares.
    Ls {
        #[command(flatten)]
        common: Common,
    },
    /// What an upload link took in: name, size, BLAKE3, sender, time.
    Log {
        /// NUM or LINK.
        #[arg(value_name = "SHARE")]
        share: String,
        #[command(flatten)]
        common: Common,
    },
    /// Revoke a share: its number (from `share ls`), its link, or its
    /// revoke token.
    Rm {
        /// NUM, LINK or TOKEN.
        #[arg(value_name = "SHARE")]
        share: String,
        #[command(flatten)]
        common: Common,
    },
}

/// Runs `sockit share`.
pub async fn run(a: ShareArgs) -> anyhow::Result<ExitCode> {
    // The server: the operand's for a create, else the default one.
    let (c, req, what, server) = match a.action {
        Some(Action::Ls { common }) => {
            let server = common.remote(":")?.server;
            (common, ShareRequest::Ls {}, "share ls".to_owned(), server)
        }
        Some(Action::Log { share, common }) => {
            let server = common.remote(":")?.server;
            let req = ShareRequest::Log {
                share: share.clone(),
            };
            (common, req, share, server)
        }
        Some(Action::Rm { share, common }) => {
            let server = common.remote(":")?.server;
            let req = ShareRequest::Rm {
                share: share.clone(),
            };
            (common, req, share, server)
        }
        None => {
            let Some(path) = a.path else {
                anyhow::bail!(
                    "give the file to share (sockit share PATH), or `sockit share ls` / `sockit share rm NUM`"
                );
            };
            if a.e2e {
                return super::share_e2e::run(&path, a.expires, a.downloads, a.common).await;
            }
            let remote = a.common.remote(&path)?;
            let Some(p) = remote.path else {
                anyhow::bail!("{path}: give a file or a folder, not your whole root");
            };
            let req = if a.upload {
                ShareRequest::Upload {
                    path: p.as_str().to_owned(),
                    expires: a.expires,
                    max_bytes: a.max_size,
                    max_files: a.max_files,
                }
            } else {
                ShareRequest::Create {
                    path: p.as_str().to_owned(),
                    expires: a.expires,
                    downloads: a.downloads,
                    e2e: None,
                }
            };
            (a.common, req, path, remote.server)
        }
    };
    let json = c.json();
    let mut failures = Failures::default();
    let mut session = match connect(&c, &server).await {
        Ok(s) => s,
        Err(f) => {
            failures.add(&server.to_string(), f, json);
            return Ok(failures.exit());
        }
    };
    let reply = match session.client.request(req.to_frame(None)).await {
        Ok(f) => f,
        Err(e) => {
            let f: Failure = sockit::client::transfer::TransferError::Client(e).into();
            failures.add(&what, f, json);
            if json {
                println!("{}", serde_json::json!({"errors": failures.list}));
            }
            return Ok(failures.exit());
        }
    };
    if json {
        println!("{}", serde_json::Value::Object(reply.header.clone()));
        return Ok(ExitCode::SUCCESS);
    }
    match ShareReply::from_frame(&reply) {
        Ok(ShareReply::Create {
            share,
            share_id,
            url,
            revoke,
        }) => {
            let link = url.unwrap_or_else(|| {
                format!("(this server has no web door; the share's ID is {share_id})")
            });
            println!("{link}");
            if std::io::IsTerminal::is_terminal(&std::io::stdout()) && link.starts_with("http") {
                if let Some(qr) = super::share_qr::render(&link) {
                    print!("{qr}");
                }
            }
            println!("  {}", describe(&share));
            println!(
                "  revoke with: sockit share rm {} (or the token {revoke})",
                share.num
            );
        }
        Ok(ShareReply::Ls { shares }) => {
            if shares.is_empty() {
                println!("no shares");
            }
            for s in &shares {
                println!("{:>5}  {:<9}  {}", s.num, s.state, describe(s));
            }
        }
        Ok(ShareReply::Rm(s)) => println!("revoked share {}: {}", s.num, describe(&s)),
        Ok(ShareReply::Log { share, uploads }) => {
            println!("{:>5}  {:<9}  {}", share.num, share.state, describe(&share));
            if uploads.is_empty() {
                println!("  nothing uploaded yet");
            }
            for u in &uploads {
                println!(
                    "  {}  {}  {} bytes  {}  from {}",
                    super::utc(u.at),
                    sockit::wire::path::escape_name(&u.path),
                    u.size,
                    u.blake3,
                    u.addr
                );
            }
        }
        Err(e) => anyhow::bail!("unexpected reply from the server: {e}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// `PATH, SIZE bytes, D of N downloads, expires DATE`; for an upload
/// link `upload into DIR/, F of N files, B of M bytes, expires DATE`.
fn describe(s: &ShareEntry) -> String {
    if let Some(u) = &s.upload {
        return format!(
            "upload into {}/, {} of {} files, {} of {} bytes, expires {}",
            sockit::wire::path::escape_name(&s.path),
            u.files,
            u.max_files,
            u.bytes,
            u.max_bytes,
            super::utc(s.expires)
        );
    }
    let files = s
        .files
        .map(|n| format!("/ ({n} files)"))
        .unwrap_or_default();
    format!(
        "{}{files}, {} bytes, {} of {} downloads, expires {}",
        sockit::wire::path::escape_name(&s.path),
        s.size,
        s.downloads,
        s.downloads_max,
        super::utc(s.expires)
    )
}
