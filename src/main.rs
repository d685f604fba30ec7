//! The `iamgate` command line: parse arguments, call into the library, map
//! results to exit codes. No logic lives here.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgGroup, Args, Parser, Subcommand};

/// mimalloc instead of glibc malloc: the proxy allocates and frees small
/// buffers on every request from several threads, where glibc's arenas
/// showed ~15 % of the allowed path's profile (benches/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use iamgate::explain::{ContextOverride, Target, Who};
use time::OffsetDateTime;

#[derive(Parser)]
#[command(
    name = "iamgate",
    version,
    about = "Enforce cloud IAM in front of mock cloud APIs"
)]
struct Cli {
    /// Gateway configuration file.
    #[arg(long, global = true, default_value = "iamgate.toml")]
    config: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
// Parsed once at start-up: the size of the explain arguments costs nothing.
#[allow(clippy::large_enum_variant)]
enum Command {
    /// Run the gateway (the default).
    Serve,
    /// Run the bundled mock cloud upstream on its own.
    Mock {
        /// Address to listen on; port 0 picks a free port and prints it.
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: String,
        /// Folder of route files that define the mock's collections.
        #[arg(long, default_value = "routes")]
        routes: PathBuf,
        /// Policy folder whose resources.toml entries exist from the start.
        #[arg(long, value_name = "DIR")]
        policies: Option<PathBuf>,
    },
    /// Validate every file (config, routes, policies, accounts, credentials,
    /// resources) the way start-up loads them, plus lint warnings.
    ///
    /// Prints every error and warning with its place and a hint on stderr
    /// (`file:line:col: error: …`, `file#/json/pointer: warning: …`) and a
    /// one-line summary on stdout. Exit status: 0 when there is no error
    /// (warnings allowed), 1 on any error — usable in CI before a deploy.
    ///
    /// Lint warnings only `check` reports: credentials.toml readable by group
    /// or others; a condition on a key the route catalog says a named action
    /// does not support; Huawei SCPs using what the older SCP rules forbid
    /// (an Allow on a Resource other than "*", a Condition on an Allow, a
    /// wildcard not at the end of an action); a Resource or NotResource
    /// pattern that can match no resource name of the catalog.
    Check,
    /// Decide one request offline and show why, statement by statement.
    ///
    /// The principal is `--user NAME [--account ID]` or `--root --account ID`;
    /// the request is `--method M --path P` (routed with the gateway's strict
    /// rules) or `--action A [--resource URN]`. Condition keys are built as
    /// the gateway builds them; connection keys (source IP, TLS, user agent,
    /// MFA) stay absent unless given with `--context`.
    ///
    /// Exit status: 0 allowed, 2 denied (explicit or implicit deny, or the
    /// project refused), 1 on usage or load errors.
    #[command(after_long_help = EXPLAIN_EXAMPLES)]
    Explain(Box<ExplainArgs>),
    /// Learn each principal's least-privilege identity policy from a
    /// decision log: exactly the actions and resources its requests needed.
    ///
    /// Writes `<out>/<cloud>/identity/learned-<account>-<user>.json` and
    /// `<out>/learned-summary.json`; with `--policies BASE`, `<out>` becomes
    /// a complete tree (BASE copied, learned users attached to their learned
    /// policy only) that `iamgate check`, `serve` and `replay` load.
    /// Exit status: 0 written, 1 on errors.
    Learn(LearnArgs),
    /// Re-decide every request of a decision log against another policy
    /// tree and report what changed: newly denied, newly allowed, reason
    /// changed, undecidable (a key the log did not record).
    ///
    /// Exit status: 0 nothing changed, 3 something changed, 1 on errors.
    Replay(ReplayArgs),
    /// Which catalog actions and SDK operations a decision log exercised,
    /// by whom, allowed or denied, which were never called, and what each
    /// user is granted but never used.
    Coverage(CoverageArgs),
    /// Which (principal, action) pairs gain or lose access from one policy
    /// tree to another.
    ///
    /// OLD_DIR and NEW_DIR are policy folders (what `policies` names in the
    /// config), loaded with the same routes (`--routes`, else the config's).
    /// An action counts as granted when it is allowed, with no condition
    /// key, on its catalog resource with the wildcard id in the principal's
    /// account and regions. Exit status: 0 nothing changed, 3 access
    /// changed, 1 a tree did not load.
    Diff(DiffArgs),
}

#[derive(Args)]
struct DiffArgs {
    /// The policy folder before the change.
    #[arg(value_name = "OLD_DIR")]
    old: PathBuf,
    /// The policy folder after the change.
    #[arg(value_name = "NEW_DIR")]
    new: PathBuf,
    /// Route folder for both trees instead of the config's.
    #[arg(long, value_name = "DIR")]
    routes: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Compare at most this many (principal, action) pairs.
    #[arg(long, default_value_t = 1_000_000)]
    max_pairs: usize,
    /// List at most this many changes (the rest are counted).
    #[arg(long, default_value_t = 1_000)]
    max_listed: usize,
}

#[derive(Args)]
struct LearnArgs {
    /// The decision log (`-` reads stdin).
    log: PathBuf,
    /// Where to write the learned policies.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// A policy tree to copy into --out with learned users re-attached.
    #[arg(long, value_name = "DIR")]
    policies: Option<PathBuf>,
    /// Learn only this principal (its URN).
    #[arg(long, value_name = "URN")]
    principal: Option<String>,
    /// Also learn conditions: a StringEquals on each tag or enterprise
    /// project key that had one value in every request of a statement.
    #[arg(long)]
    conditions: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct ReplayArgs {
    /// The decision log (`-` reads stdin).
    log: PathBuf,
    /// The policy tree to decide against.
    #[arg(long, value_name = "DIR")]
    policies: PathBuf,
    /// The route folder (default: the config's, else `routes`).
    #[arg(long, value_name = "DIR")]
    routes: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct CoverageArgs {
    /// The decision log (`-` reads stdin).
    log: PathBuf,
    /// The policy tree (default: the config's, else `policies`).
    #[arg(long, value_name = "DIR")]
    policies: Option<PathBuf>,
    /// The route folder (default: the config's, else `routes`).
    #[arg(long, value_name = "DIR")]
    routes: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// `--routes` / `--policies`, else the config's folders, else the defaults.
fn dirs(
    config: &std::path::Path,
    routes: Option<PathBuf>,
    policies: Option<PathBuf>,
) -> (PathBuf, PathBuf) {
    let loaded = iamgate::config::Config::load(config).ok();
    let routes = routes
        .or_else(|| loaded.as_ref().map(|c| c.routes_dir.clone()))
        .unwrap_or_else(|| "routes".into());
    let policies = policies
        .or_else(|| loaded.as_ref().map(|c| c.policies_dir.clone()))
        .unwrap_or_else(|| "policies".into());
    (routes, policies)
}

const EXPLAIN_EXAMPLES: &str = "Examples:
  iamgate explain --user operator --method DELETE --path /v2/p-acme-cn4/pools/p1
  iamgate explain --user reader --action modelarts:notebook:get \\
      --resource modelarts:cn-north-4:acme0001:notebook:nb1 --json
  iamgate explain --user tagger --method PUT --path /v1/p-acme-cn4/notebooks/nb-red \\
      --context g:ResourceTag/team=blue --context 'g:TagKeys=[\"team\"]' --now 2026-01-01T00:00:00Z";

#[derive(Args)]
#[command(group(ArgGroup::new("principal").required(true).args(["user", "root", "role", "agency"])))]
#[command(group(ArgGroup::new("request").required(true).args(["method", "action"])))]
struct ExplainArgs {
    /// The user asking (a user name from accounts.toml).
    #[arg(long)]
    user: Option<String>,
    /// The account's root identity (needs --account).
    #[arg(long, requires = "account")]
    root: bool,
    /// Account id: narrows --user, names the account for --root.
    #[arg(long)]
    account: Option<String>,
    /// A session of this RAM role (as AssumeRole makes it; names ignore case).
    #[arg(long)]
    role: Option<String>,
    /// A session policy (JSON file) for --role: it can only narrow the role.
    #[arg(long, value_name = "FILE", requires = "role")]
    session_policy: Option<PathBuf>,
    /// HTTP method of the request (with --path).
    #[arg(long, requires = "path")]
    method: Option<String>,
    /// Request path, e.g. /v2/p-acme-cn4/pools/p1 (a ?query is allowed).
    #[arg(long, requires = "method")]
    path: Option<String>,
    /// An action, like a policy simulator, e.g. modelarts:notebook:get.
    #[arg(long, conflicts_with_all = ["method", "path"])]
    action: Option<String>,
    /// The resource URN/ARN for --action.
    #[arg(long, value_name = "URN", requires = "action", default_value = "*")]
    resource: String,
    /// Add or override a condition key: key=value, or key=["a","b"] for a
    /// multi-valued key (repeatable).
    #[arg(long = "context", value_name = "KEY=VALUE", value_parser = iamgate::explain::parse_context)]
    context: Vec<ContextOverride>,
    /// The time of the request (g:CurrentTime / acs:CurrentTime), RFC 3339;
    /// default: now.
    #[arg(long, value_name = "RFC3339", value_parser = iamgate::explain::parse_time)]
    now: Option<OffsetDateTime>,
    /// Another policy tree instead of the config's.
    #[arg(long, value_name = "DIR")]
    policies: Option<PathBuf>,
    /// Another route folder instead of the config's.
    #[arg(long, value_name = "DIR")]
    routes: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// A Huawei agency (accounts.toml): the decision for one of its sessions.
    #[arg(long)]
    agency: Option<String>,
    /// The session name of --agency (in the principal URN).
    #[arg(long, requires = "agency", default_value = "explain")]
    session: String,
}

impl ExplainArgs {
    fn into_options(self, config: PathBuf) -> iamgate::explain::Options {
        let who = match (self.root, self.account.clone(), self.agency) {
            (_, account, Some(name)) => Who::Agency {
                name,
                account,
                session: self.session,
            },
            (true, Some(account), None) => Who::Root { account },
            _ if self.role.is_some() => Who::Role {
                name: self.role.clone().unwrap_or_default(),
                account: self.account.clone(),
                session_policy: self.session_policy.clone(),
            },
            _ => Who::User {
                name: self.user.unwrap_or_default(),
                account: self.account,
            },
        };
        let target = match (self.action, self.method, self.path) {
            (Some(action), _, _) => Target::Action {
                action,
                resource: self.resource,
            },
            (None, method, path) => Target::Route {
                method: method.unwrap_or_default(),
                path: path.unwrap_or_default(),
            },
        };
        iamgate::explain::Options {
            config,
            policies: self.policies,
            routes: self.routes,
            who,
            target,
            context: self.context,
            now: self.now.unwrap_or_else(OffsetDateTime::now_utc),
            json: self.json,
        }
    }
}

fn main() -> ExitCode {
    // Usage errors exit 1 (2 means "denied" for `explain`); help and version 0.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    init_tracing();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Check => ExitCode::from(iamgate::check::run(&cli.config)),
        Command::Explain(args) => {
            ExitCode::from(iamgate::explain::run(&(*args).into_options(cli.config)))
        }
        Command::Learn(a) => ExitCode::from(iamgate::learn::run(&iamgate::learn::Options {
            log: a.log,
            out: a.out,
            base: a.policies,
            principal: a.principal,
            conditions: a.conditions,
            json: a.json,
        })),
        Command::Replay(a) => {
            let (routes, _) = dirs(&cli.config, a.routes, None);
            let opts = iamgate::replay::Options {
                log: a.log,
                policies: a.policies,
                routes,
                json: a.json,
            };
            ExitCode::from(iamgate::replay::run(&opts))
        }
        Command::Coverage(a) => {
            let (routes, policies) = dirs(&cli.config, a.routes, a.policies);
            let opts = iamgate::coverage::Options {
                log: a.log,
                routes,
                policies,
                json: a.json,
            };
            ExitCode::from(iamgate::coverage::run(&opts))
        }
        Command::Serve => {
            // The worker count must be known before the runtime starts; a
            // config that does not load is reported by `serve` itself.
            let workers = iamgate::config::Config::load(&cli.config)
                .ok()
                .and_then(|c| iamgate::workers::main_runtime_threads(&c));
            run_async(iamgate::serve::serve(&cli.config), workers)
        }
        Command::Diff(args) => ExitCode::from(iamgate::access_diff::cli::run(
            &iamgate::access_diff::cli::Options {
                config: cli.config,
                old: args.old,
                new: args.new,
                routes: args.routes,
                json: args.json,
                limits: iamgate::access_diff::Limits {
                    max_pairs: args.max_pairs,
                    max_listed: args.max_listed,
                    deadline: None,
                },
            },
        )),
        Command::Mock {
            listen,
            routes,
            policies,
        } => run_async(
            iamgate::mock::run_standalone(&listen, &routes, policies.as_deref()),
            None,
        ),
    }
}

/// Logs go to stderr, coloured only when stderr is a terminal (a file or a
/// log collector gets plain text).
fn init_tracing() {
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("IAMGATE_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .init();
}

/// Run a long-lived command on a multi-threaded runtime (`workers` threads,
/// or one per core).
fn run_async(
    command: impl std::future::Future<Output = Result<(), String>>,
    workers: Option<usize>,
) -> ExitCode {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.thread_keep_alive(iamgate::memory::BLOCKING_KEEP_ALIVE);
    if let Some(n) = workers {
        builder.worker_threads(n);
    }
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("iamgate: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("iamgate: {message}");
            ExitCode::FAILURE
        }
    }
}
