//! `iamgate serve`: validate the config and load the first snapshot before
//! any port is bound, start the built-in mock when an upstream names it,
//! bind and announce the listeners, run until SIGTERM/SIGINT, then drain.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use http::uri::Authority;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::admin::{serve_admin, Admin, Guard};
use crate::config::{Config, DecisionLogTarget, Upstream};
use crate::decision_log::{DecisionLog, LogOptions, LogTarget};
use crate::diag::Diagnostic;
use crate::metrics::Metrics;
use crate::mock::{self, MockUpstream};
use crate::proxy::server::tls_acceptor;
use crate::proxy::Gateway;
use crate::reload::{publish_metrics, Reloader};
use crate::signals::shutdown_signal;
use crate::snapshot::{Snapshot, SnapshotHolder};
use crate::watch::{reload_on_sighup, watch_files};
use crate::workers::Listeners;

/// Print diagnostics as `iamgate check` does and turn them into one message.
pub fn report(diags: &[Diagnostic]) -> String {
    for d in diags {
        eprintln!("{d}");
    }
    let errors = diags.iter().filter(|d| !d.warning).count();
    format!("{errors} error(s) in the configuration")
}

/// Say where a listener is, for people and for tests reading stdout.
fn announce(what: &str, addr: std::net::SocketAddr) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{what} {addr}");
    let _ = out.flush();
}

