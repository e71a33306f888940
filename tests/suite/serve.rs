//! `tailor serve`'s library server over a real engine ([`crate::common::own`]'s registry: three
//! projects that mix in batches and one served alone), exercised by a real HTTP client on an
//! ephemeral port: concurrent requests of several projects answered from shared batches, the
//! read-only endpoints, bad inputs with their statuses, and a clean shutdown; then the
//! `tailor serve` and `tailor bench-serve` commands themselves.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use serde_json::{Value, json};
use tailor::model::Backend;
use tailor::serve::{ServeConfig, Server, client, start};
use tailor::suggest::{Engine, EngineOptions};

use crate::common::{own, run_ok, tailor};

/// The largest k the server accepts.
const MAX_K: usize = 5;

fn server(out: &Path, base: &Path, config: ServeConfig) -> Server<Engine> {
    let engine = Engine::load(&EngineOptions {
        out: out.to_path_buf(),
        base: base.to_path_buf(),
        projects: Vec::new(),
        backend: Backend::Flex,
        cuda: false,
        batch_size: 8,
        num_beams: None,
        max_length: None,
        stop_loops: tailor::suggest::DEFAULT_STOP_LOOPS,
        max_k: MAX_K,
    })
    .expect("loading the engine");
    start(engine, config).expect("starting the server")
}

/// Status and JSON body of a POST to `/v1/suggest`.
fn post(addr: SocketAddr, body: &str) -> (u16, Value) {
    let reply = client::post_suggest(&client::agent(), addr, body).expect("the server answers");
    (reply.status, reply.json)
}

fn get(addr: SocketAddr, path: &str) -> (u16, Value) {
    let reply = client::get(&client::agent(), addr, path).expect("the server answers");
    (reply.status, reply.json)
}

/// A focal method of the fixture repository, as text.
const FOCAL: &str = "public int getSize() { return size; }";

#[test]
fn concurrent_requests_of_several_projects_are_answered_from_mixed_batches() {
    let out = tempfile::tempdir().unwrap();
    let base = own::registered_projects(out.path());
    let mut config = ServeConfig::default();
    config.batch.wait = Duration::from_millis(300);
    let server = server(out.path(), &base, config);
    let addr = server.addr();

    let (status, health) = get(addr, "/health");
    assert_eq!(status, 200);
    assert_eq!(health["status"], "ok");
    assert_eq!(health["projects"], own::PROJECTS.len());
    assert_eq!(health["queue_depth"], 0);
    let (status, projects) = get(addr, "/v1/projects");
    assert_eq!(status, 200);
    let listed = projects["projects"].as_array().unwrap();
    for name in own::PROJECTS {
        let project = listed
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name} not listed: {projects}"));
        assert_eq!(project["mixes"], own::MIXED.contains(&name), "{project}");
    }

    let clients = 8;
    let barrier = Arc::new(Barrier::new(clients));
    let answers: Vec<_> = (0..clients)
        .map(|i| {
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                let project = own::PROJECTS[i % own::PROJECTS.len()];
                let k = 1 + i % MAX_K;
                barrier.wait();
                let body = json!({"project": project, "focal": FOCAL, "k": k});
                (project, k, post(addr, &body.to_string()))
            })
        })
        .collect();
    let mut largest_batch = 0;
    for answer in answers {
        let (project, k, (status, body)) = answer.join().unwrap();
        assert_eq!(status, 200, "{project}: {body}");
        assert_eq!(body["project"], project);
        let candidates = body["candidates"].as_array().unwrap();
        assert_eq!(candidates.len(), k, "{project}: {body}");
        for (rank, candidate) in candidates.iter().enumerate() {
            assert_eq!(candidate["rank"], rank + 1);
            assert!(candidate["test"].as_str().is_some_and(|t| !t.is_empty()));
            assert!(candidate["mean_nll"].as_f64().is_some());
            let kind = candidate["source"]["kind"].as_str().unwrap();
            assert!(matches!(kind, "generated" | "retrieved"), "{candidate}");
        }
        let nll: Vec<f64> = candidates
            .iter()
            .map(|c| c["mean_nll"].as_f64().unwrap())
            .collect();
        assert!(
            nll.is_sorted(),
            "{project}: not ranked by likelihood: {nll:?}"
        );
        largest_batch = largest_batch.max(body["batch_size"].as_u64().unwrap());
    }
    assert!(largest_batch > 1, "no request shared its batch");
    assert_eq!(get(addr, "/health").1["answered"], clients);

    server.shutdown().expect("a clean stop");
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "still accepting after shutdown"
    );
}

