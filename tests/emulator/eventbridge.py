"""EventBridge for the emulator: what moto 5.2.5 lacks and the event-driven chain needs.

Imported by launcher.py (it patches moto on import):
  1. RDS events. `announce_rds_events()` (POST /_rsp/tick) emits, once per snapshot, the event
     RDS sends when a manual snapshot becomes available (RDS-EVENT-0042 instance, 0075
     cluster) and when an instance snapshot copy finishes (RDS-EVENT-0060 cross-region,
     0197 same region), on the default bus of the snapshot's account and region.
  2. Delivery to Step Functions targets: a matching rule starts the target state machine in
     the target's account (moto raises NotImplementedError), with the event as input and the
     event's `time` in RFC 3339 by the emulated clock.
  3. Bus-to-bus targets across accounts and regions keep the sender's `account` (moto puts the
     receiver's) and are refused unless the receiving bus's policy allows the sender account
     for events:PutEvents, with `events:source` / `events:detail-type` StringEquals conditions
     honoured. Refusals are recorded (GET /_rsp/events).
  4. AWS::Events::EventBusPolicy from CloudFormation (moto skips the type).
  5. Rules with only a ScheduleExpression never match events (moto matches them to all).
Every execution started here or through the API is tracked: `wait_for_executions()` (POST
/_rsp/wait) returns once none is RUNNING.
"""

import datetime
import json
import threading
import time
import uuid

from moto.core.common_models import CloudFormationModel
from moto.events import models as events
from moto.rds import models as rds

import state

_lock = threading.RLock()
_log = {"delivered": [], "refused": [], "emitted": []}
_executions = []  # (account, region, execution ARN)
_clock = None  # set by the launcher: a function returning the emulated UTC now (naive)


def set_clock(now):
    global _clock
    _clock = now


def _now_text():
    now = _clock() if _clock else datetime.datetime.utcnow()
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


def log():
    with _lock:
        return {key: list(value) for key, value in _log.items()}


def _record(kind, entry):
    with _lock:
        _log[kind].append(entry)
        del _log[kind][:-500]


# --- executions -----------------------------------------------------------------------------

def _sfn_backend(account, region):
    from moto.stepfunctions import responses as sfn_responses
    return sfn_responses.get_backend(account, region)


def track_execution(account, region, arn):
    with _lock:
        _executions.append((account, region, arn))


def _running(exclude=()):
    with _lock:
        pending = [e for e in _executions if e[2] not in exclude]
    still = []
    for account, region, arn in pending:
        try:
            status = _sfn_backend(account, region).describe_execution(arn).status
        except Exception:  # noqa: BLE001 - a deleted machine's execution is not running
            continue
        if status == "RUNNING":
            still.append((account, region, arn))
    with _lock:
        done = set(pending) - set(still)
        _executions[:] = [e for e in _executions if e not in done]
    return still


def wait_for_executions(timeout=300.0, exclude=()):
    """Blocks until no tracked execution (but those in `exclude`) is RUNNING; returns how many
    still run (0 normally)."""
    deadline = time.time() + timeout
    exclude = set(exclude)
    while True:
        still = _running(exclude)
        if not still or time.time() > deadline:
            return len(still)
        time.sleep(0.02)


def _start_execution(target_arn, event):
    parts = target_arn.split(":")
    region, account = parts[3], parts[4]
    backend = _sfn_backend(account, region)
    name = f"event-{uuid.uuid4().hex[:20]}"
    execution = backend.start_execution(target_arn, name=name, execution_input=json.dumps(event))
    track_execution(account, region, execution.execution_arn)
    _record("delivered", {"target": target_arn, "detail-type": event.get("detail-type"),
                          "account": event.get("account"), "time": event.get("time")})


# --- bus policies ---------------------------------------------------------------------------

def _allows(bus, sender_account, event):
    """Whether `bus` (in another account) accepts `event` put by `sender_account`."""
    statements = [s.describe() for s in bus._statements.values()]
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action")
        actions = actions if isinstance(actions, list) else [actions]
        if not any(a in ("events:PutEvents", "events:*") for a in actions):
            continue
        principal = statement.get("Principal")
        principals = principal.get("AWS") if isinstance(principal, dict) else principal
        principals = principals if isinstance(principals, list) else [principals]
        if not any(p == "*" or p == sender_account or p == f"arn:aws:iam::{sender_account}:root"
                   for p in principals):
            continue
        equals = (statement.get("Condition") or {}).get("StringEquals", {})
        wanted = {"events:source": event.get("source"), "events:detail-type": event.get("detail-type")}
        if all(key not in equals or equals[key] in (wanted[key],
               [wanted[key]]) or (isinstance(equals[key], list) and wanted[key] in equals[key])
               for key in wanted):
            unknown = set(equals) - set(wanted)
            if not unknown:
                return True
    return False


def _deliver_to_bus(bus_arn, event):
    parts = bus_arn.split(":")
    region, account, name = parts[3], parts[4], parts[5].split("/", 1)[-1]
    backend = events.events_backends[account][region]
    try:
        bus = backend.describe_event_bus(name)
    except Exception:  # noqa: BLE001
        _record("refused", {"bus": bus_arn, "why": "no such bus", "detail-type": event.get("detail-type")})
        return
    if account != event.get("account") and not _allows(bus, event.get("account"), event):
        _record("refused", {"bus": bus_arn, "why": "the bus policy does not allow the sender",
                            "account": event.get("account"), "detail-type": event.get("detail-type")})
        return
    for rule in list(bus.rules.values()):
        rule.send_to_targets(dict(event))


# --- rules ----------------------------------------------------------------------------------

_original_send_to_targets = events.Rule.send_to_targets


