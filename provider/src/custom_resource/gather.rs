//! The deploy-time checks' AWS calls: what exists (databases, keys, key policies, quotas).
//! The decisions are in `decide`.

use aws_sdk_kms::types::{KeyManagerType, KeyState as KmsKeyState};
use rds_snapshot_policy_macro::Role;

use super::decide::{self, CheckReport, DestinationFacts, KeyFacts, KeyState, Quotas, SourceFacts};
use super::key_policy::KeyPolicy;
use crate::aws::{Aws, list_databases};
use crate::inventory::Kind;
use crate::policy::RuntimePolicy;

fn kms_error<E, R>(e: &aws_sdk_kms::error::SdkError<E, R>) -> (Option<String>, String)
where
    E: aws_sdk_kms::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match e {
        aws_sdk_kms::error::SdkError::ServiceError(s) => (
            s.err().code().map(str::to_string),
            format!(
                "{}: {}",
                s.err().code().unwrap_or("Unknown"),
                s.err().message().unwrap_or_default()
            ),
        ),
        other => (
            None,
            aws_sdk_kms::error::DisplayErrorContext(other)
                .to_string()
                .chars()
                .take(300)
                .collect(),
        ),
    }
}

pub async fn run_checks(aws: &Aws, policy: &RuntimePolicy) -> CheckReport {
    match policy.role() {
        Role::Source => decide::decide_source(policy, &gather_source(aws, policy).await),
        Role::Destination => {
            decide::decide_destination(policy, &gather_destination(aws, policy).await)
        }
    }
}

async fn gather_source(aws: &Aws, policy: &RuntimePolicy) -> SourceFacts {
    let region = policy.source_region.clone();
    let databases = list_databases(aws, &region, &policy.selector)
        .await
        .map_err(|e| e.to_string());
    let mut facts = SourceFacts {
        region: region.clone(),
        databases: Ok(Vec::new()),
        keys: Vec::new(),
        reencrypt_key: None,
        quota: Ok(Quotas::default()),
        option_groups: Vec::new(),
    };
    let Ok(listed) = databases else {
        facts.databases = databases;
        return facts;
    };
    let targets = decide::covered(policy, &listed);
    if !targets.is_empty() {
        if policy.spec.shares() {
            let mut groups: Vec<&String> = targets
                .iter()
                .flat_map(|d| d.option_groups.iter())
                .filter(|g| !g.starts_with("default:"))
                .collect();
            groups.sort();
            groups.dedup();
            for group in groups {
                facts
                    .option_groups
                    .push((group.clone(), sharing_blockers(aws, &region, group).await));
            }
            for db in targets.iter().filter(|d| d.encrypted) {
                if let Some(key) = &db.kms_key_id {
                    facts
                        .keys
                        .push((db.id.clone(), key_facts(aws, &region, key).await));
                }
            }
            let on_aws_key = facts.keys.iter().any(|(_, k)| k.aws_managed == Ok(true));
            if let Some(key) = policy
                .spec
                .reencrypt_kms_key
                .as_deref()
                .filter(|_| on_aws_key)
            {
                facts.reencrypt_key = Some(key_facts(aws, &region, key).await);
            }
        }
        facts.quota = quota(aws, &region).await;
    }
    facts.databases = Ok(listed);
    facts
}

/// The options of `group` that keep snapshots from being shared.
async fn sharing_blockers(aws: &Aws, region: &str, group: &str) -> Result<Vec<String>, String> {
    let found = aws
        .rds(region)
        .describe_option_groups()
        .option_group_name(group)
        .send()
        .await
        .map_err(|e| {
            crate::aws::classify(e, &format!("DescribeOptionGroups {group}")).to_string()
        })?;
    Ok(found
        .option_groups_list()
        .iter()
        .flat_map(|g| g.options())
        .filter_map(|o| {
            let name = o.option_name()?;
            let (permanent, persistent) = (
                o.permanent().unwrap_or(false),
                o.persistent().unwrap_or(false),
            );
            decide::blocks_sharing(name, permanent, persistent).then(|| name.to_string())
        })
        .collect())
}

