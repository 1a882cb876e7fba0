"""CloudFormation as a deploy tool (sceptre, the pipeline) drives it.

- TemplateURL: CloudFormation reads the template from S3 with the caller's access (CreateStack
  API reference, TemplateURL: "The URL ... must point to a template ... located in an Amazon S3
  bucket ... must start with https://"; AWS's answer otherwise: "TemplateURL must reference a
  valid S3 object to which you have access."). The bucket may belong to another account (the
  code bucket of the tooling account); moto looked only in the caller's account and checked no
  access.
- Macros: `AWS::CloudFormation::Macro` registers a Lambda function under a name in its account
  and region; a template whose `Transform` names it is sent to the function on CreateStack,
  UpdateStack and CreateChangeSet, and its answer replaces the template (CloudFormation guide,
  "Create a CloudFormation macro definition": the event's region, accountId, fragment (the
  template without its Transform section), transformId, params (empty for the Transform
  section), requestId, templateParameterValues; the answer's requestId must match and a status
  other than "success", compared without case, is a failure). An unknown macro is refused
  ("No transform named <account>::<name> found."). moto ignored `Transform`.
- An update whose processed template, parameters and tags equal the stack's changes nothing:
  "No updates are to be performed." (UpdateStack; sceptre treats it as done). moto compared the
  raw text only, which differs from the processed template of a transformed stack.
- Lambda code from S3: "An Amazon S3 bucket in the same AWS Region as your function. The bucket
  can be in a different AWS account." (Lambda API reference, FunctionCode), read with the
  caller's access; moto looked in the function's account only and ignored the region.
- Generated names fit: a resource without a name gets a physical ID CloudFormation makes from the
  stack name, the logical ID and a random part (CloudFormation guide, "Name type": "If you don't
  specify a name, CloudFormation generates a unique physical ID to name the resource"), shortened
  to the service's limit (a state machine's name is at most 80 characters, StateMachineName in
  the template reference; an EventBridge rule's 64, an IAM role's 64, a Lambda function's 64, a
  DB instance's or cluster's identifier 63, lowercase: DBInstanceIdentifier, DBClusterIdentifier).
  moto joined them whole, so a long stack name (sceptre's `<project>-<group>-<region>-<stack>`)
  made names AWS never makes and Step Functions refused.
- `AWS::RDS::DBCluster`, and an `AWS::RDS::DBInstance` with `DBClusterIdentifier` (a cluster's
  instance), which moto's CloudFormation does not create (AWS::RDS::DBCluster and
  AWS::RDS::DBInstance in the CloudFormation template reference).
"""

import json
import urllib.parse
import uuid

from moto.awslambda import models as awslambda
from moto.awslambda.exceptions import InvalidParameterValueException
from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing as cfn_parsing
from moto.cloudformation import responses as cfn_responses
from moto.cloudformation.exceptions import ValidationError
from moto.core.common_models import CloudFormationModel
from moto.rds import models as rds
from moto.s3 import models as s3

import state

_macros = {}  # (account, region) -> {macro name: function name or ARN}

_NO_ACCESS = "TemplateURL must reference a valid S3 object to which you have access."


def _object(bucket, key):
    """(owner account, bucket, object) wherever the bucket lives, or None."""
    owner = s3.s3_backends.bucket_accounts.get(bucket)
    if owner is None:
        return None
    partition, account = owner
    backend = s3.s3_backends[account][partition]
    found = backend.buckets.get(bucket)
    try:
        return account, found, backend.get_object(bucket, key)
    except Exception:  # noqa: BLE001 - no such key
        return account, found, None


def _readable(bucket, key, region):
    """None when the caller of this request may read s3://bucket/key, else AWS's refusal."""
    import authorization
    caller = state.current_caller()
    if caller is None:
        return None
    return authorization.authorize_s3_read(caller, region, bucket, key)


# --- templates from S3 --------------------------------------------------------------------------

