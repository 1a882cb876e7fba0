//! The walkthrough of the book's Getting started page (docs/src/getting-started.md), word for
//! word: the lines between its `walkthrough:start` and
//! `walkthrough:end` markers run in bash against the emulator `make emulator` starts
//! (tests/emulator/standalone.py), with the CLI this build made on the PATH (what `make
//! install` puts there). It must end with a DR copy reported protected.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn walkthrough() -> Vec<String> {
    let readme = std::fs::read_to_string(root().join("docs/src/getting-started.md")).unwrap();
    let start = readme
        .find("<!-- walkthrough:start")
        .expect("the Getting started page has a walkthrough");
    let end = readme[start..].find("<!-- walkthrough:end -->").unwrap() + start;
    readme[start..end]
        .lines()
        .skip_while(|l| !l.starts_with("```sh"))
        .skip(1)
        .take_while(|l| !l.starts_with("```"))
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
#[ignore = "needs make test"]
fn the_readme_walkthrough_reaches_a_protected_dr_copy() {
    let commands = walkthrough();
    assert_eq!(commands.len(), 5, "five commands: {commands:?}");
    let dir = std::env::temp_dir().join(format!("rsp-walkthrough-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let templates = dir.join("templates");
    if !templates.exists() {
        std::os::unix::fs::symlink(root().join("templates"), &templates).unwrap();
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut emulator = Command::new(root().join(".tools/moto/bin/python"))
        .arg(root().join("tests/emulator/standalone.py"))
        .args(["--port", &port.to_string(), "--workdir", ".emulator"])
        .current_dir(&dir)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the emulator (scripts/setup-tools.sh moto)");
    let deadline = Instant::now() + Duration::from_secs(90);
    while !dir.join(".emulator/env").exists() {
        assert!(
            Instant::now() < deadline,
            "the emulator wrote no .emulator/env"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let bin = Path::new(env!("CARGO_BIN_EXE_rds-snapshot-policy"))
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("set -euo pipefail\n{}", commands.join("\n")))
        .current_dir(&dir)
        .env("PATH", path)
        .output()
        .expect("run bash");
    let _ = emulator.kill();
    let _ = emulator.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = stdout
        .lines()
        .skip_while(|l| !l.starts_with("rds-snapshot-policy status"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(status.contains(": protected"), "{stdout}");
    assert!(
        status.contains("111111111111/orders  orders-") && status.contains("met ("),
        "{status}"
    );
}
