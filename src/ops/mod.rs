//! Operating a server: the Prometheus registry and its counting hooks
//! ([`metrics`], a leaf any layer may call), chat figures read at scrape
//! time ([`chat`]), the process's descriptors and memory (`process`), readiness ([`ready`]), the operator's HTTP listener
//! with `/healthz`, `/readyz` and `/metrics` ([`http`]), and JSON log
//! lines ([`log_json`]). docs/OPERATIONS.md says what each series means.

pub mod chat;
pub mod http;
pub mod log_json;
pub mod metrics;
mod process;
pub mod ready;

pub use chat::{ChatCounts, ChatSource, watch_chat};
pub use ready::{Probe, Readiness};