def _bucket_and_key(url):
    parts = urllib.parse.urlparse(url)
    host = parts.netloc.split(":")[0]
    path = urllib.parse.unquote(parts.path).lstrip("/")
    if host.startswith("s3.") or host.startswith("s3-") or host in ("localhost", "127.0.0.1"):
        bucket, _, key = path.partition("/")  # path style
    else:
        bucket, key = host.split(".")[0], path  # virtual-hosted style
    return bucket, key


def _get_stack_from_s3_url(self, template_url):
    if not template_url.startswith("https://"):
        raise ValidationError(message="TemplateURL must be a supported URL.")
    bucket, key = _bucket_and_key(template_url)
    found = _object(bucket, key)
    if found is None or found[2] is None or _readable(bucket, key, self.region) is not None:
        raise ValidationError(message=_NO_ACCESS)
    return found[2].value.decode("utf-8")


cfn_responses.CloudFormationResponse._get_stack_from_s3_url = _get_stack_from_s3_url


# --- macros -------------------------------------------------------------------------------------

class Macro(CloudFormationModel):
    """AWS::CloudFormation::Macro: a name for a Lambda function in its account and region."""

    __module__ = "moto.cloudformation.models"

    def __init__(self, account, region, name):
        self.account, self.region, self.name = account, region, name

    @staticmethod
    def cloudformation_type():
        return "AWS::CloudFormation::Macro"

    @staticmethod
    def cloudformation_name_type():
        return ""

    @property
    def physical_resource_id(self):
        return self.name

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name, **kwargs):
        properties = cloudformation_json["Properties"]
        name = properties["Name"]
        with state._lock:
            registered = _macros.setdefault((account_id, region_name), {})
            if name in registered:
                raise ValidationError(message=f"Macro {name} already exists in {account_id}/{region_name}")
            registered[name] = properties["FunctionName"]
        return cls(account_id, region_name, name)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json,
                                        account_id, region_name):
        with state._lock:
            _macros.get((account_id, region_name), {}).pop(original_resource.name, None)
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id,
                                                   region_name)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        with state._lock:
            _macros.get((account_id, region_name), {}).pop(cloudformation_json["Properties"]["Name"], None)

    def delete(self, account_id, region_name):
        with state._lock:
            _macros.get((account_id, region_name), {}).pop(self.name, None)


def _parameter_values(template, given):
    """The template's parameters as CloudFormation evaluates them for a macro: the given value or
    the default; list types as lists."""
    values = {}
    for name, declared in (template.get("Parameters") or {}).items():
        if name in given:
            value = given[name]
        elif isinstance(declared, dict) and "Default" in declared:
            value = declared["Default"]
        else:
            continue
        kind = declared.get("Type", "String") if isinstance(declared, dict) else "String"
        if kind.startswith("List<") or kind == "CommaDelimitedList":
            value = value if isinstance(value, list) else [v for v in str(value).split(",")]
        values[name] = value if isinstance(value, list) else str(value)
    return values


def _function(account, region, name):
    """The Lambda function, in whichever backend moto serves Lambda from (without Docker, the
    simple one)."""
    from moto.awslambda_simple import models as simple
    for backends in (simple.lambda_simple_backends, awslambda.lambda_backends):
        try:
            return backends[account][region].get_function(name)
        except Exception:  # noqa: BLE001 - not in this backend
            continue
    return None


