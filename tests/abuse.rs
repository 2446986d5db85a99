//! Abuse, against real servers on loopback: an endless line, an endless event, invalid UTF-8
//! everywhere, 10,000 comment lines a second, a one-byte-a-second trickle, a server that never
//! answers, and a 100,000-event burst read on a per-frame budget. Each ends in a bounded, clear
//! outcome (an error the stream survives, an error and a reconnection, or a steady state). Heap use is measured with a counting
//! allocator: the peak above the scenario's start is printed and bounded.

#[path = "it/support/app.rs"]
mod app;
#[path = "it/support/server.rs"]
mod server;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Mutex;
use std::time::Duration;

use app::*;
use bevy::prelude::*;
use bevy_eventsource::parser::{ParseError, ParserLimits};
use bevy_eventsource::prelude::*;
use peak_alloc::PeakAlloc;
use server::*;

#[global_allocator]
static HEAP: PeakAlloc = PeakAlloc;

/// One measured scenario at a time: the allocator's counters are process-wide.
static MEASURED: Mutex<()> = Mutex::new(());

const MIB: usize = 1 << 20;

/// Runs `scenario` alone and returns its peak heap use above where it started, in bytes.
fn peak_heap_of(name: &str, scenario: impl FnOnce()) -> usize {
    let _alone = MEASURED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let baseline = HEAP.current_usage();
    HEAP.reset_peak_usage();
    scenario();
    let peak = HEAP.peak_usage().saturating_sub(baseline);
    println!(
        "{name}: peak heap {:.2} MiB above the start",
        peak as f64 / MIB as f64
    );
    peak
}

/// A server on 127.0.0.1:0 that runs `body` on each connection after reading the request.
fn serve_with(body: impl Fn(&mut TcpStream) + Send + Sync + 'static) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let body = std::sync::Arc::new(body);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let body = body.clone();
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut buf = [0; 2048];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                body(&mut stream);
            });
        }
    });
    addr
}

/// Writes `chunk` until the client goes away or `max` bytes went out.
fn write_forever(stream: &mut TcpStream, chunk: &[u8], max: usize) {
    let mut sent = 0;
    while sent < max && stream.write_all(chunk).is_ok() {
        sent += chunk.len();
    }
}

fn small_limits() -> SsePlugin {
    SsePlugin {
        parser_limits: ParserLimits::default()
            .with_max_line_len(MIB)
            .with_max_event_len(MIB),
        ..SsePlugin::default()
    }
}

/// Runs until the first error, then checks that a reconnection followed and closes the source.
fn first_error_then_retry(app: &mut App, source: Entity) -> SseError {
    update_until(app, "the first error", |app| {
        !collected::<SseErrored>(app).is_empty()
    });
    update_until(app, "the reconnection", |app| {
        !collected::<SseRetrying>(app).is_empty()
    });
    app.world_mut()
        .commands()
        .entity(source)
        .close_event_source();
    update_until_closed(app, source);
    collected::<SseErrored>(app)[0].error.clone()
}

/// Streams from `body` against 1 MiB limits until the first error; returns the parse error and
/// the peak heap. No message may arrive, and the stream stays open: the oversized input is
/// dropped, nothing reconnects.
fn over_the_limit(
    name: &str,
    body: impl Fn(&mut TcpStream) + Send + Sync + 'static,
) -> (ParseError, usize) {
    let addr = serve_with(body);
    let mut error = None;
    let peak = peak_heap_of(name, || {
        let mut app = test_app_with(small_limits());
        collect::<SseErrored>(&mut app);
        collect::<SseRetrying>(&mut app);
        collect::<SseMessage>(&mut app);
        let source = app
            .world_mut()
            .spawn(EventSource::new(format!("http://{addr}/")))
            .id();
        update_until(&mut app, "the first error", |app| {
            !collected::<SseErrored>(app).is_empty()
        });
        assert_eq!(state(&app, source), ReadyState::Open);
        assert!(collected::<SseRetrying>(&app).is_empty());
        assert!(collected::<SseMessage>(&app).is_empty());
        error = Some(collected::<SseErrored>(&app)[0].error.clone());
        app.world_mut().despawn(source);
        app.update();
    });
    match error.unwrap() {
        SseError::Parse { source, .. } => (source, peak),
        other => panic!("expected a parse error, got {other:?}"),
    }
}

