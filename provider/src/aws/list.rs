//! The inventory, from paginated describe calls with server-side filters. Tags come from each
//! response's `TagList`: no call per snapshot.

use std::collections::{BTreeMap, BTreeSet};

use rds_snapshot_policy_core::spec::Role;

use super::convert::tag_map;
use super::snapshot_api::SnapshotApi;
use super::{Aws, classify, error_code};
use crate::error::ProviderError;
use crate::inventory::{Database, Inventory, KeyManager, Kind, Snapshot};
use crate::plan::Action;
use crate::policy::{RuntimePolicy, Selector};

/// Which snapshots to list.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Listing {
    /// This account's manual snapshots.
    Manual,
    /// Snapshots other accounts share with this one.
    Shared,
}

/// Every manual snapshot (both kinds) of this account in `region`, with its tags.
pub async fn manual_snapshots(aws: &Aws, region: &str) -> Result<Vec<Snapshot>, ProviderError> {
    list_snapshots(aws, region, Listing::Manual, None).await
}

async fn list_snapshots(
    aws: &Aws,
    region: &str,
    listing: Listing,
    selector: Option<&Selector>,
) -> Result<Vec<Snapshot>, ProviderError> {
    let rds = aws.rds(region);
    let mut out = Vec::new();
    for kind in [Kind::Instance, Kind::Cluster] {
        // A named database is listed server-side; a pattern is matched by the planner.
        let only = match (selector, kind) {
            (Some(Selector::Instance(_)), Kind::Cluster)
            | (Some(Selector::Cluster(_)), Kind::Instance) => continue,
            (Some(Selector::Instance(id) | Selector::Cluster(id)), _)
                if listing == Listing::Manual =>
            {
                Some(id.as_str())
            }
            _ => None,
        };
        let api = SnapshotApi {
            rds: rds.clone(),
            kind,
        };
        out.extend(api.list(listing == Listing::Shared, only, region).await?);
    }
    Ok(out)
}

fn database(id: Option<&str>, kind: Kind, status: Option<&str>) -> Database {
    Database {
        id: id.unwrap_or_default().to_string(),
        kind,
        status: status.unwrap_or("unknown").to_string(),
        tags: BTreeMap::new(),
        cluster: None,
        encrypted: false,
        engine: None,
        option_groups: Vec::new(),
        kms_key_id: None,
    }
}

/// A describe page, or `None` when the named database does not exist (`not_found`).
fn found<T, E, R>(
    page: Result<T, aws_sdk_rds::error::SdkError<E, R>>,
    not_found: &str,
    what: &str,
    region: &str,
) -> Result<Option<T>, ProviderError>
where
    E: aws_sdk_rds::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + super::HttpStatus,
{
    match page {
        Ok(p) => Ok(Some(p)),
        Err(e) if error_code(&e).as_deref() == Some(not_found) => Ok(None),
        Err(e) => Err(classify(e, &format!("listing {what} in {region}"))),
    }
}

pub(crate) async fn list_databases(
    aws: &Aws,
    region: &str,
    selector: &Selector,
) -> Result<Vec<Database>, ProviderError> {
    let rds = aws.rds(region);
    let mut out = Vec::new();
    let mut clusters_wanted: BTreeSet<String> = BTreeSet::new();
    let all = matches!(selector, Selector::Pattern(_));
    if all || matches!(selector, Selector::Instance(_)) {
        let mut request = rds.describe_db_instances();
        if let Selector::Instance(id) = selector {
            request = request.db_instance_identifier(id);
        }
        let mut pages = request.into_paginator().send();
        while let Some(page) = pages.next().await {
            let Some(page) = found(page, "DBInstanceNotFound", "DB instances", region)? else {
                break;
            };
            for db in page.db_instances() {
                let cluster = db.db_cluster_identifier().map(str::to_string);
                clusters_wanted.extend(cluster.clone());
                let status = db.db_instance_status();
                let mut database = database(db.db_instance_identifier(), Kind::Instance, status);
                database.tags = tag_map(db.tag_list());
                database.cluster = cluster;
                database.encrypted = db.storage_encrypted().unwrap_or(false);
                database.kms_key_id = db.kms_key_id().map(str::to_string);
                database.engine = db.engine().map(str::to_string);
                database.option_groups = db
                    .option_group_memberships()
                    .iter()
                    .filter_map(|m| m.option_group_name())
                    .map(str::to_string)
                    .collect();
                out.push(database);
            }
        }
    }
    if let Selector::Cluster(id) = selector {
        clusters_wanted.insert(id.clone());
    }
    if all || !clusters_wanted.is_empty() {
        let mut request = rds.describe_db_clusters();
        if let (false, Some(only)) = (
            all,
            clusters_wanted
                .first()
                .filter(|_| clusters_wanted.len() == 1),
        ) {
            request = request.db_cluster_identifier(only);
        }
        let mut pages = request.into_paginator().send();
        while let Some(page) = pages.next().await {
            let Some(page) = found(page, "DBClusterNotFoundFault", "DB clusters", region)? else {
                break;
            };
            for c in page.db_clusters() {
                let mut cluster = database(c.db_cluster_identifier(), Kind::Cluster, c.status());
                cluster.engine = c.engine().map(str::to_string);
                if all || clusters_wanted.contains(&cluster.id) {
                    cluster.tags = tag_map(c.tag_list());
                    cluster.encrypted = c.storage_encrypted().unwrap_or(false);
                    cluster.kms_key_id = c.kms_key_id().map(str::to_string);
                    out.push(cluster);
                }
            }
        }
    }
    Ok(out)
}

