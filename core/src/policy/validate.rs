//! Reading a user's Properties into a `Policy`: every error at once, each naming the
//! property, with the defaults filled in.

use regex::Regex;
use serde_json::{Map, Value, json};

use super::{Applies, Notification, PROPERTIES, Policy};
use crate::contract::{RESOURCE_TYPE, generated_properties};
use crate::error::{Diagnostics, PolicyError};
use crate::reader::Reader;
use crate::spec::{
    LogLevel, PolicySpec, Role, Target, bounds, defaults, is_db_identifier, is_policy_id,
    is_region, retired_entry_problem, rules,
};
use crate::value::{Resolved, Resolver, Text, did_you_mean, find_import_values};

/// Reads and validates the Properties of resource `logical_id`, reporting all errors at once.
pub fn parse_policy(
    logical_id: &str,
    properties: &Value,
    resolver: &Resolver,
) -> Result<Policy, Vec<PolicyError>> {
    let mut diag = Diagnostics::new(logical_id);
    let empty = Map::new();
    let props = match properties {
        Value::Object(map) => map,
        Value::Null => &empty,
        _ => {
            diag.error("", "Properties must be an object");
            return Err(diag.errors);
        }
    };
    let mut unknown = Vec::new();
    crate::value::find_unknown_intrinsics(properties, "", &mut unknown);
    for (path, name) in unknown {
        let property = path
            .split(['.', '['])
            .next()
            .unwrap_or_default()
            .to_string();
        diag.error(
            &property,
            format!("{name} is not an intrinsic function CloudFormation knows"),
        );
    }
    let mut imports = Vec::new();
    find_import_values(properties, "", &mut imports);
    for path in imports {
        diag.error(
            &path,
            "Fn::ImportValue cannot be used here: CloudFormation does not resolve it before a macro runs; pass the value as a template parameter instead",
        );
    }
    let mut reader = Reader {
        props,
        resolver,
        diag: &mut diag,
    };
    let role = read_role(&mut reader);
    check_property_names(&mut reader, role);
    let Some(role) = role else {
        return Err(diag.errors);
    };
    let policy = read_policy(&mut reader, logical_id, role);
    if diag.errors.is_empty() {
        let mut policy = policy;
        policy.warnings = diag.warnings;
        Ok(policy)
    } else {
        diag.errors.sort();
        diag.errors.dedup();
        Err(diag.errors)
    }
}

fn read_role(r: &mut Reader) -> Option<Role> {
    if !r.has("Role") {
        r.diag.error(
            "Role",
            "is required: Source (the production account takes and shares snapshots) or Destination (the DR account copies them)",
        );
        return None;
    }
    match r.string("Role").as_deref() {
        Some(s) if s.eq_ignore_ascii_case("source") => Some(Role::Source),
        Some(s) if s.eq_ignore_ascii_case("destination") => Some(Role::Destination),
        Some(other) => {
            r.diag.error(
                "Role",
                format!("must be Source or Destination, got {other:?}"),
            );
            None
        }
        None => None,
    }
}

fn check_property_names(r: &mut Reader, role: Option<Role>) {
    for name in r.props.keys() {
        if generated_properties::ALL.contains(&name.as_str()) {
            r.diag.error(
                name,
                "is set by the RdsSnapshotPolicy macro and may not be given in the template; remove it",
            );
            continue;
        }
        match PROPERTIES
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.applies)
        {
            Some(Applies::Only(owner)) if role.is_some_and(|role| role != owner) => {
                r.diag.error(
                    name,
                    format!(
                        "applies only to Role {}, this policy has Role {}",
                        owner.as_str(),
                        role.map(Role::as_str).unwrap_or("?")
                    ),
                );
            }
            Some(_) => {}
            None => {
                let hint = did_you_mean(name, PROPERTIES.iter().map(|p| p.name))
                    .map(|s| format!("; did you mean {s}?"))
                    .unwrap_or_default();
                r.diag
                    .error(name, format!("is not a property of {RESOURCE_TYPE}{hint}"));
            }
        }
    }
}

