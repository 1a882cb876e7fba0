//! The incident hold on the emulator's Step Functions: a delete task of a held policy deletes
//! nothing, a hold keeps its first time and reason, and only removing the tag (the operator's
//! `release`) lifts it.

mod support;

use provider::policy::RuntimePolicy;
use rds_snapshot_policy_core::contract::{metrics, tags};
use serde_json::json;
use support::*;

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs make test"]
async fn a_hold_stops_deletes_until_released() {
    let _serial = exclusive().await;
    let em = emulator();
    let aws = em.aws(SOURCE, SOURCE_REGION).await;
    let sfn = aws.sfn(SOURCE_REGION);
    let machine = sfn
        .create_state_machine()
        .name("held-DeleteStateMachine")
        .definition(json!({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}).to_string())
        .role_arn(format!("arn:aws:iam::{SOURCE}:role/held"))
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_string();
    let policy = RuntimePolicy::from_properties(
        &source_policy(json!({"PolicyId": "held", "DBInstanceIdentifier": "held-db"})),
        SOURCE_REGION,
        None,
    )
    .unwrap();
    let hold = |reason: Option<&'static str>| {
        let (aws, machine, policy) = (aws.clone(), machine.clone(), policy.clone());
        async move {
            provider::hold::held_run(&aws, SOURCE_REGION, &machine, reason, &policy)
                .await
                .unwrap()
        }
    };
    assert!(hold(None).await.is_none(), "not held: delete as usual");

    let held = hold(Some(
        "tamper: DeleteDBSnapshot by arn:aws:sts::1:assumed-role/x/<b>",
    ))
    .await
    .expect("held");
    assert!(held.done.is_empty());
    assert!(
        held.skipped[0].reason.contains("deletes held since")
            && !held.skipped[0].reason.contains("<b>"),
        "{:?}",
        held.skipped
    );
    let datum = &held.metric_data[0];
    assert_eq!(
        (datum.metric_name, datum.value),
        (metrics::DELETES_HELD, 1.0)
    );
    let value = |tags: &[aws_sdk_sfn::types::Tag]| {
        tags.iter()
            .find(|t| t.key() == Some(tags::HOLD))
            .and_then(|t| t.value())
            .map(str::to_string)
    };
    let first = value(
        sfn.list_tags_for_resource()
            .resource_arn(&machine)
            .send()
            .await
            .unwrap()
            .tags(),
    )
    .expect("the hold tag");

    // A later incident keeps the first hold's time and reason; a plain run stays held.
    assert!(hold(Some("alarm X")).await.is_some());
    assert!(hold(None).await.is_some());
    let tags_now = sfn
        .list_tags_for_resource()
        .resource_arn(&machine)
        .send()
        .await
        .unwrap();
    assert_eq!(value(tags_now.tags()), Some(first));

    // The operator's release removes the tag: deletes run again.
    sfn.untag_resource()
        .resource_arn(&machine)
        .tag_keys(tags::HOLD)
        .send()
        .await
        .unwrap();
    assert!(hold(None).await.is_none());
}
