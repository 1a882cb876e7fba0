"""The emulated clock and the launcher's runtime settings, shared by its modules.

RDS creation times, pending states, CloudWatch receipt times and every response's `Date` header
follow one clock: a time set through POST /_rsp/config that advances in real time, or the real
clock. Settings (pending times, Lambda endpoints) are set the same way.
"""

import datetime
import threading

from moto.rds import models as rds

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

# CloudWatch Logs stamps each event with its ingestion time (CloudWatch Logs API reference,
# OutputLogEvent/FilteredLogEvent: "ingestionTime: The time the event was ingested"): by the
# emulated clock here, like every other time AWS sets.
from moto.logs import models as logs_models  # noqa: E402

logs_models.utcnow = _now



def refresh_cfn_types():
    """moto finds CloudFormation types among CloudFormationModel's subclasses and caches them:
    a module that adds a type calls this after defining it."""
    from moto.cloudformation import parsing
    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()


# The caller of the request this thread serves, (account, role ARN, session ARN), set by the
# launcher: reads that AWS makes with the caller's access (a TemplateURL, a function's code in
# S3) are decided as that caller.
_request = threading.local()


def current_caller():
    return getattr(_request, "caller", None)


def set_caller(caller):
    _request.caller = caller
