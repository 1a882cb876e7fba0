"""The project's moto launcher: moto server (pinned) plus the fixes the project needs.

Closes the gaps measured in ../shared/notes/aws-emulator.md:
  1. CopyDBSnapshot / CopyDBClusterSnapshot from a snapshot shared by another account or region
     (resolved in the ARN's own account and region, if the caller owns it or it is shared with
     the caller, as AWS does).
     Copies of Multi-AZ DB cluster snapshots are refused, as AWS does, and so are cross-region
     copies of snapshots whose option group holds TDE without OptionGroupName; snapshots
     report their OptionGroupName, and TDE options report Permanent and Persistent. Sharing a
     snapshot encrypted with an AWS-managed key is refused, as AWS does.
  2. Manual snapshots stay `creating` (copies `copying`) for a configurable number of seconds;
     sharing or copying a snapshot that is not yet `available` is refused, as AWS does.
  3. Keys behind `alias/aws/...` report KeyManager AWS, as AWS-managed keys do; a key created
     with the tag `rsp:key-id` gets that ID (for the shipped example policies).
  4. DescribeAccountAttributes with the ManualSnapshots and ManualClusterSnapshots quotas
     (MOTO_RDS_SNAPSHOT_LIMIT each).
  5. Lambda invocations (custom resources, Step Functions tasks) forwarded to a local Lambda
     Invoke API per account (`cargo lambda watch`), so the real binaries run.
  6. CloudFormation answers from custom resources recorded on the stack they name (SUCCESS and
     FAILED), and state machines created by CloudFormation where the executing API finds them.
  7. A settable clock for RDS creation times (`SnapshotCreateTime`), pending states and every
     response's `Date` header (the provider reads AWS's clock from it), for compressed-time demos.
  8. Step Functions SDK integrations (aws-sdk:cloudwatch:putMetricData, events:putEvents) act
     in the execution's account (moto uses its default account).
  9. EventBridge (eventbridge.py): RDS snapshot events, delivery to Step Functions targets,
     bus-to-bus delivery checked against bus policies, AWS::Events::EventBusPolicy.
 10. CloudWatch GetMetricData over the Smithy RPC v2 CBOR protocol the current SDKs use
     (cloudwatch_cbor.py).

Runtime settings: POST /_rsp/config with JSON {"pending_seconds": N, "copy_pending_seconds": N,
"pending_prefixes": {"slow-": N}, "restore_pending_seconds": N, "snapshot_limit": N, "lambda_endpoints": {"ACCOUNT":
"http://127.0.0.1:PORT"}, "clock": "RFC3339" | null}; GET /_rsp/config returns them. Snapshots
whose identifier starts with a prefix use its pending time (seconds of the emulated clock).
POST /_rsp/tick emits the RDS events due; POST /_rsp/wait returns once no execution runs;
GET /_rsp/events lists delivered, refused and emitted events. Listens on 127.0.0.1 only.

Usage: python launcher.py PORT [PARENT_PID]   (exits when PARENT_PID is gone)
"""

import datetime
import json
import os
import re
import sys
import threading
import time

from moto import server
from moto.rds import models as rds
from moto.rds import exceptions as rds_errors

_lock = threading.RLock()
_settings = {"pending_seconds": 0.0, "copy_pending_seconds": None, "pending_prefixes": {},
             "clock": None, "clock_set_at": None, "lambda_endpoints": {}}
_real_utcnow = rds.utcnow


def _now() -> datetime.datetime:
    """The emulated clock: a set time advancing in real time, or the real clock."""
    with _lock:
        clock, set_at = _settings["clock"], _settings["clock_set_at"]
    real = _real_utcnow()
    if clock is None:
        return real
    return clock + (real - set_at)


rds.utcnow = _now  # creation times of RDS resources follow the emulated clock

# A datum without Timestamp is stamped when CloudWatch receives it (CloudWatch API reference,
# MetricDatum: "Timestamp: The time the metric data was received"): by the emulated clock here.
from moto.cloudwatch import models as cloudwatch_models  # noqa: E402

cloudwatch_models.utcnow = _now


# --- pending states -------------------------------------------------------------------------

def _pending(until, real_until):
    """Pending until the emulated clock reaches `until`, or the same time passed in real time
    (tests that share the emulator set the clock independently; it may move backwards)."""
    return until is not None and _now() < until and (real_until is None or time.monotonic() < real_until)


