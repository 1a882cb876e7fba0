//! Transient faults are classified by what they are: the provider's calls go through the
//! fault-injecting proxy in front of the emulator, and each fault must end as the error name
//! the README's table gives (retried by the state machine, or final).

mod support;

use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_sdk_rds::config::Region;
use chrono::Utc;
use provider::aws::{Aws, timeouts};
use provider::error::ErrorName;
use serde_json::{Value, json};
use support::proxy::{FaultProxy, aws_through};
use support::*;

/// The attempt timeout in these tests (the provider's is `provider::aws::ATTEMPT_TIMEOUT`).
const ATTEMPT: Duration = Duration::from_secs(2);

fn rds_error(code: &str) -> String {
    format!(
        r#"<ErrorResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><Error><Type>Sender</Type><Code>{code}</Code><Message>injected by the test</Message></Error><RequestId>test</RequestId></ErrorResponse>"#
    )
}

/// Runs `take` for a source policy through the proxy in `mode`, one attempt per call.
async fn take_under(proxy: &FaultProxy, mode: Value) -> Result<(), (ErrorName, String)> {
    let aws = aws_through(proxy, 1, ATTEMPT).await;
    proxy.mode(mode).await;
    let policy = source_policy(json!({"PolicyId": "faults", "DBInstanceIdentifier": "faults-db"}));
    let outcome = try_run(&aws, "take", &policy, Utc::now()).await;
    proxy.mode(json!({"mode": "pass"})).await;
    outcome.map(|_| ()).map_err(|(e, _)| (e.kind, e.message))
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs make test"]
async fn each_fault_ends_as_the_error_name_of_the_table() {
    let _guard = exclusive().await;
    let proxy = FaultProxy::start(&emulator().endpoint);
    let xml = "text/xml";
    let cases = [
        (
            "503 without a body",
            json!({"mode": "status", "status": 503, "body": ""}),
            ErrorName::TransientAwsError,
        ),
        (
            "502 with an HTML page",
            json!({"mode": "status", "status": 502, "body": "<html><body>Bad Gateway</body></html>", "content_type": "text/html"}),
            ErrorName::TransientAwsError,
        ),
        (
            "500 InternalFailure",
            json!({"mode": "status", "status": 500, "body": rds_error("InternalFailure"), "content_type": xml}),
            ErrorName::TransientAwsError,
        ),
        (
            "500 with a code nobody knows",
            json!({"mode": "status", "status": 500, "body": rds_error("SomethingNew"), "content_type": xml}),
            ErrorName::TransientAwsError,
        ),
        (
            "400 Throttling",
            json!({"mode": "status", "status": 400, "body": rds_error("Throttling"), "content_type": xml}),
            ErrorName::Throttled,
        ),
        (
            "403 AccessDenied",
            json!({"mode": "status", "status": 403, "body": rds_error("AccessDenied"), "content_type": xml}),
            ErrorName::AccessDenied,
        ),
        (
            "400 with a code nobody knows",
            json!({"mode": "status", "status": 400, "body": rds_error("SomethingNew"), "content_type": xml}),
            ErrorName::AwsError,
        ),
        (
            "a connection reset",
            json!({"mode": "reset"}),
            ErrorName::TransientAwsError,
        ),
        (
            "an endpoint that never answers",
            json!({"mode": "hang", "seconds": 30}),
            ErrorName::TransientAwsError,
        ),
    ];
    for (what, mode, expected) in cases {
        let started = Instant::now();
        let (kind, message) = take_under(&proxy, mode)
            .await
            .expect_err(&format!("{what}: the take succeeded"));
        assert_eq!(kind, expected, "{what}: {message}");
        assert!(
            message.contains("listing") || message.contains("describing"),
            "{what}: the message does not say what was being done: {message}"
        );
        assert!(
            started.elapsed() < ATTEMPT * 4,
            "{what}: took {:?}, the attempt timeout is {ATTEMPT:?}",
            started.elapsed()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs make test"]
async fn an_unreachable_endpoint_is_transient() {
    let em = emulator();
    let config = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url("http://127.0.0.1:9")
        .region(Region::new(SOURCE_REGION))
        .credentials_provider(em.credentials(SOURCE).await)
        .retry_config(RetryConfig::standard().with_max_attempts(1))
        .timeout_config(timeouts(ATTEMPT))
        .load()
        .await;
    let aws = Aws::from_config(config);
    let policy = source_policy(json!({"PolicyId": "faults", "DBInstanceIdentifier": "faults-db"}));
    let (e, _) = try_run(&aws, "take", &policy, Utc::now())
        .await
        .expect_err("nothing listens on port 9");
    assert_eq!(e.kind, ErrorName::TransientAwsError, "{}", e.message);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs make test"]
async fn transient_faults_are_retried_and_latency_only_slows() {
    let _guard = exclusive().await;
    let em = emulator();
    let proxy = FaultProxy::start(&em.endpoint);
    let source = em.aws(SOURCE, SOURCE_REGION).await;
    let key = create_key(&source, SOURCE_REGION).await;
    create_instance(&source, SOURCE_REGION, "faults-retried", Some(&key), &[]).await;
    clock(em, Utc::now()).await;
    let policy = source_policy(
        json!({"PolicyId": "faults-retried", "DBInstanceIdentifier": "faults-retried"}),
    );
    // Two 503s, then the emulator: the SDK's retries absorb them within one run.
    let aws = aws_through(&proxy, 3, ATTEMPT).await;
    proxy
        .mode(json!({"mode": "status", "status": 503, "body": "", "count": 2}))
        .await;
    let summary = run(&aws, "take", &policy, Utc::now()).await;
    assert_eq!(summary.done.len(), 1, "{summary:?}");
    assert_eq!(proxy.stats().await["faults"], 2);
    // 300 ms on every call: slower, same outcome.
    proxy
        .mode(json!({"mode": "latency", "latency_ms": 300}))
        .await;
    let summary = run(&aws, "take", &policy, Utc::now()).await;
    assert!(
        summary.done.is_empty(),
        "a second take within the interval: {summary:?}"
    );
    let snapshots = snapshots(&source, SOURCE_REGION, "faults-retried").await;
    assert_eq!(snapshots.len(), 1, "{snapshots:?}");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs make test"]
async fn a_run_near_its_deadline_stops_starting_and_the_next_run_finishes_the_rest() {
    let _guard = exclusive().await;
    let em = emulator();
    em.configure(json!({"pending_seconds": 0})).await;
    let direct = em.aws(SOURCE, SOURCE_REGION).await;
    let key = create_key(&direct, SOURCE_REGION).await;
    create_instance(&direct, SOURCE_REGION, "deadline-db", Some(&key), &[]).await;
    own_snapshots(&direct, "deadline-db", "deadline", 80).await;
    let proxy = FaultProxy::start(&em.endpoint);
    proxy
        .mode(json!({"mode": "latency", "latency_ms": 100}))
        .await;
    let policy =
        source_policy(json!({"PolicyId": "deadline", "DBInstanceIdentifier": "deadline-db"}));
    let runtime =
        provider::policy::RuntimePolicy::from_properties(&policy, SOURCE_REGION, None).unwrap();
    // 80 shares of two calls each at 100 ms: about 16 s one at a time, 2 s eight at a time;
    // the budget stops the first run part way.
    let short = aws_through(&proxy, 3, ATTEMPT).await.with_deadline(
        Instant::now() + Duration::from_millis(1500),
        Duration::from_millis(300),
    );
    let first = provider::task::run_action(
        &short,
        provider::plan::Action::Share,
        &runtime,
        Utc::now(),
        false,
    )
    .await
    .expect("a run stopped by its deadline is not an error");
    let reason = provider::aws::apply::deadline_reason(Duration::from_millis(300));
    assert!(!first.done.is_empty(), "{first:?}");
    assert!(
        first.pending.iter().any(|p| p.reason == reason),
        "{:?}",
        first.pending
    );
    assert_eq!(first.done.len() + first.pending.len(), 80, "{first:?}");
    assert!(first.more, "the state machine is told to run again");
    let full = aws_through(&proxy, 3, ATTEMPT).await;
    let second = provider::task::run_action(
        &full,
        provider::plan::Action::Share,
        &runtime,
        Utc::now(),
        false,
    )
    .await
    .unwrap();
    let mut subjects: Vec<String> = first
        .done
        .iter()
        .chain(&second.done)
        .map(|s| s.subject.clone())
        .collect();
    assert!(!second.more, "nothing left");
    subjects.sort();
    subjects.dedup();
    assert_eq!(
        subjects.len(),
        80,
        "every snapshot shared exactly once across the two runs"
    );
    assert_eq!(
        first.done.len() + second.done.len(),
        80,
        "nothing shared twice"
    );
    for s in snapshots(&direct, SOURCE_REGION, "deadline-db-").await {
        assert_eq!(s.shared_with, vec![DR.to_string()], "{}", s.id);
    }
}
