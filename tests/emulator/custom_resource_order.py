"""Custom resources in dependency order: a resource that reads a custom resource's attribute is
created after the custom resource has answered.

- CloudFormation guide, `Fn::GetAtt`: "returns the value of an attribute from a resource in the
  template"; DependsOn attribute: "CloudFormation ... creates ... resources in dependency order"
  and "Dependent stacks also have implicit dependencies in the form of target properties
  !Ref and !GetAtt". For a custom resource the attributes are the `Data` of its answer
  ("Custom resource response objects": "Data ... The custom resource provider-defined
  name-value pairs to send with the response. You can access the values provided here by name
  in the template with Fn::GetAtt"), so CloudFormation waits for the answer before it creates
  the resources that read them.
- moto invoked the provider on a thread and went on at once: a resource reading
  `Fn::GetAtt [<custom>, <name>]` got None. Here the creation of such a custom resource waits
  for its answer (the launcher's `/cfnresponse`), up to `ANSWER_SECONDS`. A custom resource no
  one reads is still left to answer on its own, as before.
- ListStackResources during the creation lists the resources created or in progress so far
  (as CloudFormation does), instead of moto creating the rest on the caller's thread; after a
  failed creation, those it created (moto tried to create the rest again, and failed again).
- A FAILED answer fails the stack; moto marked the stack complete once its resources were
  created, over the failure recorded meanwhile.
"""

import json
import threading

from moto.cloudformation import custom_model
from moto.cloudformation import models as cfn_models
from moto.core.common_models import CloudFormationModel

ANSWER_SECONDS = 180

_answers = {}  # (stack ID, logical ID) -> threading.Event
_refusals = {}  # (stack ID, logical ID) -> the reason of its FAILED answer
_failed = {}  # stack ID -> reason of the first FAILED answer while its resources are created
_creating = {}  # stack ID -> the thread creating its resources
_lock = threading.Lock()


def _is_read(template, logical_id):
    """Whether another resource of `template` names an attribute of `logical_id`."""
    text = json.dumps(template.get("Resources", {}))
    return f'"Fn::GetAtt": ["{logical_id}",' in text or f'"Fn::GetAtt": "{logical_id}.' in text


_original_create = custom_model.CustomModel.create_from_cloudformation_json.__func__


def _create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    stack_id, logical_id = kwargs["StackId"], kwargs["LogicalId"]
    stack = cfn_models.cloudformation_backends[account_id][region_name].get_stack(stack_id)
    answered = threading.Event()
    with _lock:
        _answers[(stack_id, logical_id)] = answered
    resource = _original_create(cls, resource_name, cloudformation_json, account_id, region_name,
                                **kwargs)
    # Listed as in progress meanwhile (see `_stack_resources`).
    resource.cf_resource_type = kwargs.get("ResourceType")
    resource.logical_resource_id = logical_id
    if _is_read(stack.template_dict, logical_id):
        if not answered.wait(ANSWER_SECONDS):
            print(f"custom resource {logical_id}: no answer in {ANSWER_SECONDS} s; the resources "
                  "reading its attributes get none", flush=True)
        with _lock:
            refusal = _refusals.pop((stack_id, logical_id), None)
        if refusal is not None:
            # A FAILED answer fails the stack here: the resources after it are not created.
            raise CustomResourceFailed(refusal)
    return resource


class CustomResourceFailed(Exception):
    def __init__(self, reason):
        super().__init__(reason)
        self.message = reason


custom_model.CustomModel.create_from_cloudformation_json = classmethod(_create)


def answered(stack_id, logical_id, failure=None):
    """Records an answer; `False` while the stack's resources are still being created (the
    creation then decides the stack's status)."""
    with _lock:
        event = _answers.pop((stack_id, logical_id), None)
        if event is not None and failure is not None:
            _refusals[(stack_id, logical_id)] = failure
        if failure is not None and stack_id in _creating:
            _failed.setdefault(stack_id, failure)
        creating = stack_id in _creating
    if event is not None:
        event.set()
    return not creating


_original_create_resources = cfn_models.Stack.create_resources
_original_stack_resources = cfn_models.Stack.stack_resources


def _stack_resources(self):
    """The stack's resources; while another thread creates them, those created or in progress
    so far. (CloudFormation's ListStackResources lists a stack's resources during its creation,
    each with its status. moto's resource map creates any resource not yet created when it is
    listed: a provider listing its own stack while its custom resource waits for the answer
    created that custom resource a second time and waited on itself.)"""
    with _lock:
        elsewhere = _creating.get(self.stack_id) not in (None, threading.get_ident())
    # A stack whose creation failed keeps what it created; the resources after the failure
    # (those reading a FAILED custom resource's attributes) were never created.
    failed = "FAILED" in (self.status or "") or "ROLLBACK" in (self.status or "")
    if not elsewhere and not failed:
        return _original_stack_resources.fget(self)
    created = [r for r in list(self.resource_map._parsed_resources.values())
               if isinstance(r, CloudFormationModel)]
    in_progress = [r for r in list(self.custom_resources.values()) if all(r is not c for c in created)]
    return created + in_progress


def _create_resources(self):
    with _lock:
        _creating[self.stack_id] = threading.get_ident()
    try:
        _original_create_resources(self)
    finally:
        with _lock:
            _creating.pop(self.stack_id, None)
            failure = _failed.pop(self.stack_id, None)
    if failure is not None:
        self.status = "CREATE_FAILED"


cfn_models.Stack.create_resources = _create_resources
cfn_models.Stack.stack_resources = property(_stack_resources)
