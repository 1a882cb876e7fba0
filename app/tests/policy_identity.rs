//! One owner per PolicyId, against the emulator's CloudFormation: a stack holding a policy
//! resource (its custom resource answered as the provider answers) makes the provider refuse
//! another stack's Create of that PolicyId, and an Update that moves another policy onto it,
//! naming the owner; the owner's own Update passes, and a deleted owner frees the PolicyId.

mod support;

use provider::aws::Aws;
use provider::trust::Trust;
use serde_json::{Value, json};
use support::*;

const OWNED: &str = "pi-owned";

async fn answer(aws: &Aws, event: Value) -> Value {
    let trust = Trust {
        allow_local_response_url: true,
        ..Trust::operator()
    };
    answer_as_provider(aws, event, trust).await
}

/// Creates stack `name` whose policy resource `Owned` is answered with `physical_id` (as the
/// provider would answer it); returns the stack's ID once it is complete.
async fn owner_stack(em: &Emulator, aws: &Aws, name: &str, physical_id: &str) -> String {
    let template = json!({"Resources": {
        "FunctionRole": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}}},
        "Function": {"Type": "AWS::Lambda::Function", "Properties": {"Runtime": "python3.12",
            "Handler": "index.handler", "Code": {"ZipFile": "def handler(e, c): pass"},
            "Role": {"Fn::GetAtt": ["FunctionRole", "Arn"]}}},
        "Owned": {"Type": "Custom::RdsSnapshotPolicy", "Properties": {
            "ServiceToken": {"Fn::GetAtt": ["Function", "Arn"]}, "PolicyId": OWNED}}
    }});
    let cfn = aws.cloudformation(SOURCE_REGION);
    let stack_id = cfn
        .create_stack()
        .stack_name(name)
        .template_body(template.to_string())
        .capabilities(aws_sdk_cloudformation::types::Capability::CapabilityIam)
        .send()
        .await
        .unwrap()
        .stack_id()
        .unwrap()
        .to_string();
    let status = reqwest::Client::new()
        .put(format!(
            "{}/cloudformation_{SOURCE_REGION}/cfnresponse",
            em.endpoint
        ))
        .body(
            json!({"Status": "SUCCESS", "PhysicalResourceId": physical_id,
            "StackId": stack_id, "RequestId": "r", "LogicalResourceId": "Owned", "Data": {}})
            .to_string(),
        )
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success(), "{status}");
    stack_id
}

fn event(request_type: &str, url: &str, stack: &str, policy_id: &str, old: Option<&str>) -> Value {
    let mut event = cr_event(
        request_type,
        url,
        json!({"Role": "Source", "PolicyId": policy_id, "DBInstanceIdentifier": "pi-orders",
            "DestinationAccounts": [DR]}),
        old.map(|id| {
            format!(
                "rds-snapshot-policy:{id}:source:db-instance/pi-orders:0123456789abcdef01234567"
            )
        })
        .as_deref(),
    );
    event["StackId"] = json!(stack);
    event
}

#[tokio::test]
#[ignore = "needs make test"]
async fn a_policy_id_has_one_owner_per_account_and_region() {
    let _serial = exclusive().await;
    let em = emulator();
    let src = em.aws(SOURCE, SOURCE_REGION).await;
    let key = shared_key(&src, &[DR]).await;
    create_instance(&src, SOURCE_REGION, "pi-orders", Some(&key), &[]).await;
    let owner = owner_stack(
        em,
        &src,
        "pi-owner",
        &format!(
            "rds-snapshot-policy:{OWNED}:source:db-instance/pi-orders:0123456789abcdef01234567"
        ),
    )
    .await;
    let server = ResponseServer::start(0).await;
    let copycat = "arn:aws:cloudformation:eu-west-1:111111111111:stack/pi-copycat/1";

    let refused = answer(&src, event("Create", &server.url, copycat, OWNED, None)).await;
    assert_eq!(refused["Status"], "FAILED", "{refused}");
    let reason = refused["Reason"].as_str().unwrap();
    assert!(
        reason.contains("PolicyId pi-owned is already held by stack pi-owner (resource Owned)"),
        "{reason}"
    );

    let moved = answer(
        &src,
        event("Update", &server.url, copycat, OWNED, Some("pi-other")),
    )
    .await;
    assert_eq!(moved["Status"], "FAILED", "{moved}");
    assert!(
        moved["Reason"]
            .as_str()
            .unwrap()
            .contains("already held by stack pi-owner"),
        "{moved}"
    );

    let own_update = answer(
        &src,
        event("Update", &server.url, &owner, OWNED, Some(OWNED)),
    )
    .await;
    assert_eq!(own_update["Status"], "SUCCESS", "{own_update}");
    let other_id = answer(&src, event("Create", &server.url, copycat, "pi-free", None)).await;
    assert_eq!(other_id["Status"], "SUCCESS", "{other_id}");

    src.cloudformation(SOURCE_REGION)
        .delete_stack()
        .stack_name(&owner)
        .send()
        .await
        .unwrap();
    let freed = answer(&src, event("Create", &server.url, copycat, OWNED, None)).await;
    assert_eq!(
        freed["Status"], "SUCCESS",
        "a deleted owner frees the PolicyId: {freed}"
    );
}
