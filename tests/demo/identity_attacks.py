"""Attacks on a policy's identity, run by the demo against the deployed stacks (issue 30).

A principal who may create stacks and state machines in the production account, but not touch
the victim's stack, tries to prune the `orders` policy's snapshots through the genuine provider:

- a plain stack (no macro, no policy resource) declaring its own state machine, named as the
  expansion names a delete machine, which reuses the victim's state-machine role (so no
  `lambda:InvokeFunction` of its own is needed) and sends the victim's policy with one hour of
  retention and `KeepLatest: 1`;
- a copycat stack expanded by the macro with the victim's `PolicyId`, the same database and the
  same short retention, whose genuine delete machine is then started.

Each must be refused (the plain stack's task as `NotDeployed`, the copycat's policy resource at
deploy time, naming the stack that holds the PolicyId) and the victim's snapshots stay as they were.
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "acceptance"))
from parts import snapshots  # noqa: E402  (every manual snapshot, all pages)

DELETE_SUFFIX = "DeleteStateMachine"


def _policy_of(sfn, machine_arn):
    definition = json.loads(sfn.describe_state_machine(stateMachineArn=machine_arn)["definition"])
    task = next(s for s in definition["States"].values()
                if s.get("Type") == "Task" and "policy" in s.get("Parameters", {}))
    return task["Parameters"]["policy"], task["Resource"]


def _snapshots_of(rds, database):
    return sorted(s["DBSnapshotIdentifier"] for s in snapshots(rds, "instance")
                  if s.get("DBInstanceIdentifier") == database)


def _create(cfn, name, template):
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(template),
                     Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"])
    deadline = time.time() + 120
    while True:
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
        if not stack["StackStatus"].endswith("IN_PROGRESS") or time.time() > deadline:
            break
        time.sleep(0.3)
    reasons = [e.get("ResourceStatusReason") or "" for e in cfn.describe_stack_events(StackName=name)["StackEvents"]]
    resources = {r["LogicalResourceId"]: r.get("PhysicalResourceId")
                 for r in cfn.describe_stack_resources(StackName=name)["StackResources"] if "LogicalResourceId" in r}
    return stack["StackStatus"], [r for r in reasons if r], resources


def _run(endpoint, post, sfn, machine_arn, name, clock):
    arn = sfn.start_execution(stateMachineArn=machine_arn, name=name,
                              input=json.dumps({"time": clock} if clock else {}))["executionArn"]
    post(f"{endpoint}/_rsp/wait", {})
    execution = sfn.describe_execution(executionArn=arn)
    failed = [e for e in sfn.get_execution_history(executionArn=arn)["events"]
              if e["type"] in ("TaskFailed", "LambdaFunctionFailed", "ExecutionFailed")]
    detail = next((e.get("taskFailedEventDetails") or e.get("lambdaFunctionFailedEventDetails")
                   or e.get("executionFailedEventDetails") for e in failed), None) or {}
    return execution["status"], detail.get("error"), detail.get("cause") or ""


def plain_stack_attack(endpoint, post, prod, victim, clock, legacy=False):
    """The plain stack with its own state machine and the victim's role. Returns (ok, text).
    `legacy`: the Task sends a version-3 input, which names no origin stack (issue 29)."""
    _, account, template, resources = victim
    policy_logical = next(k for k, r in template["Resources"].items() if r["Type"].startswith("Custom::"))
    sfn, rds = prod.client("stepfunctions"), prod.client("rds")
    policy, provider_arn = _policy_of(sfn, resources[f"{policy_logical}{DELETE_SUFFIX}"])
    role_name = resources[f"{policy_logical}StateMachineRole"]
    role_arn = prod.client("iam").get_role(RoleName=role_name)["Role"]["Arn"]
    forged = {k: v for k, v in policy.items() if k != "RetentionDays"}
    forged.update(RetentionHours=1, KeepLatest=1)
    machine = f"{'Legacy' if legacy else 'Evil'}{DELETE_SUFFIX}"
    if legacy:
        parameters = {"version": 3, "action": "delete", "policy": forged, "execution.$": "$$.Execution.Id",
                      "now.$": "$.time"}
    else:
        parameters = {"version": 6, "action": "delete", "policy": forged, "execution.$": "$$.Execution.Id",
                      "now.$": "$.time", "executionStart.$": "$$.Execution.StartTime",
                      "origin": {"stack": "STACK_ID", "stateMachine": machine}}
    definition = json.dumps({"StartAt": "Delete", "States": {"Delete": {
        "Type": "Task", "Resource": provider_arn, "Parameters": parameters, "End": True}}})
    if legacy:
        definition_string = definition
    else:
        before, after_stack = definition.split('"STACK_ID"')
        definition_string = {"Fn::Join": ["", [before + '"', {"Ref": "AWS::StackId"}, '"' + after_stack]]}
    plain = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {machine: {
        "Type": "AWS::StepFunctions::StateMachine",
        "Properties": {"RoleArn": role_arn, "DefinitionString": definition_string}}}}
    cfn = prod.client("cloudformation")
    name = "plain-legacy" if legacy else "plain-evil"
    status, _, created = _create(cfn, name, plain)
    kept = _snapshots_of(rds, "orders")
    run_status, error, cause = _run(endpoint, post, sfn, created[machine], f"{name}-prune", clock)
    left = _snapshots_of(rds, "orders")
    cfn.delete_stack(StackName=name)
    ok = status == "CREATE_COMPLETE" and error == "NotDeployed" and left == kept
    what = "a version-3 input (no origin stack)" if legacy else "its own origin stack"
    return ok, (f"plain stack with its own {machine} on the victim's role, sending {what}: {run_status} "
                f"{error} ({cause[:140]}); orders snapshots {len(kept)} -> {len(left)}")


def copycat_attack(endpoint, post, prod, prod_lambdas, invoke, victim, clock):
    """The copycat stack with the victim's PolicyId. Returns (ok, text)."""
    _, account, template, resources = victim
    policy_logical = next(k for k, r in template["Resources"].items() if r["Type"].startswith("Custom::"))
    sfn, rds = prod.client("stepfunctions"), prod.client("rds")
    policy, _ = _policy_of(sfn, resources[f"{policy_logical}{DELETE_SUFFIX}"])
    original = {"AWSTemplateFormatVersion": "2010-09-09", "Transform": "RdsSnapshotPolicy", "Resources": {
        "Copycat": {"Type": "Custom::RdsSnapshotPolicy", "Properties": {
            "Role": "Source", "PolicyId": policy["PolicyId"], "DBInstanceIdentifier": "orders",
            "DestinationAccount": policy["DestinationAccounts"][0], "RetentionHours": 1, "KeepLatest": 1}}}}
    answer = invoke(prod_lambdas, "rds-snapshot-policy-macro", {
        "requestId": "copycat", "region": prod.region, "accountId": prod.account,
        "transformId": f"{prod.account}::RdsSnapshotPolicy", "params": {}, "templateParameterValues": {},
        "fragment": original})
    if answer.get("status") != "success":
        return False, f"the macro refused the copycat template: {answer.get('errorMessage')}"
    cfn = prod.client("cloudformation")
    status, reasons, created = _create(cfn, "copycat", answer["fragment"])
    refusal = next((r for r in reasons if "already held by stack" in r), "")
    kept = _snapshots_of(rds, "orders")
    run_text = "its delete machine was rolled back"
    run_ok = True
    machine = created.get(f"Copycat{DELETE_SUFFIX}")
    if machine:
        # The emulator's CloudFormation does not roll back the resources of a failed stack
        # (AWS would delete them): start the copycat's genuine delete machine anyway.
        run_status, error, cause = _run(endpoint, post, sfn, machine, "copycat-prune", clock)
        run_text = f"its genuine delete machine, started anyway: {run_status} {error} ({cause[:140]})"
        run_ok = error == "NotDeployed"
    left = _snapshots_of(rds, "orders")
    cfn.delete_stack(StackName="copycat")
    ok = status != "CREATE_COMPLETE" and victim[0] in refusal and run_ok and left == kept
    return ok, (f"copycat stack with PolicyId {policy['PolicyId']}: {status} ({refusal[:160] or 'no refusal'}); "
                f"{run_text}; orders snapshots {len(kept)} -> {len(left)}")


