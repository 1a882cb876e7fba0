//! Applies a plan with one AWS call per operation (two for a share: the attribute and its tag).

use std::time::Duration;

use serde::Serialize;

use super::Aws;
use super::snapshot_api::{SnapshotApi, WriteResult};
use crate::error::{ErrorName, ProviderError};
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
    /// Operations were not started because the deadline was near.
    pub stopped_by_deadline: bool,
}

pub use rds_snapshot_policy_core::contract::Failure;

enum Outcome {
    Done,
    /// The work was already done by someone else (a concurrent run): not an error.
    AlreadyDone(String),
}

/// Operations applied at once by default. RDS throttles its control-plane API per account and
/// region with a token bucket (a burst of 300 requests, 12 a second sustained): eight in flight
/// spend a burst at full speed (a first share of 150 snapshots) and past it the SDK's adaptive
/// retry slows the client to the refill rate, so more in flight would only meet the limiter
/// sooner and take more of the account's shared bucket.
pub const PARALLELISM: usize = 8;
/// The most operations `RSP_PARALLELISM` may set at once.
pub const MAX_PARALLELISM: usize = 16;

/// `RSP_PARALLELISM` (1 to 16) when set to a valid number, else `PARALLELISM`.
pub fn parallelism() -> usize {
    std::env::var(rds_snapshot_policy_core::contract::provider_env::PARALLELISM)
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| (1..=MAX_PARALLELISM).contains(n))
        .unwrap_or(PARALLELISM)
}
/// No operation starts when less than this is left before the invocation's deadline: one
/// operation takes well under a second, and the answer must still reach Step Functions.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(120);

/// The pending reason of operations left for the next run near the deadline.
pub fn deadline_reason(margin: Duration) -> String {
    format!(
        "not started: less than {} s were left before the invocation's deadline; the next run continues (it plans again from what exists)",
        margin.as_secs()
    )
}

/// Applies `plan`, `parallelism()` operations at a time, in the plan's order. Copies stop at the
/// first copy-limit refusal; the rest become pending. Near `aws`'s deadline nothing new starts:
/// the rest become pending.
pub async fn apply(aws: &Aws, policy: &RuntimePolicy, plan: &Plan) -> Applied {
    let mut applied = Applied::default();
    let mut copy_limit_hit = false;
    let mut results: Vec<(usize, Result<Outcome, ProviderError>)> = Vec::new();
    let mut running = tokio::task::JoinSet::new();
    let mut next = 0;
    let margin = aws.deadline_margin();
    let parallelism = parallelism();
    // Shared by the spawned operations: one copy of the policy, not one per step.
    let shared = std::sync::Arc::new(policy.clone());
    loop {
        while running.len() < parallelism && next < plan.steps.len() {
            let step = &plan.steps[next];
            let index = next;
            next += 1;
            if copy_limit_hit
                && matches!(
                    step.operation,
                    Operation::Copy { .. } | Operation::StageCopy { .. }
                )
            {
                applied.pending.push(Note {
                    subject: step.subject.clone(),
                    reason: "CopyLimitReached: AWS refused an earlier copy of this run; copied on a later run".into(),
                });
                continue;
            }
            if aws.time_left().is_some_and(|left| left < margin) {
                applied.stopped_by_deadline = true;
                applied.pending.push(Note {
                    subject: step.subject.clone(),
                    reason: deadline_reason(margin),
                });
                continue;
            }
            let (aws, policy, step) = (aws.clone(), shared.clone(), step.clone());
            running.spawn(async move { (index, apply_step(&aws, &policy, &step).await) });
        }
        let Some(finished) = running.join_next().await else {
            break;
        };
        match finished {
            Ok((index, result)) => {
                if matches!(&result, Err(e) if e.kind == ErrorName::CopyLimitReached) {
                    copy_limit_hit = true;
                }
                results.push((index, result));
            }
            Err(join) => {
                tracing::error!(policy = %policy.id, error = %join, "an operation panicked")
            }
        }
    }
    // Report in the plan's order, whatever order the operations finished in.
    results.sort_by_key(|(index, _)| *index);
    for (index, result) in results {
        let step = &plan.steps[index];
        match result {
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
            let api = SnapshotApi {
                rds: aws.rds(&policy.source_region),
                kind: *kind,
            };
            let context = format!(
                "creating snapshot {snapshot_id} of {} {database}",
                kind.noun()
            );
            settle(
                api.create(database, snapshot_id, t, &context).await,
                format!("snapshot {snapshot_id} already exists (taken by a concurrent run)"),
            )
        }
        Operation::Share {
            snapshot_id,
            snapshot_arn,
            kind,
            accounts,
            revoke,
            record,
        } => {
            let api = SnapshotApi {
                rds: aws.rds(&policy.source_region),
                kind: *kind,
            };
            let mut context = format!(
                "sharing snapshot {snapshot_id} with {}",
                accounts.join(", ")
            );
            if !revoke.is_empty() {
                context.push_str(&format!(" and revoking {}", revoke.join(", ")));
            }
            api.share(snapshot_id, accounts, revoke, &context).await?;
            api.tag(
                snapshot_arn,
                record,
                &format!("recording the shares of {snapshot_id}"),
            )
            .await?;
            Ok(Outcome::Done)
        }
        Operation::Copy {
            source_arn,
            target_id,
            kind,
            kms_key_id,
            tags: t,
            option_group,
        } => {
            let region = policy.own_region();
            let copy = SnapshotCopy {
                source_arn,
                target_id,
                kms_key_id,
                option_group: option_group.as_deref(),
                tags: t,
            };
            copy_snapshot(aws, region, *kind, copy, "").await
        }
        Operation::MarkDelivered {
            snapshot_id,
            snapshot_arn,
            delivered,
            ..
        } => {
            SnapshotApi {
                rds: aws.rds(&policy.destination_region),
                kind: Kind::Instance,
            }
            .tag(
                snapshot_arn,
                &[(tags::DELIVERED.to_string(), delivered.clone())],
                &format!("recording the delivery of {snapshot_id}"),
            )
            .await?;
            Ok(Outcome::Done)
        }
        Operation::StageCopy {
            source_arn,
            target_id,
            kind,
            kms_key_id,
            tags: t,
        } => {
            let copy = SnapshotCopy {
                source_arn,
                target_id,
                kms_key_id,
                option_group: None,
                tags: t,
            };
            copy_snapshot(
                aws,
                &policy.source_region,
                *kind,
                copy,
                " (first of two steps)",
            )
            .await
        }
        Operation::DeleteStaged { snapshot_id, kind } => {
            let what = format!("first-step copy {snapshot_id} in {}", policy.source_region);
            delete_snapshot(aws, &policy.source_region, *kind, snapshot_id, &what).await
        }
        Operation::Delete { snapshot_id, kind } => {
            let what = format!("snapshot {snapshot_id}");
            delete_snapshot(aws, policy.own_region(), *kind, snapshot_id, &what).await
        }
    }
}

