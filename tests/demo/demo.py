"""The whole DR pipeline on one machine, on the local AWS emulator.

Starts the emulator (the project's launcher) and the two Lambda binaries behind the real Lambda
runtime API (`cargo lambda watch`, one per account), expands the example templates through the
macro Lambda, deploys them into the emulator's CloudFormation (the policy resources' deploy-time
checks run in the provider), then runs a compressed clock: every generated schedule fires when
its expression says (read from the expanded templates), starting its state machine, whose Task
reaches the provider; the emulator emits the RDS snapshot events, so the event-driven chain runs
too. The clock advances minute by minute; snapshots take 4 simulated minutes, copies 9.
At the end, a report per database with its worst DR recovery-point age against RpoMinutes
(`RPO met` / `RPO missed`), the delivery lags and the generated RPO alarm evaluated on the
published metrics; then a short scenario stalls the copies and shows the alarm becoming true.
Exit 0 only if every database met its RPO, retention held and the stalled copy raised the
alarm. Everything started is stopped on exit, failure or Ctrl-C.

The 8 simulated hours by default take about 3 minutes (2 cores); `--hours 28` shows the daily
retention of the 1-day policies too (about 10 minutes).

Usage: python demo.py [--hours H] [--stall-hours H] [--stall-from H] [--workdir DIR]
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
import threading
import time
import urllib.error
import urllib.request
import zipfile
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import boto3

import identity_attacks
import incident
from inbox import Inbox

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PROD, DR = "111111111111", "222222222222"
PROD_REGION, DR_REGION = "eu-west-1", "eu-central-1"
START = dt.datetime(2026, 6, 1, 0, 0, tzinfo=dt.timezone.utc)
CHILDREN = []


PROGRESS = {"last": time.time(), "doing": "starting"}
PROGRESS_LOCK = threading.Lock()


def say(message):
    with PROGRESS_LOCK:
        print(f"demo: {message}", flush=True)
        PROGRESS["last"] = time.time()


def doing(what):
    """What the demo is busy with: the heartbeat names it."""
    PROGRESS["doing"] = what


def heartbeat():
    """Prints what the demo is doing whenever it has been silent for 10 seconds."""
    begun = time.time()
    while True:
        time.sleep(1)
        with PROGRESS_LOCK:
            if time.time() - PROGRESS["last"] >= 10:
                print(f"demo: ... {PROGRESS['doing']} ({time.time() - begun:.0f} s in)", flush=True)
                PROGRESS["last"] = time.time()


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


# CloudFormation YAML (short-form tags): the acceptance run's reader.
sys.path.insert(0, os.path.join(ROOT, "acceptance"))
from parts import load_template, snapshots  # noqa: E402  (every manual snapshot, all pages)


# --- the environment ----------------------------------------------------------------------

class Account:
    """An account as one role in it: the operator (`demo`) by default; the Lambdas run as the
    provider's role, as on AWS (the tamper rules tell its calls from everyone else's)."""

    def __init__(self, endpoint, account, region, role="demo"):
        sts = boto3.client("sts", endpoint_url=endpoint, region_name="us-east-1",
                           aws_access_key_id="demo", aws_secret_access_key="demo")
        creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{role}",
                                RoleSessionName=role)["Credentials"]
        self.account, self.region, self.endpoint = account, region, endpoint
        self.creds = creds
        self._clients = {}

    def client(self, service, region=None):
        """A client of `service` in `region`, made once (the simulation asks every minute)."""
        key = (service, region or self.region)
        if key not in self._clients:
            self._clients[key] = boto3.client(
                service, endpoint_url=self.endpoint, region_name=key[1],
                aws_access_key_id=self.creds["AccessKeyId"],
                aws_secret_access_key=self.creds["SecretAccessKey"],
                aws_session_token=self.creds["SessionToken"])
        return self._clients[key]

    def env(self):
        # The install stack's allow-lists (production shares only with DR, DR copies only from
        # production); answers to the emulator's http ResponseURL are allowed for the demo only.
        allow = ({"RSP_ALLOWED_DESTINATION_ACCOUNTS": DR} if self.account == PROD
                 else {"RSP_ALLOWED_SOURCE_ACCOUNTS": PROD})
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_REGION": self.region,
                "AWS_ACCESS_KEY_ID": self.creds["AccessKeyId"],
                "AWS_SECRET_ACCESS_KEY": self.creds["SecretAccessKey"],
                "AWS_SESSION_TOKEN": self.creds["SessionToken"],
                "AWS_EC2_METADATA_DISABLED": "true",
                "RSP_ALLOW_LOCAL_RESPONSE_URL": "1", **allow}


def start_lambdas(account, workdir):
    port = free_port()
    env = dict(os.environ)
    env["PATH"] = os.path.join(ROOT, ".tools/lambda/bin") + os.pathsep + env.get("PATH", "")
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    args = ["cargo", "lambda", "watch", "--ignore-changes", "--invoke-address", "127.0.0.1", "--invoke-port", str(port)]
    if os.environ.get("RSP_RDS_REQUESTS_PER_SECOND"):  # the harness's: the emulator does not throttle
        args += ["--env-var", f"RSP_RDS_REQUESTS_PER_SECOND={os.environ['RSP_RDS_REQUESTS_PER_SECOND']}"]
    for key, value in account.env().items():
        args += ["--env-var", f"{key}={value}"]
    log = open(os.path.join(workdir, f"lambdas-{account.account}.log"), "w")
    start(args, log, env=env)
    wait_port(port, 180, f"cargo lambda watch for {account.account}")
    return f"http://127.0.0.1:{port}"


def invoke(endpoint, function, payload):
    """The function's answer; a function error (HTTP 500 from the runtime API) is its error body."""
    try:
        return post(f"{endpoint}/2015-03-31/functions/{function}/invocations", payload)
    except urllib.error.HTTPError as error:
        return json.loads(error.read() or b"null")


def deploy(account, lambdas, name, template_path, parameters):
    """Expands a template through the macro Lambda and creates the stack; waits for it."""
    doing(f"deploying {name} (the first Lambda call compiles the Lambdas: minutes on a fresh checkout)")
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
                     Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"])
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


def schedules(account, template, resources):
    """(logical id of the rule, expression, state machine ARN) for each generated schedule. An
    expression the template reads from the policy (the take schedule at the database's own
    minute, `Fn::GetAtt`) is read from the deployed rule."""
    out = []
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Events::Rule" or "ScheduleExpression" not in resource["Properties"]:
            continue  # event rules are the emulator's to deliver
        target = resource["Properties"]["Targets"][0]
        expression = resource["Properties"]["ScheduleExpression"]
        if not isinstance(expression, str):
            name = resources[logical_id].split("/")[-1]
            expression = account.client("events").describe_rule(Name=name)["ScheduleExpression"]
        out.append((logical_id, expression, resources[target["Arn"]["Ref"]], target.get("Input")))
    return out


