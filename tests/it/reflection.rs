//! Reflection, as an inspector or `bevy_remote` sees a source: components found through the
//! app's type registry by their type path and serialized the way `bevy_remote`'s
//! `world.get_components` and `world.query` answer. Header values and bodies never show.

use crate::support::app;

use app::*;
use bevy::ecs::reflect::ReflectComponent;
use bevy::prelude::*;
use bevy::reflect::serde::TypedReflectSerializer;
use bevy_eventsource::prelude::*;
use serde_json::{Map, Value};

const READY_STATE: &str = "bevy_eventsource::source::ReadyState";

/// `bevy_remote`'s `world.get_components`: each reflected component of `entity` whose type
/// path is asked for, serialized by the registry, keyed by type path.
fn get_components(world: &World, entity: Entity, paths: &[&str]) -> Map<String, Value> {
    let registry = world.resource::<AppTypeRegistry>().read();
    let entity = world.entity(entity);
    let mut components = Map::new();
    for path in paths {
        let registration = registry
            .get_with_type_path(path)
            .unwrap_or_else(|| panic!("{path} is not registered"));
        let reflect = registration
            .data::<ReflectComponent>()
            .unwrap_or_else(|| panic!("{path} is not a reflected component"))
            .reflect(entity)
            .unwrap_or_else(|| panic!("the entity has no {path}"));
        let value = serde_json::to_value(TypedReflectSerializer::new(
            reflect.as_partial_reflect(),
            &registry,
        ))
        .unwrap_or_else(|error| panic!("{path} does not serialize: {error}"));
        components.insert((*path).to_owned(), value);
    }
    components
}

/// `world.list_components`: the type paths of the entity's reflected components.
fn list_components(world: &World, entity: Entity) -> Vec<String> {
    let registry = world.resource::<AppTypeRegistry>().read();
    let entity = world.entity(entity);
    let mut paths: Vec<String> = entity
        .archetype()
        .components()
        .iter()
        .filter_map(|&id| world.components().get_info(id)?.type_id())
        .filter_map(|type_id| registry.get(type_id))
        .filter(|registration| registration.data::<ReflectComponent>().is_some())
        .map(|registration| registration.type_info().type_path().to_owned())
        .collect();
    paths.sort();
    paths
}

/// `world.query` with a `with` filter: the entities that have the component.
fn query_with(world: &World, path: &str) -> Vec<Entity> {
    let registry = world.resource::<AppTypeRegistry>().read();
    let component = registry
        .get_with_type_path(path)
        .and_then(|registration| registration.data::<ReflectComponent>())
        .expect("registered component");
    world
        .iter_entities()
        .filter(|entity| component.contains(*entity))
        .map(|entity| entity.id())
        .collect()
}

#[test]
fn a_live_source_reads_through_the_type_registry_and_serializes_as_bevy_remote_would() {
    let (mut app, network) = memory_app();
    let source = app
        .world_mut()
        .spawn(
            EventSource::new("https://user:hunter2@game.test:8443/feed?token=s3cret")
                .with_header("Authorization", "Bearer s3cret")
                .with_method(Method::POST)
                .with_body("s3cret body"),
        )
        .id();
    app.update();
    network
        .last_attempt(source)
        .unwrap()
        .open()
        .send("id: 7\nretry: 1500\ndata: hello\n\n");
    app.update();

    // ReadyState through the registry alone: what an inspector does.
    {
        let world = app.world();
        let registry = world.resource::<AppTypeRegistry>().read();
        let registration = registry.get_with_type_path(READY_STATE).unwrap();
        let reflected = registration
            .data::<ReflectComponent>()
            .unwrap()
            .reflect(world.entity(source))
            .unwrap();
        assert_eq!(
            reflected.downcast_ref::<ReadyState>(),
            Some(&ReadyState::Open)
        );
    }

    assert_eq!(query_with(app.world(), READY_STATE), vec![source]);
    let listed = list_components(app.world(), source);
    println!("{listed:#?}");
    for path in [
        READY_STATE,
        "bevy_eventsource::source::LastEventId",
        "bevy_eventsource::source::ReconnectionTime",
        "bevy_eventsource::diagnostics::SseSourceStats",
        "bevy_ecs::name::Name",
    ] {
        assert!(
            listed.iter().any(|listed| listed == path),
            "{path} not listed"
        );
    }
    // The request (header values, body, URL credentials) is not reflected at all.
    assert!(!listed.iter().any(|path| path.ends_with("EventSource")));

    let paths: Vec<&str> = listed.iter().map(String::as_str).collect();
    let components = get_components(app.world(), source, &paths);
    let dump = serde_json::to_string_pretty(&components).unwrap();
    println!("{dump}");
    assert_eq!(components[READY_STATE], "Open");
    assert_eq!(components["bevy_eventsource::source::LastEventId"], "7");
    assert_eq!(
        components["bevy_eventsource::source::ReconnectionTime"],
        serde_json::json!({"secs": 1, "nanos": 500_000_000})
    );
    let stats = &components["bevy_eventsource::diagnostics::SseSourceStats"];
    assert_eq!(stats["messages"], 1);
    assert_eq!(stats["bytes"], 31);
    assert_eq!(stats["attempts"], 1);
    // Named from the URL: host, port and path, no credentials or query.
    assert_eq!(
        components["bevy_ecs::name::Name"],
        "sse game.test:8443/feed"
    );
    assert!(
        !dump.contains("s3cret") && !dump.contains("hunter2"),
        "{dump}"
    );
}

