//! Does a KMS key policy let another account use the key for snapshot copies?

use serde_json::Value;

/// The KMS actions a DR account needs on the source key to copy a shared snapshot.
pub const REQUIRED_ACTIONS: [&str; 3] = ["kms:DescribeKey", "kms:CreateGrant", "kms:Decrypt"];

fn as_list(v: Option<&Value>) -> Vec<&str> {
    match v {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// `*` matches any run of characters; comparison ignores case (IAM action names do).
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.to_ascii_lowercase(), text.to_ascii_lowercase());
    let parts: Vec<&str> = p.split('*').collect();
    if parts.len() == 1 {
        return p == t;
    }
    let mut rest = t.as_str();
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            let Some(pos) = rest.find(part) else {
                return false;
            };
            rest = &rest[pos + part.len()..];
        }
    }
    true
}

fn principal_is_account(principal: &Value, account: &str) -> bool {
    if principal.as_str() == Some("*") {
        return true;
    }
    let aws = principal.get("AWS");
    as_list(aws).iter().any(|p| {
        *p == "*"
            || *p == account
            || (p.starts_with("arn:aws") && p.split(':').nth(4) == Some(account))
    })
}

/// A key policy's statements, parsed once and asked about each account.
/// A key policy KMS returned that is not JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the key policy is not JSON: {0}")]
pub struct KeyPolicyError(String);

#[derive(Debug, Clone)]
pub struct KeyPolicy {
    statements: Vec<Value>,
}

impl KeyPolicy {
    pub fn parse(policy_json: &str) -> Result<Self, KeyPolicyError> {
        let policy: Value =
            serde_json::from_str(policy_json).map_err(|e| KeyPolicyError(e.to_string()))?;
        let statements = match policy.get("Statement") {
            Some(Value::Array(items)) => items.clone(),
            Some(single @ Value::Object(_)) => vec![single.clone()],
            _ => Vec::new(),
        };
        Ok(KeyPolicy { statements })
    }

    /// The required actions the policy does not allow `account`; empty means it may copy.
    /// Conditions are not evaluated (they are assumed to hold).
    pub fn missing_actions(&self, account: &str) -> Vec<&'static str> {
        let allowed: Vec<&str> = self
            .statements
            .iter()
            .filter(|s| s.get("Effect").and_then(Value::as_str) == Some("Allow"))
            .filter(|s| {
                s.get("Principal")
                    .is_some_and(|p| principal_is_account(p, account))
            })
            .flat_map(|s| as_list(s.get("Action")))
            .collect();
        REQUIRED_ACTIONS
            .iter()
            .copied()
            .filter(|needed| !allowed.iter().any(|a| glob(a, needed)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_principal_with_the_actions() {
        let p = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":["kms:Decrypt","kms:DescribeKey","kms:CreateGrant"],"Resource":"*"}]}"#;
        assert_eq!(
            KeyPolicy::parse(p).unwrap().missing_actions("222222222222"),
            Vec::<&str>::new()
        );
        assert_eq!(
            KeyPolicy::parse(p)
                .unwrap()
                .missing_actions("333333333333")
                .len(),
            3
        );
    }

    #[test]
    fn wildcards_and_missing_actions() {
        let p = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":["222222222222"]},"Action":"kms:Create*"},{"Effect":"Deny","Principal":"*","Action":"kms:*"}]}"#;
        assert_eq!(
            KeyPolicy::parse(p).unwrap().missing_actions("222222222222"),
            vec!["kms:DescribeKey", "kms:Decrypt"]
        );
        let star = r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*"}}"#;
        assert!(
            KeyPolicy::parse(star)
                .unwrap()
                .missing_actions("222222222222")
                .is_empty()
        );
        assert!(KeyPolicy::parse("nope").is_err());
    }
}