def _status_get(self):
    until = self.__dict__.get("_rsp_pending_until")
    if _pending(until, self.__dict__.get("_rsp_pending_real_until")):
        return self.__dict__.get("_rsp_pending_status", "creating")
    return self.__dict__.get("_rsp_status", "available")


def _status_set(self, value):
    self.__dict__["_rsp_status"] = value


for _cls in (rds.DBSnapshot, rds.DBClusterSnapshot):
    _original_init = _cls.__init__

    def _init(self, *args, _original_init=_original_init, **kwargs):
        _original_init(self, *args, **kwargs)
        name = getattr(self, "db_snapshot_identifier", None) or getattr(self, "db_cluster_snapshot_identifier", "")
        with _lock:
            pending = _settings["pending_seconds"]
            for prefix, seconds in _settings["pending_prefixes"].items():
                if name.startswith(prefix):
                    pending = seconds
        if getattr(self, "snapshot_type", "manual") == "manual" and pending > 0:
            self.__dict__["_rsp_pending_until"] = _now() + datetime.timedelta(seconds=pending)
            self.__dict__["_rsp_pending_real_until"] = time.monotonic() + pending
            self.__dict__["_rsp_pending_status"] = "creating"

    _cls.__init__ = _init
    _cls.status = property(_status_get, _status_set)


def _copying(snapshot, cross_region):
    """A new copy: `copying` for copy_pending_seconds (else pending_seconds), then its event."""
    import eventbridge
    eventbridge.mark_copy(snapshot, cross_region)
    with _lock:
        seconds = _settings["copy_pending_seconds"]
    if seconds is not None:
        snapshot.__dict__["_rsp_pending_until"] = _now() + datetime.timedelta(seconds=seconds)
        snapshot.__dict__["_rsp_pending_real_until"] = time.monotonic() + seconds
    if "_rsp_pending_until" in snapshot.__dict__:
        snapshot.__dict__["_rsp_pending_status"] = "copying"


def _require_available(snapshot, kind):
    if snapshot.status != "available":
        cls = (rds_errors.InvalidDBClusterSnapshotStateFault if kind == "cluster"
               else _InvalidDBSnapshotState)
        raise cls(f"Snapshot {snapshot.arn} is {snapshot.status}, not available.")


def _refuse_aws_managed_share(backend, snapshot):
    """AWS: a snapshot encrypted with the AWS-managed key cannot be shared."""
    key_id = getattr(snapshot, "kms_key_id", None)
    if not key_id:
        return
    from moto.kms import models as kms_models
    try:
        key = kms_models.kms_backends[backend.account_id][backend.region_name].describe_key(key_id)
    except Exception:  # noqa: BLE001 - an unknown key is not this check's business
        return
    if any(name.startswith("alias/aws/") for name in key.aliases):
        raise rds_errors.InvalidParameterValue(
            "The snapshot is encrypted with the default AWS KMS key and can't be shared; "
            "copy it with a customer managed key first")


class _InvalidDBSnapshotState(rds_errors.RDSClientError):
    def __init__(self, message):
        super().__init__("InvalidDBSnapshotState", message)


for _name, _kind, _getter, _param in (
    ("modify_db_snapshot_attribute", "instance", "get_db_snapshot", "db_snapshot_identifier"),
    ("modify_db_cluster_snapshot_attribute", "cluster", "get_db_cluster_snapshot",
     "db_cluster_snapshot_identifier"),
):
    _original = getattr(rds.RDSBackend, _name)

    def _modify(self, *args, _original=_original, _kind=_kind, _getter=_getter, _param=_param, **kwargs):
        identifier = kwargs[_param] if _param in kwargs else args[0]
        if kwargs.get("values_to_add"):
            _require_available(getattr(self, _getter)(identifier), _kind)
            _refuse_aws_managed_share(self, getattr(self, _getter)(identifier))
        result = _original(self, *args, **kwargs)
        # AWS keeps each account once in an attribute; moto appends duplicates.
        snapshot = getattr(self, _getter)(identifier)
        for name, values in snapshot.attributes.items():
            snapshot.attributes[name] = list(dict.fromkeys(values))
        return snapshot.attributes if isinstance(result, dict) else result

    setattr(rds.RDSBackend, _name, _modify)


