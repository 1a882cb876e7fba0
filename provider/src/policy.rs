//! The policy as the provider runs it: the macro's model with every value known.

use chrono::Duration;
use policy_macro::policy::{Policy, Role, Target};
use policy_macro::value::{Resolver, Text};
use policy_macro::{join_errors, parse_policy};
use regex::Regex;
use serde_json::Value;

use crate::error::{ErrorKind, ProviderError};

/// Which databases (source) or snapshots (destination) the policy covers.
#[derive(Debug, Clone)]
pub enum Selector {
    Pattern(Regex),
    Instance(String),
    Cluster(String),
}

#[derive(Debug, Clone)]
pub struct RuntimePolicy {
    pub id: String,
    pub role: Role,
    pub selector: Selector,
    pub retention: Duration,
    pub keep_latest: usize,
    pub delete_enabled: bool,
    pub rpo: Duration,
    pub log_level: String,
    /// Where the databases (source) or the snapshots to copy (destination) are.
    pub source_region: String,
    pub backup_interval: Duration,
    pub share_enabled: bool,
    pub accounts: Vec<String>,
    pub tagged_only: bool,
    pub destination_region: String,
    pub cross_account: bool,
    pub kms_key_source: Option<String>,
    pub kms_key_destination: Option<String>,
    pub copy_retention: Duration,
    /// What the schedules allow at worst (see `policy_macro::rpo::worst_case_rpo`).
    pub worst_case_rpo: Option<Duration>,
}

fn invalid(message: impl Into<String>) -> ProviderError {
    ProviderError::new(ErrorKind::PolicyInvalid, message)
}

fn literal(text: &Text, what: &str) -> Result<String, ProviderError> {
    text.literal().map(str::to_string).ok_or_else(|| {
        invalid(format!(
            "{what} is an unresolved intrinsic ({}); the provider needs its value",
            text.to_value()
        ))
    })
}

impl RuntimePolicy {
    /// Reads a policy (the normalized one from a state machine, or a Properties block from
    /// the CLI). `region` is where the provider runs; `fallback_id` names a policy without
    /// `PolicyId`.
    pub fn from_properties(
        properties: &Value,
        region: &str,
        fallback_id: Option<&str>,
    ) -> Result<Self, ProviderError> {
        let resolver = Resolver {
            region: Some(region.to_string()),
            ..Resolver::default()
        };
        let policy = parse_policy("Policy", properties, &resolver)
            .map_err(|errors| invalid(join_errors(&errors)))?;
        Self::from_policy(&policy, region, fallback_id)
    }

    fn from_policy(
        policy: &Policy,
        region: &str,
        fallback_id: Option<&str>,
    ) -> Result<Self, ProviderError> {
        let id = match &policy.policy_id {
            Some(t) => literal(t, "PolicyId")?,
            None => fallback_id
                .map(str::to_string)
                .ok_or_else(|| invalid("PolicyId is required (the expansion always sets it)"))?,
        };
        let selector = match &policy.target {
            Target::Pattern(p) => Selector::Pattern(
                Regex::new(p).map_err(|e| invalid(format!("pattern {p:?}: {e}")))?,
            ),
            Target::Instance(t) => Selector::Instance(literal(t, "DBInstanceIdentifier")?),
            Target::Cluster(t) => Selector::Cluster(literal(t, "DBClusterIdentifier")?),
        };
        let source_region = policy
            .source_region_override
            .clone()
            .unwrap_or_else(|| region.to_string());
        let mut runtime = RuntimePolicy {
            id,
            role: policy.role,
            selector,
            retention: Duration::days(policy.retention_days as i64),
            keep_latest: policy.keep_latest as usize,
            delete_enabled: policy.delete_old_snapshots,
            rpo: Duration::minutes(policy.rpo_minutes as i64),
            log_level: policy.log_level.clone(),
            source_region,
            backup_interval: Duration::hours(1),
            share_enabled: false,
            accounts: Vec::new(),
            tagged_only: false,
            destination_region: region.to_string(),
            cross_account: true,
            kms_key_source: None,
            kms_key_destination: None,
            copy_retention: Duration::days(2),
            worst_case_rpo: policy_macro::rpo::worst_case_rpo(policy),
        };
        if let Some(s) = &policy.source {
            runtime.backup_interval = Duration::hours(s.backup_interval_hours as i64);
            runtime.share_enabled = s.share_snapshots;
            runtime.tagged_only = s.tagged_instance;
            if s.destination_accounts_intrinsic.is_some() && s.destination_accounts.is_empty() {
                return Err(invalid("DestinationAccounts is an unresolved intrinsic"));
            }
            runtime.accounts = s
                .destination_accounts
                .iter()
                .map(|a| literal(a, "DestinationAccounts"))
                .collect::<Result<_, _>>()?;
        }
        if let Some(d) = &policy.destination {
            runtime.destination_region = literal(&d.destination_region, "DestinationRegion")?;
            runtime.cross_account = d.cross_account_copy;
            runtime.copy_retention = Duration::days(d.copy_retention_days as i64);
            runtime.kms_key_source = d
                .kms_key_source
                .as_ref()
                .map(|t| literal(t, "KmsKeySource"))
                .transpose()?;
            runtime.kms_key_destination = d
                .kms_key_destination
                .as_ref()
                .map(|t| literal(t, "KmsKeyDestination"))
                .transpose()?;
        }
        Ok(runtime)
    }

    /// The key copies are encrypted with in the destination region.
    pub fn copy_key(&self) -> Option<&str> {
        if self.destination_region == self.source_region {
            self.kms_key_source
                .as_deref()
                .or(self.kms_key_destination.as_deref())
        } else {
            self.kms_key_destination.as_deref()
        }
    }

    /// The tag that marks snapshots this policy made: CreatedBy (source) or CopiedBy (DR).
    pub fn marker_tag(&self) -> &'static str {
        match self.role {
            Role::Source => crate::inventory::tags::CREATED_BY,
            Role::Destination => crate::inventory::tags::COPIED_BY,
        }
    }
}
