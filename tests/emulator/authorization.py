"""Authorization for the emulator: the provider's calls are decided by its role's policies.

Moto performs no authorization unless INITIAL_NO_AUTH_ACTION_COUNT is set, and then supplies
no condition context (moto source, iam/access_control.py). This module decides each RDS, KMS,
Step Functions and CloudFormation request made with the credentials of a role that exists in
the emulator's IAM (the roles CloudFormation created: the provider's role, the state machines'
roles), and its IAM and CloudTrail reads (the deploy-time checks), by that role's identity policies, with the condition context AWS gives the request:

- the resources of the action (IAM Service Authorization Reference, RDS: `CreateDBSnapshot` acts
  on the db and the snapshot, `CopyDBSnapshot` on the source and the target snapshot, restores on
  the new db or cluster and the snapshot, `CreateDBInstance` on the db and its cluster), each
  decided with its own `aws:ResourceTag/*` (IAM guide, "Controlling access to AWS resources
  using tags");
- `aws:RequestTag/*` and `aws:TagKeys` from the request's tags;
- KMS use that RDS makes on the caller's behalf for a copy under a key (`kms:ViaService`
  `rds.<region>.amazonaws.com`, `kms:GrantIsForAWSResource` true for its grants; RDS guide,
  "Sharing a DB snapshot": the copying account needs the source key through its own IAM and
  the key's policy), decided by the key's policy and, where the key policy delegates to the
  account, the caller's IAM (iam_eval: key policies).
A role unknown to IAM (the tests' and the operator's own credentials) is not restricted.
A refused call gets AWS's answer: `AccessDenied` (query APIs, HTTP 403) or
`AccessDeniedException` (JSON APIs, HTTP 400) with AWS's message wording. Every decision is
logged with the statement that allowed it (GET /_rsp/authorization), so a run shows which
statements were used: a statement no run uses is not shown to be needed.
"""

import json
import re
import threading

from moto.cloudformation import models as cfn
from moto.iam import models as iam
from moto.kms import models as kms
from moto.rds import models as rds

import iam_eval

# Set by the launcher on the calls a Step Functions task makes: the execution's role ARN.
EXECUTION_ROLE_HEADER = "x-rsp-execution-role"

_lock = threading.RLock()
_log = {"denied": [], "used": {}, "allowed_by": {}, "declared": {}, "decisions": 0}


def log():
    """What was decided: refusals, the statements each role used, and per role the distinct sets
    of statements that allowed a decision. A statement that alone allowed some decision is
    necessary: without it that call is refused (the run would fail), which is what removing
    each statement in turn and rerunning would show, without rerunning."""
    with _lock:
        allowed_by = {role: sorted(sorted(s) for s in sets) for role, sets in _log["allowed_by"].items()}
        necessary = {role: sorted({next(iter(s)) for s in sets if len(s) == 1})
                     for role, sets in _log["allowed_by"].items()}
        return {"denied": list(_log["denied"]), "used": {k: sorted(v) for k, v in _log["used"].items()},
                "allowed_by": allowed_by, "necessary": necessary, "decisions": _log["decisions"],
                "declared": {k: sorted(v) for k, v in _log["declared"].items()}}


def _role(account, role_arn):
    """The role's identity policies (inline and attached), or None if IAM has no such role."""
    name = role_arn.rsplit("/", 1)[-1]
    try:
        role = iam.iam_backends[account]["aws"].get_role(name)
    except Exception:  # noqa: BLE001 - not a role the emulator knows: unrestricted
        return None
    documents = []
    for policy_name, document in role.policies.items():
        documents.append((policy_name, json.loads(document) if isinstance(document, str) else document))
    for managed in role.managed_policies.values():
        documents.append((managed.name, json.loads(managed.default_version.document)))
    for _, document in documents:
        # A statement under `Fn::If [cond, {...}, !Ref AWS::NoValue]` is removed from the list
        # when the condition is false (CloudFormation guide, "Pseudo parameters": AWS::NoValue
        # "removes the corresponding resource property"); moto's CloudFormation leaves a null.
        if isinstance(document.get("Statement"), list):
            document["Statement"] = [s for s in document["Statement"] if s is not None]
    return documents


