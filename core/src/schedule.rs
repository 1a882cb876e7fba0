//! EventBridge schedule expressions: validation with EventBridge's own rules, and the longest
//! gap between firings (used for the RPO warnings and the worst-case RPO).

use chrono::{DateTime, Duration, TimeZone, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// A schedule expression EventBridge accepts for an `AWS::Events::Rule`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// `rate(N unit)`, kept as minutes.
    Rate { expression: String, minutes: u64 },
    /// `cron(min hour dom month dow year)`.
    Cron { expression: String, cron: Box<Cron> },
}

crate::error::refusal!(
    /// Why a text is not a schedule EventBridge accepts.
    ScheduleError
);

/// How far ahead firings are enumerated to find the longest gap.
const GAP_WINDOW_DAYS: i64 = 35;

impl Schedule {
    /// Parses and validates `text`; the error says what EventBridge would refuse.
    pub fn parse(text: &str) -> Result<Self, ScheduleError> {
        Self::parse_text(text).map_err(ScheduleError)
    }

    fn parse_text(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        if trimmed != text {
            return Err(format!(
                "must not have leading or trailing spaces, got {text:?}"
            ));
        }
        if let Some(body) = strip_call(text, "rate") {
            return parse_rate(body).map(|minutes| Schedule::Rate {
                expression: text.to_string(),
                minutes,
            });
        }
        if let Some(body) = strip_call(text, "cron") {
            return parse_cron(body).map(|cron| Schedule::Cron {
                expression: text.to_string(),
                cron: Box::new(cron),
            });
        }
        Err(format!(
            "must be a rate(...) or cron(...) expression EventBridge accepts, got {text:?}"
        ))
    }

    pub fn expression(&self) -> &str {
        match self {
            Schedule::Rate { expression, .. } | Schedule::Cron { expression, .. } => expression,
        }
    }

    /// Firing times in `[from, from + window)`, for simulations.
    pub fn firings(&self, from: DateTime<Utc>, window: Duration) -> Vec<DateTime<Utc>> {
        let end = from + window;
        match self {
            Schedule::Rate { minutes, .. } => {
                let step = Duration::minutes(*minutes as i64);
                let mut out = Vec::new();
                let mut t = from;
                while t < end {
                    out.push(t);
                    t += step;
                }
                out
            }
            Schedule::Cron { cron, .. } => cron
                .iter_from(from, croner::Direction::Forward)
                .take_while(|t| *t < end)
                .collect(),
        }
    }

    /// Whether it fires at all at or after `now` (a cron with only past years never does).
    pub fn fires_after(&self, now: DateTime<Utc>) -> bool {
        match self {
            Schedule::Rate { .. } => true,
            Schedule::Cron { cron, .. } => cron
                .iter_from(now, croner::Direction::Forward)
                .next()
                .is_some(),
        }
    }

    /// The longest time between two consecutive firings, over a window long enough to see
    /// monthly patterns. `None` if it fires less than twice in that window.
    pub fn longest_gap(&self) -> Option<Duration> {
        if let Schedule::Rate { minutes, .. } = self {
            return Some(Duration::minutes(*minutes as i64));
        }
        memoized(self.expression(), None, || {
            let times = self.firings(reference_start(), Duration::days(GAP_WINDOW_DAYS));
            times
                .windows(2)
                .map(|pair| pair[1] - pair[0])
                .max()
                .filter(|_| times.len() >= 2)
        })
    }
}

/// A fixed start for simulations, so results (and golden files) never depend on today.
pub fn reference_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

/// Longest gap between snapshots when `schedule` fires and a snapshot is taken only if the
/// newest is at least `interval` old (the seed's BackupInterval rule).
pub fn longest_snapshot_gap(schedule: &Schedule, interval: Duration) -> Option<Duration> {
    memoized(schedule.expression(), Some(interval), || {
        snapshot_gap_uncached(schedule, interval)
    })
}

/// Enumerating a month of firings is the costly part of an expansion; templates repeat the
/// same expressions, so results are kept per thread.
fn memoized(
    expression: &str,
    interval: Option<Duration>,
    compute: impl FnOnce() -> Option<Duration>,
) -> Option<Duration> {
    type Key = (String, Option<i64>);
    thread_local! {
        static CACHE: std::cell::RefCell<std::collections::HashMap<Key, Option<Duration>>> =
            std::cell::RefCell::new(std::collections::HashMap::new());
    }
    let key = (expression.to_string(), interval.map(|i| i.num_seconds()));
    if let Some(hit) = CACHE.with(|c| c.borrow().get(&key).copied()) {
        return hit;
    }
    let value = compute();
    CACHE.with(|c| c.borrow_mut().insert(key, value));
    value
}

