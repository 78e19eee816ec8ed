//! The rules of each service, with no sockets: doors feed them bytes.

pub mod accounts;
pub mod upper;

pub use upper::{LineTooLong, UpperLines, upper_case};
