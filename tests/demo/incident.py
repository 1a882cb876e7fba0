"""The incident hold, run by the demo after the attacks (issue 29): the tamper events and the
incident alarms the attacks raised have held every policy's deletes; a held delete run deletes
nothing; only an operator's `rds-snapshot-policy release` lifts the hold, after which the delete
runs as usual.
"""

import json
import subprocess

HOLD_TAG = "rds-snapshot-policy:hold"


def _delete_machine(stack):
    _, _, template, resources = stack
    logical = next(k for k, r in template["Resources"].items()
                   if r["Type"] == "AWS::StepFunctions::StateMachine" and k.endswith("DeleteStateMachine"))
    return resources[logical]


def _hold_of(sfn, machine):
    tags = sfn.list_tags_for_resource(resourceArn=machine)["tags"]
    return next((t["value"] for t in tags if t["key"] == HOLD_TAG), None)


def _run_delete(endpoint, post, sfn, machine, name):
    arn = sfn.start_execution(stateMachineArn=machine, name=name)["executionArn"]
    post(f"{endpoint}/_rsp/wait", {})
    execution = sfn.describe_execution(executionArn=arn)
    return execution["status"], json.loads(execution.get("output") or "{}")


def incident_hold(endpoint, post, stacks, profiles, cli, env):
    """`stacks`: (name, account, template, resources); `profiles`: stack name -> AWS profile.
    Returns (ok, text)."""
    post(f"{endpoint}/_rsp/wait", {})
    held = {}
    for stack in stacks:
        sfn = stack[1].client("stepfunctions")
        held[stack[0]] = _hold_of(sfn, _delete_machine(stack))
    name, account = stacks[1][0], stacks[1][1]
    sfn = account.client("stepfunctions")
    machine = _delete_machine(stacks[1])
    status, output = _run_delete(endpoint, post, sfn, machine, "while-held")
    held_run = status == "SUCCEEDED" and not output.get("done") and any(
        "deletes held since" in n.get("reason", "") for n in output.get("skipped", []))
    released = {}
    for stack in (s for s in stacks if held[s[0]]):
        done = subprocess.run([cli, "release", "--stack", stack[0], "--profile", profiles[stack[0]]],
                              env=env, capture_output=True, text=True)
        released[stack[0]] = done.returncode == 0 and "hold released" in done.stdout
    after = {stack[0]: _hold_of(stack[1].client("stepfunctions"), _delete_machine(stack)) for stack in stacks}
    status, output = _run_delete(endpoint, post, sfn, machine, "after-release")
    resumed = status == "SUCCEEDED" and not any(
        "deletes held" in n.get("reason", "") for n in output.get("skipped", []))
    # The DR policy (its unexpected-shares alarm, the manual delete) and orders (its snapshot
    # shared outside the tool) must be held; the others are held when a trail reports the
    # out-of-band share to their tamper rules too.
    must = (stacks[0][0], stacks[1][0])
    ok = all(held[k] for k in must) and held_run and all(released.values()) and not any(after.values()) and resumed
    text = (f"holds placed by the incidents: "
            + "; ".join(f"{k}: {(v or 'NONE')[:70]}" for k, v in held.items())
            + f"; {name}'s delete while held: {'nothing deleted' if held_run else 'NOT HELD'}; "
            f"released by `rds-snapshot-policy release`: {sorted(k for k, v in released.items() if v)}; "
            f"{name}'s delete after the release: {'ran' if resumed else 'STILL HELD'}")
    return ok, text
