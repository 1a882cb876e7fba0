//! What the schedules mean for the recovery point: warnings and the worst-case RPO.

use chrono::Duration;

use crate::error::Diagnostics;
use crate::policy::Policy;
use crate::schedule::Schedule;

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
pub(crate) fn warn_about_schedules(policy: &Policy, diag: &mut Diagnostics) {
    let rpo = Duration::minutes(policy.rpo_minutes as i64);
    let too_long = |gap: Option<Duration>, limit: Duration| gap.is_none_or(|g| g > limit);
    if let Some(s) = &policy.source {
        let interval = Duration::hours(s.backup_interval_hours as i64);
        let (gap, text) = gap_text(&s.backup_schedule);
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
        let (gap, text) = gap_text(&s.share_schedule);
        if s.share_snapshots && too_long(gap, rpo) {
            diag.warn(
                "ShareSchedule",
                format!("runs {text}, longer than RpoMinutes ({}): snapshots wait that long before the DR account sees them", human(rpo)),
            );
        }
    }
    if let Some(d) = &policy.destination {
        let (gap, text) = gap_text(&d.copy_schedule);
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
pub fn worst_case_rpo(policy: &Policy) -> Option<Duration> {
    if let Some(s) = &policy.source {
        let spacing = policy.snapshot_spacing()?;
        if !s.share_snapshots {
            return Some(spacing);
        }
        return Some(spacing + s.share_schedule.longest_gap()?);
    }
    policy.destination.as_ref()?.copy_schedule.longest_gap()
}
