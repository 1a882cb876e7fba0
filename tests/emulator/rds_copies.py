"""Copies from snapshots shared by another account or region, which moto resolves only in the
caller's own account and region: resolved in the ARN's own account and region, if the caller
owns the snapshot or it is shared with the caller, as AWS does (RDS API reference,
CopyDBSnapshot: SourceDBSnapshotIdentifier). Copies of Multi-AZ DB cluster snapshots are
refused, and cross-region copies of snapshots whose option group holds TDE without
OptionGroupName, as AWS does; snapshots report their OptionGroupName. Copies in progress into
one region are limited per account, as AWS limits them (see `_require_copy_slot`).
"""

import re

from moto.rds import exceptions as rds_errors
from moto.rds import models as rds

from rds_lifecycle import _copying, _require_available

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


# AWS (RDS user guide, "Copying a DB snapshot", Limitations): "You can have up to 20 snapshot
# copy requests in progress to a single destination Region per account." For DB cluster
# snapshots the guide's older text (and the figure the planner keeps to) is 5; the issue that
# asked for this model names 20 and 5. AWS documents no error code for it: the emulator answers
# SnapshotQuotaExceeded, which the provider reads as "copy later" for a copy either way.
COPIES_IN_PROGRESS = {"instance": 20, "cluster": 5}


def _require_copy_slot(backend, kind):
    store = backend.cluster_snapshots if kind == "cluster" else backend.database_snapshots
    copying = sum(1 for s in store.values() if s.status == "copying")
    limit = COPIES_IN_PROGRESS[kind]
    if copying >= limit:
        raise rds_errors.RDSClientError(
            "SnapshotQuotaExceeded",
            f"{copying} snapshot copies are in progress to {backend.region_name}: at most {limit} per account")


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
    _require_copy_slot(self, kind)
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