def drifted_run(endpoint, post, sfn, machine_arn, name):
    """Edits a deployed state machine outside CloudFormation (UpdateStateMachine: its policy
    with a longer retention), starts it, and puts the deployed definition back. The task's
    policy no longer matches the policy resource's digest: refused as NotDeployed, and the
    execution fails through its Notify state. Returns (status, error, cause)."""
    deployed = sfn.describe_state_machine(stateMachineArn=machine_arn)["definition"]
    definition = json.loads(deployed)
    for state in definition["States"].values():
        policy = state.get("Parameters", {}).get("policy") if state.get("Type") == "Task" else None
        if isinstance(policy, dict):
            # A longer retention than deployed: still valid, no longer the deployed policy.
            key = next((k for k in ("RetentionDays", "RetentionHours") if k in policy), "RetentionDays")
            policy[key] = int(policy.get(key, 7)) + 1
    sfn.update_state_machine(stateMachineArn=machine_arn, definition=json.dumps(definition))
    try:
        return _run(endpoint, post, sfn, machine_arn, name, None)
    finally:
        sfn.update_state_machine(stateMachineArn=machine_arn, definition=deployed)


def time_from_input_run(endpoint, post, sfn, machine_arn, name, forged_time):
    """Starts a deployed machine with `forged_time` in its input (as a schedule's event carries
    its time). Returns (status, the time the run planned as of, the execution's start)."""
    arn = sfn.start_execution(stateMachineArn=machine_arn, name=name,
                              input=json.dumps({"time": forged_time}))["executionArn"]
    post(f"{endpoint}/_rsp/wait", {})
    execution = sfn.describe_execution(executionArn=arn)
    output = json.loads(execution.get("output") or "{}")
    return execution["status"], output.get("now"), execution["startDate"]


