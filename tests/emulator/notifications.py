"""Notifications for the emulator: the path from a breached promise to a message in a queue.

Moto 5.2.5 skips AWS::CloudWatch::Alarm, AWS::SNS::TopicPolicy and AWS::CloudTrail::Trail in
CloudFormation, never evaluates an alarm, never runs its actions, evaluates no topic or key
policy, and emits no CloudTrail events. Imported by launcher.py (it patches moto on import):

  1. AWS::CloudWatch::Alarm and AWS::SNS::TopicPolicy from CloudFormation.
  2. `evaluate_alarms()` (POST /_rsp/alarms): every alarm is evaluated on its metric by the
     emulated clock (CloudWatch guide, "Evaluating an alarm": EvaluationPeriods periods of
     Period seconds, TreatMissingData); on a state change its actions run. An action publishes
     to its topic as `cloudwatch.amazonaws.com` with `aws:SourceAccount`, `aws:SourceArn` and
     `AWS:SourceOwner` in the request context, allowed only by the topic policy and, for an
     encrypted topic, the key policy (AWS Knowledge Center, "CloudWatch alarm SNS
     notification"; SNS guide, "Encryption at rest": the publishing service needs
     kms:GenerateDataKey* and kms:Decrypt on the key).
  3. EventBridge rule -> SNS targets (`deliver_to_topic`, called by eventbridge.py): the input
     transformer substitutes values as they are, unescaped; the result must be JSON when the
     template is a JSON object (EventBridge guide, "Transforming target input"); the publish is
     made as `events.amazonaws.com` with no condition keys, as EventBridge's guide says topic
     policy conditions cannot be used for it.
  4. SNS Publish: a `Subject` of 100 characters or more, or with a line break, is refused
     (SNS API reference, Publish: "Subject ... must be less than 100 characters long").
  5. CloudTrail: a successful RDS or KMS write API call (`record_api_call`) becomes an "AWS API
     Call via CloudTrail" event on the caller's default bus, with the caller's identity, only
     when the account has a trail that is logging in that region (EventBridge guide, "Events
     from AWS services": CloudTrail-delivered events need a trail). AWS::CloudTrail::Trail from
     CloudFormation is created and started.
  6. Alarm state changes: each change found by `evaluate_alarms()` is also put on the alarm's
     account's default bus as a "CloudWatch Alarm State Change" event from `aws.cloudwatch`,
     with the alarm's ARN in `resources` (CloudWatch guide, "Alarm events and EventBridge":
     "CloudWatch sends events to Amazon EventBridge whenever a CloudWatch alarm changes alarm
     state"); an alarm's `Fn::GetAtt Arn` is its ARN. SetAlarmState changes the state the same
     way and runs the new state's actions (CloudWatch API reference, SetAlarmState).
Every publish, delivery and refusal is logged (GET /_rsp/notifications).
"""

import datetime
import json
import re
import threading
import uuid

from moto.cloudtrail import models as cloudtrail
from moto.cloudwatch import models as cloudwatch
from moto.core.common_models import CloudFormationModel
from moto.events import models as events
from moto.kms import models as kms
from moto.sns import exceptions as sns_errors
from moto.sns import models as sns
from moto.sts import models as sts

import iam_eval
import state

_lock = threading.RLock()
_log = {"published": [], "refused": [], "alarms": [], "trail": []}
_clock = None  # set by the launcher: the emulated UTC now (naive)


def set_clock(now):
    global _clock
    _clock = now


def _now():
    return _clock() if _clock else datetime.datetime.utcnow()


def log():
    with _lock:
        return {key: list(value) for key, value in _log.items()}


def _record(kind, entry):
    with _lock:
        _log[kind].append(entry)
        del _log[kind][:-1000]


def _arn_parts(arn):
    parts = arn.split(":", 5)
    return parts[3], parts[4]


# --- SNS: subject rule and policy-checked publishes -------------------------------------------

_original_publish = sns.SNSBackend.publish


