//! The incident hold's value, pure: when (AWS's clock) and why, in the characters a Step
//! Functions tag value accepts, within its 256 characters.

use chrono::{DateTime, SecondsFormat, Utc};

/// Step Functions tag values: at most 256 characters of letters, digits, whitespace and
/// `_ . : / = + - @` (Step Functions API reference, Tag).
const MAX_VALUE: usize = 256;

fn allowed(c: char) -> bool {
    c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c)
}

/// `<RFC 3339> <reason>`: the reason (from an event, an alarm name or the operator) with any
/// other character as a space, cut to the tag's length.
pub fn hold_value(at: DateTime<Utc>, reason: &str) -> String {
    let cleaned: String = reason
        .chars()
        .map(|c| if allowed(c) { c } else { ' ' })
        .collect();
    let words = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    let text = format!(
        "{} {}",
        at.to_rfc3339_opts(SecondsFormat::Secs, true),
        if words.is_empty() {
            "no reason given"
        } else {
            words.as_str()
        }
    );
    text.chars().take(MAX_VALUE).collect()
}

/// When a hold began and why, from its tag value (`None`: not a time the tool wrote).
pub fn parse_hold(value: &str) -> (Option<DateTime<Utc>>, &str) {
    let (time, reason) = value.split_once(' ').unwrap_or((value, ""));
    (
        DateTime::parse_from_rfc3339(time)
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        reason,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn values_fit_a_tag_and_read_back() {
        let at = Utc.with_ymd_and_hms(2026, 6, 1, 7, 0, 0).unwrap();
        let v = hold_value(
            at,
            "tamper: DeleteDBSnapshot by arn:aws:sts::1:assumed-role/x/<img src=x>, \"quoted\"",
        );
        assert_eq!(
            v,
            "2026-06-01T07:00:00Z tamper: DeleteDBSnapshot by arn:aws:sts::1:assumed-role/x/ img src=x quoted"
        );
        assert!(v.chars().all(allowed));
        assert_eq!(parse_hold(&v).0, Some(at));
        assert!(parse_hold(&v).1.starts_with("tamper: DeleteDBSnapshot"));
        assert_eq!(hold_value(at, &"x".repeat(1000)).chars().count(), MAX_VALUE);
        assert!(hold_value(at, "<>").ends_with("no reason given"));
        assert_eq!(parse_hold("garbage").0, None);
    }
}
