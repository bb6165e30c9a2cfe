//! An event stream as stored: where a tenant's matching events are pushed,
//! and how far delivery got.

use chrono::{DateTime, Utc};

use super::ids::{EventStreamId, TenantId};

#[derive(Clone, Debug, PartialEq)]
pub struct EventStream {
    pub id: EventStreamId,
    pub tenant: TenantId,
    pub name: String,
    /// `webhook` or `splunk_hec`.
    pub kind: String,
    /// The destination as given, secrets included: shown only through
    /// [`EventStream::display_url`].
    pub url: String,
    /// The webhook signing secret or the HEC token: never shown again.
    pub secret: String,
    pub splunk_index: Option<String>,
    /// The filter as written (`AuditEventFilter` JSON).
    pub filter: serde_json::Value,
    /// The query string AND-ed with the filter, if any.
    pub query: Option<String>,
    pub paused: bool,
    pub delivered_sequence: i64,
    pub last_delivered_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl EventStream {
    /// The URL with its user information and query values hidden
    /// (`https://***@siem.example/hook?token=***`): what is shown back.
    pub fn display_url(&self) -> String {
        redacted_url(&self.url)
    }
}

/// `url` with user information and every query value replaced by `***`; a URL
/// that does not parse is hidden whole.
pub fn redacted_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return "***".into();
    };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        let _ = parsed.set_password(None);
        let _ = parsed.set_username("***");
    }
    if parsed.query().is_some() {
        let names: Vec<String> = parsed.query_pairs().map(|(name, _)| name.into_owned()).collect();
        let query = names.iter().map(|name| format!("{name}=***")).collect::<Vec<_>>().join("&");
        parsed.set_query(Some(&query));
    }
    if parsed.fragment().is_some() {
        parsed.set_fragment(Some("***"));
    }
    parsed.to_string()
}

#[cfg(test)]
mod tests {
    use super::redacted_url;

    #[test]
    fn secrets_in_urls_are_hidden() {
        assert_eq!(
            redacted_url("https://user:pass@siem.example/hook?token=abc&x=1"),
            "https://***@siem.example/hook?token=***&x=***"
        );
        assert_eq!(redacted_url("https://siem.example/hook"), "https://siem.example/hook");
        assert_eq!(redacted_url("https://token@siem.example/"), "https://***@siem.example/");
        assert_eq!(redacted_url("not a url"), "***");
    }
}
