//! Tests of the request context: the whole body read strictly (padding,
//! repeated members and tag keys), the enterprise project from the client
//! on creates only, and the `X-Forwarded-For` walk.

use super::*;
use crate::config::Config;
use crate::snapshot::Snapshot;

#[test]
fn tags_in_both_shapes() {
    let a = body_fields(
        br#"{"name":"x","tags":[{"key":"team","value":"blue"},{"key":"cost"}],"enterprise_project_id":"ep-1"}"#,
    )
    .unwrap();
    assert_eq!(
        a.tags,
        vec![("team".into(), "blue".into()), ("cost".into(), "".into())]
    );
    assert_eq!(a.enterprise_project_id.as_deref(), Some("ep-1"));
    let b = body_fields(br#"{"tags":{"team":"blue","n":8}}"#)
        .unwrap()
        .tags;
    assert_eq!(
        b,
        vec![("n".into(), "8".into()), ("team".into(), "blue".into())]
    );
}

#[test]
fn padding_does_not_hide_the_json() {
    let mut body = vec![b' '; 4096];
    body.extend_from_slice(b"\n\t\r");
    body.extend_from_slice(br#"{"tags":[{"key":"team","value":"red"}]}"#);
    let fields = body_fields(&body).unwrap();
    assert_eq!(fields.tags, vec![("team".into(), "red".into())]);
}

#[test]
fn empty_bodies_have_no_fields_and_other_bodies_must_be_an_object() {
    assert_eq!(body_fields(b"").unwrap(), BodyFields::default());
    assert_eq!(body_fields(b"  \n").unwrap(), BodyFields::default());
    for bad in [
        &b"not json"[..],
        b"[1,2]",
        b"\"text\"",
        b"{\"tags\":[]} trailing",
        b"{\"tags\":\"team\"}",
        b"{\"enterprise_project_id\":7}",
        b"{\"tags\":[{\"key\":\"a\"}",
    ] {
        assert!(
            body_fields(bad).is_err(),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    assert_eq!(
        body_fields(br#"{"tags":null,"enterprise_project_id":null}"#).unwrap(),
        BodyFields::default()
    );
}

#[test]
fn a_body_of_the_wrong_shape_is_told_what_was_expected() {
    // The message goes back to the client in the 400.
    for (bad, expected) in [
        (&b"[1,2]"[..], "expected a JSON object"),
        (
            b"{\"tags\":\"team\"}",
            "expected tags as an array of {key, value} or an object",
        ),
        (
            b"{\"tags\":[1]}",
            "expected a tag object {\"key\": \u{2026}, \"value\": \u{2026}}",
        ),
    ] {
        let err = body_fields(bad).unwrap_err();
        assert!(err.0.contains(expected), "{err}");
    }
}

#[test]
fn a_repeated_tag_key_or_member_is_refused() {
    for bad in [
        &br#"{"tags":[{"key":"team","value":"blue"},{"key":"team","value":"red"}]}"#[..],
        br#"{"tags":{"team":"blue","team":"red"}}"#,
        br#"{"tags":[{"key":"team","value":"blue","value":"red"}]}"#,
        br#"{"tags":[{"key":"team","key":"cost","value":"x"}]}"#,
        br#"{"tags":[],"tags":[{"key":"team","value":"red"}]}"#,
        br#"{"enterprise_project_id":"ep-dev","enterprise_project_id":"ep-prod"}"#,
    ] {
        let err = body_fields(bad).unwrap_err();
        assert!(err.0.contains("repeated"), "{err}");
    }
    // Other members may repeat: they feed no key.
    assert!(body_fields(br#"{"name":"a","name":"b"}"#).is_ok());
}

#[test]
fn creates_are_recognised_by_the_action_verb() {
    for yes in ["modelarts:notebook:create", "agentrun:CreateBrowser"] {
        assert!(is_create(yes), "{yes}");
    }
    for no in [
        "modelarts:notebook:delete",
        "modelarts:devserver:createTags",
        "agentrun:DeleteBrowser",
        "agentrun:CreateTags",
        "modelarts:image:register",
    ] {
        assert!(!is_create(no), "{no}");
    }
}

#[test]
fn the_query_value_is_decoded_and_may_not_repeat() {
    let ep = |q: &str| query_value(q, "enterprise_project_id");
    assert_eq!(
        ep("a=1&enterprise_project_id=ep%2Ddev").unwrap().as_deref(),
        Some("ep-dev")
    );
    assert_eq!(
        ep("enterprise%5Fproject%5Fid=x").unwrap().as_deref(),
        Some("x")
    );
    assert_eq!(ep("a=1").unwrap(), None);
    assert!(ep("enterprise_project_id=a&enterprise_project_id=a").is_err());
    assert!(ep("enterprise_project_id=%FF").is_err());
    assert!(client_enterprise_project(Some("a".into()), Some("enterprise_project_id=b")).is_err());
    assert_eq!(
        client_enterprise_project(Some("a".into()), Some("enterprise_project_id=a")).unwrap(),
        Some("a".into())
    );
}

/// The repository's sample snapshot and alice (account acme0001).
fn sample() -> Snapshot {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("iamgate.toml");
    Snapshot::load(&Config::load(&path).unwrap()).unwrap()
}

fn context_for(
    snap: &Snapshot,
    method: http::Method,
    path: &str,
    query: &str,
    body: &[u8],
) -> Result<Context, RequestKeyError> {
    let route = snap.routes.lookup(&method, path).unwrap();
    let principal = snap.directory.find_user("alice", None)[0].clone();
    let who = Authenticated {
        principal,
        access_key: None,
        mfa: false,
    };
    let headers = HeaderMap::new();
    let facts = RequestFacts {
        peer: "127.0.0.1".parse().unwrap(),
        tls: false,
        now: OffsetDateTime::UNIX_EPOCH,
        headers: &headers,
        body,
        raw_query: Some(query),
    };
    base_context(Cloud::Huawei, &who, &route, None, &facts)
}

#[test]
fn the_client_names_the_enterprise_project_only_on_create() {
    let snap = sample();
    let ep = |c: &Context| c.get("g:enterpriseprojectid").map(|v| v.join(","));
    let nb = "/v1/p-acme-cn4/notebooks";
    let created = context_for(
        &snap,
        http::Method::POST,
        nb,
        "",
        br#"{"enterprise_project_id":"ep-1"}"#,
    )
    .unwrap();
    assert_eq!(ep(&created).as_deref(), Some("ep-1"));
    let by_query = context_for(
        &snap,
        http::Method::POST,
        nb,
        "enterprise_project_id=ep%2D2",
        b"",
    )
    .unwrap();
    assert_eq!(ep(&by_query).as_deref(), Some("ep-2"));
    let deleted = context_for(
        &snap,
        http::Method::DELETE,
        &format!("{nb}/nb-1"),
        "enterprise_project_id=ep-dev",
        b"",
    )
    .unwrap();
    assert_eq!(ep(&deleted), None, "never from the client on a delete");
    let twice = context_for(
        &snap,
        http::Method::POST,
        nb,
        "enterprise_project_id=a&enterprise_project_id=b",
        b"",
    );
    assert!(twice.is_err());
    let junk = context_for(&snap, http::Method::POST, nb, "", b"  not json");
    assert!(junk.is_err());
}

fn xff(values: &[&str]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for v in values {
        h.append("x-forwarded-for", v.parse().unwrap());
    }
    h
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn ten() -> Vec<IpNet> {
    vec!["10.0.0.0/8".parse().unwrap()]
}

#[test]
fn forwarded_for_only_from_trusted_proxies() {
    let h = xff(&["203.0.113.9, 10.0.0.5"]);
    assert_eq!(source_ip(ip("10.0.0.1"), &h, &ten()), ip("203.0.113.9"));
    let stranger = ip("198.51.100.1");
    assert_eq!(source_ip(stranger, &h, &ten()), stranger);
}

#[test]
fn the_walk_stops_at_an_unparsable_entry() {
    let peer = ip("10.0.0.1");
    for bad in ["203.0.113.9:4711", "unknown", "garbage", ""] {
        let h = xff(&[&format!("198.51.100.7, {bad}, 10.0.0.5")]);
        assert_eq!(source_ip(peer, &h, &ten()), ip("10.0.0.5"), "{bad:?}");
    }
    // Right behind the peer: the peer is the last trusted hop.
    let h = xff(&["198.51.100.7, unknown"]);
    assert_eq!(source_ip(peer, &h, &ten()), peer);
}

#[test]
fn repeated_headers_are_one_list_and_all_trusted_ends_at_the_leftmost() {
    let h = xff(&["203.0.113.9", "10.0.0.7, 10.0.0.5"]);
    assert_eq!(source_ip(ip("10.0.0.1"), &h, &ten()), ip("203.0.113.9"));
    let h = xff(&["10.0.0.9, 10.0.0.5"]);
    assert_eq!(source_ip(ip("10.0.0.1"), &h, &ten()), ip("10.0.0.9"));
    assert_eq!(source_ip(ip("10.0.0.1"), &xff(&[]), &ten()), ip("10.0.0.1"));
}

#[test]
fn ipv4_mapped_addresses_are_read_as_ipv4() {
    let mapped_peer = ip("::ffff:10.0.0.1");
    let h = xff(&["::ffff:203.0.113.9, ::ffff:10.0.0.5"]);
    assert_eq!(source_ip(mapped_peer, &h, &ten()), ip("203.0.113.9"));
    assert_eq!(
        source_ip(ip("::ffff:198.51.100.1"), &h, &ten()),
        ip("198.51.100.1"),
        "an untrusted mapped peer is reported as IPv4"
    );
    let v6: Vec<IpNet> = vec!["2001:db8::/32".parse().unwrap()];
    let h = xff(&["2001:db8::9, 203.0.113.9"]);
    assert_eq!(source_ip(ip("2001:db8::1"), &h, &v6), ip("203.0.113.9"));
}

#[test]
fn an_agency_session_is_an_assumed_agency_without_user_keys() {
    let snap = sample();
    let route = snap
        .routes
        .lookup(&http::Method::GET, "/v1/p-acme-cn4/notebooks")
        .unwrap();
    let agency = snap
        .directory
        .agency("acme0001", "solo_notebook_reader")
        .unwrap();
    let who = Authenticated {
        principal: std::sync::Arc::new(agency.session_principal("ci")),
        access_key: None,
        mfa: false,
    };
    let headers = HeaderMap::new();
    let facts = RequestFacts {
        peer: "127.0.0.1".parse().unwrap(),
        tls: false,
        now: OffsetDateTime::UNIX_EPOCH,
        headers: &headers,
        body: b"",
        raw_query: None,
    };
    let c = base_context(Cloud::Huawei, &who, &route, None, &facts).unwrap();
    let get = |k: &str| c.get(k).map(|v| v.join(","));
    assert_eq!(get("g:principaltype").as_deref(), Some("AssumedAgency"));
    assert_eq!(
        get("g:principalurn").as_deref(),
        Some("sts::acme0001:assumed-agency:solo_notebook_reader/ci")
    );
    assert_eq!(get("g:principalaccount").as_deref(), Some("acme0001"));
    assert_eq!(get("g:username"), None);
    assert_eq!(get("g:userid"), None);
    assert_eq!(
        get("g:principalorgpath").as_deref(),
        Some("o-demo/r-demo/ou-prod/acme0001")
    );
}

proptest::proptest! {
    /// `ip_text` writes every IPv4 address exactly as `Display` does (and
    /// IPv6 through `Display` itself).
    #[test]
    fn ip_text_is_display(bits in proptest::prelude::any::<u32>(), v6 in proptest::prelude::any::<u128>()) {
        let v4 = IpAddr::from(std::net::Ipv4Addr::from(bits));
        proptest::prop_assert_eq!(ip_text(v4), v4.to_string());
        let v6 = IpAddr::from(std::net::Ipv6Addr::from(v6));
        proptest::prop_assert_eq!(ip_text(v6), v6.to_string());
    }
}

#[test]
fn ip_text_writes_the_edges_of_each_octet() {
    for (ip, text) in [
        ([0, 0, 0, 0], "0.0.0.0"),
        ([9, 10, 99, 100], "9.10.99.100"),
        ([255, 254, 200, 1], "255.254.200.1"),
    ] {
        assert_eq!(ip_text(IpAddr::from(ip)), text);
    }
}

/// The context `base_context` builds for `who` on `GET|POST path`, with
/// TLS, MFA and a user agent as given.
fn full_context(
    snap: &Snapshot,
    cloud: Cloud,
    who: Authenticated,
    (method, path): (http::Method, &str),
    project: Option<&Project>,
    (tls, body): (bool, &[u8]),
) -> Context {
    let route = snap.routes.lookup(&method, path).unwrap();
    let mut headers = HeaderMap::new();
    headers.insert(http::header::USER_AGENT, "sdk/1.2".parse().unwrap());
    let facts = RequestFacts {
        peer: "203.0.113.9".parse().unwrap(),
        tls,
        now: OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(90),
        headers: &headers,
        body,
        raw_query: None,
    };
    base_context(cloud, &who, &route, project, &facts).unwrap()
}

fn value(c: &Context, key: &str) -> Option<String> {
    c.get(key).map(|v| v.join(","))
}

#[test]
fn a_huawei_user_sees_every_supplied_key() {
    let snap = sample();
    let tagger = snap.directory.find_user("tagger", Some("acme0001"))[0].clone();
    let user = tagger.user.clone().unwrap();
    let project = snap.directory.projects.get("p-acme-cn4").unwrap();
    let who = Authenticated {
        principal: tagger,
        access_key: None,
        mfa: true,
    };
    let body = br#"{"tags":{"Team":"blue","cost":"7"}}"#;
    let nb = (http::Method::POST, "/v1/p-acme-cn4/notebooks");
    let c = full_context(&snap, Cloud::Huawei, who, nb, Some(project), (true, body));
    let expected = [
        ("g:sourceip", "203.0.113.9"),
        ("g:currenttime", "1970-01-01T00:01:30Z"),
        ("g:securetransport", "true"),
        ("g:mfapresent", "true"),
        ("g:useragent", "sdk/1.2"),
        ("g:tagkeys", "Team,cost"),
        ("g:requesttag/Team", "blue"),
        ("g:requesttag/cost", "7"),
        ("g:principalurn", "iam::acme0001:user:tagger"),
        ("g:principalaccount", "acme0001"),
        ("g:domainname", "acme"),
        ("g:principalisrootuser", "false"),
        ("g:principaltype", "User"),
        ("g:userid", user.id.as_str()),
        ("g:username", "tagger"),
        ("g:principaltag/team", "blue"),
        ("g:principalorgpath", "o-demo/r-demo/ou-prod/acme0001"),
        ("g:projectname", "cn-north-4"),
        ("g:requestedregion", "cn-north-4"),
    ];
    for (key, want) in expected {
        assert_eq!(value(&c, key).as_deref(), Some(want), "{key}");
    }
    assert_eq!(value(&c, "acs:sourceip"), None);
    assert_eq!(value(&c, "acs:accessid"), None);
}

#[test]
fn a_huawei_root_without_tls_mfa_or_tags() {
    let snap = sample();
    let root = snap.directory.principal("solo0002", None).unwrap().clone();
    let who = Authenticated {
        principal: root,
        access_key: Some("HWROOTKEY".into()),
        mfa: false,
    };
    let nb = (http::Method::GET, "/v1/p-solo-cn4/notebooks");
    let c = full_context(&snap, Cloud::Huawei, who, nb, None, (false, b""));
    for (key, want) in [
        ("g:securetransport", Some("false")),
        ("g:mfapresent", Some("false")),
        ("g:principalisrootuser", Some("true")),
        ("g:principaltype", Some("Root")),
        ("g:principalurn", Some("iam::solo0002:root")),
        ("g:tagkeys", Some("")),
        ("g:username", None),
        ("g:userid", None),
        ("g:principalorgpath", None),
        ("g:projectname", None),
        ("g:requestedregion", None),
        ("g:enterpriseprojectid", None),
        ("acs:accessid", None),
    ] {
        assert_eq!(value(&c, key).as_deref(), want, "{key}");
    }
}

#[test]
fn an_alibaba_caller_sees_the_acs_keys_and_its_access_key() {
    let snap = sample();
    let runner = snap.directory.find_user("runner", Some("1234567890123456"))[0].clone();
    let who = Authenticated {
        principal: runner,
        access_key: Some("LTAIRUNNER".into()),
        mfa: false,
    };
    let templates = (http::Method::GET, "/2025-09-10/templates");
    let c = full_context(&snap, Cloud::Aliyun, who, templates, None, (true, b""));
    for (key, want) in [
        ("acs:sourceip", Some("203.0.113.9")),
        ("acs:currenttime", Some("1970-01-01T00:01:30Z")),
        ("acs:securetransport", Some("true")),
        ("acs:mfapresent", Some("false")),
        ("acs:useragent", Some("sdk/1.2")),
        ("acs:accessid", Some("LTAIRUNNER")),
        ("g:sourceip", None),
        ("g:principalurn", None),
    ] {
        assert_eq!(value(&c, key).as_deref(), want, "{key}");
    }
}

#[test]
fn resource_keys_carry_the_clouds_prefix() {
    let attrs = ResourceAttrs {
        tags: [("Team".to_string(), "blue".to_string())].into(),
        enterprise_project_id: Some("ep-1".into()),
        keys: [("modelarts:poolType".to_string(), "dedicated".to_string())].into(),
    };
    let mut huawei = Context::new();
    add_resource_keys(&mut huawei, Cloud::Huawei, Some(&attrs));
    assert_eq!(
        value(&huawei, "g:resourcetag/Team").as_deref(),
        Some("blue")
    );
    assert_eq!(value(&huawei, "acs:resourcetag/Team"), None);
    assert_eq!(
        value(&huawei, "g:enterpriseprojectid").as_deref(),
        Some("ep-1")
    );
    assert_eq!(
        value(&huawei, "modelarts:pooltype").as_deref(),
        Some("dedicated")
    );
    let mut aliyun = Context::new();
    add_resource_keys(&mut aliyun, Cloud::Aliyun, Some(&attrs));
    assert_eq!(
        value(&aliyun, "acs:resourcetag/Team").as_deref(),
        Some("blue")
    );
    assert_eq!(value(&aliyun, "g:resourcetag/Team"), None);
    let mut none = Context::new();
    add_resource_keys(&mut none, Cloud::Huawei, None);
    assert!(none.entries().is_empty());
}
