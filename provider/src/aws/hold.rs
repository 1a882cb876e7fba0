//! The incident hold on a policy's deletes: one tag on its delete state machine. While it is
//! there the delete task deletes nothing; the provider may place it (a tamper event, an
//! incident alarm) but never lifts it: only an operator's `release` does (`cli/hold_cmd.rs`;
//! the provider's role has no `states:UntagResource`).

use aws_sdk_sfn::types::Tag;

use super::{Aws, Finished, classify};
use crate::error::ProviderError;
use crate::inventory::tags;

/// The hold on `machine`, if any (the tag's value, `<RFC 3339> <reason>`).
pub async fn read_hold(
    aws: &Aws,
    region: &str,
    machine: &str,
) -> Result<Option<String>, ProviderError> {
    let out = aws
        .sfn(region)
        .list_tags_for_resource()
        .resource_arn(machine)
        .send()
        .await
        .map_err(|e| classify(e, &format!("reading the hold on {machine}")))?;
    Ok(out
        .tags()
        .iter()
        .find(|t| t.key() == Some(tags::HOLD))
        .and_then(|t| t.value())
        .map(str::to_string))
}

/// Holds `machine`'s deletes with `value` (see `plan::hold::hold_value`).
pub async fn place_hold(
    aws: &Aws,
    region: &str,
    machine: &str,
    value: &str,
) -> Result<(), ProviderError> {
    aws.sfn(region)
        .tag_resource()
        .resource_arn(machine)
        .tags(Tag::builder().key(tags::HOLD).value(value).build())
        .send()
        .await
        .finished(&format!("holding the deletes of {machine}"))
}
