//! Applies a plan with one AWS call per operation (two for a share: the attribute and its tag).

use aws_sdk_rds::types::Tag;
use serde::Serialize;

use super::{Aws, classify, error_code};
use crate::error::{ErrorKind, ProviderError};
use crate::inventory::{Kind, tags};
use crate::plan::{Note, Operation, Plan, Step};
use crate::policy::RuntimePolicy;

/// What happened to the plan's steps.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Applied {
    pub done: Vec<Step>,
    pub skipped: Vec<Note>,
    pub pending: Vec<Note>,
    pub failed: Vec<Failure>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub subject: String,
    pub error: ErrorKind,
    pub message: String,
}

fn rds_tags(pairs: &[(String, String)]) -> Vec<Tag> {
    pairs
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

enum Outcome {
    Done,
    /// The work was already done by someone else (a concurrent run): not an error.
    AlreadyDone(String),
}

/// Applies `plan`. Copies stop at the first copy-limit refusal; the rest become pending.
pub async fn apply(aws: &Aws, policy: &RuntimePolicy, plan: &Plan) -> Applied {
    let mut applied = Applied::default();
    let mut copy_limit_hit = false;
    for step in &plan.steps {
        if copy_limit_hit && matches!(step.operation, Operation::Copy { .. }) {
            applied.pending.push(Note {
                subject: step.subject.clone(),
                reason: "CopyLimitReached: AWS refused an earlier copy of this run; copied on a later run".into(),
            });
            continue;
        }
        match apply_step(aws, policy, step).await {
            Ok(Outcome::Done) => {
                tracing::info!(policy = %policy.id, action = %plan.action, subject = %step.subject, reason = %step.reason, operation = ?step.operation, "done");
                applied.done.push(step.clone());
            }
            Ok(Outcome::AlreadyDone(reason)) => {
                tracing::info!(policy = %policy.id, action = %plan.action, subject = %step.subject, %reason, "skipped");
                applied.skipped.push(Note {
                    subject: step.subject.clone(),
                    reason,
                });
            }
            Err(error) => {
                tracing::error!(policy = %policy.id, action = %plan.action, subject = %step.subject, error = %error, "failed");
                if error.kind == ErrorKind::CopyLimitReached {
                    copy_limit_hit = true;
                }
                applied.failed.push(Failure {
                    subject: step.subject.clone(),
                    error: error.kind,
                    message: error.message,
                });
            }
        }
    }
    applied
}

async fn apply_step(
    aws: &Aws,
    policy: &RuntimePolicy,
    step: &Step,
) -> Result<Outcome, ProviderError> {
    match &step.operation {
        Operation::Create {
            database,
            kind,
            snapshot_id,
            tags: t,
        } => {
            let rds = aws.rds(&policy.source_region);
            let context = format!(
                "creating snapshot {snapshot_id} of {} {database}",
                kind.kind().noun()
            );
            let result = match kind.kind() {
                Kind::Instance => rds
                    .create_db_snapshot()
                    .db_instance_identifier(database)
                    .db_snapshot_identifier(snapshot_id)
                    .set_tags(Some(rds_tags(t)))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| already(e, &context, "DBSnapshotAlreadyExists")),
                Kind::Cluster => rds
                    .create_db_cluster_snapshot()
                    .db_cluster_identifier(database)
                    .db_cluster_snapshot_identifier(snapshot_id)
                    .set_tags(Some(rds_tags(t)))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| already(e, &context, "DBClusterSnapshotAlreadyExistsFault")),
            };
            settle(
                result,
                format!("snapshot {snapshot_id} already exists (taken by a concurrent run)"),
            )
        }
        Operation::Share {
            snapshot_id,
            snapshot_arn,
            kind,
            accounts,
            digest,
        } => {
            let rds = aws.rds(&policy.source_region);
            let context = format!(
                "sharing snapshot {snapshot_id} with {}",
                accounts.join(", ")
            );
            match kind.kind() {
                Kind::Instance => rds
                    .modify_db_snapshot_attribute()
                    .db_snapshot_identifier(snapshot_id)
                    .attribute_name("restore")
                    .set_values_to_add(Some(accounts.clone()))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| classify(e, &context))?,
                Kind::Cluster => rds
                    .modify_db_cluster_snapshot_attribute()
                    .db_cluster_snapshot_identifier(snapshot_id)
                    .attribute_name("restore")
                    .set_values_to_add(Some(accounts.clone()))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| classify(e, &context))?,
            }
            rds.add_tags_to_resource()
                .resource_name(snapshot_arn)
                .tags(Tag::builder().key(tags::SHARED_WITH).value(digest).build())
                .send()
                .await
                .map_err(|e| classify(e, &format!("tagging shared snapshot {snapshot_id}")))?;
            Ok(Outcome::Done)
        }
        Operation::Copy {
            source_arn,
            target_id,
            kind,
            kms_key_id,
            tags: t,
        } => {
            let rds = aws.rds(&policy.destination_region);
            let context = format!(
                "copying {source_arn} to {target_id} in {}",
                policy.destination_region
            );
            let result = match kind.kind() {
                Kind::Instance => rds
                    .copy_db_snapshot()
                    .source_db_snapshot_identifier(source_arn)
                    .target_db_snapshot_identifier(target_id)
                    .kms_key_id(kms_key_id)
                    .set_tags(Some(rds_tags(t)))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| copy_error(e, &context, "DBSnapshotAlreadyExists")),
                Kind::Cluster => rds
                    .copy_db_cluster_snapshot()
                    .source_db_cluster_snapshot_identifier(source_arn)
                    .target_db_cluster_snapshot_identifier(target_id)
                    .kms_key_id(kms_key_id)
                    .set_tags(Some(rds_tags(t)))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| copy_error(e, &context, "DBClusterSnapshotAlreadyExistsFault")),
            };
            settle(
                result,
                format!("{target_id} already exists (copied by a concurrent run)"),
            )
        }
        Operation::Delete { snapshot_id, kind } => {
            let region = match policy.role {
                policy_macro::Role::Source => &policy.source_region,
                policy_macro::Role::Destination => &policy.destination_region,
            };
            let rds = aws.rds(region);
            let context = format!("deleting snapshot {snapshot_id}");
            let result = match kind.kind() {
                Kind::Instance => rds
                    .delete_db_snapshot()
                    .db_snapshot_identifier(snapshot_id)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| already(e, &context, "DBSnapshotNotFound")),
                Kind::Cluster => rds
                    .delete_db_cluster_snapshot()
                    .db_cluster_snapshot_identifier(snapshot_id)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| already(e, &context, "DBClusterSnapshotNotFoundFault")),
            };
            settle(result, format!("snapshot {snapshot_id} is already gone"))
        }
    }
}

