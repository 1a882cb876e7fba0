//! The deploy-time checks' decisions: pure, from what `gather` found. A check that could not
//! run (for example AccessDenied on GetKeyPolicy) is a warning, not a failure.

use std::collections::BTreeMap;

use super::key_policy::KeyPolicy;
pub use super::region_load::RegionLoad;
use super::region_load::decide_region_quota;
use crate::inventory::{Database, Kind};
use crate::plan::covered_databases;
use crate::policy::{RuntimePolicy, Selector};
use rds_snapshot_policy_core::Role;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckReport {
    /// Problems a person must fix; the deployment fails.
    pub failures: Vec<String>,
    /// Checks that could not run, and advice.
    pub warnings: Vec<String>,
    /// The databases the policy covers.
    pub databases: Vec<String>,
    /// What the checks found that a person may want to know, not a problem (the copy slots).
    pub notes: Vec<String>,
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
    /// ReencryptKmsKey's facts, read when a covered database is on the AWS-managed key.
    pub reencrypt_key: Option<KeyFacts>,
    pub quota: Result<Quotas, String>,
    /// The other policies and snapshots of the region, for the account-wide quota check;
    /// `None`: not read (the check counts this policy alone against what is used).
    pub load: Option<Result<RegionLoad, String>>,
    /// The region the policy's stack (and the others counted) is in.
    pub stack_region: String,
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
    /// As `SourceFacts::load`.
    pub load: Option<Result<RegionLoad, String>>,
    pub stack_region: String,
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

/// At most how many snapshots one database keeps at steady state (`region_load::per_database`).
pub fn snapshots_per_database(policy: &RuntimePolicy) -> i64 {
    super::region_load::per_database(&policy.spec)
}

/// An Update that shortens the retention window: the next delete run removes what the old
/// window kept. A changed default does this without the template changing (the DR default
/// went from 7 days to 6 hours with a daily tier), so the deployment says so.
pub fn retention_shrinks(old: &RuntimePolicy, new: &RuntimePolicy) -> Option<String> {
    let human = rds_snapshot_policy_core::rpo::human;
    (new.retention() < old.retention()).then(|| {
        let (property, value) = if old.spec.retention_hours.is_some() {
            ("RetentionHours", old.retention().num_hours())
        } else {
            ("RetentionDays", old.retention().num_days())
        };
        format!(
            "the retention window shrinks from {} to {}: the next delete run deletes this policy's snapshots older than {} that no tier or KeepLatest keeps; to keep the previous window set {property}: {value} (the quota check then says whether it fits)",
            human(old.retention()),
            human(new.retention()),
            human(new.retention()),
        )
    })
}

/// The warning for a policy whose created notification topic has no subscriber (the
/// expansion records it in `GeneratedResources`); `None` otherwise, and for resources
/// expanded before the field existed.
pub fn unsubscribed(properties: &serde_json::Value) -> Option<String> {
    use rds_snapshot_policy_core::contract::generated_properties as generated;
    let subscriber = properties
        .get(generated::GENERATED_RESOURCES)?
        .get(generated::NOTIFICATION_SUBSCRIBER)?;
    (subscriber == generated::SUBSCRIBER_NONE).then(|| {
        "the policy's notification topic has no subscriber: its alarms (RPO, RTO, failures, tamper, holds) reach no one; set NotificationEmail, or NotificationTopicArn to a topic someone reads, or subscribe to the created topic (attribute NotificationTopicArn) and set StrictChecks only once that is done".to_string()
    })
}

/// Minutes between a policy's snapshots (source) or arriving copies (destination).
fn arrival_interval(policy: &RuntimePolicy) -> i64 {
    rds_snapshot_policy_core::rpo::assumed_copy_spacing(&policy.spec)
        .unwrap_or_else(|| policy.backup_interval().num_minutes())
        .max(1)
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
    for db in targets.iter().filter(|d| policy.is_retired(&d.id)) {
        report.warnings.push(format!(
            "{} {} is retired (RetiredDatabases) but still exists in {region}: it is no longer snapshotted and has no RPO; remove it from RetiredDatabases if that is a mistake",
            db.kind.noun(),
            db.id
        ));
    }
    if targets.is_empty() {
        if let Selector::Instance(id) | Selector::Cluster(id) = &policy.selector
            && policy.is_retired(id)
        {
            report.warnings.push(format!(
                "{id} is retired (RetiredDatabases) and no longer exists in {region}: its snapshots are kept as RetiredKeepDays says"
            ));
            return report;
        }
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
        let reencrypt_key = facts.reencrypt_key.as_ref();
        decide_multi_az_clusters(policy, &targets, &mut report);
        decide_option_groups(&targets, &facts.option_groups, &mut report);
        for db in targets.iter().filter(|d| !d.is_multi_az_cluster()) {
            let facts = facts
                .keys
                .iter()
                .find(|(id, _)| *id == db.id)
                .map(|(_, k)| k);
            decide_shareable(policy, db, facts, reencrypt_key, &mut report);
        }
    }
    let own: BTreeMap<Kind, usize> = [Kind::Instance, Kind::Cluster]
        .into_iter()
        .map(|kind| (kind, targets.iter().filter(|d| d.kind == kind).count()))
        .filter(|(_, n)| *n > 0)
        .collect();
    let quota = (&facts.quota, &facts.load, facts.stack_region.as_str());
    quota_checks(policy, &own, region, quota, &mut report);
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
    reencrypt_key: Option<&KeyFacts>,
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
        Ok(true) if policy.spec.reencrypts() => {
            match reencrypt_key {
                Some(k) => decide_reencrypt_key(policy, db, k, report),
                None => report.warnings.push(format!(
                    "{noun} {} is on the AWS-managed key: ReencryptKmsKey could not be checked",
                    db.id
                )),
            }
            return;
        }
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
    let what = format!("{key} (encrypting {noun} {})", db.id);
    decide_key_policy(policy, facts.policy.as_ref(), &what, report);
}

/// A key's policy must let every destination account use it; `what` names the key (and what
/// it encrypts) in the messages.
fn decide_key_policy(
    policy: &RuntimePolicy,
    key_policy: Option<&Result<KeyPolicy, String>>,
    what: &str,
    report: &mut CheckReport,
) {
    match key_policy {
        None => {}
        Some(Err(text)) => report
            .warnings
            .push(format!("could not read the policy of {what}: {text}")),
        Some(Ok(key_policy)) => {
            for account in policy.accounts() {
                let missing = key_policy.missing_actions(account);
                if !missing.is_empty() {
                    report.failures.push(format!(
                        "the key policy of {what} does not let account {account} use {}: add a statement allowing arn:aws:iam::{account}:root kms:DescribeKey, kms:CreateGrant and kms:Decrypt",
                        missing.join(", ")
                    ));
                }
            }
        }
    }
}

/// ReencryptKmsKey for a database on the AWS-managed key: it must exist, be customer-managed
/// and let every DR account use it (the DR copy decrypts the shared re-encrypted snapshot).
fn decide_reencrypt_key(
    policy: &RuntimePolicy,
    db: &Database,
    key: &KeyFacts,
    report: &mut CheckReport,
) {
    let noun = db.kind.noun();
    let name = &key.key;
    match &key.aws_managed {
        Ok(true) => {
            report.failures.push(format!(
                "ReencryptKmsKey {name} is an AWS-managed key, which AWS does not share either: name a customer-managed key of this account in {}",
                policy.source_region
            ));
            return;
        }
        Ok(false) => {}
        Err(text) if text.starts_with("NotFoundException") => {
            report.failures.push(format!(
                "ReencryptKmsKey {name} (for {noun} {}, on the AWS-managed key) does not exist in {}: {text}",
                db.id, policy.source_region
            ));
            return;
        }
        Err(text) => {
            report
                .warnings
                .push(format!("could not describe ReencryptKmsKey {name}: {text}"));
            return;
        }
    }
    let what = format!(
        "ReencryptKmsKey {name} (re-encrypting the snapshots of {noun} {})",
        db.id
    );
    decide_key_policy(policy, key.policy.as_ref(), &what, report);
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
/// The quota facts of a region: the quotas, the region's other policies and snapshots, and the
/// stack's region.
type QuotaFacts<'a> = (
    &'a Result<Quotas, String>,
    &'a Option<Result<RegionLoad, String>>,
    &'a str,
);

/// The steady state of every policy of the account and region against the quota when the
/// region's load was read; else this policy alone against what is used now.
fn quota_checks(
    policy: &RuntimePolicy,
    own: &BTreeMap<Kind, usize>,
    region: &str,
    (quota, load, stack_region): QuotaFacts,
    report: &mut CheckReport,
) {
    if let (Ok(quotas), Some(Ok(load))) = (quota, load) {
        for kind in own.keys().filter(|k| quotas.of(**k).is_none()) {
            report.warnings.push(format!(
                "the {} quota of {region} was not reported",
                kind.quota_name()
            ));
        }
        decide_region_quota(policy, own, region, stack_region, load, quotas, report);
        return;
    }
    if let Some(Err(e)) = load {
        report.warnings.push(format!(
            "could not read the other policies of the account in {region} ({e}): the quota check counts this policy alone"
        ));
    }
    for (kind, databases) in own {
        decide_quota(policy, *kind, *databases, region, quota, report);
    }
}

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
        let fix = quota_fix(policy.role());
        report.failures.push(format!(
            "this policy keeps up to {needed} manual {noun} snapshots ({databases} {noun}(s) × (({retention} of retention + {between} between delete runs) / {interval}-minute {arrival} + 1{tiers})), and {used} of the {max} allowed in {region} are used: raise the {name} quota (Service Quotas), or {fix}",
            noun = kind.noun(),
            tiers = match policy.spec.tier_buckets() {
                0 => String::new(),
                sum => format!(" + {sum} for the tiers"),
            },
            retention = rds_snapshot_policy_core::rpo::human(policy.retention()),
            between = rds_snapshot_policy_core::rpo::human(
                super::region_load::between_delete_runs(&policy.spec)
            ),
            interval = arrival_interval(policy),
            arrival = match policy.role() {
                Role::Source => "interval",
                Role::Destination => "arrival of copies (the source's default cadence for RpoMinutes)",
            },
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
    // The steady state of one database's copies, per kind this policy copies (a pattern may
    // match both; the number of databases it will copy is not known before they are shared).
    let kinds: &[Kind] = match &policy.selector {
        Selector::Instance(_) => &[Kind::Instance],
        Selector::Cluster(_) => &[Kind::Cluster],
        _ => &[Kind::Instance, Kind::Cluster],
    };
    // Databases per kind: those its copies already hold (an update), at least one.
    let held = |kind: Kind| match &facts.load {
        Some(Ok(load)) => load
            .snapshots
            .iter()
            .filter(|s| s.kind == kind && policy.is_tagged(s))
            .map(|s| policy.database_key(s))
            .collect::<std::collections::BTreeSet<String>>()
            .len(),
        _ => 0,
    };
    let own: BTreeMap<Kind, usize> = kinds.iter().map(|k| (*k, held(*k).max(1))).collect();
    let before = report.failures.len();
    let quota = (&facts.quota, &facts.load, facts.stack_region.as_str());
    quota_checks(policy, &own, region, quota, &mut report);
    if let Some(Ok(load)) = &facts.load {
        super::copy_slots::decide_copy_slots(policy, region, &load.snapshots, &mut report);
    }
    if report.failures.len() == before
        && let Ok(quotas) = &facts.quota
    {
        for kind in [Kind::Instance, Kind::Cluster] {
            if let Some((used, max)) = quotas.of(kind).filter(|(u, m)| *m > 0 && u * 10 >= m * 9) {
                report.warnings.push(format!("{used} of the {max} manual {} snapshots allowed in {region} are used ({}): copies will fail when the quota is reached", kind.noun(), kind.quota_name()));
            }
        }
    }
    report
}

/// What a policy of `role` changes to keep fewer manual snapshots, besides a higher quota.
pub(super) fn quota_fix(role: Role) -> &'static str {
    match role {
        Role::Source => {
            "shorten the retention (RetentionHours keeps less than a day) or lengthen the interval (BackupIntervalMinutes)"
        }
        Role::Destination => {
            "keep every copy for hours and the days promised as a tier (RetentionHours with KeepDaily, the default when no retention is given: 22 copies per database)"
        }
    }
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
