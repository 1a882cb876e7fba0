"""What RDS's side of an account looks like to the deploy-time checks: orderable instance
classes and RDS's service-linked role.

RDS's service-linked role is named `AWSServiceRoleForRDS` (RDS guide, "Using service-linked
roles for Amazon RDS"); moto derives names from the service principal and would create
`AWSServiceRoleForrds` for `rds.amazonaws.com`.

DescribeOrderableDBInstanceOptions (the drill's deploy-time check), two gaps:
- moto ignores `DBInstanceClass`; AWS filters on it ("The DB instance class filter value.
  Specify this parameter to show only the available offerings matching the specified DB
  instance class", RDS API reference, DescribeOrderableDBInstanceOptions).
- moto has offering data only for aurora-postgresql (up to 15.2) and neptune, and answers
  nothing for any other engine. For the engines below the launcher answers from a stand-in
  table of classes, any version: the burstable, general-purpose and memory-optimized classes
  AWS lists for current versions of these engines (RDS guide, "Supported DB engines for DB
  instance classes"; Aurora guide, "Supported DB engines for DB instance classes": Aurora has
  no micro or small classes). The table is a model of the classes' shape, not AWS's catalogue:
  a class it lacks may still be orderable on AWS, and the check on AWS is AWS's answer.
"""

from moto.iam import models as iam_models
from moto.rds import responses as rds_responses

iam_models.SERVICE_NAME_CONVERSION.setdefault("rds", "RDS")

_INSTANCE_CLASSES = [f"db.{family}.{size}" for family in ("t3", "t4g") for size in ("micro", "small", "medium", "large")] + [
    f"db.{family}.{size}" for family in ("m5", "m6g", "m7g", "r5", "r6g", "r7g") for size in ("large", "xlarge", "2xlarge")]
_AURORA_CLASSES = ["db.t3.medium", "db.t4g.medium", "db.t4g.large", "db.serverless"] + [
    f"db.{family}.{size}" for family in ("r5", "r6g", "r7g") for size in ("large", "xlarge", "2xlarge")]
_STAND_IN = {"postgres": _INSTANCE_CLASSES, "mysql": _INSTANCE_CLASSES, "mariadb": _INSTANCE_CLASSES,
             "aurora-postgresql": _AURORA_CLASSES, "aurora-mysql": _AURORA_CLASSES}


def _option(engine, version, instance_class):
    return {"Engine": engine, "EngineVersion": version, "DBInstanceClass": instance_class,
            "LicenseModel": "general-public-license", "AvailabilityZones": [], "MultiAZCapable": True,
            "ReadReplicaCapable": True, "Vpc": True, "SupportsStorageEncryption": True,
            "StorageType": "aurora" if engine.startswith("aurora") else "gp3",
            "SupportsClusters": engine.startswith("aurora")}


_original = rds_responses.RDSResponse.describe_orderable_db_instance_options


def _describe_orderable(self):
    engine, version = self.params.get("Engine"), self.params.get("EngineVersion")
    wanted = self.params.get("DBInstanceClass")
    known = self.backend.describe_orderable_db_instance_options(engine, version)
    if not known and engine in _STAND_IN:
        known = [_option(engine, version or "", c) for c in _STAND_IN[engine]]
    options = [o for o in known if not wanted or o["DBInstanceClass"] == wanted]
    return rds_responses.PaginatedResult({"OrderableDBInstanceOptions": options})


rds_responses.RDSResponse.describe_orderable_db_instance_options = _describe_orderable


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


