//! The policy's custom resource: deploy-time checks against the emulator, answers received by a
//! local HTTP server, and the guarantees that CloudFormation is always answered.

mod support;

use std::time::Duration;

use provider::aws::Aws;
use provider::custom_resource::{Response, answer_with, fit_body};
use provider::trust::Trust;
use serde_json::{Map, Value, json};
use support::*;

/// The operator's trust (no allow-lists), answering the local response server.
fn local_operator() -> Trust {
    Trust {
        allow_local_response_url: true,
        ..Trust::operator()
    }
}

async fn answer(aws: &Aws, event: Value) -> Value {
    answer_trusting(aws, event, local_operator()).await
}

async fn answer_trusting(aws: &Aws, event: Value, trust: Trust) -> Value {
    answer_as_provider(aws, event, trust).await
}

fn source_properties(extra: Value) -> Value {
    let mut p = json!({
        "ServiceToken": "arn:aws:lambda:eu-west-1:111111111111:function:rds-snapshot-policy-provider",
        "Role": "Source", "PolicyId": "orders-stack-OrdersDbSnapshots", "DestinationAccounts": [DR],
        "GeneratedResources": {
            "StateMachines": {"take": "arn:aws:states:eu-west-1:111111111111:stateMachine:take",
                              "share": "arn:aws:states:eu-west-1:111111111111:stateMachine:share"},
            "NotificationTopic": "arn:aws:sns:eu-west-1:111111111111:topic"
        }
    });
    p.as_object_mut()
        .unwrap()
        .extend(extra.as_object().cloned().unwrap_or_default());
    p
}

#[tokio::test]
#[ignore = "needs make test"]
async fn create_succeeds_with_attributes_and_a_stable_physical_id() {
    let _serial = exclusive().await;
    let em = emulator();
    let src = em.aws(SOURCE, SOURCE_REGION).await;
    let key = shared_key(&src, &[DR]).await;
    create_instance(&src, SOURCE_REGION, "cr1-orders", Some(&key), &[]).await;
    let server = ResponseServer::start(0).await;
    let props = source_properties(json!({"DBInstanceIdentifier": "cr1-orders"}));
    let created = answer(&src, cr_event("Create", &server.url, props.clone(), None)).await;
    let body = &server.responses()[0];
    assert_eq!(body, &created);
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!(body["RequestId"], "req-Create");
    assert_eq!(body["LogicalResourceId"], "OrdersDbSnapshots");
    assert_eq!(
        body["Data"]["TakeStateMachineArn"],
        "arn:aws:states:eu-west-1:111111111111:stateMachine:take"
    );
    assert_eq!(
        body["Data"]["NotificationTopicArn"],
        "arn:aws:sns:eu-west-1:111111111111:topic"
    );
    assert_eq!(body["Data"]["Databases"], "cr1-orders");
    assert_eq!(body["Data"]["WorstCaseRpoMinutes"], "56");
    // SpreadSnapshots (the default without a written BackupSchedule): the database's own minute
    // of the 30-minute cadence, from the stack's account and region and the database.
    use rds_snapshot_policy_core::spread;
    let identity = spread::identity(SOURCE, SOURCE_REGION, "source:db-instance/cr1-orders");
    let minute = spread::snapshot_minute(&identity, 30);
    assert_eq!(body["Data"]["SnapshotMinute"], minute.to_string());
    assert_eq!(
        body["Data"]["BackupSchedule"],
        spread::schedule_at(30, minute)
    );
    let id = body["PhysicalResourceId"].as_str().unwrap().to_string();

    // The physical ID binds the stack and every property (the trust chain compares a task's
    // policy with it): a property update gives a new one that still holds the previous
    // properties' digest, for the executions started before the update.
    let digests = |id: &str| -> Vec<String> {
        provider::identity::digests_of(id)
            .into_iter()
            .map(str::to_string)
            .collect()
    };
    assert!(
        id.starts_with(
            "rds-snapshot-policy:orders-stack-OrdersDbSnapshots:source:db-instance/cr1-orders:"
        ),
        "{id}"
    );
    assert_eq!(digests(&id).len(), 1, "{id}");
    let mut changed = props.clone();
    changed["RetentionDays"] = json!(2);
    let mut update = cr_event("Update", &server.url, changed, Some(&id));
    update["OldResourceProperties"] = props.clone();
    let updated = answer(&src, update).await;
    assert_eq!(updated["Status"], "SUCCESS");
    let updated_id = updated["PhysicalResourceId"].as_str().unwrap();
    assert_ne!(updated_id, id, "the properties are part of the identity");
    assert_eq!(digests(updated_id)[1], digests(&id)[0], "{updated_id}");
    let mut same = cr_event("Create", &server.url, props.clone(), None);
    same["StackId"] = json!("arn:aws:cloudformation:eu-west-1:111111111111:stack/other/guid");
    let elsewhere = answer(&src, same).await;
    assert_ne!(
        elsewhere["PhysicalResourceId"],
        id.as_str(),
        "unique per stack"
    );

    create_instance(&src, SOURCE_REGION, "cr1-billing", Some(&key), &[]).await;
    let retargeted = answer(
        &src,
        cr_event(
            "Update",
            &server.url,
            source_properties(json!({"DBInstanceIdentifier": "cr1-billing"})),
            Some(&id),
        ),
    )
    .await;
    assert_eq!(retargeted["Status"], "SUCCESS");
    assert_ne!(
        retargeted["PhysicalResourceId"],
        id.as_str(),
        "a new target database replaces the resource"
    );
}

