//! The HTTP side: a listener, one task per connection (HTTP/1.1 with
//! keep-alive), each read handled on a blocking thread (stored blobs sent
//! from their files by [`crate::splice`] on plain TCP) and each push by
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
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};
use tokio_rustls::TlsAcceptor;

use crate::Error;
use crate::auth;
use crate::handler::{self, Request};
use crate::log::log;
use crate::reply::{ApiError, Body, Reply};
use crate::route::Route;
use crate::splice::{SpliceStream, Splicer};
use crate::state::State;
use crate::{delete, push};

/// How long a client may take to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// A reply body as hyper sends it.
type HttpBody = BoxBody<Bytes, std::io::Error>;

/// Accepts connections until a signal, then lets the requests in flight
/// finish for at most `grace`.
pub async fn run(
    listener: std::net::TcpListener,
    tls: Option<TlsAcceptor>,
    state: Arc<State>,
    grace: Duration,
) -> Result<(), Error> {
    let listener = TcpListener::from_std(listener).map_err(Error::Runtime)?;
    let mut terminate = signal(SignalKind::terminate()).map_err(Error::Signal)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(Error::Signal)?;
    // Caught, so that a write to a closed stderr fails (and the log line
    // is dropped) instead of ending the server; sockets never raise it.
    let _pipe = signal(SignalKind::pipe()).map_err(Error::Signal)?;
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    // Replies go out as written: with Nagle's algorithm a
                    // reply's last small write waits for the client's
                    // delayed ACK (40 ms a request on keep-alive).
                    if let Err(error) = stream.set_nodelay(true) {
                        log!("{peer} cannot set TCP_NODELAY: {error}");
                    }
                    let state = Arc::clone(&state);
                    let watcher = graceful.watcher();
                    let tls = tls.clone();
                    tokio::spawn(async move {
                        match tls {
                            None => {
                                let (stream, splicer) = SpliceStream::new(stream);
                                serve_stream(stream, peer, state, watcher, Some(splicer)).await;
                            }
                            Some(tls) => {
                                let handshake = tokio::time::timeout(HEADER_TIMEOUT, tls.accept(stream));
                                match handshake.await {
                                    Ok(Ok(stream)) => serve_stream(stream, peer, state, watcher, None).await,
                                    Ok(Err(error)) => {
                                        log!("{peer} TLS handshake failed: {error}");
                                    }
                                    Err(_) => log!("{peer} TLS handshake timed out"),
                                }
                            }
                        }
                    });
                }
                Err(error) => {
                    log!("strata serve: cannot accept a connection: {error}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        }
    }
    drop(listener);
    log!("strata serve: stopping");
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(grace) => {
            log!("strata serve: requests still in flight after {grace:?}, stopping anyway");
        }
    }
    Ok(())
}

/// Serves HTTP/1.1 on one connection until it closes or the server stops;
/// stored blobs go out from their files with `splicer` when there is one.
async fn serve_stream<S>(
    stream: S,
    peer: SocketAddr,
    state: Arc<State>,
    watcher: Watcher,
    splicer: Option<Splicer>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service =
        service_fn(move |request| answer(Arc::clone(&state), peer, splicer.clone(), request));
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service);
    // A client that goes away mid-reply is no error of ours.
    let _ = watcher.watch(connection).await;
}

/// Answers one request and logs it.
async fn answer(
    state: Arc<State>,
    peer: SocketAddr,
    splicer: Option<Splicer>,
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
    let authorization = header(hyper::header::AUTHORIZATION);
    let host = header(hyper::header::HOST);
    let refused = match &state.auth {
        Some(_) => gate(&state, &route, &asked, authorization, host.as_deref()).await,
        None => None,
    };
    let reply = match (refused, state.writes.clone()) {
        (Some(reply), _) => reply,
        (None, Some(writes)) if pushing => {
            push::answer(&state, &writes, &asked, route, request.into_body()).await
        }
        (None, Some(_)) if asked.method == "DELETE" => {
            let state = Arc::clone(&state);
            let path = asked.path.clone();
            tokio::task::spawn_blocking(move || delete::answer(&state.store, &Route::of(&path)))
                .await
                .unwrap_or_else(|error| {
                    ApiError::internal_message(format!("the request failed: {error}")).into_reply()
                })
        }
        (None, _) => {
            let state = Arc::clone(&state);
            let asked = asked.clone();
            tokio::task::spawn_blocking(move || handler::handle(&state, &asked))
                .await
                .unwrap_or_else(|error| {
                    ApiError::internal_message(format!("the request failed: {error}")).into_reply()
                })
        }
    };
    let head = asked.method == "HEAD";
    let reply = match &splicer {
        Some(splicer) if !head => splicer.send_from_file(&state.store, reply).await,
        _ => reply,
    };
    let status = reply.status;
    let length = content_length(&reply);
    let response = build(reply, head, Arc::clone(&state.store));
    log!(
        "{peer} \"{} {target}\" {} {length} {}ms",
        asked.method,
        status.as_u16(),
        started.elapsed().as_millis()
    );
    Ok(response)
}

/// With `--htpasswd`: the token endpoint's reply for `/token`; a `401`
/// with a challenge for a request without valid credentials; `None` to
/// go on with the request.
async fn gate(
    state: &Arc<State>,
    route: &Route<'_>,
    asked: &Request,
    authorization: Option<String>,
    host: Option<&str>,
) -> Option<Reply> {
    if matches!(route, Route::Token) && asked.method != "GET" {
        // No OAuth2 POST: clients fall back to GET with Basic on a 405.
        return Some(
            ApiError::unsupported(&asked.method, "token requests other than GET").into_reply(),
        );
    }
    let base = auth::base_url(state.tls, host, &state.address);
    let checking = Arc::clone(state);
    let token_asked = matches!(route, Route::Token) && asked.method == "GET";
    let outcome = tokio::task::spawn_blocking(move || {
        let auth = checking.auth.as_ref()?;
        Some(if token_asked {
            Gate::Token(auth.issue(authorization.as_deref()))
        } else {
            Gate::Checked(auth.user(authorization.as_deref()).is_some())
        })
    })
    .await;
    let scope = route
        .repository()
        .map(|name| format!("repository:{name}:pull,push"));
    match outcome {
        Ok(Some(Gate::Checked(true))) => None,
        Ok(Some(Gate::Checked(false))) => Some(
            ApiError::unauthorized()
                .with_header("WWW-Authenticate", auth::challenge(&base, scope.as_deref()))
                .into_reply(),
        ),
        Ok(Some(Gate::Token(Ok(Some(token))))) => Some(Reply::new(StatusCode::OK).json(&json!({
            "token": token.token,
            "access_token": token.token,
            "expires_in": token.expires_in,
        }))),
        Ok(Some(Gate::Token(Ok(None)))) => Some(
            ApiError::unauthorized()
                .with_header(
                    "WWW-Authenticate",
                    format!("Basic realm=\"{}\"", auth::SERVICE),
                )
                .into_reply(),
        ),
        Ok(Some(Gate::Token(Err(message)))) => {
            Some(ApiError::internal_message(message).into_reply())
        }
        Ok(None) => None,
        Err(error) => Some(
            ApiError::internal_message(format!("the credentials check failed: {error}"))
                .into_reply(),
        ),
    }
}

/// What the credentials check found.
enum Gate {
    /// Whether the request's credentials let it in.
    Checked(bool),
    /// The token endpoint's answer.
    Token(Result<Option<auth::Token>, String>),
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
        Body::Spliced(body) => body.boxed(),
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