async fn key_facts(aws: &Aws, region: &str, key: &str) -> KeyFacts {
    let kms = aws.kms(region);
    let mut facts = KeyFacts {
        key: key.to_string(),
        aws_managed: Ok(false),
        policy: None,
    };
    match kms.describe_key().key_id(key).send().await {
        Ok(r) => {
            let manager = r.key_metadata().and_then(|m| m.key_manager());
            facts.aws_managed = Ok(manager == Some(&KeyManagerType::Aws));
        }
        Err(e) => facts.aws_managed = Err(kms_error(&e).1),
    }
    if facts.aws_managed != Ok(false) {
        return facts;
    }
    let policy = kms
        .get_key_policy()
        .key_id(key)
        .policy_name("default")
        .send()
        .await;
    facts.policy = Some(match policy {
        Ok(r) => KeyPolicy::parse(r.policy().unwrap_or("{}")),
        Err(e) => Err(kms_error(&e).1),
    });
    facts
}

async fn quota(aws: &Aws, region: &str) -> Result<Quotas, String> {
    let r = aws
        .rds(region)
        .describe_account_attributes()
        .send()
        .await
        .map_err(|e| crate::aws::classify(e, "DescribeAccountAttributes").to_string())?;
    let of = |kind: Kind| {
        r.account_quotas()
            .iter()
            .find(|q| q.account_quota_name() == Some(kind.quota_name()))
            .map(|q| (q.used().unwrap_or(0), q.max().unwrap_or(0)))
    };
    Ok(Quotas {
        instance: of(Kind::Instance),
        cluster: of(Kind::Cluster),
    })
}

async fn gather_destination(aws: &Aws, policy: &RuntimePolicy) -> DestinationFacts {
    let mut wanted = Vec::new();
    if let Some(k) = &policy.spec.kms_key_destination {
        wanted.push((
            "KmsKeyDestination",
            k.clone(),
            policy.destination_region.clone(),
        ));
    }
    if let Some(k) = &policy.spec.kms_key_source {
        wanted.push(("KmsKeySource", k.clone(), policy.source_region.clone()));
    }
    let mut keys = Vec::new();
    for (property, key, region) in wanted {
        let state = match aws.kms(&region).describe_key().key_id(&key).send().await {
            Ok(r) => match r.key_metadata().and_then(|m| m.key_state()) {
                Some(s) if *s != KmsKeyState::Enabled => KeyState::Other(s.as_str().to_string()),
                _ => KeyState::Enabled,
            },
            Err(e) => match kms_error(&e) {
                (Some(code), text) if code == "NotFoundException" => KeyState::NotFound(text),
                (_, text) => KeyState::Unknown(text),
            },
        };
        keys.push((property, key, region, state));
    }
    let region = policy.destination_region.clone();
    let drill_network = if policy.spec.drills() {
        Some(
            drill_network(
                aws,
                &region,
                policy.spec.drill_db_subnet_group_name.as_deref(),
            )
            .await,
        )
    } else {
        None
    };
    DestinationFacts {
        drill_network,
        keys,
        quota: quota(aws, &region).await,
        region,
    }
}

/// Whether the drill has somewhere to create its instances.
async fn drill_network(aws: &Aws, region: &str, named: Option<&str>) -> decide::DrillNetwork {
    let group = named.unwrap_or("default");
    match aws
        .rds(region)
        .describe_db_subnet_groups()
        .db_subnet_group_name(group)
        .send()
        .await
    {
        Ok(_) => decide::DrillNetwork::Found,
        Err(e) => match crate::aws::error_code(&e).as_deref() {
            Some("DBSubnetGroupNotFoundFault" | "DBSubnetGroupNotFound") => match named {
                Some(name) => decide::DrillNetwork::Missing(name.to_string()),
                None => decide::DrillNetwork::NoDefault,
            },
            _ => decide::DrillNetwork::Unknown(
                aws_sdk_rds::error::DisplayErrorContext(&e)
                    .to_string()
                    .chars()
                    .take(300)
                    .collect(),
            ),
        },
    }
}
