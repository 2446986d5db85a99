//! The benchmarks' loopback SSE server: the same bytes to every connection, as fast as TCP
//! takes them.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;

/// How the server frames the body.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `content-length`, the body as it is.
    Plain,
    /// `transfer-encoding: chunked`, one HTTP chunk per event.
    ChunkPerEvent,
}

/// The body with each event (ending in a blank line) in its own HTTP chunk.
pub fn chunk_per_event(body: &[u8]) -> Vec<u8> {
    let mut chunked = Vec::with_capacity(body.len() * 11 / 10);
    let mut rest = body;
    while !rest.is_empty() {
        let end = rest
            .windows(2)
            .position(|window| window == b"\n\n")
            .map_or(rest.len(), |at| at + 2);
        let (event, tail) = rest.split_at(end);
        chunked.extend_from_slice(format!("{:x}\r\n", event.len()).as_bytes());
        chunked.extend_from_slice(event);
        chunked.extend_from_slice(b"\r\n");
        rest = tail;
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    chunked
}

/// Serves the stream to every connection, one thread per connection, then closes.
pub fn start_server(body: Arc<Vec<u8>>, framing: Framing) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let body = body.clone();
            std::thread::spawn(move || serve(stream, &body, framing));
        }
    });
    addr
}

fn serve(mut stream: TcpStream, body: &[u8], framing: Framing) {
    // Read the request head.
    let mut head = Vec::new();
    let mut buf = [0; 4096];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let length = match framing {
        Framing::Plain => format!("content-length: {}", body.len()),
        Framing::ChunkPerEvent => "transfer-encoding: chunked".to_owned(),
    };
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n\
         {length}\r\nconnection: close\r\n\r\n"
    );
    if stream.write_all(response.as_bytes()).is_err() {
        return;
    }
    for chunk in body.chunks(64 * 1024) {
        if stream.write_all(chunk).is_err() {
            return;
        }
    }
}
