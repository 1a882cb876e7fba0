//! Numbers and booleans as the task input carries them: JSON values, or the strings a
//! template parameter resolves to (`"7"`, `"true"`), which the expansion keeps as `Ref`s.

use serde::{Deserialize, Deserializer, Serializer};
use serde_json::Value;

use crate::value::{as_bool, as_whole, describe};

fn expect<T, E: serde::de::Error>(value: Option<T>, what: &str, got: &Value) -> Result<T, E> {
    value.ok_or_else(|| E::custom(format!("expected {what}, got {}", describe(got))))
}

pub mod whole {
    use super::*;

    pub fn serialize<S: Serializer>(n: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(*n)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let v = Value::deserialize(d)?;
        expect(as_whole(&v), "a whole number", &v)
    }
}

pub mod opt_whole {
    use super::*;

    pub fn serialize<S: Serializer>(n: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
        match n {
            Some(n) => s.serialize_u64(*n),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        let v = Value::deserialize(d)?;
        expect(as_whole(&v), "a whole number", &v).map(Some)
    }
}

pub mod flag {
    use super::*;

    pub fn serialize<S: Serializer>(b: &bool, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bool(*b)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        let v = Value::deserialize(d)?;
        expect(as_bool(&v), "true or false", &v)
    }
}

pub mod opt_flag {
    use super::*;

    pub fn serialize<S: Serializer>(b: &Option<bool>, s: S) -> Result<S::Ok, S::Error> {
        match b {
            Some(b) => s.serialize_bool(*b),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        let v = Value::deserialize(d)?;
        expect(as_bool(&v), "true or false", &v).map(Some)
    }
}
