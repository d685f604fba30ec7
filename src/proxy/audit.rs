//! Audit mode (`enforce = "audit"` globally, per service in
//! `[enforce_services]`, per account in accounts.toml): a request the
//! policies deny is forwarded anyway and recorded as `audit_deny`, with the
//! denial's reasons kept on its actions. Only a policy denial is ever let
//! through: authentication failures, foreign projects or resources and
//! hostile or ambiguous requests end before this step in both modes.
//! Also where the handler feeds `GET /-/learned` ([`crate::learn::Observed`]).

use http::{HeaderValue, Response};

use crate::identity::Authenticated;
use crate::policy::Permit;
use crate::proxy::record::Record;
use crate::proxy::respond::{reason_summary, DenialDetails};
use crate::proxy::{Body, Gateway};
use crate::routes::RouteMatch;
use crate::snapshot::Snapshot;

/// Feed `GET /-/learned`: the actions a decided request needed.
pub(super) fn observe(gw: &Gateway, rec: &Record) {
    if rec.actions.is_empty() {
        return;
    }
    let pairs = rec
        .actions
        .iter()
        .map(|a| (a.action.as_str(), a.resource.as_str()));
    gw.observed
        .note(&rec.principal, rec.decision == Some("allow"), pairs);
}

/// Audit mode for this request: the account's own `enforce`, else the
/// service's, else the global one.
pub(super) fn applies(
    gw: &Gateway,
    snap: &Snapshot,
    route: &RouteMatch<'_>,
    who: &Authenticated,
) -> bool {
    let account = &*who.principal.account_id;
    let mode = match snap.directory.account_enforce.get(account) {
        Some(mode) => *mode,
        None => gw.config.enforce_for(&route.service.name),
    };
    mode == crate::config::Enforce::Audit
}

/// Let a policy denial through in audit mode: recorded as `audit_deny` (the
/// actions keep the denial's reasons); the text is the would-be denial.
pub(super) fn let_through(rec: &mut Record, d: &DenialDetails) -> (Permit, Option<String>) {
    rec.decision = Some("audit_deny");
    let denial = &d.denial;
    let why = format!(
        "{} {} on {}: {}",
        denial.decision.kind.as_str(),
        denial.action,
        denial.resource,
        reason_summary(&denial.decision.reason)
    );
    (Permit::for_audit_mode_by_configuration(), Some(why))
}

/// `X-Iamgate-Audit: <the would-be denial>` with `debug_headers`.
pub(super) fn header(
    gw: &Gateway,
    mut resp: Response<Body>,
    audited: Option<String>,
) -> Response<Body> {
    let value = audited
        .filter(|_| gw.config.debug_headers)
        .map(|why| -> String {
            // A header value is visible ASCII: a Sid in another script is elided.
            let ascii = |c: char| c.is_ascii_graphic() || c == ' ';
            why.chars()
                .map(|c| if ascii(c) { c } else { '?' })
                .collect()
        })
        .and_then(|why| HeaderValue::from_str(&why).ok());
    if let Some(v) = value {
        resp.headers_mut().insert("x-iamgate-audit", v);
    }
    resp
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#[path = "audit_tests.rs"]
mod tests;
