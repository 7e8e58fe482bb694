//! People on PostgreSQL: every statement in a transaction scoped to the
//! tenant (row-level security).

use super::PgStore;
use crate::store::accounts::{session_store, user_store};

user_store!(PgStore, tenant_tx, tenant_tx);
session_store!(PgStore, tenant_tx, tenant_tx);