# --- what a request asks ------------------------------------------------------------------------

def _rds_arn(region, account, kind, name):
    if name and name.startswith("arn:"):
        return name
    return f"arn:aws:rds:{region}:{account}:{kind}:{(name or '*').lower() if name else '*'}"


def _tags_of(arn):
    """The tags of the RDS resource `arn` (any account), as a dict."""
    match = re.match(r"^arn:aws[a-z-]*:rds:([a-z0-9-]+):(\d{12}):([a-z-]+):(.+)$", arn or "")
    if not match:
        return {}
    region, account, kind, name = match.groups()
    backend = rds.rds_backends[account][region]
    store = {"db": backend.databases, "cluster": backend.clusters, "snapshot": backend.database_snapshots,
             "cluster-snapshot": backend.cluster_snapshots}.get(kind, {})
    found = store.get(name)
    tags = getattr(found, "tags", None) or []
    return {t["Key"]: t["Value"] for t in tags if "Key" in t}


def _request_tags(params):
    keys, values = {}, {}
    for name, value in params.items():
        match = re.match(r"^Tags\.(?:Tag\.|member\.)?(\d+)\.(Key|Value)$", name)
        if match:
            (keys if match.group(2) == "Key" else values)[match.group(1)] = value
    return {keys[i]: values.get(i, "") for i in keys}


_DESCRIBES = {
    "DescribeDBInstances": ("db", "DBInstanceIdentifier"),
    "DescribeDBClusters": ("cluster", "DBClusterIdentifier"),
    "DescribeDBSnapshots": ("snapshot", "DBSnapshotIdentifier"),
    "DescribeDBClusterSnapshots": ("cluster-snapshot", "DBClusterSnapshotIdentifier"),
    "DescribeDBSubnetGroups": ("subgrp", "DBSubnetGroupName"),
    "DescribeOptionGroups": ("og", "OptionGroupName"),
    "DescribeDBSnapshotAttributes": ("snapshot", "DBSnapshotIdentifier"),
    "DescribeDBClusterSnapshotAttributes": ("cluster-snapshot", "DBClusterSnapshotIdentifier"),
}


