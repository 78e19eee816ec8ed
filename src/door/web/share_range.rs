//! `Range: bytes=...` as share downloads read it: one range (several, or
//! another unit, are served whole, as RFC 9110 allows), clamped to the
//! size; a range wholly outside is 416. And the response headers every
//! share download carries, ranged or not.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A `Range: bytes=...` header read against `size`: `Ok(None)` for no
/// header or one we serve whole (several ranges, another unit: RFC 9110
/// allows ignoring it), `Err` for a range that lies outside the file.
pub(super) fn range(headers: &HeaderMap, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(v) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    let Some(spec) = v.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    let (start, end) = if a.is_empty() {
        // The last N bytes.
        let n: u64 = b.parse().map_err(|_| ())?;
        if n == 0 {
            return Err(());
        }
        (size.saturating_sub(n), size)
    } else {
        let start: u64 = a.parse().map_err(|_| ())?;
        let end = if b.is_empty() {
            size
        } else {
            let last: u64 = b.parse().map_err(|_| ())?;
            if last < start {
                return Err(());
            }
            last.saturating_add(1).min(size)
        };
        (start, end)
    };
    if start >= size {
        return Err(());
    }
    Ok(Some((start, end)))
}

/// A download's response: 200, or 206 with `Content-Range` when `ranged`;
/// `(start, end, total)` the bytes sent of the whole; an attachment named
/// `name`, sandboxed, never sniffed (`private` adds the rest).
pub(super) fn respond(
    body: Body,
    ranged: bool,
    (start, end, total): (u64, u64, u64),
    name: &str,
    content_type: &'static str,
) -> Response {
    let mut res = body.into_response();
    if ranged {
        *res.status_mut() = StatusCode::PARTIAL_CONTENT;
    }
    let h = res.headers_mut();
    let mut set = |name, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    };
    set(header::CONTENT_LENGTH, (end - start).to_string());
    if ranged {
        set(
            header::CONTENT_RANGE,
            format!("bytes {start}-{}/{total}", end.saturating_sub(1)),
        );
    }
    set(header::ACCEPT_RANGES, "bytes".into());
    set(
        header::CONTENT_DISPOSITION,
        super::files::content_disposition(name),
    );
    set(header::CONTENT_TYPE, content_type.into());
    set(
        header::CONTENT_SECURITY_POLICY,
        "sandbox; default-src 'none'".into(),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(v: &str, size: u64) -> Result<Option<(u64, u64)>, ()> {
        let mut h = HeaderMap::new();
        h.insert(header::RANGE, HeaderValue::from_str(v).unwrap());
        range(&h, size)
    }

    #[test]
    fn ranges_people_send() {
        assert_eq!(range(&HeaderMap::new(), 10), Ok(None));
        assert_eq!(r("bytes=0-", 10), Ok(Some((0, 10))));
        assert_eq!(r("bytes=4-", 10), Ok(Some((4, 10))));
        assert_eq!(r("bytes=2-5", 10), Ok(Some((2, 6))));
        assert_eq!(r("bytes=9-9", 10), Ok(Some((9, 10))));
        assert_eq!(r("bytes=5-100", 10), Ok(Some((5, 10))));
        assert_eq!(r("bytes=-3", 10), Ok(Some((7, 10))));
        assert_eq!(r("bytes=0-1,4-5", 10), Ok(None));
        assert_eq!(r("items=0-1", 10), Ok(None));
        assert_eq!(r("bytes=10-", 10), Err(()));
        assert_eq!(r("bytes=5-2", 10), Err(()));
        assert_eq!(r("bytes=-0", 10), Err(()));
        assert_eq!(r("bytes=x-", 10), Err(()));
    }
}