def _publish(self, message, arn=None, phone_number=None, subject=None, *args, **kwargs):
    if subject is not None and (len(subject) >= 100 or "\n" in subject or "\r" in subject):
        raise sns_errors.InvalidParameterValue(
            "Subject must be less than 100 characters long, without line breaks")
    return _original_publish(self, message, arn, phone_number, subject, *args, **kwargs)


sns.SNSBackend.publish = _publish


def _key_policy(account, region, key_id):
    backend = kms.kms_backends[account][region]
    key = backend.describe_key(key_id)
    return key, json.loads(key.policy)


def publish_as_service(topic_arn, service, context, subject, message, why):
    """Publishes to `topic_arn` as the service principal `service` if the topic policy (and the
    key policy of an encrypted topic) allows it; records the outcome. Returns True if sent."""
    region, account = _arn_parts(topic_arn)
    caller = {"service": service}
    entry = {"topic": topic_arn, "service": service, "why": why, "subject": subject, "time": _now().isoformat()}
    try:
        backend = sns.sns_backends[account][region]
        topic = backend.get_topic(topic_arn)
    except Exception:  # noqa: BLE001 - AWS drops a publish to a missing topic
        _record("refused", dict(entry, reason="no such topic"))
        return False
    decision = iam_eval.evaluate("sns:Publish", topic_arn, context, caller, resource_policy=topic._policy_json)
    if decision != iam_eval.ALLOW:
        _record("refused", dict(entry, reason=iam_eval.access_denied_message(
            caller, "SNS:Publish", topic_arn, "the topic policy does not allow it")))
        return False
    if topic.kms_master_key_id:
        try:
            key, policy = _key_policy(account, region, topic.kms_master_key_id)
        except Exception:  # noqa: BLE001
            _record("refused", dict(entry, reason=f"the topic's key {topic.kms_master_key_id} does not exist"))
            return False
        for action in ("kms:GenerateDataKey", "kms:Decrypt"):
            if iam_eval.evaluate(action, key.arn, context, caller, resource_policy=policy,
                                 key_policy=True) != iam_eval.ALLOW:
                _record("refused", dict(entry, reason=iam_eval.access_denied_message(
                    caller, action, key.arn, "the key policy does not allow it")))
                return False
    if subject is not None and len(subject) >= 100:
        _record("refused", dict(entry, reason="Subject must be less than 100 characters long"))
        return False
    topic.publish(message, subject=subject)
    _record("published", entry)
    return True


# --- CloudFormation types moto skips ------------------------------------------------------------

class TopicPolicy(CloudFormationModel):
    """AWS::SNS::TopicPolicy: the document replaces each topic's policy (the default included)."""

    __module__ = "moto.sns.models"

    def __init__(self, topics):
        self.topics = topics

    @staticmethod
    def cloudformation_type():
        return "AWS::SNS::TopicPolicy"

    @property
    def physical_resource_id(self):
        return "topic-policy-" + "-".join(t.rsplit(":", 1)[-1] for t in self.topics)

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name, **kwargs):
        properties = cloudformation_json["Properties"]
        topics = properties.get("Topics") or []
        for arn in topics:
            topic_region, topic_account = _arn_parts(arn)
            sns.sns_backends[topic_account][topic_region].get_topic(arn)._policy_json = properties["PolicyDocument"]
        return cls(topics)


