//! What can go wrong talking to a server, said so a person can act on it.

use std::fmt;

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server refused the request: its errors, each with its code.
    #[error("{}", ServerErrors(.0))]
    Server(Vec<ServerError>),
    /// A flag's value is wrong; nothing was sent.
    #[error("{0}")]
    Usage(String),
    /// No answer: the server is down, the URL is wrong, the network failed.
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    /// An answer that is not what the API promises (another server at that URL?).
    #[error("unexpected answer from {url}: {reason}")]
    Unexpected { url: String, reason: String },
    /// The subscription's WebSocket closed while following events.
    #[error("the server closed the subscription{}", close_detail(*.code, .reason))]
    Closed { code: Option<u16>, reason: String },
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
}

/// One error of a GraphQL response: `extensions.code`, and for bad input the
/// path of the offending field (`extensions.field`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerError {
    pub code: String,
    pub field: Option<String>,
    pub message: String,
}

impl ServerError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self { code: code.to_string(), field: None, message: message.into() }
    }

    /// The errors of a GraphQL response body, if it has any.
    pub fn list(body: &Value) -> Option<Vec<ServerError>> {
        let errors = body.get("errors")?.as_array()?;
        (!errors.is_empty()).then(|| errors.iter().map(Self::from_json).collect())
    }

    pub fn from_json(error: &Value) -> Self {
        let text = |v: &Value| v.as_str().map(str::to_string);
        let extensions = &error["extensions"];
        Self {
            code: text(&extensions["code"]).unwrap_or_else(|| "UNKNOWN".into()),
            field: text(&extensions["field"]),
            message: text(&error["message"]).unwrap_or_default(),
        }
    }
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            // The server's message starts with the path already: say it once.
            Some(field) => {
                let message = self.message.strip_prefix(&format!("{field}: ")).unwrap_or(&self.message);
                write!(f, "{} at {field}: {message}", self.code)
            }
            None => write!(f, "{}: {}", self.code, self.message),
        }
    }
}

struct ServerErrors<'a>(&'a [ServerError]);

impl fmt::Display for ServerErrors<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, error) in self.0.iter().enumerate() {
            if n > 0 {
                f.write_str("\nerror: ")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

fn close_detail(code: Option<u16>, reason: &str) -> String {
    match (code, reason.is_empty()) {
        (Some(code), false) => format!(" ({code}): {reason}"),
        (Some(code), true) => format!(" ({code})"),
        (None, false) => format!(": {reason}"),
        (None, true) => " without a close frame".into(),
    }
}

/// An error with its causes, for errors whose own message is only the outer
/// layer ("error sending request").
pub fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn says_the_code_and_the_path_once() {
        let body = json!({ "errors": [
            { "message": "filter.occurredAt.gte: not a DateTime", "extensions": { "code": "BAD_USER_INPUT", "field": "filter.occurredAt.gte" } },
            { "message": "an API key is required", "extensions": { "code": "UNAUTHENTICATED" } },
        ] });
        let errors = ServerError::list(&body).unwrap();
        assert_eq!(
            ClientError::Server(errors).to_string(),
            "BAD_USER_INPUT at filter.occurredAt.gte: not a DateTime\nerror: UNAUTHENTICATED: an API key is required"
        );
        assert_eq!(ServerError::list(&json!({ "data": {} })), None);
        assert_eq!(ServerError::list(&json!({ "errors": [] })), None);
    }

    #[test]
    fn says_how_a_socket_closed() {
        let closed = |code, reason: &str| ClientError::Closed { code, reason: reason.into() }.to_string();
        assert_eq!(
            closed(Some(4403), "the API key was revoked"),
            "the server closed the subscription (4403): the API key was revoked"
        );
        assert_eq!(closed(None, ""), "the server closed the subscription without a close frame");
    }
}
