//! The admin server on hyper.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::telemetry::{Exposition, registry};
use crate::topology::StatusRegistry;

/// How long a client has to send a request's headers, from when it
/// connects or its last response went: a scraper or probe sends at once;
/// a connection that sends nothing (or half a request) is closed, not kept
/// with its descriptor and task for as long as the client likes.
pub(crate) const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTP/1 settings of the agent's own servers (admin, a prometheus
/// sink's address).
pub(crate) fn http1() -> hyper::server::conn::http1::Builder {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    builder
}

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
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                () = shutdown.cancelled() => return,
            };
            let state = Arc::clone(&state);
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let state = Arc::clone(&state);
                    async move { Ok::<_, Infallible>(route(&state, &req)) }
                });
                let connection = http1().serve_connection(TokioIo::new(stream), service);
                // Stopped (the admin address changed), its connections
                // close too rather than serve on from the old address.
                tokio::select! {
                    _ = connection => {}
                    () = shutdown.cancelled() => {}
                }
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

#[cfg(test)]
mod tests {
    use std::io::{Read as _, Write as _};
    use std::net::TcpStream;

    use super::*;

    /// Read until the server closes the connection (or `within` passes).
    fn read_to_close(stream: &mut TcpStream, within: Duration) -> std::io::Result<String> {
        stream.set_read_timeout(Some(within))?;
        let mut out = Vec::new();
        stream.read_to_end(&mut out)?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    /// Regression: a connection that sent half a request was kept for
    /// good, and the connections of a stopped admin server (its address
    /// changed by a reload) were served on.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn idle_and_stopped_connections_are_closed() {
        let state = Arc::new(AdminState {
            status: Arc::default(),
            exposition: Arc::default(),
            started: Instant::now(),
            pipeline_up: AtomicBool::new(true),
        });
        let shutdown = CancellationToken::new();
        let (address, task) = serve("127.0.0.1:0".parse().unwrap(), state, shutdown.clone())
            .await
            .unwrap();

        let slow = tokio::task::spawn_blocking(move || {
            let mut stream = TcpStream::connect(address)?;
            stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")?;
            let started = Instant::now();
            let answer = read_to_close(&mut stream, HEADER_READ_TIMEOUT * 3)?;
            std::io::Result::Ok((started.elapsed(), answer))
        });
        let (waited, answer) = slow
            .await
            .unwrap()
            .expect("the half request's connection ends");
        assert!(
            (HEADER_READ_TIMEOUT / 2..HEADER_READ_TIMEOUT * 2).contains(&waited),
            "{waited:?}: {answer}"
        );
        let kept = tokio::task::spawn_blocking(move || {
            let mut stream = TcpStream::connect(address)?;
            stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")?;
            stream.set_read_timeout(Some(Duration::from_secs(5)))?;
            let mut first = [0u8; 64];
            let n = stream.read(&mut first)?;
            std::io::Result::Ok((stream, String::from_utf8_lossy(&first[..n]).into_owned()))
        })
        .await
        .unwrap();
        let (mut kept, first) = kept.expect("a whole request is answered");
        assert!(first.starts_with("HTTP/1.1 200"), "{first}");

        shutdown.cancel();
        task.await.unwrap();
        let closed = tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            read_to_close(&mut kept, Duration::from_secs(5)).map(|rest| (started.elapsed(), rest))
        })
        .await
        .unwrap();
        let (waited, _) = closed.expect("the kept-alive connection is closed once stopped");
        assert!(waited < Duration::from_secs(5), "{waited:?}");
    }
}
