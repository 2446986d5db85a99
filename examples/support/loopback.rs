//! Servers on 127.0.0.1:0, each on a thread of its own (a current-thread tokio runtime): the
//! examples' embedded demo servers, and the tests' servers.

use std::net::SocketAddr;

/// Starts `app` on a background thread named `name`; returns its address once it accepts
/// connections.
pub fn serve(name: &str, app: axum::Router) -> SocketAddr {
    spawn(name, |listener| async move {
        axum::serve(listener, app).await.expect("demo server");
    })
}

/// Binds a listener on 127.0.0.1:0 and runs `server` with it on a background thread named
/// `name`; returns the listener's address once it accepts connections.
pub fn spawn<F, Fut>(name: &str, server: F) -> SocketAddr
where
    F: FnOnce(tokio::net::TcpListener) -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
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
                server(listener).await;
            });
        })
        .expect("spawn the server thread");
    rx.recv().expect("server address")
}

/// Reads an HTTP request's head, through its blank line, from `stream`; `None` if the
/// connection ends or fails first. The hand-written test and bench servers answer every request
/// alike, so they read the head only to know that the request is in.
#[allow(dead_code)] // the examples' own servers are axum's
pub async fn read_request_head(
    stream: &mut (impl tokio::io::AsyncRead + Unpin),
) -> Option<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut head = Vec::new();
    let mut buf = [0; 1024];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    Some(head)
}
