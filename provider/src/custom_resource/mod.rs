//! The policy resource the expansion keeps: CloudFormation custom-resource events. Create and
//! Update check the seed's prerequisites; Delete always succeeds and never deletes snapshots.
//! Every event is answered, whatever happens.

mod account;
mod copy_slots;
mod decide;
mod gather;
mod key_policy;
mod region_load;
mod respond;

pub use account::{AccountFacts, DrillClassFacts, TrailFacts, decide_account};
pub use decide::{
    CheckReport, DestinationFacts, KeyFacts, KeyState, SourceFacts, decide_destination,
    decide_source, snapshots_needed,
};
pub use gather::run_checks;
pub use key_policy::KeyPolicy;
pub use respond::{Response, check_response_url, fit_body, public_reason, put_response};

use rds_snapshot_policy_core::contract::attributes;
use rds_snapshot_policy_core::contract::custom_resource as events;
use rds_snapshot_policy_core::contract::generated_properties;
use rds_snapshot_policy_core::spread;
use serde_json::{Map, Value, json};

use crate::aws::Aws;
use crate::identity;
use crate::policy::{RuntimePolicy, Selector};
use crate::trust::Trust;

/// True if `event` is a CloudFormation custom-resource request (and not a task input).
pub fn is_custom_resource_event(event: &Value) -> bool {
    event.get("RequestType").is_some() || event.get("ResponseURL").is_some()
}

/// The parts of the event the answer needs; missing ones stay empty (never a panic).
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub request_type: String,
    pub response_url: Option<String>,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    pub physical_resource_id: Option<String>,
    pub properties: Value,
    /// Update: the properties before it.
    pub old_properties: Value,
}

impl Request {
    pub fn from_event(event: &Value) -> Self {
        let text = |key: &str| event.get(key).and_then(Value::as_str).map(str::to_string);
        Request {
            request_type: text("RequestType").unwrap_or_default(),
            response_url: text("ResponseURL"),
            stack_id: text("StackId").unwrap_or_default(),
            request_id: text("RequestId").unwrap_or_default(),
            logical_resource_id: text("LogicalResourceId").unwrap_or_default(),
            physical_resource_id: text("PhysicalResourceId"),
            properties: event
                .get("ResourceProperties")
                .cloned()
                .unwrap_or(Value::Null),
            old_properties: event
                .get("OldResourceProperties")
                .cloned()
                .unwrap_or(Value::Null),
        }
    }

    pub fn response(
        &self,
        success: bool,
        reason: String,
        physical_id: String,
        data: Map<String, Value>,
    ) -> Response {
        Response {
            status: if success {
                events::SUCCESS
            } else {
                events::FAILED
            }
            .to_string(),
            reason,
            physical_resource_id: physical_id,
            stack_id: self.stack_id.clone(),
            request_id: self.request_id.clone(),
            logical_resource_id: self.logical_resource_id.clone(),
            data,
        }
    }

    /// The id to answer with when no better one is known (for example a failed Create).
    pub fn fallback_physical_id(&self) -> String {
        self.physical_resource_id.clone().unwrap_or_else(|| {
            format!(
                "rds-snapshot-policy:{}:{}",
                self.logical_resource_id, self.request_id
            )
        })
    }
}

/// The readable part of the physical ID: the role and what the policy protects.
fn target(policy: &RuntimePolicy) -> String {
    let target = match &policy.selector {
        Selector::Instance(id) => format!("db-instance/{id}"),
        Selector::Cluster(id) => format!("db-cluster/{id}"),
        Selector::Pattern(re) => format!(
            "pattern/{}",
            crate::plan::accounts_digest(&[re.as_str().to_string()])
        ),
    };
    format!("{}:{target}", policy.role().as_str().to_ascii_lowercase())
}

/// What a source policy's snapshot minute is derived from (`spread::identity`): the account
/// and region of the stack, and what the policy covers (as in its physical ID).
pub fn spread_identity(policy: &RuntimePolicy, request: &Request) -> String {
    // arn:<partition>:cloudformation:<region>:<account>:stack/<name>/<id>
    let mut parts = request.stack_id.split(':').skip(3);
    let region = parts.next().unwrap_or_default();
    let account = parts.next().unwrap_or_default();
    spread::identity(account, region, &target(policy))
}

