//! One protocol frame: a JSON object header plus an opaque byte body.

use bytes::Bytes;
use serde_json::{Map, Value};

/// Header key naming the message type.
pub const TYPE: &str = "type";
/// Header key carrying the request id that replies copy.
pub const ID: &str = "id";
/// Header key carrying the body length; owned by the codec.
pub const SIZE: &str = "size";

/// A decoded frame: the header object and the body.
///
/// The codec owns the `"size"` key: the decoder validates it and removes it
/// from `header`, and the encoder writes it from `body.len()`. So a `Frame`
/// never disagrees with itself, and `decode(encode(f)) == f` whenever `f`'s
/// header has no `"size"` key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frame {
    /// Every header field except `"size"`, as sent (unknown keys included,
    /// so they survive an echo and stay available to newer code).
    pub header: Map<String, Value>,
    /// The body, shared with the read buffer rather than copied.
    pub body: Bytes,
}

impl Frame {
    /// A frame of the given `"type"` with no other field and an empty body.
    pub fn new(kind: &str) -> Self {
        let mut header = Map::new();
        header.insert(TYPE.to_owned(), Value::from(kind));
        Self {
            header,
            body: Bytes::new(),
        }
    }

    /// A frame with exactly this header (minus any `"size"`) and body.
    pub fn from_parts(mut header: Map<String, Value>, body: Bytes) -> Self {
        header.remove(SIZE);
        Self { header, body }
    }

    /// The `"type"` field, if present and a string.
    pub fn kind(&self) -> Option<&str> {
        self.header.get(TYPE).and_then(Value::as_str)
    }

    /// The `"id"` field, if present and an unsigned integer.
    pub fn id(&self) -> Option<u64> {
        self.header.get(ID).and_then(Value::as_u64)
    }

    /// The body length, which the encoder writes as `"size"`.
    pub fn size(&self) -> usize {
        self.body.len()
    }

    /// A header field by name.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.header.get(key)
    }

    /// Sets a header field in place. Setting `"size"` has no effect on the
    /// wire: the encoder always writes the body length.
    pub fn insert(&mut self, key: &str, value: impl Into<Value>) {
        self.header.insert(key.to_owned(), value.into());
    }

    /// Sets a header field, builder style.
    #[must_use]
    pub fn set(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.insert(key, value);
        self
    }

    /// Sets `"id"`, builder style.
    #[must_use]
    pub fn with_id(self, id: u64) -> Self {
        self.set(ID, id)
    }

    /// Sets `"id"` when `id` is `Some`, builder style; replies use this to
    /// copy the request's id, which may be absent.
    #[must_use]
    pub fn with_opt_id(self, id: Option<u64>) -> Self {
        match id {
            Some(id) => self.with_id(id),
            None => self,
        }
    }

    /// Replaces the body, builder style.
    #[must_use]
    pub fn with_body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }
}
