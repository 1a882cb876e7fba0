//! The seed's prerequisites, checked at deploy time. A check that cannot run (for example
//! AccessDenied on GetKeyPolicy) is a warning, not a failure.

use aws_sdk_kms::types::{KeyManagerType, KeyState};
use policy_macro::Role;

use super::key_policy::KeyPolicy;
use crate::aws::{Aws, list_databases};
use crate::inventory::Database;
use crate::plan::covered_databases;
use crate::policy::{RuntimePolicy, Selector};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckReport {
    /// Problems a person must fix; the deployment fails.
    pub failures: Vec<String>,
    /// Checks that could not run, and advice.
    pub warnings: Vec<String>,
    /// The databases the policy covers.
    pub databases: Vec<String>,
}

fn kms_error<E, R>(e: &aws_sdk_kms::error::SdkError<E, R>) -> (Option<String>, String)
where
    E: aws_sdk_kms::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match e {
        aws_sdk_kms::error::SdkError::ServiceError(s) => (
            s.err().code().map(str::to_string),
            format!(
                "{}: {}",
                s.err().code().unwrap_or("Unknown"),
                s.err().message().unwrap_or_default()
            ),
        ),
        other => (
            None,
            aws_sdk_kms::error::DisplayErrorContext(other)
                .to_string()
                .chars()
                .take(300)
                .collect(),
        ),
    }
}

pub async fn run_checks(aws: &Aws, policy: &RuntimePolicy) -> CheckReport {
    let mut report = CheckReport::default();
    match policy.role {
        Role::Source => check_source(aws, policy, &mut report).await,
        Role::Destination => check_destination(aws, policy, &mut report).await,
    }
    report
}

async fn check_source(aws: &Aws, policy: &RuntimePolicy, report: &mut CheckReport) {
    let region = &policy.source_region;
    let databases = match list_databases(aws, region, &policy.selector).await {
        Ok(d) => d,
        Err(e) => {
            report
                .warnings
                .push(format!("could not list the databases in {region}: {e}"));
            return;
        }
    };
    let targets: Vec<&Database> = covered_databases(&policy.selector, &databases)
        .into_iter()
        .filter_map(|c| c.database)
        .collect();
    report.databases = targets.iter().map(|d| d.id.clone()).collect();
    if targets.is_empty() {
        report.failures.push(match &policy.selector {
            Selector::Instance(id) => format!("DB instance {id} does not exist in {region}"),
            Selector::Cluster(id) => format!("DB cluster {id} does not exist in {region}"),
            Selector::Pattern(re) => format!(
                "no DB instance or cluster in {region} matches InstanceNamePattern {:?}",
                re.as_str()
            ),
        });
        return;
    }
    if policy.share_enabled {
        for db in &targets {
            check_shareable(aws, policy, db, report).await;
        }
    }
    check_quota(aws, policy, targets.len(), report).await;
}

async fn check_shareable(
    aws: &Aws,
    policy: &RuntimePolicy,
    db: &Database,
    report: &mut CheckReport,
) {
    let noun = db.kind.noun();
    let Some(key) = db.kms_key_id.as_deref().filter(|_| db.encrypted) else {
        report.warnings.push(format!(
            "{noun} {} is not encrypted: its snapshots are shared unencrypted",
            db.id
        ));
        return;
    };
    let kms = aws.kms(&policy.source_region);
    match kms.describe_key().key_id(key).send().await {
        Ok(r) => {
            if r.key_metadata().and_then(|m| m.key_manager()) == Some(&KeyManagerType::Aws) {
                report.failures.push(format!(
                    "{noun} {} is encrypted with the AWS-managed key {key}; AWS does not allow sharing snapshots encrypted with it, so the DR account(s) {} could never copy them. Encrypt the database with a customer-managed key whose policy lets those accounts use it",
                    db.id,
                    policy.accounts.join(", ")
                ));
                return;
            }
        }
        Err(e) => {
            let (_, text) = kms_error(&e);
            report.warnings.push(format!(
                "could not describe key {key} of {noun} {}: {text}",
                db.id
            ));
            return;
        }
    }
    match kms
        .get_key_policy()
        .key_id(key)
        .policy_name("default")
        .send()
        .await
    {
        Ok(r) => match KeyPolicy::parse(r.policy().unwrap_or("{}")) {
            Err(e) => report
                .warnings
                .push(format!("could not read the policy of key {key}: {e}")),
            Ok(key_policy) => {
                for account in &policy.accounts {
                    let missing = key_policy.missing_actions(account);
                    if !missing.is_empty() {
                        report.failures.push(format!(
                            "the key policy of {key} (encrypting {noun} {}) does not let account {account} use {}: add a statement allowing arn:aws:iam::{account}:root kms:DescribeKey, kms:CreateGrant and kms:Decrypt",
                            db.id,
                            missing.join(", ")
                        ));
                    }
                }
            }
        },
        Err(e) => {
            let (_, text) = kms_error(&e);
            report.warnings.push(format!(
                "could not read the policy of key {key} of {noun} {}: {text}",
                db.id
            ));
        }
    }
}