def forged_drill_finish(sfn, rds, execution_arn, invoke, lambdas):
    """While the genuine drill execution `execution_arn` waits for its restores, sends its
    provider a `finish` step of that execution with a made-up run: a drill in 2099 that took
    one minute, with markup in its text, naming a DR copy (issue 29). Returns the answer."""
    history = []
    deadline = time.time() + 30
    while time.time() < deadline:
        history = sfn.get_execution_history(executionArn=execution_arn)["events"]
        if any(e["type"] == "WaitStateEntered" for e in history):
            break
        time.sleep(0.2)
    machine = sfn.describe_execution(executionArn=execution_arn)["stateMachineArn"]
    definition = json.loads(sfn.describe_state_machine(stateMachineArn=machine)["definition"])
    finish = definition["States"]["Finish"]
    copy = next(s for s in snapshots(rds, "instance")
                if s["Status"] == "available")
    payload = {k: v for k, v in finish["Parameters"].items() if not k.endswith(".$")}
    payload["execution"] = execution_arn
    payload["drill"] = {"step": "finish", "run": {
        "started": "2099-01-01T00:00:00Z <img src=x onerror=alert(1)>",
        "restores": [{"database": copy.get("DBInstanceIdentifier", "orders"), "kind": "instance",
                      "snapshot": copy["DBSnapshotIdentifier"], "snapshotArn": copy["DBSnapshotArn"],
                      "identifier": "rsp-drill-forged", "requested": "2099-01-01T00:00:00Z",
                      "available": "2099-01-01T00:01:00Z", "minutes": 1}],
        "ready": True}}
    return invoke(lambdas, "rds-snapshot-policy-provider", payload)


def forged_drill_evidence(rds):
    """`drilled` tags on DR copies that came from a forged run (2099, or markup)."""
    out = []
    for s in snapshots(rds, "instance"):
        for tag in rds.list_tags_for_resource(ResourceName=s["DBSnapshotArn"])["TagList"]:
            if tag["Key"] == "rds-snapshot-policy:drilled" and ("2099" in tag["Value"] or "<" in tag["Value"]):
                out.append(f"{s['DBSnapshotIdentifier']}: {tag['Value']}")
    return out
