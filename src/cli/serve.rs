//! `tailor serve` (`make serve`): the HTTP/JSON service over one base and every project
//! registered on it ([`crate::serve`]; the manual is `docs/serve.md`).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};

use super::{DeviceArgs, RunArgs};
use crate::layout::Layout;
use crate::serve::{BatchPolicy, ServeConfig};
use crate::suggest::{Engine, EngineOptions};

/// Which base and projects the engine loads, and how it generates (shared with `bench-serve`).
#[derive(Debug, Clone, clap::Args)]
pub struct EngineArgs {
    /// The base model folder [default: the profile's baseline, OUT/runs/PROFILE/baseline/best].
    #[arg(long)]
    pub base: Option<PathBuf>,
    /// Serve only this registered project (repeatable) [default: every project registered on
    /// the base].
    #[arg(long = "project", value_name = "NAME")]
    pub projects: Vec<String>,
    /// Requests per batch: the most the worker gathers, and the most the engine generates at
    /// once.
    #[arg(long, default_value_t = 8)]
    pub batch_size: usize,
    /// Beam width of generated candidates [default: the base's generation_config.json].
    #[arg(long)]
    pub num_beams: Option<usize>,
    /// Longest generated test in tokens [default: the base's generation_config.json].
    #[arg(long)]
    pub max_length: Option<usize>,
    /// End a generated candidate once it repeats one block of tokens this many times (a
    /// degenerate loop that would run to --max-length); 0 keeps HF's beam search exactly.
    #[arg(long, default_value_t = crate::suggest::DEFAULT_STOP_LOOPS)]
    pub stop_loops: usize,
    /// The largest k a request may ask for.
    #[arg(long, default_value_t = 10)]
    pub max_k: usize,
    #[command(flatten)]
    pub device: DeviceArgs,
}

impl EngineArgs {
    /// The engine's options, the base defaulting to `run`'s profile's baseline.
    pub fn options(&self, run: &RunArgs) -> EngineOptions {
        EngineOptions {
            out: run.out.clone(),
            base: self
                .base
                .clone()
                .unwrap_or_else(|| Layout::new(&run.out).runs(&run.profile).baseline_model()),
            projects: self.projects.clone(),
            backend: self.device.backend,
            cuda: self.device.cuda,
            batch_size: self.batch_size,
            num_beams: self.num_beams,
            max_length: self.max_length,
            stop_loops: self.stop_loops,
            max_k: self.max_k,
        }
    }
}

/// The queue and the limits (shared with `bench-serve`).
#[derive(Debug, Clone, clap::Args)]
pub struct LimitArgs {
    /// Requests that may wait for the model; more are answered 503 at once.
    #[arg(long, default_value_t = 64)]
    pub queue: usize,
    /// How long the worker waits for more requests to fill a batch after taking the first.
    #[arg(long, default_value_t = 5)]
    pub batch_wait_ms: u64,
    /// Larger request bodies are answered 413.
    #[arg(long, default_value_t = 256 * 1024)]
    pub max_body_bytes: usize,
    /// A request not answered within this is answered 503 (and not computed if still queued).
    #[arg(long, default_value_t = 30_000)]
    pub timeout_ms: u64,
}

impl LimitArgs {
    /// The server's settings for `addr` and batches of `batch_size`.
    pub fn config(&self, addr: SocketAddr, batch_size: usize, one_project: bool) -> ServeConfig {
        ServeConfig {
            addr,
            queue_capacity: self.queue,
            batch: BatchPolicy {
                max_size: batch_size,
                wait: Duration::from_millis(self.batch_wait_ms),
                one_project,
            },
            max_body_bytes: self.max_body_bytes,
            timeout: Duration::from_millis(self.timeout_ms),
            ..ServeConfig::default()
        }
    }
}

#[derive(Debug, clap::Args)]
#[command(mut_arg("profile", |a| a.help("The profile whose baseline is the default base")))]
pub struct Args {
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// The address to listen on (127.0.0.1: this machine only).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// The port (0 picks a free one; the real one is printed).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Batches hold one project's requests only (to compare with mixed batches).
    #[arg(long)]
    pub one_at_a_time: bool,
}

pub fn run(args: Args) -> Result<()> {
    let options = args.engine.options(&args.run);
    eprintln!("serve: loading {}", options.base.display());
    let engine = Engine::load(&options)
        .with_context(|| format!("loading the base {}", options.base.display()))?;
    let config = args.limits.config(
        SocketAddr::new(args.host, args.port),
        args.engine.batch_size,
        args.one_at_a_time,
    );
    let server = crate::serve::start(engine, config)?;
    println!("listening on http://{}", server.addr());
    if server.projects().is_empty() {
        println!("no project is registered on this base: every request will be answered 404");
    }
    for project in server.projects() {
        println!(
            "  {} ({}, {} pairs{})",
            project.name,
            project.strategy,
            project.pairs,
            if project.mixes {
                ", mixes in batches"
            } else {
                ""
            }
        );
    }
    server.run_until_signal()?;
    println!("stopped");
    Ok(())
}
