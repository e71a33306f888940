//! The HTTP surface: the routes, their JSON bodies, and how every failure becomes a status code
//! with a JSON reason (`{"error": "…"}`), axum's own rejections included.
//!
//! A request is checked completely here (fields, `k`, project) before it takes a queue slot, so
//! the worker computes only requests that can be answered.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::oneshot;

use super::queue::{PushError, Queue};
use super::worker::{Job, Reply, Stats};
use crate::suggest::{Candidate, FocalSpec, ProjectInfo, SuggestError, SuggestRequest};

/// `k` when a request names none (lowered to the server's largest `k` if that is smaller).
pub const DEFAULT_K: usize = 5;

/// Seconds a client told "overloaded" is asked to wait (`Retry-After`).
const RETRY_AFTER_S: u64 = 1;

/// What every handler shares.
#[derive(Debug)]
pub struct AppState {
    pub queue: Arc<Queue<Job>>,
    pub stats: Arc<Stats>,
    pub projects: Vec<ProjectInfo>,
    pub names: BTreeSet<String>,
    pub max_k: usize,
    pub timeout: Duration,
    /// Larger bodies are refused with 413.
    pub max_body_bytes: usize,
    /// `mixed` or `one-at-a-time`, as `/health` reports it.
    pub mode: &'static str,
}

/// The routes, with the body limit applied to every body-reading extractor.
pub fn router(state: Arc<AppState>) -> Router {
    let max_body_bytes = state.max_body_bytes;
    Router::new()
        .route("/v1/suggest", post(suggest))
        .route("/v1/projects", get(projects))
        .route("/health", get(health))
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
}

/// `POST /v1/suggest`'s body: a model input (`focal`), or a Java source and one of its methods.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuggestBody {
    pub project: String,
    pub focal: Option<String>,
    pub java: Option<String>,
    pub method: Option<String>,
    pub k: Option<usize>,
}

impl SuggestBody {
    /// The engine's request, or why this body cannot be one (answered 400).
    pub fn into_request(self, max_k: usize) -> Result<SuggestRequest, String> {
        let k = self.k.unwrap_or(DEFAULT_K.min(max_k));
        if k == 0 || k > max_k {
            return Err(format!("k must be between 1 and {max_k}, got {k}"));
        }
        let focal = match (self.focal, self.java, self.method) {
            (Some(_), Some(_), _) => {
                return Err("give either \"focal\" or \"java\" with \"method\", not both".into());
            }
            (Some(_), None, Some(_)) => {
                return Err("\"method\" goes with \"java\", not with \"focal\"".into());
            }
            (Some(focal), None, None) if focal.trim().is_empty() => {
                return Err("\"focal\" is empty".into());
            }
            (Some(focal), None, None) => FocalSpec::Text(focal),
            (None, Some(_), None) => {
                return Err("\"java\" needs \"method\": a name, or name(Type, …)".into());
            }
            (None, Some(_), Some(method)) if method.trim().is_empty() => {
                return Err("\"method\" is empty".into());
            }
            (None, Some(source), Some(method)) => FocalSpec::Java {
                source,
                origin: "request".into(),
                method,
            },
            (None, None, _) => {
                return Err("missing field: \"focal\", or \"java\" with \"method\"".into());
            }
        };
        Ok(SuggestRequest {
            project: self.project,
            focal,
            k,
        })
    }
}

/// `POST /v1/suggest`'s answer.
#[derive(Debug, Serialize)]
struct SuggestResponse {
    project: String,
    candidates: Vec<Ranked>,
    batch_size: usize,
    queue_ms: f64,
    compute_ms: f64,
}

/// A candidate with its rank (1 = lowest mean NLL).
#[derive(Debug, Serialize)]
struct Ranked {
    rank: usize,
    #[serde(flatten)]
    candidate: Candidate,
}

