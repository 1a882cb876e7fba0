//! The restore drill's AWS calls: restore a DR copy into a temporary instance (Aurora: cluster
//! plus one instance), read its status, list the drill's resources, delete them. Every delete
//! is of a resource just listed and passing `plan::drill::is_drill_resource`.

use aws_sdk_rds::Client;
use aws_sdk_rds::types::{DbCluster, DbInstance, Tag};

use super::convert::{tag_map, time};
use super::{Aws, Finished, classify, error_code};
use crate::error::ProviderError;
use crate::inventory::{Kind, Snapshot, tags};
use crate::plan::drill::{DrillResource, drill_class, is_drill_resource, member_identifier};
use crate::policy::RuntimePolicy;

pub struct DrillApi {
    rds: Client,
}

/// Where and how a restore is made.
#[derive(Clone)]
pub struct Target {
    pub class: String,
    pub subnet_group: Option<String>,
    pub security_groups: Option<Vec<String>>,
    pub tags: Vec<Tag>,
}

/// The tags of a failover restore: the policy and database, never the drill tag.
pub fn failover_tags(policy: &RuntimePolicy, database: &str) -> Vec<Tag> {
    [
        (tags::POLICY, policy.id.as_str()),
        (tags::DATABASE, database),
    ]
    .into_iter()
    .map(|(k, v)| Tag::builder().key(k).value(v).build())
    .collect()
}

/// What a status check found.
pub struct Status {
    pub available: bool,
    pub status: String,
    pub endpoint: Option<String>,
    /// The ARN of the drill resource checked (the cluster for Aurora).
    pub arn: Option<String>,
}

/// Where a drill restores a copy of `kind` of `database`: the policy's drill class and
/// network, the drill tags.
pub fn drill_target(policy: &RuntimePolicy, kind: Kind, database: &str) -> Target {
    let spec = &policy.spec;
    Target {
        class: drill_class(policy, kind),
        subnet_group: spec.drill_db_subnet_group_name.clone(),
        security_groups: spec.drill_vpc_security_group_ids.clone(),
        tags: drill_tags(policy, database),
    }
}

/// The tags of a drill resource: the failover tags plus the drill's own.
fn drill_tags(policy: &RuntimePolicy, database: &str) -> Vec<Tag> {
    let mut out = failover_tags(policy, database);
    out.insert(0, Tag::builder().key(tags::DRILL).value(&policy.id).build());
    out
}

impl DrillApi {
    pub fn new(aws: &Aws, region: &str) -> Self {
        DrillApi {
            rds: aws.rds(region),
        }
    }

