//! The request context: the condition keys the gateway supplies
//! (huawei-iam.md and aliyun-ram.md, "keys supplied"), gathered from the
//! principal, the route, the connection, the body and the resources file.
//! Every input is read so that the policy sees exactly what the upstream
//! will: the whole body or nothing (a 400), no key given twice.

use std::net::IpAddr;

use http::HeaderMap;
use ipnet::IpNet;
use percent_encoding::percent_decode_str;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::cloud::Cloud;
use crate::directory::{Project, ResourceAttrs};
use crate::identity::Authenticated;
use crate::policy::Context;
use crate::routes::RouteMatch;

#[path = "context_body.rs"]
mod body;

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

/// An address as text, exactly as `Display` writes it. IPv4 (every request
/// formats its peer twice: `g:SourceIp` and `X-Forwarded-For`) is written
/// digit by digit: `Display`'s formatting machinery cost ~1,300
/// instructions per address, a twentieth of the gateway's own work.
pub fn ip_text(ip: IpAddr) -> String {
    let IpAddr::V4(v4) = ip else {
        return ip.to_string();
    };
    let mut out = String::with_capacity(15);
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        if octet >= 100 {
            out.push(char::from(b'0' + octet / 100));
        }
        if octet >= 10 {
            out.push(char::from(b'0' + octet / 10 % 10));
        }
        out.push(char::from(b'0' + octet % 10));
    }
    out
}

/// A request whose request keys cannot be read unambiguously: the handler
/// answers 400 (a body the policy cannot see is a body it cannot judge).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RequestKeyError(pub String);

fn bad(message: impl Into<String>) -> RequestKeyError {
    RequestKeyError(message.into())
}

/// Whether an action creates a resource (`…:create`, `agentrun:Create…`):
/// only then may the client name the enterprise project. `createTags` tags
/// an existing resource and is not a create.
pub fn is_create(action: &str) -> bool {
    let verb = action.rsplit(':').next().unwrap_or(action);
    verb == "create" || (verb.starts_with("Create") && verb != "CreateTags")
}

/// Keys common to every action of the request. The body and the query are
/// read whole; an unreadable or ambiguous one is a [`RequestKeyError`].
/// `g:EnterpriseProjectId` comes from the client only when one of the
/// route's actions [creates](is_create) a resource.
pub fn base_context(
    cloud: Cloud,
    who: &Authenticated,
    route: &RouteMatch<'_>,
    project: Option<&Project>,
    facts: &RequestFacts<'_>,
) -> Result<Context, RequestKeyError> {
    let mut c = Context::with_capacity(32);
    let ua = facts
        .headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let now = facts.now.format(&Rfc3339).unwrap_or_default();
    let body = body_fields(facts.body)?;
    let creates = route.actions().any(|a| is_create(&a.name));
    let enterprise_project = match creates {
        true => client_enterprise_project(body.enterprise_project_id, facts.raw_query)?,
        false => None,
    };
    let tags = body.tags;
    let k = keys(cloud);
    c.set_normalized(k.source_ip, ip_text(facts.peer));
    c.set_normalized(k.current_time, now);
    c.set_normalized(k.secure_transport, bool_text(facts.tls));
    c.set_normalized(k.mfa_present, bool_text(who.mfa));
    c.set_normalized(k.user_agent, ua);
    for (name, v) in &tags {
        c.set(&format!("{}{name}", k.request_tag), v.clone());
    }
    c.set_multi_normalized(k.tag_keys, tags.into_iter().map(|(k, _)| k).collect());
    for (param, key) in &route.service.param_keys {
        if let Some(v) = route.param(param) {
            c.set(key, v);
        }
    }
    match cloud {
        Cloud::Huawei => huawei_keys(&mut c, who, project, enterprise_project),
        Cloud::Aliyun => {
            if let Some(ak) = &who.access_key {
                c.set_normalized("acs:accessid", ak.clone());
            }
            crate::sts::sessions::add_session_keys(&mut c, &who.principal);
        }
    }
    Ok(c)
}

/// The names (already normalised) of the keys both dialects supply, per cloud.
struct Keys {
    source_ip: &'static str,
    current_time: &'static str,
    secure_transport: &'static str,
    mfa_present: &'static str,
    user_agent: &'static str,
    tag_keys: &'static str,
    /// Followed by the tag key as written.
    request_tag: &'static str,
}