def firings(expression, start, end):
    cli = os.path.join(ROOT, "target/debug/rds-snapshot-policy")
    result = subprocess.run([cli, "schedule", expression, "--from", start.isoformat(),
                             "--until", end.isoformat()], capture_output=True, text=True, check=True)
    return [dt.datetime.fromisoformat(line.replace("Z", "+00:00")) for line in result.stdout.split()]


def tag(snapshot, key):
    return next((t["Value"] for t in snapshot.get("TagList", []) if t["Key"] == key), None)


def parse_time(text):
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


class Observer:
    """Watches the DR account every simulated minute: the newest available copy per database
    (its recovery point, from the tag the provider writes), the worst age over the run, and
    each copy's delivery lag (recovery point -> first seen available)."""

    def __init__(self, dr, databases):
        self.rds = dr.client("rds", DR_REGION)
        self.databases = databases
        self.worst, self.first_copy, self.lags = {}, {}, defaultdict(list)
        self.ages = defaultdict(list)
        # Each copy: when it was started (its SnapshotCreateTime) and first seen available.
        self.started, self.available = {}, {}

    @property
    def seen(self):
        """The copies seen available so far."""
        return self.available.keys()

    def copies(self):
        out = []
        for page in self.rds.get_paginator("describe_db_snapshots").paginate(SnapshotType="manual"):
            out += page["DBSnapshots"]
        for page in self.rds.get_paginator("describe_db_cluster_snapshots").paginate(SnapshotType="manual"):
            out += [dict(s, DBSnapshotIdentifier=s["DBClusterSnapshotIdentifier"]) for s in page["DBClusterSnapshots"]]
        return out

    def observe(self, now):
        newest = {}
        for copy in self.copies():
            point, db = tag(copy, "rds-snapshot-policy:recovery-point"), tag(copy, "rds-snapshot-policy:database")
            if copy.get("Status") != "available" or not point or db not in self.databases:
                continue
            point = parse_time(point)
            if copy["DBSnapshotIdentifier"] not in self.available:
                self.available[copy["DBSnapshotIdentifier"]] = now
                if copy.get("SnapshotCreateTime"):
                    self.started[copy["DBSnapshotIdentifier"]] = copy["SnapshotCreateTime"].replace(tzinfo=dt.timezone.utc)
                self.lags[db].append((now - point).total_seconds() / 60)
            newest[db] = max(newest.get(db, point), point)
        for db, point in newest.items():
            self.first_copy.setdefault(db, now)
            age = (now - point).total_seconds() / 60
            self.ages[db].append(age)
            self.worst[db] = max(self.worst.get(db, 0), age)
        return newest


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] if ordered else 0


def simulate(endpoint, stacks, start, end, observer, running=(), stop_when=None):
    """Runs every schedule firing and every event between `start` and `end`, minute by minute,
    waiting each minute for the executions it started (not for those in `running`); stops early
    once `stop_when()` is true. Returns (the executions the schedules started, the end)."""
    # The schedules fire on whole minutes; the emulator's clock runs on between the steps.
    start = start.replace(second=0, microsecond=0)
    timeline = defaultdict(list)
    for name, account, template, resources in stacks:
        for rule, expression, machine, constant in schedules(account, template, resources):
            for when in firings(expression, start, end):
                timeline[when.replace(second=0, microsecond=0)].append((rule, machine, account, constant))
    started, minute = [], start
    while minute < end:
        post(f"{endpoint}/_rsp/config", {"clock": minute.isoformat()})
        post(f"{endpoint}/_rsp/tick", {})
        event = {"version": "0", "detail-type": "Scheduled Event", "source": "aws.events",
                 "time": minute.strftime("%Y-%m-%dT%H:%M:%SZ"), "detail": {}}
        for rule, machine, account, constant in timeline.get(minute, []):
            sfn = account.client("stepfunctions")
            # A target's constant Input replaces the event, as EventBridge does.
            arn = sfn.start_execution(stateMachineArn=machine, name=f"{rule}-{minute:%Y%m%d%H%M}",
                                      input=constant or json.dumps(event))["executionArn"]
            started.append((account, arn))
        post(f"{endpoint}/_rsp/wait", {"except": list(running)})
        post(f"{endpoint}/_rsp/tick", {})  # copies/snapshots that became available just now
        post(f"{endpoint}/_rsp/wait", {"except": list(running)})
        if minute.minute % 5 == 0:
            # CloudWatch evaluates the alarms; their actions publish to the topics.
            post(f"{endpoint}/_rsp/alarms", {})
        observer.observe(minute)
        doing(f"simulated {minute:%d %H:%M} of {end:%d %H:%M} UTC: {len(started)} scheduled executions started, "
              f"{len(observer.seen)} DR copies seen")
        minute += dt.timedelta(minutes=1)
        if stop_when and stop_when():
            break
    return started, minute


def execution_results(stacks):
    """Every execution of every generated state machine: (status, output or error)."""
    results = []
    for name, account, template, resources in stacks:
        sfn = account.client("stepfunctions")
        for logical_id, resource in template["Resources"].items():
            if resource.get("Type") != "AWS::StepFunctions::StateMachine":
                continue
            for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=resources[logical_id]):
                for e in page["executions"]:
                    d = sfn.describe_execution(executionArn=e["executionArn"])
                    results.append((logical_id, e["name"], d))
    return results


def rpo_alarm(template, suffix="RpoAlarm"):
    """The generated RPO alarm (or, with suffix "RpoForecastAlarm", the forecast alarm) of the DR
    stack's policy: its properties."""
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::CloudWatch::Alarm" and logical_id.endswith(suffix):
            return resource["Properties"]
    raise SystemExit(f"demo: the DR expansion has no {suffix}")


