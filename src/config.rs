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
    #[serde(default)]
    runtime: RuntimeFile,
    #[serde(default)]
    admin: AdminFile,
    /// `enforce` (the default) or `audit` for every request.
    #[serde(default)]
    enforce: Enforce,
    /// Per service (`modelarts = "audit"`), over the global `enforce`.
    #[serde(default)]
    enforce_services: BTreeMap<String, Enforce>,
    #[serde(default)]
    nonce_store: NonceStoreFile,
    #[serde(default)]
    console: ConsoleFile,
    /// `[otel]`: OpenTelemetry traces (needs the `otel` cargo feature).
    #[serde(default)]
    otel: Option<crate::otel_config::OtelFile>,
}

/// `[console]`: the live console on the admin listener (`GET /ui`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct ConsoleFile {
    /// Recent decisions kept in memory for the console (0: no ring, no
    /// live stream, and no per-request record when the decision log is off).
    recent: usize,
}

impl Default for ConsoleFile {
    fn default() -> Self {
        Self {
            recent: crate::console::DEFAULT_RECENT,
        }
    }
}

/// `[nonce_store]`: where ACS3 nonces are remembered. No `url`: in memory,
/// per process (the default).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct NonceStoreFile {
    /// `redis://host:port/db`: one store shared by every replica.
    url: Option<String>,
    /// Bound on one Redis call (connect included); past it the ACS3
    /// request is refused with 503.
    timeout_ms: u64,
}

impl Default for NonceStoreFile {
    fn default() -> Self {
        Self {
            url: None,
            timeout_ms: 250,
        }
    }
}

/// `[nonce_store]` with a `url`: the shared (Redis) replay store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedNonceStore {
    pub url: String,
    pub timeout: Duration,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminFile {
    /// A file holding the bearer token of the protected admin endpoints.
    token_file: Option<PathBuf>,
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
    drain_delay_ms: u64,
    nonce_capacity: usize,
    body_read_timeout_ms: u64,
    max_body_bytes_in_flight: usize,
    max_connections: usize,
    tls_handshake_timeout_ms: u64,
    idle_timeout_ms: u64,
    upstream_body_timeout_ms: u64,
    /// Live nonces one access key may hold; default 10% of the capacity.
    nonce_per_key: Option<usize>,
    resource_state_capacity: usize,
}

