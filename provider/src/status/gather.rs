//! Reads one account's side of the report: its policies (from CloudFormation and the state
//! machines' definitions, or one given policy), their executions (Step Functions), their
//! snapshots and covered databases (RDS), the published recovery-point ages (CloudWatch) and
//! the snapshot quotas.

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use chrono::{DateTime, Duration, Utc};
use rds_snapshot_policy_core::contract::{Action, metrics};
use rds_snapshot_policy_core::spec::{PolicySpec, Role};
use serde_json::Value;

use super::{FailureReport, MachineFacts, PolicyFacts, QuotaReport};
use crate::aws::{Aws, classify, list_databases, list_inventory, stack_resources};
use crate::error::ProviderError;
use crate::identity::{self, is_policy_resource_type};
use crate::inventory::Kind;
use crate::policy::RuntimePolicy;

const STATE_MACHINE_TYPE: &str = "AWS::StepFunctions::StateMachine";
/// Executions read per state machine (newest first).
const EXECUTIONS_READ: i32 = 20;
/// The period of the recovery-point age series.
const AGE_PERIOD_SECONDS: i32 = 300;

/// One account's credentials and region, and how far back to read metrics.
pub struct Side {
    pub aws: Aws,
    pub region: String,
    pub hours: i64,
    /// The period whose drill records are read (DR policies): default the
    /// `DEFAULT_DRILL_DAYS` days up to now (AWS's clock).
    pub drills_from: Option<DateTime<Utc>>,
    pub drills_to: Option<DateTime<Utc>>,
}

/// Days of drill records `status` lists when no period is given.
pub const DEFAULT_DRILL_DAYS: i64 = 90;

/// The drill-record period as of `now`: the given ends, else the `DEFAULT_DRILL_DAYS` days up
/// to now.
pub fn drill_period(
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let to = to.unwrap_or(now);
    (from.unwrap_or(to - Duration::days(DEFAULT_DRILL_DAYS)), to)
}

fn smithy_time(t: DateTime<Utc>) -> aws_sdk_cloudwatch::primitives::DateTime {
    aws_sdk_cloudwatch::primitives::DateTime::from_secs(t.timestamp())
}