def evaluate_alarm(cloudwatch, alarm, policy_id, start, end):
    """Evaluates the alarm as CloudWatch does, period by period, on the emitted datapoints:
    [(period start, value or None, breaching)] (missing data is breaching)."""
    period = alarm["Period"]
    stats = cloudwatch.get_metric_statistics(
        Namespace=alarm["Namespace"], MetricName=alarm["MetricName"],
        Dimensions=[{"Name": "Policy", "Value": policy_id}], StartTime=start, EndTime=end,
        Period=period, Statistics=[alarm["Statistic"]])["Datapoints"]
    by_start = {p["Timestamp"].replace(tzinfo=dt.timezone.utc): p[alarm["Statistic"]] for p in stats}
    out, t = [], start
    while t + dt.timedelta(seconds=period) <= end:
        value = next((v for ts, v in by_start.items() if t <= ts < t + dt.timedelta(seconds=period)), None)
        breaching = value is None if alarm["TreatMissingData"] == "breaching" else False
        if value is not None:
            breaching = value > alarm["Threshold"]
        out.append((t, value, breaching))
        t += dt.timedelta(seconds=period)
    return out


def machine_of(stack, suffix):
    _, account, template, resources = stack
    logical_id = next(k for k, r in template["Resources"].items()
                      if r["Type"] == "AWS::StepFunctions::StateMachine" and k.endswith(suffix))
    return logical_id, resources[logical_id]


def compromise_scenario(endpoint, prod_lambdas, stacks, dr):
    """What a principal allowed only to invoke the provider, or to start a state machine, can
    do: a forged share (an outside account, a real policy, stack and execution) sent straight
    to the provider, deletes and copies started with a time in their input, a delete machine
    edited outside CloudFormation. Returns (ok, text)."""
    name, prod, template, resources = stacks[1]
    share_id, share_arn = machine_of(stacks[1], "ShareStateMachine")
    definition = json.loads(prod.client("stepfunctions").describe_state_machine(
        stateMachineArn=share_arn)["definition"])
    task = next(st for st in definition["States"].values() if st.get("Type") == "Task" and "policy" in st.get("Parameters", {}))
    forged = {k: v for k, v in task["Parameters"].items() if not k.endswith(".$")}
    forged["policy"] = dict(forged["policy"], DestinationAccounts=["999999999999"])
    executions = prod.client("stepfunctions").list_executions(stateMachineArn=share_arn)["executions"]
    forged["execution"] = executions[0]["executionArn"] if executions else f"{share_arn}:forged"
    forged["now"] = "2026-06-01T00:00:00Z"
    answer = invoke(prod_lambdas, "rds-snapshot-policy-provider", forged)
    rds = prod.client("rds", PROD_REGION)
    outside = []
    for snapshot in snapshots(rds, "instance"):
        attributes = rds.describe_db_snapshot_attributes(DBSnapshotIdentifier=snapshot["DBSnapshotIdentifier"])
        for attribute in attributes["DBSnapshotAttributesResult"]["DBSnapshotAttributes"]:
            if attribute["AttributeName"] == "restore" and "999999999999" in attribute.get("AttributeValues", []):
                outside.append(snapshot["DBSnapshotIdentifier"])
    share_refused = answer.get("errorType") == "NotDeployed" and not outside

    _, _, dr_template, dr_resources = stacks[0]
    _, delete_arn = machine_of(stacks[0], "DeleteStateMachine")
    _, dr_copy_arn = machine_of(stacks[0], "CopyStateMachine")
    before = len(Observer(dr, ()).copies())
    sfn = dr.client("stepfunctions", DR_REGION)
    # Time comes from Step Functions: a far-future or year-2000 time in the input changes
    # nothing (issue 29: before, the first was refused and the second copied as of 2000).
    future = identity_attacks.time_from_input_run(endpoint, post, sfn, delete_arn, "future-time-delete",
                                                  "9999-12-31T00:00:00Z")
    past = identity_attacks.time_from_input_run(endpoint, post, sfn, dr_copy_arn, "past-time-copy",
                                                "2000-01-01T00:00:00Z")
    time_ignored = all(status == "SUCCEEDED" and planned and planned[:16] == started.strftime("%Y-%m-%dT%H:%M")
                       for status, planned, started in (future, past))
    # The DR delete machine edited outside CloudFormation (a shorter retention): refused, notified.
    drift_status, drift_error, _ = identity_attacks.drifted_run(endpoint, post, sfn, delete_arn, "drifted-delete")
    after = len(Observer(dr, ()).copies())
    delete_refused = time_ignored and drift_status == "FAILED" and drift_error == "NotDeployed" and after == before

    # A stranger shares a snapshot named like production with the DR account: never copied,
    # and the copy run publishes UnexpectedSharedSnapshots (its alarm notifies).
    stranger = Account(endpoint, "999999999999", PROD_REGION)
    srds = stranger.client("rds")
    skey = stranger.client("kms").create_key(Description="stranger")["KeyMetadata"]["Arn"]
    srds.create_db_instance(DBInstanceIdentifier="orders", Engine="postgres", DBInstanceClass="db.t4g.micro",
                            AllocatedStorage=20, MasterUsername="x_admin", MasterUserPassword="not-a-real-password",
                            StorageEncrypted=True, KmsKeyId=skey)
    srds.create_db_snapshot(DBInstanceIdentifier="orders", DBSnapshotIdentifier="orders-pushed-by-a-stranger")
    clock = parse_time(post(f"{endpoint}/_rsp/config", {})["clock"])
    post(f"{endpoint}/_rsp/config", {"clock": (clock + dt.timedelta(minutes=5)).isoformat()})
    post(f"{endpoint}/_rsp/tick", {})
    post(f"{endpoint}/_rsp/wait", {})
    srds.modify_db_snapshot_attribute(DBSnapshotIdentifier="orders-pushed-by-a-stranger",
                                      AttributeName="restore", ValuesToAdd=[DR])
    _, copy_arn = machine_of(stacks[0], "CopyStateMachine")
    arn = sfn.start_execution(stateMachineArn=copy_arn, name="after-a-stranger-shared")["executionArn"]
    post(f"{endpoint}/_rsp/wait", {})
    copy_run = sfn.describe_execution(executionArn=arn)
    output = json.loads(copy_run.get("output") or "{}")
    sharers = output.get("unexpectedSharers", {})
    pushed = [c for c in Observer(dr, ()).copies() if "stranger" in c["DBSnapshotIdentifier"]]
    stranger_refused = copy_run["status"] == "SUCCEEDED" and sharers.get("999999999999") == 1 and not pushed

    # Someone shares a production snapshot outside the tool: the next share run reads the
    # snapshots' restore attributes and reports it (its alarm notifies); without
    # RevokeUnknownShares it leaves it, and the operator removes it.
    prds, psfn = prod.client("rds"), prod.client("stepfunctions")
    victim = next(s["DBSnapshotIdentifier"] for s in snapshots(prds, "instance")
                  if s["Status"] == "available" and s.get("DBInstanceIdentifier") == "orders")
    prds.modify_db_snapshot_attribute(DBSnapshotIdentifier=victim, AttributeName="restore",
                                      ValuesToAdd=["999999999999"])
    arn = psfn.start_execution(stateMachineArn=share_arn, name="after-an-outside-share")["executionArn"]
    post(f"{endpoint}/_rsp/wait", {})
    share_run = psfn.describe_execution(executionArn=arn)
    found = json.loads(share_run.get("output") or "{}").get("sharedOutside", {})
    audited = share_run["status"] == "SUCCEEDED" and found.get(victim) == ["999999999999"]
    prds.modify_db_snapshot_attribute(DBSnapshotIdentifier=victim, AttributeName="restore",
                                      ValuesToRemove=["999999999999"])
    text = (f"forged share to 999999999999 sent to the provider: {answer.get('errorType')} "
            f"({len(outside)} snapshots shared outside); delete started with the time 9999-12-31 in its input: "
            f"{future[0]}, planned as of {future[1]} (its start); copy started with 2000-01-01: {past[0]}, "
            f"planned as of {past[1]}; delete machine edited outside CloudFormation: {drift_status} {drift_error}; "
            f"DR copies {before} -> {after}; a stranger's shared snapshot: "
            f"{len(pushed)} copied, reported sharers {sharers}; a production snapshot shared outside the tool: "
            f"the share run reported {found or 'nothing'}")
    return share_refused and delete_refused and stranger_refused and audited, text


