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

/// Why CloudFormation was not answered: a `ResponseURL` refused, or the answer undelivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    #[error("ResponseURL is not a URL: {0}")]
    NotAUrl(String),
    #[error("ResponseURL carries user info; refused")]
    UserInfo,
    #[error("ResponseURL scheme {0} is not https; refused")]
    Scheme(String),
    #[error("ResponseURL names a port other than 443; refused")]
    Port,
    #[error(
        "ResponseURL host {0} is not an AWS S3 host (amazonaws.com or amazonaws.com.cn); refused"
    )]
    Host(String),
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    #[error("could not answer CloudFormation after 4 attempts: {0}")]
    Undelivered(String),
}

/// Whether CloudFormation's `ResponseURL` may be answered: https on an S3 host of an AWS
/// partition (`amazonaws.com`, `amazonaws.com.cn`), port 443, no user info. With
/// `allow_local` (tests only) also http on 127.0.0.1 or localhost.
pub fn check_response_url(url: &str, allow_local: bool) -> Result<(), ResponseError> {
    let parsed = reqwest::Url::parse(url).map_err(|e| ResponseError::NotAUrl(e.to_string()))?;
    let host = parsed.host_str().unwrap_or_default().to_ascii_lowercase();
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(ResponseError::UserInfo);
    }
    let local = matches!(host.as_str(), "127.0.0.1" | "localhost");
    if allow_local && local && matches!(parsed.scheme(), "http" | "https") {
        return Ok(());
    }
    if parsed.scheme() != "https" {
        return Err(ResponseError::Scheme(parsed.scheme().to_string()));
    }
    if parsed.port().is_some_and(|p| p != 443) {
        return Err(ResponseError::Port);
    }
    let s3_host = ["amazonaws.com", "amazonaws.com.cn"].iter().any(|domain| {
        host.strip_suffix(domain)
            .and_then(|rest| rest.strip_suffix('.'))
            .is_some_and(|rest| {
                rest.split('.')
                    .any(|label| label == "s3" || label.starts_with("s3-"))
            })
    });
    if !s3_host {
        return Err(ResponseError::Host(host));
    }
    Ok(())
}

/// The reason as CloudFormation shows it: SDK dispatch and credential-chain dumps are cut to
/// a pointer at the logs, and anything that looks like an access key or a long secret token
/// is masked. The full text stays in the provider's logs.
pub fn public_reason(reason: &str) -> String {
    const DUMPS: [&str; 6] = [
        "dispatch failure",
        "credentials",
        "credential provider",
        "ConnectorError",
        "DispatchFailure",
        "CredentialsNotLoaded",
    ];
    let problems: Vec<String> = reason
        .split("; ")
        .map(|problem| {
            let lower = problem.to_ascii_lowercase();
            match DUMPS.iter().find(|d| lower.contains(&d.to_ascii_lowercase())) {
                Some(_) => {
                    let context = problem.split(": ").next().unwrap_or_default();
                    format!("{context}: the AWS SDK could not complete the call (details in the provider's CloudWatch Logs)")
                }
                None => problem.to_string(),
            }
        })
        .collect();
    problems
        .join("; ")
        .split(' ')
        .map(|word| {
            let token = word.trim_matches(|c: char| !c.is_ascii_alphanumeric());
            let key_id = token.len() == 20
                && (token.starts_with("AKIA") || token.starts_with("ASIA"))
                && token
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
            let secret = token.len() >= 40
                && token
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
                && token.bytes().any(|b| b.is_ascii_digit())
                && token.bytes().any(|b| b.is_ascii_lowercase());
            if key_id || secret {
                word.replace(token, "[redacted]")
            } else {
                word.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// PUTs `body` to `url`, up to 4 attempts with growing pauses; redirects are not followed.
pub async fn put_response(url: &str, body: &str) -> Result<(), ResponseError> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| ResponseError::Client(e.to_string()))?;
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
    Err(ResponseError::Undelivered(last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_s3_presigned_hosts_over_https_are_answered() {
        let ok = |u: &str| check_response_url(u, false).is_ok();
        assert!(ok(
            "https://cloudformation-custom-resource-response-euwest1.s3-eu-west-1.amazonaws.com/arn%3A?X-Amz-Signature=1"
        ));
        assert!(ok(
            "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x"
        ));
        assert!(ok("https://bucket.s3.cn-north-1.amazonaws.com.cn/x"));
        assert!(!ok("http://bucket.s3.amazonaws.com/x"));
        assert!(!ok("https://evil.example/x"));
        assert!(!ok("https://s3.amazonaws.com.evil.example/x"));
        assert!(!ok("https://lambda.eu-west-1.amazonaws.com/x"));
        assert!(!ok("https://user:pw@bucket.s3.amazonaws.com/x"));
        assert!(!ok("https://bucket.s3.amazonaws.com:8443/x"));
        assert!(!ok("file:///etc/passwd"));
        assert!(!ok("http://127.0.0.1:9/x"));
        assert!(check_response_url("http://127.0.0.1:9/x", true).is_ok());
        assert!(check_response_url("http://169.254.169.254/latest", true).is_err());
        let err = check_response_url("gopher://x", false).unwrap_err();
        assert_eq!(err, ResponseError::Scheme("gopher".into()));
        assert!(err.to_string().contains("not https"), "{err}");
    }

    #[test]
    fn reasons_carry_no_dumps_or_keys() {
        let reason = "listing DB instances: dispatch failure: io error: the credential provider was not enabled: ProviderError { source: ... }; KmsKeySource: key is not in eu-west-1";
        let public = public_reason(reason);
        assert!(
            public.starts_with("listing DB instances: the AWS SDK could not complete"),
            "{public}"
        );
        assert!(!public.contains("ProviderError"), "{public}");
        assert!(
            public.ends_with("KmsKeySource: key is not in eu-west-1"),
            "{public}"
        );
        let leaked = public_reason(
            "denied for AKIAIOSFODNN7EXAMPLE with wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY9 (sic)",
        );
        assert_eq!(leaked, "denied for [redacted] with [redacted] (sic)");
        assert_eq!(
            public_reason("All prerequisite checks passed."),
            "All prerequisite checks passed."
        );
    }
}
