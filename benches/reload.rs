//! What a reload costs at scale. A seeded tree is generated in a temp folder:
//! 10 Huawei accounts × 1,000 users = 10,000 users, each with its own
//! identity policy (10,000 policy files of 5 statements), an access key per
//! user, 5 groups per account, an organisation with 3 levels (root → OU → OU
//! → accounts, each level with an SCP), and the repository's route files.
//!
//! Measured with criterion: `Snapshot::load_dirs(routes, policies, None)`
//! (read + parse + compile + validate + digest), beside its baseline, the
//! time to just `std::fs::read` every file of the tree. Then, outside
//! criterion: the ratio of the two (medians, baseline / iamgate), the RSS growth of this process
//! while one loaded snapshot is alive, and the real gateway binary started on
//! the generated tree vs on the sample `policies/` (time to `listening on`,
//! VmRSS idle, `POST /-/reload` round trip, VmRSS/VmHWM after reloads and
//! once idle again), each idle RSS against issue 9's bound of 2 × policy
//! bytes + 30 MiB.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt::Write as _;
use std::hint::black_box;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use criterion::Criterion;
use iamgate::access_diff::{diff, Limits};
use iamgate::directory::cache::Reread;
use iamgate::snapshot::Snapshot;

/// The gateway's allocator (src/main.rs), so that load times and RSS here
/// are the gateway's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ACCOUNTS: usize = 10;
const USERS_PER_ACCOUNT: usize = 1_000;
const GROUPS_PER_ACCOUNT: usize = 5;

// ---- the generated tree ---------------------------------------------------

/// splitmix64, seeded: every run generates the same tree.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const TYPES: &[&str] = &[
    "notebook",
    "training-job",
    "model",
    "service",
    "dataset",
    "pool",
    "image",
    "algorithm",
    "node",
    "workflow",
];
const VERBS: &[&str] = &["get", "list", "create", "update", "delete", "start", "stop"];
const TEAMS: &[&str] = &["ml-platform", "cv", "nlp", "speech"];
const NETS: &[&str] = &["10.0.0.0/8", "192.168.0.0/16", "172.16.0.0/12"];

