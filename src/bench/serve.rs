//! `tailor serve` under load (`tailor bench-serve`, `make bench-serve`): the server runs in this
//! process on 127.0.0.1 over every project registered on a base, and `clients` threads of plain
//! HTTP clients each send one request at a time for `seconds`, first with mixed batches, then
//! one project at a time, for each `k`. Every request must be answered (errors are counted and
//! fail the run), and resident memory is read before and after each run to show it stays flat.
//!
//! Requests are drawn deterministically (client, sequence number) over all projects; each is a
//! focal method of that project's own `pairs.parquet`, sent as the model input at the project's
//! context level, as a client that already has the input would send it.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::adapt::registry;
use crate::data::context::{PairContext, model_input};
use crate::serve::ServeConfig;
use crate::serve::client::{agent, post_suggest};
use crate::suggest::{Engine, EngineOptions, ProjectInfo};
use crate::tables::{self, pairs};

/// Focal inputs taken from each project (the first by pair id): enough variety for a load test
/// without holding a large project's every pair.
const INPUTS_PER_PROJECT: usize = 64;

/// What to load, how to serve it, and the load.
#[derive(Debug, Clone)]
pub struct BenchServeOptions {
    pub out: PathBuf,
    pub engine: EngineOptions,
    /// The server's settings; `batch.one_project` is set by each run.
    pub serve: ServeConfig,
    /// Concurrent clients, each with one request in flight.
    pub clients: usize,
    /// How long each (mode, k) run sends requests.
    pub seconds: f64,
    /// The `k`s measured.
    pub ks: Vec<usize>,
}

/// The requests a load test sends: per project, its focal inputs.
#[derive(Debug, Clone)]
pub struct Workload {
    pub projects: Vec<(String, Vec<String>)>,
}

impl Workload {
    /// The first focal inputs of every served project's `pairs.parquet`, built at the context
    /// level its manifest records.
    pub fn read(out: &std::path::Path, projects: &[ProjectInfo]) -> Result<Self> {
        let mut loaded = Vec::new();
        for project in projects {
            let registered = registry::read(out, &project.name)?;
            let path = registered.paths.pairs();
            let frame = tables::read_table(&path, &pairs::schema())?;
            let mut all = pairs::from_frame(&frame)
                .with_context(|| format!("reading the pairs of {}", path.display()))?;
            all.sort_by(|a, b| a.pair_id.cmp(&b.pair_id));
            let level = registered.manifest.examples.level;
            let inputs: Vec<String> = all
                .iter()
                .take(INPUTS_PER_PROJECT)
                .map(|pair| model_input(&PairContext::from(pair), level))
                .collect();
            ensure!(
                !inputs.is_empty(),
                "{} has no pairs to draw requests from",
                path.display()
            );
            loaded.push((project.name.clone(), inputs));
        }
        ensure!(!loaded.is_empty(), "no project is served: nothing to send");
        Ok(Workload { projects: loaded })
    }

    /// The `sequence`-th request of `client`: a project and one of its inputs, the same on
    /// every run.
    pub fn draw(&self, client: usize, sequence: usize) -> (&str, &str) {
        let mix = splitmix64(((client as u64) << 32) ^ sequence as u64);
        let (project, inputs) = &self.projects[(mix % self.projects.len() as u64) as usize];
        let input = &inputs[((mix >> 32) % inputs.len() as u64) as usize];
        (project, input)
    }
}

/// One (mode, k) run's measurements.
#[derive(Debug, Clone)]
pub struct LoadResult {
    pub mode: &'static str,
    pub k: usize,
    pub sent: usize,
    /// Requests answered 200 with `k` candidates.
    pub ok: usize,
    /// The first few failures, as text.
    pub failures: Vec<String>,
    pub seconds: f64,
    /// Latency of every answered request, sorted, in ms.
    pub latencies_ms: Vec<f64>,
    /// Mean `batch_size` the answers reported.
    pub mean_batch: f64,
    pub rss_before_mib: Option<f64>,
    pub rss_after_mib: Option<f64>,
}

impl LoadResult {
    pub fn errors(&self) -> usize {
        self.sent - self.ok
    }

    pub fn throughput(&self) -> f64 {
        self.ok as f64 / self.seconds
    }

    /// The `p`-quantile (nearest rank) of the latencies, ms.
    pub fn latency_ms(&self, p: f64) -> Option<f64> {
        percentile(&self.latencies_ms, p)
    }
}

