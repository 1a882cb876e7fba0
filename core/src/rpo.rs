//! The recovery-point objective: the worst-case age of the newest DR copy, term by term, the
//! cadence that meets `RpoMinutes`, and the warnings when the schedules cannot.
//!
//! The formula (README, "RPO"): a recovery point is as old as the spacing between snapshots,
//! plus the time the next one needs to reach the DR account: schedule jitter + snapshot
//! creation + wait to share + wait to copy + copy duration. The waits are the fallback sweeps'
//! longest gaps, because RDS delivers events best effort and the guarantee may not rest on
//! them. Each expansion sees one side; it takes the other side's terms at their defaults.

use chrono::Duration;

use crate::error::Diagnostics;
use crate::schedule::Schedule;
use crate::spec::{PolicySpec, Role, defaults};

/// Formats a duration the way people say it: `90 minutes`, `8 hours`, `3 days`.
pub fn human(d: Duration) -> String {
    let minutes = d.num_minutes();
    if minutes % 1440 == 0 && minutes >= 1440 {
        plural(minutes / 1440, "day")
    } else if minutes % 60 == 0 && minutes >= 60 {
        plural(minutes / 60, "hour")
    } else {
        plural(minutes, "minute")
    }
}

fn plural(n: i64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// The fallback sweeps' period with the default ShareSchedule and CopySchedule.
pub const DEFAULT_SWEEP_MINUTES: i64 = 5;

/// The cadences the expansion chooses from, shortest first: they divide an hour or a day,
/// so snapshots fall on round times.
pub const CADENCES: [u64; 11] = [15, 20, 30, 60, 120, 180, 240, 360, 480, 720, 1440];

/// One term of the formula.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub name: &'static str,
    /// Where the number comes from (a property, or the other side's default).
    pub from: String,
    pub minutes: i64,
    /// The term is a wait that an event removes when it arrives.
    pub waits_for_a_sweep: bool,
}

/// The worst-case recovery-point age at the DR copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorstCase {
    pub terms: Vec<Term>,
    pub rpo_minutes: i64,
    pub event_driven: bool,
}

impl WorstCase {
    pub fn minutes(&self) -> i64 {
        self.terms.iter().map(|t| t.minutes).sum()
    }

    /// The same with events arriving: the sweeps' waits drop out.
    pub fn typical_minutes(&self) -> i64 {
        if !self.event_driven {
            return self.minutes();
        }
        self.terms
            .iter()
            .filter(|t| !t.waits_for_a_sweep)
            .map(|t| t.minutes)
            .sum()
    }

    pub fn biggest(&self) -> Option<&Term> {
        self.terms.iter().max_by_key(|t| t.minutes)
    }

    pub fn is_met(&self) -> bool {
        self.minutes() <= self.rpo_minutes
    }

    /// `56 minutes at the DR copy: snapshot spacing 30 + …`, as recorded in the metadata.
    pub fn describe(&self) -> String {
        let terms = self
            .terms
            .iter()
            .map(|t| format!("{} {}", t.name, t.minutes))
            .collect::<Vec<_>>()
            .join(" + ");
        let typical = if self.event_driven {
            format!(
                "; typically {} minutes when events arrive",
                self.typical_minutes()
            )
        } else {
            String::new()
        };
        format!(
            "{} minutes at the DR copy ({terms}){typical}; RpoMinutes {}",
            self.minutes(),
            self.rpo_minutes
        )
    }
}

fn minutes(d: Duration) -> i64 {
    d.num_minutes()
}

fn term(name: &'static str, from: impl Into<String>, minutes: i64, waits: bool) -> Term {
    Term {
        name,
        from: from.into(),
        minutes,
        waits_for_a_sweep: waits,
    }
}

