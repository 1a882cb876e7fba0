//! The deploy-time checks' decisions: pure, from what `gather` found. A check that could not
//! run (for example AccessDenied on GetKeyPolicy) is a warning, not a failure.

use super::key_policy::KeyPolicy;
use crate::inventory::{Database, Kind};
use crate::plan::covered_databases;
use crate::policy::{RuntimePolicy, Selector};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckReport {
    /// Problems a person must fix; the deployment fails.
    pub failures: Vec<String>,
    /// Checks that could not run, and advice.
    pub warnings: Vec<String>,
    /// The databases the policy covers.
    pub databases: Vec<String>,
}

/// A manual snapshot quota: (used, max).
pub type Quota = (i64, i64);

/// A region's manual snapshot quotas per kind (`Kind::quota_name`); `None`: not reported.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Quotas {
    pub instance: Option<Quota>,
    pub cluster: Option<Quota>,
}

impl Quotas {
    pub fn of(&self, kind: Kind) -> Option<Quota> {
        match kind {
            Kind::Instance => self.instance,
            Kind::Cluster => self.cluster,
        }
    }
}

/// What AWS said about one database's key (source, when sharing).
#[derive(Debug, Clone)]
pub struct KeyFacts {
    pub key: String,
    /// `Ok(true)`: the AWS-managed key; `Err`: DescribeKey failed, with why.
    pub aws_managed: Result<bool, String>,
    /// `None` when not read (AWS-managed, or DescribeKey failed).
    pub policy: Option<Result<KeyPolicy, String>>,
}

/// What the source checks need.
#[derive(Debug, Clone)]
pub struct SourceFacts {
    pub region: String,
    pub databases: Result<Vec<Database>, String>,
    /// Per covered, encrypted database id: its key facts.
    pub keys: Vec<(String, KeyFacts)>,
    pub quota: Result<Quotas, String>,
    /// Per non-default option group of a covered instance (when sharing): the options that
    /// keep its snapshots from being shared, or why the group could not be read.
    pub option_groups: Vec<(String, Result<Vec<String>, String>)>,
}

/// One destination key as DescribeKey saw it.
#[derive(Debug, Clone)]
pub enum KeyState {
    Enabled,
    /// Disabled, PendingDeletion, ...
    Other(String),
    NotFound(String),
    /// The check could not run.
    Unknown(String),
}

#[derive(Debug, Clone)]
pub struct DestinationFacts {
    /// (property, key, region, state)
    pub keys: Vec<(&'static str, String, String, KeyState)>,
    /// The drill's network: `None` when the policy does not drill.
    pub drill_network: Option<DrillNetwork>,
    pub region: String,
    pub quota: Result<Quotas, String>,
}

/// Where drill instances would be created.
#[derive(Debug, Clone, PartialEq)]
pub enum DrillNetwork {
    /// The named subnet group exists.
    Found,
    /// The named subnet group does not exist.
    Missing(String),
    /// No group named and no `default` DB subnet group in the region.
    NoDefault,
    Unknown(String),
}

/// The databases the source policy covers, from the listing.
pub fn covered<'a>(policy: &RuntimePolicy, databases: &'a [Database]) -> Vec<&'a Database> {
    covered_databases(&policy.selector, databases)
        .into_iter()
        .filter_map(|c| c.database)
        .collect()
}

/// Manual snapshots a source policy keeps per database at most: one per interval over the
/// retention, plus the one being taken.
pub fn snapshots_needed(policy: &RuntimePolicy, databases: usize) -> i64 {
    snapshots_per_database(policy) * databases as i64
}

/// At most how many snapshots one database keeps at steady state: its retention window
/// (retention / interval + 1, at least KeepLatest) plus one per tier bucket older than the
/// window (KeepDaily + KeepWeekly + KeepMonthly + KeepYearly; overlaps make it fewer).
pub fn snapshots_per_database(policy: &RuntimePolicy) -> i64 {
    let interval = policy.backup_interval().num_minutes().max(1);
    let window = (policy.retention().num_minutes() / interval) + 1;
    window.max(policy.keep_latest() as i64) + policy.spec.tier_buckets() as i64
}

