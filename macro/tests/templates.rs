//! The shipped templates: the install stack and the pipeline as they are, the example stacks
//! after expansion, all accepted by cfn-lint and checkov; every sceptre stack generates offline.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use rds_snapshot_policy_core::yaml::parse_template;
use rds_snapshot_policy_macro::expand::{ExpandContext, expand};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
#[ignore = "needs make test"]
fn install_pipeline_and_expanded_examples_pass_cfn_lint_and_checkov() {
    let out = std::env::temp_dir().join(format!("rsp-templates-{}", std::process::id()));
    fs::create_dir_all(&out).unwrap();
    let mut files = vec![
        root().join("templates/install.yaml"),
        root().join("templates/pipeline.yaml"),
        root().join("templates/code-bucket.yaml"),
        root().join("templates/status-role.yaml"),
    ];
    for (name, region, account) in [
        ("source", "eu-west-1", "111111111111"),
        ("aurora", "eu-west-1", "111111111111"),
        ("destination", "eu-central-1", "222222222222"),
    ] {
        let text =
            fs::read_to_string(root().join(format!("templates/examples/{name}.yaml"))).unwrap();
        let context = ExpandContext {
            region: Some(region.into()),
            account_id: Some(account.into()),
            ..ExpandContext::default()
        };
        let expanded = expand(&parse_template(&text).unwrap(), &context).expect("examples expand");
        let path = out.join(format!("{name}.json"));
        fs::write(
            &path,
            serde_json::to_string_pretty(&expanded.template).unwrap(),
        )
        .unwrap();
        files.push(path);
    }
    // The StackSets example as a service-managed StackSet gets it: expanded without an
    // account or region, so one template serves every account.
    let stackset = out.join("stackset-source-policy.json");
    fs::write(
        &stackset,
        serde_json::to_string_pretty(&stackset_expansion()).unwrap(),
    )
    .unwrap();
    files.push(stackset);
    let result = Command::new("bash")
        .arg(root().join("scripts/check-templates.sh"))
        .args(&files)
        .output()
        .expect("run scripts/check-templates.sh");
    assert!(
        result.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
}

#[test]
#[ignore = "needs make test"]
fn every_sceptre_stack_generates_offline() {
    let sceptre = root().join(".tools/sceptre/bin/sceptre");
    assert!(
        sceptre.exists(),
        "sceptre is not installed: run scripts/setup-tools.sh sceptre (make test does)"
    );
    let config = root().join("sceptre/config");
    let mut stacks = Vec::new();
    for group in [
        "prod/eu-west-1",
        "dr/eu-central-1",
        "tooling/eu-west-1",
        "tooling/eu-central-1",
    ] {
        for entry in fs::read_dir(config.join(group)).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            if name != "config.yaml" {
                stacks.push(format!("{group}/{name}"));
            }
        }
    }
    assert!(stacks.len() >= 7, "{stacks:?}");
    for stack in stacks {
        let result = Command::new(&sceptre)
            .current_dir(root().join("sceptre"))
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .args(["--var-file", "vars/example.yaml", "generate", &stack])
            .output()
            .expect("run sceptre");
        let stdout = String::from_utf8_lossy(&result.stdout);
        assert!(
            result.status.success(),
            "{stack}: {}",
            String::from_utf8_lossy(&result.stderr)
        );
        assert!(
            stdout.contains("AWSTemplateFormatVersion"),
            "{stack}: {stdout}"
        );
    }
}

