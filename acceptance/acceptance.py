"""The acceptance run: does rds-snapshot-policy work in *your* two accounts?

Point it at a sandbox pair of accounts (one AWS profile each). It creates a tiny encrypted DB
instance and a tiny encrypted Aurora cluster in the production account, installs the tool in
both accounts and deploys one source policy per database and one DR policy, then checks, with
AWS's own evidence (ARNs, times):

  take -> share -> copy (one-step encrypted cross-account, cross-region copy, both kinds)
  -> restore drill -> `rds-snapshot-policy status` -> a forced RPO alarm and a tamper event,
  each received on a queue subscribed to the DR policy's topic -> a share sweep over a
  synthetic backlog (the task output stays under Step Functions' 256 KiB)

and tears everything down (also on failure or Ctrl-C), listing anything it could not remove.
Each check is printed as it ends; the report (JSON and markdown) can be attached to a bug report.
It states its cost and duration and asks before it creates anything (unless --yes).

`make acceptance PROD_PROFILE=... DR_PROFILE=...` runs it (after `make package`);
`--emulator` runs the same code against the local emulator (CI does, in `make test`).
"""

import argparse
import datetime as dt
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import boto3

from parts import (RUN_TAG, Failed, Inbox, Report, Side, WallClock, delete_cluster, delete_instance,
                   delete_snapshot, delete_stack, empty_and_delete_bucket, leftovers, load_template, snapshot_arn,
                   snapshot_id, snapshots, tag_of, tags, tool_version, wait_for, when)
from spread_minute import identity, snapshot_minute

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
CLI = os.path.join(ROOT, "target", "debug", "rds-snapshot-policy")
STEP_FUNCTIONS_PAYLOAD_LIMIT = 256 * 1024  # Step Functions quotas: 256 KiB per state payload
COST_AND_TIME = """\
What it creates, for about 2 to 3 hours (on AWS's prices in us-east-1; others are similar):
  production: a db.t4g.micro PostgreSQL instance (20 GiB) and an Aurora PostgreSQL cluster with one
    db.t4g.medium instance, both encrypted with a new customer-managed KMS key; their snapshots
  DR: a customer-managed KMS key, the copies (a few GiB-hours), the drill's restored instance and
    cluster for about half an hour, one SQS queue
  both: the install stack (two Lambda functions, a KMS key for their logs), the policy stacks
    (state machines, schedules, alarms, topics), an S3 bucket for the packages and templates
Cost: about 1 USD (instances ~0.30, KMS keys ~0.15 prorated, copies and transfer a few cents,
  Step Functions, Lambda, CloudWatch and SQS within cents). The three KMS keys are scheduled for
  deletion after 7 days (AWS's minimum) and cost nothing while pending deletion.
Duration: about 1.5 to 2.5 hours (database creation ~15 min, cross-region copies and the restore
  drill most of the rest); nothing needs you meanwhile."""


# --- the run ----------------------------------------------------------------------------------------