/// The physical ID for `policy` declared by `request` with `properties` (the policy's, without
/// the generated ones): it binds the stack and every property (`identity`); an Update keeps the
/// digest of the properties it replaces while the `PolicyId` stays the same.
pub fn physical_id(policy: &RuntimePolicy, request: &Request, properties: &Value) -> String {
    let current = identity::identity_digest(&request.stack_id, properties);
    let previous = keeps_policy_id(policy, request).then(|| {
        identity::identity_digest(
            &request.stack_id,
            &policy_properties(&request.old_properties),
        )
    });
    identity::physical_id(&policy.id, &target(policy), &current, previous.as_deref())
}

/// An Update of a resource that already holds this policy's `PolicyId`.
fn keeps_policy_id(policy: &RuntimePolicy, request: &Request) -> bool {
    request.request_type == events::UPDATE
        && request
            .physical_resource_id
            .as_deref()
            .and_then(identity::policy_id_of)
            == Some(policy.id.as_str())
}

/// Refuses a `PolicyId` another stack's policy resource already holds (Create, or an Update
/// that changes it): one owner per account and region, so no second stack can act on the
/// snapshots of a deployed policy.
async fn check_owner(
    aws: &Aws,
    region: &str,
    policy: &RuntimePolicy,
    request: &Request,
) -> Result<(), String> {
    if keeps_policy_id(policy, request) {
        return Ok(());
    }
    let resources = crate::aws::stack_resources(aws, region)
        .await
        .map_err(|e| {
            format!(
                "could not check that no other stack holds PolicyId {} ({}); nothing was created",
                policy.id, e.message
            )
        })?;
    match identity::owner_of(&resources, &policy.id, &request.stack_id) {
        Some(owner) => Err(format!(
            "PolicyId {} is already held by stack {} (resource {}): a PolicyId has one owner per account and region. Choose another PolicyId, or delete that stack's policy first; nothing was created",
            policy.id, owner.stack_name, owner.logical_id
        )),
        None => Ok(()),
    }
}

/// Strips the properties the provider does not read as policy.
fn policy_properties(properties: &Value) -> Value {
    let mut p = properties.clone();
    if let Some(map) = p.as_object_mut() {
        for name in generated_properties::ALL {
            map.remove(name);
        }
    }
    p
}

/// Decides the answer to `request` (without sending it).
pub async fn handle(aws: &Aws, region: &str, trust: &Trust, request: &Request) -> Response {
    match request.request_type.as_str() {
        events::DELETE => request.response(
            true,
            "Deleted the policy resource; snapshots are never deleted by a stack deletion.".into(),
            request.fallback_physical_id(),
            Map::new(),
        ),
        events::CREATE | events::UPDATE => create_or_update(aws, region, trust, request).await,
        other => request.response(
            false,
            format!("unknown RequestType {other:?}: expected Create, Update or Delete"),
            request.fallback_physical_id(),
            Map::new(),
        ),
    }
}

async fn create_or_update(aws: &Aws, region: &str, trust: &Trust, request: &Request) -> Response {
    let properties = policy_properties(&request.properties);
    let mut policy = match RuntimePolicy::from_properties(&properties, region, None) {
        Ok(p) => p,
        Err(e) => {
            return request.response(false, e.message, request.fallback_physical_id(), Map::new());
        }
    };
    if let Err(e) = trust.confine(&mut policy) {
        return request.response(false, e.message, request.fallback_physical_id(), Map::new());
    }
    if let Err(reason) = check_owner(aws, region, &policy, request).await {
        return request.response(false, reason, request.fallback_physical_id(), Map::new());
    }
    let strict = policy.spec.strict_checks;
    let mut report = run_checks(aws, &policy, trust).await;
    if request.request_type == events::UPDATE
        && let Ok(old) = RuntimePolicy::from_properties(
            &policy_properties(&request.old_properties),
            region,
            None,
        )
        && let Some(warning) = decide::retention_shrinks(&old, &policy)
    {
        report.warnings.push(warning);
    }
    if let Some(warning) = decide::unsubscribed(&request.properties) {
        report.warnings.push(warning);
    }
    // The take schedule first: an answer cut to fit drops attributes from the end, and the
    // take rule cannot be created without this one.
    let mut data = Map::new();
    if let Some(schedule) = policy
        .spec
        .effective_backup_schedule(&spread_identity(&policy, request))
    {
        data.insert(attributes::BACKUP_SCHEDULE.into(), json!(schedule));
    }
    if policy.spec.spreads_snapshots() {
        let cadence = policy.backup_interval().num_minutes().max(1) as u64;
        let minute = spread::snapshot_minute(&spread_identity(&policy, request), cadence);
        data.insert(
            attributes::SNAPSHOT_MINUTE.into(),
            json!(minute.to_string()),
        );
    }
    data.extend(generated_attributes(&request.properties));
    data.insert(
        attributes::DATABASES.into(),
        json!(report.databases.join(",")),
    );
    if let Some(worst) = policy.worst_case() {
        data.insert(
            attributes::WORST_CASE_RPO_MINUTES.into(),
            json!(worst.minutes().to_string()),
        );
    }
    let mut problems = report.failures.clone();
    if strict {
        problems.extend(
            report
                .warnings
                .iter()
                .map(|w| format!("{w} (StrictChecks is on)")),
        );
    }
    let id = physical_id(&policy, request, &properties);
    if problems.is_empty() {
        let mut reason = if report.warnings.is_empty() {
            "All prerequisite checks passed.".to_string()
        } else {
            format!(
                "Checks passed with warnings: {}",
                report.warnings.join("; ")
            )
        };
        if !report.notes.is_empty() {
            reason = format!("{reason} Notes: {}.", report.notes.join("; "));
        }
        request.response(true, reason, id, data)
    } else {
        // A failed Create answers with its own id; a failed Update keeps the old one.
        let answer_id = if request.request_type == events::UPDATE {
            request.fallback_physical_id()
        } else {
            id
        };
        request.response(false, problems.join("; "), answer_id, data)
    }
}

