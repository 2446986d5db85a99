//! Soak: a server that kills the connection 1,000 times at chosen points (inside a line, inside
//! a UTF-8 sequence, between CR and LF, anywhere; by FIN or by RST) while resuming from
//! `Last-Event-ID`. The game must receive every event exactly once, in order, intact.

use crate::support::app;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::*;
use bevy::prelude::*;
use bevy_eventsource::prelude::*;

/// Events in the whole stream.
const EVENTS: u64 = 20_000;
/// Connections the server kills before it lets the rest through.
const KILLS: u32 = 1_000;

const HEAD: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n";

/// Event `k` on the wire: CRLF line ends, multi-byte UTF-8, two data lines.
fn wire(k: u64) -> String {
    format!(
        "id: {k}\r\nevent: tick\r\ndata: {k} héllo 漢字 🎮 {}\r\ndata: ñ-{k}\r\n\r\n",
        k % 7
    )
}

/// Event `k`'s data, as the game must see it.
fn expected_data(k: u64) -> String {
    format!("{k} héllo 漢字 🎮 {}\nñ-{k}", k % 7)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Cut {
    InsideLine,
    InsideUtf8,
    BetweenCrLf,
    Anywhere,
}

struct Chaos {
    rng: u64,
    kills: u32,
    resets: u32,
    by_kind: std::collections::HashMap<Cut, u32>,
    connections: u32,
}

impl Chaos {
    fn next(&mut self, bound: usize) -> usize {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng % bound as u64) as usize
    }
}

fn start_server(chaos: Arc<Mutex<Chaos>>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let chaos = chaos.clone();
            std::thread::spawn(move || serve(stream, &chaos));
        }
    });
    addr
}

fn serve(mut stream: TcpStream, chaos: &Mutex<Chaos>) {
    let mut head = Vec::new();
    let mut buf = [0; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let after: u64 = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("last-event-id")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);

    let mut chaos = chaos.lock().unwrap();
    chaos.connections += 1;
    if chaos.kills >= KILLS {
        // Calm again: the rest of the stream, then a clean end.
        drop(chaos);
        let mut body = HEAD.to_vec();
        for k in after + 1..=EVENTS {
            body.extend_from_slice(wire(k).as_bytes());
        }
        let _ = stream.write_all(&body);
        return;
    }
    let count = 1 + chaos.next(40) as u64;
    let mut body = HEAD.to_vec();
    for k in after + 1..=(after + count).min(EVENTS) {
        body.extend_from_slice(wire(k).as_bytes());
    }
    let kind = [
        Cut::InsideLine,
        Cut::InsideUtf8,
        Cut::BetweenCrLf,
        Cut::Anywhere,
    ][chaos.next(4)];
    let candidates: Vec<usize> = (HEAD.len() + 1..body.len())
        .filter(|&i| {
            let (before, at) = (body[i - 1], body[i]);
            match kind {
                Cut::InsideLine => !b"\r\n".contains(&before) && !b"\r\n".contains(&at),
                Cut::InsideUtf8 => (0x80..0xC0).contains(&at),
                Cut::BetweenCrLf => before == b'\r' && at == b'\n',
                Cut::Anywhere => true,
            }
        })
        .collect();
    let cut = candidates[chaos.next(candidates.len())];
    let reset = chaos.next(3) == 0;
    chaos.kills += 1;
    chaos.resets += u32::from(reset);
    *chaos.by_kind.entry(kind).or_default() += 1;
    drop(chaos);
    if stream.write_all(&body[..cut]).is_err() {
        return;
    }
    let _ = stream.flush();
    if reset {
        // SO_LINGER 0: the close sends RST instead of FIN.
        let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    }
}

/// Counts what the game reads and checks it as it goes: every event exactly once, in order.
#[derive(Resource, Default)]
struct Ledger {
    next: u64,
    wrong: Vec<String>,
    opens: u32,
}

fn check(
    mut messages: MessageReader<SseMessage>,
    mut opened: MessageReader<SseOpened>,
    mut ledger: ResMut<Ledger>,
) {
    ledger.opens += opened.read().count() as u32;
    for message in messages.read() {
        let expected = ledger.next + 1;
        let id: u64 = message.last_event_id().parse().unwrap_or(0);
        if id != expected
            || message.event_type() != "tick"
            || message.data() != expected_data(expected)
        {
            let problem = format!(
                "expected event {expected}, got id {:?} type {:?} data {:?}",
                message.last_event_id(),
                message.event_type(),
                message.data()
            );
            ledger.wrong.push(problem);
        }
        ledger.next = id.max(ledger.next);
    }
}

#[test]
fn a_thousand_kills_lose_and_repeat_nothing() {
    let chaos = Arc::new(Mutex::new(Chaos {
        rng: 0x9e37_79b9_7f4a_7c15,
        kills: 0,
        resets: 0,
        by_kind: Default::default(),
        connections: 0,
    }));
    let addr = start_server(chaos.clone());

    let mut app = test_app();
    app.init_resource::<Ledger>().add_systems(Update, check);
    app.world_mut().spawn((
        EventSource::new(format!("http://{addr}/events")),
        // The game's own reconnection time is used as given: reconnect at once.
        ReconnectionTime(Duration::ZERO),
    ));

    let started = Instant::now();
    let deadline = started + Duration::from_secs(120);
    while app.world().resource::<Ledger>().next < EVENTS {
        app.update();
        let ledger = app.world().resource::<Ledger>();
        assert!(
            ledger.wrong.is_empty(),
            "{:?}",
            &ledger.wrong[..ledger.wrong.len().min(5)]
        );
        assert!(
            Instant::now() < deadline,
            "only {} of {EVENTS} events after {:?}",
            ledger.next,
            started.elapsed()
        );
        std::thread::sleep(Duration::from_micros(200));
    }

    let ledger = app.world().resource::<Ledger>();
    let chaos = chaos.lock().unwrap();
    println!(
        "{EVENTS} events exactly once, in order, through {} kills ({} by RST; {:?}), \
         {} connections, {} opens, in {:.1} s",
        chaos.kills,
        chaos.resets,
        chaos.by_kind,
        chaos.connections,
        ledger.opens,
        started.elapsed().as_secs_f64()
    );
    assert_eq!(ledger.next, EVENTS);
    assert!(ledger.wrong.is_empty());
    assert_eq!(chaos.kills, KILLS);
    assert!(
        chaos.by_kind.values().all(|&n| n > 100),
        "{:?}",
        chaos.by_kind
    );
    assert!(ledger.opens > KILLS, "a reconnection per kill");
}
