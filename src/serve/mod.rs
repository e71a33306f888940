//! `tailor serve`: an HTTP/JSON service that keeps one base and every project registered on it
//! in memory and answers test suggestions for many projects at once (DESIGN "Your own
//! project"; the manual is `docs/serve.md`).
//!
//! Handlers ([`api`]) check a request, then push it into a bounded [`queue`]; one worker thread
//! ([`worker`]) owns the engine, gathers what is queued into a batch — requests of different
//! projects mixed, which the engine's adapter bank generates together — and answers each request
//! on its own channel. Overload is refused at the door (503), a request past its time limit is
//! answered 503 and never computed, and a panic in the engine answers its batch 500 without
//! stopping the server.
//!
//! It does not load models or build inputs itself: that is [`crate::suggest::Engine`], reached
//! through the [`Suggester`] trait so the HTTP layer is tested without a model.

pub mod api;
pub mod client;
pub mod queue;
pub mod worker;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, ensure};
use tokio::sync::oneshot;

pub use self::queue::BatchPolicy;
use self::queue::Queue;
use self::worker::{Job, Stats};
use crate::suggest::{Candidate, Engine, ProjectInfo, SuggestError, SuggestRequest};

/// What the server needs of an engine: [`Engine`] in production, small fakes in tests.
pub trait Suggester: Send + 'static {
    /// The projects it answers for (asked once, at start).
    fn projects(&self) -> Vec<ProjectInfo>;
    /// The largest `k` a request may ask for (asked once, at start).
    fn max_k(&self) -> usize;
    /// One result per request, in order (see [`Engine::suggest_batch`]).
    fn suggest_batch(
        &self,
        requests: &[SuggestRequest],
    ) -> Vec<Result<Vec<Candidate>, SuggestError>>;
}

impl Suggester for Engine {
    fn projects(&self) -> Vec<ProjectInfo> {
        Engine::projects(self)
    }

    fn max_k(&self) -> usize {
        Engine::max_k(self)
    }

    fn suggest_batch(
        &self,
        requests: &[SuggestRequest],
    ) -> Vec<Result<Vec<Candidate>, SuggestError>> {
        Engine::suggest_batch(self, requests)
    }
}

/// Where to listen, how to batch, and the limits.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Port 0 picks a free port ([`Server::addr`] tells which).
    pub addr: SocketAddr,
    /// Requests that may wait for the worker; one more is refused with 503.
    pub queue_capacity: usize,
    pub batch: BatchPolicy,
    /// Larger request bodies are refused with 413.
    pub max_body_bytes: usize,
    /// A request not answered within this is answered 503 (and not computed if still queued).
    pub timeout: Duration,
    /// Threads of the HTTP runtime (the model runs on the worker thread, not these).
    pub http_threads: usize,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            queue_capacity: 64,
            batch: BatchPolicy {
                max_size: 8,
                wait: Duration::from_millis(5),
                one_project: false,
            },
            max_body_bytes: 256 * 1024,
            timeout: Duration::from_secs(30),
            http_threads: 2,
        }
    }
}

/// A running server: its address, and [`Server::shutdown`] for a clean stop.
pub struct Server<S: Suggester> {
    addr: SocketAddr,
    projects: Vec<ProjectInfo>,
    running: Option<Running<S>>,
}

/// What a clean stop takes apart, in order.
struct Running<S> {
    runtime: tokio::runtime::Runtime,
    stop: oneshot::Sender<()>,
    http: tokio::task::JoinHandle<std::io::Result<()>>,
    queue: Arc<Queue<Job>>,
    worker: thread::JoinHandle<S>,
    /// How long in-flight requests may take to finish once the stop is asked.
    grace: Duration,
}