/// Who manages each key of the snapshots `share` may touch (one DescribeKey per key).
async fn key_managers(
    aws: &Aws,
    policy: &RuntimePolicy,
    snapshots: &[Snapshot],
) -> BTreeMap<String, KeyManager> {
    let keys: BTreeSet<&str> = snapshots
        .iter()
        .filter(|s| s.encrypted && policy.is_tagged(s))
        .filter(|s| crate::plan::share::needs_share(policy, s))
        .filter_map(|s| s.kms_key_id.as_deref())
        .collect();
    let kms = aws.kms(&policy.source_region);
    let mut out = BTreeMap::new();
    for key in keys {
        match kms.describe_key().key_id(key).send().await {
            Ok(r) => {
                let manager = match r.key_metadata().and_then(|m| m.key_manager()) {
                    Some(aws_sdk_kms::types::KeyManagerType::Aws) => KeyManager::Aws,
                    _ => KeyManager::Customer,
                };
                out.insert(key.to_string(), manager);
            }
            Err(e) => {
                tracing::warn!(policy = %policy.id, key, error = %aws_sdk_kms::error::DisplayErrorContext(&e), "cannot describe key; sharing is attempted")
            }
        }
    }
    out
}

/// The `restore` attribute of the policy's available snapshots: who AWS says may restore each,
/// whatever the tags record (the share run calls it only when it has nothing to share, so the
/// audit never takes a share's time). One call each, `parallelism()` at a time; none starts
/// near the deadline, and one that cannot be read is logged and left out (a later run audits
/// it).
pub async fn restore_accounts(
    aws: &Aws,
    policy: &RuntimePolicy,
    snapshots: &[Snapshot],
) -> BTreeMap<String, Vec<String>> {
    let rds = aws.rds(&policy.source_region);
    let margin = aws.deadline_margin();
    let mut wanted = snapshots
        .iter()
        .filter(|s| s.is_available() && crate::plan::share::is_own(policy, s));
    let mut out = BTreeMap::new();
    let mut running = tokio::task::JoinSet::new();
    loop {
        while running.len() < super::apply::parallelism() {
            let Some(s) = wanted.next() else { break };
            if aws.time_left().is_some_and(|left| left < margin) {
                tracing::warn!(policy = %policy.id, "near the deadline: the rest of the share audit is left to the next run");
                break;
            }
            let api = super::snapshot_api::SnapshotApi {
                rds: rds.clone(),
                kind: s.kind,
            };
            let (id, arn) = (s.id.clone(), s.arn.clone());
            running.spawn(async move { (id.clone(), arn, api.restore_accounts(&id).await) });
        }
        let Some(finished) = running.join_next().await else {
            break;
        };
        match finished {
            Ok((_, arn, Ok(accounts))) => {
                out.insert(arn, accounts);
            }
            Ok((id, _, Err(e))) => {
                tracing::warn!(policy = %policy.id, snapshot = %id, error = %e, "cannot read who the snapshot is shared with")
            }
            Err(join) => {
                tracing::error!(policy = %policy.id, error = %join, "a share audit read panicked")
            }
        }
    }
    out
}

/// Lists what `action` needs to plan.
pub async fn list_inventory(
    aws: &Aws,
    action: Action,
    policy: &RuntimePolicy,
) -> Result<Inventory, ProviderError> {
    let mut inventory = Inventory::default();
    match (policy.role(), action) {
        (Role::Source, Action::Take | Action::Share | Action::Delete) => {
            let region = &policy.source_region;
            if action == Action::Take {
                inventory.databases = list_databases(aws, region, &policy.selector).await?;
            }
            let selector = Some(&policy.selector);
            inventory.snapshots = list_snapshots(aws, region, Listing::Manual, selector).await?;
            if action == Action::Share {
                inventory.key_managers = key_managers(aws, policy, &inventory.snapshots).await;
                // The audit never takes time from sharing: a run with snapshots to share
                // leaves it to the next (idle) run.
                let to_share = inventory.snapshots.iter().any(|s| {
                    s.is_available()
                        && crate::plan::share::is_own(policy, s)
                        && crate::plan::share::needs_share(policy, s)
                });
                if !to_share {
                    inventory.restore_accounts =
                        restore_accounts(aws, policy, &inventory.snapshots).await;
                }
            }
        }
        (Role::Destination, Action::Copy | Action::Delete | Action::Drill) => {
            if action == Action::Copy {
                let listing = if policy.spec.copies_across_accounts() {
                    Listing::Shared
                } else {
                    Listing::Manual
                };
                let (region, selector) = (&policy.source_region, Some(&policy.selector));
                inventory.sources = list_snapshots(aws, region, listing, selector).await?;
                if policy.spec.copies_in_two_steps() {
                    inventory.staged =
                        list_snapshots(aws, region, Listing::Manual, selector).await?;
                }
            }
            // Every copy in the DR region counts (in-flight limits, names taken).
            let region = &policy.destination_region;
            inventory.snapshots = list_snapshots(aws, region, Listing::Manual, None).await?;
        }
        (role, action) => {
            return Err(ProviderError::new(
                crate::error::ErrorName::InputInvalid,
                format!(
                    "action {action} does not apply to a {} policy",
                    role.as_str()
                ),
            ));
        }
    }
    Ok(inventory)
}
