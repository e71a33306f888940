//! The HTTP layer end to end over real sockets, with a fake engine whose batches can be held
//! open, so overload, time limits, panics and shutdown are exercised deterministically.

use std::sync::mpsc;
use std::sync::{Arc, Barrier, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use serde_json::{Value, json};

use super::*;
use crate::adapt::registry::AdaptMetrics;
use crate::suggest::{FocalSpec, Source};

/// Holds the fake's batches until opened.
#[derive(Default)]
struct Gate {
    open: Mutex<bool>,
    changed: Condvar,
}

impl Gate {
    fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.changed.notify_all();
    }

    fn wait(&self) {
        let mut open = self.open.lock().unwrap();
        while !*open {
            open = self.changed.wait(open).unwrap();
        }
    }
}

/// Answers `k` candidates naming the request; `focal: "panic"` panics; Java without
/// `method`'s name in it is a focal error. Records each batch's projects.
struct Fake {
    projects: Vec<&'static str>,
    batches: Arc<Mutex<Vec<Vec<String>>>>,
    gate: Option<Arc<Gate>>,
    entered: Option<mpsc::Sender<()>>,
}

impl Fake {
    fn new(projects: &[&'static str]) -> Self {
        Fake {
            projects: projects.to_vec(),
            batches: Arc::default(),
            gate: None,
            entered: None,
        }
    }

    /// A fake whose batches wait for the gate, saying on the channel when one starts.
    fn gated(projects: &[&'static str]) -> (Self, Arc<Gate>, mpsc::Receiver<()>) {
        let gate = Arc::new(Gate::default());
        let (entered, batches_started) = mpsc::channel();
        let fake = Fake {
            gate: Some(Arc::clone(&gate)),
            entered: Some(entered),
            ..Fake::new(projects)
        };
        (fake, gate, batches_started)
    }
}

impl Suggester for Fake {
    fn projects(&self) -> Vec<ProjectInfo> {
        self.projects
            .iter()
            .map(|name| ProjectInfo {
                name: name.to_string(),
                strategy: "lora".into(),
                pairs: 3,
                mixes: true,
                metrics: AdaptMetrics::default(),
            })
            .collect()
    }

    fn max_k(&self) -> usize {
        5
    }

    fn suggest_batch(
        &self,
        requests: &[SuggestRequest],
    ) -> Vec<Result<Vec<Candidate>, SuggestError>> {
        self.batches
            .lock()
            .unwrap()
            .push(requests.iter().map(|r| r.project.clone()).collect());
        if let Some(entered) = &self.entered {
            entered.send(()).unwrap();
        }
        if let Some(gate) = &self.gate {
            gate.wait();
        }
        requests
            .iter()
            .map(|request| {
                let focal = match &request.focal {
                    FocalSpec::Text(text) if text == "panic" => panic!("the fake panics"),
                    FocalSpec::Text(text) => text.clone(),
                    FocalSpec::Java { source, method, .. } if !source.contains(method.as_str()) => {
                        return Err(SuggestError::Focal(format!("request: no method {method}")));
                    }
                    FocalSpec::Java { method, .. } => method.clone(),
                };
                Ok((0..request.k)
                    .map(|i| Candidate {
                        source: Source::Generated { beam_rank: i + 1 },
                        test: format!("{}:{focal}:{i}", request.project),
                        mean_nll: i as f64,
                        well_formed: true,
                        empty: false,
                        calls_focal: false,
                    })
                    .collect())
            })
            .collect()
    }
}

fn config() -> ServeConfig {
    ServeConfig {
        timeout: Duration::from_secs(20),
        ..ServeConfig::default()
    }
}

fn post(addr: SocketAddr, body: &str) -> (u16, Value, Option<String>) {
    let reply = client::post_suggest(&client::agent(), addr, body).expect("the server answers");
    (reply.status, reply.json, reply.retry_after)
}

fn get(addr: SocketAddr, path: &str) -> (u16, Value) {
    let reply = client::get(&client::agent(), addr, path).expect("the server answers");
    (reply.status, reply.json)
}

fn suggest(project: &str, focal: &str, k: usize) -> String {
    json!({"project": project, "focal": focal, "k": k}).to_string()
}

/// Polls `/health` until `queue_depth` is `depth`.
fn wait_for_queue_depth(addr: SocketAddr, depth: u64) {
    for _ in 0..500 {
        if get(addr, "/health").1["queue_depth"] == depth {
            return;
        }
        thread::sleep(Duration::from_millis(10));
    }
    panic!("the queue never held {depth} requests");
}

#[test]
fn concurrent_requests_of_several_projects_share_mixed_batches() {
    let fake = Fake::new(&["alpha", "beta", "gamma"]);
    let batches = Arc::clone(&fake.batches);
    let mut config = config();
    config.batch.wait = Duration::from_millis(200);
    let server = start(fake, config).unwrap();
    let addr = server.addr();
    let barrier = Arc::new(Barrier::new(8));
    let clients: Vec<_> = (0..8)
        .map(|i| {
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                let project = ["alpha", "beta", "gamma"][i % 3];
                barrier.wait();
                (
                    project,
                    post(addr, &suggest(project, &format!("m{i}"), 1 + i % 5)),
                )
            })
        })
        .collect();
    for (i, client) in clients.into_iter().enumerate() {
        let (project, (status, body, _)) = client.join().unwrap();
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["project"], project);
        let candidates = body["candidates"].as_array().unwrap();
        assert_eq!(candidates.len(), 1 + i % 5);
        assert_eq!(candidates[0]["rank"], 1);
        assert_eq!(candidates[0]["source"]["kind"], "generated");
        assert_eq!(candidates[0]["test"], format!("{project}:m{i}:0"));
        assert!(body["compute_ms"].as_f64().unwrap() >= 0.0);
    }
    let batches = batches.lock().unwrap().clone();
    assert_eq!(batches.iter().map(Vec::len).sum::<usize>(), 8);
    assert!(
        batches.iter().any(|b| b.iter().any(|p| p != &b[0])),
        "no batch mixed projects: {batches:?}"
    );
    server.shutdown().unwrap();
}

