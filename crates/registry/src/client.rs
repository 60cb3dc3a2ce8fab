//! A [`Client`] for one registry host: finding how to reach it (HTTPS,
//! or plain HTTP where allowed), and sending requests with authentication,
//! bounded retries, manual redirects and the stall timeout. The requests
//! themselves (manifests, blobs, uploads) are in their own modules.

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue, LOCATION, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode, Url};

use crate::auth::{self, Scheme, Tokens};
use crate::challenge;
use crate::error::{Error, Result, describe};
use crate::options::{ClientOptions, is_loopback, load_cert_dir};
use crate::retry;

/// How many redirects one request follows.
const MAX_REDIRECTS: usize = 5;

/// A connection to one registry (a host with an optional port). Cheap to
/// share between threads: every method takes `&self`.
pub struct Client {
    runtime: tokio::runtime::Runtime,
    http: reqwest::Client,
    host: String,
    base: Url,
    scheme: Scheme,
    tokens: Tokens,
    options: ClientOptions,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

/// What a request sends, re-sendable on retries.
#[derive(Clone, Default)]
pub(crate) enum Payload {
    /// Nothing.
    #[default]
    Empty,
    /// These bytes, with this content type.
    Bytes(Bytes, String),
}

/// One request to the registry.
pub(crate) struct Request<'a> {
    /// What it is for, for errors (`manifest host/repo:tag`).
    pub what: &'a str,
    pub method: Method,
    pub url: Url,
    /// The token scopes it needs (`repository:x:pull`).
    pub scopes: &'a [String],
    pub headers: HeaderMap,
    pub payload: Payload,
}

impl Client {
    /// Connects to `host` (`registry.example`, `localhost:5000`): checks
    /// `/v2/` over HTTPS, or plain HTTP where the options allow it, and
    /// learns how the registry authenticates.
    pub fn new(host: &str, options: ClientOptions) -> Result<Client> {
        check_host(host)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("strata-registry")
            .enable_all()
            .build()
            .map_err(|e| Error::Config(format!("cannot start the network runtime: {e}")))?;
        let http = http_client(host, &options)?;
        let plain_allowed = !options.tls_verify || is_loopback(host);
        let (base, scheme) = runtime.block_on(find_base(&http, host, plain_allowed, &options))?;
        Ok(Client {
            runtime,
            http,
            host: host.to_string(),
            base,
            scheme,
            tokens: Tokens::default(),
            options,
        })
    }

    /// The registry host this client talks to.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Whether the registry is reached over plain HTTP.
    pub fn is_plain_http(&self) -> bool {
        self.base.scheme() == "http"
    }

    /// Checks that the credentials (if any) are accepted: asks for a
    /// token or sends them with `/v2/`, as `podman login` does.
    pub fn check_login(&self) -> Result<()> {
        let what = format!("login to {}", self.host);
        let url = self.url("/v2/")?;
        let response = self.send(Request {
            what: &what,
            method: Method::GET,
            url,
            scopes: &[],
            headers: HeaderMap::new(),
            payload: Payload::Empty,
        })?;
        match response.status() {
            status if status.is_success() => Ok(()),
            status => Err(self.status_error(&what, status, response)),
        }
    }

    pub(crate) fn options(&self) -> &ClientOptions {
        &self.options
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The `Authorization` header for `url`: none for another host.
    pub(crate) async fn authorization_for(
        &self,
        url: &Url,
        scopes: &[String],
    ) -> Result<Option<HeaderValue>> {
        if !same_origin(url, &self.base) {
            return Ok(None);
        }
        self.authorization(scopes).await
    }

    pub(crate) fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// `path` (starting with `/v2/`) on the registry.
    pub(crate) fn url(&self, path: &str) -> Result<Url> {
        self.base
            .join(path)
            .map_err(|e| Error::Config(format!("bad request path {path:?}: {e}")))
    }

    /// A URL the registry handed out (`Location`), resolved against the
    /// registry and checked to stay on HTTP(S).
    pub(crate) fn resolve(&self, what: &str, location: &str) -> Result<Url> {
        let url = self
            .base
            .join(location)
            .map_err(|e| Error::protocol(what, format!("bad Location {location:?}: {e}")))?;
        check_scheme(what, &self.base, &url)?;
        Ok(url)
    }

    /// Sends `request`, retrying what is worth retrying, following
    /// redirects (credentials go only to the registry's own host), and
    /// fetching a token when the registry asks for one. Returns the
    /// final response whatever its status.
    pub(crate) fn send(&self, request: Request<'_>) -> Result<reqwest::Response> {
        self.block_on(self.send_async(request))
    }

    pub(crate) async fn send_async(&self, request: Request<'_>) -> Result<reqwest::Response> {
        let mut attempt = 0;
        let mut refreshed = false;
        let mut scopes: Vec<String> = request.scopes.to_vec();
        loop {
            attempt += 1;
            let outcome = self.send_following(&request, &scopes).await;
            let response = match outcome {
                Ok(response) => response,
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Retryable(e)) => {
                    if attempt >= self.options.attempts {
                        return Err(e);
                    }
                    tokio::time::sleep(retry::wait(self.options.backoff, attempt, None)).await;
                    continue;
                }
            };
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED
                && !refreshed
                && let Some(wider) = self.rescope(&scopes, response.headers())
            {
                refreshed = true;
                scopes = wider;
                continue;
            }
            if retry::retryable_status(status) && attempt < self.options.attempts {
                let wait = retry::wait(self.options.backoff, attempt, Some(response.headers()));
                tokio::time::sleep(wait).await;
                continue;
            }
            return Ok(response);
        }
    }

