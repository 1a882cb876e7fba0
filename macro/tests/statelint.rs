//! Every generated state machine definition passes `@wmfs/statelint` (the Amazon States
//! Language validator, pinned in scripts/setup-tools.sh): the golden expansions' definitions
//! with the intrinsics CloudFormation would resolve put in.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A stand-in for what CloudFormation resolves `v` to (an ARN-shaped string where it is one).
fn resolve(v: &Value) -> String {
    let Value::Object(m) = v else {
        return match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
    };
    if let Some(Value::Array(args)) = m.get("Fn::Join") {
        let sep = args[0].as_str().unwrap_or_default();
        return match &args[1] {
            Value::Array(items) => items.iter().map(resolve).collect::<Vec<_>>().join(sep),
            other => resolve(other),
        };
    }
    if let Some(Value::Array(args)) = m.get("Fn::If") {
        return resolve(&args[1]);
    }
    if let Some(sub) = m.get("Fn::Sub") {
        let template = match sub {
            Value::Array(a) => a[0].as_str().unwrap_or_default().to_string(),
            other => other.as_str().unwrap_or_default().to_string(),
        };
        let mut out = String::new();
        let mut rest = template.as_str();
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..]
                .find('}')
                .map_or(rest.len(), |e| start + e + 1);
            let name = &rest[start + 2..end - 1];
            out.push_str(match name {
                "AWS::Partition" => "aws",
                "AWS::Region" => "eu-west-1",
                "AWS::AccountId" => "111111111111",
                _ => "x",
            });
            rest = &rest[end..];
        }
        out.push_str(rest);
        return out;
    }
    match m.get("Ref").and_then(Value::as_str) {
        Some("AWS::Region") => "eu-west-1".into(),
        Some("AWS::AccountId") => "111111111111".into(),
        Some(name) => format!("arn:aws:sns:eu-west-1:111111111111:{name}"),
        None => "arn:aws:lambda:eu-west-1:111111111111:function:x".into(),
    }
}

#[test]
#[ignore = "needs make test"]
fn every_generated_definition_passes_statelint() {
    let statelint = root().join(".tools/statelint/node_modules/.bin/statelint");
    assert!(
        statelint.exists(),
        "statelint is not installed: run scripts/setup-tools.sh statelint (make test does)"
    );
    let out = std::env::temp_dir().join(format!("rsp-statelint-{}", std::process::id()));
    fs::create_dir_all(&out).unwrap();
    let mut files = Vec::new();
    let mut kinds = std::collections::BTreeSet::new();
    for case in fs::read_dir(root().join("macro/tests/golden")).unwrap() {
        let expected = case.unwrap().path().join("expected.json");
        let Ok(text) = fs::read_to_string(&expected) else {
            continue;
        };
        let template: Value = serde_json::from_str(&text).unwrap();
        for (id, resource) in template["Resources"].as_object().unwrap() {
            if resource["Type"] != "AWS::StepFunctions::StateMachine" {
                continue;
            }
            let definition = resolve(&resource["Properties"]["DefinitionString"]);
            let parsed: Value = serde_json::from_str(&definition)
                .unwrap_or_else(|e| panic!("{}: {id}: not JSON: {e}", expected.display()));
            kinds.insert(
                id.rsplit_once("Snapshots")
                    .map_or(id.clone(), |(_, k)| k.to_string()),
            );
            let file = out.join(format!("{}-{id}.json", files.len()));
            fs::write(&file, serde_json::to_string_pretty(&parsed).unwrap()).unwrap();
            files.push(file);
        }
    }
    assert!(files.len() >= 20, "only {} definitions", files.len());
    for action in ["Take", "Share", "Copy", "Delete", "Drill"] {
        assert!(
            kinds.iter().any(|k| k.contains(action)),
            "no {action} state machine among {kinds:?}"
        );
    }
    let result = Command::new(&statelint)
        .args(&files)
        .output()
        .expect("run statelint");
    assert!(
        result.status.success(),
        "{}{}",
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
}
