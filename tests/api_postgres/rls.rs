//! Row-level security binds the application role: a query without a tenant
//! filter still sees only the current tenant's rows, no tenant set sees
//! none, and a write for another tenant fails.

use askpanel::store::postgres::{PgStore, migrate};
use askpanel::store::{Branding, KeyRecord, Role, Store, TenantRecord, TenantStatus, Tier};
use askpanel_actors::domain::{KeyId, TenantId};
use sqlx::{Connection, Row};

use crate::helpers::fresh_pg_database;

async fn tenant(store: &PgStore, slug: &str) -> TenantId {
    let now = chrono::Utc::now();
    let record = TenantRecord {
        id: TenantId::new(),
        slug: slug.into(),
        name: slug.into(),
        tier: Tier::Starter,
        status: TenantStatus::Active,
        limits: Default::default(),
        branding: Branding {
            display_name: slug.into(),
            primary_color: "#000000".into(),
            secondary_color: None,
            logo_url: None,
        },
        created_at: now,
    };
    let key = KeyRecord {
        id: KeyId::new(),
        tenant_id: record.id,
        role: Role::Admin,
        name: "admin".into(),
        prefix: "ap_x".into(),
        created_at: now,
        revoked_at: None,
        last_used_at: None,
    };
    store.create_tenant(&record, &key, &format!("hash-{slug}")).await.unwrap();
    for i in 0..3 {
        let extra = KeyRecord { id: KeyId::new(), name: format!("k{i}"), ..key.clone() };
        store.create_key(record.id, &extra, &format!("hash-{slug}-{i}")).await.unwrap();
    }
    record.id
}

#[actix_web::test]
async fn row_level_security_binds_the_application_role() {
    let (owner, app) = fresh_pg_database().await;
    migrate(&owner).await.unwrap();
    let store = PgStore::open(&app, 4).await.unwrap();
    let a = tenant(&store, "alpha").await;
    let b = tenant(&store, "beta").await;

    let mut conn = sqlx::PgConnection::connect(&app).await.unwrap();
    // The role is neither superuser nor BYPASSRLS nor owner of the tables.
    let row = sqlx::query("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(!row.get::<bool, _>("rolsuper") && !row.get::<bool, _>("rolbypassrls"));
    let owned: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_tables WHERE tableowner = current_user")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(owned, 0);
    let forced: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_class WHERE relname IN ('api_keys','experts','panels','panel_events','usage','idempotency_keys') AND relrowsecurity AND relforcerowsecurity",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(forced, 6, "ENABLE and FORCE ROW LEVEL SECURITY on every tenant table");

    // With tenant A set, a query that forgets the tenant filter sees only A's rows.
    let mut tx = conn.begin().await.unwrap();
    sqlx::query("SELECT set_config('app.tenant_id', $1, true)").bind(a.0.to_string()).execute(&mut *tx).await.unwrap();
    let rows = sqlx::query("SELECT tenant_id FROM api_keys").fetch_all(&mut *tx).await.unwrap();
    assert_eq!(rows.len(), 4);
    assert!(rows.iter().all(|r| r.get::<uuid::Uuid, _>("tenant_id") == a.0));
    // A write for another tenant fails.
    let cross = sqlx::query("INSERT INTO experts (id, tenant_id, body, created_at) VALUES ($1, $2, '{}', now())")
        .bind(uuid::Uuid::now_v7())
        .bind(b.0)
        .execute(&mut *tx)
        .await;
    assert!(cross.unwrap_err().to_string().contains("row-level security"), "an insert for another tenant is refused");
    tx.rollback().await.unwrap();

    // The setting lasts for its transaction only: afterwards nothing is visible.
    let visible: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_keys").fetch_one(&mut conn).await.unwrap();
    assert_eq!(visible, 0, "no tenant set sees no rows");
    let mut tx = conn.begin().await.unwrap();
    let none: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM panels").fetch_one(&mut *tx).await.unwrap();
    assert_eq!(none, 0);
    let update = sqlx::query("UPDATE api_keys SET name = 'stolen'").execute(&mut *tx).await.unwrap();
    assert_eq!(update.rows_affected(), 0, "no tenant set changes nothing");
    tx.commit().await.unwrap();

    // The store's own calls still work for each tenant, and only for it.
    assert_eq!(store.list_keys(a).await.unwrap().len(), 4);
    assert_eq!(store.list_keys(b).await.unwrap().len(), 4);
    assert!(
        store.find_key_by_hash("hash-beta-1").await.unwrap().is_some_and(|k| k.tenant_id == b),
        "authentication finds keys across tenants"
    );
}
