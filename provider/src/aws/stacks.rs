//! The account's CloudFormation stacks and their resources in one region (ListStacks,
//! ListStackResources): where `status` discovers deployed policies and the custom resource
//! finds who already holds a `PolicyId`.

use aws_sdk_cloudformation::types::{StackStatus, TemplateStage};
use rds_snapshot_policy_core::yaml::TemplateError;
use serde_json::Value;

use super::{Aws, classify};
use crate::error::ProviderError;
use crate::identity::StackResource;

/// Every resource of every stack not deleted, in `region`.
pub async fn stack_resources(aws: &Aws, region: &str) -> Result<Vec<StackResource>, ProviderError> {
    let cfn = aws.cloudformation(region);
    let mut stacks = Vec::new();
    let mut pages = cfn.list_stacks().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| classify(e, "listing stacks"))?;
        for summary in page.stack_summaries() {
            if summary.stack_status() != Some(&StackStatus::DeleteComplete)
                && let Some(id) = summary.stack_id()
            {
                stacks.push((
                    id.to_string(),
                    summary.stack_name().unwrap_or_default().to_string(),
                ));
            }
        }
    }
    let mut found = Vec::new();
    for (stack_id, stack_name) in stacks {
        let mut pages = cfn
            .list_stack_resources()
            .stack_name(&stack_id)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| classify(e, &format!("listing the resources of {stack_id}")))?;
            for r in page.stack_resource_summaries() {
                found.push(StackResource {
                    stack_id: stack_id.clone(),
                    stack_name: stack_name.clone(),
                    logical_id: r.logical_resource_id().unwrap_or_default().to_string(),
                    resource_type: r.resource_type().unwrap_or_default().to_string(),
                    physical_id: r.physical_resource_id().unwrap_or_default().to_string(),
                    status: r
                        .resource_status()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                });
            }
        }
    }
    Ok(found)
}

/// The error of a GetTemplate call, for the caller to classify.
pub type GetTemplateError = aws_sdk_cloudformation::error::SdkError<
    aws_sdk_cloudformation::operation::get_template::GetTemplateError,
    aws_sdk_cloudformation::config::http::HttpResponse,
>;

/// A stack's processed template (after its transforms) as JSON (a YAML body read as JSON);
/// the inner error says why a body that was read cannot be parsed.
pub async fn processed_template(
    aws: &Aws,
    region: &str,
    stack_id: &str,
) -> Result<Result<Value, TemplateError>, GetTemplateError> {
    let template = aws
        .cloudformation(region)
        .get_template()
        .stack_name(stack_id)
        .template_stage(TemplateStage::Processed)
        .send()
        .await?;
    let body = template.template_body().unwrap_or_default();
    Ok(serde_json::from_str::<Value>(body)
        .or_else(|_| rds_snapshot_policy_core::yaml::parse_template(body))
        .map_err(|e| {
            TemplateError(format!(
                "the template of stack {stack_id} cannot be read: {e}"
            ))
        }))
}