def _rds_checks(action, p, region, account):
    """[(action, resource ARN, extra context)] for one RDS request."""
    arn = lambda kind, name: _rds_arn(region, account, kind, name)  # noqa: E731
    if action in _DESCRIBES:
        kind, param = _DESCRIBES[action]
        return [(action, arn(kind, p.get(param)), {})]
    resources = {
        "CreateDBSnapshot": [arn("db", p.get("DBInstanceIdentifier")), arn("snapshot", p.get("DBSnapshotIdentifier"))],
        "CreateDBClusterSnapshot": [arn("cluster", p.get("DBClusterIdentifier")),
                                    arn("cluster-snapshot", p.get("DBClusterSnapshotIdentifier"))],
        "CopyDBSnapshot": [arn("snapshot", p.get("SourceDBSnapshotIdentifier")),
                           arn("snapshot", p.get("TargetDBSnapshotIdentifier"))],
        "CopyDBClusterSnapshot": [arn("cluster-snapshot", p.get("SourceDBClusterSnapshotIdentifier")),
                                  arn("cluster-snapshot", p.get("TargetDBClusterSnapshotIdentifier"))],
        "ModifyDBSnapshotAttribute": [arn("snapshot", p.get("DBSnapshotIdentifier"))],
        "ModifyDBClusterSnapshotAttribute": [arn("cluster-snapshot", p.get("DBClusterSnapshotIdentifier"))],
        "DeleteDBSnapshot": [arn("snapshot", p.get("DBSnapshotIdentifier"))],
        "DeleteDBClusterSnapshot": [arn("cluster-snapshot", p.get("DBClusterSnapshotIdentifier"))],
        "AddTagsToResource": [p.get("ResourceName", "*")],
        "RemoveTagsFromResource": [p.get("ResourceName", "*")],
        "RestoreDBInstanceFromDBSnapshot": [arn("db", p.get("DBInstanceIdentifier")),
                                            arn("snapshot", p.get("DBSnapshotIdentifier"))]
        + ([arn("subgrp", p["DBSubnetGroupName"])] if p.get("DBSubnetGroupName") else []),
        "RestoreDBClusterFromSnapshot": [arn("cluster", p.get("DBClusterIdentifier")),
                                         arn("cluster-snapshot", p.get("SnapshotIdentifier"))]
        + ([arn("subgrp", p["DBSubnetGroupName"])] if p.get("DBSubnetGroupName") else []),
        "CreateDBInstance": [arn("db", p.get("DBInstanceIdentifier"))]
        + ([arn("cluster", p["DBClusterIdentifier"])] if p.get("DBClusterIdentifier") else []),
        "DeleteDBInstance": [arn("db", p.get("DBInstanceIdentifier"))],
        "DeleteDBCluster": [arn("cluster", p.get("DBClusterIdentifier"))],
    }.get(action, ["*"])
    request_tags = _request_tags(p)
    context = {}
    if request_tags or action in ("AddTagsToResource",):
        context["aws:TagKeys"] = list(request_tags)
        context.update({f"aws:RequestTag/{k}": v for k, v in request_tags.items()})
    if action == "RemoveTagsFromResource":
        context["aws:TagKeys"] = [v for k, v in p.items() if k.startswith("TagKeys.")]
    out = [(action, resource, context) for resource in resources]
    # Tags on create: the create actions list rds:AddTagsToResource as a dependent action (IAM
    # Service Authorization Reference, RDS: CreateDBSnapshot, CopyDBSnapshot, the restores,
    # CreateDBInstance), so tags in the request are also decided as AddTagsToResource on the
    # new resource, with the request's tags.
    created = {"CreateDBSnapshot": -1, "CreateDBClusterSnapshot": -1, "CopyDBSnapshot": -1,
               "CopyDBClusterSnapshot": -1, "RestoreDBInstanceFromDBSnapshot": 0,
               "RestoreDBClusterFromSnapshot": 0, "CreateDBInstance": 0}
    if request_tags and action in created:
        out.append(("AddTagsToResource", resources[created[action]], context))
    return out


def _kms_key_arn(key_id, region, account):
    """The key ARN of `key_id` (an ID, ARN, alias or alias ARN) in its account and region."""
    if key_id.startswith("arn:"):
        parts = key_id.split(":")
        region, account = parts[3], parts[4]
    backend = kms.kms_backends[account][region]
    try:
        return backend.describe_key(key_id).arn, account, region
    except Exception:  # noqa: BLE001
        return key_id, account, region


def _rds_kms_checks(action, p, region, account):
    """The KMS use RDS makes on the caller's behalf for a copy: grants on the target key and on
    an encrypted source in another account."""
    if action not in ("CopyDBSnapshot", "CopyDBClusterSnapshot"):
        return []
    via = {"kms:ViaService": f"rds.{region}.amazonaws.com"}
    grant = dict(via, **{"kms:GrantIsForAWSResource": "true"})
    out = []
    if p.get("KmsKeyId"):
        key = _kms_key_arn(p["KmsKeyId"], region, account)
        out += [("kms:CreateGrant", key, grant), ("kms:Decrypt", key, via)]
    source = p.get("SourceDBSnapshotIdentifier") or p.get("SourceDBClusterSnapshotIdentifier") or ""
    match = re.match(r"^arn:aws[a-z-]*:rds:([a-z0-9-]+):(\d{12}):([a-z-]+):(.+)$", source)
    if match and match.group(2) != account:
        src_region, src_account, kind, name = match.groups()
        backend = rds.rds_backends[src_account][src_region]
        store = backend.cluster_snapshots if kind == "cluster-snapshot" else backend.database_snapshots
        snapshot = store.get(name)
        key_id = getattr(snapshot, "kms_key_id", None)
        if key_id:
            key = _kms_key_arn(key_id, src_region, src_account)
            out += [("kms:CreateGrant", key, grant), ("kms:Decrypt", key, via)]
    return out