fn read_policy(r: &mut Reader, logical_id: &str, role: Role) -> Policy {
    let policy_id = read_policy_id(r);
    let target = read_target(r, role);
    let (retention_default, delete_default) = match role {
        Role::Source => (
            Retention::Days(defaults::SOURCE_RETENTION_DAYS),
            defaults::SOURCE_DELETE_SCHEDULE,
        ),
        Role::Destination => (
            Retention::Hours(defaults::DESTINATION_RETENTION_HOURS),
            defaults::DESTINATION_DELETE_SCHEDULE,
        ),
    };
    // A destination policy that declares no retention at all gets the default window and a
    // daily tier for the promised week (the window alone would keep only hours).
    let declares_retention = TIER_PROPERTIES
        .iter()
        .chain(&["RetentionDays", "RetentionHours"])
        .any(|name| r.has(name));
    let (retention_days, retention_hours) = read_retention(r, retention_default);
    let delete_default = if retention_hours.is_some() {
        defaults::HOURLY_DELETE_SCHEDULE
    } else {
        delete_default
    };
    let delete_schedule = r.schedule("DeleteSchedule", delete_default);
    let delete_old_snapshots = r.boolean("DeleteOldSnapshots", true);
    let (min, max) = bounds::KEEP_LATEST;
    let keep_latest = r.whole("KeepLatest", defaults::KEEP_LATEST, min, max);
    let mut tier =
        |name: &str, (min, max): (u64, u64)| r.has(name).then(|| r.whole(name, min, min, max));
    let keep_daily = tier("KeepDaily", bounds::KEEP_DAILY)
        .or((role == Role::Destination && !declares_retention)
            .then_some(defaults::DESTINATION_KEEP_DAILY));
    let keep_weekly = tier("KeepWeekly", bounds::KEEP_WEEKLY);
    let keep_monthly = tier("KeepMonthly", bounds::KEEP_MONTHLY);
    let keep_yearly = tier("KeepYearly", bounds::KEEP_YEARLY);
    let (min, max) = bounds::RPO_MINUTES;
    let rpo_minutes = r.whole("RpoMinutes", defaults::RPO_MINUTES, min, max);
    let log_level = read_log_level(r);
    let source_region_override = read_region(r, "SourceRegionOverride");
    let notification = read_notification(r);
    let strict_checks = r.boolean("StrictChecks", false);
    let [expected_snapshot_minutes, expected_copy_minutes] = [
        (
            "ExpectedSnapshotMinutes",
            defaults::EXPECTED_SNAPSHOT_MINUTES,
            bounds::EXPECTED_SNAPSHOT_MINUTES,
        ),
        (
            "ExpectedCopyMinutes",
            defaults::EXPECTED_COPY_MINUTES,
            bounds::EXPECTED_COPY_MINUTES,
        ),
    ]
    .map(|(name, default, (min, max))| r.whole(name, default, min, max));
    let event_driven = r.boolean("EventDriven", true);
    let (pattern, instance, cluster) = match target {
        Target::Pattern(p) => (Some(p), None, None),
        Target::Instance(t) => (None, Some(t), None),
        Target::Cluster(t) => (None, None, Some(t)),
    };
    let mut spec = PolicySpec {
        role,
        policy_id,
        instance_name_pattern: pattern.clone().filter(|_| role == Role::Source),
        snapshot_pattern: pattern.filter(|_| role == Role::Destination),
        db_instance_identifier: instance,
        db_cluster_identifier: cluster,
        backup_interval_hours: None,
        backup_interval_minutes: None,
        backup_schedule: None,
        spread_snapshots: None,
        share_snapshots: None,
        share_schedule: None,
        destination_accounts: None,
        tagged_instance: None,
        revoke_unknown_shares: None,
        destination_event_bus_arns: None,
        reencrypt_kms_key: None,
        destination_region: None,
        copy_schedule: None,
        cross_account_copy: None,
        kms_key_source: None,
        kms_key_destination: None,
        two_step_copy: None,
        copy_retention_days: None,
        source_accounts: None,
        restore_drill: None,
        restore_drill_schedule: None,
        rto_minutes: None,
        drill_db_instance_class: None,
        drill_db_subnet_group_name: None,
        drill_vpc_security_group_ids: None,
        drill_validation_function_arn: None,
        destination_option_group_name: None,
        retention_days,
        retention_hours,
        delete_old_snapshots,
        delete_schedule,
        keep_latest,
        keep_daily,
        keep_weekly,
        keep_monthly,
        keep_yearly,
        rpo_minutes,
        log_level,
        source_region_override,
        strict_checks,
        expected_snapshot_minutes: Some(expected_snapshot_minutes),
        expected_copy_minutes: Some(expected_copy_minutes),
        event_driven: Some(event_driven),
        retired_databases: None,
        retired_keep_days: None,
    };
    let mut accounts_intrinsic = None;
    match role {
        Role::Source => accounts_intrinsic = read_source(r, &mut spec),
        Role::Destination => read_destination(r, &mut spec),
    }
    read_retired(r, &mut spec);
    crate::rpo::warn_about_schedules(&spec, r.diag);
    Policy {
        logical_id: logical_id.to_string(),
        spec,
        notification,
        destination_accounts_intrinsic: accounts_intrinsic,
        warnings: Vec::new(),
    }
}

