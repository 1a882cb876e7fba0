//! The local AWS emulator for integration tests: the project's moto launcher on a free
//! 127.0.0.1 port, two accounts (source 111111111111, DR 222222222222), two regions, KMS keys,
//! encrypted instances and Aurora clusters.

#![allow(dead_code)]

pub mod offline;
pub mod proxy;

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_sdk_rds::config::{Credentials, Region};
use provider::aws::Aws;
use provider::inventory::Kind;
use serde_json::{Value, json};

pub const SOURCE: &str = "111111111111";
pub const DR: &str = "222222222222";
pub const SOURCE_REGION: &str = "eu-west-1";
pub const DR_REGION: &str = "eu-central-1";

pub struct Emulator {
    pub endpoint: String,
    _child: Mutex<Child>,
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// The emulator shared by the tests of this binary; it exits with the test process.
pub fn emulator() -> &'static Emulator {
    static EMULATOR: OnceLock<Emulator> = OnceLock::new();
    EMULATOR.get_or_init(|| {
        let python = repo_root().join(".tools/moto/bin/python");
        assert!(
            python.exists(),
            "the emulator is not installed: run scripts/setup-tools.sh moto (make test does)"
        );
        let port = free_port();
        let log =
            std::fs::File::create(std::env::temp_dir().join(format!("rsp-emulator-{port}.log")))
                .expect("emulator log file");
        let child = Command::new(python)
            .arg(repo_root().join("tests/emulator/launcher.py"))
            .arg(port.to_string())
            .arg(std::process::id().to_string())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start the emulator");
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the emulator did not start within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Emulator {
            endpoint: format!("http://127.0.0.1:{port}"),
            _child: Mutex::new(child),
        }
    })
}

impl Emulator {
    /// Changes the launcher's runtime settings (pending times, clock).
    pub async fn configure(&self, settings: Value) {
        let response = reqwest::Client::new()
            .post(format!("{}/_rsp/config", self.endpoint))
            .body(settings.to_string())
            .send()
            .await
            .expect("configure the emulator");
        assert!(response.status().is_success());
    }

    /// Credentials of `account`, from STS AssumeRole (the emulator's way to switch accounts).
    /// The `tests` role is unknown to the emulator's IAM, so its calls are not decided by any
    /// policy: it sets up what each test needs, as an administrator would.
    pub async fn credentials(&self, account: &str) -> Credentials {
        self.credentials_as(account, "tests").await
    }

    /// Credentials of `role` in `account`, from STS AssumeRole.
    pub async fn credentials_as(&self, account: &str, role: &str) -> Credentials {
        let body = reqwest::Client::new()
            .post(&self.endpoint)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Authorization", "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=x")
            .body(format!(
                "Action=AssumeRole&Version=2011-06-15&RoleSessionName=tests&RoleArn=arn:aws:iam::{account}:role/{role}"
            ))
            .send()
            .await
            .expect("AssumeRole")
            .text()
            .await
            .expect("AssumeRole body");
        let field = |name: &str| {
            let start = body.find(&format!("<{name}>")).expect(name) + name.len() + 2;
            let end = body[start..].find('<').expect(name) + start;
            body[start..end].to_string()
        };
        Credentials::new(
            field("AccessKeyId"),
            field("SecretAccessKey"),
            Some(field("SessionToken")),
            None,
            "emulator",
        )
    }

    /// An `Aws` acting as `account` (its administrator), with `region` as its own region.
    pub async fn aws(&self, account: &str, region: &str) -> Aws {
        let credentials = self.credentials(account).await;
        accounts()
            .lock()
            .unwrap()
            .insert(credentials.access_key_id().to_string(), account.to_string());
        self.aws_with(credentials, region).await
    }

    async fn aws_with(&self, credentials: Credentials, region: &str) -> Aws {
        let config = aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(Region::new(region.to_string()))
            .credentials_provider(credentials)
            .load()
            .await;
        Aws::from_config(config)
    }