def _json_checks(service, action, body, region, account):
    if service == "kms":
        key_id = body.get("KeyId")
        if not key_id:
            return [(f"kms:{action}", "*", {})]
        key = _kms_key_arn(key_id, region, account)
        if ":key/" not in key[0]:
            # No such key or alias: there is no key (or key policy) to authorize against, and KMS
            # answers NotFoundException (AWS KMS API Reference, the operations' errors), as moto does.
            return []
        return [(f"kms:{action}", key, {})]
    if service == "states":
        # Tagging acts on the tagged machine (Step Functions API reference, TagResource /
        # ListTagsForResource / UntagResource: "resourceArn"), with the request's tag keys as
        # aws:TagKeys (IAM guide, "Controlling access during AWS requests").
        resource = (body.get("executionArn") or body.get("stateMachineArn") or body.get("resourceArn")
                    or "*")
        context = {}
        if action == "TagResource":
            context["aws:TagKeys"] = [t.get("key") for t in body.get("tags") or []]
        elif action == "UntagResource":
            context["aws:TagKeys"] = list(body.get("tagKeys") or [])
        return [(f"states:{action}", resource, context)]
    if service == "logs":
        # CloudWatch Logs acts on the log group, and PutLogEvents on the log stream (Service
        # Authorization Reference, Amazon CloudWatch Logs: resource types log-group
        # `arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}` and log-stream
        # `...:log-group:${LogGroupName}:log-stream:${LogStreamName}`); Describe* calls name no
        # group and are decided on "*".
        group = body.get("logGroupName")
        if not group:
            return [(f"logs:{action}", "*", {})]
        resource = f"arn:aws:logs:{region}:{account}:log-group:{group}"
        if action == "PutLogEvents" and body.get("logStreamName"):
            resource += f":log-stream:{body['logStreamName']}"
        return [(f"logs:{action}", resource, {})]
    return []


def _iam_checks(action, p, account):
    """IAM acts on the named role (IAM Service Authorization Reference: role resources)."""
    name = p.get("RoleName")
    if not name:
        return [(f"iam:{action}", "*", {})]
    try:
        arn = iam.iam_backends[account]["aws"].get_role(name).arn
    except Exception:  # noqa: BLE001 - a role that does not exist: its ARN by name (path unknown)
        arn = f"arn:aws:iam::{account}:role/{name}"
        if name.startswith("AWSServiceRoleFor"):
            arn = f"arn:aws:iam::{account}:role/aws-service-role/rds.amazonaws.com/{name}"
    return [(f"iam:{action}", arn, {})]


def _cloudtrail_checks(action, body, region, account):
    """DescribeTrails has no resource type; the other reads act on the named trail."""
    name = body.get("Name") or body.get("TrailName")
    if action == "DescribeTrails" or not name:
        return [(f"cloudtrail:{action}", "*", {})]
    arn = name if name.startswith("arn:") else f"arn:aws:cloudtrail:{region}:{account}:trail/{name}"
    return [(f"cloudtrail:{action}", arn, {})]


def execution_caller(role_arn):
    """(account, role ARN, session ARN) of a Step Functions execution acting as `role_arn`."""
    account = role_arn.split(":")[4]
    return account, role_arn, f"arn:aws:sts::{account}:assumed-role/{role_arn.rsplit('/', 1)[-1]}/execution"


