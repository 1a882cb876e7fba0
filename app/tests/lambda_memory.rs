//! Both Lambda binaries answer every hostile event within Lambda's 256 MB: each runs against
//! a minimal Lambda Runtime API served here on 127.0.0.1 (the protocol the real runtime
//! speaks: `invocation/next`, `…/response`, `…/error`), is fed oversized, deeply nested and
//! malformed events, and must answer each; its peak resident memory (VmHWM) is then read from
//! /proc and must stay under 256 MB.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rds_snapshot_policy_core::contract::ErrorName;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

const LIMIT_KB: u64 = 256 * 1024;

#[derive(Default)]
struct State {
    queue: VecDeque<(String, Vec<u8>)>,
    answers: BTreeMap<String, String>,
}

async fn serve(listener: TcpListener, state: Arc<Mutex<State>>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let state = state.clone();
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut reader = BufReader::new(read);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                    return;
                }
                let mut length = 0usize;
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).await.unwrap_or(0) == 0 {
                        return;
                    }
                    if header == "\r\n" {
                        break;
                    }
                    if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                if reader.read_exact(&mut body).await.is_err() {
                    return;
                }
                let path = line.split(' ').nth(1).unwrap_or_default().to_string();
                if path.ends_with("/invocation/next") {
                    // Wait for the next event; none left: never answer (the function idles).
                    let next = loop {
                        if let Some(e) = state.lock().unwrap().queue.pop_front() {
                            break e;
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    };
                    let deadline = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .as_millis()
                        + 60_000;
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: {}\r\nLambda-Runtime-Deadline-Ms: {deadline}\r\nLambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:eu-west-1:111111111111:function:f\r\nContent-Length: {}\r\n\r\n",
                        next.0,
                        next.1.len()
                    );
                    if write.write_all(head.as_bytes()).await.is_err()
                        || write.write_all(&next.1).await.is_err()
                    {
                        return;
                    }
                } else {
                    let id = path.split('/').nth(4).unwrap_or_default().to_string();
                    let answer = if path.ends_with("/error") {
                        let error: Value = serde_json::from_slice(&body).unwrap_or_default();
                        format!("error: {} {}", error["errorType"], error["errorMessage"])
                    } else {
                        format!("response: {}", String::from_utf8_lossy(&body))
                    };
                    let answer: String = answer.chars().take(300).collect();
                    state.lock().unwrap().answers.insert(id, answer);
                    if write
                        .write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
        });
    }
}

fn hostile_events() -> Vec<Vec<u8>> {
    let huge = "x".repeat(5 * 1024 * 1024);
    let mut out = vec![
        json!({"requestId": "big", "fragment": {"Resources": {"P": {"Type": "AWS::SNS::Topic", "Metadata": huge}}}}).to_string().into_bytes(),
        format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes(),
        b"\"just a string\"".to_vec(),
        b"not json at all {".to_vec(),
        json!((0..200_000).map(|i| json!({"k": i})).collect::<Vec<_>>()).to_string().into_bytes(),
        json!({"version": 5, "action": "take", "policy": {"Role": "Source", "DestinationAccounts": vec!["222222222222"; 100_000]}}).to_string().into_bytes(),
        json!({"RequestType": "Create", "ResponseURL": "http://169.254.169.254/", "StackId": "arn:aws:cloudformation:eu-west-1:111111111111:stack/s/1",
            "RequestId": "r", "LogicalResourceId": "P", "ResourceProperties": {"Role": "Source", "Junk": huge}}).to_string().into_bytes(),
        json!({"requestId": "cron", "fragment": {"Resources": {"P": {"Type": "Custom::RdsSnapshotPolicy", "Properties": {
            "Role": "Source", "DBInstanceIdentifier": "orders", "DestinationAccount": "222222222222",
            "BackupSchedule": "rate(18446744073709551615 minutes)"}}}}}).to_string().into_bytes(),
    ];
    let policies: serde_json::Map<String, Value> = (0..1000)
        .map(|i| {
            (format!("P{i}"), json!({"Type": "Custom::RdsSnapshotPolicy", "Properties": {
                "Role": "Source", "DBInstanceIdentifier": format!("db{i}"), "DestinationAccount": "222222222222"}}))
        })
        .collect();
    out.push(
        json!({"requestId": "many", "region": "eu-west-1", "accountId": "111111111111",
        "fragment": {"Resources": policies}})
        .to_string()
        .into_bytes(),
    );
    out
}

