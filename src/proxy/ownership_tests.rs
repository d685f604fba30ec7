//! Tests of the resource state in the pipeline on the sample route files:
//! whose resource a request addresses, the create's reserved slot, what a
//! 2xx answer records, the bounded create answer, the region.

use super::*;
use crate::config::Config;
use crate::snapshot::Snapshot;
use http::Method;

fn sample() -> Snapshot {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("iamgate.toml");
    Snapshot::load(&Config::load(&path).unwrap()).unwrap()
}

fn acme() -> Owner {
    Owner {
        account: "acme0001".into(),
        region: "cn-north-4".into(),
    }
}

fn key(kind: &str, id: &str) -> ResourceKey {
    ResourceKey {
        service: "modelarts".into(),
        kind: kind.into(),
        id: id.into(),
    }
}

/// A state in which acme owns notebook `nb-1` (tagged) and pool `pool-a`.
fn state() -> ResourceState {
    let state = ResourceState::new(8);
    for (kind, id) in [("notebook", "nb-1"), ("pool", "pool-a")] {
        let attrs = ResourceAttrs {
            tags: [("team".to_string(), "blue".to_string())].into(),
            ..ResourceAttrs::default()
        };
        state.record_created(state.reserve().unwrap(), &key(kind, id), acme(), attrs);
    }
    state
}

fn answer(status: u16, body: &'static [u8]) -> Response<Body> {
    Response::builder()
        .status(status)
        .body(full(Bytes::from_static(body)))
        .unwrap()
}

async fn body_of(resp: Response<Body>) -> Bytes {
    resp.into_body().collect().await.unwrap().to_bytes()
}

#[test]
fn an_id_of_another_account_is_not_found_and_the_callers_own_lends_its_attributes() {
    let (snap, state) = (sample(), state());
    let nb = snap
        .routes
        .lookup(&Method::GET, "/v1/p-acme-cn4/notebooks/nb-1")
        .unwrap();
    let own = resolve(&state, &nb, "acme0001", "cn-north-4").unwrap();
    assert_eq!(own.owner, acme());
    assert_eq!(own.key, Some(key("notebook", "nb-1")));
    let attrs = own.attrs.unwrap();
    assert_eq!(attrs.tags.get("team").map(String::as_str), Some("blue"));
    let foreign = resolve(&state, &nb, "solo0002", "cn-north-4");
    assert!(matches!(foreign, Err(GatewayError::ResourceNotFound(ref m)) if m == "notebook nb-1"));
    let case = snap
        .routes
        .lookup(&Method::GET, "/v1/p-acme-cn4/notebooks/NB-1")
        .unwrap();
    assert!(matches!(
        resolve(&state, &case, "acme0001", "cn-north-4"),
        Err(GatewayError::BadRequest(_))
    ));
    let unknown = snap
        .routes
        .lookup(&Method::GET, "/v1/p-acme-cn4/notebooks/nb-2")
        .unwrap();
    let unknown = resolve(&state, &unknown, "acme0001", "cn-north-4").unwrap();
    assert!(unknown.attrs.is_none());
}

#[test]
fn a_name_of_another_account_is_simply_unknown_to_the_caller() {
    let (snap, state) = (sample(), state());
    let pool = snap
        .routes
        .lookup(&Method::GET, "/v2/p-acme-cn4/pools/pool-a")
        .unwrap();
    assert!(addressed_by_name(&pool));
    let other = resolve(&state, &pool, "solo0002", "cn-north-4").unwrap();
    assert_eq!(other.key, Some(key("pool", "pool-a")));
    assert!(other.attrs.is_none());
    let own = resolve(&state, &pool, "acme0001", "cn-north-4").unwrap();
    assert!(own.attrs.is_some());
    let nb = snap
        .routes
        .lookup(&Method::GET, "/v1/p-acme-cn4/notebooks/nb-1")
        .unwrap();
    assert!(!addressed_by_name(&nb));
    let list = snap
        .routes
        .lookup(&Method::GET, "/v1/p-acme-cn4/notebooks")
        .unwrap();
    assert!(!addressed_by_name(&list));
}