pub fn decide_source(policy: &RuntimePolicy, facts: &SourceFacts) -> CheckReport {
    let mut report = CheckReport::default();
    let region = &facts.region;
    let databases = match &facts.databases {
        Ok(d) => d,
        Err(e) => {
            report
                .warnings
                .push(format!("could not list the databases in {region}: {e}"));
            return report;
        }
    };
    let targets = covered(policy, databases);
    report.databases = targets.iter().map(|d| d.id.clone()).collect();
    if targets.is_empty() {
        report.failures.push(match &policy.selector {
            Selector::Instance(id) => format!("DB instance {id} does not exist in {region}"),
            Selector::Cluster(id) => format!("DB cluster {id} does not exist in {region}"),
            Selector::Pattern(re) => format!(
                "no DB instance or cluster in {region} matches InstanceNamePattern {:?}",
                re.as_str()
            ),
        });
        return report;
    }
    if policy.spec.shares() {
        decide_multi_az_clusters(policy, &targets, &mut report);
        decide_option_groups(&targets, &facts.option_groups, &mut report);
        for db in targets.iter().filter(|d| !d.is_multi_az_cluster()) {
            let facts = facts
                .keys
                .iter()
                .find(|(id, _)| *id == db.id)
                .map(|(_, k)| k);
            decide_shareable(policy, db, facts, &mut report);
        }
    }
    for kind in [Kind::Instance, Kind::Cluster] {
        let databases = targets.iter().filter(|d| d.kind == kind).count();
        if databases > 0 {
            decide_quota(policy, kind, databases, region, &facts.quota, &mut report);
        }
    }
    decide_copy_throughput(policy, &targets, &mut report);
    report
}

/// Copies an hour the DR region can make for one kind: AWS's in-flight limit, each copy
/// holding its slot for ExpectedCopyMinutes.
pub fn copies_per_hour(policy: &RuntimePolicy, kind: Kind) -> i64 {
    let minutes = policy.spec.expected_copy().num_minutes().max(1);
    crate::plan::copy::copy_limit(kind) as i64 * 60 / minutes
}

/// How much longer the last copy of a round waits: the policy's databases snapshot together,
/// and only `copy_limit` copies run at once, each for ExpectedCopyMinutes.
pub fn copy_queue_minutes(policy: &RuntimePolicy, kind: Kind, databases: usize) -> i64 {
    let limit = crate::plan::copy::copy_limit(kind);
    let rounds = databases.div_ceil(limit).max(1) as i64;
    (rounds - 1) * policy.spec.expected_copy().num_minutes()
}

/// Warns when the policy's databases make more snapshots an hour than the DR region can copy:
/// the copies then fall further behind with every snapshot and the RPO is missed.
fn decide_copy_throughput(policy: &RuntimePolicy, targets: &[&Database], report: &mut CheckReport) {
    if !policy.spec.shares() {
        return;
    }
    let interval = policy.backup_interval().num_minutes().max(1);
    for kind in [Kind::Instance, Kind::Cluster] {
        let count = targets.iter().filter(|d| d.kind == kind).count() as i64;
        let made = count * 60 / interval;
        let capacity = copies_per_hour(policy, kind);
        let queued = copy_queue_minutes(policy, kind, count as usize);
        if let Some(worst) = policy.worst_case()
            && queued > 0
            && made <= capacity
            && worst.minutes() + queued > worst.rpo_minutes
        {
            report.warnings.push(format!(
                "{count} {} snapshot at the same time, and a DR region copies at most {} at once: the last copy of a round waits {queued} minutes more, so the worst case is {} minutes, more than RpoMinutes ({}). Spread the databases over policies with other BackupSchedule minutes, or over DR regions",
                kind.noun_plural(),
                crate::plan::copy::copy_limit(kind),
                worst.minutes() + queued,
                worst.rpo_minutes
            ));
        }
        if count > 0 && made > capacity {
            report.warnings.push(format!(
                "{count} {} make {made} snapshots an hour ({interval}-minute interval), but a DR region copies at most {capacity} an hour ({} in flight, {} minutes each by ExpectedCopyMinutes): the copies fall behind and RpoMinutes is missed. Spread the databases over DR regions or policies with longer intervals",
                kind.noun_plural(),
                crate::plan::copy::copy_limit(kind),
                policy.spec.expected_copy().num_minutes()
            ));
        }
    }
}

