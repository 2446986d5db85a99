//! Helpers shared by the tests.

pub mod app;
pub mod logs;
pub mod parsing;
pub mod pki;
pub mod server;
