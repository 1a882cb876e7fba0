//! Numbers and booleans as the task input carries them: JSON values, or the strings a
//! template parameter resolves to (`"7"`, `"true"`), which the expansion keeps as `Ref`s.
//! Serialization is serde's own (numbers and booleans).

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::value::{as_bool, as_whole, describe};

fn read<'de, D: Deserializer<'de>, T>(
    d: D,
    parse: fn(&Value) -> Option<T>,
    what: &str,
) -> Result<T, D::Error> {
    let v = Value::deserialize(d)?;
    parse(&v)
        .ok_or_else(|| serde::de::Error::custom(format!("expected {what}, got {}", describe(&v))))
}

pub fn whole<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    read(d, as_whole, "a whole number")
}

pub fn opt_whole<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    whole(d).map(Some)
}

pub fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    read(d, as_bool, "true or false")
}

pub fn opt_flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    flag(d).map(Some)
}
