//! Authentication as registries ask for it: none, Basic, or Bearer
//! tokens from the realm the registry names — anonymous `GET`, the
//! OAuth2 `POST` with a password or refresh token (falling back to `GET`
//! with Basic credentials where the token server has no `POST`), tokens
//! cached per scope while they are valid, and fetched again for a wider
//! scope when the registry says `insufficient_scope`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use reqwest::{StatusCode, Url};
use serde::Deserialize;

use crate::challenge::Challenge;
use crate::error::{Error, Result};
use crate::options::Login;
use crate::timed::send_within;

/// How long a token without `expires_in` lives (the distribution spec's
/// default).
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(60);
/// A token is not used when it has less than this left.
const TOKEN_MARGIN: Duration = Duration::from_secs(10);

/// What the registry asked for when it first refused.
#[derive(Debug, Clone)]
pub(crate) enum Scheme {
    /// It never refused.
    Open,
    /// `Basic`.
    Basic,
    /// `Bearer` with the token server at `realm`.
    Bearer { realm: Url, service: Option<String> },
}

impl Scheme {
    /// The scheme a `401` challenge asks for, preferring Bearer.
    pub fn from_challenges(challenges: &[Challenge], what: &str) -> Result<Scheme> {
        if let Some(bearer) = challenges.iter().find(|c| c.scheme == "bearer") {
            let realm = bearer
                .param("realm")
                .ok_or_else(|| Error::protocol(what, "a Bearer challenge without a realm"))?;
            let realm = Url::parse(realm).map_err(|e| {
                Error::protocol(what, format!("the token realm {realm:?} is not a URL: {e}"))
            })?;
            if !matches!(realm.scheme(), "http" | "https") {
                return Err(Error::protocol(
                    what,
                    format!("the token realm {realm} is not HTTP(S)"),
                ));
            }
            return Ok(Scheme::Bearer {
                realm,
                service: bearer.param("service").map(str::to_string),
            });
        }
        if challenges.iter().any(|c| c.scheme == "basic") {
            return Ok(Scheme::Basic);
        }
        Err(Error::protocol(
            what,
            "the registry refused without a Basic or Bearer challenge",
        ))
    }
}

/// A token and when it stops being usable.
#[derive(Debug, Clone)]
struct Token {
    value: String,
    usable_until: Instant,
}

/// The tokens of one client, by scope.
#[derive(Debug, Default)]
pub(crate) struct Tokens {
    by_scope: Mutex<HashMap<String, Token>>,
}

impl Tokens {
    /// A cached token for `scopes`, if still usable.
    pub fn get(&self, scopes: &[String]) -> Option<String> {
        let key = key(scopes);
        let cache = self.by_scope.lock().ok()?;
        cache
            .get(&key)
            .filter(|t| t.usable_until > Instant::now())
            .map(|t| t.value.clone())
    }

    fn put(&self, scopes: &[String], token: Token) {
        if let Ok(mut cache) = self.by_scope.lock() {
            cache.insert(key(scopes), token);
        }
    }

    /// Forgets the token for `scopes` (the registry refused it).
    pub fn forget(&self, scopes: &[String]) {
        if let Ok(mut cache) = self.by_scope.lock() {
            cache.remove(&key(scopes));
        }
    }
}

fn key(scopes: &[String]) -> String {
    let mut sorted = scopes.to_vec();
    sorted.sort();
    sorted.dedup();
    sorted.join(" ")
}

/// The `Authorization` value for Basic credentials.
pub(crate) fn basic(login: &Login) -> Result<HeaderValue> {
    let raw = format!("{}:{}", login.username, login.password);
    let encoded = base64::engine::general_purpose::STANDARD.encode(raw);
    header(&format!("Basic {encoded}"))
}

/// The `Authorization` value for a bearer token.
pub(crate) fn bearer(token: &str) -> Result<HeaderValue> {
    header(&format!("Bearer {token}"))
}

fn header(value: &str) -> Result<HeaderValue> {
    HeaderValue::from_str(value)
        .map_err(|_| Error::Config("credentials hold characters a header cannot carry".into()))
}

