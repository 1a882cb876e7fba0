"""The whole DR pipeline on one machine, on the local AWS emulator.

Starts the emulator (the project's launcher) and the two Lambda binaries behind the real Lambda
runtime API (`cargo lambda watch`, one per account), expands the example templates through the
macro Lambda, deploys them into the emulator's CloudFormation (the policy resources' deploy-time
checks run in the provider), then runs a compressed clock: every generated schedule fires when
its expression says (read from the expanded templates), starting its state machine, whose Task
reaches the provider. At the end, a report per database. Exit 0 only if every database has a
current DR copy and retention held. Everything started is stopped on exit, failure or Ctrl-C.

Usage: python demo.py [--hours H] [--workdir DIR]
"""

import argparse
import atexit
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import boto3
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PROD, DR = "111111111111", "222222222222"
PROD_REGION, DR_REGION = "eu-west-1", "eu-central-1"
START = dt.datetime(2026, 6, 1, 0, 0, tzinfo=dt.timezone.utc)
CHILDREN = []


def say(message):
    print(f"demo: {message}", flush=True)


def stop_children():
    for child in CHILDREN:
        try:
            os.killpg(child.pid, signal.SIGTERM)
        except OSError:
            pass
    for child in CHILDREN:
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
    CHILDREN.clear()


def on_signal(signum, _frame):
    say(f"interrupted (signal {signum}); stopping everything")
    stop_children()
    sys.exit(130)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, seconds, what):
    deadline = time.time() + seconds
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit(f"demo: {what} did not start on port {port} within {seconds} s")


def start(args, log, env=None):
    child = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env,
                             start_new_session=True)
    CHILDREN.append(child)
    return child


def post(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=900) as response:
        return json.loads(response.read() or b"null")


# --- CloudFormation YAML (short-form tags) -------------------------------------------------

def _tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        return {"Fn::GetAtt": value.split(".", 1)}
    if suffix == "Condition":
        return {"Condition": value}
    return {f"Fn::{suffix}": value}


class CfnLoader(yaml.SafeLoader):
    pass


CfnLoader.add_multi_constructor("!", _tag)


def load_template(path):
    with open(path) as f:
        return yaml.load(f, Loader=CfnLoader)


# --- the environment ----------------------------------------------------------------------

class Account:
    def __init__(self, endpoint, account, region):
        sts = boto3.client("sts", endpoint_url=endpoint, region_name="us-east-1",
                           aws_access_key_id="demo", aws_secret_access_key="demo")
        creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/demo",
                                RoleSessionName="demo")["Credentials"]
        self.account, self.region, self.endpoint = account, region, endpoint
        self.creds = creds

    def client(self, service, region=None):
        return boto3.client(service, endpoint_url=self.endpoint, region_name=region or self.region,
                            aws_access_key_id=self.creds["AccessKeyId"],
                            aws_secret_access_key=self.creds["SecretAccessKey"],
                            aws_session_token=self.creds["SessionToken"])

    def env(self):
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_REGION": self.region,
                "AWS_ACCESS_KEY_ID": self.creds["AccessKeyId"],
                "AWS_SECRET_ACCESS_KEY": self.creds["SecretAccessKey"],
                "AWS_SESSION_TOKEN": self.creds["SessionToken"],
                "AWS_EC2_METADATA_DISABLED": "true"}


def start_lambdas(account, workdir):
    port = free_port()
    env = dict(os.environ)
    env["PATH"] = os.path.join(ROOT, ".tools/lambda/bin") + os.pathsep + env.get("PATH", "")
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    args = ["cargo", "lambda", "watch", "--invoke-address", "127.0.0.1", "--invoke-port", str(port)]
    for key, value in account.env().items():
        args += ["--env-var", f"{key}={value}"]
    log = open(os.path.join(workdir, f"lambdas-{account.account}.log"), "w")
    start(args, log, env=env)
    wait_port(port, 180, f"cargo lambda watch for {account.account}")
    return f"http://127.0.0.1:{port}"