# --- restores take time ----------------------------------------------------------------------
# An instance restored from a snapshot (or created in a restored cluster) is `creating` for
# restore_pending_seconds of the emulated clock (moto makes it available at once).

_settings["restore_pending_seconds"] = 0.0
_restoring = {}  # (account, region, instance id) -> (emulated until, real until)
_restored_clusters = set()  # (account, region, cluster id)


def _mark_restoring(backend, identifier):
    with _lock:
        seconds = _settings["restore_pending_seconds"]
    if seconds > 0:
        _restoring[(backend.account_id, backend.region_name, identifier)] = (
            _now() + datetime.timedelta(seconds=seconds), time.monotonic() + seconds)


_original_restore_instance = rds.RDSBackend.restore_db_instance_from_db_snapshot


def _restore_instance(self, from_snapshot_id, overrides):
    database = _original_restore_instance(self, from_snapshot_id, overrides)
    # moto copies the original database's fields, creation time included.
    database.created = database.instance_create_time = _now()
    _mark_restoring(self, overrides["db_instance_identifier"])
    return database


rds.RDSBackend.restore_db_instance_from_db_snapshot = _restore_instance

_original_restore_cluster = rds.RDSBackend.restore_db_cluster_from_snapshot


# A restored cluster is `creating` for restore_pending_seconds too, and takes no instance until
# it is `available`. AWS (RDS API reference, RestoreDBClusterFromSnapshot): "You can create DB
# instances only after the RestoreDBClusterFromSnapshot action has completed and the DB cluster
# is available." Without EngineVersion the restore uses the region's default version (same
# text); moto keeps the snapshot's, so an omitted version is recorded as a stand-in for the
# region's default here (the values are placeholders, not AWS's current defaults).
_DEFAULT_ENGINE_VERSION = {"aurora-postgresql": "16.6", "aurora-mysql": "8.0.mysql_aurora.3.08.0"}


def _restore_cluster(self, from_snapshot_id, overrides):
    cluster = _original_restore_cluster(self, from_snapshot_id, overrides)
    cluster.created = cluster.cluster_create_time = _now()
    if not overrides.get("engine_version") and cluster.engine in _DEFAULT_ENGINE_VERSION:
        cluster.engine_version = _DEFAULT_ENGINE_VERSION[cluster.engine]
    identifier = overrides.get("db_cluster_identifier")
    _restored_clusters.add((self.account_id, self.region_name, identifier))
    _mark_restoring(self, ("cluster", identifier))
    return cluster


rds.RDSBackend.restore_db_cluster_from_snapshot = _restore_cluster


def _cluster_restoring(backend, identifier):
    key = (backend.account_id, backend.region_name, ("cluster", identifier))
    with _lock:
        if key not in _restoring:
            return False
        until, real_until = _restoring[key]
        if _pending(until, real_until):
            return True
        del _restoring[key]
        return False


_original_create_instance = rds.RDSBackend.create_db_instance


def _create_instance(self, db_kwargs):
    cluster = db_kwargs.get("db_cluster_identifier")
    if cluster and _cluster_restoring(self, cluster):
        raise rds_errors.InvalidDBClusterStateFault(
            f"DB cluster {cluster} is not in the available state; instances can be created once it is.")
    database = _original_create_instance(self, db_kwargs)
    if (self.account_id, self.region_name, cluster) in _restored_clusters:
        _mark_restoring(self, db_kwargs.get("db_instance_identifier"))
    return database


rds.RDSBackend.create_db_instance = _create_instance

_original_describe_clusters = rds.RDSBackend.describe_db_clusters


def _describe_clusters(self, *args, **kwargs):
    clusters = _original_describe_clusters(self, *args, **kwargs)
    for cluster in clusters:
        if _cluster_restoring(self, cluster.db_cluster_identifier):
            cluster.status = "creating"
        elif (self.account_id, self.region_name, cluster.db_cluster_identifier) in _restored_clusters:
            cluster.status = "available"
    return clusters


rds.RDSBackend.describe_db_clusters = _describe_clusters

_original_describe_instances = rds.RDSBackend.describe_db_instances


def _describe_instances(self, *args, **kwargs):
    databases = _original_describe_instances(self, *args, **kwargs)
    for database in databases:
        key = (self.account_id, self.region_name, database.db_instance_identifier)
        if key in _restoring:
            until, real_until = _restoring[key]
            if _pending(until, real_until):
                database.status = "creating"
            else:
                database.status = "available"
                del _restoring[key]
    return databases


