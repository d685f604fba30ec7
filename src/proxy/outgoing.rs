//! What the upstream receives: the client's end-to-end headers minus
//! everything that describes the client's connection or could tell the
//! upstream another story than the one the gateway evaluated.
//!
//! - hop-by-hop headers (and any the `Connection` header names) are dropped;
//! - framing is the gateway's own: `Content-Length` of the exact bytes that
//!   were authorised, never the client's `Content-Length`/`Transfer-Encoding`;
//! - `Host` is the host the gateway evaluated — the HTTP/1 `Host` or the
//!   HTTP/2 `:authority` — one rule for both protocols;
//! - `Forwarded` and `X-Forwarded-*` are the gateway's: a client's
//!   `X-Forwarded-For` chain is kept only when the peer is a trusted proxy;
//! - `X-Iamgate-Account` names the authenticated caller's account (a mock
//!   upstream namespaces its data by it) and `X-Request-Id` is the gateway's;
//!   client copies of any `X-Iamgate-*` header are dropped.

use std::net::IpAddr;

use http::header::{HeaderMap, HeaderName, HeaderValue, CONNECTION, CONTENT_LENGTH, HOST};
use http::Method;
use ipnet::IpNet;

/// Headers that describe one connection, never forwarded.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Headers the gateway writes itself; a client's copy never goes upstream.
const GATEWAY_HEADERS: &[&str] = &[
    "content-length",
    "host",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-forwarded-port",
    "x-forwarded-prefix",
    "x-real-ip",
    "x-request-id",
];

/// The header naming the caller's account upstream.
pub const ACCOUNT_HEADER: &str = "x-iamgate-account";

/// Facts about the evaluated request that the upstream is told.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub peer: IpAddr,
    pub tls: bool,
    /// The host the gateway evaluated.
    pub host: &'a str,
    /// The caller's account id.
    pub account: &'a str,
    pub request_id: &'a str,
    pub trusted_proxies: &'a [IpNet],
}

/// The header names a `Connection` header lists (its options).
pub fn connection_named(headers: &HeaderMap) -> Vec<HeaderName> {
    headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect()
}

/// Remove hop-by-hop headers, including any the `Connection` header names.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // One pass to see whether there is anything to remove (usually nothing
    // but an upstream's `connection: keep-alive`), instead of a lookup per name.
    if !headers.keys().any(|k| HOP_BY_HOP.contains(&k.as_str())) {
        return;
    }
    for name in connection_named(headers) {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(*name);
    }
}

/// Whether a received header stays behind: hop-by-hop, written by the
/// gateway, or one of its own `x-iamgate-*`.
fn stays_behind(name: &HeaderName) -> bool {
    let name = name.as_str();
    HOP_BY_HOP.contains(&name) || GATEWAY_HEADERS.contains(&name) || name.starts_with("x-iamgate-")
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const FORWARDED: HeaderName = HeaderName::from_static("forwarded");
const X_IAMGATE_ACCOUNT: HeaderName = HeaderName::from_static(ACCOUNT_HEADER);
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The headers of the forwarded request: one pass over the received
/// headers (every value of a repeated header kept, in order), then the
/// gateway's own.
pub fn upstream_headers(
    received: &HeaderMap,
    method: &Method,
    body_len: usize,
    origin: &Origin<'_>,
) -> HeaderMap {
    let named = connection_named(received);
    let mut headers = HeaderMap::with_capacity(received.keys_len() + 8);
    for (name, value) in received {
        if !stays_behind(name) && !named.contains(name) {
            headers.append(name.clone(), value.clone());
        }
    }
    let proto = if origin.tls { "https" } else { "http" };
    let mut set = |name: HeaderName, value: String| {
        if let Ok(v) = HeaderValue::try_from(value) {
            headers.insert(name, v);
        }
    };
    let peer = crate::proxy::context::ip_text(origin.peer);
    set(HOST, origin.host.to_string());
    set(X_FORWARDED_FOR, forwarded_for(received, origin, &peer));
    set(X_FORWARDED_HOST, origin.host.to_string());
    set(FORWARDED, forwarded(origin, &peer, proto));
    set(X_IAMGATE_ACCOUNT, origin.account.to_string());
    set(X_REQUEST_ID, origin.request_id.to_string());
    headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static(proto));
    if body_len > 0 || matches!(*method, Method::POST | Method::PUT | Method::PATCH) {
        headers.insert(CONTENT_LENGTH, HeaderValue::from(body_len));
    }
    headers
}

