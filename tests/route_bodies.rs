//! Every route knows whether its operation carries a request body, and the
//! route files agree with the official SDKs (issue 8, framing): the SDK
//! facts are copied into `tests/data/*/sdk_bodies.tsv` (made from
//! huaweicloudsdkmodelarts 3.1.219 request models and
//! alibabacloud-agentrun20250910 5.7.5 client methods). A route the SDK does
//! not have follows its method: POST, PUT and PATCH carry a body.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;

fn sdk_bodies(dir: &str, strip: &str) -> BTreeMap<String, bool> {
    common::fixture(dir, "sdk_bodies.tsv")
        .into_iter()
        .map(|row| {
            let op = row[0].strip_prefix(strip).unwrap_or(&row[0]).to_string();
            (op, row[1] == "true")
        })
        .collect()
}

fn by_method(method: &http::Method) -> bool {
    matches!(
        *method,
        http::Method::POST | http::Method::PUT | http::Method::PATCH
    )
}

#[test]
fn every_route_carries_a_body_exactly_when_its_sdk_operation_does() {
    let table = common::route_table();
    let sdk = [
        ("modelarts", sdk_bodies("modelarts", "")),
        ("agentrun", sdk_bodies("agentrun", "agentrun:")),
    ];
    let mut checked = 0;
    for (service, bodies) in &sdk {
        let s = table.service(service).unwrap();
        let mapped = s
            .routes
            .iter()
            .map(|r| (&r.method, r.operation.as_deref(), r.takes_body));
        let unmapped = s
            .unmapped
            .iter()
            .map(|u| (&u.method, Some(u.operation.as_str()), u.takes_body));
        for (method, operation, takes_body) in mapped.chain(unmapped) {
            let expected = match operation.and_then(|op| bodies.get(op)) {
                Some(sdk) => *sdk,
                None => by_method(method),
            };
            assert_eq!(takes_body, expected, "{service} {method} {operation:?}");
            checked += 1;
        }
    }
    assert!(checked > 400, "every route of both files: {checked}");
}

#[test]
fn the_sdk_exceptions_are_there() {
    let table = common::route_table();
    let modelarts = table.service("modelarts").unwrap();
    let op = |name: &str| {
        let route = modelarts
            .routes
            .iter()
            .find(|r| r.operation.as_deref() == Some(name));
        let unmapped = modelarts.unmapped.iter().find(|u| u.operation == name);
        route
            .map(|r| r.takes_body)
            .or(unmapped.map(|u| u.takes_body))
            .unwrap()
    };
    assert!(!op("start_notebook"), "a POST the SDK sends without a body");
    assert!(op("delete_image"), "a DELETE the SDK sends with a body");
    let agentrun = table.service("agentrun").unwrap();
    let pause = agentrun
        .routes
        .iter()
        .find(|r| r.operation.as_deref() == Some("PauseSandbox"))
        .unwrap();
    assert!(!pause.takes_body);
}