fn snapshot_gap_uncached(schedule: &Schedule, interval: Duration) -> Option<Duration> {
    let times = schedule.firings(reference_start(), Duration::days(GAP_WINDOW_DAYS));
    let mut last: Option<DateTime<Utc>> = None;
    let mut longest: Option<Duration> = None;
    for t in times {
        match last {
            None => last = Some(t),
            Some(prev) if t - prev >= interval => {
                longest = longest.max(Some(t - prev));
                last = Some(t);
            }
            Some(_) => {}
        }
    }
    longest
}

fn strip_call<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.strip_prefix(name)?
        .strip_prefix('(')?
        .strip_suffix(')')
}

fn parse_rate(body: &str) -> Result<u64, String> {
    let parts: Vec<&str> = body.split(' ').collect();
    let [value, unit] = parts.as_slice() else {
        return Err(format!(
            "rate expression must be rate(<value> <unit>) with one space, got \"rate({body})\""
        ));
    };
    let value: u64 = match value.parse() {
        Ok(v) if v >= 1 && !value.starts_with('+') && !value.starts_with('0') => v,
        _ => {
            return Err(format!(
                "rate value must be a whole number >= 1, got {value:?} in \"rate({body})\""
            ));
        }
    };
    let (singular, plural, minutes) = match *unit {
        "minute" | "minutes" => ("minute", "minutes", 1),
        "hour" | "hours" => ("hour", "hours", 60),
        "day" | "days" => ("day", "days", 1440),
        _ => {
            return Err(format!(
                "rate unit must be minute(s), hour(s) or day(s), got {unit:?} in \"rate({body})\""
            ));
        }
    };
    let expected = if value == 1 { singular } else { plural };
    if *unit != expected {
        return Err(format!(
            "EventBridge requires \"rate({value} {expected})\" (singular unit for 1, plural otherwise), got \"rate({body})\""
        ));
    }
    match value.checked_mul(minutes) {
        Some(total) if total <= MAX_RATE_MINUTES => Ok(total),
        _ => Err(format!(
            "rate is longer than 36500 days (100 years): a schedule that rare would never act, got \"rate({body})\""
        )),
    }
}

/// The longest rate accepted: 100 years. Longer ones could never fire in a policy's life (and
/// would overflow date arithmetic).
const MAX_RATE_MINUTES: u64 = 36_500 * 1440;

struct FieldRule {
    name: &'static str,
    min: u32,
    max: u32,
    extra: &'static str,
    names: &'static [&'static str],
}

