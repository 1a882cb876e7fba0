//! The policy's drill-record log group: writing records, reading them back for a period.

use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use chrono::{DateTime, TimeZone, Utc};
use rds_snapshot_policy_core::contract::drill_records;

use super::{Aws, Finished, classify};
use crate::drill_record::{DrillRecord, parse_record};
use crate::error::ProviderError;
use crate::policy::RuntimePolicy;

/// FilterLogEvents pages read at most (10,000 events each at most): years of weekly drills.
const MAX_PAGES: usize = 50;

fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// Appends `records` to the policy's log group in the DR region, in today's (UTC) stream.
pub async fn write(
    aws: &Aws,
    policy: &RuntimePolicy,
    records: &[DrillRecord],
) -> Result<(), ProviderError> {
    if records.is_empty() {
        return Ok(());
    }
    let group = drill_records::log_group(&policy.id);
    let logs = aws.logs(&policy.destination_region);
    let now = aws.now();
    let stream = now.format(drill_records::STREAM_DATE_FORMAT).to_string();
    let context = format!(
        "writing the drill records of policy {} to {group}",
        policy.id
    );
    if let Err(e) = logs
        .create_log_stream()
        .log_group_name(&group)
        .log_stream_name(&stream)
        .send()
        .await
    {
        let exists = e
            .as_service_error()
            .is_some_and(|s| s.is_resource_already_exists_exception());
        if !exists {
            return Err(classify(e, &context));
        }
    }
    let events = records
        .iter()
        .map(|r| {
            let message = serde_json::to_string(r).unwrap_or_default();
            InputLogEvent::builder()
                .timestamp(millis(now))
                .message(message)
                .build()
                .map_err(|e| {
                    ProviderError::new(crate::error::ErrorName::InputInvalid, e.to_string())
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    logs.put_log_events()
        .log_group_name(&group)
        .log_stream_name(&stream)
        .set_log_events(Some(events))
        .send()
        .await
        .finished(&context)?;
    for r in records {
        tracing::info!(policy = %policy.id, database = %r.database, outcome = %r.outcome, snapshot = %r.copy, log_group = %group, "drill recorded");
    }
    Ok(())
}

/// The policy's records dated between `from` and `to` (open ends: none), each with its
/// ingestion time (AWS's clock, which a writer cannot back-date), oldest first. `limit`: stop
/// after that many events.
pub async fn read(
    aws: &Aws,
    policy: &RuntimePolicy,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    limit: Option<i32>,
) -> Result<Vec<(DateTime<Utc>, DrillRecord)>, ProviderError> {
    let group = drill_records::log_group(&policy.id);
    let logs = aws.logs(&policy.destination_region);
    let context = format!(
        "reading the drill records of policy {} from {group}",
        policy.id
    );
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let page = logs
            .filter_log_events()
            .log_group_name(&group)
            .set_start_time(from.map(millis))
            .set_end_time(to.map(millis))
            .set_limit(limit)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| classify(e, &context))?;
        for event in page.events() {
            let at = event
                .ingestion_time()
                .or(event.timestamp())
                .and_then(|ms| Utc.timestamp_millis_opt(ms).single());
            if let (Some(at), Some(record)) =
                (at, event.message().and_then(|m| parse_record(policy, m)))
            {
                out.push((at, record));
            }
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() || limit.is_some_and(|l| out.len() >= l as usize) {
            break;
        }
    }
    out.sort_by_key(|a| a.0);
    Ok(out)
}

/// Whether the log group holds any event at all (any age).
pub async fn any(aws: &Aws, policy: &RuntimePolicy) -> Result<bool, ProviderError> {
    let group = drill_records::log_group(&policy.id);
    aws.logs(&policy.destination_region)
        .filter_log_events()
        .log_group_name(&group)
        .limit(1)
        .send()
        .await
        .map(|page| !page.events().is_empty())
        .map_err(|e| {
            classify(
                e,
                &format!(
                    "reading the drill records of policy {} from {group}",
                    policy.id
                ),
            )
        })
}