rds.RDSBackend.describe_db_instances = _describe_instances


# --- copies from shared snapshots -----------------------------------------------------------

_ARN = re.compile(r"^arn:aws[a-z-]*:rds:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):(?P<type>snapshot|cluster-snapshot):(?P<name>.+)$")


def _foreign_source(backend, identifier, kind):
    """The snapshot an ARN names in another account or region, if the caller may copy it."""
    match = _ARN.match(identifier or "")
    if not match:
        return None
    account, region, name = match["account"], match["region"], match["name"].lower()
    if account == backend.account_id and region == backend.region_name:
        return None
    source_backend = rds.rds_backends[account][region]
    store = source_backend.cluster_snapshots if kind == "cluster" else source_backend.database_snapshots
    snapshot = store.get(name)
    allowed = snapshot is not None and (
        account == backend.account_id
        or backend.account_id in snapshot.attributes["restore"]
        or "all" in snapshot.attributes["restore"]
    )
    if not allowed:
        if kind == "cluster":
            raise rds_errors.DBClusterSnapshotNotFoundError(identifier)
        raise rds_errors.DBSnapshotNotFoundFault(identifier)
    _require_available(snapshot, kind)
    return snapshot


def _refuse_multi_az_cluster(snapshot):
    """AWS: "Copying a snapshot of a Multi-AZ DB cluster" is not supported."""
    if not str(getattr(snapshot, "engine", "aurora")).startswith("aurora"):
        raise rds_errors.InvalidParameterCombination(
            "Copying a snapshot of a Multi-AZ DB cluster isn't supported")


def _require_option_group(source, cross_region, option_group_name):
    """AWS (RDS API reference, CopyDBSnapshot, OptionGroupName): "If you are copying from a
    shared manual DB snapshot ... a cross-Region copy of a snapshot that uses Transparent Data
    Encryption (TDE) needs an option group in the target Region" -- the parameter is required
    only for TDE (Oracle, SQL Server); other copies proceed without it and their restores get
    the default option group."""
    group = getattr(source, "option_group_name", None)
    if not cross_region or not group or group.startswith("default:") or option_group_name:
        return
    account, region = source.arn.split(":")[4], source.arn.split(":")[3]
    option_group = rds.rds_backends[account][region].option_groups.get(group)
    names = [o.get("OptionName") for o in (option_group.options if option_group else [])]
    if any(name in ("TDE", "TDE_SQLServer") for name in names):
        raise rds_errors.InvalidParameterCombination(
            f"The snapshot uses the option group {group} with TDE: a copy to another Region needs OptionGroupName")


def _copy(self, source, target, kind, kms_key_id, tags, copy_tags, option_group_name=None):
    if kind == "cluster":
        _refuse_multi_az_cluster(source)
    else:
        _require_option_group(source, source.arn.split(":")[3] != self.region_name, option_group_name)
    store = self.cluster_snapshots if kind == "cluster" else self.database_snapshots
    if target in store:
        if kind == "cluster":
            raise rds_errors.DBClusterSnapshotAlreadyExistsError(target)
        raise rds_errors.DBSnapshotAlreadyExistsError(target)
    if len(store) >= self.SNAPSHOT_QUOTA:
        raise rds_errors.SnapshotQuotaExceededFault()
    if kms_key_id is not None:
        kms_key_id = self._validate_kms_key(kms_key_id)
    if copy_tags and not tags:
        tags = source.tags or []
    if kind == "cluster":
        copied = rds.DBClusterSnapshot(self, source.cluster, target, tags=tags, kms_key_id=kms_key_id)
    else:
        copied = rds.DBSnapshot(self, source.database, target, tags=tags, kms_key_id=kms_key_id,
                                original_created_at=source.original_snapshot_create_time)
        copied.rsp_option_group = option_group_name or getattr(source, "option_group_name", None)
    _copying(copied, source.arn.split(":")[3] != self.region_name)
    store[target] = copied
    return copied


_original_copy_instance = rds.RDSBackend.copy_db_snapshot
_original_copy_cluster = rds.RDSBackend.copy_db_cluster_snapshot


