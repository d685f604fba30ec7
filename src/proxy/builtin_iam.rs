//! The pipeline of a built-in IAM route (`routes/iam.toml`, upstream
//! `builtin:iam`): the same steps as a forwarded request — credentials from
//! the headers, bounded body, signature, context, the engine, the record —
//! but the answer is made here by [`crate::huawei_iam`] instead of an
//! upstream. The one exception to "credentials before the body": a password
//! token request carries its credentials in the body, which is read under
//! the same limits as any other.

use bytes::Bytes;
use http::request::Parts;
use http::{Response, StatusCode};
use time::OffsetDateTime;

use crate::cloud::Cloud;
use crate::huawei_iam::securitytokens::{self, Assumption, Request};
use crate::huawei_iam::sessions::{Issued, SessionOf, StoreFull};
use crate::huawei_iam::{self, json_response, tokens, IamError, ASSUME_ACTION};
use crate::identity::{Authenticated, HttpParts};
use crate::proxy::context::{base_context, source_ip, RequestFacts};
use crate::proxy::handler::{auth_failed, denied, Connection, RequestBody};
use crate::proxy::record::Record;
use crate::proxy::respond::GatewayError;
use crate::proxy::{body, Body, Gateway};
use crate::routes::RouteMatch;
use crate::snapshot::Snapshot;

/// One request to a built-in IAM route, as the handler received it.
pub(super) struct IamCall<'a> {
    pub(super) gw: &'a Gateway,
    pub(super) snap: &'a Snapshot,
    pub(super) route: &'a RouteMatch<'a>,
    pub(super) parts: &'a Parts,
    pub(super) conn: Connection,
    pub(super) request_id: &'a str,
}

impl IamCall<'_> {
    fn http<'b>(&'b self, body: &'b [u8]) -> HttpParts<'b> {
        HttpParts {
            method: self.parts.method.as_str(),
            raw_path: self.parts.uri.path(),
            raw_query: self.parts.uri.query(),
            authority: self.parts.uri.authority().map(|a| a.as_str()),
            headers: &self.parts.headers,
            body,
        }
    }

    /// IAM's own error body (not APIG's), recorded as a refusal.
    fn iam_error(&self, rec: &mut Record, e: &IamError) -> Response<Body> {
        // An agency that does not trust the caller admits nothing: implicit.
        rec.decision = rec.decision.or(Some(match e.status {
            StatusCode::FORBIDDEN => "implicit_deny",
            StatusCode::UNAUTHORIZED => "unauthenticated",
            _ => "bad_request",
        }));
        json_response(e.status, &e.body(self.request_id))
    }

    /// Authenticate from the headers (sessions included), then read and
    /// verify the body.
    async fn authenticate<B: RequestBody>(
        &self,
        body: B,
        now: OffsetDateTime,
        rec: &mut Record,
    ) -> Result<(Authenticated, Bytes), GatewayError> {
        let (gw, dir) = (self.gw, &self.snap.directory);
        let credential =
            huawei_iam::identify(&gw.sessions, dir, Cloud::Huawei, &self.http(&[]), now)
                .map_err(|e| auth_failed(gw, rec, e))?;
        let bytes = body::read(body, self.parts, gw.body_limits(), &gw.body_budget)
            .await?
            .bytes;
        let who = credential
            .verify(&self.http(&bytes), now, &gw.nonces)
            .map_err(|e| auth_failed(gw, rec, e))?;
        rec.set_authenticated(&who);
        Ok((who, bytes))
    }

    /// The engine's decision on `sts:agencies:assume` for the agency the
    /// body names, with the request's context plus `sts:AgencySessionName`.
    pub(super) fn authorize_assume(
        &self,
        who: &Authenticated,
        asm: &Assumption,
        bytes: &[u8],
        now: OffsetDateTime,
        rec: &mut Record,
    ) -> Result<(), GatewayError> {
        let parts = self.parts;
        let trusted = &self.gw.config.trusted_proxies;
        let facts = RequestFacts {
            peer: source_ip(self.conn.peer, &parts.headers, trusted),
            tls: self.conn.tls,
            now,
            headers: &parts.headers,
            body: bytes,
            raw_query: parts.uri.query(),
        };
        let mut ctx = base_context(Cloud::Huawei, who, self.route, None, &facts)
            .map_err(|e| GatewayError::BadRequest(e.to_string()))?;
        ctx.set("sts:AgencySessionName", asm.session.clone());
        let needs = vec![(ASSUME_ACTION.to_string(), asm.agency.urn.clone(), ctx)];
        let result = crate::policy::authorize(&who.principal.subject, &needs);
        rec.note_authorization(&who.principal.subject, &needs, &result);
        result
            .map(|_| ())
            .map_err(|d| denied(self.snap, who, *d, Some(&needs[0].2)))
    }

    fn issued(&self, r: Result<Issued, StoreFull>) -> Result<Issued, GatewayError> {
        r.map_err(|_| GatewayError::Busy("the session store is full"))
    }
}

