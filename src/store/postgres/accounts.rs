//! People on PostgreSQL: every statement in a transaction scoped to the
//! tenant (row-level security).

use super::PgStore;
use crate::store::accounts::account_store;

account_store!(PgStore, tenant_tx, tenant_tx);