/// `Err(None)` marks "already done"; `Err(Some(e))` a real failure.
type StepResult = Result<(), Option<ProviderError>>;

fn already<E, R>(
    err: aws_sdk_rds::error::SdkError<E, R>,
    context: &str,
    done_code: &str,
) -> Option<ProviderError>
where
    E: aws_sdk_rds::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let code = error_code(&err);
    if code.as_deref() == Some(done_code)
        || code.as_deref() == Some(done_code.trim_end_matches("Fault"))
    {
        None
    } else {
        Some(classify(err, context))
    }
}

/// A copy refused for quota means the concurrent-copy limit (or the snapshot quota): retry later.
fn copy_error<E, R>(
    err: aws_sdk_rds::error::SdkError<E, R>,
    context: &str,
    done_code: &str,
) -> Option<ProviderError>
where
    E: aws_sdk_rds::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let mut error = already(err, context, done_code)?;
    if error.kind == ErrorKind::QuotaExceeded {
        error.kind = ErrorKind::CopyLimitReached;
    }
    Some(error)
}

fn settle(result: StepResult, already_reason: String) -> Result<Outcome, ProviderError> {
    match result {
        Ok(()) => Ok(Outcome::Done),
        Err(None) => Ok(Outcome::AlreadyDone(already_reason)),
        Err(Some(e)) => Err(e),
    }
}
