//! One adapter over RDS's twin APIs: DB instance snapshots and DB cluster snapshots. Each
//! write is written once here; callers name the kind, never the API.

use aws_sdk_rds::Client;
use aws_sdk_rds::types::Tag;

use super::{classify, error_code};
use crate::error::ProviderError;
use crate::inventory::Kind;

/// `Err(None)` marks "already done" (by a concurrent run); `Err(Some(e))` a real failure.
pub(crate) type WriteResult = Result<(), Option<ProviderError>>;

pub(crate) struct SnapshotApi<'a> {
    pub rds: &'a Client,
    pub kind: Kind,
}

fn rds_tags(pairs: &[(String, String)]) -> Vec<Tag> {
    pairs
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// Maps an SDK error to `Err(None)` when its code is `done_code` (with or without `Fault`).
fn unless_done<E, R>(
    err: aws_sdk_rds::error::SdkError<E, R>,
    context: &str,
    done_code: &str,
) -> Option<ProviderError>
where
    E: aws_sdk_rds::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let code = error_code(&err);
    let bare = done_code.trim_end_matches("Fault");
    if code.as_deref() == Some(done_code) || code.as_deref() == Some(bare) {
        None
    } else {
        Some(classify(err, context))
    }
}

impl SnapshotApi<'_> {
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
        let done = self.already_exists();
        match self.kind {
            Kind::Instance => self
                .rds
                .create_db_snapshot()
                .db_instance_identifier(database)
                .db_snapshot_identifier(snapshot_id)
                .set_tags(Some(rds_tags(tags)))
                .send()
                .await
                .map(drop)
                .map_err(|e| unless_done(e, context, done)),
            Kind::Cluster => self
                .rds
                .create_db_cluster_snapshot()
                .db_cluster_identifier(database)
                .db_cluster_snapshot_identifier(snapshot_id)
                .set_tags(Some(rds_tags(tags)))
                .send()
                .await
                .map(drop)
                .map_err(|e| unless_done(e, context, done)),
        }
    }

    /// Adds `accounts` to the snapshot's `restore` attribute.
    pub async fn share(
        &self,
        snapshot_id: &str,
        accounts: &[String],
        context: &str,
    ) -> Result<(), ProviderError> {
        let accounts = Some(accounts.to_vec());
        match self.kind {
            Kind::Instance => self
                .rds
                .modify_db_snapshot_attribute()
                .db_snapshot_identifier(snapshot_id)
                .attribute_name("restore")
                .set_values_to_add(accounts)
                .send()
                .await
                .map(drop)
                .map_err(|e| classify(e, context)),
            Kind::Cluster => self
                .rds
                .modify_db_cluster_snapshot_attribute()
                .db_cluster_snapshot_identifier(snapshot_id)
                .attribute_name("restore")
                .set_values_to_add(accounts)
                .send()
                .await
                .map(drop)
                .map_err(|e| classify(e, context)),
        }
    }

    pub async fn copy(
        &self,
        source_arn: &str,
        target_id: &str,
        kms_key_id: &str,
        tags: &[(String, String)],
        context: &str,
    ) -> WriteResult {
        let done = self.already_exists();
        match self.kind {
            Kind::Instance => self
                .rds
                .copy_db_snapshot()
                .source_db_snapshot_identifier(source_arn)
                .target_db_snapshot_identifier(target_id)
                .kms_key_id(kms_key_id)
                .set_tags(Some(rds_tags(tags)))
                .send()
                .await
                .map(drop)
                .map_err(|e| unless_done(e, context, done)),
            Kind::Cluster => self
                .rds
                .copy_db_cluster_snapshot()
                .source_db_cluster_snapshot_identifier(source_arn)
                .target_db_cluster_snapshot_identifier(target_id)
                .kms_key_id(kms_key_id)
                .set_tags(Some(rds_tags(tags)))
                .send()
                .await
                .map(drop)
                .map_err(|e| unless_done(e, context, done)),
        }
    }

    pub async fn delete(&self, snapshot_id: &str, context: &str) -> WriteResult {
        let done = self.not_found();
        match self.kind {
            Kind::Instance => self
                .rds
                .delete_db_snapshot()
                .db_snapshot_identifier(snapshot_id)
                .send()
                .await
                .map(drop)
                .map_err(|e| unless_done(e, context, done)),
            Kind::Cluster => self
                .rds
                .delete_db_cluster_snapshot()
                .db_cluster_snapshot_identifier(snapshot_id)
                .send()
                .await
                .map(drop)
                .map_err(|e| unless_done(e, context, done)),
        }
    }
}
