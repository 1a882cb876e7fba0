//! The previous release's task inputs (release 0.1: no `version`), taken from the golden
//! definitions before the contract version was added, still run: a pipeline deployed before an
//! upgrade keeps working until its stack is re-expanded.

use std::fs;
use std::path::Path;

use provider::policy::RuntimePolicy;
use rds_snapshot_policy_core::contract::parse_task_input;
use serde_json::Value;

#[test]
fn previous_release_task_inputs_are_accepted() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/task-input-v1");
    let mut count = 0;
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let payload: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        assert!(payload.get("version").is_none());
        let input =
            parse_task_input(&payload).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(input.version, 1);
        assert_eq!(input.action.name(), payload["action"]);
        let policy = RuntimePolicy::bind(input.policy, "eu-west-1")
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            Some(policy.id.as_str()),
            payload["policy"]["PolicyId"].as_str()
        );
        count += 1;
    }
    assert!(count >= 20, "{count} fixtures");
}
