//! The bounded request queue between the HTTP handlers and the engine's worker thread, and how
//! the worker gathers a batch from it.
//!
//! Handlers [`Queue::push`] without waiting: a full queue refuses at once (the handler answers
//! 503), so a burst never piles up unbounded memory or unbounded latency. The worker calls
//! [`Queue::next_batch`], which takes the oldest request, then gathers more for a short wait or
//! until the batch is full — any project (mixed batches, through the adapter bank), or only the
//! first request's project ([`BatchPolicy::one_project`], for comparison). Requests whose
//! client has gone or whose deadline has passed are dropped here, never computed.
//!
//! A `Mutex<VecDeque>` with a `Condvar` rather than a channel, because one-project batches take
//! matching requests from the middle of the queue and leave the others in order.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// What the queue needs to know of a request.
pub trait Queued {
    /// The project the request is for (one-project batches group by it).
    fn project(&self) -> &str;
    /// Whether the request is no longer worth computing at `now`: its deadline has passed or its
    /// client stopped waiting.
    fn abandoned(&self, now: Instant) -> bool;
}

/// How the worker forms batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchPolicy {
    /// Most requests in one batch (at least 1).
    pub max_size: usize,
    /// How long to wait for more requests after taking the first.
    pub wait: Duration,
    /// Batches hold the first request's project only.
    pub one_project: bool,
}

/// Why a push was refused; the request comes back.
#[derive(Debug)]
pub enum PushError<T> {
    /// `capacity` requests are already waiting.
    Full(T),
    /// The queue was closed (the server is shutting down).
    Closed(T),
}

/// A batch for the worker, and how many abandoned requests were dropped while forming it.
#[derive(Debug)]
pub struct Batch<T> {
    pub items: Vec<T>,
    pub dropped: usize,
}

/// A bounded FIFO of requests waiting for the worker.
#[derive(Debug)]
pub struct Queue<T> {
    capacity: usize,
    state: Mutex<State<T>>,
    changed: Condvar,
}

#[derive(Debug)]
struct State<T> {
    items: VecDeque<T>,
    closed: bool,
}

