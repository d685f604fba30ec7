//! Nothing panics on input: arbitrary paths through the route table and
//! arbitrary documents through the policy parser come back as values.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use iamgate::cloud::Cloud;
use iamgate::policy::parse_policy;
use iamgate::routes::RouteTable;
use proptest::prelude::*;

fn table() -> &'static RouteTable {
    static TABLE: std::sync::OnceLock<RouteTable> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("routes");
        RouteTable::load_dir(&dir).unwrap().0
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn route_lookup_never_panics(
        segs in prop::collection::vec("([a-z0-9{}._~-]|%[0-9a-fA-F]{2}|%|\\\\|\\.\\.?|v1|v2|2025-09-10|notebooks|p-acme-cn4)*", 0..8),
        method in prop::sample::select(vec!["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]),
    ) {
        let t = table();
        let path = format!("/{}", segs.join("/"));
        let m = http::Method::from_bytes(method.as_bytes()).unwrap();
        let _ = t.lookup(&m, &path);
        let _ = t.cloud_for_path(&path);
    }

    #[test]
    fn policy_parser_never_panics(doc in "[\\{\\}\\[\\]\":,a-zA-Z0-9*?/ .-]{0,200}") {
        for cloud in [Cloud::Huawei, Cloud::Aliyun] {
            let _ = parse_policy(Path::new("p.json"), "p", cloud, &doc);
        }
    }

    #[test]
    fn structured_policies_never_panic(
        op in prop::sample::select(vec!["StringEquals", "NumberLessThan", "DateGreaterThan", "Bool", "Null", "IpAddress", "ForAllValues:StringLike", "StringMatchIfExists", "NumericEquals"]),
        value in "[a-z0-9:./*?-]{0,12}",
        action in "[a-z:*?]{0,12}",
        resource in "[a-z:*/?-]{0,16}",
    ) {
        for (cloud, v) in [(Cloud::Huawei, "5.0"), (Cloud::Aliyun, "1")] {
            let doc = format!(
                r#"{{"Version":"{v}","Statement":[{{"Effect":"Allow","Action":"{action}","Resource":"{resource}","Condition":{{"{op}":{{"g:k":"{value}"}}}}}}]}}"#
            );
            let _ = parse_policy(Path::new("p.json"), "p", cloud, &doc);
        }
    }
}