    /// An `Aws` acting as the provider's role in `account` and `region`: the install stack's
    /// `ProviderRole`, created from `templates/install.yaml` through the emulator's
    /// CloudFormation (with the stack's default parameters). The emulator decides each of its
    /// calls by that role's policies, as AWS would, so a call the role does not allow fails
    /// the test.
    pub async fn provider(&self, account: &str, region: &str) -> Aws {
        let admin = self.aws(account, region).await;
        let stack = format!("rsp-provider-role-{region}");
        let cfn = admin.cloudformation(region);
        let status = || async {
            cfn.describe_stacks()
                .stack_name(&stack)
                .send()
                .await
                .ok()
                .and_then(|d| d.stacks().first().and_then(|s| s.stack_status().cloned()))
        };
        if status()
            .await
            .is_none_or(|s| s.as_str() != "CREATE_COMPLETE")
        {
            cfn.create_stack()
                .stack_name(&stack)
                .template_body(provider_role_template().to_string())
                .capabilities(aws_sdk_cloudformation::types::Capability::CapabilityNamedIam)
                .send()
                .await
                .expect("create the provider role's stack");
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                match status().await.as_ref().map(|s| s.as_str()) {
                    Some("CREATE_COMPLETE") => break,
                    Some(s) if !s.ends_with("IN_PROGRESS") => panic!("{stack} is {s}"),
                    _ if Instant::now() > deadline => panic!("{stack} is not complete after 60 s"),
                    _ => tokio::time::sleep(Duration::from_millis(200)).await,
                }
            }
        }
        let role = format!("rds-snapshot-policy-provider-{region}");
        let credentials = self.credentials_as(account, &role).await;
        self.aws_with(credentials, region).await
    }

    /// The provider's role for the account `aws` (from `aws()`) acts as, in its region; any
    /// other `Aws` (through a proxy, offline) as it is.
    pub async fn provider_for(&self, aws: &Aws) -> Aws {
        match account_of(aws).await {
            Some(account) => {
                self.provider(&account, &aws.region().expect("region"))
                    .await
            }
            None => aws.clone(),
        }
    }
}

/// Access key IDs of `aws()` to their accounts.
fn accounts() -> &'static Mutex<std::collections::HashMap<String, String>> {
    static ACCOUNTS: OnceLock<Mutex<std::collections::HashMap<String, String>>> = OnceLock::new();
    ACCOUNTS.get_or_init(Default::default)
}

/// The account an `Aws` from `aws()` acts as (`None` for any other `Aws`).
pub async fn account_of(aws: &Aws) -> Option<String> {
    use aws_credential_types::provider::ProvideCredentials;
    let credentials = aws
        .sdk_config()
        .credentials_provider()?
        .provide_credentials()
        .await
        .ok()?;
    accounts()
        .lock()
        .unwrap()
        .get(credentials.access_key_id())
        .cloned()
}

/// The names a template value refers to (`Ref`, `Fn::GetAtt`, `${...}` in `Fn::Sub`).
fn references(value: &Value, out: &mut std::collections::BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("Ref", Value::String(name)) => {
                        out.insert(name.clone());
                    }
                    ("Fn::GetAtt", Value::Array(parts)) => {
                        if let Some(name) = parts.first().and_then(Value::as_str) {
                            out.insert(name.to_string());
                        }
                    }
                    ("Fn::GetAtt", Value::String(path)) => {
                        out.insert(path.split('.').next().unwrap_or_default().to_string());
                    }
                    ("Fn::Sub", sub) => {
                        let text = sub
                            .as_str()
                            .or_else(|| sub.get(0).and_then(Value::as_str))
                            .unwrap_or_default();
                        for part in text.split("${").skip(1) {
                            let name = part.split('}').next().unwrap_or_default();
                            out.insert(name.split('.').next().unwrap_or_default().to_string());
                        }
                    }
                    _ => {}
                }
                references(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, out)),
        _ => {}
    }
}