class Alarm(CloudFormationModel):
    """AWS::CloudWatch::Alarm, created in moto's CloudWatch (then evaluated here)."""

    __module__ = "moto.cloudwatch.models"

    def __init__(self, alarm):
        self.alarm = alarm

    @staticmethod
    def cloudformation_type():
        return "AWS::CloudWatch::Alarm"

    @property
    def physical_resource_id(self):
        return self.alarm.name

    @classmethod
    def has_cfn_attr(cls, attr):
        return attr == "Arn"

    def get_cfn_attribute(self, attribute_name):
        if attribute_name == "Arn":
            return self.alarm.alarm_arn
        raise NotImplementedError(attribute_name)

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name, **kwargs):
        p = cloudformation_json["Properties"]
        name = p.get("AlarmName") or f"{resource_name}-{uuid.uuid4().hex[:12].upper()}"
        backend = cloudwatch.cloudwatch_backends[account_id][region_name]
        alarm = backend.put_metric_alarm(
            name=name, namespace=p.get("Namespace"), metric_name=p.get("MetricName"),
            comparison_operator=p["ComparisonOperator"], evaluation_periods=int(p["EvaluationPeriods"]),
            period=int(p.get("Period", 60)), threshold=float(p["Threshold"]), statistic=p.get("Statistic"),
            description=p.get("AlarmDescription", ""), dimensions=[
                {"Name": d["Name"], "Value": d["Value"]} for d in p.get("Dimensions", [])],
            alarm_actions=p.get("AlarmActions", []), ok_actions=p.get("OKActions", []),
            insufficient_data_actions=p.get("InsufficientDataActions", []),
            treat_missing_data=p.get("TreatMissingData", "missing"),
            datapoints_to_alarm=p.get("DatapointsToAlarm"))
        # A new alarm starts in INSUFFICIENT_DATA (CloudWatch guide, "Alarm states").
        alarm.state_value = "INSUFFICIENT_DATA"
        return cls(alarm)


class Trail(CloudFormationModel):
    """AWS::CloudTrail::Trail, created and logging (IsLogging defaults to true in CFN)."""

    __module__ = "moto.cloudtrail.models"

    def __init__(self, trail):
        self.trail = trail

    @staticmethod
    def cloudformation_type():
        return "AWS::CloudTrail::Trail"

    @property
    def physical_resource_id(self):
        return self.trail.trail_name

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name, **kwargs):
        p = cloudformation_json["Properties"]
        backend = cloudtrail.cloudtrail_backends[account_id][region_name]
        trail = backend.create_trail(
            name=p.get("TrailName") or resource_name, bucket_name=p["S3BucketName"],
            s3_key_prefix=p.get("S3KeyPrefix"), sns_topic_name=p.get("SnsTopicName"),
            is_global=p.get("IncludeGlobalServiceEvents", True), is_multi_region=p.get("IsMultiRegionTrail", False),
            log_validation=p.get("EnableLogFileValidation", False), is_org_trail=False,
            cw_log_group_arn=None, cw_role_arn=None, kms_key_id=p.get("KMSKeyId"), tags_list=[])
        if p.get("IsLogging", True):
            trail.start_logging()
        return cls(trail)


# --- alarm evaluation ---------------------------------------------------------------------------

_COMPARE = {
    "GreaterThanThreshold": lambda v, t: v > t,
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}


def _statistic(values, statistic):
    if statistic == "Maximum":
        return max(values)
    if statistic == "Minimum":
        return min(values)
    if statistic == "Sum":
        return sum(values)
    if statistic == "SampleCount":
        return float(len(values))
    return sum(values) / len(values)


def _periods(backend, alarm, now):
    """[(period end, value or None)], oldest first, for the alarm's last EvaluationPeriods."""
    period = datetime.timedelta(seconds=alarm.period)
    wanted = {d.name: d.value for d in alarm.dimensions} if alarm.dimensions else {}
    out = []
    for i in range(alarm.evaluation_periods, 0, -1):
        end = now - period * (i - 1)
        start = end - period
        values = []
        for datum in backend.get_all_metrics():
            if datum.namespace != alarm.namespace or datum.name != alarm.metric_name:
                continue
            if not start <= datum.timestamp.replace(tzinfo=None) < end:
                continue
            dims = {d.name: d.value for d in datum.dimensions}
            if dims != wanted:
                continue
            if getattr(datum, "value", None) is not None:
                values.append(float(datum.value))
        out.append((end, _statistic(values, alarm.statistic) if values else None))
    return out


def _state(alarm, periods):
    """The alarm's state by AWS's rules for missing data (CloudWatch guide, "Configuring how
    CloudWatch alarms treat missing data")."""
    treat = alarm.treat_missing_data or "missing"
    compare = _COMPARE[alarm.comparison_operator]
    breaching = []
    for _, value in periods:
        if value is None:
            if treat == "breaching":
                breaching.append(True)
            elif treat == "notBreaching":
                breaching.append(False)
        else:
            breaching.append(compare(value, alarm.threshold))
    if not breaching:
        return alarm.state_value if treat == "ignore" else "INSUFFICIENT_DATA"
    needed = int(alarm.datapoints_to_alarm or alarm.evaluation_periods)
    return "ALARM" if sum(breaching) >= min(needed, len(periods)) and len(breaching) >= needed else "OK"


