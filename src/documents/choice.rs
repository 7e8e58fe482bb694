//! Which documents a new panel deliberates over: `documents` of
//! `POST /v1/panels` read, then resolved against the caller's tenant.

use askpanel_actors::domain::TenantId;
use askpanel_actors::evidence::{DocumentId, PanelDocument, document_label};
use askpanel_actors::panel::new::MAX_PANEL_DOCUMENTS;
use serde_json::Value;

use crate::error::ApiError;
use crate::store::Store;
use crate::store::documents::DocumentStatus;

/// `documents` of a new panel: every ready document, or these.
#[derive(Clone, Debug, PartialEq)]
pub enum DocumentChoice {
    All,
    Ids(Vec<DocumentId>),
}

/// Reads `documents` of a create body: `"all"`, a list of ids, or nothing.
pub fn parse(documents: Option<Value>) -> Result<Option<DocumentChoice>, String> {
    match documents {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s == "all" => Ok(Some(DocumentChoice::All)),
        Some(Value::Array(items)) if items.len() > MAX_PANEL_DOCUMENTS => {
            Err(format!("at most {MAX_PANEL_DOCUMENTS} documents"))
        }
        Some(Value::Array(items)) => {
            let mut ids = Vec::new();
            for item in &items {
                match item.as_str().and_then(|s| s.parse::<uuid::Uuid>().ok()) {
                    Some(id) if !ids.contains(&DocumentId(id)) => ids.push(DocumentId(id)),
                    Some(id) => return Err(format!("document {id} is listed twice")),
                    None => return Err("must be document ids, or \"all\"".into()),
                }
            }
            Ok((!ids.is_empty()).then_some(DocumentChoice::Ids(ids)))
        }
        Some(_) => Err("must be a list of document ids, or \"all\"".into()),
    }
}

/// The documents a panel deliberates over, labelled `D1`, `D2`... in the
/// order asked (oldest first for `"all"`): each must be this tenant's and
/// ready. Another tenant's id reads as unknown, like an id nobody has.
pub async fn resolve(
    store: &dyn Store,
    tenant: TenantId,
    choice: &DocumentChoice,
) -> Result<Result<Vec<PanelDocument>, String>, ApiError> {
    let found = match choice {
        DocumentChoice::All => {
            let limit = MAX_PANEL_DOCUMENTS as u32 + 1;
            let mut ready = store.list_documents(tenant, Some(DocumentStatus::Ready), limit, None).await?;
            if ready.is_empty() {
                return Ok(Err("the tenant has no ready documents".into()));
            }
            if ready.len() > MAX_PANEL_DOCUMENTS {
                return Ok(Err(format!(
                    "the tenant has more than {MAX_PANEL_DOCUMENTS} ready documents: choose at most {MAX_PANEL_DOCUMENTS}"
                )));
            }
            ready.reverse();
            ready
        }
        DocumentChoice::Ids(ids) => {
            let records = store.get_documents(tenant, ids).await?;
            let mut ordered = Vec::with_capacity(ids.len());
            for id in ids {
                match records.iter().find(|d| d.id == *id) {
                    None => return Ok(Err(format!("unknown document {id}"))),
                    Some(d) if d.status != DocumentStatus::Ready => {
                        return Ok(Err(format!("document {id} is {}, not ready", d.status.as_str())));
                    }
                    Some(d) => ordered.push(d.clone()),
                }
            }
            ordered
        }
    };
    Ok(Ok(found
        .into_iter()
        .enumerate()
        .map(|(i, d)| PanelDocument { id: d.id, label: document_label(i), title: d.title })
        .collect()))
}