#[tokio::test]
#[ignore = "needs make test"]
async fn aws_managed_key_fails_naming_database_and_key() {
    let _serial = exclusive().await;
    let em = emulator();
    let src = em.aws(SOURCE, SOURCE_REGION).await;
    create_instance(&src, SOURCE_REGION, "cr2-legacy", None, &[]).await;
    let server = ResponseServer::start(0).await;
    let body = answer(
        &src,
        cr_event(
            "Create",
            &server.url,
            source_properties(json!({"DBInstanceIdentifier": "cr2-legacy"})),
            None,
        ),
    )
    .await;
    assert_eq!(body["Status"], "FAILED");
    let reason = body["Reason"].as_str().unwrap();
    assert!(
        reason.contains("DB instance cr2-legacy is encrypted with the AWS-managed key"),
        "{reason}"
    );
    assert!(
        reason.contains("alias/aws/rds") || reason.contains(":key/"),
        "{reason}"
    );
}

#[tokio::test]
#[ignore = "needs make test"]
async fn reencrypt_kms_key_lets_an_aws_managed_database_deploy_when_the_key_is_shareable() {
    let _serial = exclusive().await;
    let em = emulator();
    let src = em.aws(SOURCE, SOURCE_REGION).await;
    create_instance(&src, SOURCE_REGION, "cr7-legacy", None, &[]).await;
    let server = ResponseServer::start(0).await;
    let create = |key: &str| {
        cr_event(
            "Create",
            &server.url,
            source_properties(
                json!({"DBInstanceIdentifier": "cr7-legacy", "ReencryptKmsKey": key}),
            ),
            None,
        )
    };
    let good = shared_key(&src, &[DR]).await;
    let body = answer(&src, create(&good)).await;
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    let closed = shared_key(&src, &[]).await;
    let body = answer(&src, create(&closed)).await;
    assert_eq!(body["Status"], "FAILED", "{body}");
    let reason = body["Reason"].as_str().unwrap();
    assert!(
        reason.contains("the key policy of ReencryptKmsKey")
            && reason.contains("does not let account 222222222222 use"),
        "{reason}"
    );
    let body = answer(&src, create("alias/no-such-key")).await;
    assert_eq!(body["Status"], "FAILED", "{body}");
    let reason = body["Reason"].as_str().unwrap();
    assert!(
        reason.contains("ReencryptKmsKey alias/no-such-key") && reason.contains("does not exist"),
        "{reason}"
    );
}

#[tokio::test]
#[ignore = "needs make test"]
async fn key_policy_must_let_every_destination_account_in() {
    let _serial = exclusive().await;
    let em = emulator();
    let src = em.aws(SOURCE, SOURCE_REGION).await;
    let key = shared_key(&src, &[DR]).await;
    create_instance(&src, SOURCE_REGION, "cr3-orders", Some(&key), &[]).await;
    let server = ResponseServer::start(0).await;
    let props = source_properties(
        json!({"DBInstanceIdentifier": "cr3-orders", "DestinationAccounts": [DR, "333333333333"]}),
    );
    let body = answer(&src, cr_event("Create", &server.url, props, None)).await;
    assert_eq!(body["Status"], "FAILED");
    let reason = body["Reason"].as_str().unwrap();
    assert!(
        reason.contains(
            "does not let account 333333333333 use kms:DescribeKey, kms:CreateGrant, kms:Decrypt"
        ),
        "{reason}"
    );
    assert!(!reason.contains("account 222222222222"), "{reason}");
}

