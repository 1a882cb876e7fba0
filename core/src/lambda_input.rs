//! The payload type of both Lambda binaries. lambda_runtime answers an event it cannot
//! deserialize with its own error type (`&lambda_runtime::deserializer::DeserializeError`),
//! outside the contract; this type never fails to deserialize, so every event reaches the
//! handler, which answers unreadable ones with a contract error.

use serde::{Deserialize, Deserializer};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::contract::MAX_EVENT_DEPTH;

/// A Lambda event as received: its text, or why it could not be read.
#[derive(Debug)]
pub enum LambdaInput {
    Raw(Box<RawValue>),
    Unreadable(String),
}

impl<'de> Deserialize<'de> for LambdaInput {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // A raw value is scanned without recursion or a tree: any depth, no allocation per node.
        Ok(match Box::<RawValue>::deserialize(deserializer) {
            Ok(raw) => LambdaInput::Raw(raw),
            Err(e) => LambdaInput::Unreadable(format!("the event is not JSON: {e}")),
        })
    }
}

crate::error::refusal!(
    /// Why a Lambda event is refused before any work: not JSON, too large, too deep.
    EventError
);

impl LambdaInput {
    /// Reads the JSON tree of an event of at most `max_bytes`; the error says why not.
    pub fn parse(&self, max_bytes: usize) -> Result<Value, EventError> {
        self.read(max_bytes).map_err(EventError)
    }

    fn read(&self, max_bytes: usize) -> Result<Value, String> {
        let raw = match self {
            LambdaInput::Raw(raw) => raw.get(),
            LambdaInput::Unreadable(reason) => return Err(reason.clone()),
        };
        if raw.len() > max_bytes {
            return Err(format!(
                "the event is {} bytes, more than the {max_bytes} bytes this function reads",
                raw.len()
            ));
        }
        serde_json::from_str(raw).map_err(|e| {
            if e.to_string().contains("recursion limit") {
                format!("the event is nested more than {MAX_EVENT_DEPTH} levels deep")
            } else {
                format!("the event is not JSON: {e}")
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str, max: usize) -> Result<Value, String> {
        // The runtime deserializes through serde_path_to_error, as here.
        let de = &mut serde_json::Deserializer::from_str(text);
        let input: LambdaInput = serde_path_to_error::deserialize(de).expect("never fails");
        input.parse(max).map_err(String::from)
    }

    #[test]
    fn every_event_is_read_or_refused_with_a_reason() {
        assert_eq!(
            read(r#"{"a": [1]}"#, 100),
            Ok(serde_json::json!({"a": [1]}))
        );
        assert_eq!(read(r#""text""#, 100), Ok(Value::from("text")));
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(
            read(&deep, 1 << 20),
            Err("the event is nested more than 128 levels deep".to_string())
        );
        let err = read(&deep, 1000).unwrap_err();
        assert!(
            err.contains("200000 bytes, more than the 1000 bytes"),
            "{err}"
        );
        let err = read("not json {", 100).unwrap_err();
        assert!(err.starts_with("the event is not JSON: "), "{err}");
        let err = read("", 100).unwrap_err();
        assert!(err.starts_with("the event is not JSON: "), "{err}");
    }
}
