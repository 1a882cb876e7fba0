//! Both Lambda binaries through the real Lambda runtime API (`cargo lambda watch`): the macro
//! contract, a provider task against the emulator, its error names, and a custom resource.

mod support;

use serde_json::json;
use support::*;

#[tokio::test]
#[ignore = "needs make test"]
async fn lambdas_answer_through_the_runtime_api() {
    let _serial = exclusive().await;
    let em = emulator();
    let src = em.aws(SOURCE, SOURCE_REGION).await;
    let key = shared_key(&src, &[DR]).await;
    create_instance(&src, SOURCE_REGION, "lr-orders", Some(&key), &[]).await;
    // The Lambdas act as the provider's role, as on AWS.
    em.provider(SOURCE, SOURCE_REGION).await;
    let creds = em
        .credentials_as(
            SOURCE,
            &format!("rds-snapshot-policy-provider-{SOURCE_REGION}"),
        )
        .await;
    let watch = LambdaWatch::start(&[
        ("AWS_ENDPOINT_URL", em.endpoint.clone()),
        ("AWS_REGION", SOURCE_REGION.to_string()),
        ("AWS_ACCESS_KEY_ID", creds.access_key_id().to_string()),
        (
            "AWS_SECRET_ACCESS_KEY",
            creds.secret_access_key().to_string(),
        ),
        (
            "AWS_SESSION_TOKEN",
            creds.session_token().unwrap_or_default().to_string(),
        ),
        ("RSP_ALLOWED_DESTINATION_ACCOUNTS", DR.to_string()),
        ("RSP_ALLOW_LOCAL_RESPONSE_URL", "1".to_string()),
    ]);

    // The macro: success, failure with every error, and garbage.
    let fragment = json!({"Resources": {"P": {"Type": "Custom::RdsSnapshotPolicy",
        "Properties": {"Role": "Source", "DBInstanceIdentifier": "lr-orders", "DestinationAccount": DR}}}});
    let ok = watch
        .invoke(
            "rds-snapshot-policy-macro",
            &json!({"requestId": "m1", "region": SOURCE_REGION,
        "accountId": SOURCE, "fragment": fragment, "params": {}, "templateParameterValues": {}}),
        )
        .await;
    assert_eq!(ok["requestId"], "m1");
    assert_eq!(ok["status"], "success", "{ok}");
    assert!(ok["fragment"]["Resources"]["PTakeStateMachine"].is_object());
    let bad = watch.invoke("rds-snapshot-policy-macro", &json!({"requestId": "m2",
        "fragment": {"Resources": {"P": {"Type": "Custom::RdsSnapshotPolicy", "Properties": {"Role": "Source", "RetentionDays": "0"}}}}})).await;
    assert_eq!(bad["status"], "failure");
    let message = bad["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("Resource [P] property [RetentionDays]")
            && message.contains("Resource [P] property [InstanceNamePattern]"),
        "{message}"
    );
    let garbage = watch
        .invoke("rds-snapshot-policy-macro", &json!([1, 2, 3]))
        .await;
    assert_eq!(garbage["status"], "failure");

    // The provider runs only tasks of running executions of deployed state machines: a task
    // sent straight to it is refused and changes nothing (the demo runs the deployed path).
    let policy = normalized(
        &json!({"Role": "Source", "PolicyId": "lr", "DBInstanceIdentifier": "lr-orders", "DestinationAccounts": [DR]}),
    );
    let direct = watch
        .invoke(
            "rds-snapshot-policy-provider",
            &json!({"version": 3, "action": "take", "policy": policy}),
        )
        .await;
    assert_eq!(direct["errorType"], "NotDeployed", "{direct}");
    assert!(
        direct["errorMessage"]
            .as_str()
            .unwrap()
            .contains("names no Step Functions execution"),
        "{direct}"
    );
    let forged = watch
        .invoke(
            "rds-snapshot-policy-provider",
            &json!({"version": 4, "action": "delete", "policy": policy,
                "now": "9999-12-31T00:00:00Z",
                "execution": format!("arn:aws:states:{SOURCE_REGION}:{SOURCE}:execution:lr-delete:forged"),
                "origin": {"stack": format!("arn:aws:cloudformation:{SOURCE_REGION}:{SOURCE}:stack/app/1"), "stateMachine": "PDeleteStateMachine"}}),
        )
        .await;
    assert_eq!(forged["errorType"], "NotDeployed", "{forged}");
    assert!(
        forged["errorMessage"]
            .as_str()
            .unwrap()
            .contains("does not exist"),
        "{forged}"
    );
    assert!(
        snapshots(&src, SOURCE_REGION, "lr-").await.is_empty(),
        "a refused task writes nothing"
    );
    let invalid = watch
        .invoke(
            "rds-snapshot-policy-provider",
            &json!({"action": "take", "policy": {"Role": "Source"}}),
        )
        .await;
    // A policy the expansion could never write is refused, naming the field.
    assert_eq!(invalid["errorType"], "InputInvalid", "{invalid}");
    assert!(
        invalid["errorMessage"]
            .as_str()
            .unwrap()
            .contains("missing field `DeleteOldSnapshots`"),
        "{invalid}"
    );
    let unknown = watch
        .invoke(
            "rds-snapshot-policy-provider",
            &json!({"action": "explode", "policy": policy}),
        )
        .await;
    assert_eq!(unknown["errorType"], "InputInvalid", "{unknown}");

    // The provider as the custom resource: CloudFormation gets its answer.
    let server = ResponseServer::start(0).await;
    let event = cr_event(
        "Create",
        &server.url,
        json!({"ServiceToken": "arn", "Role": "Source", "PolicyId": "lr",
        "DBInstanceIdentifier": "lr-orders", "DestinationAccounts": [DR]}),
        None,
    );
    let answered = watch.invoke("rds-snapshot-policy-provider", &event).await;
    assert_eq!(answered["Status"], "SUCCESS", "{answered}");
    assert_eq!(server.responses()[0]["Status"], "SUCCESS");
    assert_eq!(server.responses()[0]["Data"]["Databases"], "lr-orders");
}