#[test]
fn one_at_a_time_batches_hold_one_project_each() {
    let fake = Fake::new(&["alpha", "beta"]);
    let batches = Arc::clone(&fake.batches);
    let mut config = config();
    config.batch.wait = Duration::from_millis(100);
    config.batch.one_project = true;
    let server = start(fake, config).unwrap();
    let addr = server.addr();
    assert_eq!(get(addr, "/health").1["mode"], "one-at-a-time");
    let clients: Vec<_> = (0..6)
        .map(|i| thread::spawn(move || post(addr, &suggest(["alpha", "beta"][i % 2], "m", 1)).0))
        .collect();
    for client in clients {
        assert_eq!(client.join().unwrap(), 200);
    }
    let batches = batches.lock().unwrap().clone();
    assert_eq!(batches.iter().map(Vec::len).sum::<usize>(), 6);
    assert!(
        batches.iter().all(|b| b.iter().all(|p| p == &b[0])),
        "a batch mixed projects: {batches:?}"
    );
    server.shutdown().unwrap();
}

#[test]
fn health_and_projects_describe_the_server() {
    let server = start(Fake::new(&["alpha", "beta"]), config()).unwrap();
    let (status, health) = get(server.addr(), "/health");
    assert_eq!(status, 200);
    assert_eq!(health["status"], "ok");
    assert_eq!(health["projects"], 2);
    assert_eq!(health["queue_depth"], 0);
    assert_eq!(health["mode"], "mixed");
    let (status, projects) = get(server.addr(), "/v1/projects");
    assert_eq!(status, 200);
    let names: Vec<&str> = projects["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alpha", "beta"]);
    assert_eq!(projects["projects"][0]["mixes"], true);
    server.shutdown().unwrap();
}