    /// After a 401: the scopes to fetch a fresh token for, or `None` when
    /// another token would not help.
    fn rescope(&self, scopes: &[String], headers: &HeaderMap) -> Option<Vec<String>> {
        let Scheme::Bearer { .. } = &self.scheme else {
            return None;
        };
        self.tokens.forget(scopes);
        let mut wider = scopes.to_vec();
        let challenges = headers
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(challenge::parse)
            .collect::<Vec<_>>();
        if let Some(scope) = challenges
            .iter()
            .find(|c| c.scheme == "bearer")
            .and_then(|c| c.param("scope"))
        {
            for part in scope.split(' ') {
                if !part.is_empty() && !wider.iter().any(|s| s == part) {
                    wider.push(part.to_string());
                }
            }
        }
        Some(wider)
    }

    /// One attempt: the request and the redirects it leads to.
    async fn send_following(
        &self,
        request: &Request<'_>,
        scopes: &[String],
    ) -> Result<reqwest::Response, Failure> {
        let mut url = request.url.clone();
        for _ in 0..=MAX_REDIRECTS {
            let same_host = same_origin(&url, &self.base);
            let mut builder = self
                .http
                .request(request.method.clone(), url.clone())
                .headers(request.headers.clone());
            if same_host
                && let Some(value) = self.authorization(scopes).await.map_err(Failure::Fatal)?
            {
                builder = builder.header(AUTHORIZATION, value);
            }
            if let Payload::Bytes(bytes, content_type) = &request.payload {
                builder = builder
                    .header(reqwest::header::CONTENT_TYPE, content_type.as_str())
                    .body(bytes.clone());
            }
            let timeout = self.options.stall_timeout;
            let response = match tokio::time::timeout(timeout, builder.send()).await {
                Err(_) => {
                    return Err(Failure::Retryable(Error::Stalled {
                        what: request.what.to_string(),
                        seconds: timeout.as_secs(),
                    }));
                }
                Ok(Err(e)) if retry::retryable_error(&e) => {
                    return Err(Failure::Retryable(Error::transport(request.what, &e)));
                }
                Ok(Err(e)) => return Err(Failure::Fatal(Error::transport(request.what, &e))),
                Ok(Ok(response)) => response,
            };
            if !response.status().is_redirection() || response.status() == StatusCode::NOT_MODIFIED
            {
                return Ok(response);
            }
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| {
                    Failure::Fatal(Error::protocol(
                        request.what,
                        "a redirect without a Location",
                    ))
                })?;
            let next = url.join(location).map_err(|e| {
                Failure::Fatal(Error::protocol(
                    request.what,
                    format!("bad redirect Location {location:?}: {e}"),
                ))
            })?;
            check_scheme(request.what, &url, &next).map_err(Failure::Fatal)?;
            url = next;
        }
        Err(Failure::Fatal(Error::protocol(
            request.what,
            format!("more than {MAX_REDIRECTS} redirects"),
        )))
    }

    /// The `Authorization` header for a request needing `scopes`.
    async fn authorization(&self, scopes: &[String]) -> Result<Option<HeaderValue>> {
        match &self.scheme {
            Scheme::Open => Ok(None),
            Scheme::Basic => match &self.options.login {
                Some(login) => auth::basic(login).map(Some),
                None => Ok(None),
            },
            Scheme::Bearer { realm, service } => {
                let token = match self.tokens.get(scopes) {
                    Some(token) => token,
                    None => {
                        auth::fetch_token(
                            &self.http,
                            &self.tokens,
                            realm,
                            service.as_deref(),
                            scopes,
                            self.options.login.as_ref(),
                            self.options.stall_timeout,
                        )
                        .await?
                    }
                };
                auth::bearer(&token).map(Some)
            }
        }
    }

    /// The error for an unexpected status, with the OCI error body's
    /// first code and message when there is one.
    pub(crate) fn status_error(
        &self,
        what: &str,
        status: StatusCode,
        response: reqwest::Response,
    ) -> Error {
        let body = self.block_on(async {
            tokio::time::timeout(Duration::from_secs(5), response.bytes())
                .await
                .ok()
                .and_then(|b| b.ok())
        });
        let (code, message) = body.as_deref().map(error_body).unwrap_or((None, None));
        match status {
            StatusCode::NOT_FOUND => Error::NotFound {
                what: what.to_string(),
            },
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Error::Unauthorized {
                what: what.to_string(),
                reason: message
                    .or(code)
                    .unwrap_or_else(|| match self.options.login {
                        Some(_) => "the registry refused the credentials".into(),
                        None => "the registry wants credentials (strata login)".into(),
                    }),
            },
            _ => Error::Status {
                what: what.to_string(),
                status: status.as_u16(),
                code,
                message,
            },
        }
    }
}

