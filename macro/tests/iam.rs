//! Least privilege as data: the IAM statements of the install stack, the pipeline and the
//! expanded examples, asserted statement by statement, then every policy document through
//! `parliament` (zero findings, or a written reason in scripts/parliament.yaml).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use rds_snapshot_policy_core::contract::tags;
use rds_snapshot_policy_core::yaml::parse_template;
use rds_snapshot_policy_macro::expand::{ExpandContext, expand};
use serde_json::{Map, Value, json};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn template(path: &str) -> Value {
    parse_template(&fs::read_to_string(root().join(path)).unwrap()).unwrap()
}

fn expanded(name: &str, region: &str, account: &str) -> Value {
    let context = ExpandContext {
        region: Some(region.into()),
        account_id: Some(account.into()),
        ..ExpandContext::default()
    };
    expand(
        &template(&format!("templates/examples/{name}.yaml")),
        &context,
    )
    .expect("the example expands")
    .template
}

/// Every policy document in `template`: (resource, document).
fn documents(template: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (id, resource) in template["Resources"].as_object().unwrap() {
        let p = &resource["Properties"];
        match resource["Type"].as_str().unwrap_or_default() {
            "AWS::IAM::Role" => {
                out.push((format!("{id}.trust"), p["AssumeRolePolicyDocument"].clone()));
                for policy in p["Policies"].as_array().into_iter().flatten() {
                    out.push((
                        format!("{id}.{}", policy["PolicyName"].as_str().unwrap()),
                        policy["PolicyDocument"].clone(),
                    ));
                }
            }
            "AWS::IAM::ManagedPolicy" | "AWS::IAM::Policy" => {
                out.push((id.clone(), p["PolicyDocument"].clone()))
            }
            "AWS::KMS::Key" => out.push((id.clone(), p["KeyPolicy"].clone())),
            _ => {}
        }
    }
    out
}

/// The identity-policy statements of the role `role`.
fn statements(template: &Value, role: &str) -> Vec<Value> {
    template["Resources"][role]["Properties"]["Policies"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["PolicyDocument"]["Statement"].as_array().unwrap().clone())
        .map(|s| match s.get("Fn::If") {
            // A conditional statement is checked as it is when its condition holds.
            Some(branches) => branches[1].clone(),
            None => s,
        })
        .collect()
}

/// The statement AWS suggests for the request RDS makes in the source region on the caller's
/// behalf (a cross-region copy): copies only, only via RDS.
fn is_called_via_rds(statement: &Value) -> bool {
    condition(statement, "ForAnyValue:StringEquals", "aws:CalledVia")
        == Some(&json!("rds.amazonaws.com"))
        && actions(statement)
            .iter()
            .all(|a| a == "rds:CopyDBSnapshot" || a == "rds:CopyDBClusterSnapshot")
}

fn actions(statement: &Value) -> Vec<String> {
    match &statement["Action"] {
        Value::String(a) => vec![a.clone()],
        Value::Array(a) => a.iter().map(|v| v.as_str().unwrap().to_string()).collect(),
        _ => Vec::new(),
    }
}

fn condition<'a>(statement: &'a Value, operator: &str, key: &str) -> Option<&'a Value> {
    statement["Condition"]
        .get(operator)
        .and_then(|c| c.get(key))
}

fn tag_keys(statement: &Value) -> Option<BTreeSet<String>> {
    condition(statement, "ForAllValues:StringEquals", "aws:TagKeys").map(|v| {
        v.as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap().to_string())
            .collect()
    })
}

fn set(keys: &[&str]) -> BTreeSet<String> {
    keys.iter().map(|k| k.to_string()).collect()
}

const RDS_TAGGING_WRITES: [&str; 5] = [
    "rds:AddTagsToResource",
    "rds:CreateDBSnapshot",
    "rds:CreateDBClusterSnapshot",
    "rds:CopyDBSnapshot",
    "rds:CopyDBClusterSnapshot",
];