#[test]
fn only_a_create_takes_a_slot_and_a_full_state_refuses_it() {
    let snap = sample();
    let create = snap
        .routes
        .lookup(&Method::POST, "/v1/p-acme-cn4/notebooks")
        .unwrap();
    let get = snap
        .routes
        .lookup(&Method::GET, "/v1/p-acme-cn4/notebooks/nb-1")
        .unwrap();
    let state = ResourceState::new(1);
    assert!(reserve(&state, &get).unwrap().is_none());
    let slot = reserve(&state, &create).unwrap();
    assert!(slot.is_some());
    assert!(matches!(
        reserve(&state, &create),
        Err(GatewayError::Busy(_))
    ));
}

#[tokio::test]
async fn a_created_resource_is_recorded_with_the_bodys_tags_and_enterprise_project() {
    let snap = sample();
    let create = snap
        .routes
        .lookup(&Method::POST, "/v1/p-acme-cn4/notebooks")
        .unwrap();
    let state = ResourceState::new(8);
    let target = resolve(&state, &create, "acme0001", "cn-north-4").unwrap();
    let fields = BodyFields {
        tags: vec![("team".into(), "red".into())],
        enterprise_project_id: Some("ep-1".into()),
    };
    let made: &[u8] = br#"{"id":"nb-new","name":"n"}"#;
    let slot = reserve(&state, &create).unwrap();
    let resp = record(&state, &create, &target, slot, &fields, answer(201, made))
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(
        body_of(resp).await,
        made,
        "the answer is handed on unchanged"
    );
    let Lookup::Own(attrs) = state.lookup(&key("notebook", "nb-new"), "acme0001", "cn-north-4")
    else {
        panic!("the created notebook is recorded as acme's");
    };
    assert_eq!(attrs.tags.get("team").map(String::as_str), Some("red"));
    assert_eq!(attrs.enterprise_project_id.as_deref(), Some("ep-1"));
}

#[tokio::test]
async fn a_refused_answer_changes_nothing() {
    let snap = sample();
    let create = snap
        .routes
        .lookup(&Method::POST, "/v1/p-acme-cn4/notebooks")
        .unwrap();
    let state = ResourceState::new(8);
    let target = resolve(&state, &create, "acme0001", "cn-north-4").unwrap();
    let refused: &[u8] = br#"{"id":"nb-new","error_code":"x"}"#;
    let slot = reserve(&state, &create).unwrap();
    let fields = BodyFields::default();
    let resp = record(
        &state,
        &create,
        &target,
        slot,
        &fields,
        answer(409, refused),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 409);
    assert_eq!(body_of(resp).await, refused);
    assert!(state.is_empty());
}

#[tokio::test]
async fn an_answer_to_a_delete_forgets_the_resource() {
    let (snap, state) = (sample(), state());
    let delete = snap
        .routes
        .lookup(&Method::DELETE, "/v1/p-acme-cn4/notebooks/nb-1")
        .unwrap();
    let target = resolve(&state, &delete, "acme0001", "cn-north-4").unwrap();
    let slot = reserve(&state, &delete).unwrap();
    let fields = BodyFields::default();
    let resp = record(&state, &delete, &target, slot, &fields, answer(204, b""))
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert!(matches!(
        state.lookup(&key("notebook", "nb-1"), "acme0001", "cn-north-4"),
        Lookup::Unknown
    ));
}

#[tokio::test]
async fn a_create_answer_is_read_up_to_its_bound() {
    // 1 MiB, the documented bound, and not a byte more.
    let exactly = Bytes::from(vec![b' '; 1024 * 1024]);
    let body = full(exactly.clone());
    assert_eq!(read_answer(body).await.unwrap(), exactly);
    let over = full(Bytes::from(vec![b' '; 1024 * 1024 + 1]));
    assert!(matches!(
        read_answer(over).await,
        Err(GatewayError::UpstreamUnavailable(ref m)) if m.contains("too large")
    ));
    assert_eq!(
        read_answer(full(Bytes::from_static(b"{}"))).await.unwrap(),
        "{}"
    );
}

#[test]
fn the_region_is_the_projects_on_huawei_and_the_configured_one_on_alibaba() {
    assert_eq!(
        region_of(Cloud::Huawei, Some("cn-north-4"), Some("x")),
        "cn-north-4"
    );
    assert_eq!(region_of(Cloud::Huawei, None, Some("x")), "*");
    assert_eq!(
        region_of(Cloud::Aliyun, Some("cn-north-4"), Some("cn-hangzhou")),
        "cn-hangzhou"
    );
    assert_eq!(region_of(Cloud::Aliyun, None, None), "*");
}