/// Loads the engine, runs every (mode, k), writes `OUT/reports/bench-serve.md` and prints it.
/// Fails after writing the table if any request was not answered.
pub fn run(options: &BenchServeOptions) -> Result<()> {
    ensure!(options.clients >= 1, "--clients must be at least 1");
    ensure!(options.seconds > 0.0, "--seconds must be positive");
    let started = Instant::now();
    let mut engine = Engine::load(&options.engine)
        .with_context(|| format!("loading the base {}", options.engine.base.display()))?;
    let projects = engine.projects();
    let load_seconds = started.elapsed().as_secs_f64();
    let workload = Arc::new(Workload::read(&options.out, &projects)?);
    let mut serve = options.serve.clone();
    // Each client has one request in flight: a queue this long never refuses one.
    serve.queue_capacity = serve.queue_capacity.max(options.clients);

    let mut results = Vec::new();
    for (mode, one_project) in [("mixed", false), ("one-at-a-time", true)] {
        serve.batch.one_project = one_project;
        let server = crate::serve::start(engine, serve.clone())?;
        for &k in &options.ks {
            warm_up(server.addr(), &workload, k)?;
            results.push(drive(server.addr(), &workload, mode, k, options)?);
        }
        engine = server.shutdown()?;
    }
    drop(engine);

    let report = render(options, &projects, load_seconds, &results);
    let path = crate::layout::Layout::new(&options.out)
        .reports_dir()
        .join("bench-serve.md");
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&path, &report).with_context(|| format!("writing {}", path.display()))?;
    print!("{report}");
    println!("\nwritten to {}", path.display());
    if let Some(failed) = results.iter().find(|r| r.errors() > 0) {
        bail!(
            "{} of {} requests failed ({} mode, k = {}); first: {}",
            failed.errors(),
            failed.sent,
            failed.mode,
            failed.k,
            failed.failures.first().map_or("", String::as_str)
        );
    }
    Ok(())
}

/// One request per project, so no timed request pays for a first use.
fn warm_up(addr: SocketAddr, workload: &Workload, k: usize) -> Result<()> {
    let agent = agent();
    for (project, inputs) in &workload.projects {
        let outcome = send(&agent, addr, project, &inputs[0], k);
        if let Err(reason) = outcome {
            bail!("warming up {project} (k = {k}): {reason}");
        }
    }
    Ok(())
}

/// `options.clients` threads sending requests for `options.seconds`; a request started before
/// the end is waited for, so none is lost.
fn drive(
    addr: SocketAddr,
    workload: &Arc<Workload>,
    mode: &'static str,
    k: usize,
    options: &BenchServeOptions,
) -> Result<LoadResult> {
    let rss_before_mib = rss_mib();
    let duration = Duration::from_secs_f64(options.seconds);
    let progress = ProgressBar::new(duration.as_secs().max(1)).with_style(
        ProgressStyle::with_template("bench-serve {msg} {bar:30} {pos}/{len} s · {elapsed}")
            .expect("valid template"),
    );
    progress.set_message(format!("{mode}, k = {k}"));
    let started = Instant::now();
    let end = started + duration;
    let clients: Vec<_> = (0..options.clients)
        .map(|client| {
            let workload = Arc::clone(workload);
            thread::Builder::new()
                .name(format!("bench-client-{client}"))
                .spawn(move || run_client(addr, &workload, client, k, end))
                .context("starting a client thread")
        })
        .collect::<Result<_>>()?;
    while !clients.iter().all(|c| c.is_finished()) {
        progress.set_position(started.elapsed().as_secs().min(duration.as_secs().max(1)));
        thread::sleep(Duration::from_millis(100));
    }
    progress.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let mut result = LoadResult {
        mode,
        k,
        sent: 0,
        ok: 0,
        failures: Vec::new(),
        seconds,
        latencies_ms: Vec::new(),
        mean_batch: 0.0,
        rss_before_mib,
        rss_after_mib: None,
    };
    let mut batch_sum = 0usize;
    for client in clients {
        let client = client
            .join()
            .map_err(|_| anyhow::anyhow!("a client thread panicked"))?;
        result.sent += client.sent;
        result.ok += client.latencies_ms.len();
        result.latencies_ms.extend(client.latencies_ms);
        batch_sum += client.batch_sum;
        result.failures.extend(
            client
                .failures
                .into_iter()
                .take(3 - result.failures.len().min(3)),
        );
    }
    result.latencies_ms.sort_by(f64::total_cmp);
    result.mean_batch = batch_sum as f64 / result.ok.max(1) as f64;
    result.rss_after_mib = rss_mib();
    Ok(result)
}

/// What one client thread saw.
#[derive(Debug, Default)]
struct ClientResult {
    sent: usize,
    latencies_ms: Vec<f64>,
    batch_sum: usize,
    failures: Vec<String>,
}

fn run_client(
    addr: SocketAddr,
    workload: &Workload,
    client: usize,
    k: usize,
    end: Instant,
) -> ClientResult {
    let agent = agent();
    let mut result = ClientResult::default();
    while Instant::now() < end {
        let (project, focal) = workload.draw(client, result.sent);
        result.sent += 1;
        let started = Instant::now();
        match send(&agent, addr, project, focal, k) {
            Ok(batch_size) => {
                result
                    .latencies_ms
                    .push(started.elapsed().as_secs_f64() * 1e3);
                result.batch_sum += batch_size;
            }
            Err(reason) => result.failures.push(reason),
        }
    }
    result
}

