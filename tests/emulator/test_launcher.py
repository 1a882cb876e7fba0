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


class Launcher(unittest.TestCase):
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
        self.assertTrue(any(r["bus"] == bus_b for r in refused), refused)

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


if __name__ == "__main__":
    unittest.main()