#[test]
fn endless_line_is_cut_at_the_line_limit() {
    let (error, peak) = over_the_limit("endless line (1 MiB line limit)", |stream| {
        let _ = stream.write_all(format!("{OK_HEAD}data: ").as_bytes());
        write_forever(stream, &[b'a'; 64 * 1024], 1 << 30);
    });
    assert_eq!(error, ParseError::LineTooLong { limit: MIB });
    assert!(peak < 8 * MIB, "{peak} bytes");
}

#[test]
fn endless_event_is_cut_at_the_event_limit() {
    let (error, peak) = over_the_limit("endless event (1 MiB event limit)", |stream| {
        let _ = stream.write_all(OK_HEAD.as_bytes());
        let line = format!("data: {}\n", "x".repeat(1000));
        write_forever(stream, line.repeat(64).as_bytes(), 1 << 30);
    });
    assert_eq!(error, ParseError::EventTooLarge { limit: MIB });
    assert!(peak < 8 * MIB, "{peak} bytes");
}

#[test]
fn invalid_utf8_everywhere_is_replaced_and_the_stream_goes_on() {
    // Field values, event types, IDs, comments and whole lines of bad bytes, then 1 MiB of
    // noise, then a last event.
    let mut stream = OK_HEAD.as_bytes().to_vec();
    stream.extend_from_slice(b"data: caf\xC3\n\n");
    stream.extend_from_slice(b"event: t\xFF\xFEx\ndata: 1\n\n");
    stream.extend_from_slice(b"id: \xED\xA0\x80\ndata: 2\n\n");
    stream.extend_from_slice(b"\xC0\xAFdata: never\n\n");
    stream.extend_from_slice(b":\xFF comment\n");
    stream.extend_from_slice(b"data: \xF0\x9F\x8E\xAE ok \xF0\x9F\x8E\n\n");
    let mut rng = 0x1234_5678_9abc_def1_u64;
    for _ in 0..MIB {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        // Noise: no 'd' (so no accidental data field) and a line end now and then.
        let byte = match (rng >> 24) as u8 {
            b'd' => 0xFF,
            byte => byte,
        };
        stream.push(byte);
    }
    stream.extend_from_slice(b"\n\nid: 3\ndata: after the noise\n\n");
    let addr = serve_with(move |socket| {
        let _ = socket.write_all(&stream);
        // Then hold the connection open: a steady state, not an end.
        let _ = socket.read(&mut [0; 1]);
    });

    let peak = peak_heap_of("invalid UTF-8 and 1 MiB of noise", || {
        let mut app = test_app();
        collect::<SseErrored>(&mut app);
        collect::<SseMessage>(&mut app);
        collect::<SseComment>(&mut app);
        let source = app
            .world_mut()
            .spawn(EventSource::new(format!("http://{addr}/")))
            .id();
        update_until(&mut app, "the event after the noise", |app| {
            collected::<SseMessage>(app)
                .last()
                .is_some_and(|message| message.data() == "after the noise")
        });

        let messages = collected::<SseMessage>(&app);
        let seen: Vec<(&str, &str, &str)> = messages
            .iter()
            .take(4)
            .map(|m| (m.event_type(), m.data(), m.last_event_id()))
            .collect();
        assert_eq!(
            seen,
            [
                ("message", "caf\u{FFFD}", ""),
                ("t\u{FFFD}\u{FFFD}x", "1", ""),
                ("message", "2", "\u{FFFD}\u{FFFD}\u{FFFD}"),
                (
                    "message",
                    "\u{1F3AE} ok \u{FFFD}",
                    "\u{FFFD}\u{FFFD}\u{FFFD}"
                ),
            ]
        );
        assert!(messages.iter().all(|m| m.data() != "never"));
        assert_eq!(collected::<SseComment>(&app)[0].text, "\u{FFFD} comment");
        assert_eq!(messages.last().unwrap().last_event_id(), "3");
        assert!(collected::<SseErrored>(&app).is_empty());
        assert_eq!(state(&app, source), ReadyState::Open);
    });
    assert!(peak < 16 * MIB, "{peak} bytes");
}