def _alarm_message(alarm, account, region, old, new, periods):
    return json.dumps({
        "AlarmName": alarm.name, "AlarmDescription": alarm.description, "AWSAccountId": account,
        "NewStateValue": new, "OldStateValue": old, "Region": region,
        "NewStateReason": f"Threshold Crossed: datapoints {[v for _, v in periods]} against {alarm.threshold}",
        "StateChangeTime": _now().isoformat() + "Z", "AlarmArn": alarm.alarm_arn,
        "Trigger": {"MetricName": alarm.metric_name, "Namespace": alarm.namespace,
                    "Statistic": alarm.statistic, "Period": alarm.period,
                    "EvaluationPeriods": alarm.evaluation_periods, "Threshold": alarm.threshold,
                    "ComparisonOperator": alarm.comparison_operator,
                    "TreatMissingData": alarm.treat_missing_data},
    })


def _changed(account, region, alarm, old, new, periods, reason):
    """What CloudWatch does when an alarm's state changes: the change on the account's default
    bus and, with actions enabled, the new state's actions published as CloudWatch."""
    now = _now()
    change = {"alarm": alarm.name, "account": account, "region": region, "from": old,
              "to": new, "time": now.isoformat() + "Z", "values": [v for _, v in periods], "reason": reason}
    _record("alarms", change)
    events.events_backends[account][region].put_events([{
        "Source": "aws.cloudwatch", "DetailType": "CloudWatch Alarm State Change",
        "Resources": [alarm.alarm_arn], "Detail": json.dumps({
            "alarmName": alarm.name,
            "state": {"value": new, "timestamp": now.isoformat() + "Z"},
            "previousState": {"value": old}})}])
    actions = {"ALARM": alarm.alarm_actions, "OK": alarm.ok_actions,
               "INSUFFICIENT_DATA": alarm.insufficient_data_actions}.get(new) or []
    if alarm.actions_enabled:
        for action in actions:
            if ":sns:" not in action:
                continue
            context = {"aws:SourceAccount": account, "aws:SourceArn": alarm.alarm_arn,
                       "AWS:SourceOwner": account}
            publish_as_service(
                action, "cloudwatch.amazonaws.com", context,
                f'{new}: "{alarm.name}" in {region}'[:99],
                _alarm_message(alarm, account, region, old, new, periods),
                f"alarm {alarm.name} {old} -> {new}")
    return change


def evaluate_alarms():
    """Evaluates every alarm now; returns the state changes."""
    now = _now()
    changes = []
    for account, regions in list(cloudwatch.cloudwatch_backends.items()):
        for region, backend in list(regions.items()):
            for alarm in list(backend.alarms.values()):
                if not alarm.metric_name:
                    continue
                periods = _periods(backend, alarm, now)
                new, old = _state(alarm, periods), alarm.state_value
                if new == old:
                    continue
                alarm.update_state(f"evaluated at {now.isoformat()}Z", json.dumps(
                    {"values": [v for _, v in periods]}), new)
                changes.append(_changed(account, region, alarm, old, new, periods, "evaluated"))
    return changes


# SetAlarmState runs the new state's actions (CloudWatch API reference, SetAlarmState: "When the
# updated state differs from the previous value, the action configured for the appropriate
# state is invoked"); the next evaluation returns the alarm to its actual state.
_original_set_alarm_state = cloudwatch.CloudWatchBackend.set_alarm_state


def _set_alarm_state(self, alarm_name, reason, reason_data, state_value):
    old = self.alarms[alarm_name].state_value if alarm_name in self.alarms else None
    _original_set_alarm_state(self, alarm_name, reason, reason_data, state_value)
    if old != state_value:
        _changed(self.account_id, self.region_name, self.alarms[alarm_name], old, state_value, [],
                 f"SetAlarmState: {reason}")


cloudwatch.CloudWatchBackend.set_alarm_state = _set_alarm_state