class Acceptance:
    def __init__(self, args, prod, dr, clock, packages):
        self.args, self.prod, self.dr, self.clock, self.packages = args, prod, dr, clock, packages
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%m%d%H%M")
        self.run_id = args.run_id or f"rspacc-{stamp}-{secrets.token_hex(2)}"
        self.report = Report(os.path.join(args.report_dir, f"acceptance-{self.run_id}"), self.run_id, prod, dr,
                             clock.emulated)
        self.undo = []  # (what, function, first): undone last first, the `first` ones before the snapshots
        self.instance, self.cluster = f"{self.run_id}-pg", f"{self.run_id}-aurora"
        self.stacks = {}
        self.needs_service_linked_role = False  # found by preflight

    # -- bookkeeping
    def say(self, message):
        print(f"acceptance: {message}", flush=True)

    def remember(self, what, undo, first=False):
        """`undo` removes `what` at teardown; `first`: before the snapshots are deleted (the
        policy stacks, so that no schedule, rule or tamper notification acts on the teardown)."""
        self.undo.append((what, undo, first))

    def check(self, name, body):
        """Runs one check: `body` returns its evidence lines or raises Failed."""
        began = time.time()
        try:
            evidence = body()
        except Failed as failure:
            self.report.add(name, False, [str(failure)], time.time() - began)
            raise
        except Exception as error:  # noqa: BLE001 - an AWS error fails the check, named
            self.report.add(name, False, [f"{type(error).__name__}: {error}"], time.time() - began)
            raise Failed(f"{name}: {error}") from error
        self.report.add(name, True, evidence, time.time() - began)
        return evidence

    # -- preflight
    def preflight(self):
        problems, notes = [], []
        if self.prod.account == self.dr.account:
            problems.append(f"both profiles are account {self.prod.account}: use two accounts")
        for side in (self.prod, self.dr):
            iam = side.client("iam")
            try:
                iam.get_role(RoleName=f"rds-snapshot-policy-provider-{side.region}")
                problems.append(f"{side.name} {side.account} already has rds-snapshot-policy installed in "
                                f"{side.region}: run the acceptance in a sandbox pair without it")
            except iam.exceptions.NoSuchEntityException:
                pass
            trail = side.client("cloudtrail")
            logging = [t["Name"] for t in trail.describe_trails()["trailList"]
                       if (t.get("IsMultiRegionTrail") or t.get("HomeRegion") == side.region)
                       and trail.get_trail_status(Name=t["TrailARN"]).get("IsLogging")]
            if not logging:
                problems.append(f"{side.name} {side.account}: no CloudTrail trail logs management events in "
                                f"{side.region}; the tamper check needs one (README, Deploying)")
            attributes = {q["AccountQuotaName"]: q for q in
                          side.client("rds").describe_account_attributes()["AccountQuotas"]}
            for quota, need in (("ManualSnapshots", self.args.backlog + 12), ("ManualClusterSnapshots", 12)):
                q = attributes.get(quota)
                if q and q["Max"] - q["Used"] < need:
                    problems.append(f"{side.name} {side.account}: {quota} {q['Used']} of {q['Max']} used, the run "
                                    f"needs {need} (lower --backlog or free some)")
        try:
            self.dr.client("iam").get_role(RoleName="AWSServiceRoleForRDS")
        except self.dr.client("iam").exceptions.NoSuchEntityException:
            self.needs_service_linked_role = True
            notes.append("DR has no RDS service-linked role: the run creates it (AWS keeps it; it costs nothing)")
        for side, group in ((self.prod, self.args.prod_subnet_group), (self.dr, self.args.dr_subnet_group)):
            name = group or "default"
            try:
                side.client("rds").describe_db_subnet_groups(DBSubnetGroupName=name)
            except Exception:  # noqa: BLE001
                if group or not self.clock.emulated:
                    problems.append(f"{side.name} {side.account}: no DB subnet group {name!r} in {side.region} "
                                    f"(pass --{side.name}-subnet-group)")
        if self.args.provider_concurrency:
            for side in (self.prod, self.dr):
                found = concurrency_problems(side, self.args.provider_concurrency)
                problems += found
                if not found:
                    notes.append(f"{side.name} {side.account}: Lambda's unreserved concurrency in {side.region} "
                                 f"leaves room to reserve {self.args.provider_concurrency} for the provider")
        for kind, path in self.packages.items():
            if not os.path.exists(path):
                problems.append(f"the {kind} package {path} is missing: run `make package` first")
        return problems, notes

    # -- setup
    def bucket_for(self, side):
        name = f"{self.run_id}-{side.account}-{side.region}"
        s3 = side.client("s3")
        config = {} if side.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": side.region}}
        s3.create_bucket(Bucket=name, **config)
        self.remember(f"s3://{name}", lambda: empty_and_delete_bucket(s3, name))
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
        for kind, path in self.packages.items():
            s3.upload_file(path, name, f"rds-snapshot-policy/{os.path.basename(path)}")
        return name

    def key(self, side, description, statements):
        kms = side.client("kms")
        key = kms.create_key(Description=description, Tags=[{"TagKey": RUN_TAG, "TagValue": self.run_id}],
                             Policy=json.dumps({"Version": "2012-10-17", "Statement": [
                                 {"Sid": "AccountAdministers", "Effect": "Allow",
                                  "Principal": {"AWS": f"arn:aws:iam::{side.account}:root"},
                                  "Action": "kms:*", "Resource": "*"}, *statements]}))["KeyMetadata"]["Arn"]
        # By key ID: both forms are AWS's, and the emulator knows only this one.
        self.remember(f"KMS key {key}", lambda: kms.schedule_key_deletion(KeyId=key.rsplit("/", 1)[-1],
                                                                          PendingWindowInDays=7))
        return key

    def databases(self, key):
        rds = self.prod.client("rds")
        password = secrets.token_urlsafe(24)
        subnet = {"DBSubnetGroupName": self.args.prod_subnet_group} if self.args.prod_subnet_group else {}
        rds.create_db_instance(
            DBInstanceIdentifier=self.instance, Engine="postgres", DBInstanceClass="db.t4g.micro",
            AllocatedStorage=20, StorageEncrypted=True, KmsKeyId=key, MasterUsername="acceptance",
            MasterUserPassword=password, BackupRetentionPeriod=1, PubliclyAccessible=False,
            DeletionProtection=False, CopyTagsToSnapshot=True, Tags=tags(self.run_id), **subnet)
        self.remember(f"DB instance {self.instance}", lambda: delete_instance(rds, self.instance))
        rds.create_db_cluster(
            DBClusterIdentifier=self.cluster, Engine="aurora-postgresql", MasterUsername="acceptance",
            MasterUserPassword=password, StorageEncrypted=True, KmsKeyId=key, BackupRetentionPeriod=1,
            DeletionProtection=False, CopyTagsToSnapshot=True, Tags=tags(self.run_id), **subnet)
        self.remember(f"DB cluster {self.cluster}", lambda: delete_cluster(rds, self.cluster))
        rds.create_db_instance(DBInstanceIdentifier=f"{self.cluster}-1", DBClusterIdentifier=self.cluster,
                               Engine="aurora-postgresql", DBInstanceClass="db.t4g.medium", Tags=tags(self.run_id))
        self.remember(f"DB instance {self.cluster}-1", lambda: delete_instance(rds, f"{self.cluster}-1"))

        def available():
            states = [d["DBInstanceStatus"] for d in rds.describe_db_instances(Filters=[
                {"Name": "db-instance-id", "Values": [self.instance, f"{self.cluster}-1"]}])["DBInstances"]]
            states += [c["Status"] for c in rds.describe_db_clusters(DBClusterIdentifier=self.cluster)["DBClusters"]]
            return len(states) == 3 and all(s == "available" for s in states)

        wait_for(self.clock, "the run's databases available", available, 40)
        instance = rds.describe_db_instances(DBInstanceIdentifier=self.instance)["DBInstances"][0]
        cluster = rds.describe_db_clusters(DBClusterIdentifier=self.cluster)["DBClusters"][0]
        return [f"{instance['DBInstanceArn']} (encrypted: {instance.get('StorageEncrypted')}, key {instance.get('KmsKeyId')})",
                f"{cluster['DBClusterArn']} (encrypted: {cluster.get('StorageEncrypted')}, key {cluster.get('KmsKeyId')})"]

    def deploy(self, side, bucket, name, template, parameters, policy=True):
        """Creates a stack from a template uploaded to the run's bucket; waits for it."""
        s3, cfn = side.client("s3"), side.client("cloudformation")
        key = f"templates/{name}.json"
        s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(template).encode())
        url = f"https://{bucket}.s3.{side.region}.amazonaws.com/{key}"
        stack_id = cfn.create_stack(
            StackName=name, TemplateURL=url, Tags=[{"Key": RUN_TAG, "Value": self.run_id}],
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"])["StackId"]
        retained = []
        self.remember(f"stack {name} ({side.account}/{side.region})",
                      lambda: delete_stack(side, stack_id, retained, self.clock), first=policy)

        def settled():
            stack = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
            return None if stack["StackStatus"].endswith("IN_PROGRESS") else stack

        stack = wait_for(self.clock, f"stack {name}", settled, 30)
        if stack["StackStatus"] != "CREATE_COMPLETE":
            reasons = [f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason')}"
                       for e in cfn.describe_stack_events(StackName=stack_id)["StackEvents"]
                       if e.get("ResourceStatusReason")]
            raise Failed(f"stack {name} is {stack['StackStatus']}: {reasons[:6]}")
        resources = {r["LogicalResourceId"]: r
                     for r in cfn.describe_stack_resources(StackName=stack_id)["StackResources"]}
        # What CloudFormation keeps when the stack goes (DeletionPolicy: Retain): removed by hand.
        processed = cfn.get_template(StackName=stack_id, TemplateStage="Processed")["TemplateBody"]
        processed = processed if isinstance(processed, dict) else json.loads(processed)
        retained += [(r["ResourceType"], r["PhysicalResourceId"]) for logical, r in resources.items()
                     if processed["Resources"].get(logical, {}).get("DeletionPolicy") == "Retain"
                     and r["ResourceType"] in ("AWS::Logs::LogGroup", "AWS::KMS::Key") and r.get("PhysicalResourceId")]
        self.stacks[name] = {"side": side, "id": stack_id, "template": processed,
                             "resources": {k: r.get("PhysicalResourceId") for k, r in resources.items()}}
        return f"{stack_id}: CREATE_COMPLETE, {len(resources)} resources"

    def take_schedules(self, side, stack):
        """Each source policy's take schedule as deployed: SpreadSnapshots (the default) puts it
        at its database's own minute, answered by the deploy-time check."""
        events, found = side.client("events"), []
        databases = {"InstanceSnapshots": ("instance", self.instance), "ClusterSnapshots": ("cluster", self.cluster)}
        for logical, name in sorted(self.stacks[stack]["resources"].items()):
            policy = logical.removesuffix("TakeSchedule")
            if logical.endswith("TakeSchedule") and policy in databases and name:
                rule = events.describe_rule(Name=name.split("/")[-1])
                minute = snapshot_minute(identity(side.account, side.region, *databases[policy]), 30)
                expected = f"cron({minute}/30 * * * ? *)"
                if rule.get("ScheduleExpression") != expected:
                    raise Failed(f"{logical}: take schedule {rule.get('ScheduleExpression')!r}, not the "
                                 f"database's own minute {expected}")
                found.append(f"{logical} ({rule['Name']}): {expected}, the database's own minute")
        if not found:
            raise Failed(f"stack {stack} has no take schedule")
        return found

    # -- state machines
    def machine(self, stack, logical_suffix):
        resources = self.stacks[stack]["resources"]
        matches = [arn for logical, arn in resources.items() if logical.endswith(logical_suffix)]
        if len(matches) != 1:
            raise Failed(f"stack {stack} has {len(matches)} resources ending in {logical_suffix}")
        return matches[0]

    def policy_property(self, stack, name):
        """A property of the (one) policy resource of `stack`, as deployed."""
        template = self.stacks[stack]["template"]
        for resource in template["Resources"].values():
            if resource.get("Type") in ("Custom::RdsSnapshotPolicy", "AWS::CloudFormation::CustomResource"):
                return resource.get("Properties", {}).get(name)
        return None

    def schedule_input(self, stack, machine_arn):
        """The input the machine's schedule sends (its constant Input, else the scheduled event)."""
        template, resources = self.stacks[stack]["template"], self.stacks[stack]["resources"]
        for logical, resource in template["Resources"].items():
            props = resource.get("Properties", {})
            if (resource.get("Type") != "AWS::Events::Rule" or "ScheduleExpression" not in props
                    or "Sweep" in logical):  # the drill's hourly sweep only reads the records
                continue
            target = props["Targets"][0]
            if resources.get(target["Arn"].get("Ref")) == machine_arn and target.get("Input"):
                return json.loads(target["Input"])
        return {"version": "0", "detail-type": "Scheduled Event", "source": "aws.events",
                "time": self.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"), "detail": {}}

    def execute(self, side, stack, suffix, name, extra=None, minutes=60):
        """Starts the stack's state machine as its schedule would and waits for it to end."""
        sfn = side.client("stepfunctions")
        machine = self.machine(stack, suffix)
        payload = dict(self.schedule_input(stack, machine), **(extra or {}))
        arn = sfn.start_execution(stateMachineArn=machine, name=f"{self.run_id}-{name}",
                                  input=json.dumps(payload))["executionArn"]

        def ended():
            d = sfn.describe_execution(executionArn=arn)
            return None if d["status"] == "RUNNING" else d

        d = wait_for(self.clock, f"execution {arn}", ended, minutes, running=[arn])
        if d["status"] != "SUCCEEDED":
            raise Failed(f"{arn} {d['status']}: {d.get('error')} {(d.get('cause') or '')[:400]}")
        return arn, d

    # -- the checks
    def run(self):
        prod, dr = self.prod, self.dr
        self.say(f"run {self.run_id}: production {prod.account}/{prod.region}, DR {dr.account}/{dr.region}")
        ctx = {}

        def setup():
            if self.needs_service_linked_role:
                dr.client("iam").create_service_linked_role(AWSServiceName="rds.amazonaws.com")
            ctx["prod_bucket"], ctx["dr_bucket"] = self.bucket_for(prod), self.bucket_for(dr)
            ctx["prod_key"] = self.key(prod, f"{self.run_id}: the acceptance run's databases", [
                {"Sid": "DrAccountCopiesSnapshots", "Effect": "Allow",
                 "Principal": {"AWS": f"arn:aws:iam::{dr.account}:root"},
                 "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant"], "Resource": "*"}])
            ctx["dr_key"] = self.key(dr, f"{self.run_id}: the acceptance run's DR copies", [])
            evidence = [f"code and template buckets {ctx['prod_bucket']}, {ctx['dr_bucket']}",
                        f"production key {ctx['prod_key']} (the DR account may decrypt, describe, grant)",
                        f"DR key {ctx['dr_key']}"]
            return evidence + self.databases(ctx["prod_key"])

        def install():
            evidence = []
            template = load_template(os.path.join(ROOT, "templates", "install.yaml"))
            for side, bucket, allow in ((dr, ctx["dr_bucket"], {"AllowedSourceAccounts": prod.account}),
                                        (prod, ctx["prod_bucket"], {"AllowedDestinationAccounts": dr.account})):
                evidence.append(self.deploy(side, bucket, f"{self.run_id}-install", template, dict(
                    ArtifactBucket=bucket, MacroArtifactKey=f"rds-snapshot-policy/{os.path.basename(self.packages['macro'])}",
                    ProviderArtifactKey=f"rds-snapshot-policy/{os.path.basename(self.packages['provider'])}",
                    ProviderConcurrency=str(self.args.provider_concurrency), **allow),
                    policy=False))
            destination = load_template(os.path.join(TEMPLATES, "destination.yaml"))
            if self.args.dr_subnet_group:
                destination["Resources"]["RunCopies"]["Properties"]["DrillDBSubnetGroupName"] = self.args.dr_subnet_group
            evidence.append(self.deploy(dr, ctx["dr_bucket"], f"{self.run_id}-dr", destination, {
                "ProductionAccountId": prod.account, "ProductionRegion": prod.region, "DrKeyArn": ctx["dr_key"],
                "RunPattern": f"^({self.instance}|{self.cluster})-[0-9]{{4}}-"}))
            evidence.append(self.deploy(prod, ctx["prod_bucket"], f"{self.run_id}-source",
                                        load_template(os.path.join(TEMPLATES, "source.yaml")), {
                                            "InstanceId": self.instance, "ClusterId": self.cluster,
                                            "DrAccountId": dr.account, "DrRegion": dr.region}))
            return evidence + self.take_schedules(prod, f"{self.run_id}-source")

        source, drs = f"{self.run_id}-source", f"{self.run_id}-dr"
        prod_rds, dr_rds = prod.client("rds"), dr.client("rds")

        def take():
            evidence = []
            for policy, kind, db in (("InstanceSnapshots", "instance", self.instance),
                                     ("ClusterSnapshots", "cluster", self.cluster)):
                arn, _ = self.execute(prod, source, f"{policy}TakeStateMachine", f"take-{kind}")

                def taken():
                    mine = [s for s in snapshots(prod_rds, kind) if snapshot_id(s).startswith(db + "-")
                            and tag_of(s, "rds-snapshot-policy:database") == db]
                    return [s for s in mine if s["Status"] == "available"]

                found = wait_for(self.clock, f"{kind} snapshot of {db} available", taken, 45)
                ctx[f"{kind}_snapshot"] = found[-1]
                evidence.append(f"{arn} SUCCEEDED; {snapshot_arn(found[-1])} available, created "
                                f"{when(found[-1].get('SnapshotCreateTime'))}, encrypted {found[-1].get('KmsKeyId')}")
            return evidence

        def share():
            evidence = []
            for policy, kind in (("InstanceSnapshots", "instance"), ("ClusterSnapshots", "cluster")):
                arn, _ = self.execute(prod, source, f"{policy}ShareStateMachine", f"share-{kind}")
                sid = snapshot_id(ctx[f"{kind}_snapshot"])
                attrs = (prod_rds.describe_db_snapshot_attributes(DBSnapshotIdentifier=sid)["DBSnapshotAttributesResult"]
                         if kind == "instance" else
                         prod_rds.describe_db_cluster_snapshot_attributes(DBClusterSnapshotIdentifier=sid)[
                             "DBClusterSnapshotAttributesResult"])
                key = "DBSnapshotAttributes" if kind == "instance" else "DBClusterSnapshotAttributes"
                restore = next((a["AttributeValues"] for a in attrs[key] if a["AttributeName"] == "restore"), [])
                if restore != [dr.account]:
                    raise Failed(f"{sid} is shared with {restore}, not exactly the DR account {dr.account}")
                evidence.append(f"{arn} SUCCEEDED; {sid} restore attribute = {restore}")
            return evidence

        def copy():
            arn, _ = self.execute(dr, drs, "CopyStateMachine", "copy")
            evidence = [f"{arn} SUCCEEDED"]
            for kind, db in (("instance", self.instance), ("cluster", self.cluster)):
                def copied():
                    done = [s for s in snapshots(dr_rds, kind) if tag_of(s, "rds-snapshot-policy:database") == db
                            and s["Status"] == "available"]
                    return done

                found = wait_for(self.clock, f"the DR copy of {db} in {dr.region}", copied, 120)
                c = found[-1]
                if c.get("KmsKeyId") != ctx["dr_key"]:
                    raise Failed(f"{snapshot_arn(c)} is encrypted with {c.get('KmsKeyId')}, not the DR key {ctx['dr_key']}")
                ctx[f"{kind}_copy"] = c
                source = c.get("SourceDBSnapshotIdentifier") or c.get("SourceDBClusterSnapshotArn")
                evidence.append(f"{snapshot_arn(c)} available in {dr.account}/{dr.region} under {c['KmsKeyId']}, "
                                f"created {when(c.get('SnapshotCreateTime'))}" + (f", from {source}" if source else ""))
            return evidence

        def drill():
            extra = {"waitSeconds": 1} if self.clock.emulated else {}
            arn, d = self.execute(dr, drs, "DrillStateMachine", "drill", extra=extra, minutes=240)
            restores = json.loads(d.get("output") or "{}").get("drill", {}).get("run", {}).get("restores", [])
            got = {r.get("database"): r for r in restores}
            want = {f"{prod.account}/{self.instance}", f"{prod.account}/{self.cluster}"}
            short = {k.rsplit("/", 1)[-1] for k in got}
            if not ({w.rsplit("/", 1)[-1] for w in want} <= short):
                raise Failed(f"{arn} restored {sorted(got)}, not both databases: {(d.get('output') or '')[:1500]}")
            rto = int(self.policy_property(drs, "RtoMinutes") or 180)
            evidence = [f"{arn} SUCCEEDED"]
            for db, r in sorted(got.items()):
                minutes = r.get("minutes")
                if minutes is None or minutes > rto:
                    raise Failed(f"{db}: restored {r.get('snapshotArn')} as {r.get('identifier')} in {minutes} min, "
                                 f"RtoMinutes {rto}")
                evidence.append(f"{db}: {r.get('snapshotArn')} restored as {r.get('identifier')}, requested "
                                f"{r.get('requested')}, available {r.get('available')}: {minutes} min (RtoMinutes {rto})")
            return evidence

        def status():
            command = [self.args.cli, "status", "--source-profile", self.args.prod_profile,
                       "--dr-profile", self.args.dr_profile, "--json"]
            done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=self.args.cli_env)
            if done.returncode not in (0, 3):
                raise Failed(f"`{' '.join(command[1:])}` exited {done.returncode}: {done.stderr.strip()[:600]}")
            report = json.loads(done.stdout)
            rows = {d["database"].rsplit("/", 1)[-1]: d for d in report["databases"]}
            evidence = [f"`rds-snapshot-policy {' '.join(command[1:])}`: verdict {report['verdict']}, exit {done.returncode}"]
            for db in (self.instance, self.cluster):
                row = rows.get(db)
                if not row or not row.get("newestCopy") or not row.get("shared"):
                    raise Failed(f"status does not show {db} copied and shared: {json.dumps(row)[:400]}")
                if not row.get("lastDrill"):
                    raise Failed(f"status shows no drill of {db}: {json.dumps(row)[:400]}")
                copy = row["newestCopy"]
                evidence.append(f"{db}: newest DR copy {copy.get('id')} (recovery point {copy.get('recoveryPoint')}, "
                                f"age {row.get('recoveryPointAgeMinutes')} min, RPO met: {row.get('rpoMet')}), "
                                f"shared, last drill {row['lastDrill'].get('minutes', '-')} min")
            if self.clock.emulated:
                evidence.append("on the emulator no schedule runs between the steps, so the recovery points age "
                                "with its clock; on AWS the schedules keep them fresh")
            return evidence

        def alarm_and_tamper():
            topic = next(arn for logical, arn in self.stacks[drs]["resources"].items()
                         if logical.endswith("NotificationTopic"))
            inbox = Inbox(dr, topic, f"{self.run_id}-inbox", self)
            cloudwatch = dr.client("cloudwatch")
            name = next(physical for logical, physical in self.stacks[drs]["resources"].items()
                        if logical.endswith("RpoAlarm"))
            alarm = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
            forced = self.clock.now()
            # An alarm already in ALARM runs no action when set to ALARM again: through OK first.
            if alarm["StateValue"] == "ALARM":
                cloudwatch.set_alarm_state(AlarmName=alarm["AlarmName"], StateValue="OK",
                                           StateReason=f"acceptance run {self.run_id}: reset before forcing")
            cloudwatch.set_alarm_state(AlarmName=alarm["AlarmName"], StateValue="ALARM",
                                       StateReason=f"acceptance run {self.run_id}: forced to test the notification path")
            got = wait_for(self.clock, f"the forced {alarm['AlarmName']} notification on {inbox.url}",
                           lambda: [m for m in inbox.drain_all() if m.get("AlarmName") == alarm["AlarmName"]
                                    and m.get("NewStateValue") == "ALARM"], 15)
            evidence = [f"{alarm['AlarmArn']} forced to ALARM at {when(forced)}; notification received on {inbox.arn} "
                        f"(StateChangeTime {got[0].get('StateChangeTime')})"]
            # Tamper: the operator (not the provider) deletes the DR copy of the instance.
            victim = ctx["instance_copy"]
            dr_rds.delete_db_snapshot(DBSnapshotIdentifier=victim["DBSnapshotIdentifier"])
            deleted = self.clock.now()
            got = wait_for(self.clock, f"the tamper notification for {victim['DBSnapshotIdentifier']}",
                           lambda: [m for m in inbox.drain_all() if m.get("event", "").startswith("Delete")
                                    and victim["DBSnapshotIdentifier"] in json.dumps(m)], 30)
            evidence.append(f"{snapshot_arn(victim)} deleted by this run's identity at {when(deleted)}; tamper "
                            f"notification received: {got[0].get('event')} by {got[0].get('by')}")
            return evidence

        def backlog():
            base = ctx["instance_snapshot"]
            # The policy's own tags, as if its take had made them; not what a share recorded.
            kept = {t["Key"]: t["Value"] for t in base.get("TagList", []) if "shared-with" not in t["Key"]}
            kept[RUN_TAG] = self.run_id
            policy_tags = [{"Key": k, "Value": v} for k, v in kept.items()]
            names = [f"{self.instance}-backlog-{i:03d}" for i in range(self.args.backlog)]
            for name in names:
                prod_rds.copy_db_snapshot(SourceDBSnapshotIdentifier=snapshot_id(base), TargetDBSnapshotIdentifier=name,
                                          KmsKeyId=ctx["prod_key"], Tags=policy_tags)

            def ready():
                present = {snapshot_id(s): s for s in snapshots(prod_rds, "instance")}
                return all(present.get(n, {}).get("Status") == "available" for n in names)

            wait_for(self.clock, f"{len(names)} backlog snapshots available", ready, 120)
            arn, d = self.execute(prod, source, "InstanceSnapshotsShareStateMachine", "share-backlog", minutes=90)
            history = prod.client("stepfunctions").get_execution_history(executionArn=arn, maxResults=1000,
                                                                          reverseOrder=True)["events"]
            largest = max((len(json.dumps(e, default=str)) for e in history), default=0)
            shared = 0
            for name in names:
                attrs = prod_rds.describe_db_snapshot_attributes(DBSnapshotIdentifier=name)["DBSnapshotAttributesResult"]
                if dr.account in next((a["AttributeValues"] for a in attrs["DBSnapshotAttributes"]
                                       if a["AttributeName"] == "restore"), []):
                    shared += 1
            if shared != len(names):
                raise Failed(f"{arn}: {shared} of {len(names)} backlog snapshots shared with {dr.account}: "
                             f"{(d.get('output') or '')[:1500]}")
            if largest >= STEP_FUNCTIONS_PAYLOAD_LIMIT:
                raise Failed(f"{arn}: an execution event of {largest} bytes (limit {STEP_FUNCTIONS_PAYLOAD_LIMIT})")
            output = json.loads(d.get("output") or "{}")
            omitted = output.get("omitted") or {}
            return [f"{arn} SUCCEEDED: {shared} of {len(names)} backlog snapshots shared with {dr.account}",
                    f"largest execution event {largest} bytes, output {len(d.get('output') or '')} bytes "
                    f"(Step Functions' limit {STEP_FUNCTIONS_PAYLOAD_LIMIT})"
                    + (f"; left out of the output (in the provider's log): {json.dumps(omitted)}" if omitted else "")]

        for name, body in (("setup: keys, buckets, an encrypted instance and Aurora cluster", setup),
                           ("deploy: install stacks, the DR policy, the source policies", install),
                           ("take: a snapshot of each database", take),
                           ("share: each snapshot shared with the DR account only", share),
                           ("copy: one-step encrypted cross-account, cross-region copies under the DR key", copy),
                           ("drill: both databases restored from their DR copies", drill),
                           ("status: `rds-snapshot-policy status` across both accounts", status),
                           ("notifications: a forced RPO alarm and a tamper event reach a subscribed queue", alarm_and_tamper),
                           (f"sweep: a share run over a synthetic backlog of {self.args.backlog} snapshots", backlog)):
            self.check(name, body)
            if self.args.interrupt_after is not None and len(self.report.checks) == self.args.interrupt_after:
                os.kill(os.getpid(), signal.SIGINT)  # the teardown test: as if Ctrl-C were pressed here

    # -- teardown
    def teardown(self):
        self.say(f"teardown: {len(self.undo)} resources, the policy stacks first, then the snapshots, then the rest")
        for what, undo, _ in [u for u in reversed(self.undo) if u[2]]:
            self.undo.remove((what, undo, True))
            self.undo_one(what, undo)
        # Snapshots first: every manual snapshot of the run's databases in both accounts.
        def remove(rds, kind, snapshot):
            try:
                delete_snapshot(rds, kind, snapshot_id(snapshot), self.clock)
                self.report.teardown["removed"].append(snapshot_arn(snapshot))
            except Exception as error:  # noqa: BLE001
                self.report.teardown["left"].append(f"{snapshot_arn(snapshot)} ({error})")

        with ThreadPoolExecutor(max_workers=4) as pool:  # within RDS's rate, retried by the SDK
            for side in (self.prod, self.dr):
                rds = side.client("rds")
                for kind in ("instance", "cluster"):
                    for snapshot in snapshots(rds, kind):
                        if snapshot_id(snapshot).startswith(self.run_id):
                            pool.submit(remove, rds, kind, snapshot)
        while self.undo:
            what, undo, _ = self.undo.pop()
            self.undo_one(what, undo)
        self.report.teardown["left"] += leftovers(self)
        self.report.write()

    def undo_one(self, what, undo):
        try:
            undo()
            self.report.teardown["removed"].append(what)
        except Exception as error:  # noqa: BLE001 - the rest still goes
            self.report.teardown["left"].append(f"{what} ({type(error).__name__}: {error})")


