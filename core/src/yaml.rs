//! Templates in JSON or YAML, with CloudFormation's short-form tags (`!Ref`, `!Sub`, ...).

use serde_json::{Map, Number, Value, json};
use serde_yaml_ng::Value as Yaml;

crate::error::refusal!(
    /// Why a template cannot be read or written.
    TemplateError
);

/// Parses JSON or YAML text into a JSON value with intrinsics in their long form.
pub fn parse_template(text: &str) -> Result<Value, TemplateError> {
    read_template(text).map_err(TemplateError)
}

fn read_template(text: &str) -> Result<Value, String> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') {
        return serde_json::from_str::<StrictJson>(text)
            .map(|v| v.0)
            .map_err(|e| format!("invalid JSON: {e}"));
    }
    let yaml: Yaml = serde_yaml_ng::from_str(text).map_err(|e| format!("invalid YAML: {e}"))?;
    to_json(yaml)
}

/// A JSON value read refusing duplicate keys: CloudFormation's YAML parser refuses them, and
/// serde_json's last-wins would silently drop a repeated logical ID or property.
struct StrictJson(Value);

impl<'de> serde::Deserialize<'de> for StrictJson {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(StrictJson)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictJson(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(serde::de::Error::custom(format!(
                    "duplicate key {key:?} (CloudFormation refuses it; the second would silently replace the first)"
                )));
            }
            let StrictJson(value) = map.next_value()?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

/// Renders a template as YAML (intrinsics in long form, which CloudFormation accepts).
/// YAML text of `value`. Strings a YAML 1.1 reader (PyYAML, cfn-lint, sceptre) would take for
/// a date, such as `2012-10-17`, are quoted: the YAML 1.2 emitter leaves them plain.
pub fn to_yaml(value: &Value) -> Result<String, TemplateError> {
    let text = serde_yaml_ng::to_string(value)
        .map_err(|e| TemplateError(format!("cannot render YAML: {e}")))?;
    Ok(quote_dates(&text))
}

/// Quotes plain scalars that look like YAML 1.1 timestamps, outside block scalars.
fn quote_dates(text: &str) -> String {
    let date =
        regex::Regex::new(r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ].*)?$").expect("valid regex");
    let mut out = String::with_capacity(text.len() + 64);
    // The indentation a block scalar's lines are deeper than, while inside one.
    let mut block: Option<usize> = None;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches('\n');
        let indent = body.len() - body.trim_start().len();
        if let Some(parent) = block {
            if body.trim().is_empty() || indent > parent {
                out.push_str(line);
                continue;
            }
            block = None;
        }
        let trimmed = body.trim_end();
        if trimmed.ends_with('|')
            || trimmed.ends_with("|-")
            || trimmed.ends_with('>')
            || trimmed.ends_with(">-")
        {
            block = Some(indent);
        }
        // The value part: after "key: " or "- ".
        let split = body
            .find(": ")
            .map(|i| i + 2)
            .or_else(|| body.trim_start().starts_with("- ").then_some(indent + 2));
        match split {
            Some(at) if date.is_match(&body[at..]) => {
                out.push_str(&body[..at]);
                out.push('\'');
                out.push_str(&body[at..]);
                out.push('\'');
                if line.ends_with('\n') {
                    out.push('\n');
                }
            }
            _ => out.push_str(line),
        }
    }
    out
}

fn to_json(yaml: Yaml) -> Result<Value, String> {
    Ok(match yaml {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(b),
        Yaml::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Number(i.into())
            } else if let Some(u) = n.as_u64() {
                Value::Number(u.into())
            } else {
                n.as_f64()
                    .and_then(Number::from_f64)
                    .map(Value::Number)
                    .ok_or_else(|| format!("number {n} cannot be represented in JSON"))?
            }
        }
        Yaml::String(s) => Value::String(s),
        Yaml::Sequence(items) => {
            Value::Array(items.into_iter().map(to_json).collect::<Result<_, _>>()?)
        }
        Yaml::Mapping(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let key = match k {
                    Yaml::String(s) => s,
                    Yaml::Number(n) => n.to_string(),
                    Yaml::Bool(b) => b.to_string(),
                    other => return Err(format!("mapping keys must be strings, got {other:?}")),
                };
                out.insert(key, to_json(v)?);
            }
            Value::Object(out)
        }
        Yaml::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let inner = to_json(tagged.value)?;
            short_form(name, inner)?
        }
    })
}

