//! The restore drill's AWS calls: restore a DR copy into a temporary instance (Aurora: cluster
//! plus one instance), read its status, list the drill's resources, delete them. Every delete
//! is of a resource just listed and passing `plan::drill::is_drill_resource`.

use aws_sdk_rds::Client;
use aws_sdk_rds::types::Tag;

use super::list::{tag_map, time};
use super::{Aws, classify, error_code};
use crate::error::ProviderError;
use crate::inventory::{Kind, Snapshot, tags};
use crate::plan::drill::{DrillResource, drill_class, is_drill_resource, member_identifier};
use crate::policy::RuntimePolicy;

pub struct DrillApi {
    rds: Client,
}

/// Where and how a restore is made.
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
    /// deletion protection, tagged as this policy's drill. An existing restore of the same name
    /// counts as done (a retried start).
    pub async fn restore(
        &self,
        policy: &RuntimePolicy,
        copy: &Snapshot,
        identifier: &str,
    ) -> Result<(), ProviderError> {
        let spec = &policy.spec;
        let target = Target {
            class: drill_class(policy, copy.kind),
            subnet_group: spec.drill_db_subnet_group_name.clone(),
            security_groups: spec.drill_vpc_security_group_ids.clone(),
            tags: drill_tags(policy, copy.database_key()),
        };
        self.restore_as(copy, identifier, target).await
    }

    /// Restores `copy` as `identifier` with `target`'s class, network and tags (a failover
    /// restore carries no drill tag, so no drill ever deletes it).
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
                .set_tags(Some(restore_tags.clone()))
                .send()
                .await
                .map(drop)
                .map_err(|e| (error_code(&e), classify(e, &context))),
            Kind::Cluster => {
                let engine = self.cluster_engine(&copy.id).await?;
                let cluster = self
                    .rds
                    .restore_db_cluster_from_snapshot()
                    .db_cluster_identifier(identifier)
                    .snapshot_identifier(&copy.id)
                    .engine(&engine)
                    .deletion_protection(false)
                    .set_db_subnet_group_name(subnet)
                    .set_vpc_security_group_ids(groups)
                    .set_tags(Some(restore_tags.clone()))
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| (error_code(&e), classify(e, &context)));
                match cluster {
                    Ok(()) | Err((Some(_), _)) if self.exists(identifier, Kind::Cluster).await => {
                        self.rds
                            .create_db_instance()
                            .db_instance_identifier(member_identifier(identifier))
                            .db_cluster_identifier(identifier)
                            .engine(&engine)
                            .db_instance_class(&class)
                            .publicly_accessible(false)
                            .set_tags(Some(restore_tags.clone()))
                            .send()
                            .await
                            .map(drop)
                            .map_err(|e| (error_code(&e), classify(e, &context)))
                    }
                    other => other,
                }
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

    async fn cluster_engine(&self, snapshot: &str) -> Result<String, ProviderError> {
        let out = self
            .rds
            .describe_db_cluster_snapshots()
            .db_cluster_snapshot_identifier(snapshot)
            .send()
            .await
            .map_err(|e| classify(e, &format!("reading the engine of {snapshot}")))?;
        Ok(out
            .db_cluster_snapshots()
            .first()
            .and_then(|s| s.engine())
            .unwrap_or("aurora-postgresql")
            .to_string())
    }

    /// The restore's status: for a cluster, its member instance's (the cluster serves once an
    /// instance does) and the cluster's endpoint.
    pub async fn status(&self, identifier: &str, kind: Kind) -> Result<Status, ProviderError> {
        let instance = match kind {
            Kind::Instance => identifier.to_string(),
            Kind::Cluster => member_identifier(identifier),
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
                crate::error::ErrorKind::DatabaseNotFound,
                format!("drill {instance} is gone"),
            ));
        };
        let status = db.db_instance_status().unwrap_or("unknown").to_string();
        let mut endpoint = db.endpoint().and_then(|e| e.address()).map(str::to_string);
        if kind == Kind::Cluster
            && let Ok(c) = self
                .rds
                .describe_db_clusters()
                .db_cluster_identifier(identifier)
                .send()
                .await
        {
            endpoint = c
                .db_clusters()
                .first()
                .and_then(|c| c.endpoint())
                .map(str::to_string)
                .or(endpoint);
        }
        Ok(Status {
            available: status == "available",
            status,
            endpoint,
        })
    }

    /// Every instance and cluster of the policy's drill naming scheme, with tags and creation
    /// time (the caller applies the safety rule).
    pub async fn list(&self, prefix: &str) -> Result<Vec<DrillResource>, ProviderError> {
        let mut out = Vec::new();
        let mut pages = self.rds.describe_db_instances().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify(e, "listing DB instances for the drill"))?;
            for db in page.db_instances() {
                let id = db.db_instance_identifier().unwrap_or_default();
                if id.starts_with(prefix) {
                    out.push(DrillResource {
                        identifier: id.to_string(),
                        kind: Kind::Instance,
                        status: db.db_instance_status().unwrap_or("unknown").to_string(),
                        tags: tag_map(db.tag_list()),
                        created: time(db.instance_create_time()),
                        cluster: db.db_cluster_identifier().map(str::to_string),
                    });
                }
            }
        }
        let mut pages = self.rds.describe_db_clusters().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify(e, "listing DB clusters for the drill"))?;
            for c in page.db_clusters() {
                let id = c.db_cluster_identifier().unwrap_or_default();
                if id.starts_with(prefix) {
                    out.push(DrillResource {
                        identifier: id.to_string(),
                        kind: Kind::Cluster,
                        status: c.status().unwrap_or("unknown").to_string(),
                        tags: tag_map(c.tag_list()),
                        created: time(c.cluster_create_time()),
                        cluster: None,
                    });
                }
            }
        }
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
                    .map(drop)
                    .map_err(|e| (error_code(&e), classify(e, &context))),
                Kind::Cluster => self
                    .rds
                    .delete_db_cluster()
                    .db_cluster_identifier(&r.identifier)
                    .skip_final_snapshot(true)
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| (error_code(&e), classify(e, &context))),
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
