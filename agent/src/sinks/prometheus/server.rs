//! The exporter's own HTTP server (`address`), serving `GET /metrics`.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Renders the page on each scrape.
pub type Render = Arc<dyn Fn(&mut String) + Send + Sync>;

/// Serve `listener` until `stop`.
pub async fn serve(listener: TcpListener, render: Render, stop: CancellationToken) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "Prometheus exporter failed to accept a connection.");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = stop.cancelled() => return,
        };
        let render = Arc::clone(&render);
        let stop = stop.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let render = Arc::clone(&render);
                async move { Ok::<_, Infallible>(respond(&req, &render)) }
            });
            let connection = crate::admin::http1().serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = connection => {}
                () = stop.cancelled() => {}
            }
        });
    }
}

fn respond(req: &Request<Incoming>, render: &Render) -> Response<Full<Bytes>> {
    let (status, content_type, body) =
        if req.method() != Method::GET && req.method() != Method::HEAD {
            (
                StatusCode::METHOD_NOT_ALLOWED,
                "text/plain; charset=utf-8",
                String::from("only GET and HEAD are served\n"),
            )
        } else if matches!(req.uri().path(), "/metrics" | "/") {
            let mut body = String::with_capacity(64 * 1024);
            render(&mut body);
            (
                StatusCode::OK,
                "text/plain; version=0.0.4; charset=utf-8",
                body,
            )
        } else {
            (
                StatusCode::NOT_FOUND,
                "text/plain; charset=utf-8",
                String::from("not found: try /metrics\n"),
            )
        };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    response
}