fn decide_shareable(
    policy: &RuntimePolicy,
    db: &Database,
    facts: Option<&KeyFacts>,
    report: &mut CheckReport,
) {
    let noun = db.kind.noun();
    let Some(facts) = facts.filter(|_| db.encrypted) else {
        report.warnings.push(format!(
            "{noun} {} is not encrypted: its snapshots are shared unencrypted",
            db.id
        ));
        return;
    };
    let key = &facts.key;
    match &facts.aws_managed {
        Ok(true) => {
            report.failures.push(format!(
                "{noun} {} is encrypted with the AWS-managed key {key}; AWS does not allow sharing snapshots encrypted with it, so the DR account(s) {} could never copy them. Encrypt the database with a customer-managed key whose policy lets those accounts use it",
                db.id,
                policy.accounts().join(", ")
            ));
            return;
        }
        Ok(false) => {}
        Err(text) => {
            report.warnings.push(format!(
                "could not describe key {key} of {noun} {}: {text}",
                db.id
            ));
            return;
        }
    }
    match &facts.policy {
        None => {}
        Some(Err(text)) => report.warnings.push(format!(
            "could not read the policy of key {key} of {noun} {}: {text}",
            db.id
        )),
        Some(Ok(key_policy)) => {
            for account in policy.accounts() {
                let missing = key_policy.missing_actions(account);
                if !missing.is_empty() {
                    report.failures.push(format!(
                        "the key policy of {key} (encrypting {noun} {}) does not let account {account} use {}: add a statement allowing arn:aws:iam::{account}:root kms:DescribeKey, kms:CreateGrant and kms:Decrypt",
                        db.id,
                        missing.join(", ")
                    ));
                }
            }
        }
    }
}

/// Options AWS does not share snapshots with: Oracle and SQL Server TDE, and permanent or
/// persistent options other than Oracle's Timezone and OLS.
pub fn blocks_sharing(name: &str, permanent: bool, persistent: bool) -> bool {
    matches!(name, "TDE" | "TDE_SQLServer")
        || ((permanent || persistent) && !matches!(name, "Timezone" | "OLS"))
}

/// A sharing policy fails for an instance whose option group holds an option AWS will not
/// share snapshots with; an option group that cannot be read is a warning.
fn decide_option_groups(
    targets: &[&Database],
    groups: &[(String, Result<Vec<String>, String>)],
    report: &mut CheckReport,
) {
    for db in targets {
        for (group, options) in groups.iter().filter(|(g, _)| db.option_groups.contains(g)) {
            match options {
                Ok(blocking) if !blocking.is_empty() => report.failures.push(format!(
                    "DB instance {} uses the option group {group} with {}: AWS does not share snapshots with TDE or permanent or persistent options, so none can reach the DR account; protect it with a policy that does not share (ShareSnapshots: false) or AWS Backup",
                    db.id,
                    blocking.join(", ")
                )),
                Ok(_) => {}
                Err(e) => report.warnings.push(format!(
                    "could not read the option group {group} of {}: {e}",
                    db.id
                )),
            }
        }
    }
}

/// Multi-AZ DB clusters: AWS takes their snapshots but does not copy them, so a DR copy is
/// impossible. Named by the policy: a failure; matched by a pattern: a warning (they are
/// snapshotted at the source only).
fn decide_multi_az_clusters(
    policy: &RuntimePolicy,
    targets: &[&Database],
    report: &mut CheckReport,
) {
    for db in targets.iter().filter(|d| d.is_multi_az_cluster()) {
        let why = format!(
            "DB cluster {} is a Multi-AZ DB cluster ({}): AWS does not copy its snapshots across accounts or regions, so no DR copy can be made",
            db.id,
            db.engine.as_deref().unwrap_or("not Aurora")
        );
        match &policy.selector {
            Selector::Cluster(_) => report.failures.push(format!(
                "{why}; protect it with a policy that does not share (ShareSnapshots: false, snapshots in this account only), AWS Backup, or a cross-region read replica"
            )),
            _ => report.warnings.push(format!(
                "{why}; its snapshots are taken and kept here but never shared"
            )),
        }
    }
}