/// Counts comments and messages without keeping them, so the heap shows the plugin's own use.
#[derive(Resource, Default)]
struct Counts {
    comments: u64,
    messages: u64,
    last_data: String,
    most_in_a_frame: usize,
    out_of_order: u64,
    next_id: u64,
}

fn count(
    mut comments: MessageReader<SseComment>,
    mut messages: MessageReader<SseMessage>,
    mut counts: ResMut<Counts>,
) {
    counts.comments += comments.read().count() as u64;
    let mut in_frame = 0;
    for message in messages.read() {
        in_frame += 1;
        counts.messages += 1;
        if let Ok(id) = message.last_event_id().parse::<u64>() {
            if id != counts.next_id {
                counts.out_of_order += 1;
            }
            counts.next_id = id + 1;
        }
        if message.data().len() < 64 {
            counts.last_data.clear();
            counts.last_data.push_str(message.data());
        }
    }
    counts.most_in_a_frame = counts.most_in_a_frame.max(in_frame);
}

#[test]
fn ten_thousand_comments_a_second_is_a_steady_state() {
    let addr = serve_with(|stream| {
        let _ = stream.write_all(OK_HEAD.as_bytes());
        let burst = ":keepalive 0123456789\n".repeat(100);
        // 100 comments every 10 ms for 2 s, and an event every 100 ms.
        for tick in 0..200 {
            if stream.write_all(burst.as_bytes()).is_err() {
                return;
            }
            if tick % 10 == 9 {
                let _ = stream.write_all(format!("data: tick {tick}\n\n").as_bytes());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = stream.write_all(b"data: end\n\n");
        let _ = stream.read(&mut [0; 1]);
    });

    let peak = peak_heap_of("10,000 comments a second for 2 s", || {
        let mut app = test_app();
        collect::<SseErrored>(&mut app);
        app.init_resource::<Counts>().add_systems(Update, count);
        app.world_mut()
            .spawn(EventSource::new(format!("http://{addr}/")));
        update_until(&mut app, "the end event", |app| {
            app.world().resource::<Counts>().last_data == "end"
        });
        let counts = app.world().resource::<Counts>();
        assert_eq!(counts.comments, 20_000);
        assert_eq!(counts.messages, 21);
        assert!(collected::<SseErrored>(&app).is_empty());
    });
    assert!(peak < 8 * MIB, "{peak} bytes");
}

#[test]
fn a_one_byte_a_second_trickle_stays_open_and_delivers() {
    let addr = serve_with(|stream| {
        let _ = stream.write_all(OK_HEAD.as_bytes());
        for byte in b"data:x\n\n" {
            std::thread::sleep(Duration::from_secs(1));
            if stream.write_all(&[*byte]).is_err() {
                return;
            }
        }
        let _ = stream.read(&mut [0; 1]);
    });

    let mut app = test_app();
    collect::<SseErrored>(&mut app);
    collect::<SseMessage>(&mut app);
    let source = app.world_mut().spawn(
        EventSource::new(format!("http://{addr}/")).with_read_timeout(Duration::from_millis(2500)),
    );
    let source = source.id();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while collected::<SseMessage>(&app).is_empty() {
        app.update();
        assert!(
            std::time::Instant::now() < deadline,
            "no event from the trickle"
        );
        assert!(
            collected::<SseErrored>(&app).is_empty(),
            "{:?}",
            collected::<SseErrored>(&app)
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // A byte a second is slow but alive: within the 2.5 s read timeout, no error, one event.
    assert_eq!(collected::<SseMessage>(&app)[0].data(), "x");
    assert_eq!(state(&app, source), ReadyState::Open);
}

#[test]
fn a_server_that_never_answers_times_out_and_retries() {
    let server = ScriptedServer::start(vec![vec![Step::HoldUntilClientCloses]]);
    let mut app = test_app();
    collect::<SseErrored>(&mut app);
    collect::<SseRetrying>(&mut app);
    let source = app
        .world_mut()
        .spawn(
            EventSource::new(server.url("/silent"))
                .with_response_timeout(Duration::from_millis(300)),
        )
        .id();
    let error = first_error_then_retry(&mut app, source);
    assert!(
        matches!(
            error,
            SseError::ResponseTimeout { timeout, .. } if timeout == Duration::from_millis(300)
        ),
        "{error:?}"
    );
    // The client let go of the silent connection.
    assert_eq!(server.wait_client_close(Duration::from_secs(5)), Some(0));
    // No compression is asked for, so a server cannot send a decompression bomb.
    assert_eq!(server.requests()[0].header("accept-encoding"), None);
}

const BURST_EVENTS: u64 = 100_000;
const FRAME_BUDGET: usize = 64;

/// 100,000 events of ~190 bytes (19 MiB), written as fast as the socket takes them, then
/// `data: end`.
fn burst_server() -> SocketAddr {
    serve_with(|stream| {
        let _ = stream.write_all(OK_HEAD.as_bytes());
        let padding = "p".repeat(160);
        let mut chunk = String::new();
        for id in 0..BURST_EVENTS {
            chunk.push_str(&format!("id: {id}\ndata: {padding} {id}\n\n"));
            if chunk.len() >= 64 * 1024 {
                if stream.write_all(chunk.as_bytes()).is_err() {
                    return;
                }
                chunk.clear();
            }
        }
        let _ = stream.write_all(chunk.as_bytes());
        let _ = stream.write_all(format!("id: {BURST_EVENTS}\ndata: end\n\n").as_bytes());
        let _ = stream.read(&mut [0; 1]);
    })
}

/// Delivers the burst to a game that takes 64 messages a frame, checks that nothing is lost,
/// repeated or reordered, and returns the peak heap.
fn deliver_burst(name: &str, plugin: SsePlugin) -> usize {
    let addr = burst_server();
    peak_heap_of(name, || {
        let mut app = test_app_with(SsePlugin {
            max_messages_per_frame: std::num::NonZeroUsize::new(FRAME_BUDGET),
            ..plugin
        });
        app.init_resource::<Counts>().add_systems(Update, count);
        app.world_mut()
            .spawn(EventSource::new(format!("http://{addr}/")));
        let mut frames = 0;
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while app.world().resource::<Counts>().last_data != "end" {
            app.update();
            frames += 1;
            assert!(std::time::Instant::now() < deadline, "burst not delivered");
        }
        // The plugin's own tally agrees.
        let stats = app.world().resource::<SseStats>();
        assert_eq!(stats.total_messages, BURST_EVENTS + 1);
        assert!(stats.frame_messages <= FRAME_BUDGET);
        let counts = app.world().resource::<Counts>();
        println!(
            "burst: {} messages in {frames} frames, at most {} in a frame",
            counts.messages, counts.most_in_a_frame
        );
        assert_eq!(counts.messages, BURST_EVENTS + 1);
        assert_eq!(counts.out_of_order, 0);
        assert_eq!(counts.next_id, BURST_EVENTS + 1);
        // The budget held, and it did bind: the game fell behind the socket.
        assert_eq!(counts.most_in_a_frame, FRAME_BUDGET);
        assert!(frames as u64 >= BURST_EVENTS / FRAME_BUDGET as u64);
    })
}

#[test]
fn a_hundred_thousand_event_burst_on_a_frame_budget_loses_nothing() {
    let plugin = SsePlugin {
        max_batches_per_frame: 4,
        ..SsePlugin::default()
    };
    let peak = deliver_burst("100,000 events (19 MiB) on a 64-message budget", plugin);
    assert!(peak < 8 * MIB, "{peak} bytes");
}

#[test]
fn a_game_that_falls_behind_holds_the_byte_budget_not_the_stream() {
    // The default channel (256 batches) would hold most of the 19 MiB burst; the 1 MiB byte
    // budget makes the IO task wait, and TCP slows the server.
    let plugin = SsePlugin {
        max_queued_bytes: MIB,
        ..SsePlugin::default()
    };
    let peak = deliver_burst("100,000 events (19 MiB), a 1 MiB byte budget", plugin);
    assert!(peak < 4 * MIB, "{peak} bytes");
}
