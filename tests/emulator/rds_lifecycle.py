"""RDS snapshot lifecycle the tests and the demo depend on, which moto does not model.

- Manual snapshots stay `creating` (copies `copying`) for a configurable number of emulated
  seconds; sharing or copying a snapshot that is not yet `available` is refused, as AWS does
  (RDS API reference, ModifyDBSnapshotAttribute / CopyDBSnapshot: InvalidDBSnapshotState).
- Sharing a snapshot encrypted with an AWS-managed key is refused (RDS guide, "Sharing a DB
  snapshot": snapshots encrypted with the default AWS KMS key can't be shared).
- Restores take time: restored instances and clusters are `creating`, and a restored cluster
  takes no instance until it is available.
"""

import datetime
import time

from moto.rds import exceptions as rds_errors
from moto.rds import models as rds

from state import _lock, _now, _settings

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


