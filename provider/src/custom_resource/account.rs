//! Deploy-time checks of what only AWS can tell about the account a policy runs in: RDS's
//! service-linked role, a trail for the tamper rules, the installation's key lists against the
//! keys the copies need, and the drill's instance class. Pure: `gather` reads the facts.
//! Each finding is a warning (a failure with `StrictChecks`): the policy still deploys.

use rds_snapshot_policy_core::Role;
use rds_snapshot_policy_core::contract::account_checks::RDS_SERVICE_LINKED_ROLE;

use super::decide::CheckReport;
use crate::inventory::Kind;
use crate::policy::RuntimePolicy;

/// One CloudTrail trail that covers the policy's region (multi-region, or homed there).
#[derive(Debug, Clone, PartialEq)]
pub struct TrailFacts {
    pub name: String,
    /// `GetTrailStatus` `IsLogging`; `Err`: could not be read.
    pub logging: Result<bool, String>,
    /// Whether its event selectors include management write events; `Err`: could not be read.
    pub management_writes: Result<bool, String>,
}

/// The drill's instance class for one kind of database, and whether RDS offers it.
#[derive(Debug, Clone, PartialEq)]
pub struct DrillClassFacts {
    pub kind: Kind,
    pub class: String,
    pub engine: String,
    pub engine_version: String,
    /// `DescribeOrderableDBInstanceOptions` found the class; `Err`: could not be read.
    pub orderable: Result<bool, String>,
}

/// What the account checks need; `None` where a check does not apply to the policy.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccountFacts {
    /// The region the tamper rules watch.
    pub region: String,
    /// DR: whether RDS's service-linked role exists.
    pub service_linked_role: Option<Result<bool, String>>,
    /// The trails covering `region`, or why they could not be listed.
    pub trails: Option<Result<Vec<TrailFacts>, String>>,
    /// The installation's `KmsKeyArns` (empty: any key).
    pub kms_key_arns: Vec<String>,
    /// DR: the installation's `SourceKmsKeyArns`.
    pub source_kms_key_arns: Vec<String>,
    /// DR: the DR account's own keys the copies are encrypted with, (property, key ARN
    /// resolved from an alias or ID): `KmsKeyDestination`, `KmsKeySource`.
    pub own_keys: Vec<(&'static str, String)>,
    /// DR: (where it was seen, key ARN) for each source-account key the copies decrypt.
    pub source_keys: Vec<(String, String)>,
    /// DR, drilling: per kind with a snapshot to learn the engine from.
    pub drill_classes: Vec<DrillClassFacts>,
}

/// Whether `key` is named by `listed` (exact ARN; AWS compares the key ARN).
fn listed(listed: &[String], key: &str) -> bool {
    listed.iter().any(|k| k == key)
}

