"""`sceptre launch` of the whole project against the emulator, as a platform team runs it.

The var file is sceptre/vars/emulator.yaml: account IDs that differ from every example default.
The code buckets' policies are enforced (tests/emulator/authorization.py), sceptre uploads each
template with the target account's deploy role and CloudFormation reads it back with that role,
the install stacks' Lambda code is read from the tooling account's bucket of their region, and
the policy stacks run through the RdsSnapshotPolicy macro and the provider's deploy-time checks
(the real binaries, through `cargo lambda watch`).

Order, as README "Deploying" gives it, through buildspec.yml's phases run in a clean environment
(only the image's system tools on PATH, a warm toolchain cache): tooling (code buckets), the
toolchain install phase, the upload phase, DR
(install, then the copy policy), production (install, then the policies). Every stack must be
CREATE_COMPLETE; the DR copy policy must copy from the var file's production account and region;
a second launch of every group must change nothing. Then the Verify phase: each account's
read-only status role (templates/status-role.yaml) and `rds-snapshot-policy status` through it.
The build phase's own commands (make lint, make test, scripts/package.sh) are what CI runs.

Usage: python tests/deploy/sceptre_launch.py [--workdir DIR]   (exit status 0 when all hold)
"""

import argparse
import atexit
import json
import os
import signal
import subprocess
import sys
import time
import zipfile

import boto3
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "demo"))
from demo import free_port, post, start, stop_children, wait_port  # noqa: E402  (the demo's helpers)
SCEPTRE = os.path.join(ROOT, ".tools/sceptre/bin/sceptre")
VARS = "vars/emulator.yaml"
TOOLING = "121212121212"
REGIONS = {"prod": "eu-west-1", "dr": "eu-central-1"}


def say(message):
    print(f"launch: {message}", flush=True)


STATE = {}


def fail(message):
    print(f"launch: FAILED: {message}", file=sys.stderr, flush=True)
    report = STATE.get("report")
    if report is not None:
        try:
            report()
        except Exception as error:  # noqa: BLE001 - the report never hides the failure
            print(f"launch: (could not read the stacks' events: {error})", file=sys.stderr)
    sys.exit(1)


class Emulator:
    def __init__(self, endpoint):
        self.endpoint = endpoint

    def credentials(self, account, role):
        """Session credentials of `role` in `account` (a role IAM does not know is unrestricted:
        the accounts' own administrators)."""
        sts = boto3.client("sts", endpoint_url=self.endpoint, region_name="us-east-1",
                           aws_access_key_id="launch", aws_secret_access_key="launch")
        return sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{role}",
                               RoleSessionName=role)["Credentials"]

    def client(self, service, account, region, role="administrator"):
        c = self.credentials(account, role)
        return boto3.client(service, endpoint_url=self.endpoint, region_name=region,
                            aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                            aws_session_token=c["SessionToken"])


def deploy_role_policy(code_buckets):
    """What the deploy role may do that the emulator decides: CloudFormation on the account's
    stacks, and in the code buckets find them, write and read templates under sceptre-templates/
    and read the packages (README, "Deploying": the deploy role's S3 permissions)."""
    buckets = [f"arn:aws:s3:::{b}" for b in code_buckets]
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "Stacks", "Effect": "Allow", "Action": "cloudformation:*", "Resource": "*"},
        {"Sid": "FindTheCodeBuckets", "Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
         "Resource": buckets},
        {"Sid": "Templates", "Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"],
         "Resource": [f"{b}/sceptre-templates/*" for b in buckets]},
        {"Sid": "Packages", "Effect": "Allow", "Action": "s3:GetObject",
         "Resource": [f"{b}/rds-snapshot-policy/*" for b in buckets]},
    ]}


