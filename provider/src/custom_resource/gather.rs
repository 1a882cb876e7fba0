//! The deploy-time checks' AWS calls: what exists (databases, keys, key policies, quotas, the
//! account's service-linked role, trails and orderable drill classes).
//! The decisions are in `decide`.

use aws_sdk_kms::types::{KeyManagerType, KeyState as KmsKeyState};
use rds_snapshot_policy_core::Role;
use rds_snapshot_policy_core::contract::{Action, account_checks};

use super::account::{self, AccountFacts, DrillClassFacts, TrailFacts};
use super::decide::{self, CheckReport, DestinationFacts, KeyFacts, KeyState, Quotas, SourceFacts};
use super::key_policy::KeyPolicy;
use super::region_load::{OtherPolicy, RegionLoad};
use crate::aws::{
    Aws, list_databases, list_inventory, manual_snapshots, processed_template, stack_resources,
};
use crate::inventory::{Kind, Snapshot};
use crate::plan::copy::selected;
use crate::plan::drill::drill_class;
use crate::policy::RuntimePolicy;
use crate::trust::Trust;

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

/// The checks of `policy`; `trust` carries the installation's key lists.
pub async fn run_checks(aws: &Aws, policy: &RuntimePolicy, trust: &Trust) -> CheckReport {
    let mut report = match policy.role() {
        Role::Source => decide::decide_source(policy, &gather_source(aws, policy).await),
        Role::Destination => {
            decide::decide_destination(policy, &gather_destination(aws, policy).await)
        }
    };
    let account = gather_account(aws, policy, trust).await;
    account::decide_account(policy, &account, &mut report);
    report
}

/// What only AWS can tell about the account (see `account`).
async fn gather_account(aws: &Aws, policy: &RuntimePolicy, trust: &Trust) -> AccountFacts {
    let region = match policy.role() {
        Role::Source => policy.source_region.clone(),
        Role::Destination => policy.destination_region.clone(),
    };
    let mut facts = AccountFacts {
        trails: Some(trails(aws, &region).await),
        region,
        ..AccountFacts::default()
    };
    if policy.role() == Role::Source {
        return facts;
    }
    facts.service_linked_role = Some(service_linked_role(aws, &facts.region).await);
    facts.kms_key_arns = trust.kms_key_arns.clone();
    facts.source_kms_key_arns = trust.source_kms_key_arns.clone();
    let keys_listed = !facts.kms_key_arns.is_empty();
    if keys_listed {
        for (property, key, region) in [
            (
                "KmsKeyDestination",
                &policy.spec.kms_key_destination,
                &facts.region,
            ),
            (
                "KmsKeySource",
                &policy.spec.kms_key_source,
                &policy.source_region,
            ),
        ] {
            if let Some(key) = key
                && let Some(arn) = key_arn(aws, region, key).await
            {
                facts.own_keys.push((property, arn));
            }
        }
    }
    if !keys_listed && !policy.spec.drills() {
        return facts;
    }
    // The snapshots the policy copies tell the source keys and the engines to drill.
    let Ok(inventory) = list_inventory(aws, Action::Copy, policy).await else {
        return facts;
    };
    let mut newest: Vec<(Kind, &Snapshot)> = Vec::new();
    for s in inventory.sources.iter().filter(|s| selected(policy, s)) {
        if let Some(key) = s.kms_key_id.as_deref().filter(|k| k.starts_with("arn:"))
            && keys_listed
            && !facts.source_keys.iter().any(|(_, k)| k == key)
        {
            facts
                .source_keys
                .push((format!("key of snapshot {}", s.arn), key.to_string()));
        }
        match newest.iter_mut().find(|(kind, _)| *kind == s.kind) {
            Some((_, entry)) if s.created > entry.created => *entry = s,
            Some(_) => {}
            None => newest.push((s.kind, s)),
        }
    }
    if policy.spec.drills() {
        for (kind, s) in newest {
            let (Some(engine), Some(version)) = (s.engine.clone(), s.engine_version.clone()) else {
                continue;
            };
            let class = drill_class(policy, kind);
            let orderable = orderable(aws, &facts.region, &engine, &version, &class).await;
            facts.drill_classes.push(DrillClassFacts {
                kind,
                class,
                engine,
                engine_version: version,
                orderable,
            });
        }
    }
    facts
}

