//! One adapter over RDS's twin APIs: DB instance snapshots and DB cluster snapshots. Each
//! write is written once here; callers name the kind, never the API.

use aws_sdk_rds::Client;
use aws_sdk_rds::operation::describe_db_cluster_snapshot_attributes::DescribeDbClusterSnapshotAttributesOutput;
use aws_sdk_rds::operation::describe_db_snapshot_attributes::DescribeDbSnapshotAttributesOutput;
use aws_sdk_rds::types::Tag;

use super::convert::{filter, from_cluster_snapshot, from_instance_snapshot};
use super::{Finished, classify, error_code};
use crate::error::{ErrorName, ProviderError};
use crate::inventory::{Kind, Snapshot, tags};

/// The accounts of the `restore` attribute in a describe-attributes answer of either API.
trait RestoreValues {
    fn accounts_that_may_restore(&self) -> Vec<String>;
}

/// Implements `RestoreValues` for one API's answer, named by its result and list accessors.
macro_rules! restore_values {
    ($output:ty, $result:ident, $attributes:ident) => {
        impl RestoreValues for $output {
            fn accounts_that_may_restore(&self) -> Vec<String> {
                let all = self.$result().map(|r| r.$attributes()).unwrap_or_default();
                all.iter()
                    .filter(|a| a.attribute_name() == Some("restore"))
                    .flat_map(|a| a.attribute_values().to_vec())
                    .collect()
            }
        }
    };
}

restore_values!(
    DescribeDbSnapshotAttributesOutput,
    db_snapshot_attributes_result,
    db_snapshot_attributes
);
restore_values!(
    DescribeDbClusterSnapshotAttributesOutput,
    db_cluster_snapshot_attributes_result,
    db_cluster_snapshot_attributes
);

/// `Err(None)` marks "already done" (by a concurrent run); `Err(Some(e))` a real failure.
pub(crate) type WriteResult = Result<(), Option<ProviderError>>;

/// Builds the request on the instance or the cluster API (`$instance`, `$cluster`) and finishes
/// it with the same `$body`: the twin APIs differ in builder names, not in what follows.
macro_rules! on_kind {
    ($api:ident, $instance:expr, $cluster:expr, |$call:ident| $body:expr) => {
        match $api.kind {
            Kind::Instance => {
                let $call = $instance;
                $body
            }
            Kind::Cluster => {
                let $call = $cluster;
                $body
            }
        }
    };
}

pub(crate) struct SnapshotApi {
    pub rds: Client,
    pub kind: Kind,
}

/// The tags of a write. Only the contract's keys (`tags::WRITTEN`, the only ones the provider
/// role's IAM allows) are ever sent: any other key is a bug, refused before calling AWS.
fn rds_tags(pairs: &[(String, String)]) -> Result<Vec<Tag>, ProviderError> {
    if let Some((key, _)) = pairs
        .iter()
        .find(|(k, _)| !tags::WRITTEN.contains(&k.as_str()))
    {
        return Err(ProviderError::new(
            ErrorName::InternalError,
            format!("refusing to write tag {key:?}, which is not one of the contract's tag keys"),
        ));
    }
    Ok(pairs
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect())
}

/// An SDK result as a write's outcome: `Err(None)` when the error code is `done_code` (with
/// or without `Fault`), meaning someone else already did it.
fn settle<T, E, R>(
    result: Result<T, aws_sdk_rds::error::SdkError<E, R>>,
    context: &str,
    done_code: &str,
) -> WriteResult
where
    E: aws_sdk_rds::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + super::HttpStatus,
{
    let err = match result {
        Ok(_) => return Ok(()),
        Err(err) => err,
    };
    let code = error_code(&err);
    let bare = done_code.trim_end_matches("Fault");
    if code.as_deref() == Some(done_code) || code.as_deref() == Some(bare) {
        Err(None)
    } else {
        Err(Some(classify(err, context)))
    }
}

