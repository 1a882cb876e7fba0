//! The deploy-time quota check over a whole account and region (issue 26): the steady state of
//! every policy deployed there plus the manual snapshots the tool did not make, against AWS's
//! manual snapshot quota of each kind. Pure: the facts are gathered in `gather`.

use std::collections::{BTreeMap, BTreeSet};

use rds_snapshot_policy_core::contract::tags;
use rds_snapshot_policy_core::rpo::{assumed_copy_spacing, human};
use rds_snapshot_policy_core::spec::{PolicySpec, Role};
use rds_snapshot_policy_core::value::Text;

use super::decide::{CheckReport, Quotas};
use crate::inventory::{Kind, Snapshot};
use crate::policy::RuntimePolicy;

/// Another policy deployed in the account and region, as its stack's processed template
/// declares it.
#[derive(Debug, Clone)]
pub struct OtherPolicy {
    /// `<stack name>/<logical ID>`, for messages.
    pub name: String,
    /// From the resource's physical ID; `None` while it is being created.
    pub policy_id: Option<String>,
    pub spec: PolicySpec<Text>,
}

/// What the account holds in one region besides the policy being deployed.
#[derive(Debug, Clone, Default)]
pub struct RegionLoad {
    pub others: Vec<OtherPolicy>,
    /// Every manual snapshot of the region (both kinds).
    pub snapshots: Vec<Snapshot>,
    /// Policies that could not be read (their stack's template), with why.
    pub unreadable: Vec<String>,
}

/// At most how many snapshots one database keeps at steady state under `spec`: its retention
/// window plus what arrives between two delete runs (retention + the delete schedule's longest
/// gap, over the interval, + 1; at least KeepLatest) plus one per tier bucket older than the
/// window (KeepDaily + KeepWeekly + KeepMonthly + KeepYearly; overlaps make it fewer), plus the
/// newest snapshot's AWS-managed-key original while ReencryptKmsKey copies it.
///
/// A destination policy's copies arrive at the source's cadence, assumed to be the default for
/// its RpoMinutes (`rpo::assumed_copy_spacing`).
pub fn per_database<S>(spec: &PolicySpec<S>) -> i64 {
    let interval = assumed_copy_spacing(spec)
        .unwrap_or_else(|| spec.backup_interval().num_minutes())
        .max(1);
    let window = (spec.retention() + between_delete_runs(spec)).num_minutes() / interval + 1;
    window.max(spec.keep_latest as i64) + spec.tier_buckets() as i64 + i64::from(spec.reencrypts())
}

/// The longest time between two delete runs (a day when the schedule's gap is unknown).
pub fn between_delete_runs<S>(spec: &PolicySpec<S>) -> chrono::Duration {
    spec.delete_schedule
        .longest_gap()
        .unwrap_or_else(|| chrono::Duration::days(1))
}

/// The region a policy keeps its snapshots in, when the template says it literally: the DR
/// policy's DestinationRegion, else the stack's region (where both roles' stacks run).
fn own_region<'a>(spec: &'a PolicySpec<Text>, stack_region: &'a str) -> Option<&'a str> {
    match (spec.role, &spec.destination_region) {
        (Role::Destination, Some(Text::Literal(region))) => Some(region),
        (Role::Destination, Some(Text::Intrinsic(_))) => None,
        _ => Some(stack_region),
    }
}

/// Whether `s` is one of the counted policies' (a policy tag and either role's marker).
fn counted(s: &Snapshot, policies: &BTreeSet<&str>) -> bool {
    s.tag(tags::POLICY).is_some_and(|p| policies.contains(p))
        && (s.tag(tags::CREATED_BY) == Some(tags::TOOL)
            || s.tag(tags::COPIED_BY) == Some(tags::TOOL))
}

/// Databases of `kind` a deployed policy holds snapshots of now (at least one when it names a
/// single database of that kind).
fn databases_of(other: &OtherPolicy, kind: Kind, snapshots: &[Snapshot]) -> usize {
    let held: BTreeSet<String> = snapshots
        .iter()
        .filter(|s| {
            s.kind == kind
                && other.policy_id.is_some()
                && other.policy_id.as_deref() == s.tag(tags::POLICY)
        })
        .map(|s| {
            let account = s.source_account().unwrap_or_default();
            format!("{account}/{}", s.database_key())
        })
        .collect();
    let named = match kind {
        Kind::Instance => other.spec.db_instance_identifier.is_some(),
        Kind::Cluster => other.spec.db_cluster_identifier.is_some(),
    };
    held.len().max(usize::from(named))
}