/// The retention tier properties.
const TIER_PROPERTIES: [&str; 4] = ["KeepDaily", "KeepWeekly", "KeepMonthly", "KeepYearly"];

/// A role's default retention.
enum Retention {
    Days(u64),
    Hours(u64),
}

/// RetentionDays or RetentionHours, never both: (days, hours). Neither given: the role's
/// default.
fn read_retention(r: &mut Reader, default: Retention) -> (Option<u64>, Option<u64>) {
    if !r.has("RetentionHours") {
        let (min, max) = bounds::RETENTION_DAYS;
        return match default {
            Retention::Hours(hours) if !r.has("RetentionDays") => (None, Some(hours)),
            Retention::Hours(_) => (Some(r.whole("RetentionDays", 1, min, max)), None),
            Retention::Days(days) => (Some(r.whole("RetentionDays", days, min, max)), None),
        };
    }
    let twice = rules::one_retention(r.has("RetentionDays"), true);
    r.diag.broken(twice);
    let (min, max) = bounds::RETENTION_HOURS;
    (None, Some(r.whole("RetentionHours", max, min, max)))
}

fn read_policy_id(r: &mut Reader) -> Option<Text> {
    let id = r.text("PolicyId")?;
    if let Text::Literal(s) = &id
        && !is_policy_id(s)
    {
        r.diag.error(
            "PolicyId",
            format!("must be 1 to 128 letters, digits or - _ . / : @ + =, got {s:?}"),
        );
    }
    Some(id)
}

fn read_target(r: &mut Reader, role: Role) -> Target<Text> {
    let pattern_name = role.pattern_property();
    let given: Vec<&'static str> = [pattern_name, "DBInstanceIdentifier", "DBClusterIdentifier"]
        .into_iter()
        .filter(|n| r.has(n))
        .collect();
    r.diag.broken(rules::one_target(role, &given));
    match given.first().copied() {
        None => Target::Pattern(String::new()),
        Some("DBInstanceIdentifier") => {
            Target::Instance(read_db_identifier(r, "DBInstanceIdentifier"))
        }
        Some("DBClusterIdentifier") => {
            Target::Cluster(read_db_identifier(r, "DBClusterIdentifier"))
        }
        Some(name) => {
            let Some(pattern) = r.string(name) else {
                return Target::Pattern(String::new());
            };
            if pattern.is_empty() {
                r.diag.error(
                    name,
                    "must be a non-empty regular expression (use \".*\" for every database)",
                );
            } else if let Err(e) = regex::RegexBuilder::new(&pattern)
                .size_limit(1 << 20)
                .build()
            {
                let detail = e
                    .to_string()
                    .lines()
                    .last()
                    .unwrap_or_default()
                    .trim()
                    .to_string();
                r.diag.error(
                    name,
                    format!("is not a valid regular expression ({detail}), got {pattern:?}"),
                );
            }
            Target::Pattern(pattern)
        }
    }
}