#[test]
fn the_provider_role_cannot_bend_the_tag_guard() {
    let install = template("templates/install.yaml");
    let statements = statements(&install, "ProviderRole");
    let marker_value = json!(tags::TOOL);
    let mut tagging = 0;
    for s in &statements {
        let sid = s["Sid"].as_str().unwrap();
        let acts = actions(s);
        assert!(
            acts.iter()
                .all(|a| !a.contains('*') || a.starts_with("kms:")),
            "{sid}: no wildcard actions outside KMS's documented families"
        );
        let drill_names = s["Resource"].to_string().contains(":db:rsp-drill-*");
        if drill_names {
            // The restore drill: creates and deletes only rsp-drill-* resources with its tag.
            let tagged_on_create = condition(s, "Null", &format!("aws:RequestTag/{}", tags::DRILL))
                == Some(&json!("false"));
            let tagged = condition(s, "StringLike", &format!("aws:ResourceTag/{}", tags::DRILL))
                == Some(&json!("?*"));
            assert!(
                tagged_on_create || tagged,
                "{sid}: drill resources only with the drill tag"
            );
            if tagged_on_create {
                assert_eq!(
                    tag_keys(s),
                    Some(set(&tags::DRILL_RESOURCE_WRITTEN)),
                    "{sid}"
                );
            }
            continue;
        }
        if is_called_via_rds(s) {
            assert_eq!(s["Condition"].as_object().unwrap().len(), 1, "{sid}");
            continue;
        }
        if acts
            .iter()
            .any(|a| RDS_TAGGING_WRITES.contains(&a.as_str()))
        {
            tagging += 1;
            let keys =
                tag_keys(s).unwrap_or_else(|| panic!("{sid}: writes tags without aws:TagKeys"));
            let marked_on_create = [tags::CREATED_BY, tags::COPIED_BY].iter().any(|m| {
                condition(s, "StringEquals", &format!("aws:RequestTag/{m}")) == Some(&marker_value)
            });
            let on_marked = [tags::CREATED_BY, tags::COPIED_BY].iter().any(|m| {
                condition(s, "StringEquals", &format!("aws:ResourceTag/{m}")) == Some(&marker_value)
            });
            if marked_on_create {
                assert_eq!(
                    keys,
                    set(&tags::WRITTEN),
                    "{sid}: exactly the contract's tag keys"
                );
                assert_eq!(
                    condition(s, "Null", &format!("aws:RequestTag/{}", tags::POLICY)),
                    Some(&json!("false")),
                    "{sid}: the marker only with the policy tag"
                );
            } else {
                assert!(
                    on_marked,
                    "{sid}: tags neither on create with the marker nor on a marked snapshot"
                );
                assert_eq!(
                    keys,
                    set(&tags::WRITTEN_LATER),
                    "{sid}: never the marker on an existing snapshot"
                );
                assert!(acts == ["rds:AddTagsToResource"], "{sid}");
            }
        }
        if acts.iter().any(|a| {
            a == "rds:DeleteDBSnapshot"
                || a == "rds:DeleteDBClusterSnapshot"
                || a.starts_with("rds:Modify")
        }) {
            let marked = [tags::CREATED_BY, tags::COPIED_BY].iter().any(|m| {
                condition(s, "StringEquals", &format!("aws:ResourceTag/{m}")) == Some(&marker_value)
            });
            assert!(marked, "{sid}: shares or deletes only marked snapshots");
            assert_eq!(
                condition(s, "Null", &format!("aws:ResourceTag/{}", tags::POLICY)),
                Some(&json!("false")),
                "{sid}: and only those carrying a policy tag"
            );
        }
        if acts.iter().any(|a| a == "kms:CreateGrant") {
            assert_eq!(
                condition(s, "Bool", "kms:GrantIsForAWSResource"),
                Some(&json!("true")),
                "{sid}: grants only for AWS resources"
            );
        }
        if acts
            .iter()
            .any(|a| a.starts_with("kms:") && a != "kms:DescribeKey" && a != "kms:GetKeyPolicy")
        {
            assert_eq!(
                condition(s, "StringLike", "kms:ViaService"),
                Some(&json!("rds.*.amazonaws.com")),
                "{sid}: keys only through RDS"
            );
        }
        if acts.contains(&"states:TagResource".to_string()) {
            // The incident hold: only its one tag, never untagging (only operators release).
            assert_eq!(
                tag_keys(s),
                Some(set(&[tags::HOLD])),
                "{sid}: the hold tag only"
            );
            assert!(
                acts.iter()
                    .all(|a| a == "states:TagResource" || a == "states:ListTagsForResource"),
                "{sid}"
            );
            assert!(
                statements
                    .iter()
                    .all(|o| !actions(o).iter().any(|a| a == "states:UntagResource")),
                "the provider never lifts a hold"
            );
            continue;
        }
        if acts
            .iter()
            .any(|a| a.starts_with("states:") || a.starts_with("cloudformation:"))
        {
            assert!(
                acts.iter().all(|a| [":Describe", ":GetTemplate", ":List"]
                    .iter()
                    .any(|read| a.contains(read))),
                "{sid}: the trust check and the PolicyId owner lookup only read"
            );
        }
    }
    assert_eq!(
        tagging, 7,
        "create, copy, re-encrypt, two tag-on-create and two later-tag statements"
    );
    // A copy with the source marker (ReencryptKmsKey) stays in this account and always names
    // the original it was re-encrypted from.
    let reencrypt: Vec<&Value> = statements
        .iter()
        .filter(|s| {
            actions(s).iter().any(|a| a.starts_with("rds:CopyDB"))
                && condition(
                    s,
                    "StringEquals",
                    &format!("aws:RequestTag/{}", tags::CREATED_BY),
                )
                .is_some()
        })
        .collect();
    assert_eq!(reencrypt.len(), 1);
    let resources = reencrypt[0]["Resource"].to_string();
    assert!(
        resources.matches("${AWS::AccountId}").count() == 2,
        "re-encryption copies only this account's snapshots: {resources}"
    );
    assert_eq!(
        condition(
            reencrypt[0],
            "Null",
            &format!("aws:RequestTag/{}", tags::REENCRYPTED_FROM)
        ),
        Some(&json!("false"))
    );
    // The allow-lists reach the provider.
    let env = &install["Resources"]["ProviderFunction"]["Properties"]["Environment"]["Variables"];
    use rds_snapshot_policy_core::contract::provider_env;
    assert_eq!(
        env[provider_env::ALLOWED_DESTINATION_ACCOUNTS],
        json!({"Ref": "AllowedDestinationAccounts"})
    );
    assert_eq!(
        env[provider_env::ALLOWED_SOURCE_ACCOUNTS],
        json!({"Ref": "AllowedSourceAccounts"})
    );
    assert!(
        env.get(provider_env::ALLOW_LOCAL_RESPONSE_URL).is_none(),
        "never set by the install stack"
    );
}

