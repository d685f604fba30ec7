//! Built-in services in the pipeline: a route whose upstream is
//! [`crate::sts::BUILTIN_UPSTREAM`] is answered here, after the same
//! authentication, context and engine as every other route, and nothing is
//! forwarded. The decision is recorded like any other (decision log,
//! metrics, `X-Iamgate-*`).

use std::net::IpAddr;

use http::request::Parts;
use http::Response;
use time::OffsetDateTime;

use crate::cloud::Cloud;
use crate::config::Config;
use crate::identity::Authenticated;
use crate::proxy::context::{base_context, source_ip, RequestFacts};
use crate::proxy::record::Record;
use crate::proxy::respond::GatewayError;
use crate::proxy::Body;
use crate::routes::RouteMatch;
use crate::snapshot::Snapshot;
use crate::sts::assume_role::{complete, prepare, RAM_ACTION};

/// What a built-in service needs of an authenticated request.
pub(super) struct BuiltinCall<'a> {
    pub(super) parts: &'a Parts,
    pub(super) peer: IpAddr,
    pub(super) tls: bool,
    pub(super) who: &'a Authenticated,
    pub(super) body: &'a [u8],
    pub(super) request_id: &'a str,
    pub(super) now: OffsetDateTime,
}

/// STS `AssumeRole`: the caller's policies must allow `sts:AssumeRole` on
/// the role (control policies included), then the role's trust policy must
/// admit the caller.
pub(super) fn serve_sts(
    config: &Config,
    snap: &Snapshot,
    route: &RouteMatch<'_>,
    call: BuiltinCall<'_>,
    rec: &mut Record,
) -> Result<Response<Body>, GatewayError> {
    let (parts, who) = (call.parts, call.who);
    let assume = prepare(&snap.directory, who, &parts.headers, parts.uri.query())?;
    let facts = RequestFacts {
        peer: source_ip(call.peer, &parts.headers, &config.trusted_proxies),
        tls: call.tls,
        now: call.now,
        headers: &parts.headers,
        body: call.body,
        raw_query: parts.uri.query(),
    };
    let base = base_context(Cloud::Aliyun, who, route, None, &facts)
        .map_err(|e| GatewayError::BadRequest(e.to_string()))?;
    let needs = vec![(RAM_ACTION.to_string(), assume.role.arn.clone(), base)];
    let result = crate::policy::authorize(&who.principal.subject, &needs);
    rec.note_authorization(&who.principal.subject, &needs, &result);
    if let Err(denial) = result {
        // The same denial body as a forwarded route's, with the trace of
        // the context the decision read.
        return Err(super::handler::denied(
            snap,
            who,
            *denial,
            Some(&needs[0].2),
        ));
    }
    let base = needs.into_iter().next().map(|n| n.2).unwrap_or_default();
    complete(&assume, who, base, call.now, call.request_id)
}