#[tokio::test]
#[ignore = "needs make test"]
async fn accounts_outside_the_allow_list_fail_the_deploy() {
    let _serial = exclusive().await;
    let em = emulator();
    let src = em.aws(SOURCE, SOURCE_REGION).await;
    let key = shared_key(&src, &[DR, "333333333333"]).await;
    create_instance(&src, SOURCE_REGION, "cr7-orders", Some(&key), &[]).await;
    let server = ResponseServer::start(0).await;
    let props = source_properties(
        json!({"DBInstanceIdentifier": "cr7-orders", "DestinationAccounts": [DR, "333333333333"]}),
    );
    let trust = Trust {
        allowed_destination_accounts: Some(vec![DR.to_string()]),
        ..local_operator()
    };
    let body = answer_trusting(
        &src,
        cr_event("Create", &server.url, props.clone(), None),
        trust.clone(),
    )
    .await;
    assert_eq!(body["Status"], "FAILED");
    let reason = body["Reason"].as_str().unwrap();
    assert!(
        reason.contains("shares with account 333333333333, which is not in the install stack's AllowedDestinationAccounts (222222222222)"),
        "{reason}"
    );
    let allowed = Trust {
        allowed_destination_accounts: Some(vec![DR.to_string(), "333333333333".to_string()]),
        ..trust
    };
    let body = answer_trusting(&src, cr_event("Create", &server.url, props, None), allowed).await;
    assert_eq!(body["Status"], "SUCCESS", "{body}");
}

#[tokio::test]
#[ignore = "needs make test"]
async fn missing_databases_and_quota_fail() {
    let _serial = exclusive().await;
    let em = emulator();
    let src = em.aws(SOURCE, SOURCE_REGION).await;
    let server = ResponseServer::start(0).await;
    let missing = answer(
        &src,
        cr_event(
            "Create",
            &server.url,
            source_properties(json!({"DBClusterIdentifier": "cr4-nowhere"})),
            None,
        ),
    )
    .await;
    assert_eq!(missing["Status"], "FAILED");
    assert!(
        missing["Reason"]
            .as_str()
            .unwrap()
            .contains("DB cluster cr4-nowhere does not exist in eu-west-1"),
        "{missing}"
    );
    let none = answer(
        &src,
        cr_event(
            "Create",
            &server.url,
            source_properties(json!({"InstanceNamePattern": "^cr4-zzz"})),
            None,
        ),
    )
    .await;
    assert!(
        none["Reason"]
            .as_str()
            .unwrap()
            .contains("matches InstanceNamePattern"),
        "{none}"
    );

    let key = shared_key(&src, &[DR]).await;
    create_instance(&src, SOURCE_REGION, "cr4-orders", Some(&key), &[]).await;
    em.configure(json!({"snapshot_limit": 20})).await;
    let full = answer(
        &src,
        cr_event(
            "Create",
            &server.url,
            source_properties(json!({"DBInstanceIdentifier": "cr4-orders"})),
            None,
        ),
    )
    .await;
    em.configure(json!({"snapshot_limit": 1000})).await;
    assert_eq!(full["Status"], "FAILED");
    assert!(
        full["Reason"].as_str().unwrap().contains(
            "over the ManualSnapshots quota of 20: this policy 51 (1 database(s) × 51 per database"
        ),
        "{full}"
    );
}

#[tokio::test]
#[ignore = "needs make test"]
async fn strict_checks_turn_warnings_into_failures() {
    let _serial = exclusive().await;
    let em = emulator();
    let src = em.aws(SOURCE, SOURCE_REGION).await;
    src.rds(SOURCE_REGION)
        .create_db_instance()
        .db_instance_identifier("cr5-plain")
        .engine("postgres")
        .db_instance_class("db.t4g.micro")
        .allocated_storage(20)
        .master_username("u")
        .master_user_password("password1")
        .send()
        .await
        .unwrap();
    let server = ResponseServer::start(0).await;
    let relaxed = answer(
        &src,
        cr_event(
            "Create",
            &server.url,
            source_properties(json!({"DBInstanceIdentifier": "cr5-plain"})),
            None,
        ),
    )
    .await;
    assert_eq!(relaxed["Status"], "SUCCESS");
    assert!(
        relaxed["Reason"]
            .as_str()
            .unwrap()
            .contains("is not encrypted"),
        "{relaxed}"
    );
    let strict = answer(
        &src,
        cr_event(
            "Create",
            &server.url,
            source_properties(json!({"DBInstanceIdentifier": "cr5-plain", "StrictChecks": "TRUE"})),
            None,
        ),
    )
    .await;
    assert_eq!(strict["Status"], "FAILED");
    assert!(
        strict["Reason"]
            .as_str()
            .unwrap()
            .contains("StrictChecks is on"),
        "{strict}"
    );
}

