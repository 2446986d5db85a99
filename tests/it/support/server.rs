//! A scripted, byte-exact HTTP server on 127.0.0.1:0: each connection gets the next script
//! (the last one repeats), and every request head is recorded.
#![allow(dead_code, unreachable_pub)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::thread;
use std::time::Duration;

/// One step of a connection's script.
#[derive(Clone, Debug)]
pub enum Step {
    /// Write these bytes (one `write` call, flushed).
    Send(Vec<u8>),
    /// Let this much time pass (network pacing, not test synchronisation).
    Pause(Duration),
    /// Keep the connection open until the client closes it, then report the close.
    HoldUntilClientCloses,
    /// Wait until the test calls [`ScriptedServer::open_gate`] (synchronisation, not a sleep).
    WaitForGate,
}

type Gate = Arc<(Mutex<bool>, Condvar)>;

pub fn send(bytes: impl AsRef<[u8]>) -> Step {
    Step::Send(bytes.as_ref().to_vec())
}

/// 200 with `text/event-stream`, body delimited by connection close.
pub const OK_HEAD: &str = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n";

/// A request as received: the head (request line and headers) and the body.
#[derive(Clone, Debug)]
pub struct Request {
    pub head: String,
    pub body: Vec<u8>,
}

impl Request {
    /// The first header of this name, case-insensitive.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }

    pub fn request_line(&self) -> &str {
        self.head.lines().next().unwrap_or_default()
    }
}

pub struct ScriptedServer {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Request>>>,
    closed: mpsc::Receiver<usize>,
    gate: Gate,
}

impl ScriptedServer {
    pub fn start(scripts: Vec<Vec<Step>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (closed_tx, closed) = mpsc::channel();
        let recorded = requests.clone();
        let gate: Gate = Arc::default();
        let server_gate = gate.clone();
        thread::spawn(move || {
            for (index, stream) in listener.incoming().enumerate() {
                let Ok(stream) = stream else { return };
                let script = scripts[index.min(scripts.len() - 1)].clone();
                let recorded = recorded.clone();
                let closed_tx = closed_tx.clone();
                let gate = server_gate.clone();
                thread::spawn(move || serve(stream, index, script, &recorded, &closed_tx, &gate));
            }
        });
        Self {
            addr,
            requests,
            closed,
            gate,
        }
    }

    /// Lets every connection waiting at [`Step::WaitForGate`] go on.
    pub fn open_gate(&self) {
        let (open, changed) = &*self.gate;
        *open.lock().unwrap() = true;
        changed.notify_all();
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// Waits (up to `timeout`) until the client closes a held connection; returns its index.
    pub fn wait_client_close(&self, timeout: Duration) -> Option<usize> {
        self.closed.recv_timeout(timeout).ok()
    }
}

fn serve(
    mut stream: TcpStream,
    index: usize,
    script: Vec<Step>,
    recorded: &Mutex<Vec<Request>>,
    closed: &mpsc::Sender<usize>,
    gate: &Gate,
) {
    let Some(request) = read_request(&mut stream) else {
        return;
    };
    recorded.lock().unwrap().push(request);
    for step in script {
        match step {
            Step::Send(bytes) => {
                if stream
                    .write_all(&bytes)
                    .and_then(|()| stream.flush())
                    .is_err()
                {
                    return;
                }
            }
            Step::Pause(duration) => thread::sleep(duration),
            Step::WaitForGate => {
                let (open, changed) = &**gate;
                let _open = changed
                    .wait_while(open.lock().unwrap(), |open| !*open)
                    .unwrap();
            }
            Step::HoldUntilClientCloses => {
                let mut buf = [0; 1024];
                loop {
                    match stream.read(&mut buf) {
                        Ok(0) => break,
                        Ok(_) => {}
                        Err(error) if error.kind() == ErrorKind::Interrupted => {}
                        Err(_) => break,
                    }
                }
                let _ = closed.send(index);
                return;
            }
        }
    }
}

fn read_request(stream: &mut TcpStream) -> Option<Request> {
    let mut data = Vec::new();
    let mut buf = [0; 4096];
    let head_end = loop {
        let read = stream.read(&mut buf).ok()?;
        if read == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..read]);
        if let Some(end) = data.windows(4).position(|window| window == b"\r\n\r\n") {
            break end + 4;
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let mut request = Request {
        head,
        body: Vec::new(),
    };
    let length: usize = request
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = data[head_end..].to_vec();
    while body.len() < length {
        let read = stream.read(&mut buf).ok()?;
        if read == 0 {
            break;
        }
        body.extend_from_slice(&buf[..read]);
    }
    request.body = body;
    Some(request)
}