/// A failure as the client sees it: a status, a reason, and for overload when to retry.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub reason: String,
    pub retry_after_s: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, reason: impl Into<String>) -> Self {
        ApiError {
            status,
            reason: reason.into(),
            retry_after_s: None,
        }
    }

    fn overloaded(reason: impl Into<String>) -> Self {
        ApiError {
            retry_after_s: Some(RETRY_AFTER_S),
            ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, reason)
        }
    }
}

impl From<SuggestError> for ApiError {
    fn from(error: SuggestError) -> Self {
        let status = match &error {
            SuggestError::UnknownProject { .. } => StatusCode::NOT_FOUND,
            SuggestError::BadRequest(_) => StatusCode::BAD_REQUEST,
            SuggestError::Focal(_) => StatusCode::UNPROCESSABLE_ENTITY,
            SuggestError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, format!("{error:#}"))
    }
}

impl ApiError {
    /// axum's own status for a body it could not take (413 over the limit, 400 unreadable),
    /// with its reason in our JSON shape.
    fn from_body(rejection: BytesRejection, max_body_bytes: usize) -> Self {
        let status = rejection.status();
        let reason = if status == StatusCode::PAYLOAD_TOO_LARGE {
            format!("request body too large: the limit is {max_body_bytes} bytes")
        } else {
            rejection.body_text()
        };
        ApiError::new(status, reason)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(json!({ "error": self.reason }));
        match self.retry_after_s {
            Some(seconds) => (
                self.status,
                [(header::RETRY_AFTER, seconds.to_string())],
                body,
            )
                .into_response(),
            None => (self.status, body).into_response(),
        }
    }
}

async fn suggest(
    State(state): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<SuggestResponse>, ApiError> {
    let body = body.map_err(|r| ApiError::from_body(r, state.max_body_bytes))?;
    let body: SuggestBody = serde_json::from_slice(&body).map_err(|error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("invalid request body: {error}"),
        )
    })?;
    let request = body
        .into_request(state.max_k)
        .map_err(|reason| ApiError::new(StatusCode::BAD_REQUEST, reason))?;
    if !state.names.contains(&request.project) {
        return Err(SuggestError::UnknownProject {
            project: request.project,
            known: state.names.iter().cloned().collect::<Vec<_>>().join(", "),
        }
        .into());
    }
    let project = request.project.clone();
    let reply = enqueue_and_wait(&state, request).await?;
    let candidates = reply
        .result?
        .into_iter()
        .enumerate()
        .map(|(index, candidate)| Ranked {
            rank: index + 1,
            candidate,
        })
        .collect();
    Ok(Json(SuggestResponse {
        project,
        candidates,
        batch_size: reply.batch_size,
        queue_ms: reply.queue_ms,
        compute_ms: reply.compute_ms,
    }))
}

/// Queues `request` for the worker and waits for its reply until the request's deadline.
async fn enqueue_and_wait(state: &AppState, request: SuggestRequest) -> Result<Reply, ApiError> {
    let enqueued = Instant::now();
    let deadline = enqueued + state.timeout;
    let (reply, answer) = oneshot::channel();
    let job = Job {
        request,
        enqueued,
        deadline,
        reply,
    };
    match state.queue.push(job) {
        Ok(()) => {}
        Err(PushError::Full(_)) => {
            return Err(ApiError::overloaded(format!(
                "overloaded: {} requests are already waiting; retry later",
                state.queue.capacity()
            )));
        }
        Err(PushError::Closed(_)) => {
            return Err(ApiError::overloaded("the server is shutting down"));
        }
    }
    match tokio::time::timeout_at(deadline.into(), answer).await {
        Ok(Ok(reply)) => Ok(reply),
        // The worker drops a request only once its deadline has passed.
        Ok(Err(_)) | Err(_) if Instant::now() >= deadline => Err(ApiError::overloaded(format!(
            "timed out: no answer within the server's limit of {} ms",
            state.timeout.as_millis()
        ))),
        Ok(Err(_)) | Err(_) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the engine's worker stopped before answering",
        )),
    }
}