def start_lambdas(emulator, account, region, allow, workdir):
    """The macro and the provider of `account`, run by `cargo lambda watch` as the provider's role,
    with the install stack's environment for that account."""
    c = emulator.credentials(account, f"rds-snapshot-policy-provider-{region}")
    port = free_port()
    env = dict(os.environ, PATH=os.path.join(ROOT, ".tools/lambda/bin") + os.pathsep + os.environ.get("PATH", ""),
               AWS_EC2_METADATA_DISABLED="true")
    args = ["cargo", "lambda", "watch", "--ignore-changes", "--invoke-address", "127.0.0.1", "--invoke-port", str(port)]
    if os.environ.get("RSP_RDS_REQUESTS_PER_SECOND"):  # the harness's: the emulator does not throttle
        args += ["--env-var", f"RSP_RDS_REQUESTS_PER_SECOND={os.environ['RSP_RDS_REQUESTS_PER_SECOND']}"]
    for key, value in {"AWS_ENDPOINT_URL": emulator.endpoint, "AWS_REGION": region,
                       "AWS_ACCESS_KEY_ID": c["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": c["SecretAccessKey"],
                       "AWS_SESSION_TOKEN": c["SessionToken"], "AWS_EC2_METADATA_DISABLED": "true",
                       "RSP_ALLOW_LOCAL_RESPONSE_URL": "1", **allow}.items():
        args += ["--env-var", f"{key}={value}"]
    start(args, open(os.path.join(workdir, f"lambdas-{account}.log"), "w"), env=env)
    wait_port(port, 300, f"cargo lambda watch for {account}")
    return f"http://127.0.0.1:{port}"


def sceptre(emulator, credentials, *args):
    env = dict(os.environ, AWS_ENDPOINT_URL=emulator.endpoint, AWS_EC2_METADATA_DISABLED="true",
               AWS_ACCESS_KEY_ID=credentials["AccessKeyId"], AWS_SECRET_ACCESS_KEY=credentials["SecretAccessKey"],
               AWS_SESSION_TOKEN=credentials["SessionToken"], AWS_DEFAULT_REGION="eu-west-1")
    env.pop("AWS_PROFILE", None)
    began = time.time()
    result = subprocess.run([SCEPTRE, "--var-file", VARS, *args], cwd=os.path.join(ROOT, "sceptre"),
                            env=env, capture_output=True, text=True, timeout=900)
    say(f"sceptre {' '.join(args)}: exit {result.returncode} in {time.time() - began:.0f} s")
    if result.returncode != 0:
        fail(f"sceptre {' '.join(args)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result.stdout + result.stderr


def buildspec_phase(emulator, credentials, phase, workdir, stages=("install", "build"), **variables):
    """Runs buildspec.yml's install and build commands for `phase` as CodeBuild would, in a
    clean environment: only the PATH of the image's system tools, a fresh HOME whose .cargo and
    .rustup are this machine's (CodeBuild's local cache, warm), the project's variables and
    the stage role's credentials. Returns the output."""
    with open(os.path.join(ROOT, "buildspec.yml")) as f:
        spec = yaml.safe_load(f)
    home = os.path.join(workdir, "codebuild-home")
    os.makedirs(home, exist_ok=True)
    for cached in (".cargo", ".rustup"):
        link = os.path.join(home, cached)
        if not os.path.islink(link):
            os.symlink(os.path.join(os.path.expanduser("~"), cached), link)
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8", "PHASE": phase,
           "CODEBUILD_SRC_DIR": ROOT, "AWS_DEFAULT_REGION": "eu-west-1", "AWS_REGION": "eu-west-1",
           "AWS_ENDPOINT_URL": emulator.endpoint, "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
           "AWS_SESSION_TOKEN": credentials["SessionToken"], **spec["env"]["variables"], **variables}
    env["AWS_EC2_METADATA_DISABLED"] = "true"  # the emulator has no instance metadata
    out = []
    began = time.time()
    for stage in stages:
        for command in spec["phases"][stage]["commands"]:
            result = subprocess.run(["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True,
                                    timeout=900)
            out.append(result.stdout + result.stderr)
            if result.returncode != 0:
                fail(f"buildspec {stage} for PHASE={phase} in a clean environment: `{command}` exit "
                     f"{result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    say(f"buildspec PHASE={phase}: the {' and '.join(stages)} commands passed in a clean environment "
        f"({time.time() - began:.0f} s)")
    return "".join(out)


def stacks_of(emulator, account, region):
    cfn = emulator.client("cloudformation", account, region)
    return {s["StackName"]: s for s in cfn.describe_stacks()["Stacks"]}


def expected_stacks():
    """(group, account key, region, stack name) of every stack under sceptre/config."""
    out = []
    config = os.path.join(ROOT, "sceptre", "config")
    for group in sorted(os.listdir(config)):
        if not os.path.isdir(os.path.join(config, group)):
            continue
        for region in sorted(os.listdir(os.path.join(config, group))):
            folder = os.path.join(config, group, region)
            if not os.path.isdir(folder):
                continue
            for name in sorted(os.listdir(folder)):
                if name != "config.yaml" and name.endswith(".yaml"):
                    stack = f"rds-snapshot-policy-{group}-{region}-{name[:-5]}"
                    out.append((group, region, stack))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", default=os.path.join(ROOT, "target", "sceptre-launch"))
    args = parser.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    atexit.register(stop_children)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    with open(os.path.join(ROOT, "sceptre", VARS)) as f:
        var = yaml.safe_load(f)
    prod, dr = var["prod_account"], var["dr_account"]
    accounts = {"tooling": TOOLING, "prod": prod, "dr": dr}
    for default in ("111111111111", "222222222222", "333333333333"):
        if default in (prod, dr, TOOLING) or any(default in b for b in var["code_buckets"].values()):
            fail(f"{VARS} uses the example account {default}: the test could not see a default applied")

    port = free_port()
    emulator = Emulator(f"http://127.0.0.1:{port}")
    start([sys.executable, os.path.join(ROOT, "tests/emulator/launcher.py"), str(port), str(os.getpid())],
          open(os.path.join(args.workdir, "emulator.log"), "w"))
    wait_port(port, 60, "the emulator")
    post(f"{emulator.endpoint}/moto-api/config", {"lambda": {"use_docker": False}})
    say(f"emulator on {emulator.endpoint}; accounts tooling {TOOLING}, production {prod}, DR {dr}")

    # Prerequisites (README, "Deploying"): a deploy role in each target account, RDS's
    # service-linked role in DR.
    policy = deploy_role_policy(var["code_buckets"].values())
    for account in (prod, dr):
        iam = emulator.client("iam", account, "us-east-1")
        iam.create_role(RoleName=var["deploy_role_name"], AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"AWS": f"arn:aws:iam::{TOOLING}:root"}}]}))
        iam.put_role_policy(RoleName=var["deploy_role_name"], PolicyName="deploy", PolicyDocument=json.dumps(policy))
    emulator.client("iam", dr, "us-east-1").create_service_linked_role(AWSServiceName="rds.amazonaws.com")

    lambdas = {
        prod: start_lambdas(emulator, prod, REGIONS["prod"], {"RSP_ALLOWED_DESTINATION_ACCOUNTS": dr}, args.workdir),
        dr: start_lambdas(emulator, dr, REGIONS["dr"], {"RSP_ALLOWED_SOURCE_ACCOUNTS": prod}, args.workdir),
    }
    post(f"{emulator.endpoint}/_rsp/config", {"lambda_endpoints": lambdas})

    def report():
        """Each deployed stack's status and the reasons its events give."""
        for account, region in sorted({(accounts[g], r) for g, r, _ in expected_stacks()}):
            cfn = emulator.client("cloudformation", account, region)
            for stack in cfn.describe_stacks()["Stacks"]:
                print(f"  {account}/{region} {stack['StackName']}: {stack['StackStatus']}", file=sys.stderr)
                for e in cfn.describe_stack_events(StackName=stack["StackName"])["StackEvents"]:
                    if e.get("ResourceStatusReason"):
                        print(f"    {e['LogicalResourceId']}: {e['ResourceStatus']} {e['ResourceStatusReason']}",
                              file=sys.stderr)
    STATE["report"] = report

    pipeline = emulator.credentials(TOOLING, "pipeline")
    sceptre(emulator, pipeline, "launch", "--yes", "tooling")
    # An image without what a phase needs: the phase says what is missing before doing anything.
    bare = subprocess.run(["bash", os.path.join(ROOT, "scripts", "pipeline.sh"), "build"], cwd=ROOT,
                          env={"PATH": "/nonexistent:/bin", "HOME": args.workdir, "LAMBDA_BUCKETS": "x=y"},
                          capture_output=True, text=True, timeout=60)
    if bare.returncode != 2 or "the build phase needs cargo" not in bare.stderr:
        fail(f"the build phase without cargo: exit {bare.returncode}, {bare.stderr.strip()[:300]}")
    say(f"the build phase on an image without Rust stops first: {bare.stderr.strip()[:120]}")
    # The build phase's toolchain install, on a warm cache (the cold path fetches rustup-init
    # and is CodeBuild's alone: this machine reaches no download host).
    out = buildspec_phase(emulator, pipeline, "build", args.workdir, stages=("install",))
    if "rustc 1.95" not in out:
        fail(f"the install phase did not report Rust 1.95: {out[-2000:]}")
    # The build phase's upload (scripts/pipeline.sh upload) of this version's packages, as the
    # pipeline's build role; the packages are stand-ins (the emulator runs the local binaries).
    dist = os.path.join(args.workdir, "dist")
    os.makedirs(dist, exist_ok=True)
    for kind in ("macro", "provider"):
        with zipfile.ZipFile(os.path.join(dist, f"rds-snapshot-policy-{kind}-{var['version']}-x86_64.zip"), "w") as z:
            z.writestr("bootstrap", "run locally by cargo lambda watch\n")
    with open(os.path.join(dist, "SHA256SUMS"), "w") as f:
        f.write("stand-in packages\n")
    buckets = " ".join(f"{region}={bucket}" for region, bucket in var["code_buckets"].items())
    buildspec_phase(emulator, pipeline, "upload", args.workdir, LAMBDA_BUCKETS=buckets, RSP_DIST=dist)
    for region, bucket in var["code_buckets"].items():
        keys = [o["Key"] for o in emulator.client("s3", TOOLING, region).list_objects_v2(
            Bucket=bucket, Prefix="rds-snapshot-policy/").get("Contents", [])]
        if len(keys) != 3:
            fail(f"the upload phase left {keys} in {bucket}")
    say("the upload phase put both packages and SHA256SUMS in each region's code bucket")
    buildspec_phase(emulator, pipeline, "deploy-dr", args.workdir, SCEPTRE_VARS="emulator")
    buildspec_phase(emulator, pipeline, "deploy-prod", args.workdir, SCEPTRE_VARS="emulator")

    expected = expected_stacks()
    found = {}
    for group, region, stack in expected:
        deployed = stacks_of(emulator, accounts[group], region)
        if stack not in deployed:
            fail(f"{stack} is not in {accounts[group]}/{region}: {sorted(deployed)}")
        status = deployed[stack]["StackStatus"]
        if status != "CREATE_COMPLETE":
            fail(f"{stack} is {status}")
        found[stack] = deployed[stack]
    say(f"{len(expected)} stacks CREATE_COMPLETE: {', '.join(s for _, _, s in expected)}")

    # The DR copy policy copies from the var file's production account and region.
    cfn = emulator.client("cloudformation", dr, REGIONS["dr"])
    copies = "rds-snapshot-policy-dr-eu-central-1-copies"
    body = cfn.get_template(StackName=copies)["TemplateBody"]
    template = body if isinstance(body, dict) else json.loads(body)
    policies = [r["Properties"] for r in template["Resources"].values()
                if r.get("Type") in ("AWS::CloudFormation::CustomResource", "Custom::RdsSnapshotPolicy")]
    if not policies or any(p.get("SourceAccounts") != [prod] for p in policies):
        fail(f"the DR copy policy does not copy from {prod}: {[p.get('SourceAccounts') for p in policies]}")
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in found[copies].get("Parameters", [])}
    if parameters.get("ProductionAccountId") != prod or parameters.get("ProductionRegion") != var["prod_region"]:
        fail(f"the DR copies stack's parameters: {parameters}")
    say(f"the DR copy policy copies from {prod}/{var['prod_region']} (the var file's), not an example default")

    # Every policy's alarms reach someone: each topic has the var file's address subscribed.
    for group, address in (("prod", var["prod_alarm_email"]), ("dr", var["dr_alarm_email"])):
        sns = emulator.client("sns", accounts[group], REGIONS[group])
        endpoints = sorted({s["Endpoint"] for s in sns.list_subscriptions()["Subscriptions"]
                            if s["Protocol"] == "email"})
        if endpoints != [address]:
            cfn = emulator.client("cloudformation", accounts[group], REGIONS[group])
            kinds = sorted({r["ResourceType"] for name in found if f"-{group}-" in name
                            for r in cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]
                            if "SNS" in r["ResourceType"]})
            params = {name: found[name].get("Parameters") for name in found if f"-{group}-" in name}
            fail(f"the {group} policies' topics are subscribed by {endpoints}, not {address} (SNS resources: {kinds}; {params})")
    say("every policy's topic has the var file's alarm address subscribed (prod and DR)")

    # Templates were uploaded by the deploy roles under the prefix the bucket policy allows.
    for region, bucket in var["code_buckets"].items():
        keys = [o["Key"] for o in emulator.client("s3", TOOLING, region).list_objects_v2(Bucket=bucket).get("Contents", [])]
        uploaded = [k for k in keys if k.startswith("sceptre-templates/")]
        if not uploaded:
            fail(f"no template under sceptre-templates/ in {bucket}: {keys}")
    say("each region's templates were uploaded under sceptre-templates/ of its code bucket")

    events = {}
    for group, region, stack in expected:
        cfn = emulator.client("cloudformation", accounts[group], region)
        events[stack] = len(cfn.describe_stack_events(StackName=stack)["StackEvents"])
    for group in ("tooling", "dr", "prod"):
        sceptre(emulator, pipeline, "launch", "--yes", group)
    for group, region, stack in expected:
        cfn = emulator.client("cloudformation", accounts[group], region)
        after = cfn.describe_stacks(StackName=stack)["Stacks"][0]
        count = len(cfn.describe_stack_events(StackName=stack)["StackEvents"])
        if after["StackStatus"] != "CREATE_COMPLETE" or "LastUpdatedTime" in after or count != events[stack]:
            fail(f"the second launch changed {stack}: {after['StackStatus']}, events {events[stack]} -> {count}")
    say("a second launch of every group changed nothing (no updates to perform)")

    # The Verify stage: `status` of both accounts through each account's read-only status role
    # (templates/status-role.yaml, trusting the pipeline's verify role), with the CLI.
    verify_role = f"arn:aws:iam::{TOOLING}:role/verify"
    status_roles = {}
    for group in ("prod", "dr"):
        account, region = accounts[group], REGIONS[group]
        cfn = emulator.client("cloudformation", account, region)
        with open(os.path.join(ROOT, "templates", "status-role.yaml")) as f:
            body = f.read()
        cfn.create_stack(StackName="rds-snapshot-policy-status-role", TemplateBody=body,
                         Parameters=[{"ParameterKey": "TrustedRoleArn", "ParameterValue": verify_role}],
                         Capabilities=["CAPABILITY_NAMED_IAM"])
        stack = cfn.describe_stacks(StackName="rds-snapshot-policy-status-role")["Stacks"][0]
        if stack["StackStatus"] != "CREATE_COMPLETE":
            fail(f"the status role stack in {account} is {stack['StackStatus']}")
        status_roles[group] = next(o["OutputValue"] for o in stack["Outputs"] if o["OutputKey"] == "StatusRoleArn")
    out = buildspec_phase(emulator, emulator.credentials(TOOLING, "verify"), "verify", args.workdir,
                          PROD_ROLE_ARN=status_roles["prod"], DR_ROLE_ARN=status_roles["dr"],
                          PROD_REGION=REGIONS["prod"], DR_REGION=REGIONS["dr"],
                          RSP_CLI=os.path.join(ROOT, "target", "debug", "rds-snapshot-policy"))
    with open(os.path.join(ROOT, "target", "verify", "status.json")) as f:
        report = json.load(f)
    found = sorted(p.get("policy") or p.get("id") or json.dumps(p)[:60] for p in report["policies"])
    if len(report["policies"]) < 3:
        decisions = post(f"{emulator.endpoint}/_rsp/authorization", {})
        denied = [d for d in (decisions.get("decisions") or decisions if isinstance(decisions, list) else [])
                  if "status" in json.dumps(d) and "Deny" in json.dumps(d)][:20]
        fail(f"the verify phase's status found {found}, not the deployed policies: {out[-2000:]}; "
             f"status role calls refused: {denied or json.dumps(decisions)[:3000]}")
    say(f"the verify phase read both accounts through their status roles: {len(found)} policies, "
        f"verdict {report['verdict']}")
    say("PASSED")


if __name__ == "__main__":
    main()