fn chrono_time(t: &aws_sdk_cloudwatch::primitives::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

fn rfc3339(t: &aws_sdk_cloudwatch::primitives::DateTime) -> Option<String> {
    chrono_time(t).map(super::rfc3339)
}

/// The account of an ARN (`arn:partition:service:region:account:…`).
fn arn_account(arn: &str) -> Option<String> {
    arn.split(':')
        .nth(4)
        .filter(|a| a.len() == 12)
        .map(str::to_string)
}

/// The normalized policy a state machine's Task sends the provider.
fn policy_of_definition(definition: &Value) -> Option<PolicySpec<String>> {
    definition
        .get("States")?
        .as_object()?
        .values()
        .filter(|s| s.get("Type").and_then(Value::as_str) == Some("Task"))
        .filter_map(|s| s.get("Parameters")?.get("policy"))
        .find_map(|p| serde_json::from_value::<PolicySpec<String>>(p.clone()).ok())
        .filter(|spec| spec.check().is_ok())
}

/// A deployed policy: its stack, and its state machines by action.
struct Deployed {
    stack: String,
    machines: Vec<(Action, String)>,
}

/// Why an account's status cannot be read: an AWS call, or a deployed state machine the tool
/// cannot read its policy from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusError {
    #[error("{}", .0.message)]
    Aws(#[from] ProviderError),
    #[error("state machine {arn}: {why}")]
    Machine { arn: String, why: String },
}

async fn deployed_policies(
    aws: &Aws,
    region: &str,
    warnings: &mut Vec<String>,
) -> Result<Vec<Deployed>, StatusError> {
    let resources = stack_resources(aws, region).await?;
    let mut found = Vec::new();
    for policy in resources
        .iter()
        .filter(|r| is_policy_resource_type(&r.resource_type))
    {
        let machines: Vec<(Action, String)> = Action::ALL
            .into_iter()
            .filter_map(|action| {
                let id = format!("{}{}StateMachine", policy.logical_id, action.title());
                resources
                    .iter()
                    .find(|r| {
                        r.stack_id == policy.stack_id
                            && r.logical_id == id
                            && r.resource_type == STATE_MACHINE_TYPE
                            && !r.physical_id.is_empty()
                    })
                    .map(|r| (action, r.physical_id.clone()))
            })
            .collect();
        if !machines.is_empty() {
            if identity::digests_of(&policy.physical_id).is_empty() {
                warnings.push(format!(
                    "policy resource {} of stack {} was deployed before policy identities: the provider refuses its tasks until the stack is re-deployed with this release's macro",
                    policy.logical_id, policy.stack_name
                ));
            }
            let declared = |suffix: &str| {
                let id = format!("{}{suffix}", policy.logical_id);
                resources
                    .iter()
                    .any(|r| r.stack_id == policy.stack_id && r.logical_id == id)
            };
            // The stack created the topic and no subscription to it (no NotificationEmail).
            if declared("NotificationTopic") && !declared("NotificationSubscription") {
                warnings.push(format!(
                    "policy resource {} of stack {}: its notification topic has no subscription in the stack (NotificationEmail is not set): unless someone subscribed to it by hand, its alarms reach no one",
                    policy.logical_id, policy.stack_name
                ));
            }
            found.push(Deployed {
                stack: policy.stack_id.clone(),
                machines,
            });
        }
    }
    Ok(found)
}

async fn machine_facts(
    aws: &Aws,
    region: &str,
    action: Action,
    arn: &str,
    warnings: &mut Vec<String>,
) -> MachineFacts {
    let sfn = aws.sfn(region);
    let mut facts = MachineFacts {
        action: action.name().to_string(),
        arn: arn.to_string(),
        last_success: None,
        last_failure: None,
        running: 0,
        held: None,
    };
    if action == Action::Delete {
        match crate::aws::hold::read_hold(aws, region, arn).await {
            Ok(held) => facts.held = held,
            Err(e) => warnings.push(e.message),
        }
    }
    let page = match sfn
        .list_executions()
        .state_machine_arn(arn)
        .max_results(EXECUTIONS_READ)
        .send()
        .await
    {
        Ok(page) => page,
        Err(e) => {
            warnings.push(classify(e, &format!("listing the executions of {arn}")).message);
            return facts;
        }
    };
    for execution in page.executions() {
        let stopped = execution.stop_date().and_then(rfc3339);
        match execution.status().as_str() {
            "RUNNING" => facts.running += 1,
            "SUCCEEDED" if facts.last_success.is_none() => facts.last_success = stopped,
            "FAILED" | "TIMED_OUT" | "ABORTED" if facts.last_failure.is_none() => {
                let detail = sfn
                    .describe_execution()
                    .execution_arn(execution.execution_arn())
                    .send()
                    .await
                    .ok();
                facts.last_failure = Some(FailureReport {
                    at: stopped.unwrap_or_default(),
                    execution: execution.execution_arn().to_string(),
                    error: detail
                        .as_ref()
                        .and_then(|d| d.error().map(str::to_string))
                        .or_else(|| Some(format!("States.{}", execution.status().as_str()))),
                    cause: detail.and_then(|d| d.cause().map(str::to_string)),
                });
            }
            _ => {}
        }
    }
    facts
}

async fn policy_from_machine(
    aws: &Aws,
    region: &str,
    arn: &str,
) -> Result<RuntimePolicy, StatusError> {
    let unusable = |why: String| StatusError::Machine {
        arn: arn.to_string(),
        why,
    };
    let machine = aws
        .sfn(region)
        .describe_state_machine()
        .state_machine_arn(arn)
        .send()
        .await
        .map_err(|e| classify(e, &format!("reading state machine {arn}")))?;
    let definition: Value = serde_json::from_str(machine.definition())
        .map_err(|e| unusable(format!("the definition is not JSON: {e}")))?;
    let spec = policy_of_definition(&definition)
        .ok_or_else(|| unusable("no rds-snapshot-policy task in its definition".into()))?;
    RuntimePolicy::bind(spec, region).map_err(|e| unusable(e.message))
}

async fn ages(
    aws: &Aws,
    policy: &RuntimePolicy,
    databases: &[String],
    now: DateTime<Utc>,
    hours: i64,
    warnings: &mut Vec<String>,
) -> BTreeMap<String, Vec<(DateTime<Utc>, f64)>> {
    let mut out = BTreeMap::new();
    // GetMetricData takes at most 500 queries; a policy's databases fit in far fewer.
    for (chunk_index, chunk) in databases.chunks(100).enumerate() {
        let queries: Vec<MetricDataQuery> = chunk
            .iter()
            .enumerate()
            .map(|(i, db)| {
                let metric = Metric::builder()
                    .namespace(metrics::NAMESPACE)
                    .metric_name(metrics::RECOVERY_POINT_AGE)
                    .dimensions(
                        Dimension::builder()
                            .name(metrics::DIMENSION_POLICY)
                            .value(&policy.id)
                            .build(),
                    )
                    .dimensions(
                        Dimension::builder()
                            .name(metrics::DIMENSION_DATABASE)
                            .value(db)
                            .build(),
                    )
                    .build();
                MetricDataQuery::builder()
                    .id(format!("m{}", chunk_index * 100 + i))
                    .metric_stat(
                        MetricStat::builder()
                            .metric(metric)
                            .period(AGE_PERIOD_SECONDS)
                            .stat("Maximum")
                            .build(),
                    )
                    .build()
            })
            .collect();
        let result = match aws
            .cloudwatch(&policy.destination_region)
            .get_metric_data()
            .set_metric_data_queries(Some(queries))
            .start_time(smithy_time(now - Duration::hours(hours)))
            .end_time(smithy_time(now))
            .send()
            .await
        {
            Ok(result) => result,
            Err(e) => {
                let what = format!("reading the recovery-point ages of policy {}", policy.id);
                warnings.push(classify(e, &what).message);
                continue;
            }
        };
        for series in result.metric_data_results() {
            let Some(index) = series
                .id()
                .and_then(|id| id.strip_prefix('m'))
                .and_then(|i| i.parse::<usize>().ok())
            else {
                continue;
            };
            let Some(db) = databases.get(index) else {
                continue;
            };
            let mut points: Vec<(DateTime<Utc>, f64)> = series
                .timestamps()
                .iter()
                .filter_map(chrono_time)
                .zip(series.values().iter().copied())
                .collect();
            points.sort_by_key(|p| p.0);
            out.insert(db.clone(), points);
        }
    }
    out
}

async fn quotas(
    aws: &Aws,
    region: &str,
    account: &str,
    warnings: &mut Vec<String>,
) -> Vec<QuotaReport> {
    let attributes = match aws.rds(region).describe_account_attributes().send().await {
        Ok(attributes) => attributes,
        Err(e) => {
            let what = format!("reading the snapshot quotas of {account} in {region}");
            warnings.push(classify(e, &what).message);
            return Vec::new();
        }
    };
    attributes
        .account_quotas()
        .iter()
        .filter(|q| {
            [Kind::Instance, Kind::Cluster]
                .iter()
                .any(|k| q.account_quota_name() == Some(k.quota_name()))
        })
        .map(|q| QuotaReport {
            account: account.to_string(),
            region: region.to_string(),
            quota: q.account_quota_name().unwrap_or_default().to_string(),
            used: q.used().unwrap_or_default(),
            max: q.max().unwrap_or_default(),
        })
        .collect()
}

/// What one account holds, and what could not be read (the report says so).
#[derive(Debug, Default)]
pub struct SideFacts {
    pub policies: Vec<PolicyFacts>,
    pub quotas: Vec<QuotaReport>,
    pub warnings: Vec<String>,
}

/// Reads one account: the policies deployed in `side.region` (or only those `given`), with their
/// executions, snapshots, covered databases and published ages. Policies and snapshots that
/// cannot be read are an error; executions, ages and quotas become warnings.
pub async fn gather_side(
    side: &Side,
    given: Option<Vec<RuntimePolicy>>,
) -> Result<SideFacts, StatusError> {
    let mut warnings = Vec::new();
    let aws = &side.aws;
    let region = side.region.as_str();
    let mut found: Vec<(RuntimePolicy, Option<String>, Vec<MachineFacts>)> = Vec::new();
    match given {
        Some(policies) => found.extend(policies.into_iter().map(|p| (p, None, Vec::new()))),
        None => {
            for deployed in deployed_policies(aws, region, &mut warnings).await? {
                let policy = policy_from_machine(aws, region, &deployed.machines[0].1).await?;
                let mut machines = Vec::new();
                for (action, arn) in &deployed.machines {
                    machines.push(machine_facts(aws, region, *action, arn, &mut warnings).await);
                }
                found.push((policy, Some(deployed.stack), machines));
            }
        }
    }
    let now = aws.now();
    let mut facts = Vec::new();
    let mut quota_regions = Vec::new();
    for (policy, stack, machines) in found {
        let inventory = list_inventory(aws, Action::Delete, &policy).await?;
        let snapshots: Vec<_> = inventory
            .snapshots
            .into_iter()
            .filter(|s| policy.is_tagged(s))
            .collect();
        let covered = if policy.role() == Role::Source {
            list_databases(aws, &policy.source_region, &policy.selector)
                .await?
                .into_iter()
                .map(|d| d.cluster.unwrap_or(d.id))
                .collect()
        } else {
            Vec::new()
        };
        let mut names: Vec<String> = snapshots.iter().map(|s| policy.database_key(s)).collect();
        names.sort();
        names.dedup();
        // Who AWS says may restore the source snapshots, whatever their tags record.
        let shared_outside = if policy.role() == Role::Source && policy.spec.shares() {
            let audit = crate::inventory::Inventory {
                restore_accounts: crate::aws::restore_accounts(aws, &policy, &snapshots).await,
                ..Default::default()
            };
            snapshots
                .iter()
                .map(|s| {
                    (
                        s.id.clone(),
                        crate::plan::share::shared_outside(&policy, s, &audit),
                    )
                })
                .filter(|(_, accounts)| !accounts.is_empty())
                .collect()
        } else {
            BTreeMap::new()
        };
        let ages = if policy.role() == Role::Destination {
            ages(aws, &policy, &names, now, side.hours, &mut warnings).await
        } else {
            BTreeMap::new()
        };
        let drills = if policy.role() == Role::Destination && policy.spec.drills() {
            let (from, to) = drill_period(side.drills_from, side.drills_to, now);
            match crate::aws::drill_records::read(aws, &policy, Some(from), Some(to), None).await {
                Ok(records) => records,
                Err(e) => {
                    warnings.push(format!(
                        "drill records of policy {}: {}: {}",
                        policy.id, e.kind, e.message
                    ));
                    Vec::new()
                }
            }
        } else {
            Vec::new()
        };
        let account = stack
            .as_deref()
            .and_then(arn_account)
            .or_else(|| snapshots.iter().find_map(|s| arn_account(&s.arn)))
            .unwrap_or_else(|| "unknown".to_string());
        let working_region = match policy.role() {
            Role::Source => policy.source_region.clone(),
            Role::Destination => policy.destination_region.clone(),
        };
        if !quota_regions.contains(&(account.clone(), working_region.clone())) {
            quota_regions.push((account.clone(), working_region));
        }
        facts.push(PolicyFacts {
            policy,
            account,
            region: region.to_string(),
            stack,
            machines,
            snapshots,
            covered,
            ages,
            shared_outside,
            drills,
        });
    }
    let mut quota_reports = Vec::new();
    for (account, region) in quota_regions {
        quota_reports.extend(quotas(aws, &region, &account, &mut warnings).await);
    }
    Ok(SideFacts {
        policies: facts,
        quotas: quota_reports,
        warnings,
    })
}