def _copy_db_snapshot(self, source_db_snapshot_identifier, target_db_snapshot_identifier,
                      kms_key_id=None, tags=None, copy_tags=False, **kwargs):
    source = _foreign_source(self, source_db_snapshot_identifier, "instance")
    if source is None:
        _require_available(self.get_db_snapshot(source_db_snapshot_identifier), "instance")
        result = _original_copy_instance(self, source_db_snapshot_identifier, target_db_snapshot_identifier,
                                         kms_key_id=kms_key_id, tags=tags, copy_tags=copy_tags, **kwargs)
        _copying(result, False)
        return result
    return _copy(self, source, target_db_snapshot_identifier, "instance", kms_key_id, tags, copy_tags,
                 kwargs.get("option_group_name"))


def _copy_db_cluster_snapshot(self, source_db_cluster_snapshot_identifier, target_db_cluster_snapshot_identifier,
                              kms_key_id=None, copy_tags=False, tags=None, **kwargs):
    source = _foreign_source(self, source_db_cluster_snapshot_identifier, "cluster")
    if source is None:
        own = self.get_db_cluster_snapshot(source_db_cluster_snapshot_identifier)
        _refuse_multi_az_cluster(own)
        _require_available(own, "cluster")
        result = _original_copy_cluster(self, source_db_cluster_snapshot_identifier,
                                        target_db_cluster_snapshot_identifier, kms_key_id=kms_key_id,
                                        copy_tags=copy_tags, tags=tags, **kwargs)
        _copying(result, False)
        return result
    return _copy(self, source, target_db_cluster_snapshot_identifier, "cluster", kms_key_id, tags, copy_tags)


# Options report Permanent and Persistent as AWS does for TDE (moto reports neither).
_original_options = rds.OptionGroup.options.fget


def _options(self):
    options = _original_options(self)
    for option in options:
        tde = option["OptionName"] in ("TDE", "TDE_SQLServer")
        option.setdefault("Permanent", tde)
        option.setdefault("Persistent", tde)
    return options


rds.OptionGroup.options = property(_options)
rds.RDSBackend.copy_db_snapshot = _copy_db_snapshot
# DescribeDBSnapshots reports the option group: the copy's own, else the database's.
rds.DBSnapshot.option_group_name = property(
    lambda self: getattr(self, "rsp_option_group", None) or getattr(self.database, "option_group_name", None))
rds.RDSBackend.copy_db_cluster_snapshot = _copy_db_cluster_snapshot


# --- AWS-managed keys ----------------------------------------------------------------------
# moto creates `alias/aws/<service>` keys on first use but reports them as CUSTOMER keys; AWS
# reports KeyManager AWS, which is what makes their snapshots unshareable.
from moto.kms import exceptions as kms_errors  # noqa: E402
from moto.kms import models as kms  # noqa: E402

_original_describe_key = kms.KmsBackend.describe_key


def _describe_key(self, key_id):
    key = _original_describe_key(self, key_id)
    if any(name.startswith("alias/aws/") for name in key.aliases):
        key.key_manager = "AWS"
    return key


kms.KmsBackend.describe_key = _describe_key

# Keys created by CloudFormation keep their KeyPolicy as an object; AWS (and the rest of moto)
# hold it as JSON text.
_original_key_from_cfn = kms.Key.create_from_cloudformation_json.__func__


def _key_from_cfn(cls, *args, **kwargs):
    key = _original_key_from_cfn(cls, *args, **kwargs)
    if not isinstance(key.policy, str):
        key.policy = json.dumps(key.policy)
    return key


kms.Key.create_from_cloudformation_json = classmethod(_key_from_cfn)

# A key created with the tag `rsp:key-id` gets that ID (a UUID), so shipped example policies
# can name the ARN of a key `make emulator` creates. AWS has no such tag; nothing else uses it.
_wanted_key_id = threading.local()
_original_generate_key_id = kms.generate_key_id
_original_create_key = kms.KmsBackend.create_key


def _generate_key_id(*args, **kwargs):
    wanted = getattr(_wanted_key_id, "value", None)
    _wanted_key_id.value = None
    return wanted or _original_generate_key_id(*args, **kwargs)


def _create_key(self, policy, key_usage, key_spec, description, tags, *args, **kwargs):
    wanted = next((t.get("TagValue") for t in tags or [] if t.get("TagKey") == "rsp:key-id"), None)
    if wanted and not re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", wanted):
        raise kms_errors.ValidationException(f"rsp:key-id {wanted!r} is not a key ID (a lowercase UUID)")
    _wanted_key_id.value = wanted
    try:
        return _original_create_key(self, policy, key_usage, key_spec, description, tags, *args, **kwargs)
    finally:
        _wanted_key_id.value = None


