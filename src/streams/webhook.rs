//! Standard Webhooks (standardwebhooks.com): the body, the message ID that
//! stays the same on every retry of a batch, and the `v1` HMAC-SHA256 signature.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac as _};
use serde_json::{Value, json};

use crate::domain::ids::EventStreamId;

type HmacSha256 = Hmac<sha2::Sha256>;

/// The message ID of a batch: the stream and the sequences it spans.
pub fn message_id(stream: EventStreamId, first: u64, last: u64) -> String {
    format!("msg_{}_{first}_{last}", stream.0.simple())
}

/// `{"type":"audit.events","timestamp":…,"data":{"events":[…]}}`.
pub fn body(events: Vec<Value>, now: chrono::DateTime<chrono::Utc>) -> Vec<u8> {
    let payload = json!({
        "type": "audit.events",
        "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": { "events": events },
    });
    serde_json::to_vec(&payload).unwrap_or_default()
}

/// `v1,<base64 HMAC-SHA256(key, id.timestamp.body)>`, the key being the
/// base64 after `whsec_`; `None` if the stored secret does not decode.
pub fn signature(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let key = STANDARD.decode(secret.strip_prefix("whsec_").unwrap_or(secret)).ok()?;
    let mut mac = HmacSha256::new_from_slice(&key).ok()?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes())))
}

/// The POST of one batch.
pub fn request(
    client: &reqwest::Client,
    url: &str,
    secret: &str,
    id: &str,
    body: Vec<u8>,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<reqwest::RequestBuilder> {
    let timestamp = now.timestamp();
    let signature = signature(secret, id, timestamp, &body)?;
    Some(
        client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification's reference libraries.
    #[test]
    fn signs_like_the_specification() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        let signed = signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).unwrap();
        assert_eq!(signed, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }
}