#[tokio::test]
#[ignore = "needs make test"]
async fn destination_key_must_exist_and_be_enabled() {
    let _serial = exclusive().await;
    let em = emulator();
    let dr = em.aws(DR, DR_REGION).await;
    let key = create_key(&dr, DR_REGION).await;
    let server = ResponseServer::start(0).await;
    let props = |k: &str| {
        json!({"Role": "Destination", "SourceAccounts": ["111111111111"], "PolicyId": "dr-copies", "SnapshotPattern": ".*",
        "DestinationRegion": DR_REGION, "SourceRegionOverride": SOURCE_REGION, "KmsKeyDestination": k})
    };
    let ok = answer(&dr, cr_event("Create", &server.url, props(&key), None)).await;
    assert_eq!(ok["Status"], "SUCCESS", "{ok}");
    let mut no_network = props(&key);
    no_network["DrillDBSubnetGroupName"] = json!("app-dr-subnets");
    let no_network = answer(&dr, cr_event("Create", &server.url, no_network, None)).await;
    assert_eq!(no_network["Status"], "FAILED");
    assert!(
        no_network["Reason"]
            .as_str()
            .unwrap()
            .contains("DrillDBSubnetGroupName app-dr-subnets does not exist in eu-central-1"),
        "{no_network}"
    );
    let missing = key.replace(&key[key.len() - 12..], "000000000000");
    let gone = answer(&dr, cr_event("Create", &server.url, props(&missing), None)).await;
    assert_eq!(gone["Status"], "FAILED");
    assert!(
        gone["Reason"]
            .as_str()
            .unwrap()
            .contains("does not exist in eu-central-1"),
        "{gone}"
    );
    let key_id = key.rsplit('/').next().unwrap();
    dr.kms(DR_REGION)
        .disable_key()
        .key_id(key_id)
        .send()
        .await
        .unwrap();
    let disabled = answer(&dr, cr_event("Create", &server.url, props(&key), None)).await;
    assert_eq!(disabled["Status"], "FAILED");
    assert!(
        disabled["Reason"]
            .as_str()
            .unwrap()
            .contains("is Disabled, not Enabled"),
        "{disabled}"
    );
}

#[tokio::test]
#[ignore = "needs make test"]
async fn delete_always_succeeds_and_keeps_snapshots() {
    let _serial = exclusive().await;
    let em = emulator();
    let src = em.aws(SOURCE, SOURCE_REGION).await;
    let key = shared_key(&src, &[DR]).await;
    create_instance(&src, SOURCE_REGION, "cr6-orders", Some(&key), &[]).await;
    let policy = source_policy(json!({"PolicyId": "cr6", "DBInstanceIdentifier": "cr6-orders"}));
    run(&src, "take", &policy, chrono::Utc::now()).await;
    let server = ResponseServer::start(0).await;
    let deleted = answer(
        &src,
        cr_event(
            "Delete",
            &server.url,
            json!({"Role": "Nonsense"}),
            Some("rds-snapshot-policy:failed-create"),
        ),
    )
    .await;
    assert_eq!(deleted["Status"], "SUCCESS");
    assert_eq!(
        deleted["PhysicalResourceId"],
        "rds-snapshot-policy:failed-create"
    );
    assert_eq!(
        snapshots(&src, SOURCE_REGION, "cr6-").await.len(),
        1,
        "Delete never deletes snapshots"
    );
}

