"""Tests of cloudformation_deploy.py (run by `make test`): CloudFormation as sceptre drives it.

    .tools/moto/bin/python -m unittest tests/emulator/test_cloudformation_deploy.py
"""

import http.server
import io
import json
import threading
import time
import unittest
import urllib.request
import zipfile

import test_launcher
from test_launcher import A, REGION, EmulatorCase

TOOLING = "333333333333"
NO_ACCESS = "TemplateURL must reference a valid S3 object to which you have access."
TOPIC = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"T": {"Type": "AWS::SNS::Topic"}}}


class _MacroFunction(http.server.BaseHTTPRequestHandler):
    """A Lambda Invoke API whose function answers as a macro: adds a topic to the fragment, or
    fails when the template's parameter `Fail` is "yes"."""

    events = []
    before_answer = staticmethod(lambda event: None)

    def do_POST(self):  # noqa: N802 - http.server's name
        event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).events.append(event)
        if "RequestType" in event:
            return self.custom_resource(event)
        fragment = dict(event["fragment"])
        fragment["Resources"] = dict(fragment.get("Resources", {}), Added={"Type": "AWS::SNS::Topic"})
        failing = event["templateParameterValues"].get("Fail") == "yes"
        answer = ({"requestId": event["requestId"], "status": "failure", "errorMessage": "the macro refused it"}
                  if failing else {"requestId": event["requestId"], "status": "SUCCESS", "fragment": fragment})
        body = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def custom_resource(self, event):
        """Answers a custom resource event a second later on its ResponseURL, as a provider does:
        `Data` {"Minute": "7"}, or FAILED when its property `Fail` is "yes"."""
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")
        failing = event["ResourceProperties"].get("Fail") == "yes"
        answer = {"Status": "FAILED" if failing else "SUCCESS", "Reason": "refused by the provider",
                  "PhysicalResourceId": "cr-1", "Data": {"Minute": "7"}, "StackId": event["StackId"],
                  "RequestId": event["RequestId"], "LogicalResourceId": event["LogicalResourceId"]}

        def put():
            time.sleep(1)
            type(self).before_answer(event)
            body = json.dumps(answer).encode()
            request = urllib.request.Request(event["ResponseURL"], data=body, method="PUT")
            urllib.request.urlopen(request, timeout=10).read()

        threading.Thread(target=put, daemon=True).start()

    def log_message(self, *args):
        pass