/// `templates/install.yaml`'s provider role with what it refers to (its log group and that
/// group's key, the parameters and conditions), as one template.
fn provider_role_template() -> Value {
    let text = std::fs::read_to_string(repo_root().join("templates/install.yaml")).unwrap();
    let install = rds_snapshot_policy_core::yaml::parse_template(&text).unwrap();
    let mut wanted = std::collections::BTreeSet::from(["ProviderRole".to_string()]);
    references(&install["Conditions"], &mut wanted);
    let mut resources = serde_json::Map::new();
    while let Some(name) = wanted
        .iter()
        .find(|n| install["Resources"].get(n.as_str()).is_some() && !resources.contains_key(*n))
        .cloned()
    {
        let resource = install["Resources"][&name].clone();
        references(&resource, &mut wanted);
        resources.insert(name, resource);
    }
    let parameters: serde_json::Map<String, Value> = install["Parameters"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(name, _)| wanted.contains(*name))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    json!({
        "Parameters": parameters,
        "Conditions": install["Conditions"],
        "Resources": resources,
    })
}

pub async fn create_key(aws: &Aws, region: &str) -> String {
    aws.kms(region)
        .create_key()
        .send()
        .await
        .expect("create key")
        .key_metadata()
        .and_then(|m| m.arn())
        .expect("key ARN")
        .to_string()
}

/// A key of SOURCE in SOURCE_REGION whose policy lets `accounts` copy what it encrypts.
pub async fn shared_key(aws: &Aws, accounts: &[&str]) -> String {
    shared_key_of(aws, SOURCE, accounts).await
}

/// The usual pair: SOURCE's and DR's clients, a SOURCE key the DR account may copy under (RDS
/// guide, "Sharing a DB snapshot": encrypted snapshots) and a DR key for the copies.
pub async fn source_and_dr(em: &Emulator) -> (Aws, Aws, String, String) {
    let src = em.aws(SOURCE, SOURCE_REGION).await;
    let dr = em.aws(DR, DR_REGION).await;
    let key = shared_key(&src, &[DR]).await;
    let dr_key = create_key(&dr, DR_REGION).await;
    (src, dr, key, dr_key)
}

/// The same in `owner`'s account (`aws` acts in it).
pub async fn shared_key_of(aws: &Aws, owner: &str, accounts: &[&str]) -> String {
    let key = create_key(aws, SOURCE_REGION).await;
    aws.kms(SOURCE_REGION)
        .put_key_policy()
        .key_id(&key)
        .policy_name("default")
        .policy(shared_key_policy(owner, accounts))
        .send()
        .await
        .expect("put the key policy");
    key
}

/// An encrypted PostgreSQL instance; `key` None means the AWS-managed `alias/aws/rds`.
pub async fn create_instance(
    aws: &Aws,
    region: &str,
    id: &str,
    key: Option<&str>,
    tags: &[(&str, &str)],
) {
    aws.rds(region)
        .create_db_instance()
        .db_instance_identifier(id)
        .engine("postgres")
        .db_instance_class("db.t4g.micro")
        .allocated_storage(20)
        .master_username("admin_user")
        .master_user_password("not-a-real-password")
        .storage_encrypted(true)
        .kms_key_id(key.unwrap_or("alias/aws/rds"))
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| aws_sdk_rds::types::Tag::builder().key(*k).value(*v).build())
                .collect(),
        ))
        .send()
        .await
        .expect("create DB instance");
}

/// An encrypted Aurora PostgreSQL cluster with one member instance `<id>-1`.
pub async fn create_cluster(aws: &Aws, region: &str, id: &str, key: &str) {
    let rds = aws.rds(region);
    rds.create_db_cluster()
        .db_cluster_identifier(id)
        .engine("aurora-postgresql")
        .master_username("admin_user")
        .master_user_password("not-a-real-password")
        .storage_encrypted(true)
        .kms_key_id(key)
        .send()
        .await
        .expect("create DB cluster");
    rds.create_db_instance()
        .db_instance_identifier(format!("{id}-1"))
        .db_cluster_identifier(id)
        .engine("aurora-postgresql")
        .db_instance_class("db.t4g.medium")
        .send()
        .await
        .expect("create cluster member");
}

