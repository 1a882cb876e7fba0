//! The RPO forecast (issue 28): the declared worst case (`rpo::worst_case`) with its copy terms
//! replaced by what the DR account measures, so that an alarm fires *before* a recovery point
//! is late when copies slow down. Pure: the copy run and `status` pass what they listed.
//!
//! Each delivered copy splits its delivery lag in two: the wait before the copy started
//! (snapshot creation, share, sweeps, a free slot among AWS's copies in flight) and the copy
//! itself (its `SnapshotCreateTime`, "when the snapshot was copied", to first seen available).
//! The forecast takes their p95 over the copies delivered in the last `WINDOW_HOURS`, raised to
//! what is already under way: a copy in flight for 40 minutes takes at least 40, a shared
//! snapshot waiting 30 minutes for its copy waits at least 30.
//!
//! The copy's duration is measured only (`ExpectedCopyMinutes` is a guess until then). The wait
//! keeps its declared worst case as a floor: its sweep terms are bounds that an event removes
//! only when it arrives, and a lost event puts them back. That floor is also the forecast's lead
//! on a stalled copy: the forecast passes RpoMinutes when the copy has run for RpoMinutes −
//! spacing − declared wait, the recovery point when it has run for RpoMinutes − spacing − the
//! real wait (about 11 minutes later with events at the defaults).

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use rds_snapshot_policy_core::Role;
use rds_snapshot_policy_core::contract::MetricDatum;
use rds_snapshot_policy_core::contract::metrics;
use rds_snapshot_policy_core::rpo::WorstCase;
use serde::Serialize;

use crate::error::ErrorName;
use crate::inventory::{Inventory, Snapshot, tags};
use crate::plan::Note;
use crate::policy::RuntimePolicy;

/// The copies a forecast measures: those delivered in the last day.
pub const WINDOW_HOURS: i64 = 24;
/// The percentile of the measured terms.
pub const PERCENTILE: usize = 95;

pub const SPACING: &str = "snapshot spacing";
pub const WAIT: &str = "wait before the copy";
pub const COPY: &str = "copy duration";

/// One term: what the policy declares, what was measured, and what the forecast uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ForecastTerm {
    pub name: &'static str,
    pub declared: i64,
    /// The p95 of the window's copies, raised to what is under way; `None`: nothing measured.
    pub measured: Option<i64>,
    pub minutes: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Forecast {
    pub minutes: i64,
    pub rpo_minutes: i64,
    /// Copies delivered in the window (the p95's samples).
    pub samples: usize,
    pub terms: Vec<ForecastTerm>,
}

/// One delivered copy's two measured terms, in minutes: (wait before the copy, copy).
fn measured(copy: &Snapshot) -> Option<(DateTime<Utc>, i64, i64)> {
    let delivered = DateTime::parse_from_rfc3339(copy.tag(tags::DELIVERED)?)
        .ok()?
        .with_timezone(&Utc);
    let started = copy.created?;
    let point = copy.recovery_point()?;
    Some((
        delivered,
        (started - point).num_minutes().max(0),
        (delivered - started).num_minutes().max(0),
    ))
}

/// The nearest-rank percentile of `values` (sorted in place); `None` when empty.
pub fn percentile(values: &mut [i64], p: usize) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let rank = (values.len() * p).div_ceil(100).max(1);
    Some(values[rank - 1])
}

