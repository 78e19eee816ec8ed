//! `sockit share FILE --e2e`: a local file sealed on this machine while it
//! is uploaded (`client::e2e::upload`), then shared; the printed link
//! carries the key after `#`, which browsers never send to a server.

use std::path::Path;
use std::process::ExitCode;

use sockit::client::e2e::upload::{Sealed, upload};
use sockit::client::transfer::{TransferError, remove};
use sockit::wire::{ShareEntry, ShareReply, ShareRequest};

use super::files::{Common, Failure, Failures, connect, progress::Bar};

/// Runs `sockit share FILE --e2e`.
pub async fn run(
    local: &str,
    expires: Option<u64>,
    downloads: Option<u64>,
    c: Common,
) -> anyhow::Result<ExitCode> {
    let json = c.json();
    let server = c.remote(":")?.server;
    let mut failures = Failures::default();
    let fail = |mut failures: Failures, what: &str, f: Failure| {
        failures.add(what, f, json);
        if json {
            println!("{}", serde_json::json!({"errors": failures.list}));
        }
        failures.exit()
    };
    let mut session = match connect(&c, &server).await {
        Ok(s) => s,
        Err(f) => {
            failures.add(&server.to_string(), f, json);
            return Ok(failures.exit());
        }
    };
    let bar = Bar::new(json);
    let sealed = match upload(&mut session.client, Path::new(local), session.chunk, &bar).await {
        Ok(s) => s,
        Err(e) => return Ok(fail(failures, local, e.into())),
    };
    let req = ShareRequest::Create {
        path: sealed.remote.as_str().to_owned(),
        expires,
        downloads,
        e2e: Some(hex::encode(&sealed.meta)),
    };
    let reply = match session.client.request(req.to_frame(None)).await {
        Ok(r) => r,
        Err(e) => {
            // No share, so the ciphertext serves nothing: take it back.
            let _ = remove(&mut session.client, &sealed.remote, false).await;
            return Ok(fail(failures, local, TransferError::Client(e).into()));
        }
    };
    let Ok(ShareReply::Create {
        share,
        share_id,
        url,
        revoke,
    }) = ShareReply::from_frame(&reply)
    else {
        anyhow::bail!("unexpected reply from the server: {:?}", reply.header);
    };
    let link = url.map(|u| format!("{u}#{}", sealed.key.to_fragment()));
    if json {
        let mut v = serde_json::Value::Object(reply.header.clone());
        v["url"] = serde_json::json!(link);
        v["key"] = serde_json::json!(sealed.key.to_fragment());
        v["plain"] = serde_json::json!(sealed.plain);
        println!("{v}");
        return Ok(ExitCode::SUCCESS);
    }
    print_created(&sealed, link.as_deref(), &share_id, &share, &revoke);
    Ok(ExitCode::SUCCESS)
}

fn print_created(s: &Sealed, link: Option<&str>, id: &str, share: &ShareEntry, revoke: &str) {
    match link {
        Some(link) => {
            println!("{link}");
            if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
                if let Some(qr) = super::share_qr::render(link) {
                    print!("{qr}");
                }
            }
        }
        None => println!(
            "(this server has no web door; the share's ID is {id}, its key {})",
            s.key.to_fragment()
        ),
    }
    println!(
        "  {}, {} bytes, {} downloads, expires {}; end to end encrypted: the server holds ciphertext only, the key is the part after #",
        sockit::wire::path::escape_name(&s.plain.name),
        s.plain.size,
        share.downloads_max,
        super::utc(share.expires)
    );
    println!(
        "  fetch with: SOCKIT_LINK='LINK' sockit get (never put the link with its key on a command line)"
    );
    println!(
        "  revoke with: sockit share rm {} (or the token {revoke})",
        share.num
    );
}
