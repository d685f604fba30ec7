//! Unit tests of the resource state: seeding, ownership, the changes
//! traffic makes, capacity, reseeding, and the route-derived effects over
//! the repository's real route files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use super::*;
use crate::directory::{Directory, ResourceAttrs};
use crate::routes::RouteTable;

fn routes() -> RouteTable {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("routes");
    RouteTable::load_dir(&dir).unwrap().0
}

fn directory() -> Directory {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    crate::directory::load(&dir, &mut Vec::new()).unwrap().0
}

fn key(service: &str, kind: &str, id: &str) -> ResourceKey {
    ResourceKey {
        service: service.into(),
        kind: kind.into(),
        id: id.into(),
    }
}

fn owner(account: &str, region: &str) -> Owner {
    Owner {
        account: account.into(),
        region: region.into(),
    }
}

fn tagged(pairs: &[(&str, &str)]) -> ResourceAttrs {
    ResourceAttrs {
        tags: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..ResourceAttrs::default()
    }
}

fn own_tags(l: Lookup) -> Vec<(String, String)> {
    match l {
        Lookup::Own(attrs) => attrs.tags.into_iter().collect(),
        other => panic!("expected Own, got {other:?}"),
    }
}

fn create(state: &ResourceState, k: &ResourceKey, o: &Owner, attrs: ResourceAttrs) {
    let slot = state.reserve().unwrap();
    state.record_created(slot, k, o.clone(), attrs);
}

const RT: &str = "runtimes";

#[test]
fn seeds_parse_resources_toml_with_each_services_template() {
    let state = ResourceState::new(100);
    let skipped = state.seed_from_files(&routes(), &directory());
    assert!(skipped.is_empty(), "{skipped:?}");
    let nb = key("modelarts", "notebook", "nb-red");
    let tags = own_tags(state.lookup(&nb, "acme0001", "cn-north-4"));
    assert_eq!(tags, vec![("team".to_string(), "red".to_string())]);
    match state.lookup(
        &key("modelarts", "pool", "pool-gpu"),
        "acme0001",
        "cn-north-4",
    ) {
        Lookup::Own(a) => assert_eq!(a.keys["modelarts:poolType"], "dedicated"),
        other => panic!("{other:?}"),
    }
    assert_eq!(state.len(), directory().resources.len());
}

#[test]
fn urn_parsing_handles_types_with_slashes_and_refuses_bad_ids() {
    let table = routes();
    let (k, o) =
        seed::key_of(&table, "acs:agentrun:cn-hangzhou:123:workspaces/*/flows/f1").unwrap();
    assert_eq!(
        (k.kind.as_str(), k.id.as_str()),
        ("workspaces/*/flows", "f1")
    );
    assert_eq!(o, owner("123", "cn-hangzhou"));
    let (k, _) = seed::key_of(&table, "acs:agentrun:cn-hangzhou:123:runtimes/rt-1").unwrap();
    assert_eq!((k.kind.as_str(), k.id.as_str()), (RT, "rt-1"));
    for bad in [
        "modelarts:cn-north-4:acme0001:notebook:nb;x",
        "modelarts:cn-north-4:acme0001:nosuchtype:nb",
        "modelarts:cn-north-4::notebook:nb",
        "ecs:cn-north-4:acme0001:instance:i-1",
    ] {
        assert!(seed::key_of(&table, bad).is_none(), "{bad}");
    }
}

#[test]
fn own_foreign_unknown_and_case_variants() {
    let state = ResourceState::new(10);
    let rt = key("agentrun", RT, "rt-A");
    create(
        &state,
        &rt,
        &owner("A", "cn-hangzhou"),
        tagged(&[("team", "red")]),
    );
    assert_eq!(own_tags(state.lookup(&rt, "A", "cn-hangzhou")).len(), 1);
    assert!(
        matches!(state.lookup(&rt, "B", "cn-hangzhou"), Lookup::Foreign { owner } if owner == "A")
    );
    // The owner in another region: not this resource, and not foreign.
    assert!(matches!(
        state.lookup(&rt, "A", "cn-shanghai"),
        Lookup::Unknown
    ));
    assert!(matches!(
        state.lookup(&key("agentrun", RT, "rt-B"), "B", "cn-hangzhou"),
        Lookup::Unknown
    ));
    // Same id, other type or service: another resource.
    assert!(matches!(
        state.lookup(&key("agentrun", "sandboxes", "rt-A"), "B", "x"),
        Lookup::Unknown
    ));
    assert!(matches!(
        state.lookup(&key("agentrun", RT, "RT-a"), "A", "cn-hangzhou"),
        Lookup::CaseVariant { known } if known == "rt-A"
    ));
}

#[test]
fn names_may_exist_once_per_account() {
    let state = ResourceState::new(10);
    let t = key("agentrun", "templates", "t1");
    create(&state, &t, &owner("A", "r"), tagged(&[("team", "red")]));
    create(&state, &t, &owner("B", "r"), tagged(&[("team", "blue")]));
    assert_eq!(own_tags(state.lookup(&t, "A", "r"))[0].1, "red");
    assert_eq!(own_tags(state.lookup(&t, "B", "r"))[0].1, "blue");
    assert!(matches!(state.lookup(&t, "C", "r"), Lookup::Foreign { .. }));
    assert_eq!(state.len(), 2);
    assert!(state.record_deleted(&t, &owner("A", "r")));
    assert!(matches!(state.lookup(&t, "A", "r"), Lookup::Foreign { owner } if owner == "B"));
}