fn statement(rng: &mut Rng, sid: usize) -> String {
    let ty = rng.pick(TYPES);
    let resource = match rng.below(3) {
        0 => r#""*""#.to_string(),
        1 => format!(r#""modelarts:*:*:{ty}:*""#),
        _ => format!(r#""modelarts:*:*:{ty}:{ty}-{}""#, rng.below(40)),
    };
    match rng.below(10) {
        0..=4 => {
            let actions: Vec<String> = (0..1 + rng.below(3))
                .map(|_| format!(r#""modelarts:{ty}:{}""#, rng.pick(VERBS)))
                .collect();
            let cond = if rng.below(3) == 0 {
                format!(
                    r#","Condition":{{"StringEquals":{{"g:ResourceTag/team":["{}"]}}}}"#,
                    rng.pick(TEAMS)
                )
            } else {
                String::new()
            };
            format!(
                r#"{{"Sid":"S{sid}","Effect":"Allow","Action":[{}],"Resource":[{resource}]{cond}}}"#,
                actions.join(",")
            )
        }
        5..=7 => format!(
            r#"{{"Sid":"S{sid}","Effect":"Allow","Action":["modelarts:*:get*","modelarts:*:list*"],"Resource":["*"],"Condition":{{"IpAddress":{{"g:SourceIp":["{}"]}}}}}}"#,
            rng.pick(NETS)
        ),
        _ => format!(
            r#"{{"Sid":"S{sid}","Effect":"Deny","Action":["modelarts:{ty}:delete"],"Resource":["modelarts:*:*:{ty}:{ty}-prod-*"]}}"#
        ),
    }
}

fn policy_doc(rng: &mut Rng) -> String {
    let statements: Vec<String> = (0..5).map(|i| statement(rng, i)).collect();
    format!(
        "{{\n  \"Version\": \"5.0\",\n  \"Statement\": [\n    {}\n  ]\n}}\n",
        statements.join(",\n    ")
    )
}

fn scp(action: &str) -> String {
    format!(
        r#"{{"Version":"5.0","Statement":[{{"Effect":"Deny","Action":["{action}"],"Resource":"*"}}]}}"#
    )
}

/// Write the tree under `root`; returns (routes dir, policies dir).
fn generate(root: &Path) -> (PathBuf, PathBuf) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let routes = root.join("routes");
    std::fs::create_dir_all(&routes).unwrap();
    for entry in std::fs::read_dir(repo.join("routes")).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            std::fs::copy(&p, routes.join(p.file_name().unwrap())).unwrap();
        }
    }
    let policies = root.join("policies");
    let identity = policies.join("huawei/identity");
    let scps = policies.join("huawei/scp");
    std::fs::create_dir_all(&identity).unwrap();
    std::fs::create_dir_all(&scps).unwrap();
    std::fs::write(
        scps.join("DenyPoolDelete.json"),
        scp("modelarts:pool:delete"),
    )
    .unwrap();
    std::fs::write(
        scps.join("DenyServiceDelete.json"),
        scp("modelarts:service:delete"),
    )
    .unwrap();
    std::fs::write(
        scps.join("DenyNodeDelete.json"),
        scp("modelarts:node:delete"),
    )
    .unwrap();

    let mut rng = Rng(0x1a2b_3c4d);
    let mut accounts = String::from(
        "[[organization]]\ncloud = \"huawei\"\nid = \"o-bench\"\nroot = \"r-bench\"\n\
         policies = [\"FullAccess\", \"DenyPoolDelete\"]\n\n\
         [[organization.unit]]\nid = \"ou-prod\"\nparent = \"r-bench\"\n\
         policies = [\"FullAccess\", \"DenyServiceDelete\"]\n\n\
         [[organization.unit]]\nid = \"ou-prod-ml\"\nparent = \"ou-prod\"\n\
         policies = [\"FullAccess\", \"DenyNodeDelete\"]\n\n",
    );
    let mut creds = String::new();
    for a in 0..ACCOUNTS {
        let account = format!("bench{a:04}");
        write!(
            accounts,
            "[[account]]\nid = \"{account}\"\nname = \"{account}\"\ncloud = \"huawei\"\nparent = \"ou-prod-ml\"\n\n\
             [[account.project]]\nid = \"p-{account}-cn4\"\nname = \"cn-north-4\"\nregion = \"cn-north-4\"\n\n"
        )
        .unwrap();
        for g in 0..GROUPS_PER_ACCOUNT {
            // Groups share some users' policies.
            let shared = a * USERS_PER_ACCOUNT + g * 7;
            write!(
                accounts,
                "[[account.group]]\nname = \"group-{g}\"\npolicies = [\"pol-{shared:05}\"]\n\n"
            )
            .unwrap();
        }
        for u in 0..USERS_PER_ACCOUNT {
            let n = a * USERS_PER_ACCOUNT + u;
            std::fs::write(
                identity.join(format!("pol-{n:05}.json")),
                policy_doc(&mut rng),
            )
            .unwrap();
            write!(
                accounts,
                "[[account.user]]\nname = \"user-{n:05}\"\npolicies = [\"pol-{n:05}\"]\ngroups = [\"group-{}\"]\ntags = {{ team = \"{}\" }}\n\n",
                u % GROUPS_PER_ACCOUNT,
                TEAMS[u % TEAMS.len()]
            )
            .unwrap();
            write!(
                creds,
                "[[access_key]]\nid = \"HWBENCH{n:013}\"\nsecret = \"bench-secret-{n:05}-not-real\"\naccount = \"{account}\"\nuser = \"user-{n:05}\"\n\n"
            )
            .unwrap();
        }
    }
    std::fs::write(policies.join("accounts.toml"), accounts).unwrap();
    std::fs::write(policies.join("credentials.toml"), creds).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(
            policies.join("credentials.toml"),
            std::fs::Permissions::from_mode(0o600),
        );
    }
    (routes, policies)
}

