//! `/healthz`, `/readyz`, `/metrics`: no authentication.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::state::AppState;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// 200 when the database (and Redis, when configured) answer, else 503.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let database = state.store.ping().await.is_ok();
    let redis = match &state.cluster {
        Some(cluster) => Some(cluster.ping().await),
        None => None,
    };
    let shutting_down = state.shutting_down.load(std::sync::atomic::Ordering::Relaxed);
    let ready = database && redis != Some(false) && !shutting_down;
    let body = json!({"status": if ready { "ready" } else { "unavailable" }, "database": database, "redis": redis, "shutting_down": shutting_down});
    if ready { HttpResponse::Ok().json(body) } else { HttpResponse::ServiceUnavailable().json(body) }
}

pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    if let Ok(counts) = state.store.panel_counts().await {
        for status in askpanel_actors::domain::PanelStatus::ALL {
            let n = counts.iter().find(|(s, _)| *s == status).map_or(0, |(_, n)| *n);
            state.metrics.panels.with_label_values(&[status.as_str()]).set(n as i64);
        }
    }
    state.metrics.auth_cache_keys.set(state.auth.cached_keys() as i64);
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(state.metrics.render())
}
