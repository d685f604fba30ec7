//! The request context: the condition keys the gateway supplies
//! (huawei-iam.md and aliyun-ram.md, "keys supplied"), gathered from the
//! principal, the route, the connection, the body and the resources file.

use std::net::IpAddr;

use http::HeaderMap;
use ipnet::IpNet;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::cloud::Cloud;
use crate::directory::{Project, ResourceAttrs};
use crate::identity::Authenticated;
use crate::policy::Context;
use crate::routes::RouteMatch;

/// Facts about the connection and the request that feed condition keys.
pub struct RequestFacts<'a> {
    pub peer: IpAddr,
    pub tls: bool,
    pub now: OffsetDateTime,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    pub raw_query: Option<&'a str>,
}

/// `g:SourceIp`: the TCP peer, or, when the peer is a trusted proxy, the
/// `X-Forwarded-For` entry reached by walking right to left over trusted
/// hops: the first untrusted entry, else the last trusted hop reached. The
/// walk stops at the first entry that is not a bare IP address (`ip:port`,
/// `unknown`, garbage) and uses the last trusted hop: skipping it would let
/// a client hide behind junk. IPv4-mapped IPv6 (`::ffff:1.2.3.4`, how a
/// `[::]` listener sees IPv4 peers) is read as IPv4 so IPv4 CIDRs match.
pub fn source_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    let mut reached = peer.to_canonical();
    if !is_trusted(&reached) {
        return reached;
    }
    let values: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| v.to_str().unwrap_or(""))
        .collect();
    // Repeated headers are one list, in order (RFC 9110 §5.3).
    let entries = values.iter().flat_map(|v| v.split(',')).collect::<Vec<_>>();
    for entry in entries.into_iter().rev() {
        let Ok(ip) = entry.trim().parse::<IpAddr>() else {
            return reached;
        };
        reached = ip.to_canonical();
        if !is_trusted(&reached) {
            return reached;
        }
    }
    reached
}

/// Keys common to every action of the request.
pub fn base_context(
    cloud: Cloud,
    who: &Authenticated,
    route: &RouteMatch<'_>,
    project: Option<&Project>,
    facts: &RequestFacts<'_>,
) -> Context {
    let mut c = Context::new();
    let ua = facts
        .headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let now = facts.now.format(&Rfc3339).unwrap_or_default();
    let body = body_fields(facts.body);
    let tags = body.tags;
    let g = match cloud {
        Cloud::Huawei => "g",
        Cloud::Aliyun => "acs",
    };
    c.set(&format!("{g}:SourceIp"), facts.peer.to_string());
    c.set(&format!("{g}:CurrentTime"), now);
    c.set(&format!("{g}:SecureTransport"), facts.tls.to_string());
    c.set(&format!("{g}:MFAPresent"), who.mfa.to_string());
    c.set(&format!("{g}:UserAgent"), ua);
    for (k, v) in &tags {
        c.set(&format!("{g}:RequestTag/{k}"), v.clone());
    }
    c.set_multi(
        &format!("{g}:TagKeys"),
        tags.into_iter().map(|(k, _)| k).collect(),
    );
    for (param, key) in &route.service.param_keys {
        if let Some(v) = route.param(param) {
            c.set(key, v);
        }
    }
    match cloud {
        Cloud::Huawei => huawei_keys(&mut c, who, project, body.enterprise_project_id, facts),
        Cloud::Aliyun => {
            if let Some(ak) = &who.access_key {
                c.set("acs:AccessId", ak.clone());
            }
        }
    }
    c
}

fn huawei_keys(
    c: &mut Context,
    who: &Authenticated,
    project: Option<&Project>,
    body_enterprise_project: Option<String>,
    facts: &RequestFacts<'_>,
) {
    let p = &who.principal;
    c.set("g:PrincipalUrn", p.urn.clone());
    c.set("g:PrincipalAccount", p.account_id.to_string());
    c.set("g:DomainName", p.account_name.to_string());
    c.set("g:PrincipalIsRootUser", p.is_root().to_string());
    c.set("g:PrincipalType", if p.is_root() { "Root" } else { "User" });
    if let Some(u) = &p.user {
        c.set("g:UserId", u.id.clone());
        c.set("g:UserName", u.name.clone());
        for (k, v) in &u.tags {
            c.set(&format!("g:PrincipalTag/{k}"), v.clone());
        }
    }
    if let Some(path) = &p.org_path {
        c.set("g:PrincipalOrgPath", path.clone());
    }
    if let Some(proj) = project {
        c.set("g:ProjectName", proj.name.clone());
        c.set("g:RequestedRegion", proj.region.clone());
    }
    let from_query = || query_value(facts.raw_query?, "enterprise_project_id");
    if let Some(ep) = body_enterprise_project.or_else(from_query) {
        c.set("g:EnterpriseProjectId", ep);
    }
}

/// Add the keys of the resource an action is on (tags, enterprise project,
/// further keys such as `modelarts:poolType`).
pub fn add_resource_keys(c: &mut Context, cloud: Cloud, attrs: Option<&ResourceAttrs>) {
    let Some(attrs) = attrs else { return };
    let g = if cloud == Cloud::Huawei { "g" } else { "acs" };
    for (k, v) in &attrs.tags {
        c.set(&format!("{g}:ResourceTag/{k}"), v.clone());
    }
    if let Some(ep) = &attrs.enterprise_project_id {
        c.set("g:EnterpriseProjectId", ep.clone());
    }
    for (k, v) in &attrs.keys {
        c.set(k, v.clone());
    }
}

/// The first value of `key` in a raw query string.
fn query_value(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| v.to_string())
    })
}

/// What the JSON request body says about condition keys, parsed once.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BodyFields {
    /// `"tags": [{"key","value"}]` or `"tags": {k: v}`.
    pub tags: Vec<(String, String)>,
    /// `"enterprise_project_id"` (on create).
    pub enterprise_project_id: Option<String>,
}

/// Parse the body once; anything that is not a JSON object yields nothing.
pub fn body_fields(body: &[u8]) -> BodyFields {
    if body.is_empty() || !body.iter().take(64).any(|b| *b == b'{') {
        return BodyFields::default();
    }
    let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(body) else {
        return BodyFields::default();
    };
    let text = |v: &Value| {
        v.as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string())
    };
    let tags = match o.get("tags") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|t| {
                Some((
                    text(t.get("key")?),
                    t.get("value").map(text).unwrap_or_default(),
                ))
            })
            .collect(),
        Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), text(v))).collect(),
        _ => Vec::new(),
    };
    let enterprise_project_id = o
        .get("enterprise_project_id")
        .and_then(Value::as_str)
        .map(str::to_string);
    BodyFields {
        tags,
        enterprise_project_id,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn tags_in_both_shapes() {
        let a =
            body_fields(br#"{"name":"x","tags":[{"key":"team","value":"blue"},{"key":"cost"}],"enterprise_project_id":"ep-1"}"#);
        assert_eq!(
            a.tags,
            vec![("team".into(), "blue".into()), ("cost".into(), "".into())]
        );
        assert_eq!(a.enterprise_project_id.as_deref(), Some("ep-1"));
        let b = body_fields(br#"{"tags":{"team":"blue","n":8}}"#).tags;
        assert_eq!(
            b,
            vec![("n".into(), "8".into()), ("team".into(), "blue".into())]
        );
        assert_eq!(body_fields(b"not json"), BodyFields::default());
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
}
