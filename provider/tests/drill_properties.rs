//! The drill's deletion rule as a property: whatever exists in the DR region, the sweeper (and
//! every cleanup, which applies the same rule) selects only instances and clusters carrying
//! this policy's drill tag **and** its naming scheme.

use std::collections::BTreeMap;

use chrono::{Duration, TimeZone, Utc};
use proptest::prelude::*;
use provider::inventory::{Kind, tags};
use provider::plan::drill::{
    DrillResource, drill_identifier, drill_prefix, is_drill_resource, sweep,
};
use provider::policy::RuntimePolicy;
use serde_json::json;

const OURS: &str = "dr-copies-Copies";

fn policy() -> RuntimePolicy {
    RuntimePolicy::from_properties(
        &json!({"Role": "Destination", "SourceAccounts": ["111111111111"], "PolicyId": OURS, "SnapshotPattern": ".*",
                "DestinationRegion": "eu-central-1", "RtoMinutes": 60,
                "KmsKeyDestination": "arn:aws:kms:eu-central-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"}),
        "eu-west-1",
        None,
    )
    .unwrap()
}

fn resource() -> impl Strategy<Value = DrillResource> {
    let names = prop::sample::select(vec![
        drill_identifier(OURS, "orders"),
        format!("{}orders-1", drill_prefix(OURS)),
        drill_identifier("another-policy", "orders"),
        "orders".to_string(),
        "rsp-drill-orders".to_string(),
        format!("x{}", drill_identifier(OURS, "orders")),
    ]);
    let tag = prop::sample::select(vec![None, Some(OURS), Some("another-policy"), Some("")]);
    (names, tag, any::<bool>(), 0i64..600, any::<bool>()).prop_map(
        |(identifier, tag, cluster, age, has_time)| {
            let mut tags_map = BTreeMap::new();
            if let Some(t) = tag {
                tags_map.insert(tags::DRILL.to_string(), t.to_string());
            }
            DrillResource {
                identifier,
                kind: if cluster {
                    Kind::Cluster
                } else {
                    Kind::Instance
                },
                status: "available".into(),
                tags: tags_map,
                created: has_time.then(|| {
                    Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap() - Duration::minutes(age)
                }),
                cluster: None,
            }
        },
    )
}

proptest! {
    #[test]
    fn the_drill_deletes_only_what_it_created(resources in prop::collection::vec(resource(), 0..30)) {
        let policy = policy();
        let now = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
        for r in sweep(&policy, &resources, now) {
            prop_assert_eq!(r.tags.get(tags::DRILL).map(String::as_str), Some(OURS));
            prop_assert!(r.identifier.starts_with(&drill_prefix(OURS)), "{}", r.identifier);
            prop_assert!(now - r.created.unwrap() > Duration::minutes(120), "swept a young drill");
        }
        for r in &resources {
            let ours = r.tags.get(tags::DRILL).map(String::as_str) == Some(OURS)
                && r.identifier.starts_with(&drill_prefix(OURS));
            prop_assert_eq!(is_drill_resource(OURS, r), ours);
        }
    }
}