/// The quota of `kind`'s manual snapshots against what `databases` of that kind keep.
fn decide_quota(
    policy: &RuntimePolicy,
    kind: Kind,
    databases: usize,
    region: &str,
    quota: &Result<Quotas, String>,
    report: &mut CheckReport,
) {
    let name = kind.quota_name();
    let (used, max) = match quota.as_ref().map(|q| q.of(kind)) {
        Ok(Some(q)) => q,
        Ok(None) => {
            report
                .warnings
                .push(format!("the {name} quota of {region} was not reported"));
            return;
        }
        Err(e) => {
            report.warnings.push(format!(
                "could not read the manual snapshot quota in {region}: {e}"
            ));
            return;
        }
    };
    let needed = snapshots_needed(policy, databases);
    if used + needed > max {
        report.failures.push(format!(
            "this policy keeps up to {needed} manual {noun} snapshots ({databases} {noun}(s) × ({retention} of retention / {interval}-minute interval + 1{tiers})), and {used} of the {max} allowed in {region} are used: raise the {name} quota (Service Quotas), shorten the retention (RetentionHours keeps less than a day) or lengthen the interval (BackupIntervalMinutes)",
            noun = kind.noun(),
            tiers = match policy.spec.tier_buckets() {
                0 => String::new(),
                sum => format!(" + {sum} for the tiers"),
            },
            retention = rds_snapshot_policy_macro::rpo::human(policy.retention()),
            interval = policy.backup_interval().num_minutes(),
        ));
    }
}

