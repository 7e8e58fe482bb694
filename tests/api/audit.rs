//! The audit trail through the real server (docs/audit.md): what the API's
//! security-relevant actions record, read back with filters and a cursor by
//! the tenant's admins only, each tenant its own; and the trail cannot be
//! rewritten, not even by the application's own database role.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

async fn trail(app: &TestApp, key: &str, query: &str) -> Vec<Value> {
    let (status, body) = app.get(&format!("/v1/audit?{query}"), key).await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    body["items"].as_array().unwrap().clone()
}

fn find<'a>(entries: &'a [Value], action: &str, target: &str) -> &'a Value {
    entries
        .iter()
        .find(|e| e["action"] == action && e["target"]["id"] == target)
        .unwrap_or_else(|| panic!("no {action} of {target} in {entries:#?}"))
}

#[actix_web::test]
async fn security_relevant_actions_are_recorded_and_read_back_by_admins_only() {
    let app = spawn_app().await;
    let (tenant, admin) = app.create_tenant("acme", json!({})).await;
    let (other_tenant, other_admin) = app.create_tenant("globex", json!({})).await;
    let admin_id = app.get("/v1/tenant", &admin).await.1["caller"]["key_id"].as_str().unwrap().to_string();

    // Keys, branding, an expert, a document, a share, a moderation, the platform's changes.
    let (moderator_id, moderator) = app.create_key(&admin, "moderator").await;
    let (member_id, _) = app.create_key(&admin, "member").await;
    let (status, _) = app.request(Method::DELETE, &format!("/v1/keys/{member_id}"), Some(&admin), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app
        .request(Method::PATCH, "/v1/tenant", Some(&admin), Some(json!({"branding": {"display_name": "Acme Labs"}})))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, expert) = app
        .post(
            "/v1/experts",
            &admin,
            json!({"name": "Dr. Audit", "domain": "security", "persona": "Reads every log line."}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{expert}");
    let (status, doc) = app
        .post("/v1/documents", &admin, json!({"title": "Policy", "text": "Keys rotate yearly.", "format": "text"}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{doc}");
    let doc_id = doc["id"].as_str().unwrap();
    assert_eq!(
        app.request(Method::DELETE, &format!("/v1/documents/{doc_id}"), Some(&admin), None).await.0,
        StatusCode::NO_CONTENT
    );
    let panel = app.create_panel(&admin, paced("structured", 5.0)).await;
    let panel_id = panel["id"].as_str().unwrap();
    let (status, _) =
        app.post(&format!("/v1/panels/{panel_id}/moderate"), &moderator, json!({"action": "pause"})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (_, share) =
        app.post(&format!("/v1/panels/{panel_id}/shares"), &moderator, json!({"expires_in_s": 3600})).await;
    let share_id = share["id"].as_str().unwrap();
    let path = format!("/v1/panels/{panel_id}/shares/{share_id}");
    assert_eq!(app.request(Method::DELETE, &path, Some(&moderator), None).await.0, StatusCode::NO_CONTENT);
    let (status, _) = app
        .request(
            Method::PATCH,
            &format!("/v1/admin/tenants/{tenant}"),
            Some(&app.admin_key.clone()),
            Some(json!({"limits": {"max_concurrent_panels": 7}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let entries = trail(&app, &admin, "limit=200").await;
    let created = find(&entries, "key.created", &moderator_id);
    assert_eq!(created["actor"], json!({"kind": "key", "id": admin_id}));
    assert_eq!(created["detail"]["role"], "moderator");
    assert_eq!(created["address"], "127.0.0.1");
    assert!(created["at"].is_string());
    find(&entries, "key.revoked", &member_id);
    assert_eq!(find(&entries, "tenant.branding_changed", &tenant)["detail"]["branding"]["display_name"], "Acme Labs");
    find(&entries, "expert.created", expert["id"].as_str().unwrap());
    find(&entries, "document.uploaded", doc_id);
    find(&entries, "document.deleted", doc_id);
    let moderated = find(&entries, "panel.moderated", panel_id);
    assert_eq!(moderated["actor"]["id"], moderator_id.as_str());
    assert_eq!(moderated["detail"]["action"], "pause");
    assert_eq!(find(&entries, "share.created", share_id)["detail"]["panel_id"], panel_id);
    find(&entries, "share.revoked", share_id);
    let limits = find(&entries, "tenant.limits_changed", &tenant);
    assert_eq!(limits["actor"]["kind"], "platform");
    assert_eq!(limits["detail"]["limits"]["max_concurrent_panels"], 7);
    assert_eq!(find(&entries, "tenant.created", &tenant)["actor"]["kind"], "platform");
    // Newest first, and no entry of the other tenant.
    let ids: Vec<&str> = entries.iter().map(|e| e["id"].as_str().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(ids, sorted);
    assert!(!entries.iter().any(|e| e["target"]["id"] == other_tenant.as_str()));

    // Filters and the cursor.
    let keys = trail(&app, &admin, "action=key.").await;
    assert_eq!(keys.len(), 3, "{keys:#?}");
    assert!(keys.iter().all(|e| e["action"].as_str().unwrap().starts_with("key.")));
    assert_eq!(trail(&app, &admin, "action=share.revoked").await.len(), 1);
    let by_moderator = trail(&app, &admin, &format!("actor={moderator_id}")).await;
    assert_eq!(by_moderator.len(), 3, "{by_moderator:#?}");
    assert_eq!(trail(&app, &admin, &format!("target={doc_id}")).await.len(), 2);
    let tomorrow = chrono::Utc::now().date_naive().succ_opt().unwrap();
    assert!(trail(&app, &admin, &format!("from={tomorrow}")).await.is_empty());
    let (_, page) = app.get("/v1/audit?limit=2", &admin).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, next) = app.get(&format!("/v1/audit?limit=2&cursor={cursor}"), &admin).await;
    assert!(next["items"][0]["id"].as_str().unwrap() < page["items"][1]["id"].as_str().unwrap());

    // Admins only; each tenant reads its own trail.
    assert_eq!(app.get("/v1/audit", &moderator).await.0, StatusCode::FORBIDDEN);
    let theirs = trail(&app, &other_admin, "limit=200").await;
    assert!(
        theirs.iter().all(|e| e["target"]["id"] != panel_id && e["target"]["id"] != tenant.as_str()),
        "{theirs:#?}"
    );
    assert!(theirs.iter().any(|e| e["action"] == "tenant.created"));
    for (query, field) in [("limit=0", "limit"), ("cursor=nope", "cursor"), ("from=yesterday", "from")] {
        let (status, body) = app.get(&format!("/v1/audit?{query}"), &admin).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
        assert!(body["error"]["fields"][field].is_string(), "{body}");
    }

    // Retention purges a tenant's old entries, and only that tenant's.
    let store = app.store.clone().expect("in-process store");
    let tenant_id = askpanel_actors::domain::TenantId(tenant.parse().unwrap());
    let purged = store.purge_audit(tenant_id, chrono::Utc::now() + chrono::Duration::days(1)).await.unwrap();
    assert_eq!(purged as usize, entries.len());
    assert!(trail(&app, &admin, "").await.is_empty());
    assert!(!trail(&app, &other_admin, "").await.is_empty());
}

#[actix_web::test]
async fn the_trail_cannot_be_rewritten_by_the_application() {
    let app = spawn_app().await;
    let (_, admin) = app.create_tenant("acme", json!({})).await;
    app.create_key(&admin, "viewer").await;
    assert!(!trail(&app, &admin, "").await.is_empty());
    match crate::BACKEND {
        Backend::Sqlite => {
            use sqlx::Connection;
            let path = app.data_dir.join("askpanel.db");
            let mut db = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await.unwrap();
            let refused = sqlx::query("UPDATE audit_events SET action = 'nothing'").execute(&mut db).await;
            assert!(refused.unwrap_err().to_string().contains("append-only"));
        }
        Backend::Postgres => {
            use sqlx::Connection;
            // The role the server runs as: it may insert and read, not rewrite.
            let urls = std::fs::read_to_string(app.data_dir.join("pg-database")).unwrap();
            let app_url = urls.split_once('\n').unwrap().1;
            let mut db = sqlx::PgConnection::connect(app_url).await.unwrap();
            for statement in ["UPDATE audit_events SET action = 'nothing'", "DELETE FROM audit_events"] {
                let refused = sqlx::query(statement).execute(&mut db).await;
                assert!(refused.unwrap_err().to_string().contains("permission denied"), "{statement}");
            }
        }
    }
    assert!(!trail(&app, &admin, "").await.is_empty());
}
