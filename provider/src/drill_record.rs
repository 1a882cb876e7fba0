//! Durable drill records (issue 26): what each restore of a drill showed, written as one JSON
//! log event into the policy's drill-record log group, which snapshot retention never touches.
//! Pure: building records, reading them back (as untrusted text), the drill's age.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use rds_snapshot_policy_core::contract::{DrillRun, Kind, drill_records};
use serde::{Deserialize, Serialize};

use crate::inventory::Inventory;
use crate::policy::RuntimePolicy;

/// One restore of one drill, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DrillRecord {
    pub policy: String,
    /// `<source account>/<database>` (the DR policy's key).
    pub database: String,
    pub kind: Kind,
    /// `passed`, `rto-missed`, `failed` (or `watching`, the sweep's first look).
    pub outcome: String,
    /// Requested → available (→ validated), when the restore became available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_minutes: Option<i64>,
    pub rto_minutes: u64,
    /// When the validation function passed it (RFC 3339), if one is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validated: Option<String>,
    /// The DR copy restored and its ARN.
    pub copy: String,
    pub copy_arn: String,
    /// The recovery point the copy holds (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_point: Option<String>,
    pub requested: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available: Option<String>,
    /// When the record was written (RFC 3339).
    pub recorded: String,
    /// A retired database's record: until when its final copy is kept (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_until: Option<String>,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The records of a drill run: `finished` true for the finish step (each restore passed or
