//! Who may do what (API.md Part 3, "One policy point"): every operation of
//! every door is authorized here, by what it is, never by which door asks.

use crate::domain::requester::Requester;
use crate::domain::scope::Scope;
use crate::error::{Error, Result};

/// What a caller asks to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// Events, counts, stats, proofs, the ledger, export, subscriptions.
    ReadEvents,
    /// The actors and resources lists: they show what lies outside any
    /// viewer token's filter, so an API key is needed.
    ListIdentities,
    RecordEvents,
    /// List, create, change or delete event streams and alert rules: they
    /// read the log, so `audit.read` is needed beside `keys.manage`.
    ManageStreams,
    /// Create or revoke API keys (the scopes granted are checked apart).
    ManageKeys,
    MintViewerToken,
    /// Retention, legal hold and erasure.
    Administer,
    CreateTenant,
    /// The server's metrics on the API listener.
    ReadMetrics,
}

impl Operation {
    /// What a refusal says the caller was trying to do.
    fn what(self) -> &'static str {
        match self {
            Operation::ReadEvents => "read events",
            Operation::ListIdentities => "list actors and resources",
            Operation::RecordEvents => "record events",
            Operation::ManageStreams => "manage event streams and alert rules",
            Operation::ManageKeys => "manage API keys",
            Operation::MintViewerToken => "mint viewer tokens",
            Operation::Administer => "change retention, legal hold or erase data",
            Operation::CreateTenant => "create tenants",
            Operation::ReadMetrics => "read the server's metrics",
        }
    }

    /// The scopes it needs, all of them (`admin` holds every scope).
    fn needs(self) -> &'static [Scope] {
        match self {
            Operation::ReadEvents | Operation::ListIdentities | Operation::MintViewerToken => &[Scope::AuditRead],
            Operation::RecordEvents => &[Scope::AuditWrite],
            Operation::ManageStreams => &[Scope::KeysManage, Scope::AuditRead],
            Operation::ManageKeys => &[Scope::KeysManage],
            Operation::Administer | Operation::CreateTenant | Operation::ReadMetrics => &[Scope::Admin],
        }
    }

    /// Whether a viewer token may do it: only read the events of its filter.
    fn open_to_viewer_tokens(self) -> bool {
        self == Operation::ReadEvents
    }
}

/// `FORBIDDEN` unless `requester` may do `operation`.
pub fn authorize(requester: &Requester, operation: Operation) -> Result<()> {
    if requester.viewer.is_some() && !operation.open_to_viewer_tokens() {
        return Err(Error::Forbidden(format!(
            "a viewer token may only read the events of its filter; it may not {}",
            operation.what()
        )));
    }
    match operation.needs().iter().find(|scope| !requester.scopes.allows(**scope)) {
        None => Ok(()),
        Some(missing) => {
            Err(Error::Forbidden(format!("this API key lacks the `{missing}` scope, needed to {}", operation.what())))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::domain::ids::{ApiKeyId, TenantId};
    use crate::domain::scope::Scopes;

    fn key(scopes: &str) -> Requester {
        Requester {
            tenant: TenantId(uuid::Uuid::nil()),
            tenant_slug: "t".into(),
            key_id: ApiKeyId(uuid::Uuid::nil()),
            key_name: "k".into(),
            scopes: Scopes::parse_list(scopes, "scopes").unwrap(),
            viewer: None,
        }
    }

    /// The table of API.md Part 3, row by row.
    #[test]
    fn the_table_holds() {
        use Operation::*;
        let cases: [(&str, Operation, bool); 14] = [
            ("audit.read", ReadEvents, true),
            ("audit.write", ReadEvents, false),
            ("keys.manage", ReadEvents, false),
            ("audit.write", RecordEvents, true),
            ("audit.read", RecordEvents, false),
            ("keys.manage", ManageStreams, false),
            ("audit.read", ManageStreams, false),
            ("keys.manage,audit.read", ManageStreams, true),
            ("admin", ManageStreams, true),
            ("keys.manage", ManageKeys, true),
            ("audit.read", MintViewerToken, true),
            ("keys.manage,audit.read,audit.write", Administer, false),
            ("admin", Administer, true),
            ("keys.manage,audit.read", ReadMetrics, false),
        ];
        for (scopes, operation, allowed) in cases {
            assert_eq!(authorize(&key(scopes), operation).is_ok(), allowed, "{scopes} {operation:?}");
        }
    }

    #[test]
    fn viewer_tokens_only_read() {
        let grant = crate::domain::requester::ViewerGrant {
            filter: crate::domain::filter::Filter::all(),
            filter_json: serde_json::json!({}),
            expires_at: chrono::DateTime::UNIX_EPOCH,
        };
        let viewer = Requester { viewer: Some(Arc::new(grant)), ..key("audit.read") };
        assert!(authorize(&viewer, Operation::ReadEvents).is_ok());
        for operation in [Operation::ListIdentities, Operation::MintViewerToken, Operation::RecordEvents] {
            assert_eq!(authorize(&viewer, operation).unwrap_err().code(), "FORBIDDEN");
        }
    }
}
