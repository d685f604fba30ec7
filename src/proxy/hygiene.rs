//! Request hygiene: what a request's head must look like before anything
//! reads it. The gateway evaluates one request and must forward exactly that
//! request, so every header that could make the upstream see another
//! request is settled here, before authentication:
//!
//! - headers named by `Connection` are hop-by-hop by definition: they are
//!   removed first, so the gateway never evaluates a header it will not
//!   forward (`Connection: X-Auth-Token` leaves the request without a token);
//! - exactly one `Host` on HTTP/1 (RFC 9112 §3.2), and a `Host` that agrees
//!   with the target's authority (absolute-form, HTTP/2 `:authority`);
//! - no repeated credential header (the gateway and the upstream could pick
//!   different copies) and no repeated `Content-Length`;
//! - no header that asks a server to see another path or method
//!   (`X-Original-URL`, `X-HTTP-Method-Override`, …): refused, not stripped,
//!   so the attempt is visible in metrics and logs;
//! - framing: `Transfer-Encoding` is exactly `chunked` and never comes with
//!   `Content-Length`; a route whose operation takes no body gets none.

use http::header::{CONNECTION, CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use http::request::Parts;
use http::{HeaderMap, Version};

use crate::proxy::outgoing::connection_named;
use crate::proxy::respond::GatewayError;

/// Headers that ask a server to act on another path or method than the
/// request line's. No SDK sends them; the gateway refuses them (400).
pub const OVERRIDE_HEADERS: &[&str] = &[
    "x-original-url",
    "x-rewrite-url",
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// Headers that identify the caller or are signed; one copy at most.
const SINGLE_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "authorization",
    "x-auth-token",
    "x-sdk-date",
    "x-sdk-content-sha256",
    "x-security-token",
    "x-project-id",
];

/// Remove every header the `Connection` header names (and `Connection`
/// itself is left for the hop-by-hop strip of the forwarder).
pub fn strip_connection_named(headers: &mut HeaderMap) {
    for name in connection_named(headers) {
        if name != CONNECTION {
            headers.remove(name);
        }
    }
}

/// Check the head of a request; the host the gateway evaluates (`Host`, or
/// the HTTP/2 `:authority` when there is no `Host`).
pub fn check_head(parts: &Parts) -> Result<String, GatewayError> {
    check_single_headers(&parts.headers)?;
    // A pass over the names present, not a lookup per refused name.
    if let Some(name) = parts
        .headers
        .keys()
        .find(|k| OVERRIDE_HEADERS.contains(&k.as_str()))
    {
        return Err(bad(format!(
            "the {name} header is refused: it asks for another path or method than the request line's"
        )));
    }
    check_framing(&parts.headers)?;
    host(parts)
}

/// One copy at most of each identifying or signed header (`x-acs-*` included).
fn check_single_headers(headers: &HeaderMap) -> Result<(), GatewayError> {
    for name in headers.keys() {
        let n = name.as_str();
        let single = SINGLE_HEADERS.contains(&n) || n.starts_with("x-acs-");
        if single && headers.get_all(name).iter().nth(1).is_some() {
            return Err(bad(format!("the {n} header is repeated")));
        }
    }
    Ok(())
}

/// `Transfer-Encoding` is exactly `chunked` and never with `Content-Length`.
fn check_framing(headers: &HeaderMap) -> Result<(), GatewayError> {
    let mut te = headers.get_all(TRANSFER_ENCODING).iter();
    let Some(first) = te.next() else {
        return Ok(());
    };
    if te.next().is_some() || first.as_bytes() != b"chunked" {
        return Err(GatewayError::BadFraming(
            "Transfer-Encoding must be exactly `chunked`".into(),
        ));
    }
    if headers.contains_key(CONTENT_LENGTH) {
        return Err(GatewayError::BadFraming(
            "Transfer-Encoding and Content-Length together".into(),
        ));
    }
    Ok(())
}

/// The host the gateway evaluates: HTTP/1 needs exactly one `Host` (checked
/// above for repeats); a target authority (absolute-form, `:authority`) must
/// agree with it.
fn host(parts: &Parts) -> Result<String, GatewayError> {
    let header = match parts.headers.get(HOST) {
        Some(v) => Some(
            v.to_str()
                .map_err(|_| bad("the Host header is not ASCII".into()))?,
        ),
        None => None,
    };
    let authority = parts.uri.authority().map(|a| a.as_str());
    match (header, authority) {
        (Some(h), Some(a)) if !h.eq_ignore_ascii_case(a) => Err(bad(
            "the request target's authority disagrees with Host".into(),
        )),
        (Some(h), _) if !h.is_empty() => Ok(h.to_string()),
        (None, Some(a)) if parts.version == Version::HTTP_2 => Ok(a.to_string()),
        _ => Err(bad("a request needs exactly one non-empty Host".into())),
    }
}

/// Whether the request announces a body (`Content-Length` > 0 or any
/// `Transfer-Encoding`); only an announced body is ever read.
pub fn announces_body(parts: &Parts) -> bool {
    let length = parts
        .headers
        .get(CONTENT_LENGTH)
        .map(|v| v.as_bytes() != b"0");
    length.unwrap_or(false) || parts.headers.contains_key(TRANSFER_ENCODING)
}

/// A route whose operation takes no body gets none. HTTP/2 announces a body
/// by not ending the stream with the headers; hyper reports that as a body
/// without a known end, which this also refuses.
pub fn check_body_allowed(
    parts: &Parts,
    takes_body: bool,
    body_is_end: bool,
) -> Result<(), GatewayError> {
    if takes_body || (!announces_body(parts) && body_is_end) {
        return Ok(());
    }
    Err(GatewayError::BadFraming(
        "this operation takes no request body".into(),
    ))
}

fn bad(message: String) -> GatewayError {
    GatewayError::BadRequest(message)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use http::Request;

    fn parts(version: Version, uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut b = Request::get(uri).version(version);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    fn h1(headers: &[(&str, &str)]) -> Parts {
        parts(Version::HTTP_11, "/v1/p/notebooks", headers)
    }

    fn refused(p: &Parts) -> String {
        match check_head(p) {
            Err(e) => e.to_string(),
            Ok(h) => panic!("accepted with host {h}"),
        }
    }

    #[test]
    fn exactly_one_host_on_http1() {
        assert_eq!(check_head(&h1(&[("host", "gw:80")])).unwrap(), "gw:80");
        assert!(refused(&h1(&[])).contains("Host"));
        assert!(refused(&h1(&[("host", "a"), ("host", "a")])).contains("repeated"));
        assert!(refused(&parts(Version::HTTP_10, "/x", &[])).contains("Host"));
    }

    #[test]
    fn authority_must_agree_with_host() {
        let absolute = parts(Version::HTTP_11, "http://evil/x", &[("host", "gw")]);
        assert!(refused(&absolute).contains("disagrees"));
        let same = parts(Version::HTTP_11, "http://gw/x", &[("host", "GW")]);
        assert_eq!(check_head(&same).unwrap(), "GW");
        let h2 = parts(Version::HTTP_2, "http://gw:8080/x", &[]);
        assert_eq!(check_head(&h2).unwrap(), "gw:8080");
        let h2_other = parts(Version::HTTP_2, "http://gw:8080/x", &[("host", "other")]);
        assert!(refused(&h2_other).contains("disagrees"));
    }

    #[test]
    fn repeated_credentials_are_refused() {
        for name in [
            "x-auth-token",
            "authorization",
            "x-sdk-date",
            "x-security-token",
            "x-acs-signature-nonce",
            "content-length",
        ] {
            let p = h1(&[("host", "gw"), (name, "1"), (name, "1")]);
            assert!(refused(&p).contains("repeated"), "{name}");
        }
    }

    #[test]
    fn override_headers_are_refused() {
        for name in OVERRIDE_HEADERS {
            let p = h1(&[("host", "gw"), (name, "/v2/p/pools")]);
            assert!(refused(&p).contains(name), "{name}");
        }
    }

    #[test]
    fn framing_rules() {
        let te = |v: &str| h1(&[("host", "gw"), ("transfer-encoding", v)]);
        assert!(check_head(&te("chunked")).is_ok());
        for bad in ["gzip, chunked", "Chunked", "chunked, identity", " chunked"] {
            assert!(
                matches!(check_head(&te(bad)), Err(GatewayError::BadFraming(_))),
                "{bad}"
            );
        }
        let both = h1(&[
            ("host", "gw"),
            ("transfer-encoding", "chunked"),
            ("content-length", "3"),
        ]);
        assert!(matches!(
            check_head(&both),
            Err(GatewayError::BadFraming(_))
        ));
    }

    #[test]
    fn an_empty_host_or_an_http1_authority_alone_is_refused() {
        assert!(refused(&h1(&[("host", "")])).contains("non-empty Host"));
        // Only HTTP/2 may name its host by `:authority` alone.
        let absolute = parts(Version::HTTP_11, "http://gw/x", &[]);
        assert!(refused(&absolute).contains("non-empty Host"));
        let non_ascii = http::HeaderValue::from_bytes(b"gw\xff").unwrap();
        let mut p = h1(&[]);
        p.headers.insert(HOST, non_ascii);
        assert!(refused(&p).contains("not ASCII"));
    }

    #[test]
    fn two_transfer_encoding_headers_are_refused() {
        let p = h1(&[
            ("host", "gw"),
            ("transfer-encoding", "chunked"),
            ("transfer-encoding", "chunked"),
        ]);
        assert!(matches!(check_head(&p), Err(GatewayError::BadFraming(_))));
    }

    #[test]
    fn a_body_is_announced_by_a_length_above_zero_or_any_transfer_encoding() {
        let with = |h: &[(&str, &str)]| h1(h);
        assert!(!announces_body(&with(&[])));
        assert!(!announces_body(&with(&[("content-length", "0")])));
        assert!(announces_body(&with(&[("content-length", "5")])));
        assert!(announces_body(&with(&[("transfer-encoding", "chunked")])));
        // A length announced on a bodyless route is refused even when the
        // body reports its end (hyper has not read it yet).
        let five = with(&[("content-length", "5")]);
        assert!(check_body_allowed(&five, false, true).is_err());
    }

    #[test]
    fn only_connection_named_headers_are_removed() {
        let mut p = h1(&[
            ("host", "gw"),
            ("connection", "keep-alive"),
            ("x-auth-token", "t"),
        ]);
        strip_connection_named(&mut p.headers);
        assert!(p.headers.contains_key("x-auth-token"));
        assert!(p.headers.contains_key("host"));
    }

    #[test]
    fn connection_named_headers_are_removed_first() {
        let mut p = h1(&[
            ("host", "gw"),
            ("connection", "close, X-Auth-Token"),
            ("x-auth-token", "t"),
        ]);
        strip_connection_named(&mut p.headers);
        assert!(!p.headers.contains_key("x-auth-token"));
        assert!(p.headers.contains_key("connection"));
    }

    #[test]
    fn a_body_on_a_bodyless_route_is_refused() {
        let with = |h: &[(&str, &str)]| {
            let mut all = vec![("host", "gw")];
            all.extend_from_slice(h);
            h1(&all)
        };
        assert!(check_body_allowed(&with(&[]), false, true).is_ok());
        assert!(check_body_allowed(&with(&[("content-length", "0")]), false, true).is_ok());
        assert!(check_body_allowed(&with(&[("content-length", "5")]), false, false).is_err());
        assert!(
            check_body_allowed(&with(&[("transfer-encoding", "chunked")]), false, false).is_err()
        );
        assert!(
            check_body_allowed(&with(&[]), false, false).is_err(),
            "h2 DATA frames"
        );
        assert!(check_body_allowed(&with(&[("content-length", "5")]), true, false).is_ok());
    }
}
