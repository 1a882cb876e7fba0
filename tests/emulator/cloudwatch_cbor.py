"""CloudWatch over the Smithy RPC v2 CBOR protocol, which the current AWS SDKs speak to
CloudWatch and moto (5.2.5) does not: `GetMetricData` decoded from CBOR, answered by moto's
CloudWatch backend of the caller's account and region, encoded back as CBOR. Imported by
launcher.py, which routes `POST /service/GraniteServiceVersion20100801/operation/<Op>` here.
Other operations get an `UnknownOperationException` naming the operation.
"""

import datetime
import re

import cbor2
from moto.cloudwatch.models import cloudwatch_backends
from moto.iam.models import get_account_id_from

PATH = re.compile(r"^/service/GraniteServiceVersion20100801/operation/(\w+)$")
_CREDENTIAL = re.compile(r"Credential=([^/]+)/\d+/([a-z0-9-]+)/")


def handles(environ):
    return (environ.get("REQUEST_METHOD") == "POST" and PATH.match(environ.get("PATH_INFO", ""))
            and environ.get("HTTP_SMITHY_PROTOCOL") == "rpc-v2-cbor")


def _caller(environ):
    found = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    if not found:
        return None, None
    return get_account_id_from(found.group(1)), found.group(2)


def _utc(value):
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return datetime.datetime.fromtimestamp(float(value), datetime.timezone.utc).replace(tzinfo=None)


def _get_metric_data(backend, request):
    results = backend.get_metric_data(
        queries=request.get("MetricDataQueries", []),
        start_time=_utc(request["StartTime"]),
        end_time=_utc(request["EndTime"]),
        scan_by=request.get("ScanBy", "TimestampAscending"))
    return {"MetricDataResults": [
        {"Id": r["id"], "Label": r["label"], "StatusCode": "Complete",
         "Timestamps": [t.replace(tzinfo=datetime.timezone.utc) if isinstance(t, datetime.datetime)
                        else datetime.datetime.fromisoformat(str(t).replace("Z", "+00:00"))
                        for t in r["timestamps"]],
         "Values": [float(v) for v in r["values"]]}
        for r in results], "Messages": []}


OPERATIONS = {"GetMetricData": _get_metric_data}


def answer(environ, start_response):
    operation = PATH.match(environ["PATH_INFO"]).group(1)
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b""
    account, region = _caller(environ)
    if operation not in OPERATIONS or account is None:
        status, body = "400 Bad Request", {"__type": "UnknownOperationException",
                                           "message": f"the emulator has no CBOR {operation}"}
    else:
        try:
            request = cbor2.loads(raw) if raw else {}
            status, body = "200 OK", OPERATIONS[operation](cloudwatch_backends[account][region], request)
        except Exception as error:  # an answer, never a hung request
            status, body = "400 Bad Request", {"__type": "InvalidParameterValueException",
                                               "message": str(error)}
    payload = cbor2.dumps(body, datetime_as_timestamp=True, timezone=datetime.timezone.utc)
    start_response(status, [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor"),
                            ("Content-Length", str(len(payload)))])
    return [payload]