/// Start the in-process mock on an ephemeral loopback port, with the
/// first snapshot's `resources.toml` entries in it.
async fn start_builtin_mock(
    config: &Config,
    first: &Snapshot,
    stop: watch::Receiver<bool>,
) -> Result<(Authority, Arc<MockUpstream>), String> {
    let files = mock::load_route_dir(&config.routes_dir)?;
    let upstream = Arc::new(MockUpstream::new(&files)?);
    for urn in upstream.seed_from(&first.routes, &first.directory) {
        tracing::warn!(resource = %urn, "resources.toml: the mock has no item route for this resource; not created");
    }
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("mock: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(mock::serve(listener, upstream.clone(), stopped(stop)));
    let authority = addr
        .to_string()
        .parse()
        .map_err(|e| format!("mock address: {e}"))?;
    Ok((authority, upstream))
}

/// Resources a reload added to `resources.toml` appear in the built-in mock
/// too (ones it removed stay until deleted: the mock's items are traffic's).
fn reseed_builtin_mock(reloader: &Reloader, builtin: Option<Arc<MockUpstream>>) {
    if let Some(mock) = builtin {
        reloader.after_publish(Box::new(move |snap| {
            mock.seed_from(&snap.routes, &snap.directory);
        }));
    }
}

async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

async fn upstream_targets(
    config: &Config,
    first: &Snapshot,
    stop: &watch::Receiver<bool>,
) -> Result<(HashMap<String, Authority>, Option<Arc<MockUpstream>>), String> {
    let mut mock_addr = None;
    let mut builtin = None;
    let mut targets = HashMap::new();
    for (name, up) in &config.upstreams {
        let authority = match up {
            Upstream::BuiltinMock => match &mock_addr {
                Some(a) => Clone::clone(a),
                None => {
                    let (a, upstream) = start_builtin_mock(config, first, stop.clone()).await?;
                    builtin = Some(upstream);
                    mock_addr = Some(a.clone());
                    a
                }
            },
            Upstream::Url(uri) => uri
                .authority()
                .cloned()
                .ok_or_else(|| format!("upstream {name}: no authority"))?,
        };
        targets.insert(name.clone(), authority);
    }
    Ok((targets, builtin))
}

fn decision_log(config: &Config, metrics: &Metrics) -> Result<DecisionLog, String> {
    let target = match &config.decision_log {
        DecisionLogTarget::Off => LogTarget::Off,
        DecisionLogTarget::Stdout => LogTarget::Stdout,
        DecisionLogTarget::File(p) => LogTarget::File(p.clone()),
    };
    let options = LogOptions {
        capacity: config.decision_log_capacity,
        max_bytes: config.decision_log_max_bytes,
        ..LogOptions::default()
    };
    let (dropped, failed) = (metrics.clone(), metrics.clone());
    let log = DecisionLog::start_with(
        target,
        options,
        move || dropped.decision_log_dropped(),
        move || failed.decision_log_write_error(),
    )
    .map_err(|e| format!("decision log: {e}"))?;
    // logrotate's `postrotate kill -USR1 <pid>` makes the writer reopen.
    log.reopen_on_sigusr1()
        .map_err(|e| format!("SIGUSR1: {e}"))?;
    Ok(log)
}

/// Run the gateway until SIGTERM or SIGINT.
pub async fn serve(config_path: &Path) -> Result<(), String> {
    let config = Config::load(config_path).map_err(|d| report(&d))?;
    let first = Snapshot::load(&config).map_err(|d| report(&d))?;
    for w in &first.warnings {
        eprintln!("{w}");
    }
    let metrics = Metrics::new();
    publish_metrics(&metrics, &first);
    let tls = config.tls.as_ref().map(tls_acceptor).transpose()?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let (targets, builtin) = upstream_targets(&config, &first, &stop_rx).await?;
    let listeners = Listeners::bind(&config)?;
    let admin_listener = TcpListener::bind(config.admin_listen)
        .await
        .map_err(|e| format!("bind {}: {e}", config.admin_listen))?;
    let holder = Arc::new(SnapshotHolder::new(first));
    let log = decision_log(&config, &metrics)?;
    let gw = Arc::new(Gateway::new(
        config.clone(),
        holder.clone(),
        targets,
        metrics.clone(),
        log.clone(),
    ));
    let reloader = Arc::new(Reloader::new(
        config.clone(),
        holder.clone(),
        metrics.clone(),
        gw.resources.clone(),
    ));
    reseed_builtin_mock(&reloader, builtin);
    let _watcher = if config.watch {
        Some(watch_files(reloader.clone()).map_err(|e| format!("watch: {e}"))?)
    } else {
        None
    };
    reload_on_sighup(reloader.clone()).map_err(|e| format!("SIGHUP: {e}"))?;
    let signal = shutdown_signal()?;
    let admin = Arc::new(Admin {
        holder,
        metrics: metrics.clone(),
        reloader,
        ready: true.into(),
        guard: Guard::new(config.admin_listen, config.admin_token_file.as_deref()),
        resources: gw.resources.clone(),
        observed: gw.observed.clone(),
        console: gw.console.clone(),
    });
    // Workers (their runtimes, threads and descriptors) exist before
    // anything is announced or the admin listener accepts: a process that
    // cannot start them fails at start-up, never later.
    let (drain_tx, drain_rx) = watch::channel(false);
    let addr = listeners.local_addr()?;
    #[cfg(feature = "otel")]
    let otel = gw.otel.clone();
    let running = listeners.start(tls, gw, drain_rx)?;
    announce("listening on", addr);
    announce(
        "admin listening on",
        admin_listener.local_addr().map_err(|e| e.to_string())?,
    );
    metrics.set_ready(true);
    crate::memory::return_freed_memory_later();
    let admin_task = tokio::spawn(serve_admin(
        admin_listener,
        admin.clone(),
        stopped(stop_rx.clone()),
    ));
    let (signal_admin, signal_metrics) = (admin.clone(), metrics.clone());
    tokio::spawn(async move {
        signal.await;
        tracing::info!("shutting down: draining in-flight requests");
        signal_admin.ready.store(false, Ordering::SeqCst);
        signal_metrics.set_ready(false);
        let _ = drain_tx.send(true);
    });
    running.wait().await?;
    // Spans still queued go out before the process exits.
    #[cfg(feature = "otel")]
    if let Some(traces) = otel {
        traces.shutdown().await;
    }
    let _ = stop_tx.send(true);
    let _ = admin_task.await;
    log.close().await;
    Ok(())
}