# --- EventBridge -> SNS ---------------------------------------------------------------------------

def _path(event, path):
    value = event
    for part in path.lstrip("$").strip(".").split("."):
        if not part:
            continue
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def transform(transformer, event):
    """The target input of an InputTransformer (values substituted as they are, unescaped).
    Raises ValueError when a JSON-object template does not give JSON."""
    if not transformer:
        return json.dumps(event)
    if "InputPathsMap" not in transformer and "InputTemplate" not in transformer:
        return json.dumps(event)
    values = {name: _path(event, path) for name, path in (transformer.get("InputPathsMap") or {}).items()}
    template = transformer.get("InputTemplate", "")

    def text(match):
        value = values.get(match.group(1))
        if value is None:
            return "null" if not template.lstrip().startswith('"') else ""
        return value if isinstance(value, str) else json.dumps(value)

    out = re.sub(r"<([A-Za-z0-9_.-]+)>", text, template)
    if template.lstrip().startswith(("{", "[", '"')):
        json.loads(out)  # ValueError if the substitution broke the JSON
    return out


def deliver_to_topic(rule, target, event):
    """A rule's SNS target: transform, then publish as EventBridge."""
    try:
        message = transform(target.get("InputTransformer"), event)
    except ValueError as error:
        _record("refused", {"topic": target["Arn"], "service": "events.amazonaws.com",
                            "why": f"rule {rule.name}", "reason": f"the transformed input is not JSON: {error}"})
        return
    if target.get("InputTransformer") is None and target.get("Input"):
        message = target["Input"]
    publish_as_service(target["Arn"], "events.amazonaws.com", {}, None, message, f"rule {rule.name}")


# --- CloudTrail ---------------------------------------------------------------------------------

_WRITES = {
    "rds": re.compile(r"^(Delete|Modify|Add|Remove|Create|Copy|Restore)"),
    "kms": re.compile(r"^(ScheduleKeyDeletion|DisableKey|PutKeyPolicy|CreateGrant|RevokeGrant|DeleteAlias|UpdateAlias)$"),
}


def caller_of(access_key_id):
    """The assumed role behind `access_key_id`: (account, role ARN, session ARN) or None."""
    for account, partitions in list(sts.sts_backends.items()):
        for backend in list(partitions.values()):
            role = backend.get_assumed_role_from_access_key(access_key_id)
            if role is not None:
                return role.account_id, role.role_arn, role.arn
    return None


def _trail_logging(account, region):
    for trail_region, backend in list(cloudtrail.cloudtrail_backends.get(account, {}).items()):
        for trail in list(backend.trails.values()):
            if trail.status.is_logging and (trail_region == region or trail.is_multi_region):
                return True
    return False


def _lower_first(name):
    return name[:1].lower() + name[1:]


def record_api_call(service, action, params, access_key_id, region):
    """A successful write call becomes an "AWS API Call via CloudTrail" event on the caller's
    default bus (if a trail logs there)."""
    pattern = _WRITES.get(service)
    if not pattern or not pattern.match(action or ""):
        return
    caller = caller_of(access_key_id or "")
    if caller is None:
        return
    account, role_arn, session_arn = caller
    if not _trail_logging(account, region):
        _record("trail", {"account": account, "region": region, "event": action, "recorded": False})
        return
    request = {_lower_first(k): v for k, v in params.items()
               if k not in ("Action", "Version") and "." not in k}
    detail = {
        "eventVersion": "1.08", "eventSource": f"{service}.amazonaws.com", "eventName": action,
        "awsRegion": region, "eventTime": _now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "userIdentity": {"type": "AssumedRole", "arn": session_arn, "accountId": account,
                         "sessionContext": {"sessionIssuer": {"type": "Role", "arn": role_arn, "accountId": account}}},
        "requestParameters": request,
    }
    events.events_backends[account][region].put_events([{
        "Source": f"aws.{service}", "DetailType": "AWS API Call via CloudTrail", "Detail": json.dumps(detail)}])
    _record("trail", {"account": account, "region": region, "event": action, "by": role_arn, "recorded": True})


state.refresh_cfn_types()
