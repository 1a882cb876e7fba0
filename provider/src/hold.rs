//! The incident hold, end to end: a delete task of a held policy deletes nothing. A task sent
//! by the delete machine's incident states (a tamper event, an incident alarm) places the hold
//! first; an operator's `release` (`cli/hold_cmd.rs`) is the only way it is lifted.

use rds_snapshot_policy_core::contract::{MetricDatum, Note, Summary, metrics};

use crate::aws::{Aws, hold};
use crate::error::ProviderError;
use crate::plan::Action;
use crate::plan::hold::hold_value;
use crate::policy::RuntimePolicy;

/// The `DeletesHeld` datum of a delete run.
pub fn deletes_held_metric(policy: &RuntimePolicy, held: bool) -> MetricDatum {
    MetricDatum::of_policy(
        metrics::DELETES_HELD,
        &policy.id,
        if held { 1.0 } else { 0.0 },
    )
}

/// For a delete task of `machine`: places the hold when the task asks (`requested`, the
/// incident's reason; an existing hold keeps its first time), then, if the policy is held,
/// the run's summary (nothing deleted). `None`: not held, delete as usual.
pub async fn held_run(
    aws: &Aws,
    region: &str,
    machine: &str,
    requested: Option<&str>,
    policy: &RuntimePolicy,
) -> Result<Option<Summary>, ProviderError> {
    let mut current = hold::read_hold(aws, region, machine).await?;
    if let (None, Some(reason)) = (&current, requested) {
        let value = hold_value(aws.now(), reason);
        hold::place_hold(aws, region, machine, &value).await?;
        tracing::warn!(policy = %policy.id, %machine, hold = %value, "deletes held: an incident");
        current = Some(value);
    }
    let Some(value) = current else {
        return Ok(None);
    };
    tracing::warn!(policy = %policy.id, %machine, hold = %value, "deletes held: nothing deleted");
    let mut summary = crate::drill::empty_summary(Action::Delete, policy, aws.now());
    summary.skipped.push(Note {
        subject: policy.id.clone(),
        reason: format!(
            "deletes held since {value}: nothing deleted; an operator lifts the hold with `rds-snapshot-policy release --stack <the policy's stack>` (README, Incident hold)"
        ),
    });
    summary.metric_data.push(deletes_held_metric(policy, true));
    Ok(Some(summary))
}