#[tokio::test]
async fn malformed_events_panics_deadlines_and_failed_puts_are_answered() {
    let server = ResponseServer::start(2).await;
    let work = |r: provider::custom_resource::Request| async move {
        r.response(true, "ok".into(), "id".into(), Map::new())
    };
    let malformed = answer_with(
        &json!({"ResponseURL": server.url}),
        Duration::from_secs(60),
        true,
        work,
    )
    .await;
    assert_eq!(malformed.status, "FAILED");
    assert!(malformed.reason.contains("malformed"));
    assert_eq!(
        server.responses().len(),
        1,
        "answered after two failed PUTs"
    );

    let server = ResponseServer::start(0).await;
    let event = cr_event("Create", &server.url, json!({}), None);
    let panicked = answer_with(&event, Duration::from_secs(60), true, |_r| async move {
        if true {
            panic!("boom")
        }
        Response {
            status: String::new(),
            reason: String::new(),
            physical_resource_id: String::new(),
            stack_id: String::new(),
            request_id: String::new(),
            logical_resource_id: String::new(),
            data: Map::new(),
        }
    })
    .await;
    assert_eq!(panicked.status, "FAILED");
    assert!(panicked.reason.contains("internal error"));

    let started = std::time::Instant::now();
    let late = answer_with(&event, Duration::from_secs(2), true, |r| async move {
        tokio::time::sleep(Duration::from_secs(60)).await;
        r.response(true, "too late".into(), "id".into(), Map::new())
    })
    .await;
    assert_eq!(late.status, "FAILED");
    assert!(late.reason.contains("deadline"), "{}", late.reason);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered before the deadline"
    );
    assert_eq!(server.responses().len(), 2);
    assert!(
        server
            .responses()
            .iter()
            .all(|b| b["Status"] == "FAILED" && b["RequestId"] == "req-Create")
    );
}

#[tokio::test]
async fn answers_go_only_to_allowed_urls() {
    let server = ResponseServer::start(0).await;
    let event = cr_event("Create", &server.url, json!({}), None);
    let work = |r: provider::custom_resource::Request| async move {
        r.response(true, "ok".into(), "id".into(), Map::new())
    };
    // Without RSP_ALLOW_LOCAL_RESPONSE_URL an http URL on 127.0.0.1 is never answered.
    let refused = answer_with(&event, Duration::from_secs(60), false, work).await;
    assert_eq!(refused.status, "SUCCESS");
    assert!(server.responses().is_empty(), "no PUT to a non-S3 URL");
    let answered = answer_with(&event, Duration::from_secs(60), true, work).await;
    assert_eq!(answered.status, "SUCCESS");
    assert_eq!(server.responses().len(), 1);
}

#[test]
fn bodies_fit_in_4096_bytes() {
    let mut data = Map::new();
    for i in 0..50 {
        data.insert(format!("Attribute{i}"), json!("x".repeat(100)));
    }
    let response = Response {
        status: "FAILED".into(),
        reason: "why ".repeat(3000),
        physical_resource_id: "id".into(),
        stack_id: "s".into(),
        request_id: "r".into(),
        logical_resource_id: "l".into(),
        data,
    };
    let body = fit_body(&response);
    assert!(body.len() <= 4096, "{}", body.len());
    let parsed: Value = serde_json::from_str(&body).unwrap();
    assert!(parsed["Reason"].as_str().unwrap().contains("truncated"));
    assert_eq!(parsed["Status"], "FAILED");
}

/// Creates S3 bucket `name` in `account` (the Rust tests carry no S3 SDK: one REST call, as
/// the SDK would send it, with the account's credentials in the scope moto reads).
async fn create_bucket(em: &Emulator, account: &str, name: &str) {
    let credentials = em.credentials(account).await;
    let status = reqwest::Client::new()
        .put(format!("{}/{name}", em.endpoint))
        .header(
            "Authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential={}/20260101/{DR_REGION}/s3/aws4_request, SignedHeaders=host, Signature=x",
                credentials.access_key_id()
            ),
        )
        .header("x-amz-security-token", credentials.session_token().unwrap_or_default())
        .body(format!(
            "<CreateBucketConfiguration><LocationConstraint>{DR_REGION}</LocationConstraint></CreateBucketConfiguration>"
        ))
        .send()
        .await
        .expect("CreateBucket")
        .status();
    assert!(status.is_success(), "CreateBucket {name}: {status}");
}