/// One CopyDBSnapshot / CopyDBClusterSnapshot request.
struct SnapshotCopy<'a> {
    source_arn: &'a str,
    target_id: &'a str,
    kms_key_id: &'a str,
    option_group: Option<&'a str>,
    tags: &'a [(String, String)],
}

/// Copies into `region` (`step` qualifies the context, e.g. the first of two steps); a copy
/// that already exists was made by a concurrent run.
async fn copy_snapshot(
    aws: &Aws,
    region: &str,
    kind: Kind,
    copy: SnapshotCopy<'_>,
    step: &str,
) -> Result<Outcome, ProviderError> {
    let SnapshotCopy {
        source_arn,
        target_id,
        kms_key_id,
        option_group,
        tags,
    } = copy;
    let api = SnapshotApi {
        rds: aws.rds(region),
        kind,
    };
    let context = format!("copying {source_arn} to {target_id} in {region}{step}");
    let result = api
        .copy(
            source_arn,
            target_id,
            kms_key_id,
            option_group,
            tags,
            &context,
        )
        .await
        .map_err(|e| e.map(copy_limit));
    settle(
        result,
        format!("{target_id} already exists in {region} (copied by a concurrent run)"),
    )
}

/// Deletes `snapshot_id` in `region` (`what` names it in messages); one already gone is done.
async fn delete_snapshot(
    aws: &Aws,
    region: &str,
    kind: Kind,
    snapshot_id: &str,
    what: &str,
) -> Result<Outcome, ProviderError> {
    let api = SnapshotApi {
        rds: aws.rds(region),
        kind,
    };
    settle(
        api.delete(snapshot_id, &format!("deleting {what}")).await,
        format!("{what} is already gone"),
    )
}

/// A copy refused for quota means the concurrent-copy limit (or the snapshot quota): retry later.
fn copy_limit(mut error: ProviderError) -> ProviderError {
    if error.kind == ErrorName::QuotaExceeded {
        error.kind = ErrorName::CopyLimitReached;
    }
    error
}

fn settle(result: WriteResult, already_reason: String) -> Result<Outcome, ProviderError> {
    match result {
        Ok(()) => Ok(Outcome::Done),
        Err(None) => Ok(Outcome::AlreadyDone(already_reason)),
        Err(Some(e)) => Err(e),
    }
}
