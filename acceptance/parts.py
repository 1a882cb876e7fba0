"""The acceptance run's parts: the two sides, the clock, waiting, the report, the inbox, and
the teardown helpers (acceptance.py holds the run itself)."""

import datetime as dt
import json
import os
import re
import time

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
RUN_TAG = "rds-snapshot-policy:acceptance-run"


class Failed(Exception):
    """A check did not hold; the message says what and with which evidence."""


# --- the two sides ------------------------------------------------------------------------------

class Side:
    """One account as one AWS profile (or the emulator's credentials) in one region."""

    def __init__(self, name, session, region):
        self.name, self.session, self.region = name, session, region
        self.account = session.client("sts", region_name=region).get_caller_identity()["Account"]
        self._clients = {}

    def client(self, service, region=None):
        key = (service, region or self.region)
        if key not in self._clients:
            self._clients[key] = self.session.client(service, region_name=key[1])
        return self._clients[key]


class WallClock:
    """AWS's own clock: waiting is sleeping."""

    emulated = False
    real_floor_seconds = 0

    def __init__(self, poll_seconds=30):
        self.poll_seconds = poll_seconds

    def now(self):
        return dt.datetime.now(dt.timezone.utc)

    def advance(self, running=()):
        time.sleep(self.poll_seconds)


def wait_for(clock, what, probe, minutes, running=()):
    """Polls `probe` until it returns something true; fails naming `what` after `minutes` on
    `clock` (simulated minutes on the emulator)."""
    deadline = clock.now() + dt.timedelta(minutes=minutes)
    began = time.time()
    while True:
        value = probe()
        if value:
            return value
        # The emulator's work (a stack, a Lambda's first build) takes real time too.
        if clock.now() >= deadline and time.time() - began >= clock.real_floor_seconds:
            raise Failed(f"{what}: not within {minutes} minutes")
        clock.advance(running)


# --- the report ---------------------------------------------------------------------------------

