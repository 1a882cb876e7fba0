//! What the provider Lambda trusts, and the checks that need no AWS call: the install stack's
//! account allow-lists, the bound on the task's `now`, and whether a task input is exactly
//! what a state machine definition sends. The CLI trusts its operator (local policy files,
//! the operator's own credentials); the Lambda trusts only deployed state machines.

use chrono::{DateTime, Duration, Utc};
use rds_snapshot_policy_core::contract::{DEFAULT_PROVIDER_FUNCTION, provider_env, states};
use serde_json::Value;

use crate::error::{ErrorName, ProviderError};
use crate::policy::RuntimePolicy;
use rds_snapshot_policy_core::Role;

/// How far a task's `now` may be from its execution's start as Step Functions records it
/// (the definitions send `$$.Execution.StartTime`; those deployed before this release send the
/// schedule's time, stamped seconds before the start), and ahead of AWS's clock.
pub const MAX_NOW_AHEAD_MINUTES: i64 = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trust {
    /// `None`: any account (the CLI). `Some`: only these (the Lambda; empty = none).
    pub allowed_destination_accounts: Option<Vec<String>>,
    pub allowed_source_accounts: Option<Vec<String>>,
    /// Check the task against the running execution, its state machine and its stack.
    pub verify_deployment: bool,
    /// Custom-resource answers may go to http on 127.0.0.1 (local tests only).
    pub allow_local_response_url: bool,
    /// The installation's `KmsKeyArns` (empty: any key, through RDS): the deploy-time checks
    /// warn when a key the copies need is not listed.
    pub kms_key_arns: Vec<String>,
    /// DR: the installation's `SourceKmsKeyArns` (the production keys of shared snapshots).
    pub source_kms_key_arns: Vec<String>,
    /// The provider's own function name: a task's policy resource must name it as its
    /// `ServiceToken` (a resource served by another function proves nothing).
    pub provider_function: String,
}

/// A provider environment variable that does not hold what it must: every task is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustConfigError {
    #[error("{variable} holds {value:?}, which is not a 12-digit account ID")]
    NotAnAccount {
        variable: &'static str,
        value: String,
    },
    #[error("{variable} holds {value:?}, which is not a KMS key ARN")]
    NotAKey {
        variable: &'static str,
        value: String,
    },
}

impl Trust {
    /// The CLI: the operator's own policy files and credentials; no allow-lists.
    pub fn operator() -> Self {
        Trust {
            allowed_destination_accounts: None,
            allowed_source_accounts: None,
            verify_deployment: false,
            allow_local_response_url: false,
            kms_key_arns: Vec::new(),
            source_kms_key_arns: Vec::new(),
            provider_function: DEFAULT_PROVIDER_FUNCTION.to_string(),
        }
    }

