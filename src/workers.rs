//! Where the gateway's connections run (`[runtime] model`).
//!
//! `per_core` (the default) is nginx's worker model: one listening socket per
//! worker on the same address (`SO_REUSEPORT`, the kernel spreads new
//! connections over them), each worker a single-threaded tokio runtime on a
//! thread of its own with its own upstream pool. A request is read, decided,
//! forwarded and answered on one thread, so no task is ever woken across
//! threads; the profile of the work-stealing runtime spent a fifth of its time
//! in the kernel doing exactly that. Everything with meaning beyond one
//! request (snapshots, the replay store, the body budget, resource state,
//! metrics, the decision log, the connection cap) is shared by all workers.
//!
//! `work_stealing` keeps one listener on tokio's multi-threaded scheduler:
//! better when a few connections carry most of the traffic (one busy
//! connection cannot use two cores in either model, but a busy worker cannot
//! hand its other connections to an idle one in `per_core`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;

use crate::config::{Config, RuntimeModel};
use crate::proxy::server::{connection_slots, serve_gateway};
use crate::proxy::Gateway;

/// The gateway's listening sockets: one, or one per worker on one address.
pub struct Listeners {
    sockets: Vec<std::net::TcpListener>,
}

impl Listeners {
    /// Bind `config.listen` once per worker the runtime model asks for.
    pub fn bind(config: &Config) -> Result<Listeners, String> {
        let count = match config.runtime_model {
            RuntimeModel::WorkStealing => 1,
            RuntimeModel::PerCore => per_core_workers(config),
        };
        let bind = |addr: SocketAddr| {
            reuseport_listener(addr, count > 1).map_err(|e| format!("bind {addr}: {e}"))
        };
        let first = bind(config.listen)?;
        // Port 0 picks a port once; every other worker joins that one.
        let addr = first.local_addr().map_err(|e| e.to_string())?;
        let mut sockets = vec![first];
        for _ in 1..count {
            sockets.push(bind(addr)?);
        }
        Ok(Listeners { sockets })
    }

    /// The address clients connect to.
    pub fn local_addr(&self) -> Result<SocketAddr, String> {
        match self.sockets.first() {
            Some(s) => s.local_addr().map_err(|e| e.to_string()),
            None => Err("no listener".to_string()),
        }
    }

    /// Start serving on every listener until `stop` turns true, then drain
    /// (see [`serve_gateway`]). Per-core workers get their runtimes and
    /// threads here, so failing to create one is an error now.
    pub fn start(
        self,
        tls: Option<TlsAcceptor>,
        gw: Arc<Gateway>,
        stop: watch::Receiver<bool>,
    ) -> Result<Running, String> {
        let grace = gw.config.limits.shutdown_grace;
        let slots = connection_slots(&gw.config.limits);
        if gw.config.runtime_model == RuntimeModel::WorkStealing {
            let [socket] = <[_; 1]>::try_from(self.sockets)
                .map_err(|_| "work_stealing serves one listener".to_string())?;
            let listener = TcpListener::from_std(socket).map_err(|e| e.to_string())?;
            let task = serve_gateway(listener, tls, gw, slots, stopped(stop), grace);
            return Ok(Running::Task(tokio::spawn(task)));
        }
        let mut threads = Vec::new();
        for (i, socket) in self.sockets.into_iter().enumerate() {
            let worker = Worker {
                gw: Arc::new(gw.for_worker()),
                tls: tls.clone(),
                slots: slots.clone(),
                stop: stop.clone(),
                grace,
            };
            threads.push(worker.spawn(i, socket)?);
        }
        Ok(Running::Threads(threads))
    }
}

/// The gateway's connections being served: one task (work stealing) or one
/// thread per worker.
pub enum Running {
    Task(tokio::task::JoinHandle<()>),
    Threads(Vec<JoinHandle<()>>),
}

impl Running {
    /// Until every worker has drained and finished.
    pub async fn wait(self) -> Result<(), String> {
        match self {
            Running::Task(task) => task.await.map_err(|e| format!("gateway: {e}")),
            Running::Threads(threads) => tokio::task::spawn_blocking(move || {
                for t in threads {
                    let _ = t.join();
                }
            })
            .await
            .map_err(|e| format!("workers: {e}")),
        }
    }
}

/// One per-core worker: its gateway (own upstream pool) and what it shares.
struct Worker {
    gw: Arc<Gateway>,
    tls: Option<TlsAcceptor>,
    slots: Arc<Semaphore>,
    stop: watch::Receiver<bool>,
    grace: Duration,
}

impl Worker {
    /// Run the worker on a thread of its own with a single-threaded runtime.
    fn spawn(self, index: usize, socket: std::net::TcpListener) -> Result<JoinHandle<()>, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("worker runtime: {e}"))?;
        std::thread::Builder::new()
            .name(format!("iamgate-worker-{index}"))
            .spawn(move || {
                runtime.block_on(async move {
                    match TcpListener::from_std(socket) {
                        Ok(listener) => {
                            let done = stopped(self.stop);
                            serve_gateway(listener, self.tls, self.gw, self.slots, done, self.grace)
                                .await
                        }
                        Err(e) => tracing::error!("worker {index}: {e}"),
                    }
                })
            })
            .map_err(|e| format!("worker thread: {e}"))
    }
}

/// Workers of the per-core model: `[runtime] worker_threads`, or one per core.
pub fn per_core_workers(config: &Config) -> usize {
    config.worker_threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    })
}

/// Threads of the runtime `main` starts: everything but the gateway's own
/// connections (admin, reload, signals, the decision-log writer) in the
/// per-core model; the whole gateway in the work-stealing one.
pub fn main_runtime_threads(config: &Config) -> Option<usize> {
    match config.runtime_model {
        RuntimeModel::PerCore => Some(1),
        RuntimeModel::WorkStealing => config.worker_threads,
    }
}

/// A non-blocking listening socket on `addr`, shareable with other sockets
/// of this user when `shared` (`SO_REUSEPORT`: Linux only lets sockets of
/// the same effective user join a port).
fn reuseport_listener(addr: SocketAddr, shared: bool) -> std::io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if shared {
        socket.set_reuse_port(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}
