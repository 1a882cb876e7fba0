//! The trust policy of a role the expansion creates for an AWS service (Step Functions,
//! EventBridge), confined to this account (`aws:SourceAccount`: the confused-deputy guard).

use serde_json::{Value, json};

/// Lets `service` assume the role, on behalf of this account only.
pub(super) fn service_trust(service: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
        }]
    })
}