/// The forecast for a destination policy whose declared worst case is `worst`, from its
/// `copies` (any status) and the recovery points of the shared snapshots still waiting for a
/// copy (`waiting`); `None` for a formula without the copy terms (a source policy).
pub fn forecast(
    worst: &WorstCase,
    copies: &[Snapshot],
    waiting: &[DateTime<Utc>],
    now: DateTime<Utc>,
) -> Option<Forecast> {
    let spacing = worst.terms.iter().find(|t| t.name == SPACING)?.minutes;
    let copy_declared = worst.terms.iter().find(|t| t.name == COPY)?.minutes;
    let wait_declared = worst.minutes() - spacing - copy_declared;
    let since = now - Duration::hours(WINDOW_HOURS);
    let (mut waits, mut durations) = (Vec::new(), Vec::new());
    for (_, wait, copy) in copies
        .iter()
        .filter(|c| c.tag(tags::COPIED_BY) == Some(tags::TOOL))
        .filter_map(measured)
        .filter(|(delivered, _, _)| *delivered >= since)
    {
        waits.push(wait);
        durations.push(copy);
    }
    let samples = waits.len();
    let in_flight = copies
        .iter()
        .filter(|c| c.tag(tags::COPIED_BY) == Some(tags::TOOL) && !c.is_available())
        .filter(|c| !c.is_failed())
        .filter_map(|c| c.created)
        .map(|started| (now - started).num_minutes())
        .max();
    let waiting = waiting.iter().map(|p| (now - *p).num_minutes()).max();
    let term = |name, declared: i64, p95: Option<i64>, under_way: Option<i64>, floor: bool| {
        let measured = match (p95, under_way) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let minutes = match measured {
            Some(m) if floor => m.max(declared),
            Some(m) => m,
            None => declared,
        };
        ForecastTerm {
            name,
            declared,
            measured,
            minutes,
        }
    };
    let terms = vec![
        term(SPACING, spacing, None, None, false),
        term(
            WAIT,
            wait_declared,
            percentile(&mut waits, PERCENTILE),
            waiting,
            true,
        ),
        term(
            COPY,
            copy_declared,
            percentile(&mut durations, PERCENTILE),
            in_flight,
            false,
        ),
    ];
    Some(Forecast {
        minutes: terms.iter().map(|t| t.minutes).sum(),
        rpo_minutes: worst.rpo_minutes,
        samples,
        terms,
    })
}

/// A destination policy's forecast from its copy run's inventory and plan (whose `pending`
/// names the shared snapshots waiting for a slot among the copies in flight); `None` for a
/// source policy.
pub fn of_policy(
    policy: &RuntimePolicy,
    inventory: &Inventory,
    pending: &[Note],
    now: DateTime<Utc>,
) -> Option<Forecast> {
    if policy.role() != Role::Destination {
        return None;
    }
    let copies: Vec<Snapshot> = inventory
        .snapshots
        .iter()
        .filter(|s| policy.is_tagged(s))
        .cloned()
        .collect();
    forecast(
        &policy.worst_case()?,
        &copies,
        &waiting_for_a_slot(&inventory.sources, pending),
        now,
    )
}

/// The recovery points of the shared snapshots the plan left pending because AWS's copies in
/// flight were at their limit: data whose copy has not started for want of a slot. (Other
/// snapshots the plan does not copy, for whatever reason, are not waiting.)
pub fn waiting_for_a_slot(sources: &[Snapshot], pending: &[Note]) -> Vec<DateTime<Utc>> {
    let limit = ErrorName::CopyLimitReached.name();
    let subjects: BTreeSet<&str> = pending
        .iter()
        .filter(|n| n.reason.starts_with(limit))
        .map(|n| n.subject.as_str())
        .collect();
    sources
        .iter()
        .filter(|s| subjects.contains(s.id.as_str()) || subjects.contains(s.arn.as_str()))
        .filter_map(Snapshot::recovery_point)
        .collect()
}

/// `RpoForecastMinutes` for the policy's forecast alarm.
pub fn metric_datum(policy_id: &str, forecast: &Forecast) -> MetricDatum {
    MetricDatum::of_policy(metrics::RPO_FORECAST, policy_id, forecast.minutes as f64)
}

impl Forecast {
    pub fn is_met(&self) -> bool {
        self.minutes <= self.rpo_minutes
    }

    /// The term that grew most past its declared value.
    pub fn grown(&self) -> Option<&ForecastTerm> {
        self.terms
            .iter()
            .filter(|t| t.minutes > t.declared)
            .max_by_key(|t| t.minutes - t.declared)
    }

    /// `forecast 71 minutes of RpoMinutes 60: snapshot spacing 30 + wait … 27 (declared 26) + …`.
    pub fn describe(&self) -> String {
        let terms = self
            .terms
            .iter()
            .map(|t| match t.measured {
                Some(m) => format!(
                    "{} {} (measured {m}, declared {})",
                    t.name, t.minutes, t.declared
                ),
                None => format!("{} {}", t.name, t.minutes),
            })
            .collect::<Vec<_>>()
            .join(" + ");
        let grown = self
            .grown()
            .map(|t| format!("; {} grew by {} minutes", t.name, t.minutes - t.declared))
            .unwrap_or_default();
        format!(
            "forecast {} minutes of RpoMinutes {} ({terms}; p{PERCENTILE} of {} copies in {WINDOW_HOURS} h and those under way){grown}",
            self.minutes, self.rpo_minutes, self.samples
        )
    }
}

#[cfg(test)]
#[path = "forecast_tests.rs"]
mod tests;
