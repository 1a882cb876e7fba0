//! The DR region's copy slots at deploy time (issue 28): every database whose snapshots the DR
//! account copies into the region, at the minute its snapshots are taken (measured from its
//! newest copy), queued behind AWS's copies in flight. Pure: the copies are gathered with the
//! region's load (`region_load`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rds_snapshot_policy_core::contract::tags;
use rds_snapshot_policy_core::rpo::assumed_copy_spacing;
use rds_snapshot_policy_core::spread::{databases_a_region_holds, worst_copy_wait};

use super::decide::CheckReport;
use crate::inventory::{Kind, Snapshot};
use crate::plan::copy::copy_limit;
use crate::policy::RuntimePolicy;

/// The copies of one kind arriving in the region: one arrival minute (past the cadence
/// period's start) per source database, from the data time of its newest copy.
pub fn arrival_minutes(snapshots: &[Snapshot], kind: Kind, cadence: u64) -> Vec<u64> {
    let mut newest: BTreeMap<(String, String), DateTime<Utc>> = BTreeMap::new();
    for s in snapshots.iter().filter(|s| {
        s.kind == kind && s.tag(tags::COPIED_BY) == Some(tags::TOOL) && s.status == "available"
    }) {
        let Some(at) = s.retention_time() else {
            continue;
        };
        let key = (
            s.source_account().unwrap_or_default().to_string(),
            s.database_key().to_string(),
        );
        let entry = newest.entry(key).or_insert(at);
        *entry = (*entry).max(at);
    }
    let cadence = cadence.max(1) as i64;
    newest
        .values()
        .map(|at| (at.timestamp() / 60).rem_euclid(cadence) as u64)
        .collect()
}

/// Adds to `report` what the region's copy slots give a destination policy: a note of the
/// load and of how many databases the region holds, and a warning when the wait for a slot
/// takes the worst case past RpoMinutes or the region cannot keep up at all.
pub fn decide_copy_slots(
    policy: &RuntimePolicy,
    region: &str,
    snapshots: &[Snapshot],
    report: &mut CheckReport,
) {
    let (Some(cadence), Some(worst)) = (assumed_copy_spacing(&policy.spec), policy.worst_case())
    else {
        return;
    };
    let cadence = cadence.max(1) as u64;
    let copy_minutes = policy.spec.expected_copy().num_minutes().max(1) as u64;
    for kind in [Kind::Instance, Kind::Cluster] {
        let arrivals = arrival_minutes(snapshots, kind, cadence);
        let limit = copy_limit(kind);
        let holds = databases_a_region_holds(cadence, copy_minutes, limit);
        if arrivals.is_empty() {
            continue;
        }
        let count = arrivals.len();
        let noun = kind.noun_plural();
        match worst_copy_wait(&arrivals, cadence, copy_minutes, limit) {
            None => report.warnings.push(format!(
                "{region} receives copies of {count} {noun} every {cadence} minutes, {count} × {copy_minutes} = {} copy-minutes a period, but AWS's {limit} copies in flight hold {limit} × {cadence} = {} a period: the copies fall further behind every period and RpoMinutes ({}) is missed. The region holds at most {holds} {noun} at this cadence and ExpectedCopyMinutes; spread the databases over DR regions",
                count as u64 * copy_minutes,
                limit as u64 * cadence,
                worst.rpo_minutes
            )),
            Some(wait) if worst.minutes() + wait as i64 > worst.rpo_minutes => {
                report.warnings.push(format!(
                    "{region} receives copies of {count} {noun} at their snapshot minutes; with AWS's {limit} copies in flight the last waits {wait} minutes for a slot, so the worst case is {} minutes, more than RpoMinutes ({}). The region holds about {holds} {noun} when their minutes are spread (SpreadSnapshots, the default)",
                    worst.minutes() + wait as i64,
                    worst.rpo_minutes
                ));
            }
            Some(wait) => report.notes.push(format!(
                "copy slots in {region}: {count} of about {holds} {noun}, worst wait {wait} minutes (worst case {} of RpoMinutes {})",
                worst.minutes() + wait as i64,
                worst.rpo_minutes
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::{Duration, TimeZone};

    use super::*;

    fn destination() -> RuntimePolicy {
        RuntimePolicy::test_destination()
    }

    /// A tool copy of `database` (of the source account) holding data of `minute` past 10:00.
    fn copy(database: &str, minute: i64) -> Snapshot {
        let at = Utc.with_ymd_and_hms(2026, 12, 6, 10, 0, 0).unwrap() + Duration::minutes(minute);
        let arn = format!("arn:aws:rds:eu-west-1:111111111111:snapshot:{database}-{minute}");
        Snapshot {
            created: Some(at),
            original_created: Some(at),
            tags: BTreeMap::from([
                (tags::COPIED_BY.to_string(), tags::TOOL.to_string()),
                (tags::SOURCE_ARN.to_string(), arn),
                (tags::DATABASE.to_string(), database.to_string()),
            ]),
            ..Snapshot::manual(
                Kind::Instance,
                format!("{database}-{minute}"),
                format!("arn:aws:rds:eu-central-1:222222222222:snapshot:{database}-{minute}"),
                database,
            )
        }
    }

    fn report(snapshots: &[Snapshot]) -> CheckReport {
        let mut report = CheckReport::default();
        decide_copy_slots(&destination(), "eu-central-1", snapshots, &mut report);
        report
    }

    #[test]
    fn the_newest_copy_of_each_database_gives_its_minute() {
        let snapshots = [copy("a", 7), copy("a", 37), copy("b", 12), copy("b", -18)];
        assert_eq!(arrival_minutes(&snapshots, Kind::Instance, 30), [7, 12]);
        assert!(arrival_minutes(&snapshots, Kind::Cluster, 30).is_empty());
    }

    #[test]
    fn fifty_databases_at_one_minute_warn_and_spread_they_fit() {
        let same: Vec<_> = (0..50).map(|i| copy(&format!("db{i}"), 0)).collect();
        let warned = report(&same);
        assert_eq!(warned.warnings.len(), 1, "{:?}", warned.warnings);
        assert!(
            warned.warnings[0].contains("receives copies of 50 DB instances")
                && warned.warnings[0].contains("waits 20 minutes for a slot"),
            "{}",
            warned.warnings[0]
        );
        let spread: Vec<_> = (0..50).map(|i| copy(&format!("db{i}"), i % 30)).collect();
        let fits = report(&spread);
        assert!(fits.warnings.is_empty(), "{:?}", fits.warnings);
        assert!(
            fits.notes[0].contains("50 of about 60 DB instances, worst wait 0 minutes"),
            "{:?}",
            fits.notes
        );
    }

    #[test]
    fn more_than_the_slots_hold_falls_behind() {
        let many: Vec<_> = (0..61).map(|i| copy(&format!("db{i}"), i % 30)).collect();
        let warned = report(&many);
        assert!(
            warned.warnings[0].contains("61 × 10 = 610 copy-minutes a period")
                && warned.warnings[0].contains("20 × 30 = 600"),
            "{:?}",
            warned.warnings
        );
    }
}