fn peak_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(u64::MAX)
}

/// Runs `binary` on the hostile events; `expected` pairs an event's index with a fragment of
/// its answer.
async fn answers_within_256_mb(binary: &Path, name: &str, expected: &[(usize, &str)]) {
    assert!(
        binary.exists(),
        "{} is not built (cargo build --bins)",
        binary.display()
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let state = Arc::new(Mutex::new(State::default()));
    let events = hostile_events();
    {
        let mut s = state.lock().unwrap();
        for (i, e) in events.iter().enumerate() {
            s.queue.push_back((format!("req-{i}"), e.clone()));
        }
    }
    tokio::spawn(serve(listener, state.clone()));
    let mut child = Command::new(binary)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "test")
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_ACCESS_KEY_ID", "hostile")
        .env("AWS_SECRET_ACCESS_KEY", "hostile")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the Lambda binary");
    let started = Instant::now();
    while state.lock().unwrap().answers.len() < events.len()
        && started.elapsed() < Duration::from_secs(120)
    {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "{name} exited ({status}) after {} answers",
                state.lock().unwrap().answers.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let peak = peak_kb(child.id());
    let _ = child.kill();
    let _ = child.wait();
    let answers = state.lock().unwrap().answers.clone();
    assert_eq!(
        answers.len(),
        events.len(),
        "{name} answered only {answers:?}"
    );
    assert!(peak < LIMIT_KB, "{name} peaked at {peak} kB, over 256 MB");
    let names: Vec<String> = ErrorName::ALL
        .iter()
        .map(|n| format!("error: \"{}\" ", n.name()))
        .collect();
    for (id, answer) in &answers {
        assert!(!answer.contains("panicked"), "{name} {id}: {answer}");
        assert!(
            answer.starts_with("response: ") || names.iter().any(|n| answer.starts_with(n)),
            "{name} {id} is not answered with a contract error name: {answer}"
        );
    }
    for (id, fragment) in expected {
        let answer = &answers[&format!("req-{id}")];
        assert!(answer.contains(fragment), "{name} req-{id}: {answer}");
    }
    eprintln!(
        "{name}: {} hostile events answered, peak RSS {} MB",
        answers.len(),
        peak / 1024
    );
}

fn workspace_bin(name: &str) -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_rds-snapshot-policy-provider"))
        .parent()
        .unwrap()
        .join(name)
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs make test"]
async fn the_provider_answers_hostile_events_within_256_mb() {
    answers_within_256_mb(
        Path::new(env!("CARGO_BIN_EXE_rds-snapshot-policy-provider")),
        "rds-snapshot-policy-provider",
        &[
            (
                1,
                r#"error: "InputInvalid" "the event is nested more than 128 levels deep""#,
            ),
            (3, r#"error: "InputInvalid" "the event is not JSON"#),
            (4, "InputInvalid"),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs make test"]
async fn the_macro_answers_hostile_events_within_256_mb() {
    answers_within_256_mb(
        &workspace_bin("rds-snapshot-policy-macro"),
        "rds-snapshot-policy-macro",
        &[
            (0, "more than the 4194304 bytes this function reads"),
            (1, "the event is nested more than 128 levels deep"),
            (3, "RdsSnapshotPolicy: the event is not JSON"),
            (7, "BackupSchedule"),
        ],
    )
    .await;
}