fn read_db_identifier(r: &mut Reader, name: &str) -> Text {
    let text = r.text(name).unwrap_or(Text::Literal(String::new()));
    if let Text::Literal(id) = &text {
        // A dynamic reference to a plaintext Systems Manager parameter, as the seed passes the
        // identifier: CloudFormation resolves it after the macro (CloudFormation guide,
        // "Get values stored in other services using dynamic references": `ssm` references
        // work in any resource property), so it passes through and the provider checks the
        // resolved identifier at deploy time.
        if is_ssm_reference(id) {
            return Text::Intrinsic(Value::String(id.clone()));
        }
        if !is_db_identifier(id) {
            r.diag.error(
                name,
                format!("must be a DB identifier (1-63 letters, digits and hyphens, starting with a letter, no trailing or double hyphen), got {id:?}"),
            );
        } else if id.chars().any(|c| c.is_ascii_uppercase()) {
            // RDS stores DB identifiers in lowercase (RDS API reference, DBInstanceIdentifier,
            // DBClusterIdentifier): snapshots, events and the provider all see the lowercase one.
            let lower = id.to_ascii_lowercase();
            r.diag.warn(
                name,
                format!("{id:?} is read as {lower:?}: RDS stores DB identifiers in lowercase"),
            );
            return Text::Literal(lower);
        }
    }
    text
}

/// `{{resolve:ssm:NAME}}` or `{{resolve:ssm:NAME:VERSION}}` (parameter names: letters, digits,
/// `_.-/`, at most 2048 characters).
fn is_ssm_reference(text: &str) -> bool {
    static_regex(r"^\{\{resolve:ssm:[A-Za-z0-9_./-]{1,2048}(:[0-9]{1,10})?\}\}$").is_match(text)
}

fn read_log_level(r: &mut Reader) -> LogLevel {
    let Some(level) = r.string("LogLevel") else {
        return LogLevel::default();
    };
    LogLevel::parse(&level).unwrap_or_else(|| {
        r.diag.error(
            "LogLevel",
            format!("must be ERROR, WARN, INFO or DEBUG, got {level:?}"),
        );
        LogLevel::default()
    })
}

fn static_regex(source: &str) -> Regex {
    Regex::new(source).unwrap_or_else(|_| Regex::new("$^").expect("the empty-match regex compiles"))
}

fn read_region(r: &mut Reader, name: &str) -> Option<String> {
    let region = r.string(name)?;
    if !is_region(&region) {
        r.diag.error(
            name,
            format!("must be an AWS region name such as eu-west-1, got {region:?}"),
        );
    }
    Some(region)
}