fn short_form(name: &str, inner: Value) -> Result<Value, String> {
    Ok(match name {
        "Ref" => json!({"Ref": inner}),
        "Condition" => json!({"Condition": inner}),
        "GetAtt" => match inner {
            Value::String(s) => match s.split_once('.') {
                Some((resource, attribute)) => json!({"Fn::GetAtt": [resource, attribute]}),
                None => return Err(format!("!GetAtt {s:?} must be Resource.Attribute")),
            },
            other => json!({"Fn::GetAtt": other}),
        },
        "Base64" | "Cidr" | "FindInMap" | "GetAZs" | "ImportValue" | "Join" | "Select"
        | "Split" | "Sub" | "Transform" | "And" | "Equals" | "If" | "Not" | "Or"
        | "ToJsonString" | "Length" | "ForEach" => json!({format!("Fn::{name}"): inner}),
        other => return Err(format!("unknown YAML tag !{other}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_forms() {
        let v = parse_template(
            "A: !Ref X\nB: !GetAtt Db.Endpoint.Address\nC: !Sub 'a-${X}'\nD: !Join [',', [!Ref Y, b]]\nE: 012\n",
        )
        .unwrap();
        assert_eq!(v["A"], json!({"Ref": "X"}));
        assert_eq!(v["B"], json!({"Fn::GetAtt": ["Db", "Endpoint.Address"]}));
        assert_eq!(v["C"], json!({"Fn::Sub": "a-${X}"}));
        assert_eq!(v["D"], json!({"Fn::Join": [",", [{"Ref": "Y"}, "b"]]}));
        assert!(
            parse_template("A: !Bogus x")
                .unwrap_err()
                .0
                .contains("!Bogus")
        );
    }
}

#[cfg(test)]
mod strict_tests {
    use super::*;

    #[test]
    fn json_duplicate_keys_are_refused() {
        let twice = r#"{"Resources": {"P": {"Type": "A"}, "P": {"Type": "B"}}}"#;
        let err = parse_template(twice).unwrap_err().0;
        assert!(err.contains("duplicate key \"P\""), "{err}");
        assert!(err.contains("line 1"), "{err}");
        let nested =
            r#"{"Resources": {"P": {"Properties": {"Role": "Source", "Role": "Destination"}}}}"#;
        assert!(
            parse_template(nested)
                .unwrap_err()
                .0
                .contains("duplicate key \"Role\"")
        );
        let fine = parse_template(r#"{"A": [1, 2.5, "x", null, true, {"B": {}}]}"#).unwrap();
        assert_eq!(fine, json!({"A": [1, 2.5, "x", null, true, {"B": {}}]}));
    }
}

#[cfg(test)]
mod output_tests {
    use super::*;

    #[test]
    fn date_like_strings_are_quoted_and_read_back_as_strings() {
        let value = json!({
            "AWSTemplateFormatVersion": "2010-09-09",
            "Policy": {"Version": "2012-10-17", "List": ["2026-06-01T00:00:00Z", "x"]},
            "Text": "line one\n2012-10-17 stays in the block\n",
            "Plain": "not 2012-10-17",
        });
        let text = to_yaml(&value).unwrap();
        assert!(
            text.contains("AWSTemplateFormatVersion: '2010-09-09'"),
            "{text}"
        );
        assert!(text.contains("Version: '2012-10-17'"), "{text}");
        assert!(text.contains("- '2026-06-01T00:00:00Z'"), "{text}");
        assert!(!text.contains("'2012-10-17 stays"), "{text}");
        assert_eq!(parse_template(&text).unwrap(), value);
    }
}