/// Every regular file under `dir`, recursively.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// The baseline: list the tree and read every file.
fn read_all(dirs: &[&Path]) -> usize {
    let mut list = Vec::new();
    for d in dirs {
        files(d, &mut list);
    }
    list.iter().map(|p| std::fs::read(p).unwrap().len()).sum()
}

fn load(routes: &Path, policies: &Path) -> Snapshot {
    match Snapshot::load_dirs(routes, policies, None) {
        Ok(s) => s,
        Err(errors) => {
            for e in &errors {
                eprintln!("{e}");
            }
            panic!("the generated tree does not load ({} errors)", errors.len());
        }
    }
}

/// A reload reusing `live`'s compiled policy files; `reread` as SIGHUP's
/// (every file) or the watcher's (the files it named).
fn reload(routes: &Path, policies: &Path, live: &Snapshot, reread: Reread<'_>) -> Snapshot {
    let compiled = &live.directory.compiled;
    Snapshot::load_dirs_reusing(routes, policies, None, compiled, reread).unwrap()
}

/// The file [`OneFile`] changes, as the watcher names it.
fn one_file_named() -> std::collections::BTreeSet<PathBuf> {
    [PathBuf::from(ONE_FILE)].into()
}

const ONE_FILE: &str = "huawei/identity/pol-00042.json";

/// One identity policy file, changed back and forth (a Sid renamed).
struct OneFile {
    path: PathBuf,
    original: String,
    changed: bool,
}

impl OneFile {
    fn new(policies: &Path) -> OneFile {
        let path = policies.join(ONE_FILE);
        let original = std::fs::read_to_string(&path).unwrap();
        OneFile {
            path,
            original,
            changed: false,
        }
    }

    fn flip(&mut self) {
        self.changed = !self.changed;
        let text = if self.changed {
            self.original.replacen("\"S0\"", "\"S0changed\"", 1)
        } else {
            self.original.clone()
        };
        std::fs::write(&self.path, text).unwrap();
    }

    fn restore(&mut self) {
        std::fs::write(&self.path, &self.original).unwrap();
        self.changed = false;
    }
}

// ---- memory and the real gateway ----------------------------------------