fn read_notification(r: &mut Reader) -> Notification {
    if r.has("NotificationTopicArn") && r.has("NotificationEmail") {
        r.diag.error(
            "NotificationEmail",
            "conflicts with NotificationTopicArn: subscribe the address to that topic instead",
        );
    }
    if let Some(arn) = r.text("NotificationTopicArn") {
        let topic_arn =
            static_regex(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$");
        if let Text::Literal(s) = &arn
            && !topic_arn.is_match(s)
        {
            r.diag.error(
                "NotificationTopicArn",
                format!("must be an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME), got {s:?}"),
            );
        }
        return Notification::Topic(arn);
    }
    if let Some(email) = r.string("NotificationEmail") {
        // Blank (a template parameter left empty, as the examples default to): no subscription,
        // which the deploy-time check warns about.
        if email.trim().is_empty() {
            return Notification::Created;
        }
        if !static_regex(r"^[^@\s]+@[^@\s]+\.[^@\s]+$").is_match(&email) {
            r.diag.error(
                "NotificationEmail",
                format!("must be an email address, got {email:?}"),
            );
        }
        return Notification::Email(email);
    }
    Notification::Created
}

/// Fills the source fields of `spec`; returns a whole-list intrinsic for DestinationAccounts.
fn read_source(r: &mut Reader, spec: &mut PolicySpec<Text>) -> Option<Value> {
    spec.share_schedule = Some(r.schedule("ShareSchedule", defaults::SHARE_SCHEDULE));
    let share_snapshots = r.boolean("ShareSnapshots", true);
    spec.share_snapshots = Some(share_snapshots);
    read_cadence(r, spec);
    spec.tagged_instance = Some(r.boolean("TaggedInstance", false));
    if r.has("RevokeUnknownShares") {
        spec.revoke_unknown_shares = Some(r.boolean("RevokeUnknownShares", false));
    }
    let mut accounts = Vec::new();
    let mut accounts_intrinsic = None;
    // How many accounts are written (None: an intrinsic names the whole list).
    let mut written = Some(usize::from(r.has("DestinationAccount")));
    if let Some(v) = r.props.get("DestinationAccount").cloned() {
        accounts.extend(r.account("DestinationAccount", &v));
    }
    match r.list("DestinationAccounts") {
        Some(Ok(items)) => {
            written = written.map(|n| n + items.len());
            for (i, item) in items.iter().enumerate() {
                accounts.extend(r.account(&format!("DestinationAccounts[{i}]"), item));
            }
        }
        Some(Err(intrinsic)) => {
            written = None;
            accounts_intrinsic = Some(intrinsic);
        }
        None => {}
    }
    let mut unique: Vec<Text> = Vec::new();
    for a in accounts {
        if !unique.contains(&a) {
            unique.push(a);
        }
    }
    if share_snapshots {
        r.diag
            .broken(rules::share_needs_accounts(share_snapshots, written));
        r.diag
            .broken(rules::destination_account_count(unique.len()));
        if let Some(own) = r.resolver.account_id.as_deref() {
            // Name the property the account was given in.
            let own_text = Text::Literal(own.to_string());
            let in_single = r.props.get("DestinationAccount").and_then(Value::as_str) == Some(own);
            let property = if in_single {
                "DestinationAccount"
            } else {
                "DestinationAccounts"
            };
            if unique.contains(&own_text) {
                r.diag.error(
                    property,
                    format!(
                        "names this stack's own account {own}; share with the DR account instead"
                    ),
                );
            }
        }
    } else if !unique.is_empty() || accounts_intrinsic.is_some() {
        r.diag.warn(
            "ShareSnapshots",
            "is false, so the destination accounts are ignored and nothing is shared",
        );
    }
    spec.destination_accounts = Some(unique);
    spec.destination_event_bus_arns = read_event_buses(r, spec, accounts_intrinsic.is_some());
    spec.reencrypt_kms_key = r.text("ReencryptKmsKey");
    if let Some(key) = &spec.reencrypt_kms_key {
        if !share_snapshots {
            r.diag.warn(
                "ReencryptKmsKey",
                "is ignored: ShareSnapshots is false, so no snapshot is re-encrypted for sharing",
            );
        }
        if let Some(text) = key.literal() {
            let region = spec
                .source_region_override
                .clone()
                .or_else(|| r.resolver.region.clone());
            crate::kms::check_reencrypt_key(r, text, region.as_deref());
        }
    }
    accounts_intrinsic
}

/// DestinationEventBusArn: one ARN or a list, each in a destination account.
fn read_event_buses(
    r: &mut Reader,
    spec: &PolicySpec<Text>,
    accounts_deferred: bool,
) -> Option<Vec<Text>> {
    let items = match r.list("DestinationEventBusArn")? {
        Ok(items) => items,
        // One intrinsic (such as a `Fn::Sub` of the DR region and account) is one ARN.
        Err(intrinsic) => vec![intrinsic],
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("DestinationEventBusArn[{i}]");
        match r.resolver.resolve(item) {
            crate::value::Resolved::Deferred(v) => out.push(Text::Intrinsic(v)),
            crate::value::Resolved::Value(Value::String(arn)) => {
                if !crate::spec::is_event_bus_arn(&arn) {
                    r.diag.error(
                        &path,
                        format!("must be an event bus ARN (arn:aws:events:REGION:ACCOUNT:event-bus/NAME), got {arn:?}"),
                    );
                } else if !accounts_deferred
                    && let Some(account) = crate::spec::event_bus_account(&arn)
                    && !spec.accounts().iter().any(|a| a.literal() == Some(account))
                {
                    // Name the property the accounts were given in.
                    let named = match r.props.get("DestinationAccount").and_then(Value::as_str) {
                        Some(single) if !r.has("DestinationAccounts") => {
                            format!("the DestinationAccount ({single})")
                        }
                        _ => "one of DestinationAccounts".to_string(),
                    };
                    r.diag.error(
                        &path,
                        format!("is in account {account}, which is not {named}: the DR account's bus receives the announcement"),
                    );
                }
                out.push(Text::Literal(arn));
            }
            crate::value::Resolved::Value(other) => r.diag.error(
                &path,
                format!(
                    "must be an event bus ARN, got {}",
                    crate::value::describe(&other)
                ),
            ),
        }
    }
    Some(out)
}

/// RetiredDatabases and RetiredKeepDays (both roles): databases whose protection ends, each
/// named once in the role's form; at the DR account an account part must be a source account.
fn read_retired(r: &mut Reader, spec: &mut PolicySpec<Text>) {
    if let Some(items) = r.list("RetiredDatabases") {
        let Ok(items) = items else {
            r.diag.error(
                "RetiredDatabases",
                "must list the databases themselves (each may be a Ref), not one intrinsic for the whole list",
            );
            return;
        };
        let mut out: Vec<Text> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let name = format!("RetiredDatabases[{i}]");
            // Known when the template is expanded: the provider matches them as written.
            let text = match r.resolver.resolve(item) {
                Resolved::Value(Value::String(s)) => s,
                Resolved::Value(other) | Resolved::Deferred(other) => {
                    r.diag.error(
                        &name,
                        format!(
                            "must be a DB identifier known when the template is expanded (a literal, or a Ref to a parameter with a value), got {}",
                            crate::value::describe(&other)
                        ),
                    );
                    continue;
                }
            };
            if let Some(problem) = retired_entry_problem(spec.role, &text) {
                r.diag.error(&name, problem);
                continue;
            }
            let account = text.split_once('/').map(|(account, _)| account);
            let known = spec.source_accounts.as_deref().unwrap_or_default();
            if let Some(account) = account
                && known.iter().all(|k| matches!(k, Text::Literal(_)))
                && !known.contains(&Text::Literal(account.to_string()))
            {
                r.diag.error(
                    &name,
                    format!("{text:?} names account {account}, which is not in SourceAccounts"),
                );
                continue;
            }
            let entry = Text::Literal(text);
            if out.contains(&entry) {
                r.diag.error(&name, "names a database listed before it");
                continue;
            }
            out.push(entry);
        }
        if items.is_empty() {
            r.diag.error(
                "RetiredDatabases",
                "is empty: name the retired databases, or leave the property out",
            );
        }
        spec.retired_databases = Some(out);
    }
    if r.has("RetiredKeepDays") {
        let (min, max) = bounds::RETIRED_KEEP_DAYS;
        let days = r.whole("RetiredKeepDays", min, min, max);
        r.diag.broken(rules::keep_days_needs_retired(
            true,
            spec.retired_databases.is_some(),
        ));
        spec.retired_keep_days = Some(days);
    }
}

