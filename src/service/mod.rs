//! The rules of each service, with no sockets: doors feed them bytes.

pub mod chat;
pub mod upper;

pub use upper::{LineTooLong, UpperLines, upper_case};