def production_failures(endpoint, stacks):
    """Runs each production policy's delete machine edited outside CloudFormation: {stack: status}."""
    out = {}
    for stack in stacks:
        name, account = stack[0], stack[1]
        _, delete_arn = machine_of(stack, "DeleteStateMachine")
        status, _, _ = identity_attacks.drifted_run(endpoint, post, account.client("stepfunctions"), delete_arn,
                                                    f"{name}-drifted-delete")
        out[name] = status
    return out


# Provider-role statements this demo cannot show to be necessary, and why (each is in the
# README's IAM section). Every other statement must, in this run, have been the only statement
# that allowed some call: removing it would have refused that call and failed the demo.
NOT_EXERCISED_BY_THE_DEMO = {
    "snapshots/Logs": "CloudWatch Logs: the demo's Lambdas log to files, not to CloudWatch Logs",
    "snapshots/LetRdsCreateItsServiceLinkedRole": "RDS creates its service-linked role itself on first need; the emulator's RDS makes no IAM calls",
    "snapshots/UseSourceKeysForCopiesThroughRdsOnly": "present only with KmsKeyArns set in DR; the demo installs with both key lists empty",
    "snapshots/GrantSourceKeysOnlyToRds": "present only with KmsKeyArns set in DR; the demo installs with both key lists empty",
    "snapshots/CopiesRdsMakesOnOurBehalf": "calls RDS makes in the source region for a cross-region copy; the emulator's RDS makes none",
    "snapshots/ReencryptOnlyIntoTaggedSnapshots": "re-encryption of snapshots on the AWS-managed key; the demo's databases use CMKs (tests/emulator_reencrypt.rs)",
    "restore-drill/RestoreDrillsIntoTheirNetwork": "a named DrillDBSubnetGroupName; the demo's drill uses the default subnet group",
    "snapshots/DeleteOnlyTheToolsCopies": "DR retention is in days and the demo simulates hours: no DR copy expires (DR deletes: emulator_actions.rs; the tag condition: macro/tests/iam.rs)",
}


def authorization_verdict(endpoint):
    """The emulator decided the provider's RDS, KMS, Step Functions and CloudFormation calls by
    its role's policies (tests/emulator/authorization.py): none may have been refused, and each
    statement of the role must have been necessary (the only one allowing some call) or be
    listed in NOT_EXERCISED_BY_THE_DEMO. (ok, text)"""
    with urllib.request.urlopen(f"{endpoint}/_rsp/authorization", timeout=60) as response:
        log = json.loads(response.read())
    install = load_template(os.path.join(ROOT, "templates/install.yaml"))
    declared = set()
    for policy in install["Resources"]["ProviderRole"]["Properties"]["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            statement = statement["Fn::If"][1] if "Fn::If" in statement else statement
            declared.add(f"{policy['PolicyName']}/{statement['Sid']}")
    necessary, used = set(), set()
    for role, sids in log["necessary"].items():
        if "rds-snapshot-policy-provider-" in role:
            necessary.update(sids)
    for role, sids in log["used"].items():
        if "rds-snapshot-policy-provider-" in role:
            used.update(sids)
    denied = log["denied"]
    unproven = sorted(declared - necessary - set(NOT_EXERCISED_BY_THE_DEMO))
    generated_ok, generated = generated_roles_text(log)
    text = (f"{log['decisions']} decisions, {len(denied)} refused"
            + (f" (first: {denied[0]['message']})" if denied else "")
            + f"; provider role: {len(necessary & declared)} of {len(declared)} statements shown necessary"
            + f", {len(declared & set(NOT_EXERCISED_BY_THE_DEMO))} not exercised by the demo (README)"
            + (f"; neither necessary nor explained: {', '.join(unproven)}"
               f" (used only beside another: {', '.join(sorted(set(unproven) & used)) or 'none'})" if unproven else "")
            + f"; {generated}")
    return not denied and not unproven and generated_ok, text


# Stacks deployed by the identity attacks: their roles are the attacker's, not the product's.
ATTACK_STACKS = ("copycat-", "plain-evil-", "plain-legacy-")


def generated_roles_text(log):
    """The generated roles that made calls (the state machines' tasks, the rules' targets): each
    of their statements must have been the only one allowing some call in this run.
    (every statement shown necessary, text)"""
    roles = [r for r in sorted(log["declared"]) if "rds-snapshot-policy-provider-" not in r
             and not r.rsplit("/", 1)[-1].startswith(ATTACK_STACKS)]
    unproven = [f"{role.rsplit('/', 1)[-1]}: {sid}" for role in roles
                for sid in sorted(set(log["declared"][role]) - set(log["necessary"].get(role, [])))]
    return not unproven, (f"{len(roles)} generated roles made calls, each decided by its policies; their "
                          f"statements not shown necessary by this run: {'; '.join(unproven) or 'none'}")


def tamper_scenario(dr, inbox):
    """Someone other than the provider deletes an old DR copy: CloudTrail records the call, the
    DR policy's tamper rule publishes it. The provider's own deletes never do. (ok, text)"""
    copies = sorted(Observer(dr, ()).copies(), key=lambda c: c.get("SnapshotCreateTime") or dt.datetime.max)
    victim = next(c for c in copies if tag(c, "CopiedBy"))
    rds = dr.client("rds", DR_REGION)
    if victim.get("DBClusterSnapshotIdentifier"):
        rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=victim["DBClusterSnapshotIdentifier"])
    else:
        rds.delete_db_snapshot(DBSnapshotIdentifier=victim["DBSnapshotIdentifier"])
    inbox.drain()
    tampers = inbox.of_kind("tamper")
    by_hand = [m for m in tampers if m["event"].startswith("Delete") and ":assumed-role/demo/" in m["by"]]
    by_provider = [m for m in tampers if "rds-snapshot-policy-provider" in m["by"]]
    text = (f"{victim['DBSnapshotIdentifier']} deleted by the operator role: {len(by_hand)} tamper notification(s) "
            f"received ({by_hand[0]['event'] + ' by ' + by_hand[0]['by'] if by_hand else 'none'}); "
            f"from the provider's own deletes: {len(by_provider)}")
    return bool(by_hand) and not by_provider, text


