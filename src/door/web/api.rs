//! The JSON API: log in (sets the session cookie), log out, who am I.
//! Errors are `{"code","message"}` with the frame protocol's codes.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::{WebState, check_origin, session_token};
use crate::service::accounts::{Accounts, AuthError};
use crate::service::files::FileError;
use crate::service::shares::ShareError;
use crate::session::Failure;
use crate::wire::ErrorCode;

/// The body of `POST /api/login`.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    name: String,
    password: String,
}

/// An API failure: a status and the protocol's error code.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: ErrorCode,
    message: String,
    retry_after: Option<u64>,
}

impl ApiError {
    pub(super) fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub(super) fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            crate::wire::UNAUTHENTICATED,
            "not logged in; log in first",
        )
    }
}

/// The HTTP status of each error code, in one match: the session (and
/// each service) maps a failure to its code, this maps the code to HTTP.
pub fn status(code: ErrorCode) -> StatusCode {
    use ErrorCode::*;
    match code {
        BadHeader | BadSize | TruncatedFrame | StreamFailed | BadRequest | UnsupportedVersion
        | BadRoom | BadName | Empty | TooLong | Blocked | BadPath | BadOffset | BadHandle => {
            StatusCode::BAD_REQUEST
        }
        HeaderTooLarge | BodyTooLarge | QuotaExceeded | TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Unauthenticated | InvalidCredentials | InvalidToken => StatusCode::UNAUTHORIZED,
        AccountLocked | Forbidden => StatusCode::FORBIDDEN,
        UnknownType | NotFound => StatusCode::NOT_FOUND,
        FrameTimeout => StatusCode::REQUEST_TIMEOUT,
        NameTaken | NotInRoom | Conflict | Busy | StaleEpoch => StatusCode::CONFLICT,
        Gone => StatusCode::GONE,
        VerifyFailed => StatusCode::UNPROCESSABLE_ENTITY,
        TooManyConnections | TooManyAttempts | TooManyRooms | RoomsFull | RoomQuota
        | RateLimited => StatusCode::TOO_MANY_REQUESTS,
        IoError | InternalError | Store | Internal => StatusCode::INTERNAL_SERVER_ERROR,
        ServerBusy | ShuttingDown | SlowConsumer => StatusCode::SERVICE_UNAVAILABLE,
        DiskFull => StatusCode::INSUFFICIENT_STORAGE,
        BadQuery => StatusCode::BAD_REQUEST,
        NoSuchMessage => StatusCode::NOT_FOUND,
        NotAuthor => StatusCode::FORBIDDEN,
        EditWindow | MessageDeleted => StatusCode::CONFLICT,
    }
}

impl From<Failure> for ApiError {
    /// The one failure -> code mapping (the session's), then the code's
    /// status ([`status`]), with the message in the page's terms.
    fn from(f: Failure) -> Self {
        let code = f.code();
        let message = match &f {
            // The store speaks the CLI's flags; say what a web client does.
            Failure::Files(FileError::Exists { path }) => {
                format!("{path} already exists; upload with replace to overwrite it")
            }
            Failure::Files(FileError::NotEmpty { path }) => {
                format!("{path} is a non-empty directory; delete it recursively")
            }
            _ => f.public_message(),
        };
        Self {
            status: status(code),
            code,
            message,
            retry_after: f.retry_after(),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        Failure::Auth(e).into()
    }
}

impl From<FileError> for ApiError {
    fn from(e: FileError) -> Self {
        Failure::Files(e).into()
    }
}

impl From<ShareError> for ApiError {
    fn from(e: ShareError) -> Self {
        Failure::Shares(e).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({"code": self.code, "message": self.message});
        let mut res = match self.retry_after {
            Some(secs) => {
                body["retry_after"] = secs.into();
                (
                    self.status,
                    [(header::RETRY_AFTER, secs.to_string())],
                    Json(body),
                )
                    .into_response()
            }
            None => (self.status, Json(body)).into_response(),
        };
        res.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        res
    }
}

pub(super) fn accounts(state: &WebState) -> Result<&Accounts, ApiError> {
    state.services.accounts.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::UnknownType,
            "this server runs without accounts",
        )
    })
}

pub(super) fn forbidden((status, message): (StatusCode, &'static str)) -> ApiError {
    ApiError::new(status, ErrorCode::Forbidden, message)
}

/// The `Set-Cookie` value for `token`, valid for `max_age` seconds (0 clears).
fn cookie(token: &str, max_age: u64, state: &WebState) -> String {
    let secure = if state.secure { "; Secure" } else { "" };
    let name = state.cookie_name();
    format!("{name}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

/// `POST /api/login` with `{"name","password"}`: sets the session cookie.
pub async fn login(
    State(state): State<WebState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(form): Json<LoginForm>,
) -> Result<Response, ApiError> {
    check_origin(&headers).map_err(forbidden)?;
    let login = accounts(&state)?
        .login(&form.name, &form.password, super::client_ip(peer))
        .await?;
    tracing::info!(user = %login.identity.name, %peer, door = "web", "logged in");
    let max_age = login
        .identity
        .expires
        .saturating_sub(crate::service::unix_now());
    state.idle.touch(&login.token);
    let set = cookie(&login.token, max_age, &state);
    let body = json!({"user": login.identity.name, "expires": login.identity.expires});
    Ok(([(header::SET_COOKIE, set)], Json(body)).into_response())
}

/// `POST /api/logout`: revokes the session and clears the cookie.
pub async fn logout(
    State(state): State<WebState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_origin(&headers).map_err(forbidden)?;
    if let Some(token) = session_token(&headers, state.cookie_name()) {
        state.idle.forget(token);
        // Already revoked or expired is as good as logged out.
        match accounts(&state)?.logout(token).await {
            Ok(()) | Err(AuthError::InvalidToken) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let clear = cookie("", 0, &state);
    Ok((
        [(header::SET_COOKIE, clear)],
        Json(json!({"logged_out": true})),
    )
        .into_response())
}

/// `GET /api/whoami`: the account the cookie speaks for, and the limits
/// the server forces on the share links it may create (the page's forms
/// start from them).
pub async fn whoami(
    State(state): State<WebState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (identity, _) = super::resume(&state, &headers).await?;
    let mut body = json!({"user": identity.name, "expires": identity.expires});
    if let Some(shares) = &state.services.shares {
        let c = shares.config();
        body["shares"] = json!({
            "default_expiry": c.default_expiry,
            "max_expiry": c.max_expiry,
            "default_downloads": c.default_downloads,
            "max_downloads": c.max_downloads,
            "upload_max_bytes": c.upload_max_bytes,
            "upload_max_files": c.upload_max_files,
        });
    }
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response())
}