#[test]
fn bad_requests_get_4xx_with_a_reason_and_the_server_goes_on() {
    let out = tempfile::tempdir().unwrap();
    let base = own::registered_projects(out.path());
    let config = ServeConfig {
        max_body_bytes: 16 * 1024,
        ..ServeConfig::default()
    };
    let server = server(out.path(), &base, config);
    let addr = server.addr();
    let bell = std::fs::read_to_string(own::fixture_java("Bell")).unwrap();
    let cases = [
        (
            "{\"project\": \"alpha\", ".to_string(),
            400,
            "invalid request body",
        ),
        (
            json!({"focal": FOCAL}).to_string(),
            400,
            "missing field `project`",
        ),
        (
            json!({"project": "alpha"}).to_string(),
            400,
            "missing field",
        ),
        (
            json!({"project": "alpha", "focal": FOCAL, "k": 0}).to_string(),
            400,
            "between 1 and 5",
        ),
        (
            json!({"project": "alpha", "focal": FOCAL, "k": MAX_K + 1}).to_string(),
            400,
            "between 1 and 5",
        ),
        (
            json!({"project": "omega", "focal": FOCAL}).to_string(),
            404,
            "omega",
        ),
        (
            json!({"project": "alpha", "java": bell, "method": "ring"}).to_string(),
            422,
            "declares no method `ring`",
        ),
        (
            json!({"project": "alpha", "java": "class {", "method": "getSize"}).to_string(),
            422,
            "does not parse as Java",
        ),
        (
            json!({"project": "alpha", "focal": "x".repeat(20 * 1024)}).to_string(),
            413,
            "too large",
        ),
    ];
    for (body, expected, says) in cases {
        let (status, json) = post(addr, &body);
        let shown = &body[..body.len().min(80)];
        assert_eq!(status, expected, "{shown}: {json}");
        let reason = json["error"].as_str().unwrap_or_else(|| panic!("{json}"));
        assert!(reason.contains(says), "{shown}: {reason}");
    }
    let (status, json) = post(
        addr,
        &json!({"project": "beta", "java": bell, "method": "getSize", "k": 2}).to_string(),
    );
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["candidates"].as_array().unwrap().len(), 2);
    server.shutdown().expect("a clean stop");
}

#[test]
fn tailor_serve_prints_its_port_answers_and_exits_0_on_sigterm() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let out = tempfile::tempdir().unwrap();
    let base = own::registered_projects(out.path());
    let mut child = tailor()
        .args([
            "serve",
            "--port",
            "0",
            "--max-k",
            "3",
            "--project",
            "alpha",
            "--out",
        ])
        .arg(out.path())
        .arg("--base")
        .arg(&base)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("tailor serve starts");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let addr: SocketAddr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("first line: {line:?}"))
        .parse()
        .unwrap();
    assert_ne!(addr.port(), 0);
    line.clear();
    stdout.read_line(&mut line).unwrap();
    assert!(line.trim_start().starts_with("alpha (lora"), "{line:?}");

    let (status, json) = post(
        addr,
        &json!({"project": "alpha", "focal": FOCAL}).to_string(),
    );
    assert_eq!(status, 200, "{json}");
    assert_eq!(
        json["candidates"].as_array().unwrap().len(),
        3,
        "k defaults to --max-k"
    );
    let (status, json) = post(
        addr,
        &json!({"project": "beta", "focal": FOCAL}).to_string(),
    );
    assert_eq!(status, 404, "only --project alpha is served: {json}");

    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "tailor serve exited with {status}");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert!(rest.contains("stopped"), "{rest:?}");
    assert!(std::net::TcpStream::connect(addr).is_err());
}

/// Seconds each bench-serve run sends requests here; set `TAILOR_BENCH_SERVE_SECONDS` to
/// measure (the table is printed with `--nocapture`).
fn bench_seconds() -> String {
    std::env::var("TAILOR_BENCH_SERVE_SECONDS").unwrap_or_else(|_| "1".into())
}

#[test]
fn bench_serve_answers_every_request_and_writes_its_table() {
    let out = tempfile::tempdir().unwrap();
    let base = own::registered_projects(out.path());
    let stdout = run_ok(
        tailor()
            .args([
                "bench-serve",
                "--clients",
                "8",
                "--seconds",
                &bench_seconds(),
            ])
            .arg("--out")
            .arg(out.path())
            .arg("--base")
            .arg(&base),
    );
    println!("{stdout}");
    let table = std::fs::read_to_string(out.path().join("reports/bench-serve.md")).unwrap();
    let rows: Vec<Vec<&str>> = table
        .lines()
        .filter(|l| l.starts_with("| mixed") || l.starts_with("| one-at-a-time"))
        .map(|l| l.split('|').map(str::trim).collect())
        .collect();
    let modes: Vec<(&str, &str)> = rows.iter().map(|r| (r[1], r[2])).collect();
    assert_eq!(
        modes,
        [
            ("mixed", "1"),
            ("mixed", "5"),
            ("one-at-a-time", "1"),
            ("one-at-a-time", "5")
        ]
    );
    for row in &rows {
        let requests: usize = row[3].parse().unwrap();
        assert!(requests > 0, "{row:?}");
        assert_eq!(row[4], "0", "every request answered: {row:?}");
    }
}