impl<T: Queued> Queue<T> {
    /// An empty queue that holds at most `capacity` waiting requests (at least 1).
    pub fn new(capacity: usize) -> Self {
        Queue {
            capacity: capacity.max(1),
            state: Mutex::new(State {
                items: VecDeque::new(),
                closed: false,
            }),
            changed: Condvar::new(),
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Requests waiting now (not counting the batch being computed).
    pub fn len(&self) -> usize {
        self.lock().items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends `item`, or gives it back at once when the queue is full or closed.
    pub fn push(&self, item: T) -> Result<(), PushError<T>> {
        let mut state = self.lock();
        if state.closed {
            return Err(PushError::Closed(item));
        }
        if state.items.len() >= self.capacity {
            return Err(PushError::Full(item));
        }
        state.items.push_back(item);
        drop(state);
        self.changed.notify_all();
        Ok(())
    }

    /// Refuses further pushes; what is queued is still handed out by [`Queue::next_batch`].
    pub fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }

    /// Blocks until a batch can be formed under `policy`; `None` once the queue is closed and
    /// empty. After taking the oldest live request it waits up to `policy.wait` for more (less
    /// when the batch fills or the queue closes).
    pub fn next_batch(&self, policy: &BatchPolicy) -> Option<Batch<T>> {
        let mut dropped = 0;
        let mut state = self.lock();
        let first = loop {
            dropped += drop_abandoned(&mut state.items);
            if let Some(first) = state.items.pop_front() {
                break first;
            }
            if state.closed {
                return None;
            }
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        };
        let gather_until = Instant::now() + policy.wait;
        let project = first.project().to_string();
        let mut items = vec![first];
        loop {
            dropped += drop_abandoned(&mut state.items);
            let mut index = 0;
            while items.len() < policy.max_size && index < state.items.len() {
                if !policy.one_project || state.items[index].project() == project {
                    items.extend(state.items.remove(index));
                } else {
                    index += 1;
                }
            }
            let now = Instant::now();
            if items.len() >= policy.max_size || state.closed || now >= gather_until {
                break;
            }
            state = self
                .changed
                .wait_timeout(state, gather_until - now)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
        Some(Batch { items, dropped })
    }

    /// The state, even if a thread panicked while holding the lock (the queue's invariants
    /// hold between any two statements that touch it).
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Removes the requests nobody waits for any more; how many.
fn drop_abandoned<T: Queued>(items: &mut VecDeque<T>) -> usize {
    let now = Instant::now();
    let before = items.len();
    items.retain(|item| !item.abandoned(now));
    before - items.len()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::thread;

    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    struct Job {
        id: usize,
        project: &'static str,
        deadline: Instant,
    }

    impl Queued for Job {
        fn project(&self) -> &str {
            self.project
        }

        fn abandoned(&self, now: Instant) -> bool {
            now >= self.deadline
        }
    }

    fn job(id: usize, project: &'static str) -> Job {
        Job {
            id,
            project,
            deadline: Instant::now() + Duration::from_secs(60),
        }
    }

    fn policy(max_size: usize, one_project: bool) -> BatchPolicy {
        BatchPolicy {
            max_size,
            wait: Duration::ZERO,
            one_project,
        }
    }

    fn ids(batch: &Batch<Job>) -> Vec<usize> {
        batch.items.iter().map(|j| j.id).collect()
    }

    #[test]
    fn a_mixed_batch_takes_every_project_in_arrival_order_up_to_its_size() {
        let queue = Queue::new(10);
        for (id, project) in [(0, "a"), (1, "b"), (2, "a"), (3, "c"), (4, "b")] {
            queue.push(job(id, project)).unwrap();
        }
        let batch = queue.next_batch(&policy(4, false)).unwrap();
        assert_eq!(ids(&batch), [0, 1, 2, 3]);
        assert_eq!(ids(&queue.next_batch(&policy(4, false)).unwrap()), [4]);
        assert!(queue.is_empty());
    }

    #[test]
    fn a_one_project_batch_takes_the_first_requests_project_and_leaves_the_rest_in_order() {
        let queue = Queue::new(10);
        for (id, project) in [(0, "a"), (1, "b"), (2, "a"), (3, "c"), (4, "b"), (5, "a")] {
            queue.push(job(id, project)).unwrap();
        }
        let one = policy(2, true);
        assert_eq!(ids(&queue.next_batch(&one).unwrap()), [0, 2]);
        assert_eq!(ids(&queue.next_batch(&one).unwrap()), [1, 4]);
        assert_eq!(ids(&queue.next_batch(&one).unwrap()), [3]);
        assert_eq!(ids(&queue.next_batch(&one).unwrap()), [5]);
    }

    #[test]
    fn a_full_queue_refuses_at_once_and_gives_the_request_back() {
        let queue = Queue::new(2);
        queue.push(job(0, "a")).unwrap();
        queue.push(job(1, "a")).unwrap();
        match queue.push(job(2, "b")) {
            Err(PushError::Full(back)) => assert_eq!(back.id, 2),
            other => panic!("expected Full, got {other:?}"),
        }
        assert_eq!(queue.len(), 2);
    }

    #[test]
    fn requests_past_their_deadline_are_dropped_not_batched() {
        let queue = Queue::new(10);
        queue.push(job(0, "a")).unwrap();
        let mut late = job(1, "b");
        late.deadline = Instant::now();
        queue.push(late).unwrap();
        queue.push(job(2, "c")).unwrap();
        let batch = queue.next_batch(&policy(8, false)).unwrap();
        assert_eq!(ids(&batch), [0, 2]);
        assert_eq!(batch.dropped, 1);
    }

    #[test]
    fn the_worker_waits_for_more_requests_until_the_batch_fills() {
        let queue = Arc::new(Queue::new(10));
        queue.push(job(0, "a")).unwrap();
        let pusher = {
            let queue = Arc::clone(&queue);
            thread::spawn(move || {
                thread::sleep(Duration::from_millis(50));
                queue.push(job(1, "b")).unwrap();
            })
        };
        let waiting = BatchPolicy {
            max_size: 2,
            wait: Duration::from_secs(30),
            one_project: false,
        };
        let started = Instant::now();
        let batch = queue.next_batch(&waiting).unwrap();
        assert_eq!(ids(&batch), [0, 1]);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "returned once full"
        );
        pusher.join().unwrap();
    }

    #[test]
    fn a_closed_queue_hands_out_what_it_holds_then_ends() {
        let queue = Queue::new(10);
        queue.push(job(0, "a")).unwrap();
        queue.close();
        assert!(matches!(queue.push(job(1, "a")), Err(PushError::Closed(_))));
        let waiting = BatchPolicy {
            max_size: 4,
            wait: Duration::from_secs(30),
            one_project: false,
        };
        assert_eq!(ids(&queue.next_batch(&waiting).unwrap()), [0]);
        assert!(queue.next_batch(&waiting).is_none());
    }

    #[test]
    fn closing_wakes_a_worker_that_waits_for_the_first_request() {
        let queue = Arc::new(Queue::<Job>::new(1));
        let worker = {
            let queue = Arc::clone(&queue);
            thread::spawn(move || queue.next_batch(&policy(1, false)).is_none())
        };
        thread::sleep(Duration::from_millis(20));
        queue.close();
        assert!(worker.join().unwrap());
    }
}