/// What only AWS can tell about a fresh DR account: no RDS service-linked role, no trail for
/// the tamper rules, a drill class Aurora does not offer. Each is a warning naming the fix
/// (a failure with StrictChecks), and each goes away once the account is ready.
#[tokio::test]
#[ignore = "needs make test"]
async fn a_fresh_dr_account_is_told_what_it_lacks() {
    let _serial = exclusive().await;
    let em = emulator();
    let fresh = "444444444444";
    let src = em.aws(SOURCE, SOURCE_REGION).await;
    let source_key = shared_key(&src, &[fresh]).await;
    create_cluster(&src, SOURCE_REGION, "cr9-ledger", &source_key).await;
    let rds = src.rds(SOURCE_REGION);
    rds.create_db_cluster_snapshot()
        .db_cluster_identifier("cr9-ledger")
        .db_cluster_snapshot_identifier("cr9-ledger-shared")
        .send()
        .await
        .unwrap();
    rds.modify_db_cluster_snapshot_attribute()
        .db_cluster_snapshot_identifier("cr9-ledger-shared")
        .attribute_name("restore")
        .values_to_add(fresh)
        .send()
        .await
        .unwrap();
    let dr = em.aws(fresh, DR_REGION).await;
    let key = create_key(&dr, DR_REGION).await;
    let server = ResponseServer::start(0).await;
    let props = json!({"Role": "Destination", "SourceAccounts": [SOURCE], "PolicyId": "cr9-copies",
        "DBClusterIdentifier": "cr9-ledger", "DestinationRegion": DR_REGION,
        "SourceRegionOverride": SOURCE_REGION, "KmsKeyDestination": key,
        "RestoreDrill": "true", "DrillDBInstanceClass": "db.t3.micro"});
    let body = answer(&dr, cr_event("Create", &server.url, props.clone(), None)).await;
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    let reason = body["Reason"].as_str().unwrap();
    for expected in [
        "no RDS service-linked role (AWSServiceRoleForRDS)",
        "aws iam create-service-linked-role --aws-service-name rds.amazonaws.com",
        "no CloudTrail trail logs management write events in eu-central-1",
        "the drill's instance class db.t3.micro for aurora-postgresql",
        "is not orderable in eu-central-1",
    ] {
        assert!(reason.contains(expected), "{expected:?} not in {reason}");
    }
    // KmsKeyArns set to the DR key only, as its description once read: the shared snapshot's
    // source key is missing, and every copy would be refused by KMS.
    let dr_keys_only = Trust {
        kms_key_arns: vec![key.clone()],
        ..local_operator()
    };
    let event = || cr_event("Create", &server.url, props.clone(), None);
    let body = answer_trusting(&dr, event(), dr_keys_only.clone()).await;
    let reason = body["Reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!(
            "neither it nor SourceKmsKeyArns lists {source_key}"
        )) && reason.contains("cluster-snapshot:cr9-ledger-shared"),
        "{reason}"
    );
    let with_source_keys = Trust {
        source_kms_key_arns: vec![source_key.clone()],
        ..dr_keys_only
    };
    let body = answer_trusting(&dr, event(), with_source_keys).await;
    assert!(
        !body["Reason"]
            .as_str()
            .unwrap()
            .contains("SourceKmsKeyArns"),
        "{body}"
    );
    let mut strict = props.clone();
    strict["StrictChecks"] = json!("true");
    let body = answer(&dr, cr_event("Create", &server.url, strict, None)).await;
    assert_eq!(body["Status"], "FAILED", "{body}");

    // The account made ready: the role, a multi-region trail that logs, an Aurora class (the
    // drill's network is another check, and stays a warning here).
    dr.iam(DR_REGION)
        .create_service_linked_role()
        .aws_service_name("rds.amazonaws.com")
        .send()
        .await
        .unwrap();
    create_bucket(em, fresh, "cr9-trail-logs").await;
    let trail = dr.cloudtrail(DR_REGION);
    trail
        .create_trail()
        .name("management")
        .s3_bucket_name("cr9-trail-logs")
        .is_multi_region_trail(true)
        .send()
        .await
        .unwrap();
    trail
        .start_logging()
        .name("management")
        .send()
        .await
        .unwrap();
    let mut ready = props;
    ready["DrillDBInstanceClass"] = json!("db.t4g.medium");
    let body = answer(&dr, cr_event("Create", &server.url, ready, None)).await;
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    let reason = body["Reason"].as_str().unwrap();
    for gone in ["AWSServiceRoleForRDS", "CloudTrail", "orderable"] {
        assert!(!reason.contains(gone), "{gone:?} still in {reason}");
    }
}