class Report:
    def __init__(self, path, run_id, prod, dr, emulated):
        self.path, self.checks = path, []
        self.head = {"run": run_id, "emulator": emulated,
                     "production": {"account": prod.account, "region": prod.region},
                     "dr": {"account": dr.account, "region": dr.region},
                     "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                     "tool": tool_version()}
        self.teardown = {"removed": [], "left": []}

    def add(self, name, ok, evidence, seconds):
        self.checks.append({"check": name, "ok": ok, "evidence": evidence, "seconds": round(seconds, 1)})
        mark = "PASS" if ok else "FAIL"
        print(f"acceptance: {mark} {name} ({seconds:.0f} s)", flush=True)
        for line in evidence:
            print(f"             {line}", flush=True)
        self.write()

    CHECKS = 9  # every check of Acceptance.run, in order

    @property
    def passed(self):
        """Every check ran and held, and the teardown left nothing."""
        return (len(self.checks) == self.CHECKS and all(c["ok"] for c in self.checks)
                and not self.teardown["left"])

    def write(self):
        body = dict(self.head, checks=self.checks, teardown=self.teardown,
                    verdict="passed" if self.passed else "failed",
                    ended=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
        with open(self.path + ".json", "w") as f:
            json.dump(body, f, indent=2, default=str)
        lines = [f"# rds-snapshot-policy acceptance run {self.head['run']}", "",
                 f"- tool: {self.head['tool']}", f"- production: {self.head['production']['account']} "
                 f"{self.head['production']['region']}", f"- DR: {self.head['dr']['account']} {self.head['dr']['region']}",
                 f"- emulator: {self.head['emulator']}", f"- started: {self.head['started']}",
                 f"- verdict: **{body['verdict']}**", "", "| check | result | seconds | evidence |", "|---|---|---|---|"]
        for c in self.checks:
            evidence = "<br>".join(str(e).replace("|", "\\|") for e in c["evidence"])
            lines.append(f"| {c['check']} | {'pass' if c['ok'] else 'FAIL'} | {c['seconds']} | {evidence} |")
        lines += ["", f"Removed at teardown: {len(self.teardown['removed'])}.",
                  "Left behind: " + (", ".join(self.teardown["left"]) or "nothing") + "."]
        with open(self.path + ".md", "w") as f:
            f.write("\n".join(lines) + "\n")


def tool_version():
    with open(os.path.join(ROOT, "Cargo.toml")) as f:
        return re.search(r'^version = "([^"]+)"', f.read(), re.M).group(1)


# --- helpers --------------------------------------------------------------------------------------

def _tag(loader, suffix, node):
    """A short-form tag (`!Ref`, `!GetAtt a.b`, `!Sub`, ...) as its long form."""
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


def tags(run_id):
    return [{"Key": RUN_TAG, "Value": run_id}]


def tag_of(snapshot, key):
    return next((t["Value"] for t in snapshot.get("TagList", []) if t["Key"] == key), None)


def snapshots(rds, kind, **filters):
    """Every manual snapshot of `kind` ("instance" or "cluster"), all pages."""
    op, field = (("describe_db_snapshots", "DBSnapshots") if kind == "instance"
                 else ("describe_db_cluster_snapshots", "DBClusterSnapshots"))
    out = []
    for page in rds.get_paginator(op).paginate(SnapshotType="manual", **filters):
        out += page[field]
    return out


def every(client, operation, field, **arguments):
    """Every item of a paged describe (RDS serves at most 100 a page)."""
    return [item for page in client.get_paginator(operation).paginate(**arguments) for item in page[field]]


def snapshot_id(snapshot):
    return snapshot.get("DBSnapshotIdentifier") or snapshot.get("DBClusterSnapshotIdentifier")


def snapshot_arn(snapshot):
    return snapshot.get("DBSnapshotArn") or snapshot.get("DBClusterSnapshotArn")


def when(value):
    return value.isoformat(timespec="seconds") if isinstance(value, dt.datetime) else str(value)


# --- teardown helpers -------------------------------------------------------------------------------

def empty_and_delete_bucket(s3, name):
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
        objects = [{"Key": o["Key"], "VersionId": o["VersionId"]}
                   for o in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        if objects:
            s3.delete_objects(Bucket=name, Delete={"Objects": objects})
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        objects = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if objects:
            s3.delete_objects(Bucket=name, Delete={"Objects": objects})
    s3.delete_bucket(Bucket=name)


def delete_instance(rds, name):
    try:
        rds.delete_db_instance(DBInstanceIdentifier=name, SkipFinalSnapshot=True, DeleteAutomatedBackups=True)
    except rds.exceptions.DBInstanceNotFoundFault:
        pass


def delete_cluster(rds, name):
    for member in rds.describe_db_instances(Filters=[{"Name": "db-cluster-id", "Values": [name]}])["DBInstances"]:
        delete_instance(rds, member["DBInstanceIdentifier"])
    try:
        rds.delete_db_cluster(DBClusterIdentifier=name, SkipFinalSnapshot=True)
    except rds.exceptions.DBClusterNotFoundFault:
        pass


def delete_snapshot(rds, kind, name, clock):
    """Deletes a snapshot; one still being created or copied is deleted once AWS allows it (a
    copy in progress is cancelled by deleting its target)."""
    def gone():
        try:
            if kind == "instance":
                rds.delete_db_snapshot(DBSnapshotIdentifier=name)
            else:
                rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=name)
            return True
        except (rds.exceptions.DBSnapshotNotFoundFault, rds.exceptions.DBClusterSnapshotNotFoundFault):
            return True
        except (rds.exceptions.InvalidDBSnapshotStateFault, rds.exceptions.InvalidDBClusterSnapshotStateFault):
            return False

    wait_for(clock, f"deleting {name}", gone, 60)


def delete_stack(side, stack_id, retained, clock):
    cfn = side.client("cloudformation")
    cfn.delete_stack(StackName=stack_id)

    def deleted():
        status = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]
        return status if not status.endswith("IN_PROGRESS") else None

    status = wait_for(clock, f"deleting {stack_id}", deleted, 30)
    if status != "DELETE_COMPLETE":
        raise Failed(f"{stack_id} is {status}")
    for kind, physical in retained:
        if kind == "AWS::Logs::LogGroup":
            try:
                side.client("logs").delete_log_group(logGroupName=physical)
            except side.client("logs").exceptions.ResourceNotFoundException:
                pass
        else:
            side.client("kms").schedule_key_deletion(KeyId=physical.rsplit("/", 1)[-1], PendingWindowInDays=7)


def leftovers(run):
    """What still carries the run's name or tag after the teardown, in both accounts."""
    left = []
    for side in (run.prod, run.dr):
        rds = side.client("rds")
        # The run's databases and the drill's restores of them (rsp-drill-<digest>-<account>-<db>).
        left += [d["DBInstanceArn"] for d in every(rds, "describe_db_instances", "DBInstances")
                 if run.run_id in d["DBInstanceIdentifier"] and d["DBInstanceStatus"] != "deleting"]
        left += [c["DBClusterArn"] for c in every(rds, "describe_db_clusters", "DBClusters")
                 if run.run_id in c["DBClusterIdentifier"] and c["Status"] != "deleting"]
        for kind in ("instance", "cluster"):
            left += [snapshot_arn(s) for s in snapshots(rds, kind) if snapshot_id(s).startswith(run.run_id)]
        cfn = side.client("cloudformation")
        left += [s["StackId"] for s in every(cfn, "describe_stacks", "Stacks")
                 if s["StackName"].startswith(run.run_id) and s["StackStatus"] != "DELETE_COMPLETE"]
        left += [f"s3://{b['Name']}" for b in side.client("s3").list_buckets()["Buckets"]
                 if b["Name"].startswith(run.run_id)]
        sqs = side.client("sqs")
        left += sqs.list_queues(QueueNamePrefix=run.run_id).get("QueueUrls", [])
        logs = side.client("logs")
        for prefix in (f"/rds-snapshot-policy/drills/{run.run_id}", f"/aws/lambda/{run.run_id}"):
            left += [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix=prefix)["logGroups"]]
    return left