# --- main ---------------------------------------------------------------------------------------------

# Reserving leaves at least this much of the account's Lambda concurrency unreserved: "You can
# reserve up to the Unreserved account concurrency value that is shown, minus 100" (Lambda
# guide, "Configuring reserved concurrency"). Accounts with a small quota have been seen to
# report a lower minimum ([50]); the documented 100 is the one that holds either way.
UNRESERVED_MINIMUM = 100


def concurrency_problems(side, reserve):
    """Why `side` cannot reserve `reserve` Lambda concurrency for the provider (the install
    stack would fail on it), or nothing."""
    try:
        limit = side.client("lambda").get_account_settings()["AccountLimit"]
    except Exception as error:  # noqa: BLE001 - the preflight names what it could not read
        return [f"{side.name} {side.account}: could not read Lambda's account concurrency in {side.region} "
                f"(lambda:GetAccountSettings): {error}"]
    unreserved = int(limit.get("UnreservedConcurrentExecutions", 0))
    if unreserved - reserve >= UNRESERVED_MINIMUM:
        return []
    return [f"{side.name} {side.account}: Lambda's unreserved concurrency in {side.region} is {unreserved} "
            f"(quota {limit.get('ConcurrentExecutions')}); --provider-concurrency {reserve} needs at least "
            f"{reserve + UNRESERVED_MINIMUM}, as Lambda keeps {UNRESERVED_MINIMUM} unreserved: request a "
            f"higher 'Concurrent executions' quota (Service Quotas, AWS Lambda) or lower --provider-concurrency"]