pub fn decide_destination(policy: &RuntimePolicy, facts: &DestinationFacts) -> CheckReport {
    let mut report = CheckReport::default();
    if let Selector::Instance(id) | Selector::Cluster(id) = &policy.selector {
        report.databases.push(id.clone());
    }
    for (property, key, region, state) in &facts.keys {
        match state {
            KeyState::Enabled => {}
            KeyState::Other(state) => report.failures.push(format!(
                "{property} {key} in {region} is {state}, not Enabled: copies cannot be encrypted with it"
            )),
            KeyState::NotFound(text) => report.failures.push(format!(
                "{property} {key} does not exist in {region}: {text}"
            )),
            KeyState::Unknown(text) => report.warnings.push(format!(
                "could not check {property} {key} in {region}: {text}"
            )),
        }
    }
    let region = &facts.region;
    match &facts.drill_network {
        None | Some(DrillNetwork::Found) => {}
        Some(DrillNetwork::Missing(name)) => report.failures.push(format!(
            "DrillDBSubnetGroupName {name} does not exist in {region}: the restore drill could not create its instances"
        )),
        Some(DrillNetwork::NoDefault) => report.warnings.push(format!(
            "DrillDBSubnetGroupName is not given and {region} has no default DB subnet group: unless the account has a default VPC, the restore drill fails before creating anything; name a subnet group (and DrillVpcSecurityGroupIds)"
        )),
        Some(DrillNetwork::Unknown(e)) => report.warnings.push(format!(
            "could not check the restore drill's network in {region}: {e}"
        )),
    }
    match &facts.quota {
        Ok(quotas) => {
            for kind in [Kind::Instance, Kind::Cluster] {
                if let Some((used, max)) =
                    quotas.of(kind).filter(|(u, m)| *m > 0 && u * 10 >= m * 9)
                {
                    report.warnings.push(format!("{used} of the {max} manual {} snapshots allowed in {region} are used ({}): copies will fail when the quota is reached", kind.noun(), kind.quota_name()));
                }
            }
        }
        Err(e) => report.warnings.push(format!(
            "could not read the manual snapshot quota in {region}: {e}"
        )),
    }
    report
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::{Value, json};

    use super::*;

    fn source() -> RuntimePolicy {
        RuntimePolicy::from_properties(
            &json!({"Role": "Source", "PolicyId": "p", "InstanceNamePattern": "^orders",
                    "DestinationAccount": "222222222222", "RetentionDays": 2,
                    "BackupInterval": 1}),
            "eu-west-1",
            None,
        )
        .unwrap()
    }

    fn db(id: &str, key: Option<&str>) -> Database {
        Database {
            id: id.into(),
            kind: Kind::Instance,
            status: "available".into(),
            tags: BTreeMap::new(),
            cluster: None,
            encrypted: key.is_some(),
            engine: None,
            option_groups: Vec::new(),
            kms_key_id: key.map(str::to_string),
        }
    }

    fn facts(databases: Vec<Database>, keys: Vec<(String, KeyFacts)>, quota: Quota) -> SourceFacts {
        SourceFacts {
            region: "eu-west-1".into(),
            databases: Ok(databases),
            keys,
            quota: Ok(Quotas {
                instance: Some(quota),
                cluster: Some(quota),
            }),
            option_groups: Vec::new(),
        }
    }

    fn key(aws_managed: bool, policy: Option<&str>) -> KeyFacts {
        KeyFacts {
            key: "k1".into(),
            aws_managed: Ok(aws_managed),
            policy: policy.map(KeyPolicy::parse),
        }
    }

    const GOOD_POLICY: &str = r#"{"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:root"}, "Action": ["kms:DescribeKey", "kms:CreateGrant", "kms:Decrypt"], "Resource": "*"}]}"#;

    #[test]
    fn no_matching_database_fails_naming_the_pattern() {
        let report = decide_source(
            &source(),
            &facts(vec![db("billing", None)], vec![], (0, 100)),
        );
        assert_eq!(report.failures.len(), 1);
        assert!(report.failures[0].contains("matches InstanceNamePattern \"^orders\""));
    }

    #[test]
    fn aws_managed_key_fails_and_a_good_key_policy_passes() {
        let dbs = vec![db("orders-a", Some("k1")), db("orders-b", Some("k1"))];
        let keys = vec![
            ("orders-a".to_string(), key(true, None)),
            ("orders-b".to_string(), key(false, Some(GOOD_POLICY))),
        ];
        let report = decide_source(&source(), &facts(dbs, keys, (0, 100)));
        assert_eq!(report.databases, ["orders-a", "orders-b"]);
        assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
        assert!(report.failures[0].contains("orders-a is encrypted with the AWS-managed key"));
    }

    #[test]
    fn key_policy_without_the_dr_account_fails() {
        let keys = vec![(
            "orders".to_string(),
            key(false, Some(r#"{"Statement": []}"#)),
        )];
        let report = decide_source(
            &source(),
            &facts(vec![db("orders", Some("k1"))], keys, (0, 100)),
        );
        assert!(report.failures[0].contains("does not let account 222222222222 use"));
    }

    #[test]
    fn more_snapshots_an_hour_than_the_dr_region_can_copy_is_a_warning() {
        // 30-minute cadence, 10-minute copies: 120 instance copies an hour, so 60 databases fit.
        let many = |n: usize| {
            (0..n)
                .map(|i| db(&format!("orders-{i:03}"), None))
                .collect()
        };
        let fits = decide_source(
            &source_half_hourly(),
            &facts(many(60), vec![], (0, 100_000)),
        );
        assert!(
            !fits.warnings.iter().any(|w| w.contains("fall behind")),
            "{:?}",
            fits.warnings
        );
        let behind = decide_source(
            &source_half_hourly(),
            &facts(many(61), vec![], (0, 100_000)),
        );
        assert!(
            behind
                .warnings
                .iter()
                .any(|w| w.contains("61 DB instances make 122 snapshots an hour")
                    && w.contains("at most 120 an hour")),
            "{:?}",
            behind.warnings
        );
    }

    fn source_half_hourly() -> RuntimePolicy {
        RuntimePolicy::from_properties(
            &json!({"Role": "Source", "PolicyId": "p", "InstanceNamePattern": "^orders",
                    "DestinationAccount": "222222222222"}),
            "eu-west-1",
            None,
        )
        .unwrap()
    }

    #[test]
    fn the_default_half_hour_cadence_fits_the_default_quota_with_retention_hours() {
        let policy = |retention: Value| {
            let mut properties = json!({"Role": "Source", "PolicyId": "p",
                "DBInstanceIdentifier": "orders", "DestinationAccount": "222222222222"});
            properties
                .as_object_mut()
                .unwrap()
                .extend(retention.as_object().unwrap().clone());
            RuntimePolicy::from_properties(&properties, "eu-west-1", None).unwrap()
        };
        // A day at 30 minutes: 49 per database, two databases fit 100.
        assert_eq!(snapshots_needed(&policy(json!({})), 2), 98);
        let twelve_hours = policy(json!({"RetentionHours": 12}));
        assert_eq!(snapshots_needed(&twelve_hours, 4), 100);
        let full = decide_source(
            &twelve_hours,
            &facts(vec![db("orders", None)], vec![], (80, 100)),
        );
        assert!(
            full.failures[0].contains("12 hours of retention / 30-minute interval"),
            "{:?}",
            full.failures
        );
    }

    #[test]
    fn quota_counts_retention_over_interval_plus_one() {
        // 2 days of hourly snapshots + 1 = 49 per database.
        assert_eq!(snapshots_needed(&source(), 2), 98);
        let ok = decide_source(
            &source(),
            &facts(vec![db("orders", None)], vec![], (51, 100)),
        );
        assert!(ok.failures.is_empty(), "{:?}", ok.failures);
        let full = decide_source(
            &source(),
            &facts(vec![db("orders", None)], vec![], (52, 100)),
        );
        assert!(full.failures[0].contains("keeps up to 49 manual DB instance snapshots"));
        assert!(ok.warnings[0].contains("not encrypted"));
    }

    #[test]
    fn the_tiers_add_one_snapshot_per_bucket_to_the_quota() {
        let policy = RuntimePolicy::from_properties(
            &json!({"Role": "Source", "PolicyId": "p", "DBInstanceIdentifier": "orders",
                "DestinationAccount": "222222222222", "RetentionHours": 12,
                "KeepDaily": 7, "KeepWeekly": 4, "KeepMonthly": 12, "KeepYearly": 2}),
            "eu-west-1",
            None,
        )
        .unwrap();
        // 12 hours at 30 minutes: 25, plus 7 + 4 + 12 + 2.
        assert_eq!(snapshots_per_database(&policy), 50);
        let full = decide_source(&policy, &facts(vec![db("orders", None)], vec![], (51, 100)));
        assert!(
            full.failures[0].contains("+ 1 + 25 for the tiers")
                || full.failures[0].contains("+ 25 for the tiers"),
            "{:?}",
            full.failures
        );
    }

    #[test]
    fn tde_and_permanent_or_persistent_options_block_sharing() {
        assert!(blocks_sharing("TDE", false, false));
        assert!(blocks_sharing("TDE_SQLServer", true, true));
        assert!(blocks_sharing("NATIVE_NETWORK_ENCRYPTION", true, false));
        assert!(blocks_sharing("SOMETHING", false, true));
        assert!(
            !blocks_sharing("Timezone", true, true),
            "Oracle's exception"
        );
        assert!(!blocks_sharing("OLS", true, true), "Oracle's exception");
        assert!(!blocks_sharing("MEMCACHED", false, false));
    }

    #[test]
    fn multi_az_db_clusters_cannot_reach_the_dr_account() {
        let mut reports = db("reports", Some("k1"));
        reports.kind = Kind::Cluster;
        reports.engine = Some("postgres".into());
        let mut ledger = reports.clone();
        ledger.id = "ledger".into();
        ledger.engine = Some("aurora-postgresql".into());
        let named = RuntimePolicy::from_properties(
            &json!({"Role": "Source", "PolicyId": "p", "DBClusterIdentifier": "reports",
                "DestinationAccount": "222222222222"}),
            "eu-west-1",
            None,
        )
        .unwrap();
        let good = key(false, Some(GOOD_POLICY));
        let facts = |dbs: Vec<Database>| {
            let keys = dbs.iter().map(|d| (d.id.clone(), good.clone())).collect();
            super::tests::facts(dbs, keys, (0, 100))
        };
        let report = decide_source(&named, &facts(vec![reports.clone()]));
        assert!(
            report.failures.iter().any(|f| f.contains(
                "DB cluster reports is a Multi-AZ DB cluster (postgres): AWS does not copy its snapshots"
            )),
            "{:?}",
            report.failures
        );
        let pattern = RuntimePolicy::from_properties(
            &json!({"Role": "Source", "PolicyId": "p", "InstanceNamePattern": ".*",
                "DestinationAccount": "222222222222"}),
            "eu-west-1",
            None,
        )
        .unwrap();
        let report = decide_source(&pattern, &facts(vec![reports, ledger]));
        assert!(report.failures.is_empty(), "{:?}", report.failures);
        assert!(
            report
                .warnings
                .iter()
                .any(|w| w.contains("reports is a Multi-AZ DB cluster")
                    && w.contains("never shared")),
            "{:?}",
            report.warnings
        );
        assert!(
            !report.warnings.iter().any(|w| w.contains("ledger")),
            "{:?}",
            report.warnings
        );
    }

    #[test]
    fn each_kind_is_checked_against_its_own_quota() {
        let policy = RuntimePolicy::from_properties(
            &json!({"Role": "Source", "PolicyId": "p", "InstanceNamePattern": "^orders",
                "DestinationAccount": "222222222222"}),
            "eu-west-1",
            None,
        )
        .unwrap();
        let mut cluster = db("orders-cluster", None);
        cluster.kind = Kind::Cluster;
        let with = |instance: Quota, clusters: Quota| SourceFacts {
            quota: Ok(Quotas {
                instance: Some(instance),
                cluster: Some(clusters),
            }),
            ..facts(vec![db("orders", None), cluster.clone()], vec![], (0, 0))
        };
        // Instance snapshots full, cluster snapshots empty: only the instance fails.
        let report = decide_source(&policy, &with((100, 100), (0, 100)));
        assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
        assert!(report.failures[0].contains("raise the ManualSnapshots quota"));
        let report = decide_source(&policy, &with((0, 100), (100, 100)));
        assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
        assert!(
            report.failures[0].contains("manual DB cluster snapshots")
                && report.failures[0].contains("raise the ManualClusterSnapshots quota"),
            "{:?}",
            report.failures
        );
        assert!(
            decide_source(&policy, &with((0, 100), (0, 100)))
                .failures
                .is_empty()
        );
    }

    #[test]
    fn destination_keys_and_quota() {
        let policy = RuntimePolicy::from_properties(
            &json!({"Role": "Destination", "SourceAccounts": ["111111111111"], "PolicyId": "p", "SnapshotPattern": ".*",
                    "DestinationRegion": "eu-central-1",
                    "KmsKeyDestination": "arn:aws:kms:eu-central-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"}),
            "eu-west-1",
            None,
        )
        .unwrap();
        let facts = DestinationFacts {
            keys: vec![
                (
                    "KmsKeyDestination",
                    "k".into(),
                    "eu-central-1".into(),
                    KeyState::Other("Disabled".into()),
                ),
                (
                    "KmsKeySource",
                    "s".into(),
                    "eu-west-1".into(),
                    KeyState::Unknown("AccessDeniedException".into()),
                ),
            ],
            region: "eu-central-1".into(),
            quota: Ok(Quotas {
                instance: Some((90, 100)),
                cluster: None,
            }),
            drill_network: None,
        };
        let report = decide_destination(&policy, &facts);
        assert_eq!(
            report.failures,
            [
                "KmsKeyDestination k in eu-central-1 is Disabled, not Enabled: copies cannot be encrypted with it"
            ]
        );
        assert_eq!(report.warnings.len(), 2);
        assert!(report.warnings[1].contains("90 of the 100 manual DB instance snapshots"));

        let missing = DestinationFacts {
            drill_network: Some(DrillNetwork::Missing("app-dr".into())),
            ..facts.clone()
        };
        let report = decide_destination(&policy, &missing);
        assert!(
            report.failures.iter().any(|f| f.contains("DrillDBSubnetGroupName app-dr does not exist in eu-central-1")),
            "{:?}",
            report.failures
        );
        let unnamed = DestinationFacts {
            drill_network: Some(DrillNetwork::NoDefault),
            ..facts
        };
        let report = decide_destination(&policy, &unnamed);
        assert!(
            report
                .warnings
                .iter()
                .any(|w| w.contains("no default DB subnet group")),
            "{:?}",
            report.warnings
        );
    }
}