    /// The Lambda, from its environment (`lookup` reads one variable). A malformed list is an
    /// error naming the variable, so the provider refuses every task rather than guess.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, TrustConfigError> {
        let list = |name: &'static str| -> Result<Vec<String>, TrustConfigError> {
            let text = lookup(name).unwrap_or_default();
            let mut accounts = Vec::new();
            for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                if item.len() != 12 || !item.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(TrustConfigError::NotAnAccount {
                        variable: name,
                        value: item.to_string(),
                    });
                }
                accounts.push(item.to_string());
            }
            Ok(accounts)
        };
        let key_list = |name: &'static str| -> Result<Vec<String>, TrustConfigError> {
            let text = lookup(name).unwrap_or_default();
            let keys: Vec<String> = text
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            match keys
                .iter()
                .find(|k| !k.starts_with("arn:") || !k.contains(":key/"))
            {
                Some(bad) => Err(TrustConfigError::NotAKey {
                    variable: name,
                    value: bad.clone(),
                }),
                None => Ok(keys),
            }
        };
        Ok(Trust {
            allowed_destination_accounts: Some(list(provider_env::ALLOWED_DESTINATION_ACCOUNTS)?),
            allowed_source_accounts: Some(list(provider_env::ALLOWED_SOURCE_ACCOUNTS)?),
            verify_deployment: true,
            allow_local_response_url: lookup(provider_env::ALLOW_LOCAL_RESPONSE_URL).as_deref()
                == Some("1"),
            kms_key_arns: key_list(provider_env::KMS_KEY_ARNS)?,
            source_kms_key_arns: key_list(provider_env::SOURCE_KMS_KEY_ARNS)?,
            provider_function: lookup(provider_env::FUNCTION_NAME)
                .filter(|name| !name.is_empty())
                .unwrap_or_else(|| DEFAULT_PROVIDER_FUNCTION.to_string()),
        })
    }

    /// Refuses a policy that shares with, or copies from, an account outside the allow-lists.
    /// A cross-account DR policy without `SourceAccounts` (expanded before it was required)
    /// is narrowed to the allow-list, so it still copies only from known accounts.
    pub fn confine(&self, policy: &mut RuntimePolicy) -> Result<(), ProviderError> {
        let refuse = |what: String, parameter: &str, allowed: &[String]| {
            ProviderError::new(
                ErrorName::AccountNotAllowed,
                format!(
                    "policy {} {what}, which is not in the install stack's {parameter} ({}): nothing was done",
                    policy.id,
                    if allowed.is_empty() {
                        "empty".to_string()
                    } else {
                        allowed.join(", ")
                    }
                ),
            )
        };
        if let Some(allowed) = &self.allowed_destination_accounts
            && policy.spec.shares()
            && let Some(account) = policy.accounts().iter().find(|a| !allowed.contains(a))
        {
            return Err(refuse(
                format!("shares with account {account}"),
                "AllowedDestinationAccounts",
                allowed,
            ));
        }
        if let Some(allowed) = &self.allowed_source_accounts
            && policy.role() == Role::Destination
            && policy.spec.copies_across_accounts()
        {
            let listed = policy.spec.source_account_list();
            if listed.is_empty() {
                if allowed.is_empty() {
                    return Err(refuse(
                        "copies from any account that shares (no SourceAccounts)".to_string(),
                        "AllowedSourceAccounts",
                        allowed,
                    ));
                }
                policy.spec.source_accounts = Some(allowed.clone());
            } else if let Some(account) = listed.iter().find(|a| !allowed.contains(a)) {
                return Err(refuse(
                    format!("copies from account {account}"),
                    "AllowedSourceAccounts",
                    allowed,
                ));
            }
        }
        Ok(())
    }

    /// The run's `now` lies within an execution's life of AWS's clock: never more than a few
    /// minutes ahead (a far-future `now` would expire every snapshot at once), never before the
    /// earliest start a running execution can have (a `now` in the past would copy outside
    /// retention, stamp old evidence and make the RPO arithmetic lie).
    pub fn check_now(
        &self,
        now: DateTime<Utc>,
        aws_now: DateTime<Utc>,
    ) -> Result<(), ProviderError> {
        let refuse = |what: String| {
            Err(ProviderError::new(
                ErrorName::InputInvalid,
                format!(
                    "the task's now ({}) is {what} AWS's clock ({}): refused, nothing was done",
                    now.to_rfc3339(),
                    aws_now.to_rfc3339()
                ),
            ))
        };
        if now > aws_now + Duration::minutes(MAX_NOW_AHEAD_MINUTES) {
            return refuse(format!("more than {MAX_NOW_AHEAD_MINUTES} minutes after"));
        }
        let oldest = Duration::seconds(states::EXECUTION_TIMEOUT_SECONDS as i64)
            + Duration::minutes(MAX_NOW_AHEAD_MINUTES);
        if now < aws_now - oldest {
            return refuse(format!(
                "more than {} minutes (an execution's time limit) before",
                oldest.num_minutes()
            ));
        }
        Ok(())
    }
}

/// A task's `now` is its execution's start as Step Functions recorded it (DescribeExecution's
/// `startDate`): time comes from AWS, never from whoever started the execution.
pub fn check_now_is_execution_start(
    now: DateTime<Utc>,
    started: DateTime<Utc>,
    execution: &str,
) -> Result<(), ProviderError> {
    if (now - started).num_seconds().abs() > MAX_NOW_AHEAD_MINUTES * 60 {
        return Err(ProviderError::new(
            ErrorName::InputInvalid,
            format!(
                "the task's now ({}) is not the start of execution {execution} ({}): a run plans as of the time Step Functions started it; refused, nothing was done",
                now.to_rfc3339(),
                started.to_rfc3339()
            ),
        ));
    }
    Ok(())
}

/// Whether `payload` is exactly what one Task state of `definition` sends: every literal
/// parameter equal, every `key.$` parameter present as `key` (its value comes from the
/// execution), and no other key; nested objects by the same rule.
pub fn matches_definition(definition: &Value, payload: &Value) -> bool {
    let Some(states) = definition.get("States").and_then(Value::as_object) else {
        return false;
    };
    payload.is_object()
        && states.values().any(|state| {
            state.get("Type").and_then(Value::as_str) == Some("Task")
                && state
                    .get("Parameters")
                    .is_some_and(|p| p.is_object() && matches_parameters(p, payload))
        })
}