async fn projects(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    Json(json!({ "projects": state.projects }))
}

async fn health(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    let stats = &state.stats;
    Json(json!({
        "status": "ok",
        "projects": state.projects.len(),
        "queue_depth": state.queue.len(),
        "queue_capacity": state.queue.capacity(),
        "mode": state.mode,
        "max_k": state.max_k,
        "batches": stats.batches.load(Ordering::Relaxed),
        "answered": stats.answered.load(Ordering::Relaxed),
        "dropped": stats.dropped.load(Ordering::Relaxed),
        "panics": stats.panics.load(Ordering::Relaxed),
    }))
}

async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no route {method} {uri}: POST /v1/suggest, GET /v1/projects, GET /health"),
    )
}

async fn wrong_method(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{method} is not allowed on {uri}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: &str) -> Result<SuggestRequest, String> {
        serde_json::from_str::<SuggestBody>(json)
            .map_err(|e| e.to_string())?
            .into_request(10)
    }

    #[test]
    fn a_focal_request_defaults_to_five_candidates() {
        let request = body(r#"{"project": "p", "focal": "int f() { return 1; }"}"#).unwrap();
        assert_eq!(request.k, DEFAULT_K);
        assert_eq!(
            request.focal,
            FocalSpec::Text("int f() { return 1; }".into())
        );
    }

    #[test]
    fn a_java_request_names_its_origin_as_the_request() {
        let request =
            body(r#"{"project": "p", "java": "class A {}", "method": "f(int)", "k": 2}"#).unwrap();
        assert_eq!(request.k, 2);
        assert_eq!(
            request.focal,
            FocalSpec::Java {
                source: "class A {}".into(),
                origin: "request".into(),
                method: "f(int)".into()
            }
        );
    }

    #[test]
    fn missing_conflicting_or_unknown_fields_are_refused_with_their_name() {
        for (json, says) in [
            (r#"{"focal": "f"}"#, "project"),
            (r#"{"project": "p"}"#, "missing field"),
            (
                r#"{"project": "p", "focal": "f", "java": "j", "method": "m"}"#,
                "not both",
            ),
            (
                r#"{"project": "p", "java": "class A {}"}"#,
                "needs \"method\"",
            ),
            (
                r#"{"project": "p", "focal": "f", "method": "m"}"#,
                "goes with \"java\"",
            ),
            (r#"{"project": "p", "focal": "  "}"#, "empty"),
            (
                r#"{"project": "p", "focal": "f", "kk": 1}"#,
                "unknown field `kk`",
            ),
            (
                r#"{"project": "p", "focal": "f", "k": 0}"#,
                "between 1 and 10, got 0",
            ),
            (
                r#"{"project": "p", "focal": "f", "k": 11}"#,
                "between 1 and 10, got 11",
            ),
            (
                r#"{"project": "p", "focal": "f", "k": -1}"#,
                "invalid value",
            ),
        ] {
            let error = body(json).unwrap_err();
            assert!(error.contains(says), "{json}: {error}");
        }
    }

    #[test]
    fn the_default_k_never_exceeds_the_servers_largest() {
        let request = serde_json::from_str::<SuggestBody>(r#"{"project": "p", "focal": "f"}"#)
            .unwrap()
            .into_request(2)
            .unwrap();
        assert_eq!(request.k, 2);
    }

    #[test]
    fn engine_errors_map_to_their_statuses() {
        let status = |e: SuggestError| ApiError::from(e).status;
        assert_eq!(
            status(SuggestError::UnknownProject {
                project: "x".into(),
                known: "a".into()
            }),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            status(SuggestError::BadRequest("k".into())),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status(SuggestError::Focal("no method".into())),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            status(SuggestError::Internal(anyhow::anyhow!("boom"))),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
