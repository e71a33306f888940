//! The one thread that owns the engine: it takes batches from the [`Queue`], asks the engine
//! once per batch, and answers each request on its own reply channel.
//!
//! The engine is `Send` but need not be `Sync`, and one model answers one batch at a time on
//! these cores anyway, so a single owner thread is both the simplest and the fastest shape. A
//! panic inside the engine is caught here: that batch's requests get an internal error and the
//! thread goes on with the next batch, so the server never dies of one bad request.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use tokio::sync::oneshot;

use super::Suggester;
use super::queue::{BatchPolicy, Queue, Queued};
use crate::suggest::{Candidate, SuggestError, SuggestRequest};

/// A request waiting for the worker, with where its answer goes.
#[derive(Debug)]
pub struct Job {
    pub request: SuggestRequest,
    pub enqueued: Instant,
    /// Past it the handler has answered 503 and the request is not computed.
    pub deadline: Instant,
    pub reply: oneshot::Sender<Reply>,
}

impl Queued for Job {
    fn project(&self) -> &str {
        &self.request.project
    }

    fn abandoned(&self, now: Instant) -> bool {
        now >= self.deadline || self.reply.is_closed()
    }
}

/// The engine's answer to one request, and what its batch cost.
#[derive(Debug)]
pub struct Reply {
    pub result: Result<Vec<Candidate>, SuggestError>,
    /// Requests answered by the same `suggest_batch` call.
    pub batch_size: usize,
    /// From the push until its batch started.
    pub queue_ms: f64,
    /// The batch's `suggest_batch` call.
    pub compute_ms: f64,
}

/// Counters the worker keeps, shown by `GET /health`.
#[derive(Debug, Default)]
pub struct Stats {
    pub batches: AtomicU64,
    /// Requests the engine answered (a client may have left meanwhile).
    pub answered: AtomicU64,
    /// Requests dropped before computing: deadline passed or client gone.
    pub dropped: AtomicU64,
    /// Batches whose engine call panicked.
    pub panics: AtomicU64,
}

/// Serves batches from `queue` with `suggester` until the queue is closed and drained; returns
/// the suggester so a caller can serve again with it.
pub fn run<S: Suggester>(
    suggester: S,
    queue: &Queue<Job>,
    policy: BatchPolicy,
    stats: &Stats,
) -> S {
    while let Some(batch) = queue.next_batch(&policy) {
        stats
            .dropped
            .fetch_add(batch.dropped as u64, Ordering::Relaxed);
        answer(&suggester, batch.items, stats);
    }
    suggester
}

/// Asks the engine once for all `jobs` and sends each its result.
fn answer<S: Suggester>(suggester: &S, jobs: Vec<Job>, stats: &Stats) {
    let started = Instant::now();
    let requests: Vec<SuggestRequest> = jobs.iter().map(|job| job.request.clone()).collect();
    let outcome = catch_unwind(AssertUnwindSafe(|| suggester.suggest_batch(&requests)));
    let compute_ms = started.elapsed().as_secs_f64() * 1e3;
    stats.batches.fetch_add(1, Ordering::Relaxed);
    let results: Vec<Result<Vec<Candidate>, SuggestError>> = match outcome {
        Ok(results) if results.len() == jobs.len() => results,
        Ok(results) => {
            let reason = format!(
                "the engine answered {} results for a batch of {} requests",
                results.len(),
                jobs.len()
            );
            jobs.iter()
                .map(|_| Err(SuggestError::Internal(anyhow::anyhow!(reason.clone()))))
                .collect()
        }
        Err(payload) => {
            stats.panics.fetch_add(1, Ordering::Relaxed);
            let reason = format!(
                "the engine panicked on this request's batch: {}",
                panic_message(payload.as_ref())
            );
            eprintln!("serve: {reason}");
            jobs.iter()
                .map(|_| Err(SuggestError::Internal(anyhow::anyhow!(reason.clone()))))
                .collect()
        }
    };
    let batch_size = jobs.len();
    // Counted before the replies go out, so a client that reads /health after its answer sees
    // its request counted.
    stats
        .answered
        .fetch_add(batch_size as u64, Ordering::Relaxed);
    for (job, result) in jobs.into_iter().zip(results) {
        let reply = Reply {
            result,
            batch_size,
            queue_ms: started.duration_since(job.enqueued).as_secs_f64() * 1e3,
            compute_ms,
        };
        // A client that left meanwhile no longer listens: nothing to do.
        let _ = job.reply.send(reply);
    }
}

/// The text a panic was raised with, when it is a string.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        text.to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "(no message)".to_string()
    }
}
