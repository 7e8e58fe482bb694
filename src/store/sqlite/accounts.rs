//! People on SQLite: reads on the pool, writes holding the write lock from the start.

use askpanel_actors::domain::TenantId;

use super::SqliteStore;
use crate::store::StoreResult;
use crate::store::accounts::{session_store, user_store};

impl SqliteStore {
    async fn read_tx(&self, _tenant: TenantId) -> StoreResult<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.pool.begin().await?)
    }

    async fn tenant_write_tx(&self, _tenant: TenantId) -> StoreResult<sqlx::Transaction<'static, sqlx::Sqlite>> {
        self.write_tx().await
    }
}

user_store!(SqliteStore, read_tx, tenant_write_tx);
session_store!(SqliteStore, read_tx, tenant_write_tx);