#[test]
fn generated_roles_do_only_their_one_job() {
    for (name, region, account) in [
        ("source", "eu-west-1", "111111111111"),
        ("aurora", "eu-west-1", "111111111111"),
        ("destination", "eu-central-1", "222222222222"),
    ] {
        let t = expanded(name, region, account);
        for (id, document) in documents(&t) {
            if t["Resources"][&id]["Type"] == "AWS::KMS::Key" {
                continue; // key policies let the account administer its own key
            }
            for s in document["Statement"].as_array().unwrap() {
                let acts = actions(s);
                assert!(
                    !acts.iter().any(|a| a == "*" || a.ends_with(":*")),
                    "{name} {id}: {acts:?}"
                );
                if id.ends_with(".trust") {
                    assert_eq!(acts, ["sts:AssumeRole"], "{name} {id}");
                    assert!(
                        s["Principal"]["Service"].is_string(),
                        "{name} {id}: one service"
                    );
                }
                for a in &acts {
                    match a.as_str() {
                        "lambda:InvokeFunction" => assert!(
                            s["Resource"]
                                .to_string()
                                .contains("rds-snapshot-policy-provider"),
                            "{name} {id}: invokes only the provider"
                        ),
                        "cloudwatch:PutMetricData" => assert_eq!(
                            condition(s, "StringEquals", "cloudwatch:namespace"),
                            Some(&json!("RdsSnapshotPolicy")),
                            "{name} {id}"
                        ),
                        "states:StartExecution" => assert!(
                            s["Resource"].get("Ref").is_some(),
                            "{name} {id}: starts only its own state machine"
                        ),
                        _ => {}
                    }
                }
            }
        }
    }
}

/// Replaces intrinsics with plausible literal ARNs and names (by the referenced resource's
/// type or the parameter's default), so parliament reads plain JSON.
struct Literal<'a> {
    template: &'a Value,
    account: &'a str,
    region: &'a str,
}

