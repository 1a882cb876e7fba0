//! RDS's answers as the inventory's types: snapshots (both kinds), tags, times, and the
//! describe filters. Shared by the listing (`list.rs`), the one-snapshot reads
//! (`snapshot_api.rs`) and the drills (`drill_api.rs`).

use std::collections::BTreeMap;

use aws_sdk_rds::types::{DbClusterSnapshot, DbSnapshot, Filter, Tag};
use chrono::{DateTime, Utc};

use crate::inventory::{Kind, Snapshot};

pub(super) fn time(t: Option<&aws_sdk_rds::primitives::DateTime>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
}

pub(super) fn tag_map(list: &[Tag]) -> BTreeMap<String, String> {
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

/// The fields both snapshot types share; the kind-specific ones are set by the caller.
fn snapshot(kind: Kind, id: Option<&str>, arn: Option<&str>, database: Option<&str>) -> Snapshot {
    Snapshot::manual(
        kind,
        name_of(id.unwrap_or_default()),
        arn.unwrap_or_default(),
        database.unwrap_or_default(),
    )
}

pub(super) fn from_instance_snapshot(s: &DbSnapshot) -> Snapshot {
    let id = s.db_snapshot_identifier();
    let mut out = snapshot(
        Kind::Instance,
        id,
        s.db_snapshot_arn(),
        s.db_instance_identifier(),
    );
    out.original_created = time(s.original_snapshot_create_time());
    out.encrypted = s.encrypted().unwrap_or(false);
    (out.status, out.snapshot_type) = (text(s.status(), "unknown"), text(s.snapshot_type(), ""));
    (out.created, out.tags) = (time(s.snapshot_create_time()), tag_map(s.tag_list()));
    out.kms_key_id = s.kms_key_id().map(str::to_string);
    out.engine = s.engine().map(str::to_string);
    out.engine_version = s.engine_version().map(str::to_string);
    out.option_group = s.option_group_name().map(str::to_string);
    out
}

pub(super) fn from_cluster_snapshot(s: &DbClusterSnapshot) -> Snapshot {
    let (id, arn) = (
        s.db_cluster_snapshot_identifier(),
        s.db_cluster_snapshot_arn(),
    );
    let mut out = snapshot(Kind::Cluster, id, arn, s.db_cluster_identifier());
    out.encrypted = s.storage_encrypted().unwrap_or(false);
    out.status = text(s.status(), "unknown");
    out.snapshot_type = text(s.snapshot_type(), "");
    out.created = time(s.snapshot_create_time());
    out.tags = tag_map(s.tag_list());
    out.kms_key_id = s.kms_key_id().map(str::to_string);
    out.engine = s.engine().map(str::to_string);
    out.engine_version = s.engine_version().map(str::to_string);
    out
}

fn text(value: Option<&str>, default: &str) -> String {
    value.unwrap_or(default).to_string()
}

pub(super) fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}
