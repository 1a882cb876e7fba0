//! Copy slots (issue 28): each database snapshots at its own minute of the cadence, so that the
//! copies of a DR region do not all queue behind AWS's copies in flight at the same minute.
//!
//! The minute is a hash of the database's identity (account, region, what the policy covers),
//! the same in every stack and every run, so policies that never see each other still spread.
//! The queue a region's copies meet is simulated from their real minutes (`worst_copy_wait`).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// AWS's limit on cross-region snapshot copies in flight into one region and account: 20 for
/// DB instance snapshots, 5 for DB cluster snapshots (RDS User Guide, "Copying a DB snapshot":
/// "You can have up to 20 snapshot copy requests in progress to a single destination Region
/// per account"; "Copying a DB cluster snapshot": up to 5).
pub const INSTANCE_COPIES_IN_FLIGHT: usize = 20;
pub const CLUSTER_COPIES_IN_FLIGHT: usize = 5;

/// FNV-1a, 64 bits: stable across releases and platforms (std's hasher promises neither).
pub fn stable_hash(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The identity a database's minute is derived from: `<account>/<region>/<target>`, where the
/// target is what the policy covers (`db-instance/orders`, `db-cluster/ledger`, `pattern/…`).
pub fn identity(account: &str, region: &str, target: &str) -> String {
    format!("{account}/{region}/{target}")
}

/// The minute past the cadence's start at which `identity` snapshots: below the cadence, and
/// below 60 (a schedule fires on a minute of the hour).
pub fn snapshot_minute(identity: &str, cadence_minutes: u64) -> u64 {
    stable_hash(identity) % cadence_minutes.clamp(1, 60)
}

/// A schedule firing every `cadence_minutes`, `minute` past the start of each period: the
/// expansion's cadence schedule (`rpo::cadence_schedule`) moved by `minute`.
pub fn schedule_at(cadence_minutes: u64, minute: u64) -> String {
    let c = cadence_minutes;
    let m = minute % c.clamp(1, 60);
    if c < 60 && 60_u64.is_multiple_of(c) {
        format!("cron({m}/{c} * * * ? *)")
    } else if c == 60 {
        format!("cron({m} * * * ? *)")
    } else if c.is_multiple_of(60) && 1440_u64.is_multiple_of(c) {
        let hours = c / 60;
        if hours == 24 {
            format!("cron({m} 0 * * ? *)")
        } else {
            format!("cron({m} 0/{hours} * * ? *)")
        }
    } else {
        // A rate has no phase; the expansion only makes these for cadences that divide neither
        // an hour nor a day, which `rpo::CADENCES` does not hold.
        format!("rate({c} minutes)")
    }
}

/// The worst wait for a copy slot, in minutes, when one snapshot of each database arrives every
/// `cadence` minutes at its minute (`arrivals`, minutes past the period's start, one per
/// database), each copy holds a slot `copy_minutes`, and `limit` copies run at once (first come,
/// first served). `None` when the region cannot keep up: more copy-minutes arrive per period
/// than the slots hold, so the queue grows with every period and no RPO is met.
pub fn worst_copy_wait(
    arrivals: &[u64],
    cadence: u64,
    copy_minutes: u64,
    limit: usize,
) -> Option<u64> {
    let cadence = cadence.max(1);
    let limit = limit.max(1);
    if arrivals.len() as u64 * copy_minutes > limit as u64 * cadence {
        return None;
    }
    let mut sorted: Vec<u64> = arrivals.iter().map(|a| a % cadence).collect();
    sorted.sort_unstable();
    // The free times of the slots, earliest first.
    let mut slots: BinaryHeap<Reverse<u64>> = (0..limit).map(|_| Reverse(0)).collect();
    let mut worst = 0;
    // Enough periods for a queue carried over from one period to show in the next; the load
    // fits the slots, so the waits repeat after the first periods.
    let periods = (copy_minutes / cadence + 3).min(64);
    for period in 0..periods {
        for offset in &sorted {
            let at = period * cadence + offset;
            let Reverse(free) = slots.pop().unwrap_or(Reverse(0));
            let start = at.max(free);
            worst = worst.max(start - at);
            slots.push(Reverse(start + copy_minutes));
        }
    }
    Some(worst)
}

/// How many databases a DR region copies without falling behind, at best (minutes spread
/// evenly): the slots' copy-minutes per period over one copy's minutes.
pub fn databases_a_region_holds(cadence: u64, copy_minutes: u64, limit: usize) -> u64 {
    limit as u64 * cadence / copy_minutes.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_hash_is_fnv1a() {
        // FNV-1a's published test vectors (the empty string, "a", "foobar").
        assert_eq!(stable_hash(""), 0xcbf29ce484222325);
        assert_eq!(stable_hash("a"), 0xaf63dc4c8601ec8c);
        assert_eq!(stable_hash("foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn spread_vectors_match_the_benchmark_driver() {
        // tests/demo/spread-vectors.json is what bench_rpo.py checks its own minutes against.
        let text = include_str!("../../tests/demo/spread-vectors.json");
        let vectors: Vec<(String, u64, u64)> = serde_json::from_str(text).expect("vectors");
        assert!(vectors.len() >= 5);
        for (identity, cadence, minute) in vectors {
            assert_eq!(snapshot_minute(&identity, cadence), minute, "{identity}");
        }
    }

    #[test]
    fn schedules_fire_at_their_minute() {
        assert_eq!(schedule_at(30, 7), "cron(7/30 * * * ? *)");
        assert_eq!(schedule_at(60, 42), "cron(42 * * * ? *)");
        assert_eq!(schedule_at(120, 5), "cron(5 0/2 * * ? *)");
        assert_eq!(schedule_at(1440, 13), "cron(13 0 * * ? *)");
        assert_eq!(schedule_at(30, 0), crate::rpo::cadence_schedule(30));
        for c in crate::rpo::CADENCES {
            assert_eq!(schedule_at(c, 0), crate::rpo::cadence_schedule(c), "{c}");
            let s = crate::schedule::Schedule::parse(&schedule_at(c, 11)).expect("parses");
            assert_eq!(
                s.longest_gap().map(|g| g.num_minutes()),
                Some(c as i64),
                "{c}"
            );
        }
    }

    #[test]
    fn fifty_databases_at_one_minute_queue_and_spread_they_do_not() {
        // The measurement: 50 databases at minute 0, 9-minute copies, 20 in flight:
        // three rounds, the last waits 18 minutes.
        assert_eq!(worst_copy_wait(&[0; 50], 30, 9, 20), Some(18));
        let spread: Vec<u64> = (0..50).map(|i| i * 30 / 50).collect();
        assert_eq!(worst_copy_wait(&spread, 30, 9, 20), Some(0));
        assert_eq!(databases_a_region_holds(30, 10, 20), 60);
        assert_eq!(worst_copy_wait(&[0; 61], 30, 10, 20), None);
    }

    proptest! {
        #[test]
        fn minutes_stay_below_the_cadence_and_an_hour(id in ".{0,40}", c in 1u64..2000) {
            let m = snapshot_minute(&id, c);
            prop_assert!(m < c.min(60));
        }

        #[test]
        fn no_wait_while_the_slots_are_never_full(
            arrivals in proptest::collection::vec(0u64..30, 0..20),
            copy in 1u64..30,
        ) {
            // Fewer databases than slots: every copy starts at once.
            prop_assert_eq!(worst_copy_wait(&arrivals, 30, copy, 20), Some(0));
        }

        #[test]
        fn another_database_never_shortens_the_wait(
            arrivals in proptest::collection::vec(0u64..30, 1..60),
            extra in 0u64..30,
            copy in 1u64..15,
        ) {
            let before = worst_copy_wait(&arrivals, 30, copy, 20);
            let mut more = arrivals.clone();
            more.push(extra);
            let after = worst_copy_wait(&more, 30, copy, 20);
            match (before, after) {
                (Some(b), Some(a)) => prop_assert!(a >= b),
                (None, a) => prop_assert!(a.is_none()),
                (Some(_), None) => {}
            }
        }
    }
}