/// The key ARN of `key` (an ARN, ID or alias), or `None` if DescribeKey cannot tell.
async fn key_arn(aws: &Aws, region: &str, key: &str) -> Option<String> {
    let described = aws
        .kms(region)
        .describe_key()
        .key_id(key)
        .send()
        .await
        .ok()?;
    described.key_metadata()?.arn().map(str::to_string)
}

/// Whether RDS's service-linked role exists in the caller's account.
async fn service_linked_role(aws: &Aws, region: &str) -> Result<bool, String> {
    match aws
        .iam(region)
        .get_role()
        .role_name(account_checks::RDS_SERVICE_LINKED_ROLE)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if crate::aws::error_code(&e).as_deref() == Some("NoSuchEntity") => Ok(false),
        Err(e) => Err(short(&aws_sdk_iam::error::DisplayErrorContext(&e))),
    }
}

fn short(error: &dyn std::fmt::Display) -> String {
    error.to_string().chars().take(300).collect()
}

/// The trails that cover `region`, each with whether it logs management write events.
async fn trails(aws: &Aws, region: &str) -> Result<Vec<TrailFacts>, String> {
    let cloudtrail = aws.cloudtrail(region);
    let listed = cloudtrail
        .describe_trails()
        .include_shadow_trails(true)
        .send()
        .await
        .map_err(|e| short(&aws_sdk_cloudtrail::error::DisplayErrorContext(&e)))?;
    let mut out = Vec::new();
    for trail in listed.trail_list() {
        let covers =
            trail.is_multi_region_trail() == Some(true) || trail.home_region() == Some(region);
        let Some(arn) = trail.trail_arn().filter(|_| covers) else {
            continue;
        };
        let logging = match cloudtrail.get_trail_status().name(arn).send().await {
            Ok(status) => Ok(status.is_logging() == Some(true)),
            Err(e) => Err(short(&aws_sdk_cloudtrail::error::DisplayErrorContext(&e))),
        };
        let management_writes = match cloudtrail
            .get_event_selectors()
            .trail_name(arn)
            .send()
            .await
        {
            Ok(selectors) => Ok(logs_management_writes(&selectors)),
            Err(e) => Err(short(&aws_sdk_cloudtrail::error::DisplayErrorContext(&e))),
        };
        out.push(TrailFacts {
            name: trail.name().unwrap_or(arn).to_string(),
            logging,
            management_writes,
        });
    }
    Ok(out)
}

/// Whether a trail's selectors log management write events: a basic selector including
/// management events (`ReadWriteType` All or WriteOnly), or an advanced selector on
/// `eventCategory` Management that does not keep read-only events only (CloudTrail guide,
/// "Logging management events"). A trail with no selectors logs all management events.
fn logs_management_writes(
    selectors: &aws_sdk_cloudtrail::operation::get_event_selectors::GetEventSelectorsOutput,
) -> bool {
    use aws_sdk_cloudtrail::types::ReadWriteType;
    let (basic, advanced) = (
        selectors.event_selectors(),
        selectors.advanced_event_selectors(),
    );
    if basic.is_empty() && advanced.is_empty() {
        return true;
    }
    let basic_ok = basic.iter().any(|s| {
        s.include_management_events() != Some(false)
            && s.read_write_type() != Some(&ReadWriteType::ReadOnly)
    });
    let advanced_ok = advanced.iter().any(|s| {
        let fields = s.field_selectors();
        let management = fields
            .iter()
            .any(|f| f.field() == "eventCategory" && f.equals().iter().any(|v| v == "Management"));
        let read_only = fields
            .iter()
            .any(|f| f.field() == "readOnly" && f.equals().iter().all(|v| v == "true"));
        management && !read_only
    });
    basic_ok || advanced_ok
}