def drill_records(dr, policy_id, rows):
    """The drill's durable records in the DR policy's log group: one `passed` record per
    restored database, with its minutes. Returns (ok, text)."""
    logs = dr.client("logs", DR_REGION)
    group = "/rds-snapshot-policy/drills/" + "".join(
        c if c.isalnum() or c in "._-/#" else "-" for c in policy_id)
    try:
        events = logs.filter_log_events(logGroupName=group)["events"]
    except Exception as e:  # noqa: BLE001
        return False, f"{group} unreadable: {e}"
    records = [json.loads(e["message"]) for e in events]
    passed = {r["database"]: r.get("restoreMinutes") for r in records if r.get("outcome") == "passed"}
    expected = {database: minutes for database, minutes, _ in rows}
    text = (f"{group}: " + ", ".join(f"{db} passed {m} min" for db, m in sorted(passed.items()))
            + f" ({len(records)} records)")
    return passed == expected and len(expected) > 0, text


def drill_scenario(endpoint, stacks, dr, dr_lambdas, observer, restore_minutes=25):
    """The DR stack's restore drill, while the schedules go on (as on AWS: backups do not stop for
    a drill): restores the newest copy of each database (restores take `restore_minutes`
    simulated minutes), checks them, records the times, deletes everything it created.
    Returns (ok, rows of (database, minutes, verdict), leftovers, rto, the clock after it)."""
    _, _, template, _ = stacks[0]
    policy = next(r for r in template["Resources"].values() if r["Type"].startswith("Custom::"))["Properties"]
    rto = int(policy.get("RtoMinutes", 180))
    _, machine = machine_of(stacks[0], "DrillStateMachine")
    post(f"{endpoint}/_rsp/config", {"restore_pending_seconds": restore_minutes * 60})
    clock = parse_time(post(f"{endpoint}/_rsp/config", {})["clock"])
    sfn = dr.client("stepfunctions", DR_REGION)
    arn = sfn.start_execution(stateMachineArn=machine, name="restore-drill",
                              input=json.dumps({"waitSeconds": 1}))["executionArn"]
    doing("restore drill in the DR account, schedules running")
    # While it waits for its restores, someone sends its provider a finish step with a made-up
    # run (2099, one minute, markup): the evidence is read from RDS, so nothing is recorded.
    rds = dr.client("rds", DR_REGION)
    forged = identity_attacks.forged_drill_finish(sfn, rds, arn, invoke, dr_lambdas)

    def finished():
        time.sleep(0.2)
        return sfn.describe_execution(executionArn=arn)["status"] != "RUNNING"

    # From the minute after the last one simulated (its schedules have fired).
    start = clock.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    _, clock = simulate(endpoint, stacks, start, start + dt.timedelta(hours=4), observer,
                        running=[arn], stop_when=finished)
    execution = sfn.describe_execution(executionArn=arn)
    post(f"{endpoint}/_rsp/config", {"restore_pending_seconds": 0})
    output = json.loads(execution.get("output") or "{}")
    restores = output.get("drill", {}).get("run", {}).get("restores", [])
    rows = [(r["database"], r.get("minutes"), "RTO met" if r.get("minutes") is not None and r["minutes"] <= rto
             else "RTO missed") for r in restores]
    forged_evidence = identity_attacks.forged_drill_evidence(rds)
    say(f"forged drill finish sent while the drill waited: {forged.get('errorType', 'ACCEPTED')} "
        f"({(forged.get('errorMessage') or '')[:120]}); forged drill evidence on the copies: "
        f"{forged_evidence or 'none'}")
    leftovers = [d["DBInstanceIdentifier"] for d in rds.describe_db_instances()["DBInstances"]
                 if d["DBInstanceIdentifier"].startswith("rsp-drill-")]
    leftovers += [c["DBClusterIdentifier"] for c in rds.describe_db_clusters()["DBClusters"]
                  if c["DBClusterIdentifier"].startswith("rsp-drill-")]
    ok = (execution["status"] == "SUCCEEDED" and len(rows) == 3 and all(v == "RTO met" for _, _, v in rows)
          and not leftovers and "errorType" in forged and not forged_evidence)
    if execution["status"] != "SUCCEEDED":
        say(f"restore drill: {execution['status']} {execution.get('error')} {execution.get('cause')}")
    return ok, rows, leftovers, rto, clock


CLI = os.path.join(ROOT, "target/debug/rds-snapshot-policy")