/// A manual snapshot as the tests look at it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub id: String,
    pub kind: Kind,
    pub status: String,
    pub kms_key_id: Option<String>,
    pub tags: std::collections::BTreeMap<String, String>,
    pub shared_with: Vec<String>,
}

/// This account's manual snapshots in `region` whose identifier starts with `prefix`.
pub async fn snapshots(aws: &Aws, region: &str, prefix: &str) -> Vec<Seen> {
    let rds = aws.rds(region);
    let mut out = Vec::new();
    // Every page: the emulator serves 100 records a page, as RDS does.
    let instance: Vec<_> = rds
        .describe_db_snapshots()
        .snapshot_type("manual")
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .expect("list");
    for s in &instance {
        let id = s.db_snapshot_identifier().unwrap_or_default().to_string();
        if !id.starts_with(prefix) {
            continue;
        }
        let attrs = rds
            .describe_db_snapshot_attributes()
            .db_snapshot_identifier(&id)
            .send()
            .await
            .expect("attributes");
        out.push(Seen {
            shared_with: attrs
                .db_snapshot_attributes_result()
                .map(|r| {
                    r.db_snapshot_attributes()
                        .iter()
                        .flat_map(|a| a.attribute_values().to_vec())
                        .collect()
                })
                .unwrap_or_default(),
            id,
            kind: Kind::Instance,
            status: s.status().unwrap_or_default().to_string(),
            kms_key_id: s.kms_key_id().map(str::to_string),
            tags: s
                .tag_list()
                .iter()
                .map(|t| {
                    (
                        t.key().unwrap_or_default().to_string(),
                        t.value().unwrap_or_default().to_string(),
                    )
                })
                .collect(),
        });
    }
    let cluster: Vec<_> = rds
        .describe_db_cluster_snapshots()
        .snapshot_type("manual")
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .expect("list");
    for s in &cluster {
        let id = s
            .db_cluster_snapshot_identifier()
            .unwrap_or_default()
            .to_string();
        if !id.starts_with(prefix) {
            continue;
        }
        let attrs = rds
            .describe_db_cluster_snapshot_attributes()
            .db_cluster_snapshot_identifier(&id)
            .send()
            .await
            .expect("attributes");
        out.push(Seen {
            shared_with: attrs
                .db_cluster_snapshot_attributes_result()
                .map(|r| {
                    r.db_cluster_snapshot_attributes()
                        .iter()
                        .flat_map(|a| a.attribute_values().to_vec())
                        .collect()
                })
                .unwrap_or_default(),
            id,
            kind: Kind::Cluster,
            status: s.status().unwrap_or_default().to_string(),
            kms_key_id: s.kms_key_id().map(str::to_string),
            tags: s
                .tag_list()
                .iter()
                .map(|t| {
                    (
                        t.key().unwrap_or_default().to_string(),
                        t.value().unwrap_or_default().to_string(),
                    )
                })
                .collect(),
        });
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// `n` snapshots of `db` in SOURCE_REGION tagged as policy `policy`'s, straight through the
/// emulator.
pub async fn own_snapshots(aws: &Aws, db: &str, policy: &str, n: usize) {
    use aws_sdk_rds::types::Tag;
    let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build();
    for i in 0..n {
        aws.rds(SOURCE_REGION)
            .create_db_snapshot()
            .db_instance_identifier(db)
            .db_snapshot_identifier(format!("{db}-2026-01-01-{:02}-{:02}", i / 60, i % 60))
            .tags(tag("CreatedBy", "Snapshot Tool for RDS"))
            .tags(tag("rds-snapshot-policy:policy", policy))
            .tags(tag("rds-snapshot-policy:database", db))
            .send()
            .await
            .expect("create a snapshot");
    }
}

pub fn source_policy(extra: Value) -> Value {
    let mut p = json!({"Role": "Source", "DestinationAccount": DR});
    p.as_object_mut()
        .unwrap()
        .extend(extra.as_object().cloned().unwrap_or_default());
    p
}

/// Emulator tests run one at a time: they move the emulator's clock.
pub async fn exclusive() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: OnceLock<tokio::sync::Mutex<()>> = OnceLock::new();
    LOCK.get_or_init(|| tokio::sync::Mutex::new(()))
        .lock()
        .await
}

/// Sets the emulator's clock (snapshot creation times) to `t`.
pub async fn clock(em: &Emulator, t: chrono::DateTime<chrono::Utc>) {
    em.configure(json!({"clock": t.to_rfc3339()})).await;
}

/// Runs `action` for `policy` (a Properties block) as the provider does; panics on errors.
pub async fn run(
    aws: &Aws,
    action: &str,
    policy: &Value,
    now: chrono::DateTime<chrono::Utc>,
) -> provider::task::Summary {
    try_run(aws, action, policy, now)
        .await
        .unwrap_or_else(|(e, _)| panic!("{action} failed: {e}"))
}

pub async fn try_run(
    aws: &Aws,
    action: &str,
    policy: &Value,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<
    provider::task::Summary,
    (
        provider::error::ProviderError,
        Option<provider::task::Summary>,
    ),
> {
    let region = aws.region().expect("region");
    let policy = provider::policy::RuntimePolicy::from_properties(policy, &region, None)
        .expect("valid policy");
    // As the provider's role: the emulator decides each call by its policies.
    let aws = emulator().provider_for(aws).await;
    provider::task::run_action(&aws, action.parse().expect("action"), &policy, now, false).await
}

/// The normalized policy of a Properties block, as the expansion embeds it in a task input.
#[allow(dead_code)]
pub fn normalized(properties: &Value) -> Value {
    let resolver = rds_snapshot_policy_core::Resolver {
        region: Some(SOURCE_REGION.to_string()),
        ..Default::default()
    };
    let policy =
        rds_snapshot_policy_core::parse_policy("P", properties, &resolver).expect("valid policy");
    serde_json::to_value(policy.spec.resolve().expect("literal policy")).expect("serializes")
}

/// A local HTTP server on 127.0.0.1 that records the bodies PUT to it (CloudFormation's
/// ResponseURL). The first `fail_first` requests are answered 500.
pub struct ResponseServer {
    pub url: String,
    bodies: std::sync::Arc<Mutex<Vec<String>>>,
}

impl ResponseServer {
    pub async fn start(fail_first: usize) -> Self {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!(
            "http://{}/response?signature=x",
            listener.local_addr().unwrap()
        );
        let bodies = std::sync::Arc::new(Mutex::new(Vec::new()));
        let seen = bodies.clone();
        let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let (seen, count) = (seen.clone(), count.clone());
                tokio::spawn(async move {
                    let mut data = Vec::new();
                    let mut buf = [0u8; 4096];
                    let (head_end, length) = loop {
                        let n = stream.read(&mut buf).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        data.extend_from_slice(&buf[..n]);
                        if let Some(pos) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&data[..pos]).to_ascii_lowercase();
                            let length = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            break (pos + 4, length);
                        }
                    };
                    while data.len() < head_end + length {
                        let n = stream.read(&mut buf).await.unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        data.extend_from_slice(&buf[..n]);
                    }
                    let n = count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let status = if n < fail_first {
                        "500 Internal Server Error"
                    } else {
                        seen.lock()
                            .unwrap()
                            .push(String::from_utf8_lossy(&data[head_end..]).into_owned());
                        "200 OK"
                    };
                    let _ = stream.write_all(format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").as_bytes()).await;
                });
            }
        });
        ResponseServer { url, bodies }
    }

    /// The bodies received so far, parsed.
    pub fn responses(&self) -> Vec<Value> {
        self.bodies
            .lock()
            .unwrap()
            .iter()
            .map(|b| serde_json::from_str(b).expect("JSON body"))
            .collect()
    }
}