/// Whether RDS offers `class` for `engine` `version` in `region`.
async fn orderable(
    aws: &Aws,
    region: &str,
    engine: &str,
    version: &str,
    class: &str,
) -> Result<bool, String> {
    aws.rds(region)
        .describe_orderable_db_instance_options()
        .engine(engine)
        .engine_version(version)
        .db_instance_class(class)
        .max_records(20)
        .send()
        .await
        .map(|r| !r.orderable_db_instance_options().is_empty())
        .map_err(|e| crate::aws::classify(e, "DescribeOrderableDBInstanceOptions").to_string())
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
        load: None,
        stack_region: stack_region(aws, policy),
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
        facts.load = Some(region_load(aws, policy, &region).await);
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
        Ok(r) => KeyPolicy::parse(r.policy().unwrap_or("{}")).map_err(|e| e.to_string()),
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
        load: Some(region_load(aws, policy, &region).await),
        stack_region: stack_region(aws, policy),
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

/// The region the provider (and so the policy's stack) runs in.
fn stack_region(aws: &Aws, policy: &RuntimePolicy) -> String {
    aws.region().unwrap_or_else(|| policy.source_region.clone())
}

/// The account's other policies (the policy resources of every stack in the provider's region,
/// read from their processed templates) and every manual snapshot of `region`: what the
/// account-wide quota check counts.
async fn region_load(
    aws: &Aws,
    policy: &RuntimePolicy,
    region: &str,
) -> Result<RegionLoad, String> {
    use crate::identity::{is_policy_resource_type, policy_id_of};
    use rds_snapshot_policy_core::contract::generated_properties as generated;
    let stacks_region = stack_region(aws, policy);
    let resources = stack_resources(aws, &stacks_region)
        .await
        .map_err(|e| e.message)?;
    let mut load = RegionLoad {
        snapshots: manual_snapshots(aws, region).await.map_err(|e| e.message)?,
        ..RegionLoad::default()
    };
    let mut templates: std::collections::BTreeMap<&str, Result<serde_json::Value, String>> =
        std::collections::BTreeMap::new();
    for r in resources.iter().filter(|r| {
        is_policy_resource_type(&r.resource_type)
            && policy_id_of(&r.physical_id) != Some(policy.id.as_str())
    }) {
        let name = format!("{}/{}", r.stack_name, r.logical_id);
        if !templates.contains_key(r.stack_id.as_str()) {
            let template = match processed_template(aws, &stacks_region, &r.stack_id).await {
                Ok(parsed) => parsed.map_err(String::from),
                Err(e) => Err(crate::aws::classify(e, "reading its stack's template").message),
            };
            templates.insert(&r.stack_id, template);
        }
        let properties = match &templates[r.stack_id.as_str()] {
            Ok(t) => t
                .get("Resources")
                .and_then(|all| all.get(&r.logical_id))
                .and_then(|resource| resource.get("Properties"))
                .cloned(),
            Err(e) => {
                load.unreadable.push(format!("policy {name}: {e}"));
                continue;
            }
        };
        let Some(serde_json::Value::Object(mut properties)) = properties else {
            load.unreadable.push(format!(
                "policy {name}: its template declares no properties"
            ));
            continue;
        };
        for extra in generated::ALL {
            properties.remove(extra);
        }
        // The policy's own resource while it is being created has no physical ID yet: its
        // template's PolicyId tells it apart (a literal, or `${AWS::StackName}-<logical ID>`).
        let declared = match properties.get("PolicyId") {
            Some(serde_json::Value::String(id)) => Some(id.clone()),
            Some(other) => other
                .get("Fn::Sub")
                .and_then(serde_json::Value::as_str)
                .map(|text| text.replace("${AWS::StackName}", &r.stack_name)),
            None => None,
        };
        if declared.as_deref() == Some(policy.id.as_str()) {
            continue;
        }
        match serde_json::from_value(serde_json::Value::Object(properties)) {
            Ok(spec) => load.others.push(OtherPolicy {
                name,
                policy_id: policy_id_of(&r.physical_id)
                    .map(str::to_string)
                    .or(declared),
                spec,
            }),
            Err(e) => load.unreadable.push(format!(
                "policy {name}: its properties are not a policy this provider reads ({e})"
            )),
        }
    }
    Ok(load)
}
