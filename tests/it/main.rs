//! The integration tests, in one binary: each module is a behaviour. One binary links Bevy,
//! reqwest and axum once instead of once per file. (`tests/abuse.rs` stays apart: it measures
//! heap with a global allocator, which other tests running in the same process would disturb.)

#[path = "../../examples/support/demo_server.rs"]
mod demo_server;
#[path = "../../examples/support/loopback.rs"]
mod loopback;
mod support;

mod axum_interop;
mod client_builder;
mod connect_timeout;
mod delivery;
mod diagnostics;
mod frame_budget;
mod game_callbacks;
mod json;
mod lifecycle;
mod logging;
mod named_handlers;
mod network_time;
mod observers;
mod one_shot;
mod oversize;
mod parser_chunking;
mod parser_limits;
mod parser_rules;
mod parser_sharing;
mod reconnect;
mod redirects;
mod reflection;
mod refusal;
mod request;
mod retry_policy;
mod secrets;
mod settings;
mod soak;
mod sse_tail;
mod suspend;
mod testing_kit;
mod tls;