kms.generate_key_id = _generate_key_id
kms.KmsBackend.create_key = _create_key


# --- DescribeAccountAttributes -------------------------------------------------------------
# Not in moto: the manual snapshot quotas, as AWS reports them: ManualSnapshots counts DB
# instance snapshots, ManualClusterSnapshots DB cluster snapshots (both at MOTO_RDS_SNAPSHOT_LIMIT).
from moto.core.responses import ActionResult  # noqa: E402
from moto.rds import responses as rds_responses  # noqa: E402


def _describe_account_attributes(self):
    backend = self.backend
    instances = sum(1 for s in backend.database_snapshots.values() if s.snapshot_type == "manual")
    clusters = sum(1 for s in backend.cluster_snapshots.values() if s.snapshot_type == "manual")
    return ActionResult({"AccountQuotas": [
        {"AccountQuotaName": "ManualSnapshots", "Used": instances, "Max": backend.SNAPSHOT_QUOTA},
        {"AccountQuotaName": "ManualClusterSnapshots", "Used": clusters, "Max": backend.SNAPSHOT_QUOTA},
    ]})


rds_responses.RDSResponse.describe_account_attributes = _describe_account_attributes


# --- Lambda invocations forwarded to local functions -----------------------------------------
# Without Docker, moto's Lambda only echoes. With `lambda_endpoints` set ({account: URL of a
# Lambda Invoke API such as `cargo lambda watch`}), invocations of that account's functions (by
# CloudFormation custom resources and Step Functions tasks) run the real binary of that name.
import urllib.error  # noqa: E402
import urllib.parse  # noqa: E402
import urllib.request  # noqa: E402

from moto.awslambda import models as awslambda  # noqa: E402

_original_invoke_lambda = awslambda.LambdaFunction._invoke_lambda


def _invoke_lambda(self, event=None):
    with _lock:
        endpoint = _settings["lambda_endpoints"].get(self.account_id)
    if not endpoint:
        return _original_invoke_lambda(self, event=event)
    payload = event if isinstance(event, (str, bytes)) else json.dumps(event)
    if isinstance(payload, str):
        payload = payload.encode()
    url = f"{endpoint}/2015-03-31/functions/{self.function_name}/invocations"
    request = urllib.request.Request(url, data=payload, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=900) as response:
            text = response.read().decode()
    except urllib.error.HTTPError as error:
        text = error.read().decode()
    except OSError as error:
        text = json.dumps({"errorType": "Lambda.ServiceException", "errorMessage": str(error)})
    try:
        errored = isinstance(json.loads(text), dict) and "errorType" in json.loads(text)
    except ValueError:
        errored = False
    return text, errored, ""


awslambda.LambdaFunction._invoke_lambda = _invoke_lambda

_original_backend_invoke = awslambda.LambdaBackend.invoke


def _fallback_invoke(backend):
    from moto.awslambda_simple import models as simple
    if isinstance(backend, simple.LambdaSimpleBackend):
        return _original_simple_invoke
    return _original_backend_invoke


def _backend_invoke(self, function_name, qualifier, body, headers, response_headers):
    # Without Docker, moto's Invoke API answers with canned results; run the function instead.
    with _lock:
        forwarded = self.account_id in _settings["lambda_endpoints"]
    if not forwarded:
        return _fallback_invoke(self)(self, function_name, qualifier, body, headers, response_headers)
    function = self.get_function(function_name, qualifier)
    return function.invoke(body, headers, response_headers)


awslambda.LambdaBackend.invoke = _backend_invoke

from moto.awslambda_simple import models as awslambda_simple  # noqa: E402

_original_simple_invoke = awslambda_simple.LambdaSimpleBackend.invoke

# Without Docker, moto answers Invoke from its "simple" backend, which only echoes.
awslambda_simple.LambdaSimpleBackend.invoke = _backend_invoke

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


def _boto_client_for(*args, **kwargs):
    client = _original_boto_client_for(*args, **kwargs)

    def act_in_function_account(request, **_):
        match = _FUNCTION_ACCOUNT.search(request.url)
        if match:
            request.headers["x-moto-account-id"] = match.group(1)

    client.meta.events.register("before-send", act_in_function_account)
    return client