fn matches_parameters(parameters: &Value, payload: &Value) -> bool {
    match (parameters, payload) {
        (Value::Object(params), Value::Object(sent)) => {
            let literal_ok = params
                .iter()
                .filter(|(k, _)| !k.ends_with(".$"))
                .all(|(k, v)| sent.get(k).is_some_and(|s| matches_parameters(v, s)));
            let paths_ok = params
                .keys()
                .filter_map(|k| k.strip_suffix(".$"))
                .all(|k| sent.contains_key(k));
            let keys_ok = sent
                .keys()
                .all(|k| params.contains_key(k) || params.contains_key(&format!("{k}.$")));
            literal_ok && paths_ok && keys_ok
        }
        (literal, sent) => literal == sent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    fn source_policy(accounts: &str) -> RuntimePolicy {
        RuntimePolicy::from_properties(
            &json!({"Role": "Source", "PolicyId": "orders", "DBInstanceIdentifier": "orders",
                "DestinationAccounts": accounts.split(',').collect::<Vec<_>>()}),
            "eu-west-1",
            None,
        )
        .unwrap()
    }

    #[test]
    fn the_lambda_allows_nothing_cross_account_unless_listed() {
        let trust = Trust::from_env(env(&[])).unwrap();
        let err = trust
            .confine(&mut source_policy("222222222222"))
            .unwrap_err();
        assert_eq!(err.kind, ErrorName::AccountNotAllowed);
        assert!(err.message.contains("222222222222"), "{}", err.message);
        assert!(err.message.contains("AllowedDestinationAccounts (empty)"));

        let trust = Trust::from_env(env(&[(
            provider_env::ALLOWED_DESTINATION_ACCOUNTS,
            " 222222222222, 333333333333 ",
        )]))
        .unwrap();
        assert!(
            trust
                .confine(&mut source_policy("222222222222,333333333333"))
                .is_ok()
        );
        let err = trust
            .confine(&mut source_policy("222222222222,444444444444"))
            .unwrap_err();
        assert!(err.message.contains("444444444444"), "{}", err.message);
        assert!(
            Trust::operator()
                .confine(&mut source_policy("444444444444"))
                .is_ok()
        );
    }

    #[test]
    fn the_installations_key_lists_are_read_and_must_be_key_arns() {
        let key = "arn:aws:kms:eu-west-1:111111111111:key/11111111-1111-1111-1111-111111111111";
        let trust = Trust::from_env(env(&[(provider_env::SOURCE_KMS_KEY_ARNS, key)])).unwrap();
        assert_eq!(trust.source_kms_key_arns, vec![key.to_string()]);
        assert!(trust.kms_key_arns.is_empty());
        let wrong = Trust::from_env(env(&[(provider_env::KMS_KEY_ARNS, "alias/dr")]));
        assert_eq!(
            wrong.unwrap_err().to_string(),
            "RSP_KMS_KEY_ARNS holds \"alias/dr\", which is not a KMS key ARN"
        );
    }

    fn destination_policy(sources: Option<&str>) -> RuntimePolicy {
        let mut properties = json!({"Role": "Destination", "PolicyId": "dr", "SnapshotPattern": "^orders-",
            "SourceRegionOverride": "eu-west-1", "DestinationRegion": "eu-central-1",
            "KmsKeyDestination": "arn:aws:kms:eu-central-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"});
        properties["SourceAccounts"] = json!(
            sources
                .unwrap_or("111111111111")
                .split(',')
                .collect::<Vec<_>>()
        );
        let mut policy = RuntimePolicy::from_properties(&properties, "eu-central-1", None).unwrap();
        if sources.is_none() {
            // A task input written before SourceAccounts was required.
            policy.spec.source_accounts = None;
        }
        policy
    }

    #[test]
    fn the_dr_account_copies_only_from_allowed_accounts() {
        let trust = Trust::from_env(env(&[(
            provider_env::ALLOWED_SOURCE_ACCOUNTS,
            "111111111111",
        )]))
        .unwrap();
        let mut listed = destination_policy(Some("111111111111"));
        assert!(trust.confine(&mut listed).is_ok());
        let err = trust
            .confine(&mut destination_policy(Some("111111111111,999999999999")))
            .unwrap_err();
        assert!(
            err.message.contains("copies from account 999999999999"),
            "{}",
            err.message
        );
        // An older expansion without SourceAccounts is narrowed to the allow-list.
        let mut unlisted = destination_policy(None);
        trust.confine(&mut unlisted).unwrap();
        assert_eq!(unlisted.spec.source_account_list(), ["111111111111"]);
        let err = Trust::from_env(env(&[]))
            .unwrap()
            .confine(&mut destination_policy(None))
            .unwrap_err();
        assert_eq!(err.kind, ErrorName::AccountNotAllowed);
        assert!(
            err.message.contains("AllowedSourceAccounts (empty)"),
            "{}",
            err.message
        );
    }

    #[test]
    fn a_malformed_allow_list_names_the_variable() {
        let err =
            Trust::from_env(env(&[(provider_env::ALLOWED_SOURCE_ACCOUNTS, "12345")])).unwrap_err();
        assert!(
            err.to_string().contains("RSP_ALLOWED_SOURCE_ACCOUNTS"),
            "{err}"
        );
        let trust = Trust::from_env(env(&[(provider_env::ALLOW_LOCAL_RESPONSE_URL, "1")])).unwrap();
        assert!(trust.allow_local_response_url && trust.verify_deployment);
        assert!(!Trust::from_env(env(&[])).unwrap().allow_local_response_url);
    }

    #[test]
    fn now_may_not_run_ahead_of_aws() {
        let aws = DateTime::parse_from_rfc3339("2026-12-03T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let trust = Trust::operator();
        assert!(trust.check_now(aws + Duration::minutes(4), aws).is_ok());
        assert!(trust.check_now(aws - Duration::minutes(64), aws).is_ok());
        let err = trust
            .check_now(aws + Duration::days(3000), aws)
            .unwrap_err();
        assert_eq!(err.kind, ErrorName::InputInvalid);
        assert!(err.message.contains("after AWS's clock"), "{}", err.message);
        // Nor far behind it: a year-2000 `now` copied outside retention (issue 29).
        let err = trust.check_now(aws - Duration::days(30), aws).unwrap_err();
        assert!(
            err.message.contains("before AWS's clock"),
            "{}",
            err.message
        );
        assert!(trust.check_now(aws - Duration::minutes(66), aws).is_err());
    }

    #[test]
    fn now_is_the_execution_start() {
        let start = DateTime::parse_from_rfc3339("2026-12-03T08:00:00.412Z")
            .unwrap()
            .with_timezone(&Utc);
        assert!(check_now_is_execution_start(start, start, "arn:e").is_ok());
        // A schedule's time from a definition deployed before this release: seconds before.
        assert!(
            check_now_is_execution_start(start - Duration::seconds(20), start, "arn:e").is_ok()
        );
        let err =
            check_now_is_execution_start(start - Duration::minutes(6), start, "arn:e").unwrap_err();
        assert_eq!(err.kind, ErrorName::InputInvalid);
        assert!(
            err.message.contains("not the start of execution arn:e"),
            "{}",
            err.message
        );
        assert!(check_now_is_execution_start(start + Duration::days(1), start, "arn:e").is_err());
    }

    #[test]
    fn only_the_exact_task_parameters_match() {
        let definition = json!({"States": {
            "More": {"Type": "Choice"},
            "Share": {"Type": "Task", "Parameters": {
                "version": 4, "action": "share",
                "policy": {"PolicyId": "orders", "DestinationAccounts": ["222222222222"]},
                "execution.$": "$$.Execution.Id", "now.$": "$$.Execution.StartTime",
                "origin": {"stack": "arn:s", "stateMachine": "OShareStateMachine"}}},
            "Notify": {"Type": "Task", "Parameters": {"TopicArn": "arn:t", "Message.$": "$.x"}}
        }});
        let sent = json!({"version": 4, "action": "share",
            "policy": {"PolicyId": "orders", "DestinationAccounts": ["222222222222"]},
            "execution": "arn:e", "now": "2026-12-03T08:00:00Z",
            "origin": {"stack": "arn:s", "stateMachine": "OShareStateMachine"}});
        assert!(matches_definition(&definition, &sent));
        let mut forged = sent.clone();
        forged["policy"]["DestinationAccounts"] = json!(["999999999999"]);
        assert!(!matches_definition(&definition, &forged));
        let mut extra = sent.clone();
        extra["dryRun"] = json!(false);
        assert!(!matches_definition(&definition, &extra));
        let mut missing = sent.clone();
        missing.as_object_mut().unwrap().remove("origin");
        assert!(!matches_definition(&definition, &missing));
        // A Task whose Parameters are all paths cannot be used to pass anything.
        assert!(!matches_definition(&definition, &json!({"Message": "x"})));
        // Nested objects follow the same rule (the drill's steps).
        let drill = json!({"States": {"Check": {"Type": "Task", "Parameters": {
            "action": "drill", "drill": {"step": "check", "run.$": "$.drill.run"}}}}});
        assert!(matches_definition(
            &drill,
            &json!({"action": "drill", "drill": {"step": "check", "run": {"restores": []}}})
        ));
        assert!(!matches_definition(
            &drill,
            &json!({"action": "drill", "drill": {"step": "finish", "run": {}}})
        ));
        assert!(!matches_definition(
            &drill,
            &json!({"action": "drill", "drill": {"step": "check"}})
        ));
        assert!(!matches_definition(
            &drill,
            &json!({"action": "drill", "drill": {"step": "check", "run": {}, "extra": 1}})
        ));
        assert!(!matches_definition(&json!({}), &sent));
    }
}