#[test]
fn bad_requests_get_their_status_and_a_json_reason() {
    let mut config = config();
    config.max_body_bytes = 1024;
    let server = start(Fake::new(&["alpha"]), config).unwrap();
    let addr = server.addr();
    let cases = [
        ("{\"project\": ", 400, "invalid request body"),
        (r#"{"focal": "f"}"#, 400, "missing field `project`"),
        (r#"{"project": "alpha"}"#, 400, "missing field"),
        (
            r#"{"project": "alpha", "focal": "f", "k": 0}"#,
            400,
            "between 1 and 5",
        ),
        (
            r#"{"project": "alpha", "focal": "f", "k": 6}"#,
            400,
            "between 1 and 5",
        ),
        (
            r#"{"project": "nope", "focal": "f"}"#,
            404,
            "registered: alpha",
        ),
        (
            r#"{"project": "alpha", "java": "class A {}", "method": "bar"}"#,
            422,
            "no method bar",
        ),
    ];
    for (body, expected, says) in cases {
        let (status, json, _) = post(addr, body);
        assert_eq!(status, expected, "{body}: {json}");
        let reason = json["error"].as_str().unwrap();
        assert!(reason.contains(says), "{body}: {reason}");
    }
    let large = suggest("alpha", &"x".repeat(4096), 1);
    let (status, json, _) = post(addr, &large);
    assert_eq!(status, 413, "{json}");
    assert!(
        json["error"].as_str().unwrap().contains("too large"),
        "{json}"
    );

    let (status, json) = get(addr, "/v2/nothing");
    assert_eq!(status, 404);
    assert!(
        json["error"].as_str().unwrap().contains("no route"),
        "{json}"
    );
    let (status, json) = get(addr, "/v1/suggest");
    assert_eq!(status, 405);
    assert!(json["error"].as_str().unwrap().contains("GET"), "{json}");
    // Still serving after all of that.
    assert_eq!(post(addr, &suggest("alpha", "f", 2)).0, 200);
    server.shutdown().unwrap();
}

#[test]
fn a_full_queue_answers_503_with_retry_after_and_keeps_serving() {
    let (fake, gate, batches_started) = Fake::gated(&["alpha"]);
    let mut config = config();
    config.queue_capacity = 1;
    config.batch.max_size = 1;
    let server = start(fake, config).unwrap();
    let addr = server.addr();
    let computing = thread::spawn(move || post(addr, &suggest("alpha", "a", 1)).0);
    batches_started.recv().unwrap();
    let queued = thread::spawn(move || post(addr, &suggest("alpha", "b", 1)).0);
    wait_for_queue_depth(addr, 1);
    let (status, json, retry) = post(addr, &suggest("alpha", "c", 1));
    assert_eq!(status, 503, "{json}");
    assert!(
        json["error"].as_str().unwrap().contains("overloaded"),
        "{json}"
    );
    assert_eq!(retry.as_deref(), Some("1"));
    gate.open();
    assert_eq!(computing.join().unwrap(), 200);
    assert_eq!(queued.join().unwrap(), 200);
    assert_eq!(post(addr, &suggest("alpha", "d", 1)).0, 200);
    server.shutdown().unwrap();
}

#[test]
fn a_request_over_the_time_limit_gets_503_and_is_never_computed() {
    let (fake, gate, batches_started) = Fake::gated(&["alpha"]);
    let batches = Arc::clone(&fake.batches);
    let mut config = config();
    config.timeout = Duration::from_millis(300);
    config.batch.max_size = 1;
    let server = start(fake, config).unwrap();
    let addr = server.addr();
    let computing = thread::spawn(move || post(addr, &suggest("alpha", "slow", 1)));
    batches_started.recv().unwrap();
    let (status, json, _) = post(addr, &suggest("alpha", "queued", 1));
    assert_eq!(status, 503, "{json}");
    assert!(
        json["error"].as_str().unwrap().contains("timed out"),
        "{json}"
    );
    let (status, json, _) = computing.join().unwrap();
    assert_eq!(status, 503, "{json}");
    gate.open();
    // The queued request expired while waiting: the worker drops it instead of computing it.
    assert_eq!(post(addr, &suggest("alpha", "next", 1)).0, 200);
    let health = get(addr, "/health").1;
    assert_eq!(health["dropped"], 1, "{health}");
    assert_eq!(batches.lock().unwrap().len(), 2);
    server.shutdown().unwrap();
}

#[test]
fn a_panicking_engine_answers_500_and_the_server_goes_on() {
    let server = start(Fake::new(&["alpha"]), config()).unwrap();
    let addr = server.addr();
    let (status, json, _) = post(addr, &suggest("alpha", "panic", 1));
    assert_eq!(status, 500, "{json}");
    assert!(
        json["error"].as_str().unwrap().contains("the fake panics"),
        "{json}"
    );
    assert_eq!(post(addr, &suggest("alpha", "fine", 1)).0, 200);
    assert_eq!(get(addr, "/health").1["panics"], 1);
    server.shutdown().unwrap();
}

#[test]
fn shutdown_answers_what_is_queued_then_refuses_connections() {
    let (fake, gate, batches_started) = Fake::gated(&["alpha"]);
    let mut config = config();
    config.batch.max_size = 1;
    let server = start(fake, config).unwrap();
    let addr = server.addr();
    let computing = thread::spawn(move || post(addr, &suggest("alpha", "a", 1)));
    batches_started.recv().unwrap();
    let queued = thread::spawn(move || post(addr, &suggest("alpha", "b", 2)));
    wait_for_queue_depth(addr, 1);
    let stopping = thread::spawn(move || server.shutdown().map(|fake| fake.batches));
    thread::sleep(Duration::from_millis(100));
    gate.open();
    let (status, json, _) = computing.join().unwrap();
    assert_eq!(status, 200, "{json}");
    let (status, json, _) = queued.join().unwrap();
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["candidates"].as_array().unwrap().len(), 2);
    let batches = stopping.join().unwrap().unwrap();
    assert_eq!(batches.lock().unwrap().len(), 2);
    assert!(std::net::TcpStream::connect(addr).is_err());
}
