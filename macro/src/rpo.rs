//! What the schedules mean for the recovery point: warnings and the worst-case RPO.

use chrono::Duration;

use crate::error::Diagnostics;
use crate::schedule::Schedule;
use crate::spec::{PolicySpec, Role};

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

fn gap_text(schedule: &Schedule) -> (Option<Duration>, String) {
    match schedule.longest_gap() {
        Some(g) => (Some(g), format!("up to {} apart", human(g))),
        None => (None, "less than twice in 35 days".to_string()),
    }
}

/// Warns (never fails) where the schedules cannot meet RpoMinutes or BackupInterval.
pub(crate) fn warn_about_schedules<S>(policy: &PolicySpec<S>, diag: &mut Diagnostics) {
    let rpo = Duration::minutes(policy.rpo_minutes as i64);
    let too_long = |gap: Option<Duration>, limit: Duration| gap.is_none_or(|g| g > limit);
    if let Some(backup_schedule) = &policy.backup_schedule {
        let interval = policy.backup_interval();
        let (gap, text) = gap_text(backup_schedule);
        if too_long(gap, interval) {
            diag.warn(
                "BackupSchedule",
                format!(
                    "fires {text}, less often than BackupInterval ({}): snapshots will be further apart than the interval",
                    human(interval)
                ),
            );
        }
        match policy.snapshot_spacing() {
            Some(spacing) if spacing > rpo => diag.warn(
                "RpoMinutes",
                format!(
                    "cannot be met: BackupSchedule and BackupInterval put snapshots up to {} apart, more than RpoMinutes ({})",
                    human(spacing),
                    human(rpo)
                ),
            ),
            None => diag.warn(
                "RpoMinutes",
                "cannot be met: BackupSchedule takes snapshots less than twice in 35 days",
            ),
            _ => {}
        }
        if let (true, Some(share_schedule)) = (policy.shares(), &policy.share_schedule)
            && let (gap, text) = gap_text(share_schedule)
            && too_long(gap, rpo)
        {
            diag.warn(
                "ShareSchedule",
                format!("runs {text}, longer than RpoMinutes ({}): snapshots wait that long before the DR account sees them", human(rpo)),
            );
        }
    }
    if let Some(copy_schedule) = &policy.copy_schedule {
        let (gap, text) = gap_text(copy_schedule);
        if too_long(gap, rpo) {
            diag.warn(
                "CopySchedule",
                format!("runs {text}, longer than RpoMinutes ({}): shared snapshots wait that long before they are copied", human(rpo)),
            );
        }
    }
}

/// The longest a recovery point can take to reach its last stage under this policy's
/// schedules: snapshot spacing plus the share wait (source), or the copy wait (destination).
pub fn worst_case_rpo<S>(policy: &PolicySpec<S>) -> Option<Duration> {
    match policy.role {
        Role::Source => {
            let spacing = policy.snapshot_spacing()?;
            match (policy.shares(), &policy.share_schedule) {
                (true, Some(share)) => Some(spacing + share.longest_gap()?),
                _ => Some(spacing),
            }
        }
        Role::Destination => policy.copy_schedule.as_ref()?.longest_gap(),
    }
}