/// Everything after the snapshot starts: jitter, creation, the waits and the copy.
fn lag_terms<S>(policy: &PolicySpec<S>, share_wait: Option<Term>, copy_wait: Term) -> Vec<Term> {
    let mut terms = vec![
        term(
            "schedule jitter",
            "EventBridge schedules",
            defaults::SCHEDULE_JITTER_MINUTES as i64,
            false,
        ),
        term(
            "snapshot creation",
            "ExpectedSnapshotMinutes",
            minutes(policy.expected_snapshot()),
            false,
        ),
    ];
    terms.extend(share_wait);
    if policy.reencrypts() {
        // The copy under ReencryptKmsKey, then the share that finds it available: its event
        // (instances) or the next share sweep.
        terms.push(term(
            "re-encryption copy",
            "ExpectedCopyMinutes (ReencryptKmsKey)",
            minutes(policy.expected_copy()),
            false,
        ));
        if let Some(gap) = policy.share_schedule.as_ref().and_then(|s| s.longest_gap()) {
            terms.push(term(
                "wait to share the re-encrypted copy",
                "ShareSchedule (ReencryptKmsKey)",
                minutes(gap),
                true,
            ));
        }
    }
    if policy.copies_in_two_steps() {
        // The first copy stays in the source region; its end raises no event where the DR
        // policy's rules are, so the second copy starts at the next copy sweep (a wait no
        // event shortens).
        terms.push(copy_wait.clone());
        terms.push(term(
            "first copy, in the source region",
            "ExpectedCopyMinutes (TwoStepCopy)",
            minutes(policy.expected_copy()),
            false,
        ));
        terms.push(term(
            "wait to copy the first copy across regions",
            "CopySchedule (TwoStepCopy)",
            copy_wait.minutes,
            false,
        ));
    } else {
        terms.push(copy_wait);
    }
    terms.push(term(
        "copy duration",
        "ExpectedCopyMinutes",
        minutes(policy.expected_copy()),
        false,
    ));
    terms
}

/// The largest of `CADENCES` that meets `rpo_minutes` after `lag_minutes`; the shortest when
/// none does (the RPO warning then says why).
pub fn cadence_for(rpo_minutes: u64, lag_minutes: i64) -> u64 {
    let budget = rpo_minutes as i64 - lag_minutes;
    CADENCES
        .iter()
        .rev()
        .copied()
        .find(|c| *c as i64 <= budget)
        .unwrap_or(CADENCES[0])
}

/// A schedule that fires every `minutes`: a cron on round times where the period divides an
/// hour or a day, else a rate.
pub fn cadence_schedule(minutes: u64) -> String {
    if minutes < 60 && 60_u64.is_multiple_of(minutes) {
        format!("cron(0/{minutes} * * * ? *)")
    } else if minutes == 60 {
        "cron(0 * * * ? *)".to_string()
    } else if minutes.is_multiple_of(60) && 1440_u64.is_multiple_of(minutes) {
        let hours = minutes / 60;
        if hours == 24 {
            "cron(0 0 * * ? *)".to_string()
        } else {
            format!("cron(0 0/{hours} * * ? *)")
        }
    } else {
        format!("rate({minutes} minutes)")
    }
}

/// The lag a source policy's own schedules add, for choosing its default cadence.
pub fn source_lag_minutes<S>(policy: &PolicySpec<S>) -> Option<i64> {
    let share_wait = source_share_wait(policy)?;
    Some(
        lag_terms(policy, share_wait, default_copy_wait())
            .iter()
            .map(|t| t.minutes)
            .sum(),
    )
}

fn source_share_wait<S>(policy: &PolicySpec<S>) -> Option<Option<Term>> {
    match (policy.shares(), &policy.share_schedule) {
        (true, Some(s)) => Some(Some(term(
            "wait to share",
            "ShareSchedule",
            minutes(s.longest_gap()?),
            true,
        ))),
        _ => Some(None),
    }
}

fn default_copy_wait() -> Term {
    term(
        "wait to copy",
        "the DR policy's default CopySchedule",
        DEFAULT_SWEEP_MINUTES,
        true,
    )
}

/// How often copies arrive at a destination policy, in minutes: the cadence its RpoMinutes
/// gives a source policy by default (the DR account cannot read the source's schedule).
/// `None` for a source policy, or a CopySchedule firing less than twice in 35 days.
pub fn assumed_copy_spacing<S>(policy: &PolicySpec<S>) -> Option<i64> {
    if policy.role != Role::Destination {
        return None;
    }
    worst_case(policy)?.terms.first().map(|t| t.minutes)
}