fn sceptre(args: &[&str]) -> std::process::Output {
    let sceptre = root().join(".tools/sceptre/bin/sceptre");
    assert!(
        sceptre.exists(),
        "sceptre is not installed: run scripts/setup-tools.sh sceptre (make test does)"
    );
    Command::new(&sceptre)
        .current_dir(root().join("sceptre"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .args(args)
        .output()
        .expect("run sceptre")
}

#[test]
#[ignore = "needs make test"]
fn each_install_stack_reads_its_code_from_a_bucket_in_its_own_region() {
    for vars in ["vars/example.yaml", "vars/pipeline.yaml"] {
        let var_file: serde_json::Value = serde_yaml_ng::from_str(
            &fs::read_to_string(root().join("sceptre").join(vars)).unwrap(),
        )
        .unwrap();
        let mut buckets = Vec::new();
        for stack in [
            "prod/eu-west-1/install.yaml",
            "dr/eu-central-1/install.yaml",
        ] {
            let out = sceptre(&["--var-file", vars, "dump", "config", stack]);
            assert!(
                out.status.success(),
                "{vars} {stack}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let config: serde_json::Value =
                serde_yaml_ng::from_str(&String::from_utf8_lossy(&out.stdout)).unwrap();
            let region = config["region"].as_str().unwrap();
            assert!(stack.contains(region), "{stack} deploys to {region}");
            let expected = &var_file["code_buckets"][region];
            assert!(
                expected.is_string(),
                "{vars} has no code bucket for {region}"
            );
            assert_eq!(
                &config["parameters"]["ArtifactBucket"], expected,
                "{vars} {stack}"
            );
            assert_eq!(&config["template_bucket_name"], expected, "{vars} {stack}");
            buckets.push(expected.clone());
        }
        assert_ne!(buckets[0], buckets[1], "{vars}: one bucket for two regions");
    }
}

/// With account IDs other than the examples' (as every real var file has), the DR copies
/// stack copies from the var file's production account and region, and every stack group
/// uploads its templates under the one prefix the code bucket lets the deploy roles write.
#[test]
#[ignore = "needs make test"]
fn sceptre_takes_the_accounts_from_the_var_file_and_uploads_where_it_may() {
    let dir = std::env::temp_dir().join(format!("rsp-vars-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let vars = dir.join("other-ids.yaml");
    fs::write(
        &vars,
        "prod_account: \"444455556666\"\nprod_region: eu-west-1\ndr_account: \"777788889999\"\n\
         deploy_role_name: deploy\nversion: 9.9.9\nprod_alarm_email: a@example.org\n\
         dr_alarm_email: b@example.org\ncode_buckets:\n  eu-west-1: code-west\n  eu-central-1: code-central\n",
    )
    .unwrap();
    let vars = vars.display().to_string();
    let out = sceptre(&[
        "--var-file",
        &vars,
        "dump",
        "config",
        "dr/eu-central-1/copies.yaml",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let copies = text
        .split("\n---\n")
        .find(|doc| doc.contains("path: examples/destination.yaml"))
        .unwrap_or_else(|| panic!("no copies stack in {text}"));
    assert!(
        copies.contains("ProductionAccountId: '444455556666'")
            && copies.contains("ProductionRegion: eu-west-1"),
        "{copies}"
    );
    for stack in [
        "prod/eu-west-1/install.yaml",
        "dr/eu-central-1/install.yaml",
    ] {
        let out = sceptre(&["--var-file", &vars, "dump", "config", stack]);
        let config: serde_json::Value =
            serde_yaml_ng::from_str(&String::from_utf8_lossy(&out.stdout)).unwrap();
        assert_eq!(
            config["template_key_prefix"], "sceptre-templates",
            "{stack}"
        );
    }
    let bucket =
        parse_template(&fs::read_to_string(root().join("templates/code-bucket.yaml")).unwrap())
            .unwrap();
    let statements =
        bucket["Resources"]["CodeBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
            .as_array()
            .unwrap()
            .clone();
    let upload = statements
        .iter()
        .find(|s| s["Sid"] == "TargetAccountsUploadTemplates")
        .expect("an upload statement");
    assert_eq!(
        upload["Resource"]["Fn::Sub"],
        "${CodeBucket.Arn}/sceptre-templates/*"
    );
    assert!(
        upload["Action"]
            .as_array()
            .unwrap()
            .contains(&"s3:PutObject".into())
    );
    for s in &statements {
        let writes = s["Action"]
            .as_array()
            .map(|a| a.iter().any(|x| x == "s3:PutObject"))
            .unwrap_or(s["Action"] == "s3:PutObject");
        let packages = s["Resource"].to_string().contains("rds-snapshot-policy/");
        assert!(
            !(writes && packages && s["Effect"] == "Allow"),
            "the target accounts may not write the packages: {s}"
        );
    }
    let find = statements
        .iter()
        .find(|s| s["Sid"] == "TargetAccountsFindTheBucket")
        .expect("HeadBucket needs s3:ListBucket");
    assert!(
        find["Action"]
            .as_array()
            .unwrap()
            .contains(&"s3:ListBucket".into())
    );
}

#[test]
#[ignore = "needs make test"]
fn sceptre_without_a_var_file_says_which_to_pass() {
    let out = sceptre(&["generate", "prod/eu-west-1/install.yaml"]);
    assert!(!out.status.success());
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("no var file: run sceptre with --var-file vars/example.yaml"),
        "{text}"
    );
}

#[test]
fn the_pipeline_uploads_to_each_install_regions_code_bucket() {
    let pipeline =
        parse_template(&fs::read_to_string(root().join("templates/pipeline.yaml")).unwrap())
            .unwrap();
    let build =
        &pipeline["Resources"]["BuildProject"]["Properties"]["Environment"]["EnvironmentVariables"];
    let buckets = build
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["Name"] == "LAMBDA_BUCKETS")
        .expect("LAMBDA_BUCKETS");
    assert_eq!(
        buckets["Value"]["Fn::Sub"],
        "${ProdRegion}=${ProdCodeBucket} ${DrRegion}=${DrCodeBucket}"
    );
    // Every phase goes through scripts/pipeline.sh; its upload sends the packages to each
    // region's bucket with that region's client (run for real by tests/deploy/sceptre_launch.py).
    let buildspec = fs::read_to_string(root().join("buildspec.yml")).unwrap();
    assert!(
        buildspec.contains("bash scripts/pipeline.sh install \"$PHASE\"")
            && buildspec.contains("bash scripts/pipeline.sh \"$PHASE\""),
        "{buildspec}"
    );
    let phases = fs::read_to_string(root().join("scripts/pipeline.sh")).unwrap();
    assert!(
        phases.contains(
            "scripts/upload_packages.py \"${RSP_DIST:-dist}\" \"$version\" $LAMBDA_BUCKETS"
        ),
        "{phases}"
    );
    let upload = fs::read_to_string(root().join("scripts/upload_packages.py")).unwrap();
    assert!(
        upload.contains("region, bucket = pair.split(\"=\", 1)")
            && upload.contains("boto3.client(\"s3\", region_name=region)"),
        "{upload}"
    );
    let sceptre_vars = &pipeline["Parameters"]["SceptreVars"]["Default"];
    let file = root().join(format!(
        "sceptre/vars/{}.yaml",
        sceptre_vars.as_str().unwrap()
    ));
    assert!(
        file.exists(),
        "the pipeline's default var file {} is not shipped",
        file.display()
    );
}

fn stackset_expansion() -> serde_json::Value {
    let text = fs::read_to_string(root().join("templates/stacksets/source-policy.yaml")).unwrap();
    expand(&parse_template(&text).unwrap(), &ExpandContext::default())
        .expect("the StackSets example expands")
        .template
}

#[test]
fn the_stacksets_example_expands_to_one_plain_template_for_every_account() {
    let template = stackset_expansion();
    assert!(
        template.get("Transform").is_none(),
        "service-managed StackSets refuse templates with macros"
    );
    let resources = template["Resources"].to_string();
    let literal_account = regex::Regex::new(r"\b\d{12}\b").unwrap();
    assert!(
        !literal_account.is_match(&resources),
        "an account ID is spelled in the resources: {:?}",
        literal_account.find(&resources)
    );
    assert!(
        resources.contains("AWS::AccountId") && resources.contains("AWS::Region"),
        "the expansion names its account and region through pseudo parameters"
    );
    for parameter in ["DrAccountId", "DrRegion", "RetentionDays"] {
        assert!(
            template["Parameters"][parameter].is_object(),
            "{parameter}: per-account parameters stay parameters"
        );
        assert!(resources.contains(parameter), "{parameter} is not used");
    }
}

#[test]
fn the_provider_lambda_timeout_is_the_state_machines_task_timeout() {
    use rds_snapshot_policy_core::contract::states::TASK_TIMEOUT_SECONDS;
    let text = fs::read_to_string(root().join("templates/install.yaml")).unwrap();
    let install = parse_template(&text).unwrap();
    assert_eq!(
        install["Resources"]["ProviderFunction"]["Properties"]["Timeout"],
        serde_json::json!(TASK_TIMEOUT_SECONDS),
        "the loop's round arithmetic (states::another_round_fits) assumes it"
    );
}