#[derive(Deserialize)]
struct TokenReply {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// Fetches a token for `scopes` from `realm`, caching it in `tokens`.
pub(crate) async fn fetch_token(
    http: &reqwest::Client,
    tokens: &Tokens,
    realm: &Url,
    service: Option<&str>,
    scopes: &[String],
    login: Option<&Login>,
    timeout: Duration,
) -> Result<String> {
    let what = format!("token from {realm}");
    let started = Instant::now();
    let response = match login {
        Some(login) => {
            let posted = post_token(http, realm, service, scopes, login, timeout, &what).await?;
            // Token servers without the OAuth2 POST answer 404, 405 or
            // 400; fall back to GET with Basic credentials, as docker does.
            if matches!(posted.status().as_u16(), 400 | 404 | 405) && login.identity_token.is_none()
            {
                get_token(http, realm, service, scopes, Some(login), timeout, &what).await?
            } else {
                posted
            }
        }
        None => get_token(http, realm, service, scopes, None, timeout, &what).await?,
    };
    let status = response.status();
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return Err(Error::Unauthorized {
            what,
            reason: match login {
                Some(login) => format!("the token server refused user {:?}", login.username),
                None => "the token server refused anonymous access".into(),
            },
        });
    }
    if !status.is_success() {
        return Err(Error::Status {
            what,
            status: status.as_u16(),
            code: None,
            message: None,
        });
    }
    let body = tokio::time::timeout(timeout, response.bytes())
        .await
        .map_err(|_| Error::Stalled {
            what: what.clone(),
            seconds: timeout.as_secs(),
        })?
        .map_err(|e| Error::transport(&what, &e))?;
    if body.len() > 1 << 20 {
        return Err(Error::protocol(
            &what,
            "the token reply is larger than 1 MiB",
        ));
    }
    let reply: TokenReply = serde_json::from_slice(&body)
        .map_err(|e| Error::protocol(&what, format!("the token reply is not JSON: {e}")))?;
    let value = reply
        .token
        .or(reply.access_token)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::protocol(&what, "the token reply holds no token"))?;
    let lifetime = reply
        .expires_in
        .map(Duration::from_secs)
        .filter(|d| !d.is_zero())
        .unwrap_or(DEFAULT_TOKEN_LIFETIME);
    let margin = TOKEN_MARGIN.min(lifetime / 2);
    tokens.put(
        scopes,
        Token {
            value: value.clone(),
            usable_until: started + lifetime - margin,
        },
    );
    Ok(value)
}

fn with_query(realm: &Url, service: Option<&str>, scopes: &[String]) -> Url {
    let mut url = realm.clone();
    {
        let mut query = url.query_pairs_mut();
        if let Some(service) = service {
            query.append_pair("service", service);
        }
        for scope in scopes {
            query.append_pair("scope", scope);
        }
    }
    url
}

async fn get_token(
    http: &reqwest::Client,
    realm: &Url,
    service: Option<&str>,
    scopes: &[String],
    login: Option<&Login>,
    timeout: Duration,
    what: &str,
) -> Result<reqwest::Response> {
    let mut request = http.get(with_query(realm, service, scopes));
    if let Some(login) = login {
        request = request.header(AUTHORIZATION, basic(login)?);
    }
    send_within(request, timeout, what).await
}

async fn post_token(
    http: &reqwest::Client,
    realm: &Url,
    service: Option<&str>,
    scopes: &[String],
    login: &Login,
    timeout: Duration,
    what: &str,
) -> Result<reqwest::Response> {
    let mut form = Url::parse("http://form.invalid/").map_err(|e| Error::Config(e.to_string()))?;
    {
        let mut pairs = form.query_pairs_mut();
        match &login.identity_token {
            Some(refresh) => {
                pairs.append_pair("grant_type", "refresh_token");
                pairs.append_pair("refresh_token", refresh);
            }
            None => {
                pairs.append_pair("grant_type", "password");
                pairs.append_pair("username", &login.username);
                pairs.append_pair("password", &login.password);
            }
        }
        if let Some(service) = service {
            pairs.append_pair("service", service);
        }
        if !scopes.is_empty() {
            pairs.append_pair("scope", &scopes.join(" "));
        }
        pairs.append_pair("client_id", "strata");
    }
    let body = form.query().unwrap_or_default().to_string();
    let request = http
        .post(realm.clone())
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(body);
    send_within(request, timeout, what).await
}