/// Manual snapshots a source policy keeps per database at most: one per interval over the
/// retention, plus the one being taken.
pub fn snapshots_needed(policy: &RuntimePolicy, databases: usize) -> i64 {
    let per_db = (policy.retention.num_hours() / policy.backup_interval.num_hours().max(1)) + 1;
    per_db.max(policy.keep_latest as i64) * databases as i64
}

async fn check_quota(
    aws: &Aws,
    policy: &RuntimePolicy,
    databases: usize,
    report: &mut CheckReport,
) {
    let region = &policy.source_region;
    let result = aws.rds(region).describe_account_attributes().send().await;
    let quota = match result {
        Ok(r) => r
            .account_quotas()
            .iter()
            .find(|q| q.account_quota_name() == Some("ManualSnapshots"))
            .map(|q| (q.used().unwrap_or(0), q.max().unwrap_or(0))),
        Err(e) => {
            report.warnings.push(format!(
                "could not read the manual snapshot quota in {region}: {}",
                crate::aws::classify(e, "DescribeAccountAttributes")
            ));
            return;
        }
    };
    let Some((used, max)) = quota else {
        report.warnings.push(format!(
            "the manual snapshot quota of {region} was not reported"
        ));
        return;
    };
    let needed = snapshots_needed(policy, databases);
    if used + needed > max {
        report.failures.push(format!(
            "this policy keeps up to {needed} manual snapshots ({databases} database(s) × (RetentionDays × 24 / BackupInterval + 1)), and {used} of the {max} allowed in {region} are used: raise the ManualSnapshots quota (Service Quotas) or lower RetentionDays or raise BackupInterval"
        ));
    }
}

async fn check_destination(aws: &Aws, policy: &RuntimePolicy, report: &mut CheckReport) {
    if let Selector::Instance(id) | Selector::Cluster(id) = &policy.selector {
        report.databases.push(id.clone());
    }
    let mut keys = Vec::new();
    if let Some(k) = &policy.kms_key_destination {
        keys.push((
            "KmsKeyDestination",
            k.clone(),
            policy.destination_region.clone(),
        ));
    }
    if let Some(k) = &policy.kms_key_source {
        keys.push(("KmsKeySource", k.clone(), policy.source_region.clone()));
    }
    for (property, key, region) in keys {
        match aws.kms(&region).describe_key().key_id(&key).send().await {
            Ok(r) => {
                let state = r.key_metadata().and_then(|m| m.key_state()).cloned();
                if state.as_ref().is_some_and(|s| *s != KeyState::Enabled) {
                    report.failures.push(format!("{property} {key} in {region} is {}, not Enabled: copies cannot be encrypted with it", state.map(|s| s.as_str().to_string()).unwrap_or_default()));
                }
            }
            Err(e) => match kms_error(&e) {
                (Some(code), text) if code == "NotFoundException" => {
                    report.failures.push(format!(
                        "{property} {key} does not exist in {region}: {text}"
                    ));
                }
                (_, text) => report.warnings.push(format!(
                    "could not check {property} {key} in {region}: {text}"
                )),
            },
        }
    }
    let region = &policy.destination_region;
    match aws.rds(region).describe_account_attributes().send().await {
        Ok(r) => {
            if let Some(q) = r
                .account_quotas()
                .iter()
                .find(|q| q.account_quota_name() == Some("ManualSnapshots"))
            {
                let (used, max) = (q.used().unwrap_or(0), q.max().unwrap_or(0));
                if max > 0 && used * 10 >= max * 9 {
                    report.warnings.push(format!("{used} of the {max} manual snapshots allowed in {region} are used: copies will fail when the quota is reached"));
                }
            }
        }
        Err(e) => report.warnings.push(format!(
            "could not read the manual snapshot quota in {region}: {}",
            crate::aws::classify(e, "DescribeAccountAttributes")
        )),
    }
}