/// The provider's answer to a custom-resource `event`, as the provider's role (the emulator
/// decides each call by its policies), with `trust`; the answer goes to the event's URL.
pub async fn answer_as_provider(aws: &Aws, event: Value, trust: provider::trust::Trust) -> Value {
    let aws = emulator().provider_for(aws).await;
    let region = aws.region().unwrap();
    let response = provider::custom_resource::answer_with(
        &event,
        Duration::from_secs(120),
        true,
        move |r| async move { provider::custom_resource::handle(&aws, &region, &trust, &r).await },
    )
    .await;
    serde_json::to_value(response).unwrap()
}

/// A CloudFormation custom-resource event for the policy resource.
pub fn cr_event(
    request_type: &str,
    url: &str,
    properties: Value,
    physical_id: Option<&str>,
) -> Value {
    let mut event = json!({
        "RequestType": request_type,
        "ResponseURL": url,
        "StackId": "arn:aws:cloudformation:eu-west-1:111111111111:stack/orders/guid",
        "RequestId": format!("req-{request_type}"),
        "LogicalResourceId": "OrdersDbSnapshots",
        "ResourceType": "Custom::RdsSnapshotPolicy",
        "ResourceProperties": properties,
    });
    if let Some(id) = physical_id {
        event["PhysicalResourceId"] = json!(id);
    }
    event
}

