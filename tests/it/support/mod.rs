//! Helpers shared by the tests.

pub mod app;
pub mod parsing;
pub mod pki;
pub mod server;