/// Binds `config.addr`, starts the worker thread with `suggester` and the HTTP runtime, and
/// returns once the server accepts connections.
pub fn start<S: Suggester>(suggester: S, config: ServeConfig) -> Result<Server<S>> {
    ensure!(
        config.batch.max_size >= 1,
        "the batch size must be at least 1"
    );
    ensure!(
        config.queue_capacity >= 1,
        "the queue must hold at least 1 request"
    );
    let projects = suggester.projects();
    let max_k = suggester.max_k();
    ensure!(max_k >= 1, "the engine's largest k is 0");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.http_threads.max(1))
        .thread_name("serve-http")
        .enable_all()
        .build()
        .context("starting the HTTP runtime")?;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(config.addr))
        .with_context(|| format!("listening on {}", config.addr))?;
    let addr = listener.local_addr().context("reading the bound address")?;

    let queue = Arc::new(Queue::new(config.queue_capacity));
    let stats = Arc::new(Stats::default());
    let worker = {
        let queue = Arc::clone(&queue);
        let stats = Arc::clone(&stats);
        let policy = config.batch;
        thread::Builder::new()
            .name("serve-engine".into())
            .spawn(move || worker::run(suggester, &queue, policy, &stats))
            .context("starting the engine's worker thread")?
    };
    let state = Arc::new(api::AppState {
        queue: Arc::clone(&queue),
        stats,
        names: projects
            .iter()
            .map(|p| p.name.clone())
            .collect::<BTreeSet<_>>(),
        projects: projects.clone(),
        max_k,
        timeout: config.timeout,
        max_body_bytes: config.max_body_bytes,
        mode: if config.batch.one_project {
            "one-at-a-time"
        } else {
            "mixed"
        },
    });
    let app = api::router(state);
    let (stop, stopped) = oneshot::channel::<()>();
    let http = runtime.spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                // A dropped sender stops the server too.
                let _ = stopped.await;
            })
            .await
    });
    Ok(Server {
        addr,
        projects,
        running: Some(Running {
            runtime,
            stop,
            http,
            queue,
            worker,
            grace: config.timeout + Duration::from_secs(5),
        }),
    })
}

impl<S: Suggester> Server<S> {
    /// The address it listens on (the real port when 0 was asked).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The projects it serves.
    pub fn projects(&self) -> &[ProjectInfo] {
        &self.projects
    }

    /// Stops accepting connections, lets every request in flight be answered (queued ones
    /// included), stops the worker and returns the engine, so it can be served again.
    pub fn shutdown(mut self) -> Result<S> {
        let running = self.running.take().expect("a server is stopped only once");
        running.stop()
    }

    /// Serves until SIGINT or SIGTERM, then stops as [`Server::shutdown`] does.
    pub fn run_until_signal(mut self) -> Result<S> {
        let running = self.running.take().expect("a server is stopped only once");
        let signalled = running.runtime.block_on(shutdown_signal());
        if signalled.is_ok() {
            eprintln!("serve: stopping: answering the requests in flight");
        }
        // Stopped cleanly even when the signals could not be listened for.
        let engine = running.stop();
        signalled.context("waiting for SIGINT or SIGTERM")?;
        engine
    }
}

impl<S> Running<S> {
    fn stop(self) -> Result<S> {
        let _ = self.stop.send(());
        let (grace, http) = (self.grace, self.http);
        // The timer is made inside the runtime, which drives it.
        let served = self
            .runtime
            .block_on(async move { tokio::time::timeout(grace, http).await });
        // Whatever the HTTP side did, the worker must finish what is queued and end.
        self.queue.close();
        let suggester = self
            .worker
            .join()
            .map_err(|_| anyhow!("the engine's worker thread panicked"));
        self.runtime.shutdown_timeout(Duration::from_secs(1));
        match served {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(error))) => return Err(error).context("serving HTTP"),
            Ok(Err(error)) => return Err(anyhow!(error)).context("the HTTP task failed"),
            Err(_) => eprintln!(
                "serve: connections still open {} s after the stop; closed",
                self.grace.as_secs()
            ),
        }
        suggester
    }
}

impl<S: Suggester> Drop for Server<S> {
    /// A server dropped without [`Server::shutdown`] still stops: the listener closes with the
    /// runtime and the worker ends once the queue is drained.
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            let _ = running.stop.send(());
            running.queue.close();
        }
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    tokio::select! {
        interrupted = tokio::signal::ctrl_c() => interrupted.context("listening for SIGINT")?,
        _ = terminate.recv() => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests;