sfn_boto_client.boto_client_for = _boto_client_for
lambda_eval_utils.boto_client_for = _boto_client_for

# SDK and EventBridge integrations (PutMetricData, PutEvents) call moto as its default account
# too: make them act in the account of the execution that runs them.
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (  # noqa: E402
    state_task_service_aws_sdk as sfn_aws_sdk,
    state_task_service_events as sfn_events,
)

_task_account = threading.local()

for _module, _cls_name in ((sfn_aws_sdk, "StateTaskServiceAwsSdk"), (sfn_events, "StateTaskServiceEvents")):
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
    client = _original_boto_client_for(*args, **kwargs)
    account = getattr(_task_account, "value", None)

    def act_in_account(request, **_):
        if account:
            request.headers["x-moto-account-id"] = account

    client.meta.events.register("before-send", act_in_account)
    return client


# Executions started through the API are tracked too, so /_rsp/wait sees them.
import eventbridge  # noqa: E402  (patches moto's EventBridge on import)
import cloudwatch_cbor  # noqa: E402  (CloudWatch over CBOR)
from moto.stepfunctions.parser import models as sfn_parser_models  # noqa: E402

eventbridge.set_clock(lambda: _now())
import notifications  # noqa: E402  (alarms, topic and key policies, CloudTrail events)
import authorization  # noqa: E402  (the provider's calls decided by its role's policies)
import rds_account  # noqa: E402,F401  (orderable instance classes, RDS's service-linked role name)

notifications.set_clock(lambda: _now())
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

from moto.stepfunctions import responses as sfn_responses  # noqa: E402

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


# --- runtime settings -----------------------------------------------------------------------

