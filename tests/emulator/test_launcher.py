"""Tests of the emulator launcher's own fixes (run by `make test`):

    .tools/moto/bin/python -m unittest tests/emulator/test_launcher.py

Each test talks to a launcher started on 127.0.0.1 for the whole module, as the demo does.
"""

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.request

import boto3

HERE = os.path.dirname(os.path.abspath(__file__))
A, B = "111111111111", "222222222222"
REGION = "eu-west-1"
ROLE = "arn:aws:iam::{}:role/any"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EmulatorCase(unittest.TestCase):
    """A launcher on 127.0.0.1 for the test class, and clients in its accounts."""

    @classmethod
    def setUpClass(cls):
        port = _free_port()
        cls.endpoint = f"http://127.0.0.1:{port}"
        cls.process = subprocess.Popen([sys.executable, os.path.join(HERE, "launcher.py"), str(port),
                                        str(os.getpid())], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        cls.post("/moto-api/config", {"stepfunctions": {"execute_state_machine": True},
                                      "lambda": {"use_docker": False}})
        cls.clock = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)
        cls.post("/_rsp/config", {"clock": cls.clock.isoformat()})

    @classmethod
    def tearDownClass(cls):
        cls.process.terminate()
        cls.process.wait(timeout=10)

    @classmethod
    def post(cls, path, body):
        request = urllib.request.Request(cls.endpoint + path, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=300) as response:
            return json.loads(response.read() or b"null"), response.headers

    def client(self, service, account, region=REGION):
        sts = boto3.client("sts", endpoint_url=self.endpoint, region_name="us-east-1",
                           aws_access_key_id="t", aws_secret_access_key="t")
        creds = sts.assume_role(RoleArn=ROLE.format(account), RoleSessionName="test")["Credentials"]
        return boto3.client(service, endpoint_url=self.endpoint, region_name=region,
                            aws_access_key_id=creds["AccessKeyId"],
                            aws_secret_access_key=creds["SecretAccessKey"],
                            aws_session_token=creds["SessionToken"])

    def advance(self, minutes):
        type(self).clock += dt.timedelta(minutes=minutes)
        self.post("/_rsp/config", {"clock": self.clock.isoformat()})

    def machine(self, account, name, definition=None):
        sfn = self.client("stepfunctions", account)
        definition = definition or {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
        return sfn, sfn.create_state_machine(name=name, definition=json.dumps(definition),
                                             roleArn=ROLE.format(account))["stateMachineArn"]

    def executions(self, sfn, arn):
        self.post("/_rsp/wait", {})
        return [sfn.describe_execution(executionArn=e["executionArn"])
                for e in sfn.list_executions(stateMachineArn=arn)["executions"]]


class Launcher(EmulatorCase):
    def test_get_metric_data_answers_over_cbor_in_the_callers_account(self):
        import cbor2
        cloudwatch = self.client("cloudwatch", B)
        at = dt.datetime(2026, 6, 1, 0, 10, tzinfo=dt.timezone.utc)
        dims = [{"Name": "Policy", "Value": "p"}, {"Name": "Database", "Value": "orders"}]
        cloudwatch.put_metric_data(Namespace="RdsSnapshotPolicy", MetricData=[
            {"MetricName": "RecoveryPointAgeMinutes", "Dimensions": dims, "Timestamp": at, "Value": 42.0}])
        creds = cloudwatch._request_signer._credentials
        body = cbor2.dumps({"StartTime": at - dt.timedelta(hours=1), "EndTime": at + dt.timedelta(hours=1),
                            "MetricDataQueries": [{"Id": "m0", "MetricStat": {"Metric": {
                                "Namespace": "RdsSnapshotPolicy", "MetricName": "RecoveryPointAgeMinutes",
                                "Dimensions": dims}, "Period": 300, "Stat": "Maximum"}}]},
                           datetime_as_timestamp=True)
        request = urllib.request.Request(
            self.endpoint + "/service/GraniteServiceVersion20100801/operation/GetMetricData", data=body,
            method="POST", headers={
                "Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor",
                "Authorization": f"AWS4-HMAC-SHA256 Credential={creds.access_key}/20260601/{REGION}/monitoring/aws4_request, SignedHeaders=host, Signature=x"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                answer = cbor2.loads(response.read())
        except urllib.error.HTTPError as error:
            self.fail(f"{error}: {cbor2.loads(error.read())}")
        series = answer["MetricDataResults"][0]
        self.assertEqual((series["Id"], series["Values"]), ("m0", [42.0]))
        self.assertEqual(len(series["Timestamps"]), 1)

    def test_multi_az_db_cluster_snapshots_are_not_copied(self):
        rds = self.client("rds", A)
        rds.create_db_cluster(DBClusterIdentifier="maz", Engine="postgres", DBClusterInstanceClass="db.m5d.large",
                              AllocatedStorage=100, Iops=1000, StorageType="io1", MasterUsername="maz_admin",
                              MasterUserPassword="not-a-real-password")
        rds.create_db_cluster_snapshot(DBClusterIdentifier="maz", DBClusterSnapshotIdentifier="maz-1")
        self.post("/_rsp/wait", {})
        with self.assertRaises(rds.exceptions.ClientError) as refused:
            rds.copy_db_cluster_snapshot(SourceDBClusterSnapshotIdentifier="maz-1",
                                         TargetDBClusterSnapshotIdentifier="maz-1-copy")
        self.assertIn("Multi-AZ DB cluster", str(refused.exception))

    def test_copies_in_progress_into_a_region_are_limited_per_account(self):
        """AWS: up to 20 snapshot copy requests in progress to a single destination Region per
        account (5 for cluster snapshots, as the planner keeps to)."""
        rds = self.client("rds", A)
        rds.create_db_instance(DBInstanceIdentifier="slots", Engine="postgres", DBInstanceClass="db.t4g.micro",
                               AllocatedStorage=20, MasterUsername="slots_admin",
                               MasterUserPassword="not-a-real-password")
        rds.create_db_snapshot(DBInstanceIdentifier="slots", DBSnapshotIdentifier="slots-1")
        self.post("/_rsp/wait", {})
        rds.modify_db_snapshot_attribute(DBSnapshotIdentifier="slots-1", AttributeName="restore", ValuesToAdd=[B])
        arn = f"arn:aws:rds:{REGION}:{A}:snapshot:slots-1"
        dr = self.client("rds", B, "eu-central-1")
        self.post("/_rsp/config", {"copy_pending_seconds": 3600})
        try:
            for n in range(20):
                dr.copy_db_snapshot(SourceDBSnapshotIdentifier=arn, TargetDBSnapshotIdentifier=f"slots-copy-{n}")
            with self.assertRaises(dr.exceptions.ClientError) as refused:
                dr.copy_db_snapshot(SourceDBSnapshotIdentifier=arn, TargetDBSnapshotIdentifier="slots-copy-20")
            self.assertEqual(refused.exception.response["Error"]["Code"], "SnapshotQuotaExceeded")
            self.assertIn("20 snapshot copies are in progress to eu-central-1", str(refused.exception))
            # Another account, or another region, has its own slots.
            self.client("rds", A, "eu-central-1").copy_db_snapshot(SourceDBSnapshotIdentifier=arn,
                                                                  TargetDBSnapshotIdentifier="slots-own")
            self.advance(61)
            dr.copy_db_snapshot(SourceDBSnapshotIdentifier=arn, TargetDBSnapshotIdentifier="slots-copy-20")
        finally:
            self.post("/_rsp/config", {"copy_pending_seconds": None})

    def test_snapshots_on_an_aws_managed_key_are_not_shared_but_their_copies_are(self):
        rds = self.client("rds", A)
        rds.create_db_instance(DBInstanceIdentifier="legacy", Engine="postgres", DBInstanceClass="db.t4g.micro",
                               AllocatedStorage=20, MasterUsername="legacy_admin",
                               MasterUserPassword="not-a-real-password", StorageEncrypted=True,
                               KmsKeyId="alias/aws/rds")
        rds.create_db_snapshot(DBInstanceIdentifier="legacy", DBSnapshotIdentifier="legacy-1")
        self.post("/_rsp/wait", {})
        with self.assertRaises(rds.exceptions.ClientError) as refused:
            rds.modify_db_snapshot_attribute(DBSnapshotIdentifier="legacy-1", AttributeName="restore",
                                             ValuesToAdd=[B])
        self.assertIn("default AWS KMS key", str(refused.exception))
        key = self.client("kms", A).create_key(Description="share")["KeyMetadata"]["Arn"]
        rds.copy_db_snapshot(SourceDBSnapshotIdentifier="legacy-1", TargetDBSnapshotIdentifier="legacy-1-cmk",
                             KmsKeyId=key)
        rds.modify_db_snapshot_attribute(DBSnapshotIdentifier="legacy-1-cmk", AttributeName="restore",
                                         ValuesToAdd=[B])

    def test_the_date_header_follows_the_emulated_clock(self):
        _, headers = self.post("/_rsp/config", {})
        date = dt.datetime.strptime(headers["Date"], "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=dt.timezone.utc)
        self.assertLess(abs((date - self.clock).total_seconds()), 120)

    def test_pending_snapshots_follow_the_emulated_clock_and_announce_themselves_once(self):
        rds = self.client("rds", A)
        rds.create_db_instance(DBInstanceIdentifier="clockdb", Engine="postgres", DBInstanceClass="db.t3.micro",
                               MasterUsername="u", MasterUserPassword="password1", AllocatedStorage=20)
        sfn, arn = self.machine(A, "on-snapshot")
        events = self.client("events", A)
        events.put_rule(Name="on-snapshot", EventPattern=json.dumps({
            "source": ["aws.rds"], "detail": {"EventID": ["RDS-EVENT-0042"],
                                              "SourceIdentifier": [{"prefix": "clockdb-"}]}}))
        events.put_targets(Rule="on-snapshot", Targets=[{"Id": "m", "Arn": arn, "RoleArn": ROLE.format(A)}])
        events.put_rule(Name="a-schedule", ScheduleExpression="rate(5 minutes)")
        events.put_targets(Rule="a-schedule", Targets=[{"Id": "m", "Arn": arn, "RoleArn": ROLE.format(A)}])
        self.post("/_rsp/config", {"pending_seconds": 300})
        try:
            rds.create_db_snapshot(DBSnapshotIdentifier="clockdb-1", DBInstanceIdentifier="clockdb")
        finally:
            self.post("/_rsp/config", {"pending_seconds": 0})
        status = lambda: rds.describe_db_snapshots(DBSnapshotIdentifier="clockdb-1")["DBSnapshots"][0]["Status"]
        self.assertEqual(status(), "creating")
        self.post("/_rsp/tick", {})
        self.assertEqual(self.executions(sfn, arn), [], "nothing is announced while creating")
        self.advance(6)
        self.assertEqual(status(), "available")
        self.post("/_rsp/tick", {})
        self.post("/_rsp/tick", {})
        runs = self.executions(sfn, arn)
        self.assertEqual(len(runs), 1, "announced exactly once; the schedule rule matches no event")
        event = json.loads(runs[0]["input"])
        self.assertEqual(event["detail"]["EventID"], "RDS-EVENT-0042")
        self.assertEqual(event["account"], A)
        self.assertTrue(event["time"].startswith(self.clock.strftime("%Y-%m-%dT%H")), event["time"])

    def test_bus_to_bus_delivery_needs_the_receivers_policy_and_keeps_the_sender(self):
        sfn_b, arn_b = self.machine(B, "on-announcement")
        events_b = self.client("events", B, "eu-central-1")
        events_b.put_rule(Name="from-a", EventPattern=json.dumps({"source": ["rds-snapshot-policy"], "account": [A]}))
        events_b.put_targets(Rule="from-a", Targets=[{"Id": "m", "Arn": arn_b, "RoleArn": ROLE.format(B)}])
        bus_b = f"arn:aws:events:eu-central-1:{B}:event-bus/default"
        events_a = self.client("events", A)
        events_a.put_rule(Name="forward", EventPattern=json.dumps({"source": ["rds-snapshot-policy"]}))
        events_a.put_targets(Rule="forward", Targets=[{"Id": "b", "Arn": bus_b, "RoleArn": ROLE.format(A)}])
        entry = {"Source": "rds-snapshot-policy", "DetailType": "RDS Snapshot Policy Snapshots Shared",
                 "Detail": json.dumps({"policy": "p"})}

        events_a.put_events(Entries=[entry])
        self.assertEqual(self.executions(sfn_b, arn_b), [])
        refused = self.post("/_rsp/events", {})[0]["refused"]
        self.assertTrue(any(r.get("bus") == bus_b for r in refused), refused)

        # A policy for another detail-type still refuses; the right one delivers.
        statement = {"Sid": "a", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"},
                     "Action": "events:PutEvents", "Resource": bus_b,
                     "Condition": {"StringEquals": {"events:source": "rds-snapshot-policy",
                                                    "events:detail-type": "Something Else"}}}
        events_b.put_permission(Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}))
        events_a.put_events(Entries=[entry])
        self.assertEqual(self.executions(sfn_b, arn_b), [])
        statement["Condition"]["StringEquals"]["events:detail-type"] = entry["DetailType"]
        events_b.put_permission(Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}))
        events_a.put_events(Entries=[entry])
        runs = self.executions(sfn_b, arn_b)
        self.assertEqual(len(runs), 1)
        self.assertEqual(json.loads(runs[0]["input"])["account"], A)

    def test_sdk_integrations_act_in_the_executions_account(self):
        definition = {"StartAt": "Put", "States": {"Put": {
            "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:cloudwatch:putMetricData",
            "Parameters": {"Namespace": "LauncherTest", "MetricData": [{
                "MetricName": "Age", "Value": 5, "Unit": "None",
                "Timestamp": self.clock.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "Dimensions": [{"Name": "Policy", "Value": "p"}]}]},
            "End": True}}}
        sfn, arn = self.machine(B, "put-metric", definition)
        sfn.start_execution(stateMachineArn=arn, name="once", input="{}")
        runs = self.executions(sfn, arn)
        self.assertEqual(runs[0]["status"], "SUCCEEDED", runs[0])
        in_b = self.client("cloudwatch", B).list_metrics(Namespace="LauncherTest")["Metrics"]
        in_a = self.client("cloudwatch", A).list_metrics(Namespace="LauncherTest")["Metrics"]
        self.assertEqual([m["MetricName"] for m in in_b], ["Age"])
        self.assertEqual(in_a, [])

    def test_event_bus_policies_come_from_cloudformation(self):
        template = {"Resources": {"Allow": {"Type": "AWS::Events::EventBusPolicy", "Properties": {
            "EventBusName": "default", "StatementId": "from-a",
            "Statement": {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"},
                          "Action": "events:PutEvents",
                          "Resource": f"arn:aws:events:{REGION}:{B}:event-bus/default"}}}}}
        cfn = self.client("cloudformation", B)
        cfn.create_stack(StackName="bus-policy", TemplateBody=json.dumps(template))
        policy = json.loads(self.client("events", B).describe_event_bus()["Policy"])
        self.assertEqual([s["Sid"] for s in policy["Statement"]], ["from-a"])

    def test_describe_stack_resource_skips_types_moto_does_not_model(self):
        template = {"Resources": {
            "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
                "MetricName": "m", "Namespace": "n", "Statistic": "Maximum", "Period": 60,
                "EvaluationPeriods": 1, "Threshold": 1, "ComparisonOperator": "GreaterThanThreshold"}},
            "Machine": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
                "RoleArn": ROLE.format(A),
                "DefinitionString": json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})}}}}
        cfn = self.client("cloudformation", A)
        stack = cfn.create_stack(StackName="trust-check", TemplateBody=json.dumps(template))["StackId"]
        detail = cfn.describe_stack_resource(StackName=stack, LogicalResourceId="Machine")["StackResourceDetail"]
        self.assertEqual(detail["ResourceType"], "AWS::StepFunctions::StateMachine")
        self.assertTrue(detail["PhysicalResourceId"].startswith(f"arn:aws:states:{REGION}:{A}:stateMachine:"))
        with self.assertRaises(cfn.exceptions.ClientError):
            cfn.describe_stack_resource(StackName=stack, LogicalResourceId="Nothing")

    # --- notifications: alarms, topic and key policies, EventBridge -> SNS, CloudTrail ------

    def queue_on(self, account, topic_arn, name):
        sqs = self.client("sqs", account)
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.client("sns", account).subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn,
                                              Attributes={"RawMessageDelivery": "true"})
        return sqs, url

    def received(self, sqs, url):
        return [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                                       WaitTimeSeconds=0).get("Messages", [])]

    def alarm_stack(self, name, statements):
        topic = {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": name}}
        policy = {"Type": "AWS::SNS::TopicPolicy", "Properties": {"Topics": [{"Ref": "Topic"}], "PolicyDocument": {
            "Version": "2012-10-17", "Statement": statements}}}
        alarm = {"Type": "AWS::CloudWatch::Alarm", "Properties": {
            "Namespace": "LauncherAlarm", "MetricName": name, "Statistic": "Maximum", "Period": 300,
            "EvaluationPeriods": 1, "Threshold": 60, "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "breaching", "AlarmActions": [{"Ref": "Topic"}]}}
        cfn = self.client("cloudformation", A)
        cfn.create_stack(StackName=name, TemplateBody=json.dumps(
            {"Resources": {"Topic": topic, "Policy": policy, "Alarm": alarm}}))
        return f"arn:aws:sns:{REGION}:{A}:{name}"

    def test_alarm_actions_reach_the_topic_only_if_its_policy_lets_cloudwatch_publish(self):
        events_only = {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                       "Action": "sns:Publish", "Resource": "*"}
        cloudwatch = {"Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"},
                      "Action": "sns:Publish", "Resource": "*",
                      "Condition": {"StringEquals": {"aws:SourceAccount": A}}}
        silent = self.alarm_stack("alarm-silent", [events_only])
        heard = self.alarm_stack("alarm-heard", [events_only, cloudwatch])
        queues = {t: self.queue_on(A, t, t.rsplit(":", 1)[-1] + "-q") for t in (silent, heard)}
        self.advance(10)
        changes, _ = self.post("/_rsp/alarms", {})
        fired = {c["alarm"].rsplit("-Alarm-", 1)[0] for c in changes["changes"] if c["to"] == "ALARM"}
        self.assertEqual(fired, {"alarm-silent", "alarm-heard"}, changes)
        self.assertEqual(self.received(*queues[silent]), [], "the events-only policy drops the alarm")
        bodies = self.received(*queues[heard])
        self.assertEqual(len(bodies), 1, bodies)
        self.assertEqual(json.loads(bodies[0])["NewStateValue"], "ALARM")
        refused, _ = self.post("/_rsp/notifications", {})
        self.assertTrue(any(r["topic"] == silent and "not authorized" in r["reason"] for r in refused["refused"]))

    def test_snapshot_describes_come_in_pages_of_100_with_a_marker(self):
        rds = self.client("rds", A)
        rds.create_db_instance(DBInstanceIdentifier="paged", Engine="postgres", DBInstanceClass="db.t4g.micro",
                               AllocatedStorage=20, MasterUsername="u", MasterUserPassword="password1")
        for i in range(130):
            rds.create_db_snapshot(DBInstanceIdentifier="paged", DBSnapshotIdentifier=f"paged-{i:03d}")
        first = rds.describe_db_snapshots(SnapshotType="manual", DBInstanceIdentifier="paged")
        self.assertEqual(len(first["DBSnapshots"]), 100)
        self.assertTrue(first.get("Marker"))
        rest = rds.describe_db_snapshots(SnapshotType="manual", DBInstanceIdentifier="paged", Marker=first["Marker"])
        self.assertEqual(len(rest["DBSnapshots"]), 30)
        self.assertFalse(rest.get("Marker"))
        names = {s["DBSnapshotIdentifier"] for s in first["DBSnapshots"] + rest["DBSnapshots"]}
        self.assertEqual(len(names), 130)
        for i in range(130):
            rds.delete_db_snapshot(DBSnapshotIdentifier=f"paged-{i:03d}")
        rds.delete_db_instance(DBInstanceIdentifier="paged", SkipFinalSnapshot=True)

    def test_set_alarm_state_runs_the_new_states_actions_once(self):
        cloudwatch = {"Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"},
                      "Action": "sns:Publish", "Resource": "*"}
        topic = self.alarm_stack("alarm-forced", [cloudwatch])
        sqs, url = self.queue_on(A, topic, "alarm-forced-q")
        cw = self.client("cloudwatch", A)
        name = next(a["AlarmName"] for a in cw.describe_alarms()["MetricAlarms"] if a["AlarmName"].startswith("alarm-forced"))
        cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="acceptance: forced")
        cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="unchanged: no action")
        bodies = [json.loads(b) for b in self.received(sqs, url)]
        self.assertEqual([(b["AlarmName"], b["NewStateValue"]) for b in bodies], [(name, "ALARM")], bodies)

    def test_rule_to_topic_needs_an_unconditioned_statement_and_json_input(self):
        sns = self.client("sns", A)
        events = self.client("events", A)
        outcomes = {}
        for name, condition, template in (
                ("with-condition", {"StringEquals": {"aws:SourceAccount": A}}, '{"request": <request>}'),
                ("object-in-string", None, '"changed: <request>"'),
                ("object-as-field", None, '{"event": "<event>", "request": <request>}')):
            topic = sns.create_topic(Name=f"rule-{name}")["TopicArn"]
            statement = {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                         "Action": "sns:Publish", "Resource": topic}
            if condition:
                statement["Condition"] = condition
            sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy",
                                     AttributeValue=json.dumps({"Version": "2012-10-17", "Statement": [statement]}))
            queue = self.queue_on(A, topic, f"rule-{name}-q")
            events.put_rule(Name=f"rule-{name}", EventPattern=json.dumps({"source": ["launcher.test"]}))
            events.put_targets(Rule=f"rule-{name}", Targets=[{"Id": "t", "Arn": topic, "InputTransformer": {
                "InputPathsMap": {"event": "$.detail.eventName", "request": "$.detail.requestParameters"},
                "InputTemplate": template}}])
            outcomes[name] = queue
        events.put_events(Entries=[{"Source": "launcher.test", "DetailType": "t", "Detail": json.dumps(
            {"eventName": "DeleteDBSnapshot", "requestParameters": {"dBSnapshotIdentifier": "s1"}})}])
        self.assertEqual(self.received(*outcomes["with-condition"]), [])
        self.assertEqual(self.received(*outcomes["object-in-string"]), [])
        delivered = self.received(*outcomes["object-as-field"])
        self.assertEqual([json.loads(b)["request"] for b in delivered], [{"dBSnapshotIdentifier": "s1"}])

    def test_subjects_of_100_characters_are_refused(self):
        sns = self.client("sns", A)
        topic = sns.create_topic(Name="subjects")["TopicArn"]
        sns.publish(TopicArn=topic, Message="m", Subject="s" * 99)
        with self.assertRaises(sns.exceptions.ClientError):
            sns.publish(TopicArn=topic, Message="m", Subject="s" * 100)

    def test_cloudtrail_events_need_a_trail(self):
        rds = self.client("rds", B)
        rds.create_db_instance(DBInstanceIdentifier="trail-db", Engine="postgres", DBInstanceClass="db.t4g.micro",
                               AllocatedStorage=20, MasterUsername="x_admin", MasterUserPassword="not-a-real-password")
        rds.create_db_snapshot(DBInstanceIdentifier="trail-db", DBSnapshotIdentifier="trail-s1")
        rds.delete_db_snapshot(DBSnapshotIdentifier="trail-s1")
        log, _ = self.post("/_rsp/notifications", {})
        mine = [e for e in log["trail"] if e["account"] == B and e["event"] == "DeleteDBSnapshot"]
        self.assertEqual([e["recorded"] for e in mine], [False], "no trail, no event")
        self.client("s3", B).create_bucket(Bucket="trail-bucket-b",
                                           CreateBucketConfiguration={"LocationConstraint": REGION})
        trail = self.client("cloudtrail", B)
        trail.create_trail(Name="management", S3BucketName="trail-bucket-b")
        trail.start_logging(Name="management")
        rds.create_db_snapshot(DBInstanceIdentifier="trail-db", DBSnapshotIdentifier="trail-s2")
        rds.delete_db_snapshot(DBSnapshotIdentifier="trail-s2")
        log, _ = self.post("/_rsp/notifications", {})
        mine = [e for e in log["trail"] if e["account"] == B and e["event"] == "DeleteDBSnapshot"]
        self.assertEqual([e["recorded"] for e in mine], [False, True])
        self.assertTrue(mine[1]["by"].endswith(":role/any"), mine[1])

    def test_describe_state_machine_for_execution_is_the_definition_it_started_with(self):
        first = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": True}}}
        sfn, arn = self.machine(A, "versioned", first)
        execution = sfn.start_execution(stateMachineArn=arn, name="old", input="{}")["executionArn"]
        second = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
        sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(second))
        self.assertEqual(json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"]), second)
        self.assertEqual(json.loads(sfn.describe_state_machine_for_execution(executionArn=execution)["definition"]),
                         first)
        sfn.stop_execution(executionArn=execution)

    def test_a_restored_cluster_takes_instances_only_once_available(self):
        rds = self.client("rds", A)
        rds.create_db_cluster(DBClusterIdentifier="restore-src", Engine="aurora-postgresql", EngineVersion="15.4",
                              MasterUsername="x_admin", MasterUserPassword="not-a-real-password")
        rds.create_db_cluster_snapshot(DBClusterIdentifier="restore-src", DBClusterSnapshotIdentifier="restore-snap")
        self.post("/_rsp/config", {"restore_pending_seconds": 600})
        try:
            rds.restore_db_cluster_from_snapshot(DBClusterIdentifier="restored", SnapshotIdentifier="restore-snap",
                                                 Engine="aurora-postgresql")
            cluster = rds.describe_db_clusters(DBClusterIdentifier="restored")["DBClusters"][0]
            self.assertEqual(cluster["Status"], "creating")
            self.assertNotEqual(cluster["EngineVersion"], "15.4", "without EngineVersion: the region's default")
            with self.assertRaises(rds.exceptions.ClientError) as refused:
                rds.create_db_instance(DBInstanceIdentifier="restored-1", DBClusterIdentifier="restored",
                                       Engine="aurora-postgresql", DBInstanceClass="db.r6g.large")
            self.assertIn("InvalidDBClusterStateFault", str(refused.exception))
            self.advance(11)
            self.assertEqual(rds.describe_db_clusters(DBClusterIdentifier="restored")["DBClusters"][0]["Status"],
                             "available")
            rds.create_db_instance(DBInstanceIdentifier="restored-1", DBClusterIdentifier="restored",
                                   Engine="aurora-postgresql", DBInstanceClass="db.r6g.large")
        finally:
            self.post("/_rsp/config", {"restore_pending_seconds": 0})

    # --- authorization: roles the emulator's IAM knows are held to their policies ------------

    def role_client(self, service, account, role, statements, region=REGION):
        iam = self.client("iam", account)
        try:
            iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
        except iam.exceptions.EntityAlreadyExistsException:
            pass
        iam.put_role_policy(RoleName=role, PolicyName="p", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": statements}))
        sts = boto3.client("sts", endpoint_url=self.endpoint, region_name="us-east-1",
                           aws_access_key_id="t", aws_secret_access_key="t")
        creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{role}", RoleSessionName="role-session")["Credentials"]
        return boto3.client(service, endpoint_url=self.endpoint, region_name=region,
                            aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                            aws_session_token=creds["SessionToken"])

    def test_a_known_role_is_held_to_its_tag_conditions(self):
        admin = self.client("rds", A)
        admin.create_db_instance(DBInstanceIdentifier="authz-db", Engine="postgres", DBInstanceClass="db.t4g.micro",
                                 AllocatedStorage=20, MasterUsername="x_admin", MasterUserPassword="not-a-real-password")
        admin.create_db_snapshot(DBInstanceIdentifier="authz-db", DBSnapshotIdentifier="authz-someone-elses")
        rds = self.role_client("rds", A, "authz-provider", [
            {"Sid": "TakeOnlyTagged", "Effect": "Allow", "Action": "rds:CreateDBSnapshot", "Resource": "*",
             "Condition": {"StringEquals": {"aws:RequestTag/CreatedBy": "tool"},
                           "ForAllValues:StringEquals": {"aws:TagKeys": ["CreatedBy"]}}},
            {"Sid": "DeleteOnlyTagged", "Effect": "Allow", "Action": "rds:DeleteDBSnapshot", "Resource": "*",
             "Condition": {"StringEquals": {"aws:ResourceTag/CreatedBy": "tool"}}}])
        # Tags on create need rds:AddTagsToResource too (a dependent action of CreateDBSnapshot).
        with self.assertRaises(rds.exceptions.ClientError) as no_tagging:
            rds.create_db_snapshot(DBInstanceIdentifier="authz-db", DBSnapshotIdentifier="authz-ours",
                                   Tags=[{"Key": "CreatedBy", "Value": "tool"}])
        self.assertIn("rds:AddTagsToResource on resource: arn:aws:rds:eu-west-1:111111111111:snapshot:authz-ours",
                      str(no_tagging.exception))
        rds = self.role_client("rds", A, "authz-provider", [
            {"Sid": "TakeOnlyTagged", "Effect": "Allow", "Action": "rds:CreateDBSnapshot", "Resource": "*",
             "Condition": {"StringEquals": {"aws:RequestTag/CreatedBy": "tool"},
                           "ForAllValues:StringEquals": {"aws:TagKeys": ["CreatedBy"]}}},
            {"Sid": "TagOnCreate", "Effect": "Allow", "Action": "rds:AddTagsToResource", "Resource": "*",
             "Condition": {"StringEquals": {"aws:RequestTag/CreatedBy": "tool"}}},
            {"Sid": "DeleteOnlyTagged", "Effect": "Allow", "Action": "rds:DeleteDBSnapshot", "Resource": "*",
             "Condition": {"StringEquals": {"aws:ResourceTag/CreatedBy": "tool"}}}])
        with self.assertRaises(rds.exceptions.ClientError) as untagged:
            rds.create_db_snapshot(DBInstanceIdentifier="authz-db", DBSnapshotIdentifier="authz-untagged")
        self.assertEqual(untagged.exception.response["Error"]["Code"], "AccessDenied")
        self.assertIn("is not authorized to perform: rds:CreateDBSnapshot", str(untagged.exception))
        with self.assertRaises(rds.exceptions.ClientError):
            rds.create_db_snapshot(DBInstanceIdentifier="authz-db", DBSnapshotIdentifier="authz-extra",
                                   Tags=[{"Key": "CreatedBy", "Value": "tool"}, {"Key": "Other", "Value": "x"}])
        rds.create_db_snapshot(DBInstanceIdentifier="authz-db", DBSnapshotIdentifier="authz-ours",
                               Tags=[{"Key": "CreatedBy", "Value": "tool"}])
        with self.assertRaises(rds.exceptions.ClientError):
            rds.delete_db_snapshot(DBSnapshotIdentifier="authz-someone-elses")
        rds.delete_db_snapshot(DBSnapshotIdentifier="authz-ours")
        log, _ = self.post("/_rsp/authorization", {})
        self.assertIn("p/TakeOnlyTagged", log["used"][f"arn:aws:iam::{A}:role/authz-provider"])

    def test_log_writes_are_decided_on_the_group_and_stream(self):
        admin = self.client("logs", A)
        for group in ("/rds-snapshot-policy/drills/authz", "/elsewhere"):
            admin.create_log_group(logGroupName=group)
        logs = self.role_client("logs", A, "authz-logs", [
            {"Sid": "Records", "Effect": "Allow",
             "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:FilterLogEvents"],
             "Resource": f"arn:aws:logs:*:{A}:log-group:/rds-snapshot-policy/drills/*"}])
        logs.create_log_stream(logGroupName="/rds-snapshot-policy/drills/authz", logStreamName="day")
        logs.put_log_events(logGroupName="/rds-snapshot-policy/drills/authz", logStreamName="day",
                            logEvents=[{"timestamp": 1, "message": "{}"}])
        logs.filter_log_events(logGroupName="/rds-snapshot-policy/drills/authz")
        for call in (lambda: logs.create_log_stream(logGroupName="/elsewhere", logStreamName="day"),
                     lambda: logs.filter_log_events(logGroupName="/elsewhere"),
                     lambda: logs.delete_log_group(logGroupName="/rds-snapshot-policy/drills/authz")):
            with self.assertRaises(logs.exceptions.ClientError) as refused:
                call()
            self.assertEqual(refused.exception.response["Error"]["Code"], "AccessDeniedException")
        self.assertIn(f"logs:DeleteLogGroup on resource: arn:aws:logs:eu-west-1:{A}:log-group:"
                      "/rds-snapshot-policy/drills/authz", str(refused.exception))

    def test_a_cross_account_copy_needs_the_source_key_in_the_copiers_iam(self):
        source_kms = self.client("kms", A)
        source_key = source_kms.create_key(Description="source", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"}, "Action": "kms:*", "Resource": "*"},
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{B}:root"},
             "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant"], "Resource": "*"}]}))["KeyMetadata"]["Arn"]
        admin = self.client("rds", A)
        admin.create_db_instance(DBInstanceIdentifier="kms-db", Engine="postgres", DBInstanceClass="db.t4g.micro",
                                 AllocatedStorage=20, MasterUsername="x_admin", MasterUserPassword="not-a-real-password",
                                 StorageEncrypted=True, KmsKeyId=source_key)
        admin.create_db_snapshot(DBInstanceIdentifier="kms-db", DBSnapshotIdentifier="kms-shared")
        admin.modify_db_snapshot_attribute(DBSnapshotIdentifier="kms-shared", AttributeName="restore", ValuesToAdd=[B])
        dr_key = self.client("kms", B).create_key(Description="dr")["KeyMetadata"]["Arn"]
        source_arn = f"arn:aws:rds:{REGION}:{A}:snapshot:kms-shared"
        copy = {"Sid": "Copy", "Effect": "Allow", "Action": "rds:CopyDBSnapshot", "Resource": "*"}
        use = lambda keys: [  # noqa: E731
            {"Sid": "UseKeys", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:CreateGrant"], "Resource": keys,
             "Condition": {"StringLike": {"kms:ViaService": "rds.*.amazonaws.com"}}}]
        only_dr = self.role_client("rds", B, "authz-dr", [copy] + use([dr_key]))
        with self.assertRaises(only_dr.exceptions.ClientError) as refused:
            only_dr.copy_db_snapshot(SourceDBSnapshotIdentifier=source_arn, TargetDBSnapshotIdentifier="kms-copy",
                                     KmsKeyId=dr_key)
        self.assertIn(source_key, str(refused.exception))
        both = self.role_client("rds", B, "authz-dr", [copy] + use([dr_key, source_key]))
        both.copy_db_snapshot(SourceDBSnapshotIdentifier=source_arn, TargetDBSnapshotIdentifier="kms-copy",
                              KmsKeyId=dr_key)


    def test_reserved_concurrency_keeps_100_unreserved_and_account_settings_report_it(self):
        self.post("/_rsp/config", {"lambda_concurrency_quota": 150})
        try:
            lam = self.client("lambda", A, "eu-central-1")
            code = {"ZipFile": b"not run"}
            role = self.client("iam", A).create_role(RoleName="reserving-function", AssumeRolePolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                         "Principal": {"Service": "lambda.amazonaws.com"}}]}))["Role"]["Arn"]

            def create(name):
                return lam.create_function(FunctionName=name, Runtime="provided.al2023", Handler="bootstrap",
                                           Role=role, Code=code)

            limit = lam.get_account_settings()["AccountLimit"]
            self.assertEqual((limit["ConcurrentExecutions"], limit["UnreservedConcurrentExecutions"]), (150, 150))
            create("reserves-40")
            lam.put_function_concurrency(FunctionName="reserves-40", ReservedConcurrentExecutions=40)
            self.assertEqual(lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"], 110)
            # 110 - 20 would leave 90: below the 100 Lambda keeps, at a change and at creation
            # (CloudFormation's ReservedConcurrentExecutions).
            create("reserves-20")
            with self.assertRaisesRegex(Exception, r"below its minimum value of \[100\]"):
                lam.put_function_concurrency(FunctionName="reserves-20", ReservedConcurrentExecutions=20)
            cfn = self.client("cloudformation", A, "eu-central-1")
            cfn.create_stack(StackName="reserves", TemplateBody=json.dumps({"Resources": {"F": {
                "Type": "AWS::Lambda::Function", "Properties": {
                    "Runtime": "provided.al2023", "Handler": "bootstrap", "Role": role,
                    "Code": {"ZipFile": "not run"}, "ReservedConcurrentExecutions": 20}}}}))
            stack = cfn.describe_stacks(StackName="reserves")["Stacks"][0]
            self.assertIn(stack["StackStatus"], ("CREATE_FAILED", "ROLLBACK_COMPLETE"))
            reasons = [e.get("ResourceStatusReason") or "" for e in cfn.describe_stack_events(StackName="reserves")["StackEvents"]]
            self.assertTrue(any("below its minimum value of [100]" in r for r in reasons), reasons)
            self.assertEqual(lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"], 110)
            lam.put_function_concurrency(FunctionName="reserves-40", ReservedConcurrentExecutions=50)
            self.assertEqual(lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"], 100)
            # Per account and region: another region has its whole quota.
            other = self.client("lambda", A, "eu-west-2").get_account_settings()["AccountLimit"]
            self.assertEqual(other["UnreservedConcurrentExecutions"], 150)
        finally:
            self.post("/_rsp/config", {"lambda_concurrency_quota": 1000})

    def test_rds_service_linked_role_has_awss_name(self):
        role = self.client("iam", B).create_service_linked_role(AWSServiceName="rds.amazonaws.com")["Role"]
        self.assertEqual(role["RoleName"], "AWSServiceRoleForRDS")
        self.assertEqual(role["Path"], "/aws-service-role/rds.amazonaws.com/")

    def test_orderable_options_filter_on_the_instance_class(self):
        rds = self.client("rds", A)
        offered = rds.describe_orderable_db_instance_options(
            Engine="aurora-postgresql", EngineVersion="16.6", DBInstanceClass="db.t4g.medium")
        self.assertEqual([o["DBInstanceClass"] for o in offered["OrderableDBInstanceOptions"]], ["db.t4g.medium"])
        none = rds.describe_orderable_db_instance_options(
            Engine="aurora-postgresql", EngineVersion="16.6", DBInstanceClass="db.t3.micro")
        self.assertEqual(none["OrderableDBInstanceOptions"], [])
        postgres = rds.describe_orderable_db_instance_options(Engine="postgres", DBInstanceClass="db.t4g.micro")
        self.assertEqual(len(postgres["OrderableDBInstanceOptions"]), 1)

    def known_role(self, account, name, statements, service="states.amazonaws.com"):
        iam = self.client("iam", account)
        try:
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}))
        except iam.exceptions.EntityAlreadyExistsException:
            pass
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": statements}))
        return f"arn:aws:iam::{account}:role/{name}"

    def test_a_task_acts_as_its_state_machines_role(self):
        role = self.known_role(B, "metrics-machine", [
            {"Sid": "OwnNamespace", "Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*",
             "Condition": {"StringEquals": {"cloudwatch:namespace": "Allowed"}}}])
        sfn = self.client("stepfunctions", B)

        def run(namespace):
            definition = {"StartAt": "Put", "States": {"Put": {
                "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:cloudwatch:putMetricData",
                "Parameters": {"Namespace": namespace, "MetricData": [{"MetricName": "Age", "Value": 5}]},
                "End": True}}}
            arn = sfn.create_state_machine(name=f"put-{namespace.lower()}", definition=json.dumps(definition),
                                           roleArn=role)["stateMachineArn"]
            sfn.start_execution(stateMachineArn=arn, name="once", input="{}")
            return self.executions(sfn, arn)[0]

        self.assertEqual(run("Allowed")["status"], "SUCCEEDED")
        denied = run("Elsewhere")
        self.assertEqual(denied["status"], "FAILED", denied)
        log, _ = self.post("/_rsp/authorization", {})
        self.assertTrue(any(d["role"] == role and d["action"] == "cloudwatch:PutMetricData" for d in log["denied"]),
                        log["denied"])
        self.assertIn("p/OwnNamespace", log["necessary"][role])

    def test_a_rule_starts_a_state_machine_only_if_its_target_role_may(self):
        sfn, arn = self.machine(B, "on-event")
        role = self.known_role(B, "rule-target", [
            {"Sid": "StartOther", "Effect": "Allow", "Action": "states:StartExecution",
             "Resource": f"arn:aws:states:{REGION}:{B}:stateMachine:other"}], service="events.amazonaws.com")
        events_b = self.client("events", B)
        events_b.put_rule(Name="to-machine", EventPattern=json.dumps({"source": ["launcher-test"]}))
        events_b.put_targets(Rule="to-machine", Targets=[{"Id": "m", "Arn": arn, "RoleArn": role}])
        entry = {"Source": "launcher-test", "DetailType": "Test", "Detail": "{}"}
        events_b.put_events(Entries=[entry])
        self.assertEqual(self.executions(sfn, arn), [])
        refused = self.post("/_rsp/events", {})[0]["refused"]
        self.assertTrue(any(r.get("target") == arn and "states:StartExecution" in r["why"] for r in refused), refused)
        self.known_role(B, "rule-target", [
            {"Sid": "StartThis", "Effect": "Allow", "Action": "states:StartExecution", "Resource": arn}],
            service="events.amazonaws.com")
        events_b.put_events(Entries=[entry])
        self.assertEqual(len(self.executions(sfn, arn)), 1)

    def test_sceptres_upload_is_decided_by_the_code_buckets_policy(self):
        """sceptre uploads a template with the stack's own role: HeadBucket, GetBucketLocation,
        PutObject with SSE AES256 (sceptre source, template.py). The code bucket lives in the
        tooling account; its policy decides, with the deploy role's own IAM."""
        tooling = "333333333333"
        with open(os.path.join(HERE, "..", "..", "templates", "code-bucket.yaml")) as f:
            template = f.read()
        cfn = self.client("cloudformation", tooling)
        cfn.create_stack(StackName="code-bucket", TemplateBody=template,
                         Parameters=[{"ParameterKey": "ReaderAccounts", "ParameterValue": f"{A},{B}"}])
        bucket = f"rds-snapshot-policy-code-{tooling}-{REGION}"
        self.client("s3", tooling).put_object(Bucket=bucket, Key="rds-snapshot-policy/provider.zip", Body=b"zip")
        s3 = self.role_client("s3", A, "sceptre-deploy", [
            {"Sid": "Templates", "Effect": "Allow", "Action": "s3:*", "Resource": "*"}])
        s3.head_bucket(Bucket=bucket)
        s3.get_bucket_location(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="sceptre-templates/prod/eu-west-1/install/2026.json", Body=b"{}",
                      ServerSideEncryption="AES256")
        self.assertEqual(s3.get_object(Bucket=bucket, Key="rds-snapshot-policy/provider.zip")["Body"].read(), b"zip")
        with self.assertRaises(s3.exceptions.ClientError) as packages:
            s3.put_object(Bucket=bucket, Key="rds-snapshot-policy/provider.zip", Body=b"not ours")
        self.assertEqual(packages.exception.response["Error"]["Code"], "AccessDenied")
        # The bucket policy before the fix granted GetObject on the packages only: sceptre's
        # HeadBucket was refused before any stack was created.
        self.client("s3", tooling).put_bucket_policy(Bucket=bucket, Policy=json.dumps({
            "Version": "2012-10-17", "Statement": [
                {"Sid": "TargetAccountsReadPackages", "Effect": "Allow",
                 "Principal": {"AWS": [A, B]}, "Action": "s3:GetObject",
                 "Resource": f"arn:aws:s3:::{bucket}/rds-snapshot-policy/*"}]}))
        with self.assertRaises(s3.exceptions.ClientError) as head:
            s3.head_bucket(Bucket=bucket)
        self.assertEqual(head.exception.response["Error"]["Code"], "403")

if __name__ == "__main__":
    unittest.main()