#[test]
fn tags_updates_and_deletes_change_only_the_owners_record() {
    let state = ResourceState::new(10);
    let svc = key("modelarts", "service", "s1");
    let a = owner("A", "cn-north-4");
    create(
        &state,
        &svc,
        &a,
        tagged(&[("team", "blue"), ("env", "dev")]),
    );
    let add = [("team".to_string(), "red".to_string())];
    assert!(!state.record_tags(&svc, &owner("B", "cn-north-4"), &add, &[]));
    assert!(state.record_tags(&svc, &a, &add, &["env".to_string()]));
    assert_eq!(
        own_tags(state.lookup(&svc, "A", "cn-north-4")),
        add.to_vec()
    );
    let replaced = [("cost".to_string(), "1".to_string())];
    assert!(state.record_updated(&svc, &a, Some(&replaced)));
    assert_eq!(
        own_tags(state.lookup(&svc, "A", "cn-north-4")),
        replaced.to_vec()
    );
    assert!(state.record_updated(&svc, &a, None));
    assert_eq!(
        own_tags(state.lookup(&svc, "A", "cn-north-4")),
        replaced.to_vec()
    );
    assert!(state.record_deleted(&svc, &a));
    assert!(!state.record_deleted(&svc, &a));
    assert!(matches!(
        state.lookup(&svc, "A", "cn-north-4"),
        Lookup::Unknown
    ));
    assert_eq!(state.len(), 0);
}

#[test]
fn a_full_state_refuses_creates_and_frees_unused_reservations() {
    let state = ResourceState::new(2);
    create(
        &state,
        &key("s", "t", "a"),
        &owner("A", "r"),
        ResourceAttrs::default(),
    );
    let held = state.reserve().unwrap();
    assert_eq!(state.reserve().unwrap_err(), StateFull { capacity: 2 });
    drop(held);
    let slot = state.reserve().unwrap();
    state.record_created(
        slot,
        &key("s", "t", "b"),
        owner("A", "r"),
        ResourceAttrs::default(),
    );
    assert!(state.reserve().is_err());
    // Re-creating a known resource replaces it and frees its reservation.
    assert!(state.record_deleted(&key("s", "t", "b"), &owner("A", "r")));
    create(
        &state,
        &key("s", "t", "a"),
        &owner("A", "r"),
        tagged(&[("k", "v")]),
    );
    assert_eq!(state.len(), 1);
    assert!(state.reserve().is_ok());
}

#[test]
fn reseeding_replaces_file_records_and_keeps_traffic() {
    let table = routes();
    let mut dir = directory();
    let state = ResourceState::new(100);
    state.seed_from_files(&table, &dir);
    let created = key("modelarts", "notebook", "nb-new");
    create(
        &state,
        &created,
        &owner("acme0001", "cn-north-4"),
        tagged(&[("team", "red")]),
    );
    let blue = key("modelarts", "notebook", "nb-blue");
    let acme = owner("acme0001", "cn-north-4");
    let red = [("team".to_string(), "red".to_string())];
    assert!(state.record_tags(&blue, &acme, &red, &[]));
    // The file drops nb-red and re-tags nb-blue; traffic knew nb-blue better.
    dir.resources.retain(|urn, _| !urn.ends_with(":nb-red"));
    for attrs in dir.resources.values_mut() {
        attrs.tags.insert("team".into(), "green".into());
    }
    state.seed_from_files(&table, &dir);
    assert!(matches!(
        state.lookup(
            &key("modelarts", "notebook", "nb-red"),
            "acme0001",
            "cn-north-4"
        ),
        Lookup::Unknown
    ));
    assert_eq!(
        own_tags(state.lookup(&created, "acme0001", "cn-north-4")),
        red.to_vec()
    );
    assert_eq!(
        own_tags(state.lookup(&blue, "acme0001", "cn-north-4")),
        red.to_vec()
    );
    let pool = key("modelarts", "pool", "pool-gpu");
    assert_eq!(
        own_tags(state.lookup(&pool, "acme0001", "cn-north-4"))[0].1,
        "green"
    );
    assert_eq!(state.len(), dir.resources.len() + 1);
}

#[test]
fn admin_view_is_sorted_bounded_and_names_the_origin() {
    let state = ResourceState::new(100);
    state.seed_from_files(&routes(), &directory());
    create(
        &state,
        &key("agentrun", RT, "rt-1"),
        &owner("A", "cn-hangzhou"),
        tagged(&[("team", "red")]),
    );
    let all = state.to_json(100);
    assert_eq!(all["count"], state.len());
    assert_eq!(all["truncated"], false);
    let first = &all["resources"][0];
    assert_eq!(
        (first["service"].as_str(), first["origin"].as_str()),
        (Some("agentrun"), Some("traffic"))
    );
    assert_eq!(first["tags"]["team"], "red");
    assert!(all["resources"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["origin"] == "file"));
    let one = state.to_json(1);
    assert_eq!(one["resources"].as_array().unwrap().len(), 1);
    assert_eq!(one["truncated"], true);
}
