//! API key scopes.

use std::fmt;

use crate::error::Error;

/// What a key may do. `admin` includes the other three, in any tenant it acts in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Query and subscribe.
    AuditRead,
    /// Record events.
    AuditWrite,
    /// Create and revoke the keys of its tenant.
    KeysManage,
    /// Create tenants and act in any tenant (header `X-Audit-Tenant`).
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 4] = [Scope::AuditRead, Scope::AuditWrite, Scope::KeysManage, Scope::Admin];

    /// The scope's wire name, as in `audit.read`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::AuditRead => "audit.read",
            Scope::AuditWrite => "audit.write",
            Scope::KeysManage => "keys.manage",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(name: &str) -> Option<Scope> {
        Self::ALL.into_iter().find(|s| s.as_str() == name.trim())
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of scopes, stored as a comma-separated list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    pub fn new(mut scopes: Vec<Scope>) -> Self {
        scopes.sort();
        scopes.dedup();
        Self(scopes)
    }

    /// Parses `audit.read,audit.write`; `path` names the input for the error.
    pub fn parse_list(list: &str, path: &str) -> Result<Self, Error> {
        let mut scopes = Vec::new();
        for name in list.split(',').filter(|s| !s.trim().is_empty()) {
            scopes.push(Scope::parse(name).ok_or_else(|| {
                Error::bad_input(
                    path,
                    format!(
                        "unknown scope `{}` (expected one of audit.read, audit.write, keys.manage, admin)",
                        name.trim()
                    ),
                )
            })?);
        }
        if scopes.is_empty() {
            return Err(Error::bad_input(path, "at least one scope is required"));
        }
        Ok(Self::new(scopes))
    }

    /// Whether these scopes allow `needed` (`admin` allows everything).
    pub fn allows(&self, needed: Scope) -> bool {
        self.0.contains(&needed) || self.0.contains(&Scope::Admin)
    }

    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }

    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }

    pub fn to_list(&self) -> String {
        self.0.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_allows_everything_and_lists_round_trip() {
        let admin = Scopes::parse_list("admin", "scopes").unwrap();
        assert!(Scope::ALL.iter().all(|s| admin.allows(*s)));
        let rw = Scopes::parse_list("audit.write, audit.read,audit.read", "scopes").unwrap();
        assert_eq!(rw.to_list(), "audit.read,audit.write");
        assert!(!rw.allows(Scope::KeysManage));
        assert!(Scopes::parse_list("audit.read,root", "scopes").is_err());
        assert!(Scopes::parse_list("", "scopes").is_err());
    }
}