/// A `/proc/<pid>/status` field in KiB (`VmRSS`, `VmHWM`).
fn status_kib(pid: &str, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

struct Gateway {
    child: Child,
    admin: String,
    started_in: Duration,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start the real binary on `routes` + `policies` (built-in mock upstream,
/// port 0, no watcher) and wait for both `listening on` lines.
fn start_gateway(dir: &Path, routes: &Path, policies: &Path, env: &[(&str, &str)]) -> Gateway {
    start_gateway_with(dir, routes, policies, env, "watch = false")
}

/// [`start_gateway`] with this `[reload]` section.
fn start_gateway_with(
    dir: &Path,
    routes: &Path,
    policies: &Path,
    env: &[(&str, &str)],
    reload: &str,
) -> Gateway {
    let config = dir.join("iamgate.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\nroutes = \"{}\"\npolicies = \"{}\"\n\
             [upstreams]\nmodelarts = \"builtin:mock\"\nagentrun = \"builtin:mock\"\n\
             [regions]\nagentrun = \"cn-hangzhou\"\n[reload]\n{reload}\n",
            routes.display(),
            policies.display()
        ),
    )
    .unwrap();
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_iamgate"))
        .args(["serve", "--config"])
        .arg(&config)
        .env("IAMGATE_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut admin = None;
    let mut seen = 0;
    while seen < 2 {
        let line = lines
            .next()
            .expect("the gateway exited before listening")
            .unwrap();
        if let Some(addr) = line.strip_prefix("admin listening on ") {
            admin = Some(addr.to_string());
        }
        if line.contains("listening on ") {
            seen += 1;
        }
    }
    Gateway {
        child,
        admin: admin.unwrap(),
        started_in: started.elapsed(),
    }
}

/// The live snapshot's digest, from `GET /-/snapshot`.
fn live_digest(admin: &str) -> String {
    let mut s = TcpStream::connect(admin).unwrap();
    s.write_all(b"GET /-/snapshot HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    let body = reply.split_once("\r\n\r\n").unwrap().1;
    let doc: serde_json::Value = serde_json::from_str(body).unwrap();
    doc["digest"].as_str().unwrap().to_string()
}

/// File change → new snapshot enforced, through the real watcher: write
/// one policy file, poll `/-/snapshot` every millisecond until its digest
/// changes. `n` changes; the median.
fn watched_changes(gw: &Gateway, policies: &Path, n: usize) -> Duration {
    let mut flip = OneFile::new(policies);
    let mut times = Vec::new();
    for _ in 0..n {
        // Reloads run one at a time and each finishes with its access diff
        // (up to ACCESS_DIFF_BUDGET after publishing): start from quiet.
        std::thread::sleep(Duration::from_millis(2500));
        let before = live_digest(&gw.admin);
        let t = Instant::now();
        flip.flip();
        while live_digest(&gw.admin) == before {
            assert!(t.elapsed() < Duration::from_secs(20), "no reload seen");
            std::thread::sleep(Duration::from_millis(1));
        }
        times.push(t.elapsed());
    }
    flip.restore();
    median(times)
}

/// `POST /-/reload` over a plain socket; returns the round trip.
fn post_reload(admin: &str) -> Duration {
    let started = Instant::now();
    let mut s = TcpStream::connect(admin).unwrap();
    s.write_all(
        b"POST /-/reload HTTP/1.1\r\nHost: admin\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    started.elapsed()
}

fn main() {
    let tmp = tempfile::tempdir().unwrap();
    let generated = Instant::now();
    let (routes, policies) = generate(tmp.path());
    let bytes = read_all(&[&routes, &policies]);
    // RSS growth of this process while one snapshot is alive (measured first,
    // before other loads have grown the heap).
    let before = status_kib("self", "VmRSS");
    let first = load(&routes, &policies);
    let after = status_kib("self", "VmRSS");
    println!(
        "this process: VmRSS {:.1} MiB before load, {:.1} MiB with the snapshot alive (+{:.1} MiB)",
        mib(before),
        mib(after),
        mib(after.saturating_sub(before))
    );
    println!(
        "generated tree: {} policies, {} principals, {} routes, {:.1} MiB of files, in {:.2?}",
        first.policy_count(),
        first.principal_count(),
        first.routes.route_count(),
        bytes as f64 / 1048576.0,
        generated.elapsed()
    );
    drop(first);

    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8))
        .configure_from_args();
    {
        let mut g = c.benchmark_group("reload_10k_users_10k_policies");
        g.bench_function("read_files_baseline", |b| {
            b.iter(|| black_box(read_all(&[&routes, &policies])))
        });
        g.bench_function("snapshot_load_dirs", |b| {
            b.iter(|| black_box(load(&routes, &policies)))
        });
        // A reload after one policy file changed: every file is read and the
        // snapshot rebuilt, but only the changed file is parsed again.
        let live = load(&routes, &policies);
        let mut flip = OneFile::new(&policies);
        g.bench_function("snapshot_reload_one_file_changed", |b| {
            b.iter(|| {
                flip.flip();
                black_box(reload(&routes, &policies, &live, Reread::All))
            })
        });
        // The watcher's reload: the changed file named, the others `stat`ed.
        let named = one_file_named();
        g.bench_function("snapshot_reload_one_file_named", |b| {
            b.iter(|| {
                flip.flip();
                black_box(reload(&routes, &policies, &live, Reread::Only(&named)))
            })
        });
        flip.restore();
        g.finish();
    }
    c.final_summary();

    // The ratio, from our own medians (criterion keeps its estimates to itself).
    let read = median(
        (0..7)
            .map(|_| {
                let t = Instant::now();
                black_box(read_all(&[&routes, &policies]));
                t.elapsed()
            })
            .collect(),
    );
    let loads = median(
        (0..7)
            .map(|_| {
                let t = Instant::now();
                black_box(load(&routes, &policies));
                t.elapsed()
            })
            .collect(),
    );
    let live = load(&routes, &policies);
    let mut flip = OneFile::new(&policies);
    let named = one_file_named();
    let mut timed_reloads = |reread: Reread<'_>| {
        median(
            (0..7)
                .map(|_| {
                    flip.flip();
                    let t = Instant::now();
                    black_box(reload(&routes, &policies, &live, reread));
                    t.elapsed()
                })
                .collect(),
        )
    };
    let reloads_one = timed_reloads(Reread::All);
    let watched_one = timed_reloads(Reread::Only(&named));
    println!(
        "median: reload with one policy file changed {reloads_one:.2?} (full load {loads:.2?}, {:.1}x faster); \
         the watcher's reload of it (file named, the others stat'ed) {watched_one:.2?} ({:.1}x faster than the full load)",
        loads.as_secs_f64() / reloads_one.as_secs_f64(),
        loads.as_secs_f64() / watched_one.as_secs_f64()
    );
    // The access diff a reload runs after publishing, against the reload
    // (principals whose compiled policies are the very same are skipped)
    // and, as the baseline, against a load from scratch (nothing shared:
    // every pair decided). Same answer, no limits.
    flip.flip();
    let reloaded = reload(&routes, &policies, &live, Reread::All);
    let scratch = load(&routes, &policies);
    let regions = Default::default();
    let unlimited = Limits {
        max_pairs: usize::MAX,
        ..Limits::default()
    };
    let timed = |new: &Snapshot| {
        let t = Instant::now();
        let d = diff(&live, new, &regions, &unlimited);
        (t.elapsed(), d)
    };
    let ((shared, by_reload), (full, by_scratch)) = (timed(&reloaded), timed(&scratch));
    assert_eq!(by_reload, by_scratch);
    println!(
        "access diff after that reload: {shared:.2?}, against a load sharing nothing {full:.2?} \
         ({} pairs, baseline/iamgate {:.0})",
        by_reload.pairs_total,
        full.as_secs_f64() / shared.as_secs_f64()
    );
    drop((reloaded, scratch));
    flip.restore();
    drop(live);
    // One direction everywhere: baseline / iamgate (< 1: iamgate costs more
    // than the baseline, here because it parses and compiles what it reads).
    let mib_read = bytes as f64 / 1048576.0;
    println!(
        "median: load_dirs {loads:.2?} ({:.1} ms/MiB), read files {read:.2?} ({:.1} ms/MiB), \
         baseline/iamgate {:.2}",
        loads.as_secs_f64() * 1e3 / mib_read,
        read.as_secs_f64() * 1e3 / mib_read,
        read.as_secs_f64() / loads.as_secs_f64()
    );

    // The real gateway: sample tree (baseline) vs the generated tree.
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let base_dir = tmp.path().join("gw-sample");
    let big_dir = tmp.path().join("gw-10k");
    std::fs::create_dir_all(&base_dir).unwrap();
    std::fs::create_dir_all(&big_dir).unwrap();
    let sample = start_gateway(&base_dir, &repo.join("routes"), &repo.join("policies"), &[]);
    settle();
    let pid = sample.child.id().to_string();
    let sample_rss = status_kib(&pid, "VmRSS");
    let sample_reload = median((0..5).map(|_| post_reload(&sample.admin)).collect());
    let sample_started = sample.started_in;
    drop(sample);

    let big = start_gateway(&big_dir, &routes, &policies, &[]);
    settle();
    let pid = big.child.id().to_string();
    let big_rss = status_kib(&pid, "VmRSS");
    let (big_reload, trajectory) = reloads(&big, 10);
    let big_rss_after = status_kib(&pid, "VmRSS");
    let big_hwm = status_kib(&pid, "VmHWM");
    // Idle again: the blocking thread that ran the last reload has exited.
    std::thread::sleep(iamgate::memory::BLOCKING_KEEP_ALIVE);
    settle();
    let big_rss_settled = status_kib(&pid, "VmRSS");
    let big_started = big.started_in;
    drop(big);
    // The same with one malloc arena: tells allocator retention from a leak.
    let one = start_gateway(&big_dir, &routes, &policies, &[("MALLOC_ARENA_MAX", "1")]);
    settle();
    let one_rss = status_kib(&one.child.id().to_string(), "VmRSS");
    let (_, one_trajectory) = reloads(&one, 10);
    drop(one);
    // mimalloc told to return freed pages at once: tells memory the load
    // left behind (retained by the allocator) from memory the snapshot holds.
    let purge = start_gateway(
        &big_dir,
        &routes,
        &policies,
        &[("MIMALLOC_PURGE_DELAY", "0")],
    );
    settle();
    let purge_rss = status_kib(&purge.child.id().to_string(), "VmRSS");
    drop(purge);
    println!(
        "gateway on 10k users + 10k policies with MIMALLOC_PURGE_DELAY=0: VmRSS {:.1} MiB idle",
        mib(purge_rss)
    );
    println!(
        "gateway on the sample tree: listening after {:.2?}, VmRSS {:.1} MiB idle, POST /-/reload {sample_reload:.2?}",
        sample_started,
        mib(sample_rss)
    );
    println!(
        "gateway on 10k users + 10k policies: listening after {:.2?}, VmRSS {:.1} MiB idle \
         ({:.1}x the sample), POST /-/reload {big_reload:.2?}; after 10 reloads VmRSS {:.1} MiB, peak VmHWM {:.1} MiB, \
         {:.1} MiB idle again",
        big_started,
        mib(big_rss),
        big_rss as f64 / sample_rss.max(1) as f64,
        mib(big_rss_after),
        mib(big_hwm),
        mib(big_rss_settled)
    );
    // Issue 9's memory target: RSS ≤ 2 × policy bytes + 30 MiB.
    for (tree, dir, rss) in [
        ("sample", repo.join("policies"), sample_rss),
        ("10k", policies.clone(), big_rss),
    ] {
        let policy_bytes = read_all(&[&dir]) as u64;
        let bound = 2 * policy_bytes / 1024 + 30 * 1024;
        println!(
            "memory, {tree} tree: {:.3} MiB of policy files, bound 2x + 30 MiB = {:.1} MiB, \
             VmRSS {:.1} MiB idle = {:.2} of the bound (bound/RSS {:.2})",
            policy_bytes as f64 / 1048576.0,
            mib(bound),
            mib(rss),
            rss as f64 / bound as f64,
            bound as f64 / rss.max(1) as f64
        );
    }
    println!("  VmRSS (MiB) after each reload: {trajectory:.0?}");
    // File change → enforced, with the watcher's debounce cut to 10 ms (the
    // default 150 ms of quiet is added to this in a default configuration).
    let watched = start_gateway_with(
        &big_dir,
        &routes,
        &policies,
        &[],
        "watch = true\ndebounce_ms = 10\nmax_wait_ms = 10",
    );
    let enforced = watched_changes(&watched, &policies, 5);
    drop(watched);
    println!(
        "gateway on 10k users + 10k policies: one policy file changed → new snapshot enforced in {enforced:.2?} \
         (median of 5, watcher debounce 10 ms included)"
    );
    println!(
        "  with MALLOC_ARENA_MAX=1: VmRSS {:.1} MiB idle, after each reload: {one_trajectory:.0?}",
        mib(one_rss)
    );
}

/// Wait until the gateway is idle: past the point where it lets the
/// allocator return what the load freed (`iamgate::memory::SETTLE`), so
/// that "idle" RSS is the RSS of an idle gateway, not of one 0.3 s after
/// its load.
fn settle() {
    std::thread::sleep(iamgate::memory::SETTLE + Duration::from_millis(500));
}

/// `n` reloads: the median round trip and VmRSS (MiB) after each.
fn reloads(gw: &Gateway, n: usize) -> (Duration, Vec<f64>) {
    let pid = gw.child.id().to_string();
    let mut times = Vec::new();
    let mut rss = Vec::new();
    for _ in 0..n {
        times.push(post_reload(&gw.admin));
        rss.push(mib(status_kib(&pid, "VmRSS")));
    }
    (median(times), rss)
}
