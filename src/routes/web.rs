//! The browser client, built into the binary: a fixed table of files, so
//! nothing outside it can ever be served.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::error::ApiError;

/// (name, content type, bytes)
const ASSETS: &[(&str, &str, &[u8])] = &[
    ("index.html", "text/html; charset=utf-8", include_bytes!("../../web/index.html")),
    ("app.js", "text/javascript; charset=utf-8", include_bytes!("../../web/app.js")),
    ("style.css", "text/css; charset=utf-8", include_bytes!("../../web/style.css")),
];

fn serve(name: &str) -> Result<HttpResponse, ApiError> {
    let (_, content_type, bytes) = ASSETS.iter().find(|(n, _, _)| *n == name).ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, *content_type))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Content-Security-Policy", "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' https: data:; style-src 'self'; script-src 'self'"))
        .body(*bytes))
}

pub async fn index() -> Result<HttpResponse, ApiError> {
    serve("index.html")
}

pub async fn asset(file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    serve(file.as_str())
}