class Deploy(EmulatorCase):
    role_client = test_launcher.Launcher.role_client

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _MacroFunction)
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()
        cls.post("/_rsp/config", {"lambda_endpoints": {A: f"http://127.0.0.1:{cls.server.server_port}"}})
        cls.client(cls, "iam", A).create_role(RoleName="fn", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"Service": "lambda.amazonaws.com"}}]}))

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        super().tearDownClass()

    def bucket(self, name, region, readers, prefix):
        """A bucket of the tooling account whose policy lets `readers` read under `prefix`."""
        s3 = self.client("s3", TOOLING, region)
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
        s3.put_bucket_policy(Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": readers}, "Action": "s3:GetObject",
             "Resource": f"arn:aws:s3:::{name}/{prefix}*"}]}))
        return s3

    def deployer(self, region=REGION):
        return self.role_client("cloudformation", A, "deployer", [
            {"Effect": "Allow", "Action": ["cloudformation:*", "s3:GetObject"], "Resource": "*"}], region=region)

    def test_a_template_url_is_read_with_the_callers_access_from_any_account(self):
        s3 = self.bucket("tooling-templates", REGION, [A], "allowed/")
        for key in ("allowed/t.json", "other/t.json"):
            s3.put_object(Bucket="tooling-templates", Key=key, Body=json.dumps(TOPIC).encode())
        cfn = self.deployer()
        url = "https://tooling-templates.s3.eu-west-1.amazonaws.com/{}"
        cfn.create_stack(StackName="from-tooling", TemplateURL=url.format("allowed/t.json"))
        self.assertEqual(cfn.describe_stacks(StackName="from-tooling")["Stacks"][0]["StackStatus"], "CREATE_COMPLETE")
        for bad in (url.format("other/t.json"), url.format("allowed/missing.json"),
                    "http://tooling-templates.s3.eu-west-1.amazonaws.com/allowed/t.json"):
            with self.assertRaises(cfn.exceptions.ClientError) as refused:
                cfn.create_stack(StackName="refused", TemplateURL=bad)
            self.assertIn("TemplateURL", refused.exception.response["Error"]["Message"], bad)
        with self.assertRaises(cfn.exceptions.ClientError) as other:
            cfn.create_stack(StackName="refused", TemplateURL=url.format("other/t.json"))
        self.assertEqual(other.exception.response["Error"]["Message"], NO_ACCESS)

    def macro(self):
        lam = self.client("lambda", A)
        lam.create_function(FunctionName="macro-fn", Runtime="provided.al2023", Handler="bootstrap",
                            Role=f"arn:aws:iam::{A}:role/fn", Code={"ZipFile": b"PK"})
        cfn = self.client("cloudformation", A)
        cfn.create_stack(StackName="macro-install", TemplateBody=json.dumps({"Resources": {"M": {
            "Type": "AWS::CloudFormation::Macro",
            "Properties": {"Name": "Adds", "FunctionName": f"arn:aws:lambda:{REGION}:{A}:function:macro-fn"}}}}))
        return cfn

    def test_a_transform_runs_the_macro_of_the_stacks_account_and_region(self):
        cfn = self.client("cloudformation", A)
        unknown = dict(TOPIC, Transform="Nobody")
        with self.assertRaises(cfn.exceptions.ClientError) as missing:
            cfn.create_stack(StackName="unknown-macro", TemplateBody=json.dumps(unknown))
        self.assertEqual(missing.exception.response["Error"]["Message"], f"No transform named {A}::Nobody found.")

        cfn = self.macro()
        template = dict(TOPIC, Transform="Adds", Parameters={
            "Fail": {"Type": "String", "Default": "no"}, "Names": {"Type": "CommaDelimitedList", "Default": "a,b"}})
        cfn.create_stack(StackName="transformed", TemplateBody=json.dumps(template),
                         Capabilities=["CAPABILITY_AUTO_EXPAND"])
        resources = {r["LogicalResourceId"] for r in cfn.describe_stack_resources(StackName="transformed")["StackResources"]}
        self.assertEqual(resources, {"T", "Added"})
        event = _MacroFunction.events[-1]
        self.assertEqual(event["transformId"], f"{A}::Adds")
        self.assertEqual((event["region"], event["accountId"], event["params"]), (REGION, A, {}))
        self.assertNotIn("Transform", event["fragment"])
        self.assertEqual(event["templateParameterValues"], {"Fail": "no", "Names": ["a", "b"]})

        # Unchanged template and parameters: nothing to update; a changed parameter runs the macro again.
        with self.assertRaises(cfn.exceptions.ClientError) as same:
            cfn.update_stack(StackName="transformed", TemplateBody=json.dumps(template),
                             Capabilities=["CAPABILITY_AUTO_EXPAND"])
        self.assertEqual(same.exception.response["Error"]["Message"], "No updates are to be performed.")
        with self.assertRaises(cfn.exceptions.ClientError) as failed:
            cfn.update_stack(StackName="transformed", TemplateBody=json.dumps(template),
                             Parameters=[{"ParameterKey": "Fail", "ParameterValue": "yes"}])
        self.assertEqual(failed.exception.response["Error"]["Message"],
                         f"Transform {A}::Adds failed with: the macro refused it")

    def test_lambda_code_comes_from_a_bucket_of_the_functions_region_the_caller_may_read(self):
        package = io.BytesIO()
        with zipfile.ZipFile(package, "w") as z:
            z.writestr("bootstrap", "x")
        for region in ("eu-west-1", "eu-central-1"):
            s3 = self.bucket(f"tooling-code-{region}", region, [A], "packages/")
            for key in ("packages/fn.zip", "private/fn.zip"):
                s3.put_object(Bucket=f"tooling-code-{region}", Key=key, Body=package.getvalue())

        def function(stack, bucket, key):
            """The stack's status, or the reason it failed."""
            cfn = self.deployer()
            template = {"Resources": {"Fn": {"Type": "AWS::Lambda::Function", "Properties": {
                "Runtime": "provided.al2023", "Handler": "bootstrap", "Role": f"arn:aws:iam::{A}:role/fn",
                "Code": {"S3Bucket": bucket, "S3Key": key}}}}}
            cfn.create_stack(StackName=stack, TemplateBody=json.dumps(template))
            status = cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
            reasons = [e.get("ResourceStatusReason") for e in cfn.describe_stack_events(StackName=stack)["StackEvents"]
                       if e["ResourceStatus"] == "CREATE_FAILED"]
            return status if status == "CREATE_COMPLETE" else f"{status}: {reasons}"

        self.assertEqual(function("code-here", "tooling-code-eu-west-1", "packages/fn.zip"), "CREATE_COMPLETE")
        self.assertIn("The bucket is in this region: eu-central-1",
                      function("code-elsewhere", "tooling-code-eu-central-1", "packages/fn.zip"))
        self.assertIn("S3 Error Code: AccessDenied",
                      function("code-private", "tooling-code-eu-west-1", "private/fn.zip"))

    def test_a_subscription_resource_subscribes_its_endpoint(self):
        cfn = self.client("cloudformation", A)
        cfn.create_stack(StackName="subscribed", TemplateBody=json.dumps({"Resources": {
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {}},
            "Email": {"Type": "AWS::SNS::Subscription", "Properties": {
                "TopicArn": {"Ref": "Topic"}, "Protocol": "email", "Endpoint": "oncall@example.org"}}}}))
        topic = next(r["PhysicalResourceId"] for r in cfn.list_stack_resources(StackName="subscribed")[
            "StackResourceSummaries"] if r["LogicalResourceId"] == "Topic")
        subscriptions = self.client("sns", A).list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        self.assertEqual([(s["Protocol"], s["Endpoint"]) for s in subscriptions], [("email", "oncall@example.org")])
        cfn.delete_stack(StackName="subscribed")

    def test_a_resource_reading_a_custom_resources_attribute_waits_for_its_answer(self):
        lam = self.client("lambda", A)
        lam.create_function(FunctionName="cr-fn", Runtime="provided.al2023", Handler="bootstrap",
                            Role=f"arn:aws:iam::{A}:role/fn", Code={"ZipFile": b"PK"})
        cfn = self.client("cloudformation", A)

        def stack(name, fail):
            cfn.create_stack(StackName=name, TemplateBody=json.dumps({"Resources": {
                "Policy": {"Type": "Custom::RdsSnapshotPolicy", "Properties": {
                    "ServiceToken": f"arn:aws:lambda:{REGION}:{A}:function:cr-fn", "Fail": fail}},
                "Topic": {"Type": "AWS::SNS::Topic", "Properties": {
                    "DisplayName": {"Fn::GetAtt": ["Policy", "Minute"]}}}}}))
            deadline = time.time() + 60
            while (status := cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]).endswith(
                    "IN_PROGRESS") and time.time() < deadline:
                time.sleep(0.5)
            return status

        # The provider lists its own stack before it answers (its PolicyId check): that lists
        # the custom resource in progress and does not create it a second time.
        listed = []
        _MacroFunction.before_answer = staticmethod(lambda event: listed.append(
            [r["LogicalResourceId"] for r in cfn.list_stack_resources(StackName=event["StackId"])[
                "StackResourceSummaries"]]))
        self.addCleanup(setattr, _MacroFunction, "before_answer", staticmethod(lambda event: None))
        self.assertEqual(stack("reads-answer", "no"), "CREATE_COMPLETE")
        self.assertEqual(listed, [["Policy"]])
        creates = [e for e in _MacroFunction.events if "RequestType" in e and "reads-answer" in e["StackId"]]
        self.assertEqual(len(creates), 1)
        topic = next(r["PhysicalResourceId"] for r in cfn.list_stack_resources(StackName="reads-answer")[
            "StackResourceSummaries"] if r["LogicalResourceId"] == "Topic")
        attributes = self.client("sns", A).get_topic_attributes(TopicArn=topic)["Attributes"]
        self.assertEqual(attributes["DisplayName"], "7")

        self.assertNotEqual(stack("refused-answer", "yes"), "CREATE_COMPLETE")
        reasons = [e.get("ResourceStatusReason") for e in cfn.describe_stack_events(StackName="refused-answer")[
            "StackEvents"] if e["ResourceStatus"] == "CREATE_FAILED"]
        self.assertIn("refused by the provider", reasons)
        # What the failed creation made is listed; the topic reading the answer never was.
        listed = [r["LogicalResourceId"] for r in cfn.describe_stack_resources(StackName="refused-answer")[
            "StackResources"]]
        self.assertEqual(listed, ["Policy"])

    def test_generated_names_fit_the_services_limits(self):
        cfn = self.client("cloudformation", A)
        stack = "rds-snapshot-policy-dr-eu-central-1-" + "a-long-stack-path-" * 3 + "copies"
        cfn.create_stack(StackName=stack, TemplateBody=json.dumps({"Resources": {
            "ProdSnapshotCopiesCopyStateMachine": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
                "RoleArn": f"arn:aws:iam::{A}:role/sfn",
                "DefinitionString": json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})}},
            "ProdSnapshotCopiesScheduleRule": {"Type": "AWS::Events::Rule", "Properties": {
                "ScheduleExpression": "rate(1 hour)", "State": "DISABLED"}}}}))
        resources = {r["LogicalResourceId"]: r["PhysicalResourceId"]
                     for r in cfn.describe_stack_resources(StackName=stack)["StackResources"]}
        machine = resources["ProdSnapshotCopiesCopyStateMachine"].rsplit(":", 1)[-1]
        self.assertLessEqual(len(machine), 80, machine)
        self.assertIn("-ProdSnapshotCopiesCopyStateMachine-", machine)
        self.assertTrue(machine.startswith("rds-snapshot-policy-dr"), machine)
        self.assertLessEqual(len(resources["ProdSnapshotCopiesScheduleRule"].split("/")[-1]), 64)


if __name__ == "__main__":
    unittest.main()