/// missed RtoMinutes), false for the cleanup after a failure (each restore `failed`).
/// `recovery_points` maps a copy's ARN to its recovery point.
pub fn records_of(
    policy: &RuntimePolicy,
    run: &DrillRun,
    finished: bool,
    recovery_point: impl Fn(&str) -> Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Vec<DrillRecord> {
    let rto = policy.spec.rto();
    run.restores
        .iter()
        .map(|r| {
            let outcome = match (finished, r.minutes) {
                (true, Some(m)) if m <= rto as i64 => drill_records::PASSED,
                (true, Some(_)) => drill_records::RTO_MISSED,
                _ => drill_records::FAILED,
            };
            DrillRecord {
                policy: policy.id.clone(),
                database: r.database.clone(),
                kind: r.kind,
                outcome: outcome.to_string(),
                restore_minutes: r.minutes.filter(|_| finished),
                rto_minutes: rto,
                validated: r.validated.clone(),
                copy: r.snapshot.clone(),
                copy_arn: r.snapshot_arn.clone(),
                recovery_point: recovery_point(&r.snapshot_arn).map(rfc3339),
                requested: r.requested.clone(),
                available: r.available.clone(),
                recorded: rfc3339(now),
                kept_until: None,
            }
        })
        .collect()
}

/// The sweep's record in an empty log group: the drill's age counts from `now`.
pub fn watching(policy: &RuntimePolicy, now: DateTime<Utc>) -> DrillRecord {
    DrillRecord {
        policy: policy.id.clone(),
        database: String::new(),
        kind: Kind::Instance,
        outcome: drill_records::WATCHING.to_string(),
        restore_minutes: None,
        rto_minutes: policy.spec.rto(),
        validated: None,
        copy: String::new(),
        copy_arn: String::new(),
        recovery_point: None,
        requested: rfc3339(now),
        available: None,
        recorded: rfc3339(now),
        kept_until: None,
    }
}

/// A drill run's record of each retired database (RetiredDatabases) with a copy: its newest
/// copy, the recovery point it holds and until when it is kept, so the evidence says why the
/// database was not restored.
pub fn retired_records(
    policy: &RuntimePolicy,
    inventory: &Inventory,
    now: DateTime<Utc>,
) -> Vec<DrillRecord> {
    crate::plan::newest_by_database(
        policy,
        inventory.snapshots.iter().filter(|s| {
            s.is_available() && policy.is_copy(s) && policy.is_retired(&policy.database_key(s))
        }),
    )
    .into_iter()
    .map(|(database, copy)| {
        let point = copy.recovery_point();
        DrillRecord {
            policy: policy.id.clone(),
            database,
            kind: copy.kind,
            outcome: drill_records::RETIRED.to_string(),
            restore_minutes: None,
            rto_minutes: policy.spec.rto(),
            validated: None,
            copy: copy.id.clone(),
            copy_arn: copy.arn.clone(),
            recovery_point: point.map(rfc3339),
            requested: rfc3339(now),
            available: None,
            recorded: rfc3339(now),
            kept_until: point.map(|p| rfc3339(p + policy.spec.retired_keep())),
        }
    })
    .collect()
}

/// A log event's message as this policy's record; anything else (another policy's, malformed,
/// written by hand) is not evidence and is left out.
pub fn parse_record(policy: &RuntimePolicy, message: &str) -> Option<DrillRecord> {
    let record: DrillRecord = serde_json::from_str(message).ok()?;
    let known = [
        drill_records::PASSED,
        drill_records::RTO_MISSED,
        drill_records::FAILED,
        drill_records::WATCHING,
        drill_records::RETIRED,
    ];
    (record.policy == policy.id && known.contains(&record.outcome.as_str())).then_some(record)
}

/// How far back the sweep reads records: past the overdue threshold by a day, so a drill
/// overdue by less than a day is still measured exactly.
pub fn lookback(policy: &RuntimePolicy) -> Duration {
    Duration::hours(policy.spec.drill_overdue_hours().unwrap_or(0) as i64 + 24)
}

/// Hours since the newest finished drill (passed or slower than RtoMinutes) or the sweep's
/// `watching` mark (a `retired` record is no drill) among `records` (event time, record); `None` when there is none.
pub fn drill_age_hours(
    records: &[(DateTime<Utc>, DrillRecord)],
    now: DateTime<Utc>,
) -> Option<f64> {
    records
        .iter()
        .filter(|(_, r)| r.outcome != drill_records::FAILED && r.outcome != drill_records::RETIRED)
        .map(|(t, _)| *t)
        .max()
        .map(|t| ((now - t).num_minutes().max(0) as f64 / 60.0 * 10.0).round() / 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Snapshot, tags};
    use rds_snapshot_policy_core::contract::DrillRestore;
    use std::collections::BTreeMap;

    fn policy() -> RuntimePolicy {
        RuntimePolicy::from_properties(
            &serde_json::json!({"Role": "Destination", "PolicyId": "dr", "SnapshotPattern": "^orders",
                "DestinationRegion": "eu-central-1", "SourceAccounts": ["111111111111"], "RtoMinutes": 60,
                "KmsKeyDestination": "arn:aws:kms:eu-central-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"}),
            "eu-west-1",
            None,
        )
        .unwrap()
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn restore(database: &str, minutes: Option<i64>) -> DrillRestore {
        DrillRestore {
            database: database.into(),
            kind: Kind::Instance,
            snapshot: format!("{database}-copy"),
            snapshot_arn: format!("arn:aws:rds:eu-central-1:222222222222:snapshot:{database}-copy"),
            identifier: "rsp-drill-x".into(),
            requested: "2026-12-06T04:00:00Z".into(),
            available: minutes.map(|_| "2026-12-06T04:40:00Z".into()),
            endpoint: None,
            validated: None,
            minutes,
        }
    }

    #[test]
    fn a_finished_drill_records_each_restore_against_the_rto() {
        let run = DrillRun {
            started: "2026-12-06T04:00:00Z".into(),
            restores: vec![
                restore("111111111111/orders", Some(40)),
                restore("111111111111/billing", Some(75)),
            ],
            ready: true,
            timed_out: false,
        };
        let point = at("2026-12-06T03:30:00Z");
        let records = records_of(
            &policy(),
            &run,
            true,
            |_| Some(point),
            at("2026-12-06T04:41:00Z"),
        );
        let outcomes: Vec<(&str, &str, Option<i64>)> = records
            .iter()
            .map(|r| (r.database.as_str(), r.outcome.as_str(), r.restore_minutes))
            .collect();
        assert_eq!(
            outcomes,
            [
                ("111111111111/orders", drill_records::PASSED, Some(40)),
                ("111111111111/billing", drill_records::RTO_MISSED, Some(75)),
            ]
        );
        assert_eq!(
            records[0].recovery_point.as_deref(),
            Some("2026-12-06T03:30:00Z")
        );
        assert_eq!(records[0].copy, "111111111111/orders-copy");
        // A failed drill is recorded as failed, whatever minutes its input carried.
        let failed = records_of(&policy(), &run, false, |_| None, at("2026-12-06T05:00:00Z"));
        assert!(
            failed
                .iter()
                .all(|r| r.outcome == drill_records::FAILED && r.restore_minutes.is_none())
        );
    }

    #[test]
    fn only_this_policys_well_formed_records_are_evidence() {
        let run = DrillRun {
            started: "2026-12-06T04:00:00Z".into(),
            restores: vec![restore("111111111111/orders", Some(40))],
            ready: true,
            timed_out: false,
        };
        let record = &records_of(&policy(), &run, true, |_| None, at("2026-12-06T04:41:00Z"))[0];
        let text = serde_json::to_string(record).unwrap();
        assert_eq!(parse_record(&policy(), &text).as_ref(), Some(record));
        let other = text.replace("\"policy\":\"dr\"", "\"policy\":\"other\"");
        assert_eq!(parse_record(&policy(), &other), None);
        let invented = text.replace(drill_records::PASSED, "excellent");
        assert_eq!(parse_record(&policy(), &invented), None);
        assert_eq!(parse_record(&policy(), "START RequestId: 1"), None);
    }

    #[test]
    fn the_drill_age_counts_from_the_last_finished_drill_not_a_failed_one() {
        let run = DrillRun {
            started: "2026-12-06T04:00:00Z".into(),
            restores: vec![restore("111111111111/orders", Some(40))],
            ready: true,
            timed_out: false,
        };
        let now = at("2026-12-13T10:00:00Z");
        let passed = records_of(&policy(), &run, true, |_| None, now).remove(0);
        let failed = records_of(&policy(), &run, false, |_| None, now).remove(0);
        let records = vec![
            (at("2026-12-06T04:41:00Z"), passed),
            (at("2026-12-13T04:30:00Z"), failed),
        ];
        // 7 days 5 h 19 min since the passed drill; the failed one a week later does not count.
        assert_eq!(drill_age_hours(&records, now), Some(173.3));
        assert_eq!(drill_age_hours(&records[1..], now), None);
        let mark = vec![(at("2026-12-13T09:00:00Z"), watching(&policy(), now))];
        assert_eq!(drill_age_hours(&mark, now), Some(1.0));
        // Weekly drills, RtoMinutes 60: overdue after 168 + 1 + 1 hours; read 24 more.
        assert_eq!(policy().spec.drill_overdue_hours(), Some(170));
        assert_eq!(lookback(&policy()), Duration::hours(194));
    }

    #[test]
    fn each_drill_run_records_a_retired_database_with_its_final_copy_and_is_no_drill() {
        let mut policy = policy();
        policy.spec.retired_databases = Some(vec!["orders-old".into()]);
        policy.spec.retired_keep_days = Some(30);
        let copy = |id: &str, db: &str, taken: &str| {
            let mut tags: BTreeMap<String, String> = [
                (tags::POLICY, "dr"),
                (tags::COPIED_BY, tags::TOOL),
                (tags::DATABASE, db),
                (tags::RECOVERY_POINT, taken),
                (
                    tags::SOURCE_ARN,
                    "arn:aws:rds:eu-west-1:111111111111:snapshot:x",
                ),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            tags.insert(tags::DATABASE.into(), db.into());
            Snapshot {
                created: Some(at(taken)),
                original_created: Some(at(taken)),
                tags,
                ..Snapshot::manual(
                    Kind::Instance,
                    id,
                    format!("arn:aws:rds:eu-central-1:222222222222:snapshot:{id}"),
                    db,
                )
            }
        };
        let inventory = Inventory {
            snapshots: vec![
                copy("orders-old-1", "orders-old", "2026-11-01T04:00:00Z"),
                copy("orders-old-2", "orders-old", "2026-11-02T04:00:00Z"),
                copy("orders-live-1", "orders-live", "2026-12-06T03:00:00Z"),
            ],
            ..Inventory::default()
        };
        let now = at("2026-12-06T04:00:00Z");
        let records = retired_records(&policy, &inventory, now);
        assert_eq!(records.len(), 1, "{records:?}");
        let r = &records[0];
        assert_eq!(
            (r.database.as_str(), r.outcome.as_str(), r.copy.as_str()),
            (
                "111111111111/orders-old",
                drill_records::RETIRED,
                "orders-old-2"
            )
        );
        assert_eq!(r.recovery_point.as_deref(), Some("2026-11-02T04:00:00Z"));
        assert_eq!(r.kept_until.as_deref(), Some("2026-12-02T04:00:00Z"));
        // It is evidence (read back), but not a drill: the drill's age ignores it.
        let text = serde_json::to_string(r).unwrap();
        assert_eq!(parse_record(&policy, &text).as_ref(), Some(r));
        assert_eq!(drill_age_hours(&[(now, r.clone())], now), None);
    }
}