impl Literal<'_> {
    /// What `Ref`/`GetAtt` of `name` (or `${name}`) stands for.
    fn resolve(&self, name: &str) -> String {
        let (account, region) = (self.account, self.region);
        let id = name.split('.').next().unwrap_or(name);
        match id {
            "AWS::AccountId" => return account.to_string(),
            "AWS::Region" => return region.to_string(),
            "AWS::Partition" => return "aws".to_string(),
            "AWS::StackName" => return "stack".to_string(),
            "AWS::StackId" => {
                return format!("arn:aws:cloudformation:{region}:{account}:stack/stack/1");
            }
            _ => {}
        }
        if let Some(parameter) = self.template["Parameters"].get(id) {
            if let Some(default) = parameter["Default"].as_str().filter(|d| !d.is_empty()) {
                return default.to_string();
            }
            return if id.ends_with("RoleArn") {
                format!("arn:aws:iam::{account}:role/{id}")
            } else if id.ends_with("ConnectionArn") {
                format!("arn:aws:codestar-connections:{region}:{account}:connection/1")
            } else if id.contains("KmsKey") {
                format!("arn:aws:kms:{region}:{account}:key/1234abcd-12ab-34cd-56ef-1234567890ab")
            } else if id.contains("Region") {
                "eu-central-1".into()
            } else if id.contains("Account") {
                "222222222222".into()
            } else if id.contains("Bucket") {
                "artifact-bucket".into()
            } else {
                format!("arn:aws:sns:{region}:{account}:{id}")
            };
        }
        let kind = self.template["Resources"][id]["Type"]
            .as_str()
            .unwrap_or_default();
        let lower = id.to_ascii_lowercase();
        match kind {
            "AWS::SNS::Topic" => format!("arn:aws:sns:{region}:{account}:{id}"),
            "AWS::StepFunctions::StateMachine" => {
                format!("arn:aws:states:{region}:{account}:stateMachine:{id}")
            }
            "AWS::Logs::LogGroup" => {
                format!("arn:aws:logs:{region}:{account}:log-group:/aws/{lower}")
            }
            "AWS::KMS::Key" => {
                format!("arn:aws:kms:{region}:{account}:key/1234abcd-12ab-34cd-56ef-1234567890ab")
            }
            "AWS::IAM::Role" => format!("arn:aws:iam::{account}:role/{id}"),
            "AWS::CodeBuild::Project" => {
                format!("arn:aws:codebuild:{region}:{account}:project/{id}")
            }
            "AWS::S3::Bucket" => format!("arn:aws:s3:::{lower}"),
            "AWS::Lambda::Function" => format!("arn:aws:lambda:{region}:{account}:function:{id}"),
            "AWS::CodeStarConnections::Connection" => {
                format!("arn:aws:codestar-connections:{region}:{account}:connection/1")
            }
            _ => format!("arn:aws:iam::{account}:role/{id}"),
        }
    }

    fn sub(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').map_or(rest.len(), |e| start + e);
            out.push_str(&self.resolve(&rest[start + 2..end]));
            rest = &rest[(end + 1).min(rest.len())..];
        }
        out.push_str(rest);
        out
    }

    fn value(&self, value: &Value) -> Value {
        match value {
            Value::Object(map) if map.len() == 1 => {
                let (k, v) = map.iter().next().unwrap();
                match k.as_str() {
                    "Fn::Sub" => {
                        json!(self.sub(v.as_str().unwrap_or_else(|| v[0].as_str().unwrap())))
                    }
                    "Ref" | "Fn::GetAtt" => {
                        let name = match v {
                            Value::Array(parts) => parts[0].as_str().unwrap().to_string(),
                            other => other.as_str().unwrap().to_string(),
                        };
                        json!(self.resolve(&name))
                    }
                    // The false branch, unless it is nothing (a conditional statement): then
                    // the statement as it is when its condition holds.
                    "Fn::If" if v[2] == json!({"Ref": "AWS::NoValue"}) => self.value(&v[1]),
                    "Fn::If" => self.value(&v[2]),
                    "Fn::Join" => {
                        let sep = v[0].as_str().unwrap();
                        let parts: Vec<String> = v[1]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|p| match self.value(p) {
                                Value::String(s) => s,
                                other => other.to_string(),
                            })
                            .collect();
                        json!(parts.join(sep))
                    }
                    _ => Value::Object(
                        map.iter()
                            .map(|(k, v)| (k.clone(), self.value(v)))
                            .collect::<Map<_, _>>(),
                    ),
                }
            }
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.value(v)))
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.value(v)).collect()),
            other => other.clone(),
        }
    }
}