    /// Restores `copy` as `identifier`: encrypted with the copy's (DR) key, not public, no
    /// deletion protection, tagged as this policy's drill with the copy's ARN and `requested`
    /// (the drill's evidence is read back from these tags, never from a task's input). An
    /// existing restore of the same name counts as done (a retried start).
    pub async fn restore(
        &self,
        policy: &RuntimePolicy,
        copy: &Snapshot,
        identifier: &str,
        requested: &str,
    ) -> Result<(), ProviderError> {
        let mut target = drill_target(policy, copy.kind, &policy.database_key(copy));
        target.tags.extend(
            [
                (tags::DRILL_SNAPSHOT, copy.arn.as_str()),
                (tags::DRILL_REQUESTED, requested),
            ]
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build()),
        );
        self.restore_as(copy, identifier, target).await
    }

    /// Records on the drill resource `arn` when a check first saw it serve (with the drill
    /// tag, which the provider role's condition requires on every drill tag write).
    pub async fn mark_available(
        &self,
        policy_id: &str,
        arn: &str,
        at: &str,
    ) -> Result<(), ProviderError> {
        self.rds
            .add_tags_to_resource()
            .resource_name(arn)
            .set_tags(Some(
                [(tags::DRILL, policy_id), (tags::DRILL_AVAILABLE, at)]
                    .into_iter()
                    .map(|(k, v)| Tag::builder().key(k).value(v).build())
                    .collect(),
            ))
            .send()
            .await
            .finished(&format!("recording when drill {arn} became available"))
    }

    /// Restores `copy` as `identifier` with `target`'s class, network and tags (a failover
    /// restore carries no drill tag, so no drill ever deletes it). An Aurora snapshot restores
    /// the cluster only, at the snapshot's engine version (without `EngineVersion` AWS takes the
    /// region's default); its instance is created by [`DrillApi::status`] once the cluster is
    /// `available`, as AWS requires (RDS API reference, RestoreDBClusterFromSnapshot).
    pub async fn restore_as(
        &self,
        copy: &Snapshot,
        identifier: &str,
        target: Target,
    ) -> Result<(), ProviderError> {
        let Target {
            class,
            subnet_group: subnet,
            security_groups: groups,
            tags: restore_tags,
        } = target;
        let context = format!("restoring {} as drill {identifier}", copy.id);
        let result = match copy.kind {
            Kind::Instance => self
                .rds
                .restore_db_instance_from_db_snapshot()
                .db_instance_identifier(identifier)
                .db_snapshot_identifier(&copy.id)
                .db_instance_class(&class)
                .publicly_accessible(false)
                .deletion_protection(false)
                .multi_az(false)
                .set_db_subnet_group_name(subnet)
                .set_vpc_security_group_ids(groups)
                .set_tags(Some(restore_tags))
                .send()
                .await
                .finished_or_code(&context),
            Kind::Cluster => {
                let (engine, version) = self.cluster_engine(&copy.id).await?;
                self.rds
                    .restore_db_cluster_from_snapshot()
                    .db_cluster_identifier(identifier)
                    .snapshot_identifier(&copy.id)
                    .engine(&engine)
                    .set_engine_version(version)
                    .deletion_protection(false)
                    .set_db_subnet_group_name(subnet)
                    .set_vpc_security_group_ids(groups)
                    .set_tags(Some(restore_tags))
                    .send()
                    .await
                    .finished_or_code(&context)
            }
        };
        match result {
            Ok(()) => Ok(()),
            Err((Some(code), _)) if code.contains("AlreadyExists") => Ok(()),
            Err((_, e)) => Err(e),
        }
    }

    async fn exists(&self, identifier: &str, kind: Kind) -> bool {
        match kind {
            Kind::Instance => self
                .rds
                .describe_db_instances()
                .db_instance_identifier(identifier)
                .send()
                .await
                .is_ok(),
            Kind::Cluster => self
                .rds
                .describe_db_clusters()
                .db_cluster_identifier(identifier)
                .send()
                .await
                .is_ok(),
        }
    }

    /// The engine and engine version a cluster snapshot was taken at.
    async fn cluster_engine(
        &self,
        snapshot: &str,
    ) -> Result<(String, Option<String>), ProviderError> {
        let out = self
            .rds
            .describe_db_cluster_snapshots()
            .db_cluster_snapshot_identifier(snapshot)
            .send()
            .await
            .map_err(|e| classify(e, &format!("reading the engine of {snapshot}")))?;
        let found = out.db_cluster_snapshots().first();
        Ok((
            found
                .and_then(|s| s.engine())
                .unwrap_or("aurora-postgresql")
                .to_string(),
            found.and_then(|s| s.engine_version()).map(str::to_string),
        ))
    }

    /// The restore's status. An Aurora restore serves once its instance does: while the cluster
    /// is not `available` that is the cluster's status; once it is, its instance is created
    /// with `target`'s class and tags (an existing one counts) and its status reported.
    pub async fn status(
        &self,
        identifier: &str,
        kind: Kind,
        target: &Target,
    ) -> Result<Status, ProviderError> {
        let mut cluster_endpoint = None;
        let mut cluster_arn = None;
        let instance = match kind {
            Kind::Instance => identifier.to_string(),
            Kind::Cluster => {
                let out = self
                    .rds
                    .describe_db_clusters()
                    .db_cluster_identifier(identifier)
                    .send()
                    .await
                    .map_err(|e| classify(e, &format!("checking drill cluster {identifier}")))?;
                let Some(cluster) = out.db_clusters().first() else {
                    return Err(ProviderError::new(
                        crate::error::ErrorName::DatabaseNotFound,
                        format!("drill cluster {identifier} is gone"),
                    ));
                };
                let status = cluster.status().unwrap_or("unknown");
                if status != "available" {
                    return Ok(Status {
                        available: false,
                        status: format!("cluster {status}"),
                        endpoint: None,
                        arn: None,
                    });
                }
                cluster_endpoint = cluster.endpoint().map(str::to_string);
                cluster_arn = cluster.db_cluster_arn().map(str::to_string);
                let member = member_identifier(identifier);
                if !self.exists(&member, Kind::Instance).await {
                    self.create_member(cluster, &member, target).await?;
                }
                member
            }
        };
        let out = self
            .rds
            .describe_db_instances()
            .db_instance_identifier(&instance)
            .send()
            .await
            .map_err(|e| classify(e, &format!("checking drill {instance}")))?;
        let Some(db) = out.db_instances().first() else {
            return Err(ProviderError::new(
                crate::error::ErrorName::DatabaseNotFound,
                format!("drill {instance} is gone"),
            ));
        };
        let status = db.db_instance_status().unwrap_or("unknown").to_string();
        let endpoint = cluster_endpoint
            .or_else(|| db.endpoint().and_then(|e| e.address()).map(str::to_string));
        Ok(Status {
            available: status == "available",
            status,
            endpoint,
            arn: cluster_arn.or_else(|| db.db_instance_arn().map(str::to_string)),
        })
    }

    /// The one instance of a restored (available) cluster; one already there counts.
    async fn create_member(
        &self,
        cluster: &aws_sdk_rds::types::DbCluster,
        member: &str,
        target: &Target,
    ) -> Result<(), ProviderError> {
        let context = format!(
            "creating {member} in drill cluster {}",
            cluster.db_cluster_identifier().unwrap_or_default()
        );
        match self
            .rds
            .create_db_instance()
            .db_instance_identifier(member)
            .set_db_cluster_identifier(cluster.db_cluster_identifier().map(str::to_string))
            .set_engine(cluster.engine().map(str::to_string))
            .db_instance_class(&target.class)
            .publicly_accessible(false)
            .set_tags(Some(target.tags.clone()))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if error_code(&e).is_some_and(|c| c.contains("AlreadyExists")) => Ok(()),
            Err(e) => Err(classify(e, &context)),
        }
    }

    /// Every instance and cluster of the policy's drill naming scheme, with tags and creation
    /// time (the caller applies the safety rule).
    pub async fn list(&self, prefix: &str) -> Result<Vec<DrillResource>, ProviderError> {
        let mut out = Vec::new();
        let mut pages = self.rds.describe_db_instances().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify(e, "listing DB instances for the drill"))?;
            out.extend(page.db_instances().iter().map(instance_resource));
        }
        let mut pages = self.rds.describe_db_clusters().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify(e, "listing DB clusters for the drill"))?;
            out.extend(page.db_clusters().iter().map(cluster_resource));
        }
        out.retain(|r| r.identifier.starts_with(prefix));
        Ok(out)
    }

    /// Deletes `resources` that pass the safety rule: instances first (skip the final
    /// snapshot, delete automated backups), then clusters. Returns what was deleted.
    pub async fn delete(
        &self,
        policy_id: &str,
        resources: &[&DrillResource],
    ) -> Result<Vec<String>, ProviderError> {
        let mut deleted = Vec::new();
        let mut ordered: Vec<&&DrillResource> = resources.iter().collect();
        ordered.sort_by_key(|r| r.kind == Kind::Cluster);
        for r in ordered {
            if !is_drill_resource(policy_id, r) {
                tracing::error!(policy = policy_id, identifier = %r.identifier, "not this policy's drill resource: never deleted");
                continue;
            }
            if r.status == "deleting" {
                continue;
            }
            let context = format!("deleting drill {}", r.identifier);
            let result = match r.kind {
                Kind::Instance => self
                    .rds
                    .delete_db_instance()
                    .db_instance_identifier(&r.identifier)
                    .skip_final_snapshot(true)
                    .delete_automated_backups(true)
                    .send()
                    .await
                    .finished_or_code(&context),
                Kind::Cluster => self
                    .rds
                    .delete_db_cluster()
                    .db_cluster_identifier(&r.identifier)
                    .skip_final_snapshot(true)
                    .send()
                    .await
                    .finished_or_code(&context),
            };
            match result {
                Ok(()) => deleted.push(r.identifier.clone()),
                Err((Some(code), _)) if code.contains("NotFound") => {}
                Err((_, e)) => return Err(e),
            }
        }
        Ok(deleted)
    }
}

fn instance_resource(db: &DbInstance) -> DrillResource {
    DrillResource {
        identifier: db.db_instance_identifier().unwrap_or_default().to_string(),
        kind: Kind::Instance,
        status: db.db_instance_status().unwrap_or("unknown").to_string(),
        tags: tag_map(db.tag_list()),
        created: time(db.instance_create_time()),
        cluster: db.db_cluster_identifier().map(str::to_string),
        endpoint: db.endpoint().and_then(|e| e.address()).map(str::to_string),
    }
}

fn cluster_resource(c: &DbCluster) -> DrillResource {
    DrillResource {
        identifier: c.db_cluster_identifier().unwrap_or_default().to_string(),
        kind: Kind::Cluster,
        status: c.status().unwrap_or("unknown").to_string(),
        tags: tag_map(c.tag_list()),
        created: time(c.cluster_create_time()),
        cluster: None,
        endpoint: c.endpoint().map(str::to_string),
    }
}
