//! The answer to CloudFormation: a PUT of the documented JSON body to the pre-signed
//! ResponseURL, at most 4,096 bytes, retried when the PUT fails.

use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub status: String,
    pub reason: String,
    pub physical_resource_id: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    pub data: Map<String, Value>,
}

/// CloudFormation refuses larger response bodies.
pub const MAX_BODY_BYTES: usize = 4096;
const TRUNCATED: &str = " … (truncated; the full text is in the provider's CloudWatch Logs)";

/// The body, shrunk to fit: the reason is cut first (not below 400 characters), then data
/// entries are dropped from the end, then the reason is cut to 100 characters.
pub fn fit_body(response: &Response) -> String {
    let size = |r: &Response| serde_json::to_string(r).unwrap_or_default().len();
    let mut r = response.clone();
    let excess = size(&r).saturating_sub(MAX_BODY_BYTES);
    if excess > 0 && r.reason.len() > 400 {
        let keep = r
            .reason
            .len()
            .saturating_sub(excess + TRUNCATED.len())
            .max(400);
        cut(&mut r.reason, keep);
        r.reason.push_str(TRUNCATED);
    }
    while size(&r) > MAX_BODY_BYTES && !r.data.is_empty() {
        if let Some(last) = r.data.keys().next_back().cloned() {
            r.data.remove(&last);
        }
    }
    if size(&r) > MAX_BODY_BYTES {
        cut(&mut r.reason, 100);
    }
    serde_json::to_string(&r).unwrap_or_default()
}

fn cut(text: &mut String, at: usize) {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    text.truncate(at);
}

/// PUTs `body` to `url`, up to 4 attempts with growing pauses.
pub async fn put_response(url: &str, body: &str) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    let mut last = String::new();
    for attempt in 0..4u32 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(500 * 2u64.pow(attempt))).await;
        }
        match client
            .put(url)
            .header("Content-Type", "")
            .body(body.to_string())
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => last = format!("HTTP {}", r.status()),
            Err(e) => last = e.to_string(),
        }
        tracing::warn!(attempt = attempt + 1, error = %last, "answering CloudFormation failed; retrying");
    }
    Err(format!(
        "could not answer CloudFormation after 4 attempts: {last}"
    ))
}