/// Why one attempt failed.
enum Failure {
    Retryable(Error),
    Fatal(Error),
}

/// The first code and message of an OCI error body.
fn error_body(body: &[u8]) -> (Option<String>, Option<String>) {
    #[derive(serde::Deserialize)]
    struct Body {
        errors: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        code: Option<String>,
        message: Option<String>,
    }
    match serde_json::from_slice::<Body>(body) {
        Ok(body) => body
            .errors
            .into_iter()
            .next()
            .map(|e| (e.code, e.message.filter(|m| !m.is_empty())))
            .unwrap_or((None, None)),
        Err(_) => (None, None),
    }
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// Refuses a redirect to anything but HTTP(S), and from HTTPS down to
/// plain HTTP.
fn check_scheme(what: &str, from: &Url, to: &Url) -> Result<()> {
    match (from.scheme(), to.scheme()) {
        (_, "https") | ("http", "http") => Ok(()),
        (_, other) => Err(Error::protocol(
            what,
            format!(
                "the registry redirected from {} to a {other} URL ({to})",
                from.scheme()
            ),
        )),
    }
}

/// Refuses hosts that would not make a URL's authority.
fn check_host(host: &str) -> Result<()> {
    let bad = host.is_empty()
        || host
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '/' | '?' | '#' | '@' | '\\'));
    if bad {
        return Err(Error::Config(format!("{host:?} is not a registry host")));
    }
    Ok(())
}

fn http_client(host: &str, options: &ClientOptions) -> Result<reqwest::Client> {
    let certs = load_cert_dir(options.cert_dir.as_deref(), host)?;
    let mut builder = reqwest::Client::builder()
        .user_agent(options.user_agent.clone())
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(options.stall_timeout)
        .tls_certs_merge(certs.roots)
        .tls_danger_accept_invalid_certs(!options.tls_verify);
    if let Some(identity) = certs.identity {
        builder = builder.identity(identity);
    }
    builder
        .build()
        .map_err(|e| Error::Config(format!("cannot set up TLS for {host}: {}", describe(&e))))
}

/// Finds the registry's base URL and authentication scheme from `/v2/`.
async fn find_base(
    http: &reqwest::Client,
    host: &str,
    plain_allowed: bool,
    options: &ClientOptions,
) -> Result<(Url, Scheme)> {
    let what = format!("registry {host}");
    let https = ping(http, &format!("https://{host}/"), &what, options).await;
    match https {
        Ok(found) => Ok(found),
        Err(e) if plain_allowed && matches!(e, Error::Transport { .. }) => {
            match ping(http, &format!("http://{host}/"), &what, options).await {
                Ok(found) => Ok(found),
                // The HTTPS failure says more (a certificate problem, say).
                Err(_) => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

async fn ping(
    http: &reqwest::Client,
    base: &str,
    what: &str,
    options: &ClientOptions,
) -> Result<(Url, Scheme)> {
    let base = Url::parse(base).map_err(|e| Error::Config(format!("{what}: {e}")))?;
    let url = base
        .join("/v2/")
        .map_err(|e| Error::Config(format!("{what}: {e}")))?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let sent = tokio::time::timeout(options.stall_timeout, http.get(url.clone()).send()).await;
        let response = match sent {
            Err(_) => {
                return Err(Error::Stalled {
                    what: what.to_string(),
                    seconds: options.stall_timeout.as_secs(),
                });
            }
            Ok(Err(e)) => {
                let error = Error::transport(what, &e);
                if e.is_connect() || attempt >= options.attempts || !retry::retryable_error(&e) {
                    return Err(error);
                }
                tokio::time::sleep(retry::wait(options.backoff, attempt, None)).await;
                continue;
            }
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        if status.is_success() {
            return Ok((base, Scheme::Open));
        }
        if status == StatusCode::UNAUTHORIZED {
            let challenges: Vec<_> = response
                .headers()
                .get_all(WWW_AUTHENTICATE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(challenge::parse)
                .collect();
            return Ok((base, Scheme::from_challenges(&challenges, what)?));
        }
        if retry::retryable_status(status) && attempt < options.attempts {
            tokio::time::sleep(retry::wait(
                options.backoff,
                attempt,
                Some(response.headers()),
            ))
            .await;
            continue;
        }
        if status == StatusCode::BAD_REQUEST && base.scheme() == "http" {
            // An HTTPS server answering a plain request.
            return Err(Error::Transport {
                what: what.to_string(),
                reason: "the registry does not speak plain HTTP".into(),
            });
        }
        return Err(Error::Status {
            what: format!("{what}: GET /v2/"),
            status: status.as_u16(),
            code: None,
            message: Some("this does not look like an OCI registry".into()),
        });
    }
}