/// The formula for this policy; `None` when a schedule fires less than twice in 35 days.
pub fn worst_case<S>(policy: &PolicySpec<S>) -> Option<WorstCase> {
    let terms = match policy.role {
        Role::Source => {
            let spacing = term(
                "snapshot spacing",
                spacing_source(policy),
                minutes(policy.snapshot_spacing()?),
                false,
            );
            let mut terms = vec![spacing];
            terms.extend(lag_terms(
                policy,
                source_share_wait(policy)?,
                default_copy_wait(),
            ));
            terms
        }
        Role::Destination => {
            let copy_wait = term(
                "wait to copy",
                "CopySchedule",
                minutes(policy.copy_schedule.as_ref()?.longest_gap()?),
                true,
            );
            let share_wait = policy.copies_across_accounts().then(|| {
                term(
                    "wait to share",
                    "the source policy's default ShareSchedule",
                    DEFAULT_SWEEP_MINUTES,
                    true,
                )
            });
            let lag = lag_terms(policy, share_wait, copy_wait);
            let lag_minutes: i64 = lag.iter().map(|t| t.minutes).sum();
            let spacing = cadence_for(policy.rpo_minutes, lag_minutes) as i64;
            let mut terms = vec![term(
                "snapshot spacing",
                "the source policy's default cadence for this RpoMinutes",
                spacing,
                false,
            )];
            terms.extend(lag);
            terms
        }
    };
    Some(WorstCase {
        terms,
        rpo_minutes: policy.rpo_minutes as i64,
        event_driven: policy.is_event_driven(),
    })
}

fn spacing_source<S>(policy: &PolicySpec<S>) -> &'static str {
    match (
        policy.backup_interval_minutes.is_some(),
        policy.backup_interval_hours.is_some(),
    ) {
        (true, _) => "BackupSchedule and BackupIntervalMinutes",
        (false, true) => "BackupSchedule and BackupInterval",
        _ => "BackupSchedule",
    }
}

/// Warns (never fails) where the schedules cannot meet RpoMinutes or BackupInterval.
pub(crate) fn warn_about_schedules<S>(policy: &PolicySpec<S>, diag: &mut Diagnostics) {
    if let Some(backup_schedule) = &policy.backup_schedule {
        let interval = policy.backup_interval();
        let gap = backup_schedule.longest_gap();
        if gap.is_none_or(|g| g > interval) {
            let text = gap_text(backup_schedule);
            diag.warn(
                "BackupSchedule",
                format!(
                    "fires {text}, less often than the backup interval ({}): snapshots will be further apart than the interval",
                    human(interval)
                ),
            );
        }
    }
    match worst_case(policy) {
        Some(worst) if !worst.is_met() => {
            let biggest = worst
                .biggest()
                .map(|t| {
                    format!(
                        "; the biggest term is {} ({}, from {})",
                        t.name,
                        human(Duration::minutes(t.minutes)),
                        t.from
                    )
                })
                .unwrap_or_default();
            diag.warn(
                "RpoMinutes",
                format!(
                    "cannot be met: the worst-case recovery-point age at the DR copy is {} minutes, more than RpoMinutes ({}){biggest}",
                    worst.minutes(),
                    policy.rpo_minutes
                ),
            );
        }
        Some(_) => {}
        None => {
            let property = match policy.role {
                Role::Source => "BackupSchedule or ShareSchedule",
                Role::Destination => "CopySchedule",
            };
            diag.warn(
                "RpoMinutes",
                format!("cannot be met: {property} fires less than twice in 35 days"),
            );
        }
    }
}

fn gap_text(schedule: &Schedule) -> String {
    match schedule.longest_gap() {
        Some(g) => format!("up to {} apart", human(g)),
        None => "less than twice in 35 days".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cadence_meets_the_budget_or_falls_back_to_the_shortest() {
        assert_eq!(cadence_for(60, 26), 30);
        assert_eq!(cadence_for(60, 40), 20);
        assert_eq!(cadence_for(240, 26), 180);
        assert_eq!(cadence_for(30, 26), 15);
        assert_eq!(cadence_for(100_000, 26), 1440);
    }

    #[test]
    fn cadence_schedules_fire_at_their_period() {
        for minutes in [
            15, 20, 30, 60, 120, 180, 240, 360, 480, 720, 1440, 45, 90, 100,
        ] {
            let expression = cadence_schedule(minutes);
            let schedule = Schedule::parse(&expression).unwrap();
            assert_eq!(
                schedule.longest_gap(),
                Some(Duration::minutes(minutes as i64)),
                "{expression}"
            );
        }
    }

    #[test]
    fn default_sweeps_match_the_formula() {
        for expression in [defaults::SHARE_SCHEDULE, defaults::COPY_SCHEDULE] {
            let gap = Schedule::parse(expression).unwrap().longest_gap();
            assert_eq!(gap, Some(Duration::minutes(DEFAULT_SWEEP_MINUTES)));
        }
    }
}