/// SourceAccounts: the accounts a destination policy copies from and takes events from.
fn read_source_accounts(r: &mut Reader) -> Option<Vec<Text>> {
    let items = match r.list("SourceAccounts")? {
        Ok(items) => items,
        Err(_) => {
            r.diag.error(
                "SourceAccounts",
                "must list the account IDs themselves (each may be a Ref), not one intrinsic for the whole list",
            );
            return None;
        }
    };
    let mut out: Vec<Text> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if let Some(account) = r.account(&format!("SourceAccounts[{i}]"), item)
            && !out.contains(&account)
        {
            out.push(account);
        }
    }
    if items.is_empty() {
        r.diag.error(
            "SourceAccounts",
            "is empty: name the production account(s) whose snapshots this policy copies, or leave the property out",
        );
    }
    Some(out)
}

/// BackupIntervalMinutes or BackupInterval (hours), never both; neither: the cadence that
/// meets RpoMinutes (`rpo::cadence_for`). BackupSchedule defaults to firing at that cadence.
fn read_cadence(r: &mut Reader, spec: &mut PolicySpec<Text>) {
    let interval_minutes = match (r.has("BackupIntervalMinutes"), r.has("BackupInterval")) {
        (true, hours_given) => {
            r.diag.broken(rules::one_interval(true, hours_given));
            let (min, max) = bounds::BACKUP_INTERVAL_MINUTES;
            let minutes = r.whole("BackupIntervalMinutes", 60, min, max);
            spec.backup_interval_minutes = Some(minutes);
            minutes
        }
        (false, true) => {
            let (min, max) = bounds::BACKUP_INTERVAL_HOURS;
            let hours = r.whole("BackupInterval", 1, min, max);
            spec.backup_interval_hours = Some(hours);
            hours * 60
        }
        (false, false) => {
            let lag =
                crate::rpo::source_lag_minutes(spec).unwrap_or(crate::rpo::DEFAULT_SWEEP_MINUTES);
            let minutes = crate::rpo::cadence_for(spec.rpo_minutes, lag);
            spec.backup_interval_minutes = Some(minutes);
            minutes
        }
    };
    let default_schedule = crate::rpo::cadence_schedule(interval_minutes);
    let written = r.has("BackupSchedule");
    spec.backup_schedule = Some(r.schedule("BackupSchedule", &default_schedule));
    // SpreadSnapshots (issue 28): the default cadence moves to the database's own minute, at
    // deploy time; a written BackupSchedule keeps its minutes.
    // The expansion hands the provider the default schedule written out beside
    // `SpreadSnapshots: true`, so only a schedule other than the default conflicts.
    let spread = r.boolean("SpreadSnapshots", !written);
    let schedule = spec.backup_schedule.as_ref().map(|s| s.expression());
    let custom = schedule != Some(default_schedule.as_str());
    r.diag.broken(rules::spread_needs_default_schedule(
        spread && written,
        schedule,
        &default_schedule,
    ));
    spec.spread_snapshots = Some(spread && !(written && custom));
}