def provider_concurrency_arg(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 0 <= value <= 50:
        raise argparse.ArgumentTypeError(f"{value} is outside 0..50 (the install stack's ProviderConcurrency)")
    return value


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prod-profile", help="the AWS profile of the production (source) sandbox account")
    parser.add_argument("--dr-profile", help="the AWS profile of the DR sandbox account")
    parser.add_argument("--prod-region", help="default: the production profile's region")
    parser.add_argument("--dr-region", help="default: the DR profile's region")
    parser.add_argument("--prod-subnet-group", help="DB subnet group for the run's databases (default: the VPC default)")
    parser.add_argument("--dr-subnet-group", help="DB subnet group for the drill's restores (default: `default`)")
    parser.add_argument("--backlog", type=int, default=60,
                        help="synthetic backlog snapshots for the sweep check (default 60, within the default "
                             "quota of 100 manual snapshots; with a raised quota, 700 or more make an unbounded "
                             "task output exceed Step Functions' 256 KiB)")
    parser.add_argument("--provider-concurrency", type=provider_concurrency_arg, default=0, metavar="N",
                        help="the install stacks' ProviderConcurrency (default 0: none reserved); the "
                             "preflight checks each account can reserve it")
    parser.add_argument("--report-dir", default=".", help="where the report files go (default: here)")
    parser.add_argument("--dist", default=os.path.join(ROOT, "dist"), help="the packages (scripts/package.sh)")
    parser.add_argument("--cli", default=CLI, help="the rds-snapshot-policy binary for the status check")
    parser.add_argument("--yes", action="store_true", help="do not ask before creating resources")
    parser.add_argument("--keep", action="store_true", help="leave everything in place (debugging; it costs)")
    parser.add_argument("--run-id", help=argparse.SUPPRESS)
    parser.add_argument("--interrupt-after", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--emulator", action="store_true",
                        help="run against the local emulator (two emulated accounts; what CI runs)")
    parser.add_argument("--workdir", default=os.path.join(ROOT, "target", "acceptance"), help="emulator mode's files")
    args = parser.parse_args(argv)
    if not 1 <= args.backlog <= 5000:
        parser.error(f"--backlog {args.backlog}: between 1 and 5000 (and within the account's quota)")
    if not args.emulator and not (args.prod_profile and args.dr_profile):
        parser.error("--prod-profile and --dr-profile are required (or --emulator)")
    return args


def packages_in(dist):
    version = tool_version()
    return {kind: os.path.join(dist, f"rds-snapshot-policy-{kind}-{version}-x86_64.zip") for kind in ("macro", "provider")}


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.report_dir, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    # Ctrl-C tears the run down, even when started in the background by a shell without job
    # control (`nohup ... &`), which starts Python with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    args.cli_env = None
    if args.emulator:
        import emulator_sandbox  # noqa: PLC0415 - only the emulator mode needs it
        sandbox = emulator_sandbox.start_sandbox(args)
        clock, packages = sandbox.clock, sandbox.packages
        args.prod_profile, args.dr_profile, args.cli_env = sandbox.prod_profile, sandbox.dr_profile, sandbox.env
        os.environ.update({k: v for k, v in sandbox.env.items() if k.startswith("AWS_")})
    else:
        clock, packages = WallClock(), packages_in(args.dist)
    prod_session = boto3.Session(profile_name=args.prod_profile)
    dr_session = boto3.Session(profile_name=args.dr_profile)
    prod = Side("prod", prod_session, args.prod_region or prod_session.region_name)
    dr = Side("dr", dr_session, args.dr_region or dr_session.region_name)
    if not prod.region or not dr.region:
        raise SystemExit("acceptance: no region: set one in each profile or pass --prod-region/--dr-region")
    run = Acceptance(args, prod, dr, clock, packages)
    problems, notes = run.preflight()
    print(f"acceptance: production {prod.account} in {prod.region} (profile {args.prod_profile}), "
          f"DR {dr.account} in {dr.region} (profile {args.dr_profile})")
    for note in notes:
        print(f"acceptance: note: {note}")
    if problems:
        for problem in problems:
            print(f"acceptance: cannot run: {problem}", file=sys.stderr)
        return 2
    print(COST_AND_TIME)
    if not args.yes:
        if not sys.stdin.isatty():
            print("acceptance: not confirmed (no terminal): pass --yes to run unattended", file=sys.stderr)
            return 2
        if input("Create these resources in the two accounts above? [y/N] ").strip().lower() not in ("y", "yes"):
            print("acceptance: nothing created")
            return 2
    began = time.time()
    try:
        run.run()
    except Failed as stop:
        print(f"acceptance: stopped: {stop}", file=sys.stderr)
    except KeyboardInterrupt:
        print("acceptance: interrupted; tearing down what the run created", file=sys.stderr)
    finally:
        if args.keep:
            print(f"acceptance: --keep: left in place: {[u[0] for u in run.undo]}")
        else:
            try:
                run.teardown()
            except KeyboardInterrupt:
                print("acceptance: teardown interrupted; left in place: "
                      f"{[u[0] for u in run.undo]}", file=sys.stderr)
    report = run.report
    print(f"acceptance: {sum(c['ok'] for c in report.checks)} of {len(report.checks)} checks passed in "
          f"{(time.time() - began) / 60:.0f} min; removed {len(report.teardown['removed'])}, left "
          f"{report.teardown['left'] or 'nothing'}")
    print(f"acceptance: report {report.path}.md and .json — {'PASSED' if report.passed else 'FAILED'}")
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