def _run_macro(account, region, name, fragment, values):
    with state._lock:
        function_name = _macros.get((account, region), {}).get(name)
    transform_id = f"{account}::{name}"
    if function_name is None:
        raise ValidationError(message=f"No transform named {transform_id} found.")
    function = _function(account, region, function_name)
    if function is None:
        raise ValidationError(message=f"Transform {transform_id} failed with: function {function_name} not found")
    request_id = str(uuid.uuid4())
    event = {"region": region, "accountId": account, "fragment": fragment, "transformId": transform_id,
             "params": {}, "requestId": request_id, "templateParameterValues": values}
    text, errored, _ = function._invoke_lambda(event=json.dumps(event))
    try:
        answer = json.loads(text)
    except ValueError:
        answer = None
    if errored or not isinstance(answer, dict):
        raise ValidationError(message=f"Transform {transform_id} failed with: {str(text)[:500]}")
    if str(answer.get("status", "")).lower() != "success":
        reason = answer.get("errorMessage") or f"status {answer.get('status')!r}"
        raise ValidationError(message=f"Transform {transform_id} failed with: {reason}")
    if answer.get("requestId") != request_id:
        raise ValidationError(message=f"Transform {transform_id} failed with: the requestId does not match")
    if not isinstance(answer.get("fragment"), dict):
        raise ValidationError(message=f"Transform {transform_id} failed with: no template fragment")
    return answer["fragment"]


def processed(template_text, given, account, region):
    """The template after its Transform section's macros, in order (unchanged without one)."""
    if not template_text:
        return template_text
    template = cfn_models.Stack.parse_template(template_text)
    transforms = template.get("Transform") if isinstance(template, dict) else None
    if not transforms:
        return template_text
    names = transforms if isinstance(transforms, list) else [transforms]
    if any(not isinstance(n, str) or n.startswith("AWS::") for n in names):
        return template_text  # AWS's own transforms: left to moto
    values = _parameter_values(template, given or {})
    fragment = {k: v for k, v in template.items() if k != "Transform"}
    for name in names:
        fragment = _run_macro(account, region, name, fragment, values)
    return json.dumps(fragment, sort_keys=True)


_original_create_stack = cfn_models.CloudFormationBackend.create_stack
_original_update_stack = cfn_models.CloudFormationBackend.update_stack
_original_create_change_set = cfn_models.CloudFormationBackend.create_change_set


def _create_stack(self, name, template, parameters, *args, **kwargs):
    template = processed(template, parameters, self.account_id, self.region_name)
    try:
        return _original_create_stack(self, name, template, parameters, *args, **kwargs)
    except ValidationError:
        raise
    except Exception as error:  # noqa: BLE001 - a resource failed: the stack rolls back
        # A resource that fails fails the stack, not the CreateStack call (CloudFormation guide,
        # "Troubleshooting": the failed resource's event carries the reason, then ROLLBACK):
        # moto let the service's exception escape the call (a Lambda JSON error in an XML API).
        stack = next((s for s in self.stacks.values() if s.name == name), None)
        if stack is None:
            raise
        reason = getattr(error, "message", None) or str(error)
        stack._add_stack_event("CREATE_FAILED", resource_status_reason=reason)
        stack.status = "ROLLBACK_COMPLETE"
        return stack


def _update_stack(self, name, template, role_arn, parameters, tags):
    stack = self.get_stack(name)
    resolved = self._resolve_update_parameters(instance=stack, incoming_params=parameters)
    template = processed(template, resolved, self.account_id, self.region_name)
    if (template == stack.template and resolved == stack.parameters
            and (tags is None or tags == stack.tags)):
        raise ValidationError(name, message="No updates are to be performed.")
    return _original_update_stack(self, name, template, role_arn, parameters, tags)


def _create_change_set(self, *args, **kwargs):
    template, parameters = kwargs.get("template"), kwargs.get("parameters") or {}
    if template is not None:
        kwargs["template"] = processed(template, parameters, self.account_id, self.region_name)
    return _original_create_change_set(self, *args, **kwargs)


cfn_models.CloudFormationBackend.create_stack = _create_stack
cfn_models.CloudFormationBackend.update_stack = _update_stack
cfn_models.CloudFormationBackend.create_change_set = _create_change_set


# --- generated names --------------------------------------------------------------------------