fn keys(cloud: Cloud) -> &'static Keys {
    const HUAWEI: Keys = Keys {
        source_ip: "g:sourceip",
        current_time: "g:currenttime",
        secure_transport: "g:securetransport",
        mfa_present: "g:mfapresent",
        user_agent: "g:useragent",
        tag_keys: "g:tagkeys",
        request_tag: "g:RequestTag/",
    };
    const ALIYUN: Keys = Keys {
        source_ip: "acs:sourceip",
        current_time: "acs:currenttime",
        secure_transport: "acs:securetransport",
        mfa_present: "acs:mfapresent",
        user_agent: "acs:useragent",
        tag_keys: "acs:tagkeys",
        request_tag: "acs:RequestTag/",
    };
    match cloud {
        Cloud::Huawei => &HUAWEI,
        Cloud::Aliyun => &ALIYUN,
    }
}

fn bool_text(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

/// The enterprise project a create names, in the body or the query
/// (percent-decoded); a repeated query key, or body and query disagreeing,
/// is refused rather than guessed.
fn client_enterprise_project(
    from_body: Option<String>,
    raw_query: Option<&str>,
) -> Result<Option<String>, RequestKeyError> {
    let from_query = query_value(raw_query.unwrap_or(""), "enterprise_project_id")?;
    match (from_body, from_query) {
        (Some(b), Some(q)) if b != q => Err(bad(
            "enterprise_project_id differs between the body and the query",
        )),
        (b, q) => Ok(b.or(q)),
    }
}

fn huawei_keys(
    c: &mut Context,
    who: &Authenticated,
    project: Option<&Project>,
    enterprise_project: Option<String>,
) {
    let p = &who.principal;
    c.set_normalized("g:principalurn", p.urn.clone());
    c.set_normalized("g:principalaccount", p.account_id.to_string());
    c.set_normalized("g:domainname", p.account_name.to_string());
    c.set_normalized("g:principalisrootuser", bool_text(p.is_root()));
    let session = p.is_agency_session();
    let kind = match (p.is_root(), session) {
        (true, _) => "Root",
        (false, true) => "AssumedAgency",
        (false, false) => "User",
    };
    c.set_normalized("g:principaltype", kind);
    // An agency session is no user: g:UserId / g:UserName stay absent.
    if let Some(u) = p.user.as_ref().filter(|_| !session) {
        c.set_normalized("g:userid", u.id.clone());
        c.set_normalized("g:username", u.name.clone());
        for (k, v) in u.tags.iter() {
            c.set(&format!("g:PrincipalTag/{k}"), v.to_string());
        }
    }
    if let Some(path) = &p.org_path {
        c.set_normalized("g:principalorgpath", path.clone());
    }
    if let Some(proj) = project {
        c.set_normalized("g:projectname", proj.name.clone());
        c.set_normalized("g:requestedregion", proj.region.clone());
    }
    if let Some(ep) = enterprise_project {
        c.set_normalized("g:enterpriseprojectid", ep);
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

/// The percent-decoded value of `key` in a raw query string; a key given
/// twice, or a value that is not UTF-8, is an error (the upstream may read
/// either copy).
fn query_value(query: &str, key: &str) -> Result<Option<String>, RequestKeyError> {
    let decode = |text: &str| {
        percent_decode_str(text)
            .decode_utf8()
            .map(|t| t.into_owned())
    };
    let mut found = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if decode(k).ok().as_deref() != Some(key) {
            continue;
        }
        if found.is_some() {
            return Err(bad(format!("query parameter `{key}` is repeated")));
        }
        let value = decode(v).map_err(|_| bad(format!("query parameter `{key}` is not UTF-8")))?;
        found = Some(value);
    }
    Ok(found)
}

/// What the JSON request body says about condition keys, parsed once.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BodyFields {
    /// `"tags": [{"key","value"}]` or `"tags": {k: v}`.
    pub tags: Vec<(String, String)>,
    /// `"enterprise_project_id"` (used on create only).
    pub enterprise_project_id: Option<String>,
}

/// Parses the whole body. Empty (or only whitespace) → no fields; anything
/// else must be one JSON object, with no repeated `tags` or
/// `enterprise_project_id` member and no repeated tag key, else
/// [`RequestKeyError`]: the policy must see exactly what the upstream reads.
pub fn body_fields(body: &[u8]) -> Result<BodyFields, RequestKeyError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(BodyFields::default());
    }
    serde_json::from_slice::<body::TopLevel>(body)
        .map(|t| t.0)
        .map_err(|e| bad(format!("request body: {e}")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#[path = "context_tests.rs"]
mod tests;