#[test]
#[ignore = "needs make test"]
fn parliament_finds_nothing_unexplained() {
    let parliament = root().join(".tools/iam/bin/parliament");
    assert!(
        parliament.exists(),
        "parliament is not installed: run scripts/setup-tools.sh iam (make test does)"
    );
    let dir = std::env::temp_dir().join(format!("rsp-iam-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let mut templates = vec![
        (
            "install".to_string(),
            template("templates/install.yaml"),
            "111111111111",
            "eu-west-1",
        ),
        (
            "pipeline".to_string(),
            template("templates/pipeline.yaml"),
            "111111111111",
            "eu-west-1",
        ),
        (
            "status-role".to_string(),
            template("templates/status-role.yaml"),
            "111111111111",
            "eu-west-1",
        ),
    ];
    for (name, region, account) in [
        ("source", "eu-west-1", "111111111111"),
        ("aurora", "eu-west-1", "111111111111"),
        ("destination", "eu-central-1", "222222222222"),
    ] {
        templates.push((
            name.to_string(),
            expanded(name, region, account),
            account,
            region,
        ));
    }
    let mut count = 0;
    for (name, t, account, region) in &templates {
        for (id, document) in documents(t) {
            // Trust and key policies are resource policies; parliament reads identity policies.
            if id.ends_with(".trust") || t["Resources"][&id]["Type"] == "AWS::KMS::Key" {
                continue;
            }
            let path = dir.join(format!("{name}.{id}.json"));
            let literal = Literal {
                template: t,
                account,
                region,
            };
            fs::write(
                &path,
                serde_json::to_string_pretty(&literal.value(&document)).unwrap(),
            )
            .unwrap();
            count += 1;
        }
    }
    assert!(count >= 10, "{count} documents");
    let result = Command::new(&parliament)
        .args(["--directory"])
        .arg(&dir)
        .args(["--include_policy_extension", "json", "--json"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run parliament");
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(!stderr.contains("Traceback"), "parliament failed: {stderr}");
    let accepted: Value = serde_json::from_str(
        &fs::read_to_string(root().join("scripts/parliament-accepted.json")).unwrap(),
    )
    .unwrap();
    let accepted = accepted["accepted"].as_array().unwrap();
    let mut used = vec![false; accepted.len()];
    let mut unexplained = Vec::new();
    for line in String::from_utf8_lossy(&result.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
    {
        let finding: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let file = finding["location"]["filepath"].as_str().unwrap_or_default();
        let file = file.rsplit('/').next().unwrap_or_default();
        let detail = finding["detail"].to_string();
        let reason = accepted.iter().position(|a| {
            a["issue"] == finding["issue"]
                && a["file"] == file
                && detail.contains(a["action"].as_str().unwrap())
                && !a["reason"].as_str().unwrap_or_default().is_empty()
        });
        match reason {
            Some(i) => used[i] = true,
            None => unexplained.push(line.to_string()),
        }
    }
    assert!(
        unexplained.is_empty(),
        "parliament findings without a written reason (scripts/parliament-accepted.json):\n{}",
        unexplained.join("\n")
    );
    assert!(
        used.iter().all(|u| *u),
        "an accepted finding no longer occurs; remove it: {used:?}"
    );
}

#[test]
fn each_pipeline_stage_has_its_own_role_and_only_prod_deploys_after_approval() {
    let pipeline = template("templates/pipeline.yaml");
    let resources = &pipeline["Resources"];
    let assumes = |role: &str| -> Vec<Value> {
        statements(&pipeline, role)
            .into_iter()
            .filter(|s| actions(s).iter().any(|a| a.starts_with("sts:")))
            .map(|s| s["Resource"].clone())
            .collect()
    };
    assert!(
        assumes("BuildRole").is_empty(),
        "the build assumes no deploy role"
    );
    assert_eq!(assumes("DeployDrRole"), [json!({"Ref": "DrDeployRoleArn"})]);
    assert_eq!(
        assumes("DeployProdRole"),
        [json!({"Ref": "ProdDeployRoleArn"})]
    );
    let role_of =
        |project: &str| resources[project]["Properties"]["ServiceRole"]["Fn::GetAtt"][0].clone();
    assert_eq!(role_of("BuildProject"), "BuildRole");
    assert_eq!(role_of("DeployDrProject"), "DeployDrRole");
    assert_eq!(role_of("DeployProdProject"), "DeployProdRole");
    let stages: Vec<(String, Vec<Value>)> = resources["Pipeline"]["Properties"]["Stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["Name"].as_str().unwrap().to_string(),
                s["Actions"].as_array().unwrap().clone(),
            )
        })
        .collect();
    let position = |pred: &dyn Fn(&Value) -> bool| {
        stages.iter().position(|(_, a)| a.iter().any(pred)).unwrap()
    };
    let approval = position(&|a| a["ActionTypeId"]["Category"] == "Approval");
    let prod =
        position(&|a| a["Configuration"]["ProjectName"] == json!({"Ref": "DeployProdProject"}));
    let dr = position(&|a| a["Configuration"]["ProjectName"] == json!({"Ref": "DeployDrProject"}));
    assert!(dr < approval && approval < prod, "{stages:?}");
    // After the production deploy, the read-only status of both accounts, with the CLI the
    // build wrote; its role may assume the two status roles and nothing else.
    let verify =
        position(&|a| a["Configuration"]["ProjectName"] == json!({"Ref": "VerifyProject"}));
    assert!(prod < verify, "{stages:?}");
    assert_eq!(
        stages[verify].1[0]["InputArtifacts"],
        json!([{"Name": "Built"}])
    );
    assert_eq!(role_of("VerifyProject"), "VerifyRole");
    assert_eq!(
        assumes("VerifyRole"),
        [json!([{"Ref": "ProdStatusRoleArn"}, {"Ref": "DrStatusRoleArn"}])]
    );
    // The approval request reaches someone: it notifies the pipeline's topic, and the
    // pipeline's role may publish to that topic and no other.
    let approve = &stages[approval].1[0];
    assert_eq!(
        approve["Configuration"]["NotificationArn"],
        json!({"Ref": "ApprovalTopic"})
    );
    let publish: Vec<Value> = statements(&pipeline, "PipelineRole")
        .into_iter()
        .filter(|s| actions(s).iter().any(|a| a.starts_with("sns:")))
        .map(|s| (json!(actions(&s)), s["Resource"].clone()))
        .map(|(a, r)| json!([a, r]))
        .collect();
    assert_eq!(
        publish,
        [json!([["sns:Publish"], {"Ref": "ApprovalTopic"}])],
        "{publish:?}"
    );
}

#[test]
fn the_status_role_only_reads() {
    let role = template("templates/status-role.yaml");
    let all: Vec<String> = statements(&role, "StatusRole")
        .iter()
        .flat_map(actions)
        .collect();
    assert!(all.len() >= 10, "{all:?}");
    for action in &all {
        let verb = action.split(':').nth(1).unwrap_or_default();
        assert!(
            ["Describe", "List", "Get", "Filter"]
                .iter()
                .any(|read| verb.starts_with(read)),
            "the status role may only read: {action}"
        );
    }
    assert_eq!(
        role["Resources"]["StatusRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"],
        json!({"AWS": {"Ref": "TrustedRoleArn"}})
    );
}

/// Snake-case names in the provider's source that look like SDK operations but are accessors
/// or the project's own functions.
const NOT_OPERATIONS: &[&str] = &[
    "tag_list",
    "copy_retention",
    "copy_retention_property",
    "stop_date",
    "start_date",
    "copy_key",
];

/// The IAM action of each SDK operation the provider Lambda calls.
fn iam_action(operation: &str) -> Option<&'static str> {
    Some(match operation {
        "describe_db_instances" => "rds:DescribeDBInstances",
        "describe_db_clusters" => "rds:DescribeDBClusters",
        "describe_db_snapshots" => "rds:DescribeDBSnapshots",
        "describe_db_snapshot_attributes" => "rds:DescribeDBSnapshotAttributes",
        "describe_db_cluster_snapshot_attributes" => "rds:DescribeDBClusterSnapshotAttributes",
        "describe_db_cluster_snapshots" => "rds:DescribeDBClusterSnapshots",
        "describe_account_attributes" => "rds:DescribeAccountAttributes",
        "describe_option_groups" => "rds:DescribeOptionGroups",
        "describe_db_subnet_groups" => "rds:DescribeDBSubnetGroups",
        "create_db_snapshot" => "rds:CreateDBSnapshot",
        "create_db_cluster_snapshot" => "rds:CreateDBClusterSnapshot",
        "copy_db_snapshot" => "rds:CopyDBSnapshot",
        "copy_db_cluster_snapshot" => "rds:CopyDBClusterSnapshot",
        "delete_db_snapshot" => "rds:DeleteDBSnapshot",
        "delete_db_cluster_snapshot" => "rds:DeleteDBClusterSnapshot",
        "modify_db_snapshot_attribute" => "rds:ModifyDBSnapshotAttribute",
        "modify_db_cluster_snapshot_attribute" => "rds:ModifyDBClusterSnapshotAttribute",
        "add_tags_to_resource" => "rds:AddTagsToResource",
        // The only tags the provider lists are its delete state machines' (the incident hold).
        "list_tags_for_resource" => "states:ListTagsForResource",
        "restore_db_instance_from_db_snapshot" => "rds:RestoreDBInstanceFromDBSnapshot",
        "restore_db_cluster_from_snapshot" => "rds:RestoreDBClusterFromSnapshot",
        "create_db_instance" => "rds:CreateDBInstance",
        "delete_db_instance" => "rds:DeleteDBInstance",
        "delete_db_cluster" => "rds:DeleteDBCluster",
        "describe_orderable_db_instance_options" => "rds:DescribeOrderableDBInstanceOptions",
        "get_role" => "iam:GetRole",
        "describe_trails" => "cloudtrail:DescribeTrails",
        "get_trail_status" => "cloudtrail:GetTrailStatus",
        "get_event_selectors" => "cloudtrail:GetEventSelectors",
        "describe_key" => "kms:DescribeKey",
        "get_key_policy" => "kms:GetKeyPolicy",
        "describe_execution" => "states:DescribeExecution",
        "describe_state_machine_for_execution" => "states:DescribeStateMachineForExecution",
        "describe_stack_resource" => "cloudformation:DescribeStackResource",
        "get_template" => "cloudformation:GetTemplate",
        "list_stacks" => "cloudformation:ListStacks",
        "list_stack_resources" => "cloudformation:ListStackResources",
        "create_log_stream" => "logs:CreateLogStream",
        "put_log_events" => "logs:PutLogEvents",
        "filter_log_events" => "logs:FilterLogEvents",
        _ => return None,
    })
}

fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every AWS operation the provider Lambda's code calls (the provider library and the Lambda's
/// binary; `status/` and the app's CLI run with the user's own credentials) is allowed by some
/// statement of the provider role.
#[test]
fn every_operation_the_provider_calls_is_allowed_by_its_role() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let install = template("templates/install.yaml");
    let allowed: BTreeSet<String> = statements(&install, "ProviderRole")
        .iter()
        .filter(|s| s["Effect"] == "Allow")
        .flat_map(actions)
        .collect();
    let call = regex::Regex::new(
        r"\.((?:describe|create|copy|delete|filter|modify|add|remove|restore|get|list|put|start|stop|update)_[a-z_]+)\(\)",
    )
    .unwrap();
    let mut files = Vec::new();
    rust_files(&root.join("provider/src"), &mut files);
    files.push(root.join("app/src/bin/provider_lambda.rs"));
    let mut seen = BTreeSet::new();
    for file in files {
        let relative = file
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .to_string();
        if relative.starts_with("provider/src/status/") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for c in call.captures_iter(&text) {
            let operation = c[1].to_string();
            if NOT_OPERATIONS.contains(&operation.as_str()) {
                continue;
            }
            let action = iam_action(&operation).unwrap_or_else(|| {
                panic!("{relative} calls {operation}: add its IAM action to iam_action() and a statement to the provider role")
            });
            assert!(
                allowed.contains(action),
                "{relative} calls {operation}, but no statement of ProviderRole allows {action}"
            );
            seen.insert(operation);
        }
    }
    for expected in [
        "describe_option_groups",
        "describe_state_machine_for_execution",
        "get_role",
        "get_event_selectors",
        "copy_db_snapshot",
        "put_log_events",
        "filter_log_events",
    ] {
        assert!(
            seen.contains(expected),
            "the scan found no {expected}: {seen:?}"
        );
    }
}