/// One suggestion request; the answer's batch size, or why it failed.
fn send(
    agent: &ureq::Agent,
    addr: SocketAddr,
    project: &str,
    focal: &str,
    k: usize,
) -> Result<usize, String> {
    let body = json!({"project": project, "focal": focal, "k": k}).to_string();
    let reply = post_suggest(agent, addr, &body).map_err(|e| format!("{project}: {e:#}"))?;
    let (status, answer) = (reply.status, reply.json);
    if status != 200 {
        return Err(format!("{project}: HTTP {status}: {}", answer["error"]));
    }
    let candidates = answer["candidates"].as_array().map_or(0, Vec::len);
    if candidates == 0 || candidates > k {
        return Err(format!("{project}: {candidates} candidates for k = {k}"));
    }
    Ok(answer["batch_size"].as_u64().unwrap_or(0) as usize)
}

/// The `p`-quantile of sorted `values` by nearest rank.
fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// SplitMix64's output function: a well-spread 64-bit hash of `x`.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// This process's resident set size now (`VmRSS`), in MiB.
fn rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// The Markdown report.
fn render(
    options: &BenchServeOptions,
    projects: &[ProjectInfo],
    load_seconds: f64,
    results: &[LoadResult],
) -> String {
    let mut out = String::new();
    let engine = &options.engine;
    let _ = writeln!(out, "# bench-serve\n");
    let _ = writeln!(
        out,
        "Base {} ({} backend{}), loaded with {} projects in {load_seconds:.1} s: {}.",
        engine.base.display(),
        engine.backend,
        if engine.cuda { ", CUDA" } else { "" },
        projects.len(),
        projects
            .iter()
            .map(|p| format!(
                "{} ({}{})",
                p.name,
                p.strategy,
                if p.mixes { ", mixes" } else { "" }
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        out,
        "{} clients, one request in flight each, {} s per run on 127.0.0.1; batches of up to {} \
         gathered for {} ms; beams {}, max length {}.\n",
        options.clients,
        options.seconds,
        options.serve.batch.max_size,
        options.serve.batch.wait.as_millis(),
        engine
            .num_beams
            .map_or("(generation_config)".to_string(), |b| b.to_string()),
        engine
            .max_length
            .map_or("(generation_config)".to_string(), |l| l.to_string()),
    );
    let _ = writeln!(
        out,
        "| mode | k | requests | errors | req/s | p50 ms | p99 ms | mean batch | RSS before → after (MiB) |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let ms = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.0}"));
    let mib = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.0}"));
    for r in results {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.2} | {} | {} | {:.2} | {} → {} |",
            r.mode,
            r.k,
            r.sent,
            r.errors(),
            r.throughput(),
            ms(r.latency_ms(0.5)),
            ms(r.latency_ms(0.99)),
            r.mean_batch,
            mib(r.rss_before_mib),
            mib(r.rss_after_mib),
        );
    }
    for &k in &options.ks {
        let of = |mode: &str| results.iter().find(|r| r.mode == mode && r.k == k);
        if let (Some(mixed), Some(one)) = (of("mixed"), of("one-at-a-time"))
            && one.throughput() > 0.0
        {
            let _ = writeln!(
                out,
                "\nk = {k}: mixed batches serve {:.2}× the requests/s of one project at a time.",
                mixed.throughput() / one.throughput()
            );
        }
    }
    if let Some(peak) = crate::vocab::peak_rss_bytes() {
        let _ = writeln!(
            out,
            "\nPeak RSS (VmHWM, whole run): {:.0} MiB.",
            peak as f64 / (1024.0 * 1024.0)
        );
    }
    for r in results.iter().filter(|r| !r.failures.is_empty()) {
        let _ = writeln!(
            out,
            "\nFailures ({}, k = {}): {}",
            r.mode,
            r.k,
            r.failures.join("; ")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 0.5), Some(50.0));
        assert_eq!(percentile(&values, 0.99), Some(99.0));
        assert_eq!(percentile(&[7.0], 0.99), Some(7.0));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn draws_are_deterministic_and_cover_every_project() {
        let workload = Workload {
            projects: vec![
                ("a".into(), vec!["a0".into(), "a1".into()]),
                ("b".into(), vec!["b0".into()]),
                ("c".into(), vec!["c0".into(), "c1".into(), "c2".into()]),
            ],
        };
        let draw_all = || -> Vec<(String, String)> {
            (0..4)
                .flat_map(|client| (0..30).map(move |seq| (client, seq)))
                .map(|(client, seq)| {
                    let (p, f) = workload.draw(client, seq);
                    (p.to_string(), f.to_string())
                })
                .collect()
        };
        let (draws, again) = (draw_all(), draw_all());
        assert_eq!(draws, again);
        for project in ["a", "b", "c"] {
            assert!(
                draws.iter().any(|(p, _)| p == project),
                "{project} never drawn"
            );
        }
        assert!(draws.iter().all(|(p, f)| f.starts_with(p.as_str())));
    }

    #[test]
    fn resident_memory_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(rss_mib().is_some_and(|m| m > 0.0));
        }
    }
}