/// Fails the deployment when the steady state of the region — this policy's `own` databases
/// per kind, every other policy deployed in the region, and every other manual snapshot as it
/// is now — exceeds the quota of a kind, naming each share and the fix.
pub fn decide_region_quota(
    policy: &RuntimePolicy,
    own: &BTreeMap<Kind, usize>,
    region: &str,
    stack_region: &str,
    load: &RegionLoad,
    quotas: &Quotas,
    report: &mut CheckReport,
) {
    for problem in &load.unreadable {
        report.warnings.push(format!(
            "the quota check in {region} could not count {problem}"
        ));
    }
    let mut here: Vec<&OtherPolicy> = Vec::new();
    for other in &load.others {
        match own_region(&other.spec, stack_region) {
            Some(r) if r == region => here.push(other),
            Some(_) => {}
            None => report.warnings.push(format!(
                "the quota check in {region} could not count policy {}: its DestinationRegion is not known without the stack's parameters",
                other.name
            )),
        }
    }
    // Snapshots of the counted policies are counted by their steady state; every other one
    // (made by hand, by a policy counted elsewhere or removed) as it is now.
    let policies: BTreeSet<&str> = here
        .iter()
        .filter_map(|o| o.policy_id.as_deref())
        .chain([policy.id.as_str()])
        .collect();
    for kind in [Kind::Instance, Kind::Cluster] {
        let Some((_, max)) = quotas.of(kind) else {
            continue;
        };
        let mine =
            super::decide::snapshots_per_database(policy) * *own.get(&kind).unwrap_or(&0) as i64;
        // (policy, its databases of this kind, what they keep)
        let mut shares: Vec<(&str, usize, i64)> = here
            .iter()
            .map(|o| {
                let databases = databases_of(o, kind, &load.snapshots);
                (
                    o.name.as_str(),
                    databases,
                    per_database(&o.spec) * databases as i64,
                )
            })
            .filter(|(_, _, need)| *need > 0)
            .collect();
        let outside = load
            .snapshots
            .iter()
            .filter(|s| s.kind == kind && !counted(s, &policies))
            .count() as i64;
        let total = mine + shares.iter().map(|(_, _, n)| n).sum::<i64>() + outside;
        if total <= max {
            continue;
        }
        shares.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(b.0)));
        let listed: Vec<String> = shares
            .iter()
            .take(5)
            .map(|(name, databases, need)| format!("{need} for {name} ({databases} database(s))"))
            .collect();
        let others = if listed.is_empty() {
            String::new()
        } else {
            format!(
                ", {}{}",
                listed.join(", "),
                if shares.len() > 5 { ", ..." } else { "" }
            )
        };
        let fix = super::decide::quota_fix(policy.role());
        report.failures.push(format!(
            "at steady state the account's policies keep {total} manual {noun} snapshots in {region}, over the {name} quota of {max}: this policy {mine} ({databases} database(s) × {per} per database, {retention} of retention{tiers}){others}, and {outside} other manual snapshots (made by hand or by policies not counted here); raise the {name} quota (Service Quotas), or {fix}",
            noun = kind.noun(),
            name = kind.quota_name(),
            databases = own.get(&kind).unwrap_or(&0),
            per = super::decide::snapshots_per_database(policy),
            retention = human(policy.retention()),
            tiers = match policy.spec.tier_buckets() {
                0 => String::new(),
                n => format!(" + {n} tier buckets"),
            },
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dr(id: &str, pattern: &str) -> RuntimePolicy {
        RuntimePolicy::from_properties(
            &json!({"Role": "Destination", "SourceAccounts": ["111111111111"], "PolicyId": id,
                "SnapshotPattern": pattern, "DestinationRegion": "eu-central-1",
                "KmsKeyDestination": "arn:aws:kms:eu-central-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"}),
            "eu-west-1",
            None,
        )
        .unwrap()
    }

    /// Another stack's policy as its processed template holds it: the normalized properties,
    /// with intrinsics where the template has them.
    fn other(id: &str, pattern: &str, region: serde_json::Value) -> OtherPolicy {
        let mut spec = serde_json::to_value(&dr(id, pattern).spec).unwrap();
        spec["DestinationRegion"] = region;
        spec["PolicyId"] = json!({"Fn::Sub": "${AWS::StackName}-Copies"});
        OtherPolicy {
            name: format!("{id}-stack/Copies"),
            policy_id: Some(id.into()),
            spec: serde_json::from_value(spec).unwrap(),
        }
    }

    fn copy(policy: Option<&str>, database: &str, n: usize) -> Snapshot {
        let mut tags: BTreeMap<String, String> =
            [(tags::DATABASE.to_string(), database.to_string())].into();
        if let Some(policy) = policy {
            tags.insert(tags::POLICY.into(), policy.into());
            tags.insert(tags::COPIED_BY.into(), tags::TOOL.into());
            tags.insert(
                tags::SOURCE_ARN.into(),
                format!("arn:aws:rds:eu-west-1:111111111111:snapshot:{database}-{n}"),
            );
        }
        Snapshot {
            tags,
            ..Snapshot::manual(
                Kind::Instance,
                format!("{database}-{n}"),
                format!("arn:aws:rds:eu-central-1:222222222222:snapshot:{database}-{n}"),
                database,
            )
        }
    }

    /// The report of `policy` (one instance database) in eu-central-1 against `load`.
    fn check(policy: &RuntimePolicy, load: &RegionLoad) -> CheckReport {
        let own = BTreeMap::from([(Kind::Instance, 1)]);
        let mut report = CheckReport::default();
        decide_region_quota(
            policy,
            &own,
            "eu-central-1",
            "eu-west-1",
            load,
            &QUOTAS,
            &mut report,
        );
        report
    }

    const QUOTAS: Quotas = Quotas {
        instance: Some((0, 100)),
        cluster: Some((0, 100)),
    };

    /// The default DR policy keeps 22 copies per database; the region holds a policy of
    /// three databases (66) and 10 snapshots made by hand: a new one-database policy fits
    /// (98), two more databases elsewhere do not (132 and 30 more of a policy copying into
    /// another region, counted as they are), and the failure names every share.
    #[test]
    fn the_quota_check_sums_every_policy_of_the_region_and_what_the_tool_did_not_make() {
        let policy = dr("new", "^orders-");
        let mut snapshots: Vec<Snapshot> = ["a", "b", "c"]
            .iter()
            .flat_map(|db| (0..20).map(move |n| copy(Some("billing"), db, n)))
            .collect();
        snapshots.extend((0..10).map(|n| copy(None, "by-hand", n)));
        let load = RegionLoad {
            others: vec![other("billing", "^billing-", json!("eu-central-1"))],
            snapshots,
            unreadable: vec![],
        };
        let report = check(&policy, &load);
        assert!(report.failures.is_empty(), "{:?}", report.failures);

        let mut busier = load.clone();
        busier
            .others
            .push(other("ledger", "^ledger-", json!("eu-central-1")));
        busier
            .snapshots
            .extend(["x", "y"].iter().map(|db| copy(Some("ledger"), db, 0)));
        // A policy copying into another region does not count here.
        busier
            .others
            .push(other("far", "^far-", json!("us-east-1")));
        busier
            .snapshots
            .extend((0..30).map(|n| copy(Some("far"), "far", n)));
        let report = check(&policy, &busier);
        assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
        let failure = &report.failures[0];
        for part in [
            "keep 172 manual DB instance snapshots in eu-central-1, over the ManualSnapshots quota of 100",
            "this policy 22 (1 database(s) × 22 per database",
            "66 for billing-stack/Copies (3 database(s))",
            "44 for ledger-stack/Copies (2 database(s))",
            "and 40 other manual snapshots",
            "RetentionHours with KeepDaily",
        ] {
            assert!(failure.contains(part), "{part:?} not in {failure}");
        }
    }

    /// An update: the policy's own copies are neither another policy's nor made by hand.
    #[test]
    fn an_update_does_not_count_the_policys_own_copies_twice() {
        let policy = dr("orders", "^orders-");
        let load = RegionLoad {
            snapshots: (0..95).map(|n| copy(Some("orders"), "orders", n)).collect(),
            ..RegionLoad::default()
        };
        let report = check(&policy, &load);
        assert!(report.failures.is_empty(), "{:?}", report.failures);
    }

    #[test]
    fn a_policy_whose_region_is_a_parameter_is_named_not_guessed() {
        let policy = dr("orders", "^orders-");
        let load = RegionLoad {
            others: vec![other("p", "^p-", json!({"Ref": "DrRegion"}))],
            unreadable: vec!["policy x/Y: AccessDenied".into()],
            ..RegionLoad::default()
        };
        let report = check(&policy, &load);
        assert_eq!(report.warnings.len(), 2, "{:?}", report.warnings);
        assert!(report.warnings[0].contains("policy x/Y: AccessDenied"));
        assert!(report.warnings[1].contains("p-stack/Copies: its DestinationRegion is not known"));
    }
}
