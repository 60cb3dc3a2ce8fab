//! The HTTP side: a listener, one task per connection (HTTP/1.1 with
//! keep-alive), each read handled on a blocking thread and each push by
//! [`crate::push`] as its body arrives, one log line per request on
//! stderr, and a graceful stop on SIGTERM or SIGINT.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};

use crate::Error;
use crate::handler::{self, Request};
use crate::push;
use crate::reply::{ApiError, Body, Reply};
use crate::route::Route;
use crate::state::State;

/// How long a client may take to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// A reply body as hyper sends it.
type HttpBody = BoxBody<Bytes, std::io::Error>;

/// Accepts connections until a signal, then lets the requests in flight
/// finish for at most `grace`.
pub async fn run(
    listener: std::net::TcpListener,
    state: Arc<State>,
    grace: Duration,
) -> Result<(), Error> {
    let listener = TcpListener::from_std(listener).map_err(Error::Runtime)?;
    let mut terminate = signal(SignalKind::terminate()).map_err(Error::Signal)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(Error::Signal)?;
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let state = Arc::clone(&state);
                    let service = service_fn(move |request| answer(Arc::clone(&state), peer, request));
                    let connection = http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(HEADER_TIMEOUT)
                        .serve_connection(TokioIo::new(stream), service);
                    let watched = graceful.watch(connection);
                    tokio::spawn(async move {
                        // A client that goes away mid-reply is no error of ours.
                        let _ = watched.await;
                    });
                }
                Err(error) => {
                    eprintln!("strata serve: cannot accept a connection: {error}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        }
    }
    drop(listener);
    eprintln!("strata serve: stopping");
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(grace) => {
            eprintln!("strata serve: requests still in flight after {grace:?}, stopping anyway");
        }
    }
    Ok(())
}

/// Answers one request and logs it.
async fn answer(
    state: Arc<State>,
    peer: SocketAddr,
    request: hyper::Request<Incoming>,
) -> Result<Response<HttpBody>, Infallible> {
    let started = Instant::now();
    let header = |name| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string)
    };
    let asked = Request {
        method: request.method().as_str().to_string(),
        path: request.uri().path().to_string(),
        query: request.uri().query().map(str::to_string),
        range: header(hyper::header::RANGE),
        content_range: header(hyper::header::CONTENT_RANGE),
    };
    let target = request
        .uri()
        .path_and_query()
        .map_or_else(|| asked.path.clone(), |pq| pq.as_str().to_string());
    let route = Route::of(&asked.path);
    let pushing = matches!(route, Route::Upload { .. })
        || (matches!(route, Route::Manifest { .. }) && asked.method == "PUT");
    let reply = match state.writes.clone() {
        Some(writes) if pushing => {
            push::answer(&state, &writes, &asked, route, request.into_body()).await
        }
        _ => {
            let state = Arc::clone(&state);
            let asked = asked.clone();
            tokio::task::spawn_blocking(move || handler::handle(&state, &asked))
                .await
                .unwrap_or_else(|error| {
                    ApiError::internal_message(format!("the request failed: {error}")).into_reply()
                })
        }
    };
    let status = reply.status;
    let length = content_length(&reply);
    let response = build(reply, asked.method == "HEAD", Arc::clone(&state.store));
    eprintln!(
        "{peer} \"{} {target}\" {} {length} {}ms",
        asked.method,
        status.as_u16(),
        started.elapsed().as_millis()
    );
    Ok(response)
}

/// The reply's `Content-Length`, or `-`.
fn content_length(reply: &Reply) -> String {
    reply
        .headers
        .iter()
        .find(|(name, _)| *name == "Content-Length")
        .map_or_else(|| "-".to_string(), |(_, value)| value.clone())
}

/// The HTTP response of `reply`; without its body for a `HEAD`.
fn build(reply: Reply, head: bool, store: Arc<strata::Store>) -> Response<HttpBody> {
    let mut builder = Response::builder()
        .status(reply.status)
        .header("Docker-Distribution-API-Version", "registry/2.0");
    for (name, value) in &reply.headers {
        builder = builder.header(*name, value);
    }
    let body: HttpBody = match reply.body {
        _ if head => Empty::new().map_err(never).boxed(),
        Body::Empty => Empty::new().map_err(never).boxed(),
        Body::Bytes(bytes) => Full::new(Bytes::from(bytes)).map_err(never).boxed(),
        Body::Stream(stream) => stream.start(store).boxed(),
    };
    builder.body(body).unwrap_or_else(|error| {
        let mut response = Response::new(
            Full::new(Bytes::from(format!("cannot build the response: {error}")))
                .map_err(never)
                .boxed(),
        );
        *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        response
    })
}

fn never(never: Infallible) -> std::io::Error {
    match never {}
}