def invoke(endpoint, function, payload):
    return post(f"{endpoint}/2015-03-31/functions/{function}/invocations", payload)


def deploy(account, lambdas, name, template_path, parameters):
    """Expands a template through the macro Lambda and creates the stack; waits for it."""
    template = load_template(template_path)
    declared = template.get("Parameters", {})
    values = {k: str(v.get("Default")) for k, v in declared.items() if "Default" in v}
    values.update(parameters)
    if template.get("Transform"):
        answer = invoke(lambdas, "rds-snapshot-policy-macro", {
            "requestId": f"demo-{name}", "region": account.region, "accountId": account.account,
            "transformId": f"{account.account}::RdsSnapshotPolicy", "params": {},
            "templateParameterValues": values, "fragment": template})
        if answer.get("status") != "success":
            raise SystemExit(f"demo: the macro refused {template_path}: {answer.get('errorMessage')}")
        template = answer["fragment"]
    cfn = account.client("cloudformation")
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(template),
                     Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()],
                     Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"])
    deadline = time.time() + 180
    while time.time() < deadline:
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
        if not stack["StackStatus"].endswith("IN_PROGRESS"):
            break
        time.sleep(0.3)
    if stack["StackStatus"] != "CREATE_COMPLETE":
        events = cfn.describe_stack_events(StackName=name)["StackEvents"]
        reasons = [f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason')}" for e in events
                   if e.get("ResourceStatusReason")]
        raise SystemExit(f"demo: stack {name} is {stack['StackStatus']}: {reasons[:5]}")
    resources = {r["LogicalResourceId"]: r.get("PhysicalResourceId")
                 for r in cfn.describe_stack_resources(StackName=name)["StackResources"]
                 if "LogicalResourceId" in r}
    say(f"deployed {name} in {account.account}/{account.region}: {len(resources)} resources, CREATE_COMPLETE")
    return template, resources


def schedules(template, resources):
    """(logical id of the rule, expression, state machine ARN) for each generated schedule."""
    out = []
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Events::Rule":
            continue
        target = resource["Properties"]["Targets"][0]["Arn"]["Ref"]
        out.append((logical_id, resource["Properties"]["ScheduleExpression"], resources[target]))
    return out


def firings(expression, start, end):
    cli = os.path.join(ROOT, "target/debug/rds-snapshot-policy")
    result = subprocess.run([cli, "schedule", expression, "--from", start.isoformat(),
                             "--until", end.isoformat()], capture_output=True, text=True, check=True)
    return [dt.datetime.fromisoformat(line.replace("Z", "+00:00")) for line in result.stdout.split()]


