//! `iamgate.toml`: a serde mirror (unknown keys are errors) turned into a
//! validated `Config`. Paths are relative to the config file's folder.
//! Validation happens before any port is bound.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

use crate::diag::{self, Diagnostic, Place};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    listen: String,
    #[serde(default = "default_admin")]
    admin_listen: String,
    #[serde(default = "default_routes")]
    routes: PathBuf,
    #[serde(default = "default_policies")]
    policies: PathBuf,
    #[serde(default)]
    unmapped: UnmappedPolicy,
    #[serde(default)]
    debug_headers: bool,
    #[serde(default)]
    trusted_proxies: Vec<String>,
    #[serde(default)]
    tls: Option<TlsFile>,
    #[serde(default)]
    limits: LimitsFile,
    #[serde(default)]
    upstreams: BTreeMap<String, String>,
    /// Alibaba services take their region from here (`agentrun = "cn-hangzhou"`).
    #[serde(default)]
    regions: BTreeMap<String, String>,
    #[serde(default)]
    decision_log: DecisionLogFile,
    #[serde(default)]
    reload: ReloadFile,
}

fn default_admin() -> String {
    "127.0.0.1:9090".into()
}
fn default_routes() -> PathBuf {
    "routes".into()
}
fn default_policies() -> PathBuf {
    "policies".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsFile {
    cert: PathBuf,
    key: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct LimitsFile {
    max_body_bytes: usize,
    max_header_bytes: usize,
    header_read_timeout_ms: u64,
    upstream_timeout_ms: u64,
    shutdown_grace_ms: u64,
    nonce_capacity: usize,
}

impl Default for LimitsFile {
    fn default() -> Self {
        LimitsFile {
            max_body_bytes: 10 * 1024 * 1024,
            max_header_bytes: 64 * 1024,
            header_read_timeout_ms: 10_000,
            upstream_timeout_ms: 30_000,
            shutdown_grace_ms: 10_000,
            nonce_capacity: 100_000,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct DecisionLogFile {
    /// `off`, `stdout`, or a file path.
    target: String,
    capacity: usize,
    /// Rotate a file target to `<file>.1` past this size; 0 = never.
    max_bytes: u64,
}

impl Default for DecisionLogFile {
    fn default() -> Self {
        DecisionLogFile {
            target: "off".into(),
            capacity: 10_000,
            max_bytes: 0,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct ReloadFile {
    watch: bool,
    debounce_ms: u64,
}

impl Default for ReloadFile {
    fn default() -> Self {
        ReloadFile {
            watch: true,
            debounce_ms: 150,
        }
    }
}

/// What to do with a known SDK operation that has no action in the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnmappedPolicy {
    /// 404, like an unknown route (the default).
    #[default]
    Deny,
    /// Forward after authentication, without a policy decision (logged loudly).
    Forward,
}

/// Where a service's requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upstream {
    /// The bundled mock, started in-process.
    BuiltinMock,
    /// `http://host:port` (scheme, authority; no path).
    Url(http::Uri),
}

#[derive(Debug, Clone)]
pub struct Tls {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub max_header_bytes: usize,
    pub header_read_timeout: Duration,
    pub upstream_timeout: Duration,
    pub shutdown_grace: Duration,
    pub nonce_capacity: usize,
}

/// Where decision-log lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecisionLogTarget {
    Off,
    Stdout,
    File(PathBuf),
}

/// The validated gateway configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub listen: SocketAddr,
    pub admin_listen: SocketAddr,
    pub routes_dir: PathBuf,
    pub policies_dir: PathBuf,
    pub unmapped: UnmappedPolicy,
    pub debug_headers: bool,
    pub trusted_proxies: Vec<IpNet>,
    pub tls: Option<Tls>,
    pub limits: Limits,
    pub upstreams: BTreeMap<String, Upstream>,
    pub regions: BTreeMap<String, String>,
    pub decision_log: DecisionLogTarget,
    pub decision_log_capacity: usize,
    /// `[decision_log] max_bytes`; `None` when 0 (no size-based rotation).
    pub decision_log_max_bytes: Option<u64>,
    pub watch: bool,
    pub debounce: Duration,
}

impl Config {
    /// Read and validate; every problem at once.
    pub fn load(path: &Path) -> Result<Config, Vec<Diagnostic>> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            vec![Diagnostic::error(
                path,
                Place::File,
                format!("cannot read: {e}"),
            )]
        })?;
        let file: ConfigFile =
            toml::from_str(&text).map_err(|e| vec![diag::from_toml_error(path, &text, &e)])?;
        validate(path, file)
    }

    /// Region of an Alibaba service (`[regions]`), if configured.
    pub fn region(&self, service: &str) -> Option<&str> {
        self.regions.get(service).map(String::as_str)
    }
}

fn validate(path: &Path, f: ConfigFile) -> Result<Config, Vec<Diagnostic>> {
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut errors = Vec::new();
    let mut err = |at: &str, msg: String| {
        errors.push(Diagnostic::error(path, Place::Pointer(at.into()), msg))
    };
    let addr = |s: &str| {
        s.parse::<SocketAddr>()
            .map_err(|e| format!("`{s}` is not host:port ({e})"))
    };
    let listen = addr(&f.listen).map_err(|e| err("/listen", e)).ok();
    let admin_listen = addr(&f.admin_listen)
        .map_err(|e| err("/admin_listen", e))
        .ok();
    let mut trusted = Vec::new();
    for (i, t) in f.trusted_proxies.iter().enumerate() {
        let net = t
            .parse::<IpNet>()
            .ok()
            .or_else(|| t.parse::<IpAddr>().ok().map(IpNet::from));
        match net {
            Some(n) => trusted.push(n),
            None => err(
                &format!("/trusted_proxies/{i}"),
                format!("`{t}` is not an IP or CIDR"),
            ),
        }
    }
    let mut upstreams = BTreeMap::new();
    for (name, u) in &f.upstreams {
        match parse_upstream(u) {
            Ok(up) => {
                upstreams.insert(name.clone(), up);
            }
            Err(e) => err(&format!("/upstreams/{name}"), e),
        }
    }
    if f.limits.max_body_bytes == 0 || f.limits.nonce_capacity == 0 {
        err(
            "/limits",
            "max_body_bytes and nonce_capacity must be positive".into(),
        );
    }
    let decision_log = match f.decision_log.target.as_str() {
        "off" | "" => DecisionLogTarget::Off,
        "stdout" => DecisionLogTarget::Stdout,
        p => DecisionLogTarget::File(base.join(p)),
    };
    let (Some(listen), Some(admin_listen), true) = (listen, admin_listen, errors.is_empty()) else {
        return Err(errors);
    };
    let ms = Duration::from_millis;
    Ok(Config {
        path: path.to_path_buf(),
        listen,
        admin_listen,
        routes_dir: base.join(&f.routes),
        policies_dir: base.join(&f.policies),
        unmapped: f.unmapped,
        debug_headers: f.debug_headers,
        trusted_proxies: trusted,
        tls: f.tls.map(|t| Tls {
            cert: base.join(t.cert),
            key: base.join(t.key),
        }),
        limits: Limits {
            max_body_bytes: f.limits.max_body_bytes,
            max_header_bytes: f.limits.max_header_bytes,
            header_read_timeout: ms(f.limits.header_read_timeout_ms),
            upstream_timeout: ms(f.limits.upstream_timeout_ms),
            shutdown_grace: ms(f.limits.shutdown_grace_ms),
            nonce_capacity: f.limits.nonce_capacity,
        },
        upstreams,
        regions: f.regions,
        decision_log,
        decision_log_capacity: f.decision_log.capacity.max(1),
        decision_log_max_bytes: Some(f.decision_log.max_bytes).filter(|&n| n > 0),
        watch: f.reload.watch,
        debounce: ms(f.reload.debounce_ms),
    })
}

fn parse_upstream(u: &str) -> Result<Upstream, String> {
    if u == "builtin:mock" {
        return Ok(Upstream::BuiltinMock);
    }
    let uri: http::Uri = u.parse().map_err(|e| format!("`{u}` is not a URL ({e})"))?;
    match (uri.scheme_str(), uri.authority(), uri.path()) {
        (Some("http"), Some(_), "/" | "") => Ok(Upstream::Url(uri)),
        _ => Err(format!("`{u}`: expected builtin:mock or http://host:port")),
    }
}