/// The client's chain when the peer is a trusted proxy, then the peer
/// (`peer`: its address as text).
fn forwarded_for(received: &HeaderMap, origin: &Origin<'_>, peer: &str) -> String {
    let trusted = origin
        .trusted_proxies
        .iter()
        .any(|n| n.contains(&origin.peer));
    if !trusted {
        return peer.to_string();
    }
    received
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .chain(std::iter::once(peer))
        .collect::<Vec<_>>()
        .join(", ")
}

/// RFC 7239: `for=…;host=…;proto=…`, quoting values that are not tokens
/// (written piece by piece: this runs on every forwarded request).
fn forwarded(origin: &Origin<'_>, peer: &str, proto: &str) -> String {
    let mut out = String::with_capacity(24 + peer.len() + origin.host.len());
    out.push_str("for=");
    match origin.peer {
        IpAddr::V4(_) => out.push_str(peer),
        IpAddr::V6(_) => {
            out.push_str("\"[");
            out.push_str(peer);
            out.push_str("]\"");
        }
    }
    out.push_str(";host=");
    push_quoted(&mut out, origin.host);
    out.push_str(";proto=");
    out.push_str(proto);
    out
}

fn push_quoted(out: &mut String, value: &str) {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if !value.is_empty() && value.chars().all(token) {
        out.push_str(value);
    } else {
        out.push('"');
        out.extend(value.chars().filter(|c| !matches!(c, '\\' | '"')));
        out.push('"');
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn received(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn origin<'a>(peer: &str, trusted: &'a [IpNet]) -> Origin<'a> {
        Origin {
            peer: peer.parse().unwrap(),
            tls: false,
            host: "gw.example:8080",
            account: "acme0001",
            request_id: "rid-1",
            trusted_proxies: trusted,
        }
    }

    #[test]
    fn the_gateway_writes_framing_host_forwarding_and_identity_headers() {
        let h = received(&[
            ("host", "other"),
            ("content-length", "999"),
            ("transfer-encoding", "chunked"),
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-host", "evil"),
            ("forwarded", "for=6.6.6.6"),
            ("x-iamgate-account", "victim"),
            ("x-iamgate-anything", "x"),
            ("x-request-id", "client"),
            ("keep-alive", "timeout=5"),
            ("x-auth-token", "t"),
        ]);
        let out = upstream_headers(&h, &Method::POST, 3, &origin("127.0.0.1", &[]));
        assert_eq!(out["host"], "gw.example:8080");
        assert_eq!(out["content-length"], "3");
        assert!(!out.contains_key("transfer-encoding"));
        assert!(!out.contains_key("keep-alive"));
        assert!(!out.contains_key("x-iamgate-anything"));
        assert_eq!(out["x-forwarded-for"], "127.0.0.1");
        assert_eq!(out["x-forwarded-host"], "gw.example:8080");
        assert_eq!(out["x-forwarded-proto"], "http");
        assert_eq!(
            out["forwarded"],
            "for=127.0.0.1;host=\"gw.example:8080\";proto=http"
        );
        assert_eq!(out["x-iamgate-account"], "acme0001");
        assert_eq!(out.get_all("x-request-id").iter().count(), 1);
        assert_eq!(out["x-request-id"], "rid-1");
        assert_eq!(out["x-auth-token"], "t");
    }

    #[test]
    fn content_length_is_the_authorised_bytes_whenever_there_are_any() {
        let h = received(&[]);
        let o = origin("127.0.0.1", &[]);
        // A body on any method is announced; so is an empty PUT.
        assert_eq!(
            upstream_headers(&h, &Method::DELETE, 4, &o)["content-length"],
            "4"
        );
        assert_eq!(
            upstream_headers(&h, &Method::PUT, 0, &o)["content-length"],
            "0"
        );
        assert_eq!(
            upstream_headers(&h, &Method::PATCH, 0, &o)["content-length"],
            "0"
        );
        assert!(!upstream_headers(&h, &Method::DELETE, 0, &o).contains_key("content-length"));
    }

    #[test]
    fn headers_named_by_connection_and_the_client_tls_view_are_the_gateways() {
        let h = received(&[("connection", "x-custom, close"), ("x-custom", "1")]);
        let mut o = origin("127.0.0.1", &[]);
        o.tls = true;
        o.host = "gw";
        let out = upstream_headers(&h, &Method::GET, 0, &o);
        assert!(!out.contains_key("x-custom"));
        assert!(!out.contains_key("connection"));
        assert_eq!(out["x-forwarded-proto"], "https");
        // A host that is a token goes unquoted; quotes never pass through.
        assert_eq!(out["forwarded"], "for=127.0.0.1;host=gw;proto=https");
        o.host = "g\"w";
        let quoted = upstream_headers(&h, &Method::GET, 0, &o);
        assert_eq!(quoted["forwarded"], "for=127.0.0.1;host=\"gw\";proto=https");
    }

    #[test]
    fn a_client_copy_of_any_gateway_or_hop_header_stays_behind() {
        // Gateway headers the gateway does not write on this request, and
        // hop-by-hop headers no `Connection` names.
        let h = received(&[
            ("x-real-ip", "6.6.6.6"),
            ("x-forwarded-port", "1"),
            ("content-length", "999"),
            ("te", "trailers"),
            ("x-iamgate-user", "root"),
            ("x-other", "kept"),
        ]);
        let out = upstream_headers(&h, &Method::GET, 0, &origin("127.0.0.1", &[]));
        for gone in [
            "x-real-ip",
            "x-forwarded-port",
            "content-length",
            "te",
            "x-iamgate-user",
        ] {
            assert!(!out.contains_key(gone), "{gone}");
        }
        assert_eq!(out["x-other"], "kept");
    }

    #[test]
    fn hop_by_hop_headers_and_those_connection_names_are_stripped() {
        let mut h = received(&[
            ("connection", "x-trace, keep-alive"),
            ("keep-alive", "timeout=5"),
            ("x-trace", "1"),
            ("upgrade", "h2c"),
            ("x-other", "kept"),
        ]);
        strip_hop_by_hop(&mut h);
        let names: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        assert_eq!(names, ["x-other"]);
        // Nothing hop-by-hop: nothing removed.
        let mut h = received(&[("x-trace", "1"), ("x-other", "kept")]);
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 2);
    }

    #[test]
    fn a_trusted_chain_drops_empty_entries_and_blanks() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/24".parse().unwrap()];
        let h = received(&[
            ("x-forwarded-for", " 203.0.113.9 "),
            ("x-forwarded-for", ""),
        ]);
        let out = upstream_headers(&h, &Method::GET, 0, &origin("10.0.0.1", &trusted));
        assert_eq!(out["x-forwarded-for"], "203.0.113.9, 10.0.0.1");
    }

    #[test]
    fn a_trusted_proxy_keeps_the_client_chain() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/24".parse().unwrap()];
        let h = received(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-for", "10.0.0.7"),
        ]);
        let out = upstream_headers(&h, &Method::GET, 0, &origin("10.0.0.1", &trusted));
        assert_eq!(out["x-forwarded-for"], "203.0.113.9, 10.0.0.7, 10.0.0.1");
        assert!(
            !out.contains_key("content-length"),
            "a GET without a body has none"
        );
        let v6 = upstream_headers(&h, &Method::GET, 0, &origin("::1", &trusted));
        assert_eq!(v6["x-forwarded-for"], "::1");
        assert!(v6["forwarded"]
            .to_str()
            .unwrap()
            .starts_with("for=\"[::1]\";"));
    }
}