/// A key policy letting `accounts` use the key (as the seed's prerequisite asks).
pub fn shared_key_policy(owner: &str, accounts: &[&str]) -> String {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{owner}:root")}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": accounts.iter().map(|a| format!("arn:aws:iam::{a}:root")).collect::<Vec<_>>()},
         "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant"], "Resource": "*"}
    ]}).to_string()
}

/// `cargo lambda watch` serving the workspace's Lambda binaries through the real Lambda runtime
/// API, with `env` for the functions. Stopped (with its children) on drop.
pub struct LambdaWatch {
    pub port: u16,
    child: Child,
}

impl LambdaWatch {
    pub fn start(env: &[(&str, String)]) -> Self {
        let tools = repo_root().join(".tools/lambda/bin");
        assert!(
            tools.join("cargo-lambda").exists(),
            "cargo-lambda is not installed: run scripts/setup-tools.sh lambda (make test does)"
        );
        let port = free_port();
        let path = format!(
            "{}:{}",
            tools.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut command = Command::new("cargo");
        command
            .current_dir(repo_root())
            .env("PATH", path)
            .args([
                "lambda",
                "watch",
                "--ignore-changes",
                "--invoke-address",
                "127.0.0.1",
                "--invoke-port",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::create(
                    std::env::temp_dir().join(format!("rsp-lambda-watch-{port}.log")),
                )
                .expect("log"),
            );
        // Never reach for the instance metadata service: only 127.0.0.1 is contacted.
        command.env("AWS_EC2_METADATA_DISABLED", "true");
        command
            .arg("--env-var")
            .arg("AWS_EC2_METADATA_DISABLED=true");
        for (k, v) in env {
            command.arg("--env-var").arg(format!("{k}={v}"));
        }
        // The harness's RDS rate (scripts/test.sh): the emulator does not throttle.
        if let Ok(rate) = std::env::var(provider::aws::pace::RATE_ENV) {
            command
                .arg("--env-var")
                .arg(format!("{}={rate}", provider::aws::pace::RATE_ENV));
        }
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command.spawn().expect("start cargo lambda watch");
        let deadline = Instant::now() + Duration::from_secs(120);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "cargo lambda watch did not start within 120 s"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        LambdaWatch { port, child }
    }

    /// Invokes `function` with `payload` through the Lambda Invoke API.
    pub async fn invoke(&self, function: &str, payload: &Value) -> Value {
        let response = reqwest::Client::builder()
            .timeout(Duration::from_secs(300))
            .build()
            .unwrap()
            .post(format!(
                "http://127.0.0.1:{}/2015-03-31/functions/{function}/invocations",
                self.port
            ))
            .body(payload.to_string())
            .send()
            .await
            .expect("invoke");
        let text = response.text().await.expect("invoke body");
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
    }
}

impl Drop for LambdaWatch {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("--")
            .arg(format!("-{}", self.child.id()))
            .status();
        let _ = self.child.wait();
    }
}
