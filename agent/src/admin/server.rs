//! The admin server on hyper.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::telemetry::{Exposition, registry};
use crate::topology::StatusRegistry;

/// What the admin endpoints read.
#[derive(Debug)]
pub struct AdminState {
    /// Component states.
    pub status: Arc<StatusRegistry>,
    /// Extra `/metrics` sections.
    pub exposition: Arc<Exposition>,
    /// When the agent started.
    pub started: Instant,
    /// Set once the pipeline is built; cleared while shutting down.
    pub pipeline_up: AtomicBool,
}

/// Bind `address` and serve until `shutdown`. Binding happens before this
/// returns, so a taken port is a start-up error.
pub async fn serve(
    address: SocketAddr,
    state: Arc<AdminState>,
    shutdown: CancellationToken,
) -> std::io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind(address).await?;
    let local = listener.local_addr()?;
    tracing::info!(address = %local, "Admin server listening.");
    let task = tokio::spawn(async move {
        loop {
            let (stream, _) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(conn) => conn,
                    Err(error) => {
                        tracing::warn!(%error, "Admin server failed to accept a connection.");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        continue;
                    }
                },
                () = shutdown.cancelled() => return,
            };
            let state = Arc::clone(&state);
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let state = Arc::clone(&state);
                    async move { Ok::<_, Infallible>(route(&state, &req)) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok((local, task))
}

fn route(state: &AdminState, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            "only GET and HEAD are served\n",
        );
    }
    match req.uri().path() {
        "/healthz" => text(StatusCode::OK, "ok\n"),
        "/readyz" => {
            if !state.pipeline_up.load(Ordering::Acquire) {
                return text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "not ready: pipeline not running\n",
                );
            }
            match state.status.ready() {
                Ok(()) => text(StatusCode::OK, "ready\n"),
                Err(reason) => text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &format!("not ready: {reason}\n"),
                ),
            }
        }
        "/metrics" => {
            let mut body = String::with_capacity(16 * 1024);
            registry().render(&mut body);
            body.push_str(
                "# HELP neurallog_agent_uptime_seconds Seconds since the agent started.\n",
            );
            body.push_str("# TYPE neurallog_agent_uptime_seconds gauge\n");
            body.push_str(&format!(
                "neurallog_agent_uptime_seconds {:.3}\n",
                state.started.elapsed().as_secs_f64()
            ));
            state.exposition.render(&mut body);
            respond(
                StatusCode::OK,
                "text/plain; version=0.0.4; charset=utf-8",
                body.into(),
            )
        }
        "/status" => {
            let mut doc = state.status.to_json();
            doc["version"] = env!("CARGO_PKG_VERSION").into();
            doc["uptime_seconds"] = state.started.elapsed().as_secs().into();
            doc["ready"] =
                (state.pipeline_up.load(Ordering::Acquire) && state.status.ready().is_ok()).into();
            let body = serde_json::to_vec_pretty(&doc).unwrap_or_default();
            respond(StatusCode::OK, "application/json", body.into())
        }
        _ => text(
            StatusCode::NOT_FOUND,
            "not found: try /healthz, /readyz, /metrics or /status\n",
        ),
    }
}

fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    respond(
        status,
        "text/plain; charset=utf-8",
        Bytes::copy_from_slice(body.as_bytes()),
    )
}

fn respond(status: StatusCode, content_type: &str, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    if let Ok(value) = header::HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}
