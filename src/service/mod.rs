//! The rules of each service, with no sockets: doors feed them bytes.

pub mod files;
pub mod upper;

pub use upper::{LineTooLong, UpperLines, upper_case};