_NAME_LIMITS = {"AWS::StepFunctions::StateMachine": 80, "AWS::Events::Rule": 64, "AWS::IAM::Role": 64,
                "AWS::Lambda::Function": 64, "AWS::SQS::Queue": 80, "AWS::SNS::Topic": 256,
                "AWS::CloudWatch::Alarm": 255, "AWS::RDS::DBInstance": 63, "AWS::RDS::DBCluster": 63}
_original_generate_resource_name = cfn_parsing.generate_resource_name


def _generate_resource_name(resource_type, stack_name, logical_id):
    name = _original_generate_resource_name(resource_type, stack_name, logical_id)
    limit = _NAME_LIMITS.get(resource_type)
    if resource_type.startswith("AWS::RDS::DB"):
        name = name.lower()
    if limit is None or len(name) <= limit:
        return name
    suffix = name.rsplit("-", 1)[-1]
    tail = f"-{logical_id}-{suffix}"
    if len(tail) >= limit:
        return f"{logical_id[:limit - len(suffix) - 1]}-{suffix}"
    short = f"{stack_name[:limit - len(tail)].rstrip('-')}{tail}"
    return short.lower() if resource_type.startswith("AWS::RDS::DB") else short


cfn_parsing.generate_resource_name = _generate_resource_name


# --- Lambda code from S3 ------------------------------------------------------------------------

_original_function_init = awslambda.LambdaFunction.__init__


def _function_init(self, account_id, spec, region, *args, **kwargs):
    code = spec.get("Code") or {}
    bucket, key = code.get("S3Bucket"), code.get("S3Key")
    if bucket and key:
        found = _object(bucket, key)
        if found is None:
            raise InvalidParameterValueException(
                "Error occurred while GetObject. S3 Error Code: NoSuchBucket. S3 Error Message: "
                "The specified bucket does not exist")
        owner, found_bucket, obj = found
        location = getattr(found_bucket, "region_name", region)
        if location != region:
            raise InvalidParameterValueException(
                "Error occurred while GetObject. S3 Error Code: PermanentRedirect. S3 Error Message: "
                f"The bucket is in this region: {location}. Please use this region to retry the request")
        if obj is None:
            raise InvalidParameterValueException(
                "Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error Message: "
                "The specified key does not exist.")
        if _readable(bucket, key, region) is not None:
            raise InvalidParameterValueException(
                "Error occurred while GetObject. S3 Error Code: AccessDenied. S3 Error Message: Access Denied")
    _original_function_init(self, account_id, spec, region, *args, **kwargs)


def _s3_code(account_id, partition, data):
    """The package object, in whichever account owns the bucket (checked in _function_init)."""
    found = _object(data["S3Bucket"], data["S3Key"])
    return found[2] if found else None


awslambda._validate_s3_bucket_and_key = _s3_code
awslambda.LambdaFunction.__init__ = _function_init


# --- Aurora clusters ----------------------------------------------------------------------------