const MONTHS: &[&str] = &[
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

const FIELDS: [FieldRule; 6] = [
    FieldRule {
        name: "minutes",
        min: 0,
        max: 59,
        extra: "",
        names: &[],
    },
    FieldRule {
        name: "hours",
        min: 0,
        max: 23,
        extra: "",
        names: &[],
    },
    FieldRule {
        name: "day-of-month",
        min: 1,
        max: 31,
        extra: "?LW",
        names: &[],
    },
    FieldRule {
        name: "month",
        min: 1,
        max: 12,
        extra: "",
        names: MONTHS,
    },
    FieldRule {
        name: "day-of-week",
        min: 1,
        max: 7,
        extra: "?L#",
        names: WEEKDAYS,
    },
    FieldRule {
        name: "year",
        min: 1970,
        max: 2199,
        extra: "",
        names: &[],
    },
];

fn parse_cron(body: &str) -> Result<Cron, String> {
    let fields: Vec<&str> = body.split(' ').collect();
    if fields.len() != 6 || fields.iter().any(|f| f.is_empty()) {
        return Err(format!(
            "cron expression must have 6 fields separated by single spaces (minutes hours day-of-month month day-of-week year), got \"cron({body})\""
        ));
    }
    let dom_q = fields[2] == "?";
    let dow_q = fields[4] == "?";
    if dom_q == dow_q {
        return Err(format!(
            "cron expression must have '?' in exactly one of day-of-month and day-of-week, got \"cron({body})\""
        ));
    }
    for (field, rule) in fields.iter().zip(FIELDS.iter()) {
        check_field(field, rule).map_err(|why| format!("{why} in \"cron({body})\""))?;
    }
    // croner evaluates the Quartz dialect once given a seconds field and Quartz weekdays.
    let parser = CronParser::builder()
        .seconds(Seconds::Required)
        .year(Year::Required)
        .alternative_weekdays(true)
        .sloppy_ranges(true)
        .build();
    let cron = parser
        .parse(&format!("0 {body}"))
        .map_err(|e| format!("cron expression is not valid ({e}) in \"cron({body})\""))?;
    let probe = cron.find_next_occurrence(&reference_start(), true);
    if probe.is_err() {
        return Err(format!(
            "cron expression never fires after {} in \"cron({body})\"",
            reference_start().format("%Y-%m-%d")
        ));
    }
    Ok(cron)
}

fn check_field(field: &str, rule: &FieldRule) -> Result<(), String> {
    if field == "?" {
        return Ok(());
    }
    if field.contains('?') {
        return Err(format!("'?' must stand alone in the {} field", rule.name));
    }
    for item in field.split(',') {
        check_item(item, rule)?;
    }
    Ok(())
}

fn check_item(item: &str, rule: &FieldRule) -> Result<(), String> {
    let bad = || format!("{:?} is not valid in the {} field", item, rule.name);
    if item.is_empty() {
        return Err(bad());
    }
    let upper = item.to_ascii_uppercase();
    let item = upper.as_str();
    if rule.extra.contains('L') && item == "L" {
        return Ok(());
    }
    if rule.name == "day-of-month" {
        if item == "LW" {
            return Ok(());
        }
        if let Some(day) = item.strip_suffix('W') {
            return check_value(day, rule).map(|_| ());
        }
        if let Some(offset) = item.strip_prefix("L-") {
            return match offset.parse::<u32>() {
                Ok(n) if n <= 30 => Ok(()),
                _ => Err(bad()),
            };
        }
    }
    if rule.name == "day-of-week" {
        if let Some((day, nth)) = item.split_once('#') {
            check_value(day, rule)?;
            return match nth.parse::<u32>() {
                Ok(n) if (1..=5).contains(&n) => Ok(()),
                _ => Err(format!(
                    "{item:?} in the day-of-week field: the number after '#' must be 1 to 5"
                )),
            };
        }
        if let Some(day) = item.strip_suffix('L') {
            return check_value(day, rule).map(|_| ());
        }
    }
    let (range, step) = match item.split_once('/') {
        Some((range, step)) => (range, Some(step)),
        None => (item, None),
    };
    if let Some(step) = step {
        match step.parse::<u32>() {
            Ok(s) if s >= 1 && s <= rule.max => {}
            _ => {
                return Err(format!(
                    "{item:?}: the step after '/' in the {} field must be 1 to {}",
                    rule.name, rule.max
                ));
            }
        }
    }
    if range == "*" {
        return Ok(());
    }
    if let Some((low, high)) = range.split_once('-') {
        let low = check_value(low, rule)?;
        let high = check_value(high, rule)?;
        if rule.name == "year" && low > high {
            return Err(format!(
                "{item:?}: range start is after its end in the year field"
            ));
        }
        return Ok(());
    }
    check_value(range, rule).map(|_| ())
}

fn check_value(text: &str, rule: &FieldRule) -> Result<u32, String> {
    if let Some(pos) = rule.names.iter().position(|n| *n == text) {
        return Ok(rule.min + pos as u32);
    }
    match text.parse::<u32>() {
        Ok(v) if (rule.min..=rule.max).contains(&v) && !text.starts_with('+') => Ok(v),
        _ => Err(format!(
            "{text:?} is out of range in the {} field (allowed {}-{}{})",
            rule.name,
            rule.min,
            rule.max,
            if rule.names.is_empty() {
                String::new()
            } else {
                format!(" or {}-{}", rule.names[0], rule.names[rule.names.len() - 1])
            }
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) {
        if let Err(e) = Schedule::parse(s) {
            panic!("{s} should be accepted: {e}");
        }
    }
    fn bad(s: &str, needle: &str) {
        match Schedule::parse(s) {
            Ok(_) => panic!("{s} should be refused"),
            Err(e) => assert!(e.0.contains(needle), "{s}: {e} lacks {needle:?}"),
        }
    }
    #[test]
    fn schedules_in_the_past_never_fire_again() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        let past = Schedule::parse("cron(0 * * * ? 2025)").unwrap();
        assert!(!past.fires_after(now));
        assert!(
            Schedule::parse("cron(0 * * * ? 2027)")
                .unwrap()
                .fires_after(now)
        );
        assert!(
            Schedule::parse("cron(0 * * * ? *)")
                .unwrap()
                .fires_after(now)
        );
        assert!(Schedule::parse("rate(1 day)").unwrap().fires_after(now));
        // The last possible year, and leap days.
        assert!(
            Schedule::parse("cron(0 0 29 2 ? 2028)")
                .unwrap()
                .fires_after(now)
        );
    }

    #[test]
    fn huge_rates_are_refused_not_a_panic() {
        ok("rate(36500 days)");
        for huge in [
            "rate(36501 days)",
            "rate(96000000 days)",
            "rate(18446744073709551615 minutes)",
            "rate(18446744073709551615 hours)",
            "rate(18446744073709551615 days)",
        ] {
            bad(huge, "longer than 36500 days");
        }
        let longest = Schedule::parse("rate(36500 days)").unwrap();
        assert_eq!(longest.longest_gap(), Some(Duration::days(36_500)));
        assert_eq!(
            longest.firings(reference_start(), Duration::days(35)).len(),
            1
        );
    }

    #[test]
    fn accepts_what_eventbridge_accepts() {
        for s in [
            "rate(1 minute)",
            "rate(5 minutes)",
            "rate(1 hour)",
            "rate(90 minutes)",
            "rate(7 days)",
            "cron(0 * * * ? *)",
            "cron(0 0,8,16 * * ? *)",
            "cron(0/15 * * * ? *)",
            "cron(15 10 ? * 6L 2025-2030)",
            "cron(0 18 ? * MON-FRI *)",
            "cron(0 8 1 * ? *)",
            "cron(0 10 L * ? *)",
            "cron(0 10 15W * ? *)",
            "cron(0 10 ? * 2#1 *)",
            "cron(5,35 14 * JAN-MAR ? *)",
        ] {
            ok(s);
        }
    }

    #[test]
    fn refuses_what_eventbridge_refuses() {
        bad("rate(1 minutes)", "rate(1 minute)");
        bad("rate(5 minute)", "rate(5 minutes)");
        bad("rate(0 hours)", ">= 1");
        bad("rate(5 weeks)", "unit");
        bad("rate(5  minutes)", "one space");
        bad("cron(0 * * * * *)", "exactly one");
        bad("cron(0 * ? * ? *)", "exactly one");
        bad("cron(0 * * * ?)", "6 fields");
        bad("cron(60 * * * ? *)", "out of range in the minutes field");
        bad("cron(0 24 * * ? *)", "hours");
        bad("cron(0 0 32 * ? *)", "day-of-month");
        bad("cron(0 0 ? * 8 *)", "day-of-week");
        bad("cron(0 0 ? * 2#6 *)", "'#'");
        bad("cron(0 0 ? 13 * *)", "month");
        bad("cron(0 0 * * ? 1969)", "year");
        bad("cron(0 0 * * ? 2020)", "never fires");
        bad("every hour", "rate(...) or cron(...)");
        bad(" rate(1 hour)", "spaces");
    }

    #[test]
    fn gaps() {
        let hourly = Schedule::parse("cron(0 * * * ? *)").unwrap();
        assert_eq!(hourly.longest_gap(), Some(Duration::hours(1)));
        let thrice = Schedule::parse("cron(0 0,8,16 * * ? *)").unwrap();
        assert_eq!(thrice.longest_gap(), Some(Duration::hours(8)));
        let weekdays = Schedule::parse("cron(0 12 ? * MON-FRI *)").unwrap();
        assert_eq!(weekdays.longest_gap(), Some(Duration::days(3)));
        let rate = Schedule::parse("rate(90 minutes)").unwrap();
        assert_eq!(rate.longest_gap(), Some(Duration::minutes(90)));
    }

    #[test]
    fn snapshot_gap_follows_interval() {
        let hourly = Schedule::parse("cron(0 * * * ? *)").unwrap();
        assert_eq!(
            longest_snapshot_gap(&hourly, Duration::hours(8)),
            Some(Duration::hours(8))
        );
        let every_5h = Schedule::parse("rate(5 hours)").unwrap();
        // interval 8h, fires every 5h: snapshots at 0,10,20,...: gap 10h
        assert_eq!(
            longest_snapshot_gap(&every_5h, Duration::hours(8)),
            Some(Duration::hours(10))
        );
    }
}
