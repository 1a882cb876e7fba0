//! Typed access to a Properties block, recording every problem in [`Diagnostics`].

use serde_json::{Map, Value};

use crate::error::Diagnostics;
use crate::schedule::Schedule;
use crate::value::{Resolved, Resolver, Text, as_bool, as_whole, describe};

pub(crate) struct Reader<'a> {
    pub props: &'a Map<String, Value>,
    pub resolver: &'a Resolver,
    pub diag: &'a mut Diagnostics,
}

const NEEDS_LITERAL: &str = "must be known when the template is expanded (a literal, or a Ref to a template parameter with a value)";

impl Reader<'_> {
    pub fn has(&self, name: &str) -> bool {
        self.props.contains_key(name)
    }

    /// The value with parameter references resolved; `None` when absent.
    fn get(&self, name: &str) -> Option<Resolved> {
        self.props.get(name).map(|v| self.resolver.resolve(v))
    }

    /// A value that must be known at expansion time; errors on deferred intrinsics.
    fn literal(&mut self, name: &str) -> Option<Value> {
        match self.get(name)? {
            Resolved::Value(v) => Some(v),
            Resolved::Deferred(v) => {
                self.diag
                    .error(name, format!("{NEEDS_LITERAL}, got {}", describe(&v)));
                None
            }
        }
    }

    pub fn boolean(&mut self, name: &str, default: bool) -> bool {
        let Some(value) = self.literal(name) else {
            return default;
        };
        as_bool(&value).unwrap_or_else(|| {
            self.diag.error(
                name,
                format!(
                    "must be true or false (\"TRUE\"/\"FALSE\" also accepted), got {}",
                    describe(&value)
                ),
            );
            default
        })
    }

    pub fn whole(&mut self, name: &str, default: u64, min: u64, max: u64) -> u64 {
        let Some(value) = self.literal(name) else {
            return default;
        };
        match as_whole(&value) {
            Some(n) if (min..=max).contains(&n) => n,
            Some(n) if n > max => {
                self.diag.error(
                    name,
                    format!("must be at most {max}, got {}", describe(&value)),
                );
                default
            }
            _ => {
                self.diag.error(
                    name,
                    format!("must be a whole number >= {min}, got {}", describe(&value)),
                );
                default
            }
        }
    }

    /// A string known at expansion time.
    pub fn string(&mut self, name: &str) -> Option<String> {
        let value = self.literal(name)?;
        match value {
            Value::String(s) => Some(s),
            other => {
                self.diag
                    .error(name, format!("must be a string, got {}", describe(&other)));
                None
            }
        }
    }

    /// A string that may be an intrinsic evaluated by CloudFormation.
    pub fn text(&mut self, name: &str) -> Option<Text> {
        match self.get(name)? {
            Resolved::Deferred(v) => Some(Text::Intrinsic(v)),
            Resolved::Value(Value::String(s)) => Some(Text::Literal(s)),
            Resolved::Value(other) => {
                self.diag
                    .error(name, format!("must be a string, got {}", describe(&other)));
                None
            }
        }
    }

    /// An account ID string (a YAML integer is accepted and checked for 12 digits).
    pub fn account(&mut self, property: &str, value: &Value) -> Option<Text> {
        match self.resolver.resolve(value) {
            Resolved::Deferred(v) => Some(Text::Intrinsic(v)),
            Resolved::Value(v) => {
                let text = match &v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    other => {
                        self.diag.error(
                            property,
                            format!("must be a 12-digit AWS account ID, got {}", describe(other)),
                        );
                        return None;
                    }
                };
                if crate::spec::is_account_id(&text) {
                    Some(Text::Literal(text))
                } else {
                    let hint = if matches!(v, Value::Number(_)) {
                        " (quote account IDs in YAML so leading zeros survive)"
                    } else {
                        ""
                    };
                    self.diag.error(
                        property,
                        format!(
                            "must be a 12-digit AWS account ID, got {}{hint}",
                            describe(&v)
                        ),
                    );
                    None
                }
            }
        }
    }

    /// A list property: a JSON list, a comma-separated string, or an intrinsic for a list.
    pub fn list(&mut self, name: &str) -> Option<Result<Vec<Value>, Value>> {
        match self.get(name)? {
            Resolved::Value(Value::Array(items)) => Some(Ok(items)),
            Resolved::Value(Value::String(s)) => Some(Ok(s
                .split(',')
                .map(|p| Value::String(p.trim().to_string()))
                .filter(|v| v.as_str() != Some(""))
                .collect())),
            Resolved::Deferred(v) => Some(Err(v)),
            Resolved::Value(other) => {
                self.diag.error(
                    name,
                    format!("must be a list of strings, got {}", describe(&other)),
                );
                None
            }
        }
    }

    pub fn schedule(&mut self, name: &str, default: &str) -> Schedule {
        let text = if self.has(name) {
            self.string(name)
        } else {
            None
        };
        let fallback = || {
            Schedule::parse(default).unwrap_or(Schedule::Rate {
                expression: "rate(1 hour)".into(),
                minutes: 60,
            })
        };
        // The seed writes schedules as a bare cron body (`0 0,8,16 * * ? *`): six fields
        // without `cron(...)`. EventBridge needs the wrapper; read it as the seed meant.
        let text = text.map(|t| {
            let bare = !t.trim_start().starts_with("cron(")
                && !t.trim_start().starts_with("rate(")
                && t.split_whitespace().count() == 6;
            let wrapped = format!("cron({})", t.trim());
            if bare && Schedule::parse(&wrapped).is_ok() {
                self.diag.warn(
                    name,
                    format!("{t:?} is a bare cron body (the seed's form): read as {wrapped}; write it so"),
                );
                wrapped
            } else {
                t
            }
        });
        match text {
            None => fallback(),
            Some(t) => match Schedule::parse(&t) {
                Ok(schedule) => {
                    if let Some(now) = self.resolver.now
                        && !schedule.fires_after(now)
                    {
                        self.diag.error(
                            name,
                            format!(
                                "{t:?} never fires after {}: the policy would never act",
                                now.format("%Y-%m-%d %H:%M UTC")
                            ),
                        );
                    }
                    schedule
                }
                Err(why) => {
                    self.diag.error(name, why);
                    fallback()
                }
            },
        }
    }
}
