//! The `share` family on a session: create, list and revoke the logged-in
//! user's share links (the rules are `service::shares`; the download is
//! the web door's `/s/ID/file`).

use super::{Failure, Session};
use crate::service::files::{EntryKind, FileError, FileStore, RelPath, run_blocking};
use crate::service::shares::dir::snapshot;
use crate::service::shares::{Created, NewShare, NewUploadLink, ShareInfo, Shares};
use crate::service::unix_now;
use crate::wire::{ShareEntry, ShareReply, ShareRequest};

/// How `share.ls` and `share.rm` show a share.
pub fn entry(s: &ShareInfo) -> ShareEntry {
    ShareEntry {
        num: s.num,
        path: s.path.clone(),
        size: s.size,
        blake3: s.blake3.clone(),
        state: s.state.as_str().to_owned(),
        created: s.created,
        expires: s.expires,
        downloads: s.downloads,
        downloads_max: s.downloads_max,
        e2e: s.e2e.is_some(),
        files: s.files,
        upload: s.upload,
    }
}

impl Session {
    /// A `share` request: re-checks the session (one revoked elsewhere
    /// stops here), then runs the rule on the blocking pool.
    pub(super) async fn share(&mut self, r: ShareRequest) -> Result<ShareReply, Failure> {
        let user = self.identity().await?.user_id;
        let (Some(shares), Some(files)) =
            (self.services.shares.clone(), self.services.files.clone())
        else {
            return Err(Failure::BadRequest(
                "this server keeps no share links (--no-shares or --no-files)".into(),
            ));
        };
        let now = unix_now();
        match r {
            ShareRequest::Create {
                path,
                expires,
                downloads,
                e2e,
            } => {
                let e2e = match e2e.map(hex::decode).transpose() {
                    Ok(m) => m,
                    Err(_) => {
                        return Err(Failure::BadRequest(
                            "e2e must be the sealed metadata in hex".into(),
                        ));
                    }
                };
                let s = shares.clone();
                let (new, snapshot) = run_blocking(move || {
                    // The file (or the folder's files) as it is now: sizes
                    // and hashes are what a receiver will be given and
                    // checked against.
                    let quota = files.config().quota;
                    let new = |path: String, size, blake3| NewShare {
                        owner: user,
                        path,
                        size,
                        blake3,
                        expires_in: expires,
                        downloads,
                        quota,
                        e2e: e2e.clone(),
                    };
                    let e = files.stat(user, &path)?;
                    if e.kind == EntryKind::Dir && !path.trim_matches('/').is_empty() {
                        if e2e.is_some() {
                            // The CLI seals one file; a folder is never e2e.
                            return Err(FileError::WrongKind {
                                path: crate::service::files::escape_name(&path).into_owned(),
                                wanted: "a file (an end-to-end share is of one file)",
                                found: "a directory",
                            });
                        }
                        let list = snapshot(&files, user, &path)?;
                        let path = RelPath::parse(&path)
                            .map_err(|e| FileError::bad_path(&path, e))?
                            .as_str()
                            .to_owned();
                        return Ok((new(path, 0, [0; 32]), Some(list)));
                    }
                    let mut d = files.download(user, &path, 0)?;
                    let h = d.hashes(false)?;
                    let path = d.path().as_str().to_owned();
                    Ok((new(path, d.size(), *h.blake3.as_bytes()), None))
                })
                .await?;
                let c = blocking(move || match snapshot {
                    Some(list) => s.create_dir(new, list, now),
                    None => s.create(new, now),
                })
                .await?;
                let url = shares.link(&c.id);
                Ok(created(c, url, "share created"))
            }
            ShareRequest::Upload {
                path,
                expires,
                max_bytes,
                max_files,
            } => {
                let s = shares.clone();
                let dir = run_blocking(move || {
                    let rel = RelPath::parse(&path).map_err(|e| FileError::bad_path(&path, e))?;
                    // Made (as `mkdir -p`) if missing; a file there is refused.
                    files.mkdir(user, rel.as_str(), true)?;
                    Ok(rel.as_str().to_owned())
                })
                .await?;
                let new = NewUploadLink {
                    owner: user,
                    dir,
                    expires_in: expires,
                    max_bytes,
                    max_files,
                };
                let c = blocking(move || s.create_upload(new, now)).await?;
                let url = shares.upload_link(&c.id);
                Ok(created(c, url, "upload link created"))
            }
            ShareRequest::Log { share } => {
                let (s, uploads) = blocking(move || shares.upload_log(user, &share, now)).await?;
                Ok(ShareReply::Log {
                    share: entry(&s),
                    uploads,
                })
            }
            ShareRequest::Ls {} => {
                let list = blocking(move || shares.list(user, now)).await?;
                Ok(ShareReply::Ls {
                    shares: list.iter().map(entry).collect(),
                })
            }
            ShareRequest::Rm { share } => {
                let s = blocking(move || {
                    let s = shares.revoke(Some(user), &share, now)?;
                    purge(&shares, &files);
                    Ok(s)
                })
                .await?;
                tracing::info!(share = s.num, "share revoked");
                Ok(ShareReply::Rm(entry(&s)))
            }
        }
    }
}

/// The reply to a create: the link and its revoke token, shown this once.
fn created(c: Created, url: Option<String>, what: &'static str) -> ShareReply {
    tracing::info!(share = c.info.num, path = %crate::service::files::escape_name(&c.info.path), "{what}");
    ShareReply::Create {
        share: entry(&c.info),
        url,
        share_id: c.id,
        revoke: c.revoke,
    }
}

/// Runs a shares call on the blocking pool (SQLite).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> crate::service::shares::ShareResult<T> + Send + 'static,
) -> Result<T, Failure> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(Failure::from),
        Err(e) => Err(Failure::BadRequest(format!("the shares task failed: {e}"))),
    }
}

/// Removes ended end-to-end shares' ciphertext at once (a revoked one's
/// content goes with it; the sweeper catches the rest); a failure is
/// logged and left to the sweeper, never in the way of this request.
fn purge(shares: &Shares, files: &FileStore) {
    if let Err(e) = shares.purge_ended_e2e(files) {
        tracing::warn!(error = %e, "removing ended shares' ciphertext");
    }
}
