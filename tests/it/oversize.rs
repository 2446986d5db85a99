//! An event over the size limit has one outcome whatever the chunking: it is dropped, reported
//! once as a non-fatal `SseErrored` (`Parse`), and the stream goes on: no reconnection, no
//! replay, no later event skipped. The same bytes cut at every offset, through the real parser
//! on the in-memory transport.

use crate::support::app::*;

use bevy_eventsource::parser::{ParseError, ParserLimits};
use bevy_eventsource::prelude::*;

const STREAM: &str = concat!(
    "id: 1\ndata: before\n\n",
    "id: 2\ndata: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n\n",
    "id: 3\ndata: after\n\n",
);

#[test]
fn an_oversized_event_is_dropped_once_at_every_cut() {
    for cut in 0..=STREAM.len() {
        let (mut app, network) = memory_app_with(SsePlugin {
            parser_limits: ParserLimits::default().with_max_event_len(32),
            ..SsePlugin::default()
        });
        let source = app
            .world_mut()
            .spawn(EventSource::new("http://game.test/"))
            .id();
        app.update();
        let attempt = network.last_attempt(source).unwrap();
        attempt.open();
        attempt.send(&STREAM.as_bytes()[..cut]);
        app.update();
        attempt.send(&STREAM.as_bytes()[cut..]);
        updates(&mut app, 2);
        assert_eq!(data(&app), ["before", "after"], "cut at {cut}");
        let errors = collected::<SseErrored>(&app);
        assert!(
            matches!(
                &errors[..],
                [SseErrored {
                    error: SseError::Parse {
                        source: ParseError::EventTooLarge { limit: 32 },
                        ..
                    },
                    ..
                }]
            ),
            "cut at {cut}: {errors:?}"
        );
        assert_eq!(state(&app, source), ReadyState::Open, "cut at {cut}");
        assert!(collected::<SseRetrying>(&app).is_empty(), "cut at {cut}");
        assert_eq!(network.attempts().len(), 1, "cut at {cut}");
        assert_eq!(
            app.world().get::<LastEventId>(source).unwrap().0,
            "3",
            "cut at {cut}"
        );
    }
}
