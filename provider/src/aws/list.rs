//! The inventory, from paginated describe calls with server-side filters. Tags come from each
//! response's `TagList`: no call per snapshot.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_rds::types::{DbClusterSnapshot, DbSnapshot, Filter, Tag};
use chrono::{DateTime, Utc};
use rds_snapshot_policy_macro::spec::Role;

use super::{Aws, classify, error_code};
use crate::error::ProviderError;
use crate::inventory::{Database, Inventory, KeyManager, Kind, Snapshot, tags};
use crate::plan::Action;
use crate::policy::{RuntimePolicy, Selector};

fn time(t: Option<&aws_sdk_rds::primitives::DateTime>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
}

fn tag_map(list: &[Tag]) -> BTreeMap<String, String> {
    list.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

/// A shared snapshot's identifier is its ARN: keep the name.
fn name_of(id: &str) -> String {
    id.rsplit(':').next().unwrap_or(id).to_string()
}

fn from_instance_snapshot(s: &DbSnapshot) -> Snapshot {
    Snapshot {
        id: name_of(s.db_snapshot_identifier().unwrap_or_default()),
        arn: s.db_snapshot_arn().unwrap_or_default().to_string(),
        kind: Kind::Instance,
        database: s.db_instance_identifier().unwrap_or_default().to_string(),
        status: s.status().unwrap_or("unknown").to_string(),
        snapshot_type: s.snapshot_type().unwrap_or_default().to_string(),
        created: time(s.snapshot_create_time()),
        original_created: time(s.original_snapshot_create_time()),
        tags: tag_map(s.tag_list()),
        kms_key_id: s.kms_key_id().map(str::to_string),
        encrypted: s.encrypted().unwrap_or(false),
    }
}

fn from_cluster_snapshot(s: &DbClusterSnapshot) -> Snapshot {
    Snapshot {
        id: name_of(s.db_cluster_snapshot_identifier().unwrap_or_default()),
        arn: s.db_cluster_snapshot_arn().unwrap_or_default().to_string(),
        kind: Kind::Cluster,
        database: s.db_cluster_identifier().unwrap_or_default().to_string(),
        status: s.status().unwrap_or("unknown").to_string(),
        snapshot_type: s.snapshot_type().unwrap_or_default().to_string(),
        created: time(s.snapshot_create_time()),
        original_created: None,
        tags: tag_map(s.tag_list()),
        kms_key_id: s.kms_key_id().map(str::to_string),
        encrypted: s.storage_encrypted().unwrap_or(false),
    }
}

/// Which snapshots to list.
#[derive(Clone, Copy)]
enum Listing {
    /// This account's manual snapshots.
    Manual,
    /// Snapshots other accounts share with this one.
    Shared,
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

async fn list_snapshots(
    aws: &Aws,
    region: &str,
    listing: Listing,
    selector: &Selector,
) -> Result<Vec<Snapshot>, ProviderError> {
    let rds = aws.rds(region);
    let mut out = Vec::new();
    let want_instances = !matches!(selector, Selector::Cluster(_));
    let want_clusters = !matches!(selector, Selector::Instance(_));
    if want_instances {
        let mut request = rds.describe_db_snapshots();
        request = match listing {
            Listing::Manual => request.snapshot_type("manual"),
            Listing::Shared => request.snapshot_type("shared").include_shared(true),
        };
        if let (Selector::Instance(id), Listing::Manual) = (selector, listing) {
            request = request.filters(filter("db-instance-id", id));
        }
        let mut pages = request.into_paginator().send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| classify(e, &format!("listing DB snapshots in {region}")))?;
            out.extend(page.db_snapshots().iter().map(from_instance_snapshot));
        }
    }
    if want_clusters {
        let mut request = rds.describe_db_cluster_snapshots();
        request = match listing {
            Listing::Manual => request.snapshot_type("manual"),
            Listing::Shared => request.snapshot_type("shared").include_shared(true),
        };
        if let (Selector::Cluster(id), Listing::Manual) = (selector, listing) {
            request = request.filters(filter("db-cluster-id", id));
        }
        let mut pages = request.into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page
                .map_err(|e| classify(e, &format!("listing DB cluster snapshots in {region}")))?;
            out.extend(
                page.db_cluster_snapshots()
                    .iter()
                    .map(from_cluster_snapshot),
            );
        }
    }
    Ok(out)
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
            let page = match page {
                Ok(p) => p,
                Err(e) if error_code(&e).as_deref() == Some("DBInstanceNotFound") => break,
                Err(e) => return Err(classify(e, &format!("listing DB instances in {region}"))),
            };
            for db in page.db_instances() {
                let cluster = db.db_cluster_identifier().map(str::to_string);
                clusters_wanted.extend(cluster.clone());
                out.push(Database {
                    id: db.db_instance_identifier().unwrap_or_default().to_string(),
                    kind: Kind::Instance,
                    status: db.db_instance_status().unwrap_or("unknown").to_string(),
                    tags: tag_map(db.tag_list()),
                    cluster,
                    encrypted: db.storage_encrypted().unwrap_or(false),
                    kms_key_id: db.kms_key_id().map(str::to_string),
                });
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
            let page = match page {
                Ok(p) => p,
                Err(e) if error_code(&e).as_deref() == Some("DBClusterNotFoundFault") => break,
                Err(e) => return Err(classify(e, &format!("listing DB clusters in {region}"))),
            };
            for c in page.db_clusters() {
                let id = c.db_cluster_identifier().unwrap_or_default().to_string();
                if all || clusters_wanted.contains(&id) {
                    out.push(Database {
                        id,
                        kind: Kind::Cluster,
                        status: c.status().unwrap_or("unknown").to_string(),
                        tags: tag_map(c.tag_list()),
                        cluster: None,
                        encrypted: c.storage_encrypted().unwrap_or(false),
                        kms_key_id: c.kms_key_id().map(str::to_string),
                    });
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
    let digest = crate::plan::accounts_digest(&policy.accounts());
    let keys: BTreeSet<&str> = snapshots
        .iter()
        .filter(|s| s.encrypted && s.tag(tags::POLICY) == Some(policy.id.as_str()))
        .filter(|s| s.tag(tags::SHARED_WITH) != Some(digest.as_str()))
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

/// Lists what `action` needs to plan.
pub async fn list_inventory(
    aws: &Aws,
    action: Action,
    policy: &RuntimePolicy,
) -> Result<Inventory, ProviderError> {
    let mut inventory = Inventory::default();
    match (policy.role(), action) {
        (Role::Source, Action::Take) => {
            inventory.databases =
                list_databases(aws, &policy.source_region, &policy.selector).await?;
            inventory.snapshots = list_snapshots(
                aws,
                &policy.source_region,
                Listing::Manual,
                &policy.selector,
            )
            .await?;
        }
        (Role::Source, Action::Share) => {
            inventory.snapshots = list_snapshots(
                aws,
                &policy.source_region,
                Listing::Manual,
                &policy.selector,
            )
            .await?;
            inventory.key_managers = key_managers(aws, policy, &inventory.snapshots).await;
        }
        (Role::Source, Action::Delete) => {
            inventory.snapshots = list_snapshots(
                aws,
                &policy.source_region,
                Listing::Manual,
                &policy.selector,
            )
            .await?;
        }
        (Role::Destination, Action::Copy) => {
            let listing = if policy.spec.copies_across_accounts() {
                Listing::Shared
            } else {
                Listing::Manual
            };
            inventory.sources =
                list_snapshots(aws, &policy.source_region, listing, &policy.selector).await?;
            inventory.snapshots = list_snapshots(
                aws,
                &policy.destination_region,
                Listing::Manual,
                &Selector::Pattern(regex::Regex::new("").expect("empty regex")),
            )
            .await?;
        }
        (Role::Destination, Action::Delete) => {
            inventory.snapshots = list_snapshots(
                aws,
                &policy.destination_region,
                Listing::Manual,
                &Selector::Pattern(regex::Regex::new("").expect("empty regex")),
            )
            .await?;
        }
        (role, action) => {
            return Err(ProviderError::new(
                crate::error::ErrorKind::InputInvalid,
                format!(
                    "action {action} does not apply to a {} policy",
                    role.as_str()
                ),
            ));
        }
    }
    Ok(inventory)
}
