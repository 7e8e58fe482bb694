//! Which browser origins may use the API: the WebSocket upgrade, SSE
//! streams and (through CORS) every HTTP route. The server's own origin
//! always may; others only when `server.allowed_origins` names them (`*`:
//! any). A request without an `Origin` header is not from a page of another
//! site (browsers always send one across origins), so it is not refused here.

use actix_web::http::header::{self, HeaderMap};

/// Whether a page of `origin` may call a server reached at `host` (the `Host` header).
pub fn allowed(origin: &str, host: Option<&str>, allowed: &[String]) -> bool {
    let origin = origin.trim().trim_end_matches('/');
    if allowed.iter().any(|a| a == "*" || a.trim_end_matches('/').eq_ignore_ascii_case(origin)) {
        return true;
    }
    // The server's own origin: scheme://host[:port] with the host the request came to.
    let authority = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"));
    matches!((authority, host), (Some(authority), Some(host)) if authority.eq_ignore_ascii_case(host.trim()))
}

/// Whether a request's `Origin` (if any) may use the API.
pub fn request_allowed(headers: &HeaderMap, allowed_origins: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else { return true };
    let Ok(origin) = origin.to_str() else { return false };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    allowed(origin, host, allowed_origins)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_table() {
        let none: Vec<String> = Vec::new();
        let listed = vec!["https://app.example.com".to_string()];
        let any = vec!["*".to_string()];
        let cases: &[(&str, Option<&str>, &[String], bool)] = &[
            ("http://127.0.0.1:8080", Some("127.0.0.1:8080"), &none, true),
            ("https://panel.example.com", Some("panel.example.com"), &none, true),
            ("http://evil.example", Some("127.0.0.1:8080"), &none, false),
            ("http://127.0.0.1:9999", Some("127.0.0.1:8080"), &none, false),
            ("null", Some("127.0.0.1:8080"), &none, false),
            ("https://app.example.com", Some("api.example.com"), &listed, true),
            ("https://app.example.com/", Some("api.example.com"), &listed, true),
            ("https://other.example.com", Some("api.example.com"), &listed, false),
            ("http://anything.example", Some("api.example.com"), &any, true),
            ("http://127.0.0.1:8080", None, &none, false),
        ];
        for (origin, host, list, expected) in cases {
            assert_eq!(allowed(origin, *host, list), *expected, "{origin} to {host:?} with {list:?}");
        }
    }
}
