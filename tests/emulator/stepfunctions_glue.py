"""Step Functions and CloudFormation glue: state machines created by CloudFormation where the
executing API finds them; tasks acting in the execution's account and as its role; executions
tracked for /_rsp/wait; DescribeStateMachineForExecution answering the definition an execution
started with; DescribeStackResource past the types moto skips; ResponseURLs on 127.0.0.1.
"""

import datetime
import re
import threading
import types

import authorization
import eventbridge
import speed
import state
from state import _lock

# With executions enabled, moto's API uses its executing backend, while CloudFormation creates
# state machines in the plain one: send them where the API (and StartExecution) looks.
from moto.stepfunctions import models as sfn_models  # noqa: E402
from moto.stepfunctions import responses as sfn_responses  # noqa: E402


def _state_machine_from_cfn(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    properties = cloudformation_json["Properties"]
    return sfn_responses.get_backend(account_id, region_name).create_state_machine(
        properties.get("StateMachineName", resource_name), properties.get("DefinitionString", ""),
        properties.get("RoleArn", ""), tags=sfn_models.cfn_to_api_tags(properties.get("Tags", [])))


sfn_models.StateMachine.create_from_cloudformation_json = classmethod(_state_machine_from_cfn)

# Step Functions tasks call Lambda with fixed credentials, i.e. as moto's default account; make
# each call act in the account of the function it names.
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils  # noqa: E402
from moto.stepfunctions.parser.asl.utils import boto_client as sfn_boto_client  # noqa: E402

_original_boto_client_for = sfn_boto_client.boto_client_for
_FUNCTION_ACCOUNT = re.compile(r"arn(?::|%3A)aws[a-z-]*(?::|%3A)lambda(?::|%3A)[a-z0-9-]+(?::|%3A)(\d{12})")


def _execution_role(args, kwargs):
    """The role a task's call is made as: the state machine's (Step Functions guide, "IAM roles
    for Step Functions"), which moto passes as the task's state credentials."""
    credentials = kwargs.get("state_credentials") or (args[2] if len(args) > 2 else None)
    return getattr(credentials, "role_arn", None)


# One client per region, service, role and account, made once: botocore's clients are thread
# safe, and making one per task (a boto3 session and its event tree each time) was about 6 % of
# the emulator's CPU in the demo. Performance only: every request is what it was.
_clients = speed.Memo()


def _client_args(args, kwargs):
    region = kwargs.get("region", args[0] if args else None)
    service = kwargs.get("service", args[1] if len(args) > 1 else None)
    return region, service


def _boto_client_for(*args, **kwargs):
    role = _execution_role(args, kwargs)
    return _clients.get(("function", *_client_args(args, kwargs), role),
                          lambda: _new_function_client(args, kwargs, role))


def _new_function_client(args, kwargs, role):
    client = _original_boto_client_for(*args, **kwargs)

    def act_in_function_account(request, **_):
        match = _FUNCTION_ACCOUNT.search(request.url)
        if match:
            request.headers["x-moto-account-id"] = match.group(1)
        if role:
            request.headers[authorization.EXECUTION_ROLE_HEADER] = role

    client.meta.events.register("before-send", act_in_function_account)
    return client


sfn_boto_client.boto_client_for = _boto_client_for
lambda_eval_utils.boto_client_for = _boto_client_for

# SDK and EventBridge integrations (PutMetricData, PutEvents) call moto as its default account
# too: make them act in the account of the execution that runs them.
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (  # noqa: E402
    state_task_service_aws_sdk as sfn_aws_sdk,
    state_task_service_events as sfn_events,
    state_task_service_sns as sfn_sns,
)

_task_account = threading.local()

for _module, _cls_name in ((sfn_aws_sdk, "StateTaskServiceAwsSdk"), (sfn_events, "StateTaskServiceEvents"),
                           (sfn_sns, "StateTaskServiceSns")):
    _cls = getattr(_module, _cls_name)
    _original_eval = _cls._eval_service_task

    def _eval_in_account(self, env, resource_runtime_part, *args, _original_eval=_original_eval, **kwargs):
        _task_account.value = resource_runtime_part.account
        try:
            return _original_eval(self, env, resource_runtime_part, *args, **kwargs)
        finally:
            _task_account.value = None

    _cls._eval_service_task = _eval_in_account
    _module.boto_client_for = lambda *a, **k: _client_in_task_account(*a, **k)


def _client_in_task_account(*args, **kwargs):
    account = getattr(_task_account, "value", None)
    role = _execution_role(args, kwargs)
    return _clients.get(("task", *_client_args(args, kwargs), account, role),
                          lambda: _new_task_client(args, kwargs, account, role))


def _new_task_client(args, kwargs, account, role):
    client = _original_boto_client_for(*args, **kwargs)

    def act_in_account(request, **_):
        if account:
            request.headers["x-moto-account-id"] = account
        if role:
            request.headers[authorization.EXECUTION_ROLE_HEADER] = role

    client.meta.events.register("before-send", act_in_account)
    return client


from moto.stepfunctions.parser import models as sfn_parser_models  # noqa: E402
from moto.stepfunctions.parser.asl.component.state import state as sfn_state  # noqa: E402


class _EmulatedDatetime(datetime.datetime):
    """datetime.datetime whose now() is the emulated clock (state.py)."""

    @classmethod
    def now(cls, tz=None):
        now = state._now()
        return now.replace(tzinfo=datetime.timezone.utc) if tz is not None else now


# An execution's start (DescribeExecution's startDate, the context object's
# `$$.Execution.StartTime`) and a state's `$$.State.EnteredTime` are times like RDS's creation
# times: they follow the emulated clock (Step Functions developer guide, "Accessing execution
# data from the Context object": StartTime "the date and time the execution started").
_clock_datetime = types.ModuleType("datetime")
_clock_datetime.__dict__.update(datetime.__dict__)
_clock_datetime.datetime = _EmulatedDatetime
sfn_parser_models.datetime = _clock_datetime
sfn_state.datetime = _clock_datetime

_original_parser_start = sfn_parser_models.StepFunctionsParserBackend.start_execution


# The definition each execution started with. AWS: "DescribeStateMachineForExecution provides
# information about a state machine's definition ... for the execution" (Step Functions API
# reference), which stays the one the execution runs when the machine is updated under it;
# DescribeStateMachine returns the current definition. Moto answers both with the current one.
_definitions_at_start = {}


def _tracked_start(self, state_machine_arn, *args, **kwargs):
    execution = _original_parser_start(self, state_machine_arn, *args, **kwargs)
    eventbridge.track_execution(self.account_id, self.region_name, execution.execution_arn)
    machine = self.describe_state_machine(state_machine_arn)
    with _lock:
        _definitions_at_start[execution.execution_arn] = machine.definition
    return execution


sfn_parser_models.StepFunctionsParserBackend.start_execution = _tracked_start


_original_for_execution = sfn_responses.StepFunctionResponse.describe_state_machine_for_execution


def _describe_state_machine_for_execution(self):
    result = _original_for_execution(self)
    with _lock:
        started_with = _definitions_at_start.get(self._get_param("executionArn"))
    if started_with is not None and isinstance(result.result, dict):
        result.result["definition"] = started_with
    return result


sfn_responses.StepFunctionResponse.describe_state_machine_for_execution = _describe_state_machine_for_execution

# DescribeStackResource (the provider's trust check) stops at the first resource type moto
# skips (alarms, schedules: None in the stack's resource map); skip those as AWS never has them.
from moto.cloudformation import models as cfn_models  # noqa: E402


def _describe_stack_resource(self, stack_name, logical_resource_id):
    stack = self.get_stack(stack_name)
    for stack_resource in stack.stack_resources:
        if stack_resource is not None and getattr(stack_resource, "logical_resource_id", None) == logical_resource_id:
            return stack, stack_resource
    raise cfn_models.ValidationError(
        stack_name, f"Resource {logical_resource_id} does not exist for stack {stack_name}")


cfn_models.CloudFormationBackend.describe_stack_resource = _describe_stack_resource

# Custom-resource ResponseURLs point at this server on 127.0.0.1 (moto's default is a Docker host).
from moto import settings as moto_settings  # noqa: E402

moto_settings.moto_server_host = lambda: "http://127.0.0.1"

