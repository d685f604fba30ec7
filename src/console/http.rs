//! The console's routes on the admin listener. `/ui` (the page and its two
//! embedded assets) and everything under `/-/` sit behind the admin guard
//! (`crate::admin`), checked before this runs. Read-only except the two
//! resets, which must carry `X-Iamgate-Console: reset`: a custom header a
//! cross-site form cannot send (and `fetch` from another origin cannot
//! without a CORS preflight this listener never answers).

use std::sync::Arc;

use http::{HeaderValue, Method, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use serde_json::json;

use super::{explain, sse, Console};
use crate::proxy::respond::json_response;
use crate::proxy::Body;
use crate::snapshot::SnapshotHolder;

const INDEX_HTML: &str = include_str!("assets/index.html");
const CONSOLE_JS: &str = include_str!("assets/console.js");
const CONSOLE_CSS: &str = include_str!("assets/console.css");

/// The header a reset must carry (see the module comment).
pub const RESET_HEADER: &str = "x-iamgate-console";

/// Scripts, styles and connections from this origin only: even a value
/// that slipped past escaping could not load or run anything.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// What the console's routes read.
pub struct Parts<'a> {
    pub console: Option<&'a Arc<Console>>,
    pub holder: &'a SnapshotHolder,
    pub observed: &'a crate::learn::Observed,
}

/// Whether a path is the console page or one of its assets (guarded like `/-/`).
pub fn is_page(path: &str) -> bool {
    path == "/ui" || path.starts_with("/ui/")
}

/// Answer a console route; `None` when the path is not one.
pub fn route(
    p: &Parts<'_>,
    method: &Method,
    path: &str,
    query: Option<&str>,
    reset_header: Option<&HeaderValue>,
) -> Option<Response<Body>> {
    let resp = match (method, path) {
        (&Method::GET, "/ui" | "/ui/") => asset(INDEX_HTML, "text/html; charset=utf-8"),
        (&Method::GET, "/ui/console.js") => asset(CONSOLE_JS, "text/javascript; charset=utf-8"),
        (&Method::GET, "/ui/console.css") => asset(CONSOLE_CSS, "text/css; charset=utf-8"),
        (&Method::GET, "/-/events") => with_console(p, events),
        (&Method::GET, "/-/console/recent") => with_console(p, recent),
        (&Method::GET, "/-/console/explain") => with_console(p, |c| explained(c, p.holder, query)),
        (&Method::POST, "/-/console/reset" | "/-/learned/reset")
            if reset_header.is_none_or(|v| v != "reset") =>
        {
            json_response(
                StatusCode::FORBIDDEN,
                &json!({"error": "forbidden", "message": format!("a reset needs the header {RESET_HEADER}: reset")}),
            )
        }
        (&Method::POST, "/-/console/reset") => with_console(p, |c| {
            c.clear();
            json_response(StatusCode::OK, &json!({"ok": true}))
        }),
        (&Method::POST, "/-/learned/reset") => {
            p.observed.reset();
            json_response(StatusCode::OK, &json!({"ok": true}))
        }
        _ => return None,
    };
    Some(resp)
}

fn with_console(p: &Parts<'_>, f: impl FnOnce(&Arc<Console>) -> Response<Body>) -> Response<Body> {
    match p.console {
        Some(c) => f(c),
        None => json_response(
            StatusCode::NOT_FOUND,
            &json!({"error": "console_off", "message": "[console] recent = 0: no recent decisions are kept"}),
        ),
    }
}

fn asset(text: &'static str, content_type: &'static str) -> Response<Body> {
    let mut r = Response::new(
        Full::new(bytes::Bytes::from_static(text.as_bytes()))
            .map_err(|never| match never {})
            .boxed(),
    );
    let h = r.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    h.insert(
        http::header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        http::header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        http::header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    r
}

fn events(c: &Arc<Console>) -> Response<Body> {
    let mut r = Response::new(sse::open(c.clone()).boxed());
    let h = r.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    h.insert(
        http::header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

fn recent(c: &Arc<Console>) -> Response<Body> {
    json_response(
        StatusCode::OK,
        &json!({"capacity": c.capacity(), "dropped_events": c.dropped(), "entries": c.recent()}),
    )
}

fn explained(c: &Arc<Console>, holder: &SnapshotHolder, query: Option<&str>) -> Response<Body> {
    let seq = query.and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("seq="))
            .and_then(|n| n.parse::<u64>().ok())
    });
    match seq.and_then(|s| c.find(s)) {
        Some(entry) => json_response(StatusCode::OK, &explain::explain(&entry, &holder.load())),
        None => json_response(
            StatusCode::NOT_FOUND,
            &json!({"error": "not_found", "message": "no kept decision with this seq (it may have left the ring)"}),
        ),
    }
}