def operator_env(workdir):
    """The environment an operator runs the CLI in: the profiles `status_scenario` wrote."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_CONFIG_FILE": os.path.join(workdir, "aws-config"),
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_EC2_METADATA_DISABLED": "true"})
    return env


def status_scenario(prod, dr, databases, workdir):
    """`rds-snapshot-policy status` across both accounts (one profile each, as an operator
    would), in JSON, markdown and HTML. Returns (ok, the report)."""
    config = os.path.join(workdir, "aws-config")
    with open(config, "w") as f:
        for name, account in (("rsp-demo-prod", prod), ("rsp-demo-dr", dr)):
            f.write(f"[profile {name}]\nregion = {account.region}\nendpoint_url = {account.endpoint}\n"
                    f"aws_access_key_id = {account.creds['AccessKeyId']}\n"
                    f"aws_secret_access_key = {account.creds['SecretAccessKey']}\n"
                    f"aws_session_token = {account.creds['SessionToken']}\n")
    env = operator_env(workdir)
    base = [CLI, "status", "--source-profile", "rsp-demo-prod", "--dr-profile", "rsp-demo-dr", "--hours", "48"]
    for fmt, name in (("markdown", "status.md"), ("html", "status.html")):
        subprocess.run(base + ["--format", fmt, "--output", os.path.join(workdir, name)], env=env,
                       check=False, capture_output=True)
    done = subprocess.run(base + ["--json"], env=env, capture_output=True, text=True)
    if done.returncode not in (0, 3):
        say(f"status failed ({done.returncode}): {done.stderr.strip()}")
        return False, None
    report = json.loads(done.stdout)
    rows = {d["database"]: d for d in report["databases"]}
    ok = report["verdict"] == "protected" and done.returncode == 0
    for db in databases:
        # Rows are per (source account, database): a DR account may copy same-named databases.
        row = rows.get(f"{prod.account}/{db}")
        if (not row or not row["rpoMet"] or not row["newestCopy"] or not row["shared"] or not row["ageHistory"]
                or not row["lastDrill"]):
            ok = False
            say(f"status: {db} is not reported protected: {json.dumps(row)[:300]}")
    return ok, report


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hours", type=float, default=8, help="simulated hours (default 8)")
    parser.add_argument("--stall-hours", type=float, default=2,
                        help="length of the stall scenario after the run, in simulated hours (default 2; 0: none)")
    parser.add_argument("--stall-from", type=float, default=None,
                        help="stall the DR copies from this simulated hour of the main run: the RPO must then be missed")
    parser.add_argument("--workdir", default=os.path.join(ROOT, ".demo"))
    args = parser.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    atexit.register(stop_children)
    threading.Thread(target=heartbeat, daemon=True).start()
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
    # The Lambdas act as the provider's role (templates/install.yaml names it per region).
    prod_lambdas, dr_lambdas = (
        start_lambdas(Account(endpoint, a.account, a.region, f"rds-snapshot-policy-provider-{a.region}"), args.workdir)
        for a in (prod, dr))
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
                "ProviderArtifactKey": "rds-snapshot-policy/provider.zip",
                **({"AllowedDestinationAccounts": DR} if account is prod else {"AllowedSourceAccounts": PROD})})

    # A trail logging management events in each account: the tamper rules match CloudTrail's
    # events, which exist only where a trail logs them.
    for account in (prod, dr):
        bucket = f"rsp-demo-trail-{account.account}"
        account.client("s3").create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": account.region})
        trail = account.client("cloudtrail")
        trail.create_trail(Name="management-events", S3BucketName=bucket, IsMultiRegionTrail=True)
        trail.start_logging(Name="management-events")
    # RDS's service-linked role in the DR account (README, "Before the first deploy"): RDS
    # creates it with an account's first DB instance; a DR account that never had one lacks it,
    # and the DR policy's deploy-time check says so.
    dr.client("iam").create_service_linked_role(AWSServiceName="rds.amazonaws.com")

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
        ("dr-copies", dr, dr_lambdas, "destination.yaml", {"ProductionRegion": PROD_REGION, "ProductionAccountId": PROD}),
        ("orders", prod, prod_lambdas, "source.yaml", {"DatabaseName": "orders", "DrAccountId": DR, "DrRegion": DR_REGION}),
        ("billing", prod, prod_lambdas, "source.yaml", {"DatabaseName": "billing", "DrAccountId": DR, "DrRegion": DR_REGION}),
        ("ledger", prod, prod_lambdas, os.path.join(ROOT, "tests/demo/ledger-policy.yaml"), {"DrAccountId": DR, "DrRegion": DR_REGION}),
    ):
        template, resources = deploy(account, lambdas, name, os.path.join(examples, path), params)
        stacks.append((name, account, template, resources))
    dr_template, dr_resources = stacks[0][2], stacks[0][3]
    topic = next(arn for logical_id, arn in dr_resources.items() if logical_id.endswith("NotificationTopic"))
    inbox = Inbox(dr, DR_REGION, topic, "dr-operator-pager")
    say(f"an operator's queue is subscribed to the DR policy's topic {topic}")
    policy = next(r for r in dr_template["Resources"].values() if r["Type"] == "AWS::CloudFormation::CustomResource"
                  or r["Type"].startswith("Custom::"))["Properties"]
    rpo_minutes = int(policy.get("RpoMinutes", 60))
    dr_policy_id = f"dr-copies-{next(k for k, r in dr_template['Resources'].items() if r['Type'].startswith('Custom::'))}"

    # Snapshots take 4 simulated minutes to create, copies 9 (inside the formula's estimates).
    post(f"{endpoint}/_rsp/config", {"pending_seconds": 240, "copy_pending_seconds": 540})
    databases = ("orders", "billing", "ledger")
    observer = Observer(dr, databases)
    end = START + dt.timedelta(hours=args.hours)
    say(f"simulating {args.hours:g} hours from {START:%Y-%m-%d %H:%M} UTC, minute by minute: schedules, "
        f"RDS events and the event-driven chain (snapshots take 4 minutes, copies 9)")
    begun = time.time()
    if args.stall_from is not None:
        stall_at = START + dt.timedelta(hours=args.stall_from)
        simulate(endpoint, stacks, START, stall_at, observer)
        post(f"{endpoint}/_rsp/config", {"copy_pending_seconds": 10 ** 7})
        say(f"stalling the DR copies from {stall_at:%d %H:%M}")
        simulate(endpoint, stacks, stall_at, end, observer)
    else:
        simulate(endpoint, stacks, START, end, observer)
    results = execution_results(stacks)
    say(f"ran {len(results)} executions (scheduled and event-driven) in {time.time() - begun:.0f} s")

    ok = True
    counts, triggered = defaultdict(lambda: defaultdict(int)), defaultdict(int)
    for logical_id, name, d in results:
        if d["status"] != "SUCCEEDED":
            ok = False
            say(f"FAILED {name}: {d['status']} {d.get('error')} {d.get('cause')}")
            continue
        triggered["event" if name.startswith("event-") else "schedule"] += 1
        for step in json.loads(d.get("output") or "{}").get("done", []):
            db = step.get("database") or step["subject"].rsplit(":", 1)[-1].rsplit("-", 5)[0]
            counts[db][step["operation"]] += 1
    say(f"executions started by schedules: {triggered['schedule']}, by events: {triggered['event']}")

    copies = observer.copies()
    rds_prod = prod.client("rds", PROD_REGION)
    source = snapshots(rds_prod, "instance")
    source += snapshots(rds_prod, "cluster")
    print()
    source_stack = {db: name for name, account, _, _ in stacks if account is prod for db in databases if name == db}
    print(f"{'database':<9} {'taken':>6} {'shared':>7} {'copied':>7} {'deleted':>8} {'DR copies':>10} "
          f"{'worst DR age':>13} {'delivery lag p50/max':>21}  verdict  (stacks)")
    for db in databases:
        c = counts[db]
        mine = [s for s in copies if tag(s, "rds-snapshot-policy:database") == db]
        lags = observer.lags[db]
        worst = observer.worst.get(db)
        met = worst is not None and worst <= rpo_minutes
        verdict = f"RPO met ({rpo_minutes} min)" if met else f"RPO missed ({rpo_minutes} min)"
        lag_text = f"{percentile(lags, 50):.0f} / {max(lags):.0f} min" if lags else "-"
        worst_text = f"{worst:.0f} min" if worst is not None else "no copy"
        print(f"{db:<9} {c['create']:>6} {c['share']:>7} {c['copy']:>7} {c['delete']:>8} {len(mine):>10} "
              f"{worst_text:>13} {lag_text:>21}  {verdict}  ({source_stack.get(db, '?')} -> {stacks[0][0]})")
        if not met:
            ok = False
    print()
    say("worst DR age: the oldest the newest DR copy got, measured every simulated minute from the "
        "first copy on; delivery lag: recovery point -> copy available in the DR account")

    # Retention held: no source snapshot older than its policy's retention plus one delete
    # period (orders, billing: RetentionDays 1, daily; ledger: RetentionHours 2, hourly).
    retention = {"orders": (dt.timedelta(days=1), dt.timedelta(days=1)),
                 "billing": (dt.timedelta(days=1), dt.timedelta(days=1)),
                 "ledger": (dt.timedelta(hours=2), dt.timedelta(hours=1))}
    stale = []
    for snapshot in source:
        db = tag(snapshot, "rds-snapshot-policy:database")
        created = snapshot.get("SnapshotCreateTime")
        if db in retention and created:
            keep, period = retention[db]
            if created.replace(tzinfo=dt.timezone.utc) < end - keep - period - dt.timedelta(minutes=10):
                stale.append(snapshot)
    say(f"source snapshots kept: {len(source)}; DR copies kept: {len(copies)}")
    if stale:
        ok = False
        say(f"retention did not hold: {len(stale)} source snapshots older than their retention")
    if args.hours >= 4 and counts["ledger"]["delete"] == 0:
        ok = False
        say("retention did not act: ledger (RetentionHours 2) had nothing deleted")

    # The RPO alarm, evaluated on what the provider published (PutMetricData in the DR account).
    alarm = rpo_alarm(dr_template)
    cloudwatch = dr.client("cloudwatch", DR_REGION)
    first = min(observer.first_copy.values(), default=end)
    settled = first + dt.timedelta(seconds=alarm["Period"])
    periods = evaluate_alarm(cloudwatch, alarm, dr_policy_id, settled, end)
    breaching = [p for p in periods if p[2]]
    if args.stall_from is None:
        say(f"RPO alarm ({alarm['Statistic']} {alarm['MetricName']} > {alarm['Threshold']:g}, "
            f"{alarm['Period'] // 60}-minute periods, missing data breaching): {len(periods)} periods since the "
            f"first copy, {len(breaching)} breaching" + ("" if not breaching else f", first at {breaching[0][0]:%d %H:%M}"))
        if breaching or not periods:
            ok = False
        # What reached the operator's queue: the alarm's own notifications (CloudWatch publishes
        # through the topic policy and the topic's key policy).
        inbox.drain()
        late = inbox.alarms("RpoAlarm", after=settled)
        oks = inbox.alarms("RpoAlarm", state="OK")
        say(f"RPO alarm notifications received: {len(inbox.alarms('RpoAlarm'))} ALARM (before the first copy: "
            f"no recovery point yet), {len(oks)} OK, {len(late)} ALARM after the first copy settled")
        if late or not oks:
            ok = False
        # The forecast from measured copy times stays under RpoMinutes while the copies keep
        # their pace (a false forecast would page as surely as a late recovery point).
        forecast = rpo_alarm(dr_template, "RpoForecastAlarm")
        forecasts = evaluate_alarm(cloudwatch, forecast, dr_policy_id, settled, end)
        values = [v for _, v, _ in forecasts if v is not None]
        early = [p for p in forecasts if p[2]]
        say(f"RPO forecast alarm ({forecast['MetricName']} > {forecast['Threshold']:g}): {len(forecasts)} periods, "
            f"{len(early)} breaching, forecast {min(values, default=0):.0f}-{max(values, default=0):.0f} min")
        if early or not values or inbox.alarms("RpoForecastAlarm"):
            ok = False

    # The delivery lags the provider published (DeliveryLagMinutes, one datum per copy).
    published = []
    for db in databases:
        points = cloudwatch.get_metric_statistics(
            Namespace=alarm["Namespace"], MetricName="DeliveryLagMinutes",
            Dimensions=[{"Name": "Policy", "Value": dr_policy_id},
                        {"Name": "Database", "Value": f"{prod.account}/{db}"}],
            StartTime=START, EndTime=end, Period=3600, Statistics=["Maximum", "SampleCount"])["Datapoints"]
        count = sum(int(p["SampleCount"]) for p in points)
        worst = max((p["Maximum"] for p in points), default=0)
        published.append(f"{db} {count} copies, max {worst:.0f} min")
    say("published DeliveryLagMinutes: " + "; ".join(published))

    drilled, rows, leftovers, rto, after_drill = drill_scenario(endpoint, stacks, dr, dr_lambdas, observer)
    print()
    print(f"{'database':<9} {'restore':>8}  verdict (RtoMinutes {rto}, restore drill of the newest DR copy)")
    for database, minutes, verdict in rows:
        print(f"{database:<9} {('-' if minutes is None else f'{minutes} min'):>8}  {verdict}")
    print()
    say(f"restore drill: {len(rows)} databases restored in the DR account and deleted again; "
        f"drill resources left: {leftovers or 'none'}")
    ok = ok and drilled
    recorded, text = drill_records(dr, dr_policy_id, rows)
    say(f"drill records (durable, outliving the copies): {text}")
    ok = ok and recorded

    # The evidence after the drill (the schedules ran on during it): both accounts, every table,
    # the drill's times.
    reported, report = status_scenario(prod, dr, databases, args.workdir)
    if report:
        ages = ", ".join(f"{d['database']} {d['recoveryPointAgeMinutes']} min" for d in report["databases"])
        drills = ", ".join(f"{d['database']} {(d.get('lastDrill') or {}).get('minutes', '-')} min"
                           for d in report["databases"])
        say(f"status report (both accounts, {len(report['policies'])} policies discovered through "
            f"CloudFormation): {report['verdict']}; newest DR copy ages: {ages}; last drill: {drills}; "
            f"evidence in {os.path.join(args.workdir, 'status.md')} and status.html")
    ok = ok and reported

    refused, text = compromise_scenario(endpoint, prod_lambdas, stacks, dr)
    say(f"compromise scenario: {text}: " + ("refused, nothing changed" if refused else "NOT REFUSED"))
    ok = ok and refused
    post(f"{endpoint}/_rsp/alarms", {})
    inbox.drain()
    failures = [m for m in inbox.of_kind("failure") if "drifted-delete" in m["text"]]
    unexpected = inbox.alarms("UnexpectedSharesAlarm")
    # The production topics have no queue in this demo: the alarm's state shows it fired.
    outside_shares = [a["AlarmName"] for a in prod.client("cloudwatch").describe_alarms()["MetricAlarms"]
                      if "SharedOutsidePolicyAlarm" in a["AlarmName"] and a["StateValue"] == "ALARM"]
    say(f"notifications received: the failed delete execution's ({len(failures)}: "
        f"{failures[0]['text'][:90] + '...' if failures else 'none'}), the unexpected-shares alarm "
        f"({len(unexpected)} ALARM), the shared-outside-policy alarm ({len(outside_shares)} ALARM)")
    ok = ok and bool(failures) and bool(unexpected) and bool(outside_shares)

    # A failed execution in production notifies too: each source policy's delete machine, edited
    # outside CloudFormation, fails, and its Notify publishes to the policy's encrypted topic
    # (which shows the production roles' NotifyOnFailure and UseTheTopicKey statements necessary).
    prod_failed = production_failures(endpoint, stacks[1:])
    say(f"production failures: {prod_failed}")
    ok = ok and all(status == "FAILED" for status in prod_failed.values())

    # A policy's identity: a plain stack and a copycat stack try to prune the orders policy.
    now = parse_time(post(f"{endpoint}/_rsp/config", {})["clock"]).strftime("%Y-%m-%dT%H:%M:%SZ")
    plain_ok, plain_text = identity_attacks.plain_stack_attack(endpoint, post, prod, stacks[1], now)
    say(f"identity: {plain_text}: " + ("refused, nothing deleted" if plain_ok else "NOT REFUSED"))
    legacy_ok, legacy_text = identity_attacks.plain_stack_attack(endpoint, post, prod, stacks[1], now, legacy=True)
    say(f"identity: {legacy_text}: " + ("refused, nothing deleted" if legacy_ok else "NOT REFUSED"))
    plain_ok = plain_ok and legacy_ok
    copycat_ok, copycat_text = identity_attacks.copycat_attack(endpoint, post, prod, prod_lambdas, invoke,
                                                               stacks[1], now)
    say(f"identity: {copycat_text}: " + ("refused, nothing deleted" if copycat_ok else "NOT REFUSED"))
    ok = ok and plain_ok and copycat_ok

    # Tampering: the operator role (not the provider's) deletes an old DR copy by hand.
    tampered, tamper_text = tamper_scenario(dr, inbox)
    say(f"tamper scenario: {tamper_text}")
    ok = ok and tampered

    # The incidents above held the deletes; an operator releases them with the CLI.
    profiles = {s[0]: "rsp-demo-dr" if s[1] is dr else "rsp-demo-prod" for s in stacks}
    held_ok, held_text = incident.incident_hold(endpoint, post, stacks, profiles, CLI,
                                                operator_env(args.workdir))
    say(f"incident hold: {held_text}")
    ok = ok and held_ok

    if args.stall_hours > 0 and args.stall_from is None:
        stall_start = (parse_time(post(f"{endpoint}/_rsp/config", {})["clock"]).replace(second=0, microsecond=0)
                       + dt.timedelta(minutes=1))
        stall_end = stall_start + dt.timedelta(hours=args.stall_hours)
        post(f"{endpoint}/_rsp/config", {"copy_pending_seconds": 10 ** 7})
        say(f"stall scenario: copies never finish from {stall_start:%d %H:%M} for {args.stall_hours:g} hours")
        simulate(endpoint, stacks, stall_start, stall_end, observer)
        after = evaluate_alarm(cloudwatch, alarm, dr_policy_id, settled, stall_end)
        fired = next((p for p in after if p[2] and p[0] >= stall_start), None)
        if fired:
            value = "no data" if fired[1] is None else f"oldest recovery point {fired[1]:.0f} min"
            say(f"stall scenario: the RPO alarm's condition became true for the period from "
                f"{fired[0]:%d %H:%M} ({value} > {alarm['Threshold']:g})")
        else:
            ok = False
            say("stall scenario: the RPO alarm never became true although the copies stalled")
        inbox.drain()
        paged = inbox.alarms("RpoAlarm", after=stall_start)
        if paged:
            say(f"stall scenario: the RPO alarm's notification was received at {paged[0]['time']:%d %H:%M} "
                f"({paged[0]['name']}: {paged[0]['state']})")
        else:
            ok = False
            say("stall scenario: no RPO alarm notification reached the operator's queue")
        # The forecast saw it coming: its notification came while every recovery point was
        # still within RpoMinutes, i.e. before the RPO alarm's.
        warned = inbox.alarms("RpoForecastAlarm", after=stall_start)
        if warned and paged and warned[0]["time"] < paged[0]["time"]:
            say(f"stall scenario: the RPO forecast alarm's notification came first, at {warned[0]['time']:%d %H:%M}, "
                f"{(paged[0]['time'] - warned[0]['time']).total_seconds() / 60:.0f} minutes before the RPO alarm's")
        else:
            ok = False
            say("stall scenario: the RPO forecast alarm did not notify before the RPO alarm "
                f"({'at ' + format(warned[0]['time'], '%d %H:%M') if warned else 'never'})")
    elif args.stall_from is not None:
        say("the DR copies were stalled on purpose (--stall-from): the RPO must be missed")
    # Authorization: every call of the provider was decided by its role's policies.
    authorized, authz_text = authorization_verdict(endpoint)
    say(f"authorization: {authz_text}")
    ok = ok and authorized
    say("OK: every database met its RPO at the DR copy, the RPO alarm stayed quiet, retention held, "
        "forged tasks were refused, a plain stack and a copycat stack could not act as the orders policy, every database restored within RtoMinutes, `status` reported them protected, "
        "a failed execution, an unexpected share, a share made outside the tool and a manual delete each reached the operator's queue, the incidents held the deletes until released, "
        "and a stalled copy raised the forecast alarm before the RPO alarm, both notifications received"
        if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
