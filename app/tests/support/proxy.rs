//! The fault-injecting HTTP proxy (`tests/emulator/fault_proxy.py`) in front of the emulator:
//! 5xx answers with or without a body, hung and reset connections, added latency.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_sdk_rds::config::Region;
use provider::aws::{Aws, timeouts};
use serde_json::Value;

use super::{SOURCE, SOURCE_REGION, emulator, free_port, repo_root};

/// A running proxy; stopped on drop.
pub struct FaultProxy {
    pub endpoint: String,
    child: Child,
}

impl FaultProxy {
    /// A proxy on a free 127.0.0.1 port forwarding to `upstream`.
    pub fn start(upstream: &str) -> Self {
        let port = free_port();
        let child = Command::new(repo_root().join(".tools/moto/bin/python"))
            .arg(repo_root().join("tests/emulator/fault_proxy.py"))
            .arg(port.to_string())
            .arg(upstream)
            .arg(std::process::id().to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the fault proxy");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the fault proxy did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        FaultProxy {
            endpoint: format!("http://127.0.0.1:{port}"),
            child,
        }
    }

    /// Sets the fault mode (see the proxy's header).
    pub async fn mode(&self, mode: Value) {
        let response = reqwest::Client::new()
            .post(format!("{}/_proxy/mode", self.endpoint))
            .body(mode.to_string())
            .send()
            .await
            .expect("set the proxy mode");
        assert!(response.status().is_success(), "mode {mode} refused");
    }

    /// `{"requests": …, "faults": …}` so far.
    pub async fn stats(&self) -> Value {
        let text = reqwest::get(format!("{}/_proxy/stats", self.endpoint))
            .await
            .expect("proxy stats")
            .text()
            .await
            .expect("proxy stats body");
        serde_json::from_str(&text).expect("proxy stats JSON")
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The source account in SOURCE_REGION through `proxy`, with `attempts` per call and an
/// `attempt` timeout each.
pub async fn aws_through(proxy: &FaultProxy, attempts: u32, attempt: Duration) -> Aws {
    let em = emulator();
    // As the provider's role (created if needed).
    em.provider(SOURCE, SOURCE_REGION).await;
    let role = format!("rds-snapshot-policy-provider-{SOURCE_REGION}");
    let config = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(&proxy.endpoint)
        .region(Region::new(SOURCE_REGION))
        .credentials_provider(em.credentials_as(SOURCE, &role).await)
        .retry_config(RetryConfig::standard().with_max_attempts(attempts))
        .timeout_config(timeouts(attempt))
        .load()
        .await;
    Aws::from_config(config)
}