def run_execution(sfn, arn, when, name):
    event = {"version": "0", "detail-type": "Scheduled Event", "source": "aws.events",
             "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "detail": {}}
    execution = sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps(event))["executionArn"]
    for _ in range(3000):
        result = sfn.describe_execution(executionArn=execution)
        if result["status"] != "RUNNING":
            return result
        time.sleep(0.05)
    return {"status": "TIMED_OUT"}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hours", type=float, default=28, help="simulated hours (default 28)")
    parser.add_argument("--workdir", default=os.path.join(ROOT, ".demo"))
    args = parser.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    atexit.register(stop_children)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    start([sys.executable, os.path.join(ROOT, "tests/emulator/launcher.py"), str(port), str(os.getpid())],
          open(os.path.join(args.workdir, "emulator.log"), "w"))
    wait_port(port, 60, "the emulator")
    post(f"{endpoint}/moto-api/config", {"stepfunctions": {"execute_state_machine": True},
                                         "lambda": {"use_docker": False}})
    say(f"emulator on {endpoint}")
    prod, dr = Account(endpoint, PROD, PROD_REGION), Account(endpoint, DR, DR_REGION)
    prod_lambdas, dr_lambdas = start_lambdas(prod, args.workdir), start_lambdas(dr, args.workdir)
    post(f"{endpoint}/_rsp/config", {"lambda_endpoints": {PROD: prod_lambdas, DR: dr_lambdas},
                                     "clock": START.isoformat()})
    say(f"Lambda runtime API: prod {prod_lambdas}, dr {dr_lambdas}")

    # Lambda code for the install stacks (the emulator runs the local binaries instead).
    package = os.path.join(args.workdir, "bootstrap.zip")
    with zipfile.ZipFile(package, "w") as z:
        z.writestr("bootstrap", "built by cargo lambda; run locally by the demo\n")
    for account in (prod, dr):
        s3 = account.client("s3")
        bucket = f"rsp-demo-artifacts-{account.account}"
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": account.region})
        for key in ("macro.zip", "provider.zip"):
            s3.upload_file(package, bucket, f"rds-snapshot-policy/{key}")
        deploy(account, None, "rds-snapshot-policy-install", os.path.join(ROOT, "templates/install.yaml"),
               {"ArtifactBucket": bucket, "MacroArtifactKey": "rds-snapshot-policy/macro.zip",
                "ProviderArtifactKey": "rds-snapshot-policy/provider.zip"})

    # The Aurora cluster (the emulator's CloudFormation has no AWS::RDS::DBCluster).
    kms = prod.client("kms")
    key = kms.create_key(Description="ledger cluster key")["KeyMetadata"]["Arn"]
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{PROD}:root"}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{DR}:root"},
         "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant"], "Resource": "*"}]}))
    rds = prod.client("rds")
    rds.create_db_cluster(DBClusterIdentifier="ledger", Engine="aurora-postgresql", MasterUsername="ledger_admin",
                          MasterUserPassword="not-a-real-password", StorageEncrypted=True, KmsKeyId=key)
    rds.create_db_instance(DBInstanceIdentifier="ledger-1", DBClusterIdentifier="ledger",
                           Engine="aurora-postgresql", DBInstanceClass="db.t4g.medium")
    say("created the Aurora cluster ledger (encrypted, customer-managed key shared with the DR account)")

    stacks = []
    examples = os.path.join(ROOT, "templates/examples")
    for name, account, lambdas, path, params in (
        ("orders", prod, prod_lambdas, "source.yaml", {"DatabaseName": "orders", "DrAccountId": DR}),
        ("billing", prod, prod_lambdas, "source.yaml", {"DatabaseName": "billing", "DrAccountId": DR}),
        ("ledger", prod, prod_lambdas, os.path.join(ROOT, "tests/demo/ledger-policy.yaml"), {"DrAccountId": DR}),
        ("dr-copies", dr, dr_lambdas, "destination.yaml", {"ProductionRegion": PROD_REGION}),
    ):
        template, resources = deploy(account, lambdas, name, os.path.join(examples, path), params)
        stacks.append((name, account, template, resources))

    end = START + dt.timedelta(hours=args.hours)
    timeline = []
    for name, account, template, resources in stacks:
        for rule, expression, machine in schedules(template, resources):
            for when in firings(expression, START, end):
                timeline.append((when, rule, machine, account))
    timeline.sort(key=lambda item: (item[0], item[1]))
    say(f"simulating {args.hours:g} hours from {START:%Y-%m-%d %H:%M} UTC: {len(timeline)} scheduled executions")

    counts = defaultdict(lambda: defaultdict(int))
    worst_age = {}
    latest_points = {}
    failures = []
    begun = time.time()
    by_time = defaultdict(list)
    for item in timeline:
        by_time[item[0]].append(item)
    with ThreadPoolExecutor(max_workers=4) as pool:
        for n, when in enumerate(sorted(by_time)):
            post(f"{endpoint}/_rsp/config", {"clock": when.isoformat()})
            batch = by_time[when]
            results = list(pool.map(lambda it: (it, run_execution(
                it[3].client("stepfunctions"), it[2], it[0], f"{it[1]}-{it[0]:%Y%m%d%H%M}")), batch))
            for (when_, rule, _machine, _account), result in results:
                if result["status"] != "SUCCEEDED":
                    failures.append(f"{when_:%H:%M} {rule}: {result['status']} {result.get('error')} {result.get('cause')}")
                    continue
                summary = json.loads(result.get("output") or "{}")
                words = []
                for step in summary.get("done", []):
                    db = step.get("database") or step["subject"].rsplit(":", 1)[-1].rsplit("-", 5)[0]
                    counts[db][step["operation"]] += 1
                    words.append(f"{step['operation']} {step.get('snapshotId') or step.get('targetId') or step['subject']}")
                for db, point in summary.get("recoveryPoints", {}).items():
                    latest_points[db] = point
                if words:
                    say(f"{when_:%d %H:%M} {rule}: " + "; ".join(words))
            for db, point in latest_points.items():
                taken = dt.datetime.fromisoformat(point["taken"].replace("Z", "+00:00"))
                age = (when - taken).total_seconds() / 60
                worst_age[db] = max(worst_age.get(db, 0), age)
    say(f"ran {len(timeline)} executions in {time.time() - begun:.0f} s")

    ok = not failures
    for failure in failures[:10]:
        say(f"FAILED {failure}")
    rds_dr = dr.client("rds", DR_REGION)
    copies = rds_dr.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
    copies += [dict(s, DBInstanceIdentifier=s["DBClusterIdentifier"]) for s in
               rds_dr.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]]
    rds_prod = prod.client("rds", PROD_REGION)
    source = rds_prod.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
    source += rds_prod.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    print()
    print(f"{'database':<10} {'taken':>6} {'shared':>7} {'copied':>7} {'deleted':>8} {'DR copies':>10} {'newest DR copy':>22} {'worst age':>10}")
    print(f"{'':<10} {'':>6} {'':>7} {'':>7} {'':>8} {'':>10} {'(recovery point)':>22} {'(max over run)':>10}")
    for db in ("orders", "billing", "ledger"):
        c = counts[db]
        mine = [s for s in copies if s["DBSnapshotIdentifier" if "DBSnapshotIdentifier" in s else "DBClusterSnapshotIdentifier"].startswith(db + "-")]
        # The newest available copy, by the recovery point the provider records on each copy.
        taken = sorted(t["Value"] for s in mine if s.get("Status") == "available"
                       for t in s.get("TagList", []) if t["Key"] == "rds-snapshot-policy:recovery-point")
        point = {"taken": taken[-1]} if taken else latest_points.get(db)
        age_now = None
        if point:
            age_now = (end - dt.datetime.fromisoformat(point["taken"].replace("Z", "+00:00"))).total_seconds() / 60
        print(f"{db:<10} {c['create']:>6} {c['share']:>7} {c['copy']:>7} {c['delete']:>8} {len(mine):>10} "
              f"{(point or {}).get('taken', '-'):>22} {worst_age.get(db, 0):>8.0f} m")
        if not point or age_now is None or age_now > 120:
            ok = False
            say(f"{db}: no current DR copy (newest: {point})")
    # Retention held: source snapshots within RetentionDays (1 day) plus the newest; none lost.
    oldest_allowed = end - dt.timedelta(days=1, hours=1)
    stale = [s for s in source if s.get("SnapshotCreateTime") and
             s["SnapshotCreateTime"].replace(tzinfo=dt.timezone.utc) < oldest_allowed - dt.timedelta(hours=2)]
    print()
    say(f"source snapshots kept: {len(source)}; DR copies kept: {len(copies)}; RpoMinutes 60 "
        f"(the worst age includes the share and copy waits)")
    if stale:
        ok = False
        say(f"retention did not hold: {len(stale)} source snapshots older than RetentionDays")
    say("OK: every database has a current DR copy and retention held" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