/// State machine ARNs and the topic, from the `GeneratedResources` the expansion passes in.
fn generated_attributes(properties: &Value) -> Map<String, Value> {
    let mut data = Map::new();
    let generated = properties.get(generated_properties::GENERATED_RESOURCES);
    if let Some(machines) = generated
        .and_then(|g| g.get("StateMachines"))
        .and_then(Value::as_object)
    {
        for (action, arn) in machines {
            let mut name = action.clone();
            if let Some(first) = name.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            data.insert(format!("{name}StateMachineArn"), arn.clone());
        }
    }
    if let Some(topic) = generated.and_then(|g| g.get("NotificationTopic")) {
        data.insert("NotificationTopicArn".into(), topic.clone());
    }
    data
}

/// Time kept back from the Lambda deadline to send the answer (and retry it): a quarter of the
/// time left, at most 12 s.
pub fn answer_margin(time_left: std::time::Duration) -> std::time::Duration {
    (time_left / 4).min(std::time::Duration::from_secs(12))
}

/// Runs `work` for the event and answers CloudFormation whatever happens: a malformed event,
/// a panic, or running out of time (`time_left` before the Lambda deadline) all become FAILED.
/// Returns the response sent (or that would have been sent without a ResponseURL).
pub async fn answer_with<F, Fut>(
    event: &Value,
    time_left: std::time::Duration,
    allow_local_response_url: bool,
    work: F,
) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: std::future::Future<Output = Response> + Send + 'static,
{
    let request = Request::from_event(event);
    let fail = |reason: String| {
        request.response(false, reason, request.fallback_physical_id(), Map::new())
    };
    let response = if request.request_type.is_empty()
        || request.stack_id.is_empty()
        || request.request_id.is_empty()
    {
        fail(
            "malformed custom resource event: RequestType, StackId and RequestId are required"
                .into(),
        )
    } else {
        let budget = time_left.saturating_sub(answer_margin(time_left));
        let task = tokio::spawn(work(request.clone()));
        match tokio::time::timeout(budget, task).await {
            Ok(Ok(response)) => response,
            Ok(Err(join)) if join.is_panic() => fail("internal error in the rds-snapshot-policy provider (a bug: please report it with the provider's logs)".into()),
            Ok(Err(join)) => fail(format!("the provider's work was cancelled: {join}")),
            Err(_) => fail(format!(
                "the prerequisite checks did not finish within {:.1} s of the {:.1} s left before the provider Lambda's deadline; raise the provider's timeout or retry",
                budget.as_secs_f64(),
                time_left.as_secs_f64()
            )),
        }
    };
    tracing::info!(status = %response.status, physical_resource_id = %response.physical_resource_id, reason = %response.reason, "custom resource answer");
    let mut response = response;
    response.reason = public_reason(&response.reason);
    match &request.response_url {
        Some(url) => match check_response_url(url, allow_local_response_url) {
            Ok(()) => {
                if let Err(e) = put_response(url, &fit_body(&response)).await {
                    tracing::error!(error = %e, "CloudFormation was not answered");
                }
            }
            Err(e) => tracing::error!(error = %e, "CloudFormation was not answered"),
        },
        None => tracing::error!("the event has no ResponseURL: CloudFormation cannot be answered"),
    }
    response
}