class DBClusterResource(CloudFormationModel):
    """AWS::RDS::DBCluster, created through moto's RDS backend."""

    __module__ = "moto.rds.models"

    def __init__(self, account, region, identifier):
        self.account, self.region, self.identifier = account, region, identifier

    @staticmethod
    def cloudformation_type():
        return "AWS::RDS::DBCluster"

    @staticmethod
    def cloudformation_name_type():
        return "DBClusterIdentifier"

    @property
    def physical_resource_id(self):
        return self.identifier

    @classmethod
    def has_cfn_attr(cls, attr):
        return attr in ("Endpoint.Address", "Endpoint.Port", "DBClusterArn")

    def get_cfn_attribute(self, attribute_name):
        cluster = rds.rds_backends[self.account][self.region].clusters[self.identifier]
        if attribute_name == "DBClusterArn":
            return cluster.db_cluster_arn
        if attribute_name == "Endpoint.Port":
            return str(cluster.port)
        return cluster.endpoint

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name, **kwargs):
        p = cloudformation_json["Properties"]
        identifier = str(p.get("DBClusterIdentifier") or resource_name).lower()
        arguments = {
            "db_cluster_identifier": identifier, "engine": p["Engine"],
            "engine_version": p.get("EngineVersion"), "master_username": p.get("MasterUsername"),
            "master_user_password": p.get("MasterUserPassword"),
            "manage_master_user_password": p.get("ManageMasterUserPassword"),
            "storage_encrypted": p.get("StorageEncrypted"), "kms_key_id": p.get("KmsKeyId"),
            "deletion_protection": p.get("DeletionProtection"),
            "backup_retention_period": p.get("BackupRetentionPeriod", 1),
            "copy_tags_to_snapshot": p.get("CopyTagsToSnapshot"),
            "enable_iam_database_authentication": p.get("EnableIAMDatabaseAuthentication"),
            "enable_cloudwatch_logs_exports": p.get("EnableCloudwatchLogsExports"),
            "tags": p.get("Tags") or [],
        }
        backend = rds.rds_backends[account_id][region_name]
        backend.create_db_cluster({k: v for k, v in arguments.items() if v is not None})
        return cls(account_id, region_name, identifier)

    def delete(self, account_id, region_name):
        backend = rds.rds_backends[account_id][region_name]
        cluster = backend.clusters.get(self.identifier)
        if cluster is not None:
            cluster.deletion_protection = False
            backend.delete_db_cluster(cluster_identifier=self.identifier)


_original_instance_from_cfn = rds.DBInstance.create_from_cloudformation_json.__func__


def _instance_from_cfn(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    p = cloudformation_json["Properties"]
    if not p.get("DBClusterIdentifier"):
        return _original_instance_from_cfn(cls, resource_name, cloudformation_json, account_id,
                                           region_name, **kwargs)
    arguments = {
        "db_instance_identifier": str(p.get("DBInstanceIdentifier") or resource_name).lower(),
        "db_cluster_identifier": p["DBClusterIdentifier"], "engine": p.get("Engine"),
        "db_instance_class": p.get("DBInstanceClass"),
        "auto_minor_version_upgrade": p.get("AutoMinorVersionUpgrade"),
        "publicly_accessible": p.get("PubliclyAccessible"), "tags": p.get("Tags") or [],
    }
    backend = rds.rds_backends[account_id][region_name]
    return backend.create_db_instance({k: v for k, v in arguments.items() if v is not None})


rds.DBInstance.create_from_cloudformation_json = classmethod(_instance_from_cfn)

# --- SNS subscriptions ---------------------------------------------------------------------------

class SubscriptionResource(CloudFormationModel):
    """AWS::SNS::Subscription: "subscribes an endpoint to an Amazon SNS topic" (CloudFormation
    resource reference, AWS::SNS::Subscription: TopicArn, Protocol, Endpoint), created through
    moto's SNS backend in the topic's account and region; moto modelled no such resource and
    skipped it, so a policy's NotificationEmail subscribed no one."""

    __module__ = "moto.sns.models"

    def __init__(self, account, region, arn):
        self.account, self.region, self.arn = account, region, arn

    @staticmethod
    def cloudformation_type():
        return "AWS::SNS::Subscription"

    @staticmethod
    def cloudformation_name_type():
        return ""

    @property
    def physical_resource_id(self):
        return self.arn

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name, **kwargs):
        from moto.sns import models as sns_models
        p = cloudformation_json["Properties"]
        topic = p["TopicArn"]
        topic_region, topic_account = topic.split(":")[3], topic.split(":")[4]
        backend = sns_models.sns_backends[topic_account][topic_region]
        subscription = backend.subscribe(topic, p["Endpoint"], p["Protocol"])
        return cls(topic_account, topic_region, subscription.arn)

    def delete(self, account_id, region_name):
        from moto.sns import models as sns_models
        try:
            sns_models.sns_backends[self.account][self.region].unsubscribe(self.arn)
        except Exception:  # noqa: BLE001 - already gone with its topic
            pass


state.refresh_cfn_types()
