//! Helpers shared by the tests.

pub mod app;
pub mod child;
pub mod logs;
pub mod parsing;
pub mod pki;
pub mod server;