/// Adds the account findings to `report`.
pub fn decide_account(policy: &RuntimePolicy, facts: &AccountFacts, report: &mut CheckReport) {
    let region = &facts.region;
    match &facts.service_linked_role {
        None | Some(Ok(true)) => {}
        Some(Ok(false)) => report.warnings.push(format!(
            "this account has no RDS service-linked role ({RDS_SERVICE_LINKED_ROLE}): RDS needs it for cross-region copies and creates it on first use only if the caller may; create it once with `aws iam create-service-linked-role --aws-service-name rds.amazonaws.com`"
        )),
        Some(Err(e)) => report.warnings.push(format!(
            "could not check for the RDS service-linked role {RDS_SERVICE_LINKED_ROLE}: {e}"
        )),
    }
    match &facts.trails {
        None => {}
        Some(Err(e)) => report.warnings.push(format!(
            "could not check for a CloudTrail trail in {region}: {e}"
        )),
        Some(Ok(trails)) => {
            let ready = trails
                .iter()
                .any(|t| t.logging == Ok(true) && t.management_writes == Ok(true));
            let unread: Vec<&str> = trails
                .iter()
                .filter(|t| t.logging.is_err() || t.management_writes.is_err())
                .map(|t| t.name.as_str())
                .collect();
            if !ready && unread.is_empty() {
                report.warnings.push(format!(
                    "no CloudTrail trail logs management write events in {region}: the tamper rules (deletes, shares and key changes by anyone but the provider) receive nothing; create a trail that logs management events (multi-region or in {region})"
                ));
            } else if !ready {
                report.warnings.push(format!(
                    "could not tell whether a CloudTrail trail logs management write events in {region} (could not read {}): without one the tamper rules receive nothing",
                    unread.join(", ")
                ));
            }
        }
    }
    if policy.role() == Role::Destination && !facts.kms_key_arns.is_empty() {
        for (property, key) in facts
            .own_keys
            .iter()
            .filter(|(_, k)| !listed(&facts.kms_key_arns, k))
        {
            report.warnings.push(format!(
                "the installation's KmsKeyArns does not list {property} {key}: the provider may not encrypt copies with it; add it to KmsKeyArns"
            ));
        }
        for (seen, key) in &facts.source_keys {
            if !listed(&facts.source_kms_key_arns, key) && !listed(&facts.kms_key_arns, key) {
                report.warnings.push(format!(
                    "the installation's KmsKeyArns is set and neither it nor SourceKmsKeyArns lists {key} ({seen}): every copy under that key will be refused by KMS; add it to SourceKmsKeyArns"
                ));
            }
        }
    }
    for d in &facts.drill_classes {
        let what = format!(
            "the drill's instance class {} for {} {} ({} drills)",
            d.class,
            d.engine,
            d.engine_version,
            d.kind.noun()
        );
        match &d.orderable {
            Ok(true) => {}
            Ok(false) => report.warnings.push(format!(
                "{what} is not orderable in {region}: the restore drill will fail; set DrillDBInstanceClass to a class DescribeOrderableDBInstanceOptions lists"
            )),
            Err(e) => report
                .warnings
                .push(format!("could not check whether {what} is orderable in {region}: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dr_policy() -> RuntimePolicy {
        let properties = json!({"Role": "Destination", "SourceAccounts": ["111111111111"],
            "PolicyId": "dr-copies", "SnapshotPattern": ".*", "DestinationRegion": "eu-central-1",
            "SourceRegionOverride": "eu-west-1",
            "KmsKeyDestination": "arn:aws:kms:eu-central-1:222222222222:key/22222222-2222-2222-2222-222222222222"});
        RuntimePolicy::from_properties(&properties, "eu-central-1", None).unwrap()
    }

    fn trail(logging: Result<bool, String>, writes: Result<bool, String>) -> TrailFacts {
        TrailFacts {
            name: "org".into(),
            logging,
            management_writes: writes,
        }
    }

    fn warnings(facts: &AccountFacts) -> Vec<String> {
        let mut report = CheckReport::default();
        decide_account(&dr_policy(), facts, &mut report);
        assert!(report.failures.is_empty(), "{:?}", report.failures);
        report.warnings
    }

    fn ready() -> AccountFacts {
        AccountFacts {
            region: "eu-central-1".into(),
            service_linked_role: Some(Ok(true)),
            trails: Some(Ok(vec![trail(Ok(true), Ok(true))])),
            ..AccountFacts::default()
        }
    }

    #[test]
    fn a_ready_account_has_no_findings() {
        assert_eq!(warnings(&ready()), Vec::<String>::new());
    }

    #[test]
    fn a_missing_service_linked_role_says_how_to_create_it() {
        let facts = AccountFacts {
            service_linked_role: Some(Ok(false)),
            ..ready()
        };
        let found = warnings(&facts);
        assert!(
            found[0].contains("AWSServiceRoleForRDS")
                && found[0].contains("create-service-linked-role"),
            "{found:?}"
        );
    }

    #[test]
    fn the_tamper_rules_need_a_logging_trail_with_management_writes() {
        for trails in [
            vec![],
            vec![trail(Ok(false), Ok(true))],
            vec![trail(Ok(true), Ok(false))],
        ] {
            let facts = AccountFacts {
                trails: Some(Ok(trails.clone())),
                ..ready()
            };
            let found = warnings(&facts);
            assert!(
                found.len() == 1
                    && found[0].contains(
                        "no CloudTrail trail logs management write events in eu-central-1"
                    ),
                "{trails:?}: {found:?}"
            );
        }
        let unreadable = AccountFacts {
            trails: Some(Ok(vec![trail(Err("not authorized".into()), Ok(true))])),
            ..ready()
        };
        assert!(warnings(&unreadable)[0].contains("could not read org"));
        let both = AccountFacts {
            trails: Some(Ok(vec![
                trail(Ok(false), Ok(true)),
                trail(Ok(true), Ok(true)),
            ])),
            ..ready()
        };
        assert!(warnings(&both).is_empty());
    }

    #[test]
    fn listed_keys_must_include_the_source_keys_of_the_copies() {
        let source = "arn:aws:kms:eu-west-1:111111111111:key/11111111-1111-1111-1111-111111111111"
            .to_string();
        let dr = "arn:aws:kms:eu-central-1:222222222222:key/22222222-2222-2222-2222-222222222222"
            .to_string();
        let facts = AccountFacts {
            kms_key_arns: vec![dr.clone()],
            own_keys: vec![("KmsKeyDestination", dr.clone())],
            source_keys: vec![("shared snapshot orders-1".into(), source.clone())],
            ..ready()
        };
        let found = warnings(&facts);
        assert!(
            found.len() == 1 && found[0].contains(&source) && found[0].contains("SourceKmsKeyArns"),
            "{found:?}"
        );
        let fixed = AccountFacts {
            source_kms_key_arns: vec![source.clone()],
            ..facts.clone()
        };
        assert!(warnings(&fixed).is_empty());
        let unlisted_destination = AccountFacts {
            kms_key_arns: vec![source.clone()],
            ..facts.clone()
        };
        assert!(warnings(&unlisted_destination)[0].contains("does not list KmsKeyDestination"));
        let any_key = AccountFacts {
            kms_key_arns: vec![],
            ..facts
        };
        assert!(warnings(&any_key).is_empty());
    }

    #[test]
    fn a_drill_class_rds_does_not_offer_is_named_with_engine_and_version() {
        let facts = AccountFacts {
            drill_classes: vec![DrillClassFacts {
                kind: Kind::Cluster,
                class: "db.t3.micro".into(),
                engine: "aurora-postgresql".into(),
                engine_version: "15.4".into(),
                orderable: Ok(false),
            }],
            ..ready()
        };
        let found = warnings(&facts);
        assert!(
            found[0].contains("db.t3.micro for aurora-postgresql 15.4")
                && found[0].contains("not orderable in eu-central-1"),
            "{found:?}"
        );
    }
}