impl SnapshotApi {
    fn already_exists(&self) -> &'static str {
        match self.kind {
            Kind::Instance => "DBSnapshotAlreadyExists",
            Kind::Cluster => "DBClusterSnapshotAlreadyExistsFault",
        }
    }

    fn not_found(&self) -> &'static str {
        match self.kind {
            Kind::Instance => "DBSnapshotNotFound",
            Kind::Cluster => "DBClusterSnapshotNotFoundFault",
        }
    }

    pub async fn create(
        &self,
        database: &str,
        snapshot_id: &str,
        tags: &[(String, String)],
        context: &str,
    ) -> WriteResult {
        let (done, tags) = (self.already_exists(), Some(rds_tags(tags).map_err(Some)?));
        on_kind!(
            self,
            self.rds
                .create_db_snapshot()
                .db_instance_identifier(database)
                .db_snapshot_identifier(snapshot_id),
            self.rds
                .create_db_cluster_snapshot()
                .db_cluster_identifier(database)
                .db_cluster_snapshot_identifier(snapshot_id),
            |call| settle(call.set_tags(tags).send().await, context, done)
        )
    }

    /// The accounts in the snapshot's `restore` attribute (`all` when public).
    pub async fn restore_accounts(&self, snapshot_id: &str) -> Result<Vec<String>, ProviderError> {
        let context = format!("reading who {snapshot_id} is shared with");
        let found = on_kind!(
            self,
            self.rds
                .describe_db_snapshot_attributes()
                .db_snapshot_identifier(snapshot_id),
            self.rds
                .describe_db_cluster_snapshot_attributes()
                .db_cluster_snapshot_identifier(snapshot_id),
            |call| {
                call.send()
                    .await
                    .map_err(|e| classify(e, &context))?
                    .accounts_that_may_restore()
            }
        );
        Ok(found)
    }

    /// Adds `accounts` to the snapshot's `restore` attribute and removes `revoke`, in one call.
    pub async fn share(
        &self,
        snapshot_id: &str,
        accounts: &[String],
        revoke: &[String],
        context: &str,
    ) -> Result<(), ProviderError> {
        if accounts.is_empty() && revoke.is_empty() {
            return Ok(());
        }
        let accounts = (!accounts.is_empty()).then(|| accounts.to_vec());
        let revoke = (!revoke.is_empty()).then(|| revoke.to_vec());
        on_kind!(
            self,
            self.rds
                .modify_db_snapshot_attribute()
                .db_snapshot_identifier(snapshot_id),
            self.rds
                .modify_db_cluster_snapshot_attribute()
                .db_cluster_snapshot_identifier(snapshot_id),
            |call| call
                .attribute_name("restore")
                .set_values_to_add(accounts)
                .set_values_to_remove(revoke)
                .send()
                .await
                .finished(context)
        )
    }

    /// Adds or overwrites `tags` on the snapshot `arn` (either kind).
    pub async fn tag(
        &self,
        arn: &str,
        tags: &[(String, String)],
        context: &str,
    ) -> Result<(), ProviderError> {
        self.rds
            .add_tags_to_resource()
            .resource_name(arn)
            .set_tags(Some(rds_tags(tags)?))
            .send()
            .await
            .finished(context)
    }

    pub async fn copy(
        &self,
        source_arn: &str,
        target_id: &str,
        kms_key_id: &str,
        option_group: Option<&str>,
        tags: &[(String, String)],
        context: &str,
    ) -> WriteResult {
        let (done, tags) = (self.already_exists(), Some(rds_tags(tags).map_err(Some)?));
        on_kind!(
            self,
            self.rds
                .copy_db_snapshot()
                .source_db_snapshot_identifier(source_arn)
                .target_db_snapshot_identifier(target_id)
                .set_option_group_name(option_group.map(str::to_string)),
            self.rds
                .copy_db_cluster_snapshot()
                .source_db_cluster_snapshot_identifier(source_arn)
                .target_db_cluster_snapshot_identifier(target_id),
            |call| settle(
                call.kms_key_id(kms_key_id).set_tags(tags).send().await,
                context,
                done
            )
        )
    }

    /// This account's manual snapshots of this kind, or (`shared`) those shared with it; `only`
    /// filters server-side on one database. Paginated; tags come from each `TagList`.
    pub async fn list(
        &self,
        shared: bool,
        only: Option<&str>,
        region: &str,
    ) -> Result<Vec<Snapshot>, ProviderError> {
        let kind_type = if shared { "shared" } else { "manual" };
        let mut out = Vec::new();
        // The twin describe APIs differ only in names: one body for both.
        macro_rules! paginate {
            ($request:expr, $filter:literal, $items:ident, $convert:path, $what:literal) => {{
                let mut request = $request.snapshot_type(kind_type).include_shared(shared);
                if let Some(id) = only {
                    request = request.filters(filter($filter, id));
                }
                let mut pages = request.into_paginator().send();
                while let Some(page) = pages.next().await {
                    let page =
                        page.map_err(|e| classify(e, &format!("listing {} in {region}", $what)))?;
                    out.extend(page.$items().iter().map($convert));
                }
            }};
        }
        match self.kind {
            Kind::Instance => paginate!(
                self.rds.describe_db_snapshots(),
                "db-instance-id",
                db_snapshots,
                from_instance_snapshot,
                "DB snapshots"
            ),
            Kind::Cluster => paginate!(
                self.rds.describe_db_cluster_snapshots(),
                "db-cluster-id",
                db_cluster_snapshots,
                from_cluster_snapshot,
                "DB cluster snapshots"
            ),
        }
        Ok(out)
    }

    pub async fn delete(&self, snapshot_id: &str, context: &str) -> WriteResult {
        let done = self.not_found();
        on_kind!(
            self,
            self.rds
                .delete_db_snapshot()
                .db_snapshot_identifier(snapshot_id),
            self.rds
                .delete_db_cluster_snapshot()
                .db_cluster_snapshot_identifier(snapshot_id),
            |call| settle(call.send().await, context, done)
        )
    }
}