fn read_destination(r: &mut Reader, policy: &mut PolicySpec<Text>) {
    let region = match r.text("DestinationRegion") {
        Some(Text::Literal(s)) => {
            if !is_region(&s) {
                r.diag.error(
                    "DestinationRegion",
                    format!("must be an AWS region name such as eu-west-1, got {s:?}"),
                );
            }
            Text::Literal(s)
        }
        Some(intrinsic) => intrinsic,
        None => match &r.resolver.region {
            Some(region) => Text::Literal(region.clone()),
            None => Text::Intrinsic(json!({"Ref": "AWS::Region"})),
        },
    };
    policy.copy_schedule = Some(r.schedule("CopySchedule", defaults::COPY_SCHEDULE));
    let cross_account_copy = r.boolean("CrossAccountCopy", true);
    policy.cross_account_copy = Some(cross_account_copy);
    let (min, max) = bounds::COPY_RETENTION_DAYS;
    let copy_retention_days = r.whole("CopyRetentionDays", defaults::COPY_RETENTION_DAYS, min, max);
    let retention_days = policy.retention_days.unwrap_or(copy_retention_days);
    r.diag.broken(rules::retention_covers_copy_retention(
        policy.delete_old_snapshots,
        retention_days,
        copy_retention_days,
    ));
    let source_region = policy
        .source_region_override
        .clone()
        .or_else(|| r.resolver.region.clone());
    let same_region = match (region.literal(), source_region.as_deref()) {
        (Some(d), Some(s)) => Some(d == s),
        _ => None,
    };
    let kms_key_source = r.text("KmsKeySource");
    let kms_key_destination = r.text("KmsKeyDestination");
    crate::kms::check_keys(
        r,
        kms_key_source.as_ref(),
        kms_key_destination.as_ref(),
        &region,
        source_region.as_deref(),
        same_region,
    );
    r.diag
        .broken(rules::something_to_copy(cross_account_copy, same_region));
    if r.has("TwoStepCopy") {
        let two_steps = r.boolean("TwoStepCopy", false);
        r.diag.broken(rules::two_step_copy(
            two_steps,
            cross_account_copy,
            same_region,
            kms_key_source.is_some(),
        ));
        policy.two_step_copy = Some(two_steps);
    }
    policy.source_accounts = read_source_accounts(r);
    if policy.source_accounts.is_none() && cross_account_copy && !r.has("SourceAccounts") {
        r.diag.error(
            "SourceAccounts",
            "is required when copying across accounts (CrossAccountCopy is true): name the production accounts (12-digit IDs, at most 20) whose shared snapshots this policy copies; snapshots shared by any other account are never copied",
        );
    }
    read_drill(r, policy);
    if let Some(group) = r.text("DestinationOptionGroupName") {
        if let Some(name) = group.literal()
            && !is_option_group_name(name)
        {
            r.diag.error(
                "DestinationOptionGroupName",
                format!("must be an option group name (1 to 255 letters, digits and single hyphens, a letter first, no hyphen last), got {name:?}"),
            );
        }
        policy.destination_option_group_name = Some(group);
    }
    policy.destination_region = Some(region);
    policy.kms_key_source = kms_key_source;
    policy.kms_key_destination = kms_key_destination;
    policy.copy_retention_days = Some(copy_retention_days);
}

