//! Row locks of the PostgreSQL store that other transactions meet.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use sqlx::Connection;

use crate::helpers::*;

/// A create locks its tenant's row to check the quotas, and must not wait
/// for transactions that only reference the tenant (a foreign-key check
/// takes `FOR KEY SHARE`: the announcer's notifications and daily usage,
/// deliveries, search entries). With `FOR UPDATE` it waited for them, and
/// the announcer, which then claims the panel's row, deadlocked with a batch
/// that had updated that row: the batch's creates failed as 503s. Updates of
/// the tenant's other columns lock it the same way.
#[actix_web::test]
async fn a_create_does_not_wait_for_a_transaction_that_only_references_its_tenant() {
    let app = spawn_app().await;
    let (tenant, key) = app.create_tenant("acme", json!({"max_panels_per_month": 100})).await;
    let urls = std::fs::read_to_string(app.data_dir.join("pg-database")).expect("the test's database");
    let owner = urls.lines().next().unwrap().to_string();
    let mut other = sqlx::PgConnection::connect(&owner).await.unwrap();
    let mut tx = other.begin().await.unwrap();
    // What a foreign-key check on an insert that references the tenant holds until it commits.
    sqlx::query("SELECT id FROM tenants WHERE id = $1::uuid FOR KEY SHARE")
        .bind(&tenant)
        .execute(&mut *tx)
        .await
        .unwrap();
    let request = app.client.post(app.url("/v1/panels")).bearer_auth(&key).json(&structured(1)).send();
    let status = tokio::time::timeout(Duration::from_secs(10), request)
        .await
        .expect("the create waited for a transaction that only references its tenant")
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::CREATED);
    // The same for an update of the tenant's own columns (none is a key).
    let admin = app.admin_key.clone();
    let patch = app
        .client
        .patch(app.url(&format!("/v1/admin/tenants/{tenant}")))
        .bearer_auth(&admin)
        .json(&json!({"limits": {"requests_per_minute": 99}}))
        .send();
    let status = tokio::time::timeout(Duration::from_secs(10), patch)
        .await
        .expect("the tenant's update waited for a transaction that only references the tenant")
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::OK);
    tx.rollback().await.unwrap();
}
