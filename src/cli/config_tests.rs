//! Unit tests of the TOML to argv translation.