def _send_to_targets(self, original_event, transform_input=True):
    if self.scheduled_expression and not self.event_pattern._pattern:
        return  # a schedule, not an event rule
    if getattr(self, "state", "ENABLED") != "ENABLED":
        return
    if not self.event_pattern.matches_event(original_event):
        return
    event = dict(original_event)
    if not isinstance(event.get("time"), str):
        event["time"] = _now_text()
    others = []
    for target in self.targets:
        arn = target["Arn"]
        service = arn.split(":")[2] if arn.count(":") >= 5 else ""
        if service == "states":
            if not _target_role_allows(target, "states:StartExecution", arn, event):
                continue
            _start_execution(arn, event)
        elif service == "events" and ":event-bus/" in arn:
            _deliver_to_bus(arn, event)
        elif service == "sns":
            import notifications
            notifications.deliver_to_topic(self, target, event)
        else:
            others.append(target)
    if others:
        kept = self.targets
        self.targets = others
        try:
            _original_send_to_targets(self, event, transform_input)
        finally:
            self.targets = kept


events.Rule.send_to_targets = _send_to_targets


def _target_role_allows(target, action, arn, event):
    """EventBridge invokes a Step Functions target as the target's role (EventBridge guide,
    "IAM roles for sending events to targets"); a role that does not allow it: no delivery."""
    role = target.get("RoleArn")
    if not role:
        _record("refused", {"target": arn, "why": "the target has no RoleArn", "detail-type": event.get("detail-type")})
        return False
    import authorization
    refused = authorization.authorize_target(role, action, arn)
    if refused:
        _record("refused", {"target": arn, "why": refused, "detail-type": event.get("detail-type")})
        return False
    return True


# --- RDS events -----------------------------------------------------------------------------

def _rds_event(snapshot, kind, account, region):
    copy = snapshot.__dict__.get("_rsp_copy")
    name = snapshot.db_cluster_snapshot_identifier if kind == "cluster" else snapshot.db_snapshot_identifier
    if copy is None:
        event_id = "RDS-EVENT-0075" if kind == "cluster" else "RDS-EVENT-0042"
        category, message = "creation", "Manual snapshot created"
    elif kind == "instance":
        event_id = "RDS-EVENT-0060" if copy == "cross-region" else "RDS-EVENT-0197"
        category, message = "notification", "Finished copy of snapshot"
    else:
        return None  # cluster copy events are unconfirmed; the copy sweep covers them
    detail_type = "RDS DB Cluster Snapshot Event" if kind == "cluster" else "RDS DB Snapshot Event"
    return {
        "Source": "aws.rds",
        "DetailType": detail_type,
        "Resources": [snapshot.arn],
        "Detail": json.dumps({
            "EventCategories": [category],
            "SourceType": "CLUSTER_SNAPSHOT" if kind == "cluster" else "SNAPSHOT",
            "SourceArn": snapshot.arn,
            "Date": _now_text(),
            "Message": message,
            "SourceIdentifier": name,
            "EventID": event_id,
        }),
    }


def announce_rds_events():
    """Emits the events of snapshots that became available since the last call."""
    emitted = 0
    for account, regions in list(rds.rds_backends.items()):
        for region, backend in list(regions.items()):
            for kind, store in (("instance", backend.database_snapshots),
                                ("cluster", backend.cluster_snapshots)):
                for snapshot in list(store.values()):
                    if getattr(snapshot, "snapshot_type", "manual") != "manual":
                        continue
                    if snapshot.__dict__.get("_rsp_announced") or snapshot.status != "available":
                        continue
                    snapshot.__dict__["_rsp_announced"] = True
                    entry = _rds_event(snapshot, kind, account, region)
                    if entry is None:
                        continue
                    events.events_backends[account][region].put_events([entry])
                    emitted += 1
                    _record("emitted", {"account": account, "region": region,
                                        "event": json.loads(entry["Detail"])["EventID"],
                                        "snapshot": snapshot.arn})
    return emitted


def mark_copy(snapshot, cross_region):
    snapshot.__dict__["_rsp_copy"] = "cross-region" if cross_region else "local"


# --- AWS::Events::EventBusPolicy --------------------------------------------------------------

class EventBusPolicy(CloudFormationModel):
    """The statement of an AWS::Events::EventBusPolicy, added to its bus."""

    __module__ = "moto.events.models"  # moto's model registry keys on the service module

    def __init__(self, bus, sid):
        self.bus, self.sid = bus, sid

    @staticmethod
    def cloudformation_type():
        return "AWS::Events::EventBusPolicy"

    @staticmethod
    def cloudformation_name_type():
        return "StatementId"

    @property
    def physical_resource_id(self):
        return self.sid

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name, **kwargs):
        properties = cloudformation_json["Properties"]
        backend = events.events_backends[account_id][region_name]
        bus = backend.describe_event_bus(properties.get("EventBusName") or "default")
        sid = properties.get("StatementId") or resource_name
        statement = dict(properties.get("Statement") or {})
        if not statement:
            statement = {"Effect": "Allow", "Action": properties.get("Action"),
                         "Principal": {"AWS": properties.get("Principal")},
                         "Resource": bus.arn}
        statement["Sid"] = sid
        bus.add_policy({"Statement": [statement]})
        return cls(bus, sid)

    def delete(self, account_id, region_name):
        """A deleted stack's statement leaves the bus policy (moto calls this first, with the
        resolved statement ID; its raw properties may still hold intrinsics)."""
        self.bus._statements.pop(self.sid, None)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name):
        properties = cloudformation_json["Properties"]
        backend = events.events_backends[account_id][region_name]
        bus = backend.describe_event_bus(properties.get("EventBusName") or "default")
        bus._statements.pop(properties.get("StatementId") or resource_name, None)


state.refresh_cfn_types()