def _topic_key_checks(topic_arn):
    """Publishing to an encrypted topic: SNS uses the topic's key with the publisher's
    permissions (SNS guide, "Encryption at rest": the publisher needs kms:GenerateDataKey* and
    kms:Decrypt on the key), decided by the key's policy."""
    from moto.sns import models as sns_models
    parts = topic_arn.split(":")
    if len(parts) < 6:
        return []
    region, account = parts[3], parts[4]
    try:
        topic = sns_models.sns_backends[account][region].get_topic(topic_arn)
    except Exception:  # noqa: BLE001 - no such topic: SNS answers that itself
        return []
    key_id = getattr(topic, "kms_master_key_id", None)
    if not key_id:
        return []
    key_arn, key_account, key_region = _kms_key_arn(key_id, region, account)
    try:
        policy = json.loads(kms.kms_backends[key_account][key_region].describe_key(key_arn).policy)
    except Exception:  # noqa: BLE001
        policy = {"Statement": []}
    via = {"kms:ViaService": f"sns.{region}.amazonaws.com"}
    return [(act, key_arn, via, policy, key_account) for act in ("kms:GenerateDataKey", "kms:Decrypt")]


def _task_checks(service, action, params, region, account):
    """The calls a Step Functions task makes, as the execution's role."""
    if service == "lambda" and action == "Invoke":
        name = params["_path"].split("/functions/", 1)[-1].split("/", 1)[0]
        arn = name if name.startswith("arn:") else f"arn:aws:lambda:{region}:{account}:function:{name}"
        return [("lambda:InvokeFunction", arn, {}, None, account)]
    if service == "events" and action == "PutEvents":
        out = []
        for entry in params.get("Entries", []):
            bus = entry.get("EventBusName") or "default"
            arn = bus if bus.startswith("arn:") else f"arn:aws:events:{region}:{account}:event-bus/{bus}"
            context = {"events:source": entry.get("Source"), "events:detail-type": entry.get("DetailType")}
            out.append(("events:PutEvents", arn, {k: v for k, v in context.items() if v}, None, account))
        return out
    if service == "sns" and action == "Publish":
        topic = params.get("TopicArn", "*")
        return [("sns:Publish", topic, {}, None, account)] + _topic_key_checks(topic)
    if service == "monitoring" and action == "PutMetricData":
        return [("cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": params.get("Namespace")}, None, account)]
    return []


def _s3_checks(params, account):
    """S3 REST requests (path style): the bucket or object the action acts on, with the
    bucket's policy and owner (IAM Service Authorization Reference, Amazon S3: HeadBucket is
    s3:ListBucket, HEAD of an object s3:GetObject). Requests reach S3 over TLS from the SDKs,
    so `aws:SecureTransport` is true (the emulator's plain http is a test artifact)."""
    import urllib.parse as parse
    from moto.s3 import models as s3_models
    bucket, _, key = params["_path"].lstrip("/").partition("/")
    if not bucket:
        return []
    query = parse.parse_qs(params.get("_query", ""), keep_blank_values=True)
    method = params["_method"]
    if key:
        action = {"GET": "GetObject", "HEAD": "GetObject", "PUT": "PutObject", "POST": "PutObject",
                  "DELETE": "DeleteObject"}.get(method)
        resource = f"arn:aws:s3:::{bucket}/{key}"
    else:
        resource = f"arn:aws:s3:::{bucket}"
        if "location" in query:
            action = "GetBucketLocation"
        elif "policy" in query:
            action = {"GET": "GetBucketPolicy", "PUT": "PutBucketPolicy", "DELETE": "DeleteBucketPolicy"}.get(method)
        elif query and set(query) - {"list-type", "prefix", "delimiter", "max-keys", "marker",
                                     "continuation-token", "encoding-type", "start-after"}:
            return []  # other bucket subresources: not decided here
        else:
            action = {"GET": "ListBucket", "HEAD": "ListBucket", "PUT": "CreateBucket",
                      "DELETE": "DeleteBucket"}.get(method)
    if action is None:
        return []
    context = {"aws:SecureTransport": "true"}
    if params.get("_sse"):
        context["s3:x-amz-server-side-encryption"] = params["_sse"]
    owner, policy = account, None
    if bucket in s3_models.s3_backends.bucket_accounts:
        partition, owner = s3_models.s3_backends.bucket_accounts[bucket]
        found = s3_models.s3_backends[owner][partition].buckets.get(bucket)
        text = getattr(found, "policy", None)
        if text:
            policy = json.loads(text.decode() if isinstance(text, bytes) else text)
    return [(f"s3:{action}", resource, context, policy or {"Statement": []}, owner)]