/// The restore drill's properties (destination only; on by default).
fn read_drill(r: &mut Reader, policy: &mut PolicySpec<Text>) {
    let drill = r.boolean("RestoreDrill", true);
    policy.restore_drill = Some(drill);
    if !drill {
        for name in [
            "RestoreDrillSchedule",
            "RtoMinutes",
            "DrillDBInstanceClass",
            "DrillDBSubnetGroupName",
            "DrillVpcSecurityGroupIds",
            "DrillValidationFunctionArn",
        ] {
            if r.has(name) {
                r.diag.warn(name, "is ignored: RestoreDrill is false");
            }
        }
        return;
    }
    policy.restore_drill_schedule =
        Some(r.schedule("RestoreDrillSchedule", defaults::RESTORE_DRILL_SCHEDULE));
    let (min, max) = bounds::RTO_MINUTES;
    policy.rto_minutes = Some(r.whole("RtoMinutes", defaults::RTO_MINUTES, min, max));
    if let Some(class) = r.string("DrillDBInstanceClass") {
        let ok = class.starts_with("db.")
            && class.split('.').count() == 3
            && class.split('.').all(|p| {
                !p.is_empty()
                    && p.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            });
        if !ok {
            r.diag.error(
                "DrillDBInstanceClass",
                format!("must be a DB instance class such as db.t4g.micro, got {class:?}"),
            );
        }
        policy.drill_db_instance_class = Some(class);
    }
    if let Some(group) = r.text("DrillDBSubnetGroupName") {
        if let Some(name) = group.literal()
            && (name.is_empty() || name.len() > 255)
        {
            r.diag
                .error("DrillDBSubnetGroupName", "must be 1 to 255 characters");
        }
        policy.drill_db_subnet_group_name = Some(group);
    }
    if let Some(items) = r.list("DrillVpcSecurityGroupIds") {
        match items {
            Ok(items) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(id) if is_security_group(id) => out.push(Text::Literal(id.clone())),
                        v if crate::value::is_intrinsic(v) => out.push(Text::Intrinsic(v.clone())),
                        other => r.diag.error(
                            &format!("DrillVpcSecurityGroupIds[{i}]"),
                            format!("must be a security group ID such as sg-0123456789abcdef0, got {other}"),
                        ),
                    }
                }
                policy.drill_vpc_security_group_ids = Some(out);
            }
            Err(_) => r.diag.error(
                "DrillVpcSecurityGroupIds",
                "must list the security group IDs themselves (each may be a Ref)",
            ),
        }
    }
    if let Some(function) = r.text("DrillValidationFunctionArn") {
        if let Some(arn) = function.literal() {
            let parts: Vec<&str> = arn.split(':').collect();
            if parts.len() < 7
                || parts[0] != "arn"
                || parts[2] != "lambda"
                || parts[5] != "function"
            {
                r.diag.error(
                    "DrillValidationFunctionArn",
                    format!("must be a Lambda function ARN (arn:aws:lambda:<region>:<account>:function:<name>), got {arn:?}"),
                );
            }
        }
        policy.drill_validation_function_arn = Some(function);
    }
}

fn is_option_group_name(name: &str) -> bool {
    name.len() <= 255
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && !name.ends_with('-')
        && !name.contains("--")
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn is_security_group(id: &str) -> bool {
    id.strip_prefix("sg-").is_some_and(|hex| {
        (8..=17).contains(&hex.len()) && hex.bytes().all(|b| b.is_ascii_hexdigit())
    })
}
