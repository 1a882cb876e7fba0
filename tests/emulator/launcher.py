"""The project's moto launcher: moto server (pinned) plus the fixes the project needs.

Each gap moto leaves (measured in NOTES.md, next to this file) is closed by its own module,
which cites the AWS text it models and can be read and retired on its own:
  state.py              the emulated clock and runtime settings (RDS creation times, pending
                        states, CloudWatch receipt times, every response's `Date` header)
  rds_lifecycle.py      snapshots `creating`/`copying` for a while; shares of unavailable or
                        AWS-managed-key snapshots refused; restores take time, and a restored
                        cluster takes instances only once available
  rds_copies.py         copies from snapshots shared by another account or region; Multi-AZ
                        cluster copies and TDE copies without an option group refused
  kms_keys.py           AWS-managed keys report KeyManager AWS; fixed key IDs for the examples
  rds_account.py        DescribeAccountAttributes quotas, DescribeOrderableDBInstanceOptions,
                        the name of RDS's service-linked role
  rds_pages.py          snapshot and cluster describes in pages of 100 with a Marker
  lambda_forwarding.py  Lambda invocations run the real binaries (`cargo lambda watch`)
  lambda_account.py     GetAccountSettings; reserved concurrency keeps 100 unreserved
  stepfunctions_glue.py state machines from CloudFormation, tasks in the execution's account
                        and as its role, DescribeStateMachineForExecution, DescribeStackResource
  eventbridge.py        RDS events, rules to Step Functions (as the target's role), bus policies
  cloudwatch_cbor.py    CloudWatch GetMetricData over Smithy RPC v2 CBOR
  notifications.py      alarms evaluated and their actions, topic and key policies, CloudTrail
  authorization.py      calls of known roles decided by their policies (iam_eval.py), S3
                        requests by the bucket policy too
  s3_policies.py        AWS::S3::BucketPolicy from CloudFormation
  cloudformation_deploy.py  templates from S3 and Lambda code from S3 read with the caller's
                        access across accounts, macros (Transform), no-op updates, Aurora clusters
speed.py (performance only, no AWS behaviour) keeps what moto recomputes on every request.
This file holds what joins them: the runtime-settings and test endpoints, the middleware that
decides and records each request, and the server on 127.0.0.1.

Runtime settings: POST /_rsp/config with JSON {"pending_seconds": N, "copy_pending_seconds": N,
"pending_prefixes": {"slow-": N}, "restore_pending_seconds": N, "snapshot_limit": N,
"lambda_concurrency_quota": N, "lambda_endpoints": {"ACCOUNT":
"http://127.0.0.1:PORT"}, "clock": "RFC3339" | null}; GET /_rsp/config returns them. Snapshots
whose identifier starts with a prefix use its pending time (seconds of the emulated clock).
POST /_rsp/tick emits the RDS events due; POST /_rsp/wait returns once no execution runs (but
those listed in its "except");
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

import state
from state import _lock, _now, _real_utcnow, _settings
import rds_lifecycle  # noqa: F401  (pending states, shares, restores)
import rds_copies  # noqa: F401  (copies from shared snapshots, option groups)
import kms_keys  # noqa: F401  (AWS-managed keys)
import rds_account  # noqa: F401  (quotas, orderable instance classes, RDS's service-linked role)
import rds_pages  # noqa: F401  (describes in pages of 100)
import lambda_forwarding  # noqa: F401  (Lambda invocations to the local binaries)
import lambda_account  # noqa: F401  (account concurrency: GetAccountSettings, the unreserved minimum)
import eventbridge  # patches moto's EventBridge on import
import cloudwatch_cbor  # CloudWatch over CBOR
import speed  # noqa: F401  (performance only: work moto repeats on every request, done once)
import stepfunctions_glue  # noqa: F401  (Step Functions and CloudFormation glue)
import notifications  # alarms, topic and key policies, CloudTrail events
import authorization  # the calls of known roles decided by their policies
import s3_policies  # noqa: F401  (AWS::S3::BucketPolicy from CloudFormation)
import cloudformation_deploy  # noqa: F401  (TemplateURL, macros, no-op updates, code in S3, clusters)
import custom_resource_order  # resources reading a custom resource's attributes wait for its answer

eventbridge.set_clock(lambda: _now())
notifications.set_clock(lambda: _now())

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
            return _events_endpoint(path, start_response, environ)
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
                if "lambda_concurrency_quota" in body:
                    _settings["lambda_concurrency_quota"] = int(body["lambda_concurrency_quota"])
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


_ENFORCED = ("rds", "kms", "states", "cloudformation", "iam", "cloudtrail", "s3", "logs")
# Decided only for Step Functions tasks (made as the execution's role): Lambda Invoke,
# EventBridge PutEvents, SNS Publish, CloudWatch PutMetricData.
_TASK_SERVICES = ("lambda", "events", "sns", "monitoring")


def _recorded(app, environ, start_response):
    """Decides the request by the caller's role (authorization.py), runs it, and hands a
    successful RDS or KMS write to CloudTrail (notifications.py)."""
    scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    execution_role = environ.get("HTTP_" + authorization.EXECUTION_ROLE_HEADER.upper().replace("-", "_"))
    if not scope or (scope.group(3) not in _ENFORCED
                     and not (execution_role and scope.group(3) in _TASK_SERVICES)):
        return app(environ, start_response)
    import io
    import urllib.parse as parse
    key, region, service = scope.groups()
    body = b""
    if service != "s3":  # S3 is decided by method, path and headers: its body stays a stream
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
    try:
        if service in ("rds", "cloudformation", "iam", "sns"):
            params = {k: v[0] for k, v in parse.parse_qs(body.decode()).items()}
            action = params.get("Action")
        elif service == "s3":
            params = {"_path": parse.unquote(environ.get("PATH_INFO", "")), "_query": environ.get("QUERY_STRING", ""),
                      "_method": environ.get("REQUEST_METHOD", "GET"),
                      "_sse": environ.get("HTTP_X_AMZ_SERVER_SIDE_ENCRYPTION")}
            action = params["_method"]
        elif service == "lambda":
            params = {"_path": parse.unquote(environ.get("PATH_INFO", ""))}
            action = "Invoke" if params["_path"].endswith("/invocations") else None
        elif service == "monitoring" and b"Action=" in body[:200]:
            params = {k: v[0] for k, v in parse.parse_qs(body.decode()).items()}
            action = params.get("Action")
        else:
            params = json.loads(body or b"{}")
            action = environ.get("HTTP_X_AMZ_TARGET", "").rsplit(".", 1)[-1]
    except ValueError:
        return app(environ, start_response)
    caller = authorization.execution_caller(execution_role) if execution_role else notifications.caller_of(key)
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

    state.set_caller(caller)
    try:
        result = app(environ, capture)
    finally:
        state.set_caller(None)
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


def _events_endpoint(path, start_response, environ):
    if path == "/_rsp/tick":
        reply = {"emitted": eventbridge.announce_rds_events()}
    elif path == "/_rsp/wait":
        # {"except": [execution ARN, ...]}: executions not waited for (a restore drill that runs
        # while the clock, and the schedules, go on).
        length = int(environ.get("CONTENT_LENGTH") or 0)
        try:
            body = json.loads(environ["wsgi.input"].read(length) or b"{}")
        except ValueError:
            body = {}
        reply = {"running": eventbridge.wait_for_executions(exclude=body.get("except") or ())}
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
        # CloudFormation records the PhysicalResourceId the provider answers (CloudFormation
        # guide, "Custom resource response objects": "PhysicalResourceId ... an identifier
        # unique to the custom resource vendor"); moto keeps the name it made up.
        if body.get("PhysicalResourceId"):
            resource.resource_name = body["PhysicalResourceId"]
        if body.get("Status") == "SUCCESS":
            resource.set_data(body.get("Data") or {})
            if custom_resource_order.answered(body["StackId"], body.get("LogicalResourceId")):
                stack.verify_readiness()
        else:
            custom_resource_order.answered(body["StackId"], body.get("LogicalResourceId"),
                                           body.get("Reason") or "FAILED")
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