def _stack_arn(name, region, account):
    if name.startswith("arn:"):
        return name
    try:
        return cfn.cloudformation_backends[account][region].get_stack(name).stack_id
    except Exception:  # noqa: BLE001
        return f"arn:aws:cloudformation:{region}:{account}:stack/{name}/unknown"


def checks(service, action, params, region, account):
    """[(IAM action, resource, extra context, resource policy or None, resource account)]."""
    out = []
    if service == "rds":
        for act, resource, context in _rds_checks(action, params, region, account):
            out.append((f"rds:{act}", resource, dict(context, **{
                f"aws:ResourceTag/{k}": v for k, v in _tags_of(resource).items()}), None, account))
        for act, key, context in _rds_kms_checks(action, params, region, account):
            key_arn, key_account, key_region = key
            try:
                policy = json.loads(kms.kms_backends[key_account][key_region].describe_key(key_arn).policy)
            except Exception:  # noqa: BLE001
                policy = None
            out.append((act, key_arn, context, policy or {"Statement": []}, key_account))
    elif service in ("kms", "states", "logs"):
        for act, resource, context in _json_checks(service, action, params, region, account):
            if isinstance(resource, tuple):
                resource = resource[0]
            out.append((act, resource, context, None, account))
    elif service == "iam":
        out += [(act, resource, context, None, account) for act, resource, context in _iam_checks(action, params, account)]
    elif service == "cloudtrail":
        out += [(act, resource, context, None, account)
                for act, resource, context in _cloudtrail_checks(action, params, region, account)]
    elif service == "s3":
        out += _s3_checks(params, account)
    elif service in ("lambda", "events", "sns", "monitoring"):
        out += _task_checks(service, action, params, region, account)
    elif service == "cloudformation" and action:
        resource = _stack_arn(params.get("StackName", "*"), region, account) if params.get("StackName") else "*"
        out.append((f"cloudformation:{action}", resource, {}, None, account))
    return out


# --- the decision -------------------------------------------------------------------------------

def _allowing_statements(documents, action, resource, context):
    sids = []
    for policy_name, document in documents:
        for statement in iam_eval._list(document.get("Statement")):
            if statement.get("Effect") == "Allow" and iam_eval._statement_applies(statement, action, resource, context):
                sids.append(f"{policy_name}/{statement.get('Sid', '?')}")
    return sids


def authorize(service, action, params, region, caller):
    """None when allowed (or the caller is unrestricted), else AWS's refusal message."""
    return _decide(caller, region, checks(service, action, params, region, caller[0]))


def authorize_s3_read(caller, region, bucket, key):
    """None when `caller` may read s3://bucket/key (its IAM and the bucket's policy), else
    AWS's refusal: the reads AWS makes with the caller's access (CloudFormation's TemplateURL,
    Lambda's code from S3)."""
    wanted = _s3_checks({"_path": f"/{bucket}/{key}", "_query": "", "_method": "GET"}, caller[0])
    return _decide(caller, region, wanted)