/// `bevy_remote`'s `world.get_resources`: a reflected resource by type path, serialized. A
/// resource is a component of its own entity.
fn get_resource(world: &World, path: &str) -> Value {
    let registry = world.resource::<AppTypeRegistry>().read();
    let registration = registry
        .get_with_type_path(path)
        .unwrap_or_else(|| panic!("{path} is not registered"));
    assert!(
        registration
            .data::<bevy::ecs::reflect::ReflectResource>()
            .is_some(),
        "{path} is not a reflected resource"
    );
    let id = world
        .components()
        .get_id(registration.type_id())
        .expect("a resource in the world");
    let entity = world.resource_entities().get(id).expect("its entity");
    let reflect = registration
        .data::<ReflectComponent>()
        .unwrap()
        .reflect(world.entity(entity))
        .unwrap();
    serde_json::to_value(TypedReflectSerializer::new(
        reflect.as_partial_reflect(),
        &registry,
    ))
    .unwrap_or_else(|error| panic!("{path} does not serialize: {error}"))
}

#[test]
fn the_settings_and_stats_resources_are_reflected() {
    let (mut app, network) = memory_app();
    let source = app
        .world_mut()
        .spawn(EventSource::new("http://game.test/feed"))
        .id();
    app.update();
    network
        .last_attempt(source)
        .unwrap()
        .open()
        .send("data: x\n\n");
    app.update();
    let settings = get_resource(app.world(), "bevy_eventsource::settings::SseSettings");
    println!("{settings:#}");
    assert_eq!(settings["on_suspend"], "KeepStreaming");
    assert_eq!(settings["parser_limits"]["max_event_len"], 16 << 20);
    assert_eq!(settings["retry_policy"]["backoff_factor"], 2.0);
    let stats = get_resource(app.world(), "bevy_eventsource::diagnostics::SseStats");
    println!("{stats:#}");
    assert_eq!(stats["total_messages"], 1);
    assert_eq!(stats["open_sources"], 1);
}

#[test]
fn a_name_the_game_gave_is_kept_and_a_given_name_follows_the_url() {
    let (mut app, _network) = memory_app();
    let named = app
        .world_mut()
        .spawn((Name::new("lobby"), EventSource::new("http://game.test/a")))
        .id();
    let unnamed = app
        .world_mut()
        .spawn(EventSource::new("http://game.test/a"))
        .id();
    app.update();
    let name = |app: &App, entity| app.world().get::<Name>(entity).unwrap().to_string();
    assert_eq!(name(&app, named), "lobby");
    assert_eq!(name(&app, unnamed), "sse game.test/a");

    for entity in [named, unnamed] {
        app.world_mut()
            .get_mut::<EventSource>(entity)
            .unwrap()
            .set_url("http://game.test/b?x=1");
        app.world_mut()
            .commands()
            .entity(entity)
            .reconnect_event_source();
    }
    app.update();
    assert_eq!(name(&app, named), "lobby");
    assert_eq!(name(&app, unnamed), "sse game.test/b");
}