impl Default for LimitsFile {
    fn default() -> Self {
        LimitsFile {
            max_body_bytes: 10 * 1024 * 1024,
            max_header_bytes: 64 * 1024,
            header_read_timeout_ms: 10_000,
            upstream_timeout_ms: 30_000,
            shutdown_grace_ms: 10_000,
            drain_delay_ms: 0,
            nonce_capacity: 100_000,
            body_read_timeout_ms: 30_000,
            max_body_bytes_in_flight: 64 * 1024 * 1024,
            max_connections: 4096,
            tls_handshake_timeout_ms: 10_000,
            idle_timeout_ms: 120_000,
            upstream_body_timeout_ms: 300_000,
            nonce_per_key: None,
            resource_state_capacity: 100_000,
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
    max_wait_ms: u64,
}

impl Default for ReloadFile {
    fn default() -> Self {
        ReloadFile {
            watch: true,
            debounce_ms: 150,
            max_wait_ms: 1000,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RuntimeFile {
    /// Tokio worker threads; 0 = one per core.
    worker_threads: usize,
    model: RuntimeModel,
}

/// How `iamgate serve` spreads connections over its worker threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuntimeModel {
    /// One listener per worker (`SO_REUSEPORT`), each worker a single-threaded
    /// runtime with its own upstream pool: a request never changes thread,
    /// as in nginx's worker processes (the default).
    #[default]
    PerCore,
    /// One listener and tokio's work-stealing scheduler over all workers.
    WorkStealing,
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

/// Whether a policy denial is enforced, or only recorded (audit mode:
/// the request is forwarded and logged as `audit_deny`). Authentication
/// failures and hostile or ambiguous requests are refused in both modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Enforce {
    #[default]
    Enforce,
    Audit,
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
    /// After SIGTERM: readiness is off but the listener still accepts.
    pub drain_delay: Duration,
    pub nonce_capacity: usize,
    /// A body must arrive completely within this time (408).
    pub body_read_timeout: Duration,
    /// Request-body bytes held in memory at once, across all requests (503).
    pub max_body_bytes_in_flight: usize,
    /// Open client connections at once; further ones wait in the backlog.
    pub max_connections: usize,
    pub tls_handshake_timeout: Duration,
    /// A connection with no request for this long is closed gracefully
    /// (HTTP/2 included; HTTP/1 keep-alive idles end at the header timeout).
    pub idle_timeout: Duration,
    /// The whole upstream response body must be streamed within this time.
    pub upstream_body_timeout: Duration,
    /// Live ACS3 nonces one access key may hold (> 0).
    pub nonce_per_key: usize,
    /// Most resources the resource state tracks (`crate::state`); a create
    /// beyond it is refused rather than left untracked.
    pub resource_state_capacity: usize,
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
    /// Tokio worker threads of `iamgate serve` (`None`: one per core).
    pub worker_threads: Option<usize>,
    /// Per-core runtimes or one work-stealing runtime (`[runtime] model`).
    pub runtime_model: RuntimeModel,
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
    /// The watcher reloads at most this long after the first change, even
    /// while changes keep coming.
    pub max_wait: Duration,
    /// `[admin] token_file`: the bearer token of the protected admin
    /// endpoints (`None`: those endpoints answer only on a loopback listener).
    pub admin_token_file: Option<PathBuf>,
    /// `[nonce_store] url`: ACS3 nonces in a Redis shared by the fleet
    /// (`None`: in memory, per process).
    pub nonce_store: Option<SharedNonceStore>,
    /// The global `enforce` mode.
    pub enforce: Enforce,
    /// `[enforce_services]`: per-service modes over the global one.
    pub enforce_services: BTreeMap<String, Enforce>,
    /// `[console] recent`: decisions the console keeps (0: console ring off).
    pub console_recent: usize,
    /// `[otel]`: where request spans are exported (`None`: no tracing at all).
    pub otel: Option<crate::otel_config::OtelConfig>,
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

    /// The mode of a service: its `[enforce_services]` entry, else the
    /// global `enforce` (an account's own `enforce` overrides both).
    pub fn enforce_for(&self, service: &str) -> Enforce {
        self.enforce_services
            .get(service)
            .copied()
            .unwrap_or(self.enforce)
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
    let l = &f.limits;
    if [
        l.max_body_bytes,
        l.nonce_capacity,
        l.max_body_bytes_in_flight,
        l.max_connections,
        l.resource_state_capacity,
    ]
    .contains(&0)
    {
        err(
            "/limits",
            "max_body_bytes, nonce_capacity, max_body_bytes_in_flight, max_connections and resource_state_capacity must be positive".into(),
        );
    }
    if l.max_body_bytes_in_flight < l.max_body_bytes {
        err(
            "/limits/max_body_bytes_in_flight",
            "must be at least max_body_bytes (else the largest body could never be read)".into(),
        );
    }
    if f.limits.nonce_per_key == Some(0) {
        err("/limits/nonce_per_key", "must be positive".into());
    }
    let admin_token_file = f.admin.token_file.as_ref().map(|p| base.join(p));
    if let Some(p) = &admin_token_file {
        match crate::admin::read_token(p) {
            Ok(_) => {}
            Err(e) => err("/admin/token_file", e),
        }
    }
    if let Some(url) = &f.nonce_store.url {
        if let Err(e) = crate::identity::validate_redis_url(url) {
            err("/nonce_store/url", e);
        }
    }
    if f.nonce_store.timeout_ms == 0 {
        err("/nonce_store/timeout_ms", "must be positive".into());
    }
    let otel = f.otel.map(crate::otel_config::validate).transpose();
    let otel = otel.map_err(|(at, e)| err(at, e)).ok().flatten();
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
            drain_delay: ms(f.limits.drain_delay_ms),
            nonce_capacity: f.limits.nonce_capacity,
            body_read_timeout: ms(f.limits.body_read_timeout_ms),
            max_body_bytes_in_flight: f.limits.max_body_bytes_in_flight,
            max_connections: f.limits.max_connections,
            tls_handshake_timeout: ms(f.limits.tls_handshake_timeout_ms),
            idle_timeout: ms(f.limits.idle_timeout_ms),
            upstream_body_timeout: ms(f.limits.upstream_body_timeout_ms),
            nonce_per_key: f
                .limits
                .nonce_per_key
                .unwrap_or((f.limits.nonce_capacity / 10).max(1)),
            resource_state_capacity: f.limits.resource_state_capacity,
        },
        upstreams,
        regions: f.regions,
        decision_log,
        decision_log_capacity: f.decision_log.capacity.max(1),
        decision_log_max_bytes: Some(f.decision_log.max_bytes).filter(|&n| n > 0),
        watch: f.reload.watch,
        debounce: ms(f.reload.debounce_ms),
        worker_threads: (f.runtime.worker_threads > 0).then_some(f.runtime.worker_threads),
        runtime_model: f.runtime.model,
        max_wait: ms(f.reload.max_wait_ms.max(f.reload.debounce_ms)),
        admin_token_file,
        nonce_store: f.nonce_store.url.map(|url| SharedNonceStore {
            url,
            timeout: ms(f.nonce_store.timeout_ms),
        }),
        enforce: f.enforce,
        enforce_services: f.enforce_services,
        console_recent: f.console.recent,
        otel,
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn load_with(limits: &str) -> Result<Config, Vec<Diagnostic>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("iamgate.toml");
        let text = format!(
            "listen = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\n[limits]\n{limits}\n"
        );
        std::fs::write(&path, text).unwrap();
        Config::load(&path)
    }

    #[test]
    fn resource_state_capacity_defaults_and_must_be_positive() {
        let default = load_with("").unwrap();
        assert_eq!(default.limits.resource_state_capacity, 100_000);
        let set = load_with("resource_state_capacity = 7").unwrap();
        assert_eq!(set.limits.resource_state_capacity, 7);
        let errors = load_with("resource_state_capacity = 0").unwrap_err();
        assert!(
            format!("{errors:?}").contains("resource_state_capacity"),
            "{errors:?}"
        );
    }

    fn load(extra: &str) -> (tempfile::TempDir, Result<Config, Vec<Diagnostic>>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("iamgate.toml");
        std::fs::write(&path, format!("listen = \"127.0.0.1:0\"\n{extra}")).unwrap();
        let config = Config::load(&path);
        (dir, config)
    }

    #[test]
    fn reload_admin_and_drain_defaults() {
        let (_dir, config) = load("");
        let config = config.unwrap();
        assert_eq!(config.max_wait, Duration::from_millis(1000));
        assert_eq!(config.limits.drain_delay, Duration::ZERO);
        assert_eq!(config.admin_token_file, None);
    }

    #[test]
    fn new_keys_are_read() {
        let (dir, config) = load(
            "[reload]\ndebounce_ms = 100\nmax_wait_ms = 700\n[limits]\ndrain_delay_ms = 2500\n",
        );
        let config = config.unwrap();
        assert_eq!(config.max_wait, Duration::from_millis(700));
        assert_eq!(config.limits.drain_delay, Duration::from_millis(2500));
        drop(dir);
        // max_wait never undercuts the debounce.
        let (_dir, config) = load("[reload]\ndebounce_ms = 300\nmax_wait_ms = 10\n");
        assert_eq!(config.unwrap().max_wait, Duration::from_millis(300));
    }

    #[test]
    fn audit_mode_globally_and_per_service() {
        let (_dir, config) = load("");
        assert_eq!(config.unwrap().enforce_for("modelarts"), Enforce::Enforce);
        let (_dir, config) =
            load("enforce = \"audit\"\n[enforce_services]\nagentrun = \"enforce\"\n");
        let config = config.unwrap();
        assert_eq!(config.enforce_for("modelarts"), Enforce::Audit);
        assert_eq!(config.enforce_for("agentrun"), Enforce::Enforce);
        let (_dir, config) = load("[enforce_services]\nmodelarts = \"audit\"\n");
        assert_eq!(config.unwrap().enforce_for("modelarts"), Enforce::Audit);
        let (_dir, config) = load("enforce = \"warn\"\n");
        assert!(config.is_err());
    }

    #[test]
    fn the_token_file_must_be_readable_and_non_empty() {
        let (dir, config) = load("[admin]\ntoken_file = \"token\"\n");
        let errors = config.unwrap_err();
        assert!(errors[0].to_string().contains("token"), "{}", errors[0]);
        std::fs::write(dir.path().join("token"), "s3cret\n").unwrap();
        let config = Config::load(&dir.path().join("iamgate.toml")).unwrap();
        assert_eq!(config.admin_token_file, Some(dir.path().join("token")));
    }

    #[test]
    fn the_console_ring_is_on_by_default_and_zero_turns_it_off() {
        let (_dir, config) = load("");
        assert_eq!(
            config.unwrap().console_recent,
            crate::console::DEFAULT_RECENT
        );
        let (_dir, config) = load("[console]\nrecent = 0\n");
        assert_eq!(config.unwrap().console_recent, 0);
        let (_dir, config) = load("[console]\nrecnet = 5\n");
        assert!(config.is_err());
    }
}
