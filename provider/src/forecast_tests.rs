//! The forecast, by example: the default DR policy (RpoMinutes 60: 56 declared).

use std::collections::BTreeMap;

use chrono::TimeZone;

use super::*;
use crate::inventory::Kind;
use crate::policy::RuntimePolicy;

fn worst() -> WorstCase {
    RuntimePolicy::test_destination().worst_case().unwrap()
}

fn at(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 6, 10, 0, 0).unwrap() + Duration::minutes(minute)
}

/// A tool copy of data from `point`, copied from `started`, delivered at `delivered` (else in
/// flight).
fn copy(point: i64, started: i64, delivered: Option<i64>) -> Snapshot {
    let mut tags = BTreeMap::from([
        (tags::COPIED_BY.to_string(), tags::TOOL.to_string()),
        (tags::RECOVERY_POINT.to_string(), at(point).to_rfc3339()),
    ]);
    if let Some(d) = delivered {
        tags.insert(tags::DELIVERED.to_string(), at(d).to_rfc3339());
    }
    Snapshot {
        status: if delivered.is_some() {
            "available"
        } else {
            "copying"
        }
        .into(),
        created: Some(at(started)),
        original_created: Some(at(point)),
        tags,
        ..Snapshot::manual(
            Kind::Instance,
            format!("c{point}"),
            format!("arn:aws:rds:eu-central-1:222222222222:snapshot:c{point}"),
            "orders",
        )
    }
}

fn term(f: &Forecast, name: &str) -> ForecastTerm {
    f.terms.iter().find(|t| t.name == name).unwrap().clone()
}

#[test]
fn nothing_measured_is_the_declared_worst_case() {
    let f = forecast(&worst(), &[], &[], at(0)).unwrap();
    assert_eq!(f.minutes, worst().minutes());
    assert_eq!((f.samples, f.grown()), (0, None));
    assert!(f.is_met());
}

#[test]
fn delivered_copies_give_the_p95_of_each_term() {
    // Twenty copies: waits 5..=24 after the recovery point, each copying for 9 minutes.
    let copies: Vec<_> = (0..20)
        .map(|i| copy(i * 30, i * 30 + 5 + i, Some(i * 30 + 5 + i + 9)))
        .collect();
    let f = forecast(&worst(), &copies, &[], at(20 * 30)).unwrap();
    assert_eq!(f.samples, 20);
    assert_eq!(term(&f, WAIT).measured, Some(23));
    assert_eq!(term(&f, COPY).measured, Some(9));
    assert_eq!(f.minutes, 30 + 23 + 9);
    assert_eq!(f.grown().unwrap().name, WAIT);
    assert!(
        f.describe()
            .contains("wait before the copy 23 (measured 23, declared 16)"),
        "{}",
        f.describe()
    );
}

#[test]
fn a_slow_copy_under_way_raises_the_forecast_before_it_lands() {
    let mut copies: Vec<_> = (0..4)
        .map(|i| copy(i * 30, i * 30 + 5, Some(i * 30 + 14)))
        .collect();
    let calm = forecast(&worst(), &copies, &[], at(125)).unwrap();
    assert!(calm.is_met(), "{}", calm.describe());
    // Waits of 5 minutes keep the declared 16 (sweeps an event may miss); copies of 9 count.
    assert_eq!(
        (term(&calm, WAIT).minutes, term(&calm, COPY).minutes),
        (16, 9)
    );
    // The next copy started at 125 and is still copying 30 minutes later.
    copies.push(copy(120, 125, None));
    let slow = forecast(&worst(), &copies, &[], at(155)).unwrap();
    assert_eq!(term(&slow, COPY).measured, Some(30));
    assert!(!slow.is_met(), "{}", slow.describe());
    assert_eq!(slow.grown().unwrap().name, COPY);
    // Measured at 155 the newest delivered copy holds data of 90: 65 minutes old. The forecast
    // (30 + 16 + 30 = 76) passed 60 at 139, when that age was 49: 11 minutes before it.
    let early = forecast(&worst(), &copies, &[], at(140)).unwrap();
    assert!(!early.is_met() && 140 - 90 < 60, "{}", early.describe());
}

#[test]
fn a_share_waiting_for_a_slot_raises_the_wait() {
    let f = forecast(&worst(), &[], &[at(0)], at(40)).unwrap();
    assert_eq!(term(&f, WAIT).measured, Some(40));
    assert!(!f.is_met());
}

#[test]
fn copies_outside_the_window_or_failed_do_not_count() {
    let old = copy(0, 5, Some(50));
    let mut failed = copy(100, 2000, None);
    failed.status = "failed".into();
    let f = forecast(&worst(), &[old, failed], &[], at(48 * 60)).unwrap();
    assert_eq!(f.samples, 0);
    assert_eq!(term(&f, COPY).measured, None);
}

#[test]
fn percentile_is_nearest_rank() {
    assert_eq!(percentile(&mut [], 95), None);
    assert_eq!(percentile(&mut [7], 95), Some(7));
    assert_eq!(percentile(&mut (1..=100).collect::<Vec<_>>(), 95), Some(95));
    assert_eq!(percentile(&mut [3, 1, 2], 50), Some(2));
}

#[test]
fn only_shares_pending_for_a_slot_are_waiting() {
    let mut queued = copy(0, 0, None);
    queued.id = "orders-queued".into();
    let mut skipped = copy(10, 10, None);
    skipped.id = "orders-skipped".into();
    let note = |subject: &str, reason: String| Note {
        subject: subject.into(),
        reason,
    };
    let pending = [
        note(
            "orders-queued",
            format!(
                "{}: 20 cross-region copies ...",
                ErrorName::CopyLimitReached.name()
            ),
        ),
        note("orders-skipped", "still creating".into()),
    ];
    assert_eq!(waiting_for_a_slot(&[queued, skipped], &pending), [at(0)]);
}
