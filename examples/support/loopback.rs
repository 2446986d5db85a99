//! Runs an axum app on 127.0.0.1:0 on a thread of its own (a current-thread tokio runtime), for
//! the examples' embedded demo servers.

use std::net::SocketAddr;

/// Starts `app` on a background thread named `name`; returns its address once it accepts
/// connections.
pub fn serve(name: &str, app: axum::Router) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind loopback");
                tx.send(listener.local_addr().expect("local address"))
                    .expect("send the address");
                axum::serve(listener, app).await.expect("demo server");
            });
        })
        .expect("spawn the demo server thread");
    rx.recv().expect("demo server address")
}