def authorize_target(role_arn, action, resource):
    """A rule's target invoked with the target's role (EventBridge guide, "IAM roles for
    sending events to targets"): None when the role allows `action` on `resource`."""
    region = resource.split(":")[3]
    return _decide(execution_caller(role_arn), region, [(action, resource, {}, None, role_arn.split(":")[4])])


def _decide(caller, region, wanted):
    account, role_arn, session_arn = caller
    documents = _role(account, role_arn)
    if documents is None:
        return None
    who = {"arn": session_arn, "account": account}
    identity = [d for _, d in documents]
    with _lock:
        _log["declared"][role_arn] = {f"{name}/{s.get('Sid', '?')}" for name, d in documents
                                      for s in iam_eval._list(d.get("Statement")) if isinstance(s, dict)}
    for act, resource, context, resource_policy, resource_account in wanted:
        base = {"aws:PrincipalArn": role_arn, "aws:PrincipalAccount": account,
                "aws:RequestedRegion": region, **context}
        # A cross-account key: the caller's account must be allowed by the key policy too.
        key_policy = act.startswith("kms:") and resource_policy is not None
        bucket_policy = act.startswith("s3:") and resource_policy is not None
        caller_for_policy = {"arn": role_arn, "account": account}
        decision = iam_eval.evaluate(act, resource, base, caller_for_policy, identity,
                                     resource_policy if key_policy or bucket_policy else None,
                                     resource_account, key_policy=key_policy)
        with _lock:
            _log["decisions"] += 1
        if decision != iam_eval.ALLOW:
            why = ("an explicit deny" if decision == iam_eval.EXPLICIT_DENY else
                   "the key policy and the role's policies do not both allow it" if key_policy
                   else "the bucket policy and the role's policies do not allow it"
                   + (" (another account's bucket: both must)" if resource_account != account else "")
                   if bucket_policy else f"no identity-based policy allows the {act} action")
            message = iam_eval.access_denied_message(who, act, resource, why)
            with _lock:
                _log["denied"].append({"role": role_arn, "action": act, "resource": resource, "message": message})
                del _log["denied"][:-500]
            return message
        allowing = frozenset(_allowing_statements(documents, act, resource, base))
        with _lock:
            _log["used"].setdefault(role_arn, set()).update(allowing)
            if allowing:
                _log["allowed_by"].setdefault(role_arn, set()).add(allowing)
    return None


def refusal(service, message):
    """(status, headers, body) of AWS's AccessDenied answer for `service`'s protocol."""
    if service == "lambda":
        body = json.dumps({"Type": "User", "message": message}).encode()
        return "403 Forbidden", [("Content-Type", "application/json"),
                                 ("x-amzn-ErrorType", "AccessDeniedException")], body
    if service in ("kms", "states", "cloudtrail", "events", "logs"):
        body = json.dumps({"__type": "AccessDeniedException", "message": message}).encode()
        return "400 Bad Request", [("Content-Type", "application/x-amz-json-1.1")], body
    if service == "s3":
        escaped = message.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        body = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code>"
                f"<Message>{escaped}</Message><RequestId>rsp-authorization</RequestId></Error>").encode()
        return "403 Forbidden", [("Content-Type", "application/xml")], body
    namespace = {"rds": "http://rds.amazonaws.com/doc/2014-10-31/",
                 "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
                 "sns": "http://sns.amazonaws.com/doc/2010-03-31/",
                 "monitoring": "http://monitoring.amazonaws.com/doc/2010-08-01/",
                 "cloudformation": "http://cloudformation.amazonaws.com/doc/2010-05-15/"}.get(service, "")
    escaped = message.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    body = (f'<ErrorResponse xmlns="{namespace}"><Error><Type>Sender</Type><Code>AccessDenied</Code>'
            f"<Message>{escaped}</Message></Error><RequestId>rsp-authorization</RequestId></ErrorResponse>").encode()
    return "403 Forbidden", [("Content-Type", "text/xml")], body
