//! `WWW-Authenticate` challenges (RFC 7235) as registries send them:
//! `Bearer realm="…",service="…",scope="…",error="insufficient_scope"`
//! or `Basic realm="…"`.

use std::collections::BTreeMap;

/// One challenge: its scheme, lowercased, and its parameters (names
/// lowercased, values unquoted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Challenge {
    pub scheme: String,
    pub params: BTreeMap<String, String>,
}

impl Challenge {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

/// Parses the challenges of one header value. Unparseable parts end the
/// parse: what came before is kept.
pub(crate) fn parse(header: &str) -> Vec<Challenge> {
    let mut challenges: Vec<Challenge> = Vec::new();
    let mut rest = header.trim();
    while !rest.is_empty() {
        let (token, after) = take_token(rest);
        if token.is_empty() {
            break;
        }
        let after = after.trim_start();
        if let Some(value_part) = after.strip_prefix('=') {
            // A parameter of the current challenge.
            let Some(current) = challenges.last_mut() else {
                break;
            };
            let (value, remaining) = take_value(value_part.trim_start());
            current.params.insert(token.to_ascii_lowercase(), value);
            rest = skip_comma(remaining);
        } else {
            challenges.push(Challenge {
                scheme: token.to_ascii_lowercase(),
                params: BTreeMap::new(),
            });
            rest = skip_comma(after);
        }
    }
    challenges
}

fn take_token(text: &str) -> (&str, &str) {
    let end = text
        .find(|c: char| c.is_whitespace() || c == '=' || c == ',')
        .unwrap_or(text.len());
    (&text[..end], &text[end..])
}

fn take_value(text: &str) -> (String, &str) {
    if let Some(quoted) = text.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        while let Some((at, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        value.push(escaped);
                    }
                }
                '"' => return (value, &quoted[at + 1..]),
                other => value.push(other),
            }
        }
        (value, "")
    } else {
        let end = text.find(',').unwrap_or(text.len());
        (text[..end].trim().to_string(), &text[end..])
    }
}

fn skip_comma(text: &str) -> &str {
    let text = text.trim_start();
    text.strip_prefix(',').unwrap_or(text).trim_start()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_with_parameters() {
        let c = parse(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push",error="insufficient_scope""#,
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "bearer");
        assert_eq!(c[0].param("realm"), Some("https://auth.example/token"));
        assert_eq!(c[0].param("scope"), Some("repository:a/b:pull,push"));
        assert_eq!(c[0].param("error"), Some("insufficient_scope"));
    }

    #[test]
    fn basic_and_unquoted() {
        let c = parse(r#"Basic realm="Registry Realm", Bearer realm=x, service=y"#);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].scheme, "basic");
        assert_eq!(c[0].param("realm"), Some("Registry Realm"));
        assert_eq!(c[1].param("realm"), Some("x"));
        assert_eq!(c[1].param("service"), Some("y"));
    }

    #[test]
    fn escapes_and_garbage() {
        let c = parse(r#"Bearer realm="a\"b""#);
        assert_eq!(c[0].param("realm"), Some("a\"b"));
        assert!(parse("").is_empty());
        assert!(parse("=oops").is_empty());
    }
}