class _ConfigMiddleware:
    """Serves /_rsp/config in front of moto's application."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if cloudwatch_cbor.handles(environ):
            return cloudwatch_cbor.answer(environ, start_response)
        if path.endswith("/cfnresponse"):
            return _custom_resource_answer(environ, start_response)
        if path in ("/_rsp/tick", "/_rsp/wait", "/_rsp/events", "/_rsp/alarms", "/_rsp/notifications",
                    "/_rsp/authorization"):
            return _events_endpoint(path, start_response)
        if path != "/_rsp/config":
            return _recorded(self.app, environ, start_response)
        if environ.get("REQUEST_METHOD") == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = json.loads(environ["wsgi.input"].read(length) or b"{}")
            with _lock:
                if "pending_seconds" in body:
                    _settings["pending_seconds"] = float(body["pending_seconds"])
                if "copy_pending_seconds" in body:
                    value = body["copy_pending_seconds"]
                    _settings["copy_pending_seconds"] = None if value is None else float(value)
                if "lambda_endpoints" in body:
                    _settings["lambda_endpoints"].update(body["lambda_endpoints"])
                if "snapshot_limit" in body:
                    os.environ["MOTO_RDS_SNAPSHOT_LIMIT"] = str(int(body["snapshot_limit"]))
                if "restore_pending_seconds" in body:
                    _settings["restore_pending_seconds"] = float(body["restore_pending_seconds"])
                if "pending_prefixes" in body:
                    _settings["pending_prefixes"].update({k: float(v) for k, v in body["pending_prefixes"].items()})
                if "clock" in body:
                    clock = body["clock"]
                    _settings["clock"] = (None if clock is None else
                                          datetime.datetime.fromisoformat(clock.replace("Z", "+00:00")).replace(tzinfo=None))
                    _settings["clock_set_at"] = _real_utcnow()
        with _lock:
            reply = {"pending_seconds": _settings["pending_seconds"],
                     "lambda_endpoints": _settings["lambda_endpoints"],
                     "pending_prefixes": _settings["pending_prefixes"],
                     "clock": None if _settings["clock"] is None else _now().isoformat() + "Z"}
        payload = json.dumps(reply).encode()
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(payload)))])
        return [payload]


_SCOPE = re.compile(r"Credential=([^/]+)/\d+/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request")


_ENFORCED = ("rds", "kms", "states", "cloudformation", "iam", "cloudtrail")


def _recorded(app, environ, start_response):
    """Decides the request by the caller's role (authorization.py), runs it, and hands a
    successful RDS or KMS write to CloudTrail (notifications.py)."""
    scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if not scope or scope.group(3) not in _ENFORCED:
        return app(environ, start_response)
    import io
    import urllib.parse as parse
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    key, region, service = scope.groups()
    try:
        if service in ("rds", "cloudformation", "iam"):
            params = {k: v[0] for k, v in parse.parse_qs(body.decode()).items()}
            action = params.get("Action")
        else:
            params = json.loads(body or b"{}")
            action = environ.get("HTTP_X_AMZ_TARGET", "").rsplit(".", 1)[-1]
    except ValueError:
        return app(environ, start_response)
    caller = notifications.caller_of(key)
    if caller is not None and action:
        refused = authorization.authorize(service, action, params, region, caller)
        if refused is not None:
            status, headers, payload = authorization.refusal(service, refused)
            start_response(status, headers + [("Content-Length", str(len(payload)))])
            return [payload]
    status = {}

    def capture(code, headers, *rest):
        status["code"] = code
        return start_response(code, headers, *rest)

    result = app(environ, capture)
    if not status.get("code", "").startswith("2") or service not in ("rds", "kms"):
        return result
    try:
        notifications.record_api_call(service, action, params, key, region)
    except Exception as error:  # noqa: BLE001 - the trail never breaks the call
        print(f"launcher: could not record {service} call for CloudTrail: {error}", file=sys.stderr)
    return result


def _date_time_string(self, timestamp=None):
    """The Date header of every response follows the emulated clock (the provider reads AWS's
    clock from it)."""
    import email.utils
    with _lock:
        emulated = _settings["clock"] is not None
    if timestamp is not None or not emulated:
        return _original_date_time_string(self, timestamp)
    return email.utils.format_datetime(_now().replace(tzinfo=datetime.timezone.utc), usegmt=True)


from werkzeug import serving as _werkzeug_serving  # noqa: E402

_original_date_time_string = _werkzeug_serving.WSGIRequestHandler.date_time_string
_werkzeug_serving.WSGIRequestHandler.date_time_string = _date_time_string


def _events_endpoint(path, start_response):
    if path == "/_rsp/tick":
        reply = {"emitted": eventbridge.announce_rds_events()}
    elif path == "/_rsp/wait":
        reply = {"running": eventbridge.wait_for_executions()}
    elif path == "/_rsp/alarms":
        reply = {"changes": notifications.evaluate_alarms()}
    elif path == "/_rsp/notifications":
        reply = notifications.log()
    elif path == "/_rsp/authorization":
        reply = authorization.log()
    else:
        reply = eventbridge.log()
    payload = json.dumps(reply).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
    return [payload]


def _custom_resource_answer(environ, start_response):
    """A custom resource's answer (PUT to its ResponseURL). moto handles it in its default
    account and region and ignores FAILED; this records it on the stack the answer names."""
    from moto.cloudformation import cloudformation_backends

    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = json.loads(environ["wsgi.input"].read(length) or b"{}")
    parts = body.get("StackId", "").split(":")
    status = "400 Bad Request"
    if len(parts) > 5:
        stack = cloudformation_backends[parts[4]][parts[3]].get_stack(body["StackId"])
        resource = stack.get_custom_resource(body.get("LogicalResourceId"))
        if body.get("Status") == "SUCCESS":
            resource.set_data(body.get("Data") or {})
            stack.verify_readiness()
        else:
            stack.status = "CREATE_FAILED"
            stack._add_stack_event("CREATE_FAILED", resource_status_reason=body.get("Reason"))
            print(f"custom resource {body.get('LogicalResourceId')} FAILED: {body.get('Reason')}", flush=True)
        status = "200 OK"
    start_response(status, [("Content-Length", "0")])
    return [b""]


_original_dispatcher = server.DomainDispatcherApplication


def _dispatcher(*args, **kwargs):
    return _ConfigMiddleware(_original_dispatcher(*args, **kwargs))


server.DomainDispatcherApplication = _dispatcher

def _watch_parent(pid):
    """Exits when the process that started the emulator is gone, so none is ever left behind."""
    while True:
        time.sleep(0.5)
        try:
            os.kill(pid, 0)
        except OSError:
            os._exit(0)


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: launcher.py PORT [PARENT_PID]")
    if len(sys.argv) == 3:
        threading.Thread(target=_watch_parent, args=(int(sys.argv[2]),), daemon=True).start()
    server.main(["-H", "127.0.0.1", "-p", sys.argv[1]])
