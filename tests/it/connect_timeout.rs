//! The plugin's connect timeout: a server whose accept queue is full never completes the TCP
//! handshake (the kernel drops the SYN), so the attempt would hang for the OS's minutes of SYN
//! retries; with `SsePlugin::connect_timeout` it fails quickly with a connection error and the
//! normal retry path runs.

use crate::support::app;

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use app::*;
use bevy_eventsource::prelude::*;
use socket2::{Domain, Socket, Type};

/// A listener that never accepts, with its accept queue filled by our own connections. Returns
/// the listener and the connections (both must stay alive) and its address.
fn full_listener() -> (Socket, Vec<TcpStream>, SocketAddr) {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket
        .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    socket.listen(0).unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    let mut fillers = Vec::new();
    // Connect until one attempt hangs: the queue is full.
    for _ in 0..64 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(stream) => fillers.push(stream),
            Err(_) => return (socket, fillers, addr),
        }
    }
    panic!(
        "the accept queue never filled after {} connections",
        fillers.len()
    );
}

#[test]
fn a_hanging_connect_times_out_and_retries() {
    let (_listener, _fillers, addr) = full_listener();

    let mut app = test_app_with(SsePlugin {
        connect_timeout: Some(Duration::from_millis(300)),
        ..SsePlugin::default()
    });
    collect::<SseErrored>(&mut app);
    collect::<SseRetrying>(&mut app);
    let started = Instant::now();
    let source = app
        .world_mut()
        .spawn(EventSource::new(format!("http://{addr}/events")))
        .id();
    update_until(&mut app, "the connect timeout", |app| {
        !collected::<SseErrored>(app).is_empty()
    });
    let waited = started.elapsed();

    let errors = collected::<SseErrored>(&app);
    let error = &errors[0].error;
    println!("after {waited:?}: {error}");
    match error {
        SseError::Transport { source, .. } => {
            assert!(source.is_connect() && source.is_timeout(), "{source:?}")
        }
        other => panic!("expected a connect timeout, got {other:?}"),
    }
    assert!(!error.is_fatal());
    // It did wait for the timeout: the handshake really hung.
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
    update_until(&mut app, "the retry", |app| {
        !collected::<SseRetrying>(app).is_empty()
    });
    assert_eq!(state(&app, source), ReadyState::Retrying);
}
