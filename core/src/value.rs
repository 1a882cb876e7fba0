//! Reading CloudFormation property values: intrinsics, parameter references, and the
//! seed's string forms of booleans and numbers.

use serde_json::{Map, Value};

/// A string property that is either known now or resolved by CloudFormation at deploy time.
#[derive(Debug, Clone, PartialEq)]
pub enum Text {
    Literal(String),
    /// An intrinsic function (`Ref`, `Fn::GetAtt`, `Fn::Sub`, ...) passed through untouched.
    Intrinsic(Value),
}

impl Text {
    pub fn literal(&self) -> Option<&str> {
        match self {
            Text::Literal(s) => Some(s),
            Text::Intrinsic(_) => None,
        }
    }

    pub fn to_value(&self) -> Value {
        match self {
            Text::Literal(s) => Value::String(s.clone()),
            Text::Intrinsic(v) => v.clone(),
        }
    }
}

/// True for `{"Ref": ..}`, `{"Fn::...": ..}` and `{"Condition": ..}` objects.
pub fn is_intrinsic(value: &Value) -> bool {
    match value {
        Value::Object(map) if map.len() == 1 => map
            .keys()
            .next()
            .is_some_and(|k| k == "Ref" || k == "Condition" || k.starts_with("Fn::")),
        _ => false,
    }
}

/// The intrinsic functions CloudFormation knows (and `Condition`, `Ref`).
pub const KNOWN_INTRINSICS: [&str; 17] = [
    "Ref",
    "Condition",
    "Fn::Base64",
    "Fn::Cidr",
    "Fn::FindInMap",
    "Fn::GetAtt",
    "Fn::GetAZs",
    "Fn::ImportValue",
    "Fn::Join",
    "Fn::Select",
    "Fn::Split",
    "Fn::Sub",
    "Fn::Transform",
    "Fn::And",
    "Fn::Equals",
    "Fn::If",
    "Fn::Not",
];

/// Finds one-key maps named like an intrinsic that CloudFormation does not know
/// (`Fn::Bogus`, `Fn::Or` is known too), returning (path, name).
pub fn find_unknown_intrinsics(value: &Value, path: &str, found: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            if map.len() == 1
                && let Some(key) = map.keys().next()
                && key.starts_with("Fn::")
                && !KNOWN_INTRINSICS.contains(&key.as_str())
                && !matches!(
                    key.as_str(),
                    "Fn::Or" | "Fn::Length" | "Fn::ToJsonString" | "Fn::ForEach"
                )
            {
                found.push((path.to_string(), key.clone()));
            }
            for (key, inner) in map {
                let at = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                find_unknown_intrinsics(inner, &at, found);
            }
        }
        Value::Array(items) => {
            for (i, inner) in items.iter().enumerate() {
                find_unknown_intrinsics(inner, &format!("{path}[{i}]"), found);
            }
        }
        _ => {}
    }
}

/// Finds `Fn::ImportValue` anywhere below `value`, returning the paths (macros cannot see it).
pub fn find_import_values(value: &Value, path: &str, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                if key == "Fn::ImportValue" {
                    found.push(path.to_string());
                } else {
                    find_import_values(inner, &join_path(path, key), found);
                }
            }
        }
        Value::Array(items) => {
            for (i, inner) in items.iter().enumerate() {
                find_import_values(inner, &format!("{path}[{i}]"), found);
            }
        }
        _ => {}
    }
}

fn join_path(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// What the expansion knows about the template's surroundings.
#[derive(Debug, Clone, Default)]
pub struct Resolver {
    /// `templateParameterValues` of the macro event (or `--param` on the CLI).
    pub parameters: Map<String, Value>,
    /// Names of parameters declared in the template (a `Ref` to anything else is a resource).
    pub declared_parameters: Vec<String>,
    pub region: Option<String>,
    pub account_id: Option<String>,
    /// See `ExpandContext::now`.
    pub now: Option<chrono::DateTime<chrono::Utc>>,
}

/// The result of looking through parameter references.
pub enum Resolved {
    Value(Value),
    /// An intrinsic that only CloudFormation can evaluate.
    Deferred(Value),
}

impl Resolver {
    /// Replaces a `Ref` to a template parameter (or to `AWS::Region` / `AWS::AccountId`) by its
    /// value where known; leaves other intrinsics deferred.
    pub fn resolve(&self, value: &Value) -> Resolved {
        if let Some(name) = value
            .as_object()
            .filter(|m| m.len() == 1)
            .and_then(|m| m.get("Ref"))
            .and_then(Value::as_str)
        {
            if let Some(v) = self.parameters.get(name) {
                return Resolved::Value(v.clone());
            }
            match name {
                "AWS::Region" if self.region.is_some() => {
                    return Resolved::Value(Value::String(self.region.clone().unwrap_or_default()));
                }
                "AWS::AccountId" if self.account_id.is_some() => {
                    return Resolved::Value(Value::String(
                        self.account_id.clone().unwrap_or_default(),
                    ));
                }
                _ => {}
            }
        }
        if is_intrinsic(value) {
            Resolved::Deferred(value.clone())
        } else {
            Resolved::Value(value.clone())
        }
    }
}

/// Describes a JSON value briefly for error messages: `"0"`, `12`, `an object`.
pub fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".to_string(),
        Value::Array(_) => "a list".to_string(),
        Value::Object(m) if m.get("Ref").and_then(Value::as_str).is_some() => format!(
            "a Ref to {} (no value known when the template is expanded)",
            m.get("Ref").and_then(Value::as_str).unwrap_or_default()
        ),
        Value::Object(_) if is_intrinsic(value) => format!(
            "the intrinsic {}",
            value
                .as_object()
                .and_then(|m| m.keys().next())
                .map(String::as_str)
                .unwrap_or("function")
        ),
        Value::Object(_) => "an object".to_string(),
    }
}

/// Booleans: true/false, and the seed's "TRUE"/"FALSE" strings in any case.
pub fn as_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// Whole numbers: JSON integers and numeric strings (CloudFormation parameters are strings).
pub fn as_whole(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 1e15)
                .map(|f| f as u64)
        }),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<u64>().ok().or_else(|| {
                s.parse::<f64>()
                    .ok()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 1e15)
                    .map(|f| f as u64)
            })
        }
        _ => None,
    }
}

/// Levenshtein distance, for did-you-mean suggestions.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_ascii_lowercase().chars().collect();
    let b: Vec<char> = b.to_ascii_lowercase().chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest of `candidates` to `word`, if close enough to be a plausible typo.
pub fn did_you_mean<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| *d <= (c.len() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn coercions() {
        assert_eq!(as_bool(&json!("TRUE")), Some(true));
        assert_eq!(as_bool(&json!("False")), Some(false));
        assert_eq!(as_bool(&json!("yes")), None);
        assert_eq!(as_whole(&json!("7")), Some(7));
        assert_eq!(as_whole(&json!(7.0)), Some(7));
        assert_eq!(as_whole(&json!("7.5")), None);
        assert_eq!(as_whole(&json!(-1)), None);
    }

    #[test]
    fn suggestions() {
        let names = ["RetentionDays", "CopyRetentionDays", "BackupInterval"];
        assert_eq!(
            did_you_mean("RetentionDay", names.iter().copied()),
            Some("RetentionDays")
        );
        assert_eq!(
            did_you_mean("retentiondays", names.iter().copied()),
            Some("RetentionDays")
        );
        assert_eq!(did_you_mean("Zebra", names.iter().copied()), None);
    }
}
