//! A plain-HTTP JSON client of `tailor serve` (ureq): what `bench-serve`'s load clients and the
//! tests drive the server with, so a request is sent and an answer read one way.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::Value;

/// One answer: its status, its JSON body and its `Retry-After` header (sent with 503).
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub json: Value,
    pub retry_after: Option<String>,
}

/// An agent that hands back 4xx/5xx answers as values (the server's errors are JSON to read, not
/// transport failures) and gives up after two minutes.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}

/// `POST /v1/suggest` with `body` (sent as given, so malformed JSON can be sent too).
pub fn post_suggest(agent: &ureq::Agent, addr: SocketAddr, body: &str) -> Result<Reply> {
    let response = agent
        .post(format!("http://{addr}/v1/suggest"))
        .header("content-type", "application/json")
        .send(body)
        .with_context(|| format!("POST http://{addr}/v1/suggest"))?;
    reply(response)
}

/// `GET path`.
pub fn get(agent: &ureq::Agent, addr: SocketAddr, path: &str) -> Result<Reply> {
    let response = agent
        .get(format!("http://{addr}{path}"))
        .call()
        .with_context(|| format!("GET http://{addr}{path}"))?;
    reply(response)
}

fn reply(mut response: ureq::http::Response<ureq::Body>) -> Result<Reply> {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let text = response
        .body_mut()
        .read_to_string()
        .with_context(|| format!("reading the body of an HTTP {status} answer"))?;
    let json = serde_json::from_str(&text)
        .with_context(|| format!("HTTP {status}: the body is not JSON: {text}"))?;
    Ok(Reply {
        status,
        json,
        retry_after,
    })
}
