//! Unit tests of the file store.