/// `POST /v3.0/OS-CREDENTIAL/securitytokens`.
pub(super) async fn securitytokens<B: RequestBody>(
    call: IamCall<'_>,
    body: B,
    rec: &mut Record,
) -> Result<Response<Body>, GatewayError> {
    let now = OffsetDateTime::now_utc();
    let (who, bytes) = call.authenticate(body, now, rec).await?;
    let granted: Result<(SessionOf, u32), IamError> = match securitytokens::parse(&bytes) {
        Ok(Request::AssumeRole(a)) => {
            match securitytokens::assume(&call.snap.directory, &who.principal, &a) {
                Ok(asm) => {
                    call.authorize_assume(&who, &asm, &bytes, now, rec)?;
                    Ok((asm.session_of(), asm.seconds))
                }
                Err(e) => Err(e),
            }
        }
        Ok(Request::Token(t)) => {
            let dir = &call.snap.directory;
            let own = huawei_iam::check_token_id(
                &call.gw.sessions,
                dir,
                t.id.as_deref(),
                &who.principal,
                now,
            )
            .and_then(|()| securitytokens::own_session(&who.principal, &t));
            rec.decision = own.as_ref().ok().map(|_| "allow");
            own
        }
        Err(e) => Err(e),
    };
    let (of, seconds) = match granted {
        Ok(g) => g,
        Err(e) => return Ok(call.iam_error(rec, &e)),
    };
    let issued = call.issued(call.gw.sessions.issue_keys(of, seconds, now))?;
    Ok(json_response(
        StatusCode::CREATED,
        &securitytokens::answer(&issued),
    ))
}

/// The call when `routed` is a built-in IAM route, else `None`.
pub(super) fn call_for<'a>(
    gw: &'a Gateway,
    snap: &'a Snapshot,
    routed: &'a crate::routes::Routed<'a>,
    parts: &'a Parts,
    conn: Connection,
    request_id: &'a str,
) -> Option<IamCall<'a>> {
    match routed {
        crate::routes::Routed::Mapped(route) if route.service.upstream == huawei_iam::UPSTREAM => {
            Some(IamCall {
                gw,
                snap,
                route,
                parts,
                conn,
                request_id,
            })
        }
        _ => None,
    }
}

/// The path of `POST /v3/auth/tokens` in `routes/iam.toml`.
const TOKENS_PATH: &str = "/v3/auth/tokens";

/// Answer a built-in IAM route: securitytokens or auth/tokens.
pub(super) async fn serve<B: RequestBody>(
    call: IamCall<'_>,
    body: B,
    rec: &mut Record,
) -> Result<Response<Body>, GatewayError> {
    if call.route.route.path == TOKENS_PATH {
        auth_tokens(call, body, rec).await
    } else {
        securitytokens(call, body, rec).await
    }
}

/// `POST /v3/auth/tokens`: a password login (credentials in the body) or
/// an agency token for an authenticated caller.
async fn auth_tokens<B: RequestBody>(
    call: IamCall<'_>,
    body: B,
    rec: &mut Record,
) -> Result<Response<Body>, GatewayError> {
    let now = OffsetDateTime::now_utc();
    let gw = call.gw;
    let has_credentials = ["authorization", "x-auth-token", "x-security-token"]
        .iter()
        .any(|h| call.parts.headers.contains_key(*h));
    let (caller, bytes) = if has_credentials {
        let (who, bytes) = call.authenticate(body, now, rec).await?;
        (Some(who), bytes)
    } else {
        let read = body::read(body, call.parts, gw.body_limits(), &gw.body_budget).await?;
        (None, read.bytes)
    };
    let made = match (tokens::parse(&bytes), &caller) {
        (Ok(tokens::Request::Password(p)), _) => call.password_token(&p, now, rec)?,
        (Ok(tokens::Request::AssumeRole(a)), Some(who)) => {
            call.agency_token(who, &a, &bytes, now, rec)?
        }
        (Ok(tokens::Request::AssumeRole(_)), None) => {
            let missing = crate::identity::AuthError::Verify(crate::identity::AuthFailure::Missing);
            return Err(auth_failed(gw, rec, missing));
        }
        (Err(e), _) => Err(e),
    };
    let (answer, issued) = match made {
        Ok(made) => made,
        Err(e) => return Ok(call.iam_error(rec, &e)),
    };
    let mut resp = json_response(StatusCode::CREATED, &answer);
    if let Ok(v) = http::HeaderValue::from_str(&issued.id) {
        resp.headers_mut().insert("x-subject-token", v);
    }
    Ok(resp)
}

/// A token made, or IAM's refusal; the outer error ends the request as APIG would.
type Made = Result<Result<(serde_json::Value, Issued), IamError>, GatewayError>;

impl IamCall<'_> {
    /// A password login: the user's own token for 24 hours.
    fn password_token(&self, p: &tokens::Password, now: OffsetDateTime, rec: &mut Record) -> Made {
        let user = match tokens::login(&self.snap.directory, p) {
            Ok(user) => user,
            Err(e) => return Ok(Err(e)),
        };
        rec.set_authenticated(&Authenticated {
            principal: user.clone(),
            access_key: None,
            mfa: false,
        });
        rec.decision = Some("allow");
        let of = tokens::user_session(&user);
        let issued = self.issued(self.gw.sessions.issue_token(of, tokens::TOKEN_SECONDS, now))?;
        Ok(Ok((
            tokens::answer(&issued, &user, None, "password"),
            issued,
        )))
    }

    /// An agency token for an authenticated caller: the same checks and
    /// decision as securitytokens `assume_role`.
    fn agency_token(
        &self,
        who: &Authenticated,
        a: &securitytokens::AssumeRole,
        bytes: &[u8],
        now: OffsetDateTime,
        rec: &mut Record,
    ) -> Made {
        let asm = match securitytokens::assume(&self.snap.directory, &who.principal, a) {
            Ok(asm) => asm,
            Err(e) => return Ok(Err(e)),
        };
        self.authorize_assume(who, &asm, bytes, now, rec)?;
        let sessions = &self.gw.sessions;
        let issued = self.issued(sessions.issue_token(asm.session_of(), asm.seconds, now))?;
        let session = asm.agency.session_principal(&asm.session);
        let answer = tokens::answer(&issued, &session, Some(&who.principal), "assume_role");
        Ok(Ok((answer, issued)))
    }
}