# --- the inbox ---------------------------------------------------------------------------------------

class Inbox:
    """An SQS queue subscribed to a topic, as a pager would be: its policy lets only that topic
    send (SNS guide, "Fanout to Amazon SQS queues")."""

    def __init__(self, side, topic_arn, name, run):
        self.sqs = side.client("sqs")
        self.url = self.sqs.create_queue(QueueName=name, tags={RUN_TAG: run.run_id})["QueueUrl"]
        run.remember(f"SQS queue {self.url}", lambda: self.sqs.delete_queue(QueueUrl=self.url), first=True)
        self.arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.sqs.set_queue_attributes(QueueUrl=self.url, Attributes={"Policy": json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Sid": "TheTopicDelivers", "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage", "Resource": self.arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}}}]})})
        sns = side.client("sns")
        subscription = sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=self.arn,
                                     Attributes={"RawMessageDelivery": "true"},
                                     ReturnSubscriptionArn=True)["SubscriptionArn"]
        run.remember(f"subscription {subscription}", lambda: sns.unsubscribe(SubscriptionArn=subscription), first=True)
        self.messages = []

    def drain_all(self):
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10,
                                             WaitTimeSeconds=1).get("Messages", [])
            if not batch:
                return list(self.messages)
            for message in batch:
                try:
                    body = json.loads(message["Body"])
                except ValueError:
                    body = {"text": message["Body"]}
                self.messages.append(body if isinstance(body, dict) else {"text": body})
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
