"""RDS describes in pages of at most 100 records, as RDS serves them.

Moto 5.2.5 pages DescribeDBInstances but answers DescribeDBSnapshots,
DescribeDBClusterSnapshots and DescribeDBClusters whole, so a client that reads one page sees
everything and every call count on more than 100 snapshots is low. RDS API reference,
DescribeDBSnapshots (and DescribeDBClusterSnapshots, DescribeDBClusters): "MaxRecords - The
maximum number of records to include in the response. If more records exist than the
specified MaxRecords value, a pagination token called a marker is included in the response so
that you can retrieve the remaining results. Default: 100. Constraints: Minimum 20, maximum
100." The answer carries `Marker`; the next request passes it back. The marker here is the
offset of the next record (AWS's is opaque; clients only pass it back).
"""

from moto.core.responses import ActionResult
from moto.rds import responses
from moto.rds.exceptions import InvalidParameterValue

_PAGED = {"describe_db_snapshots": "DBSnapshots", "describe_db_cluster_snapshots": "DBClusterSnapshots",
          "describe_db_clusters": "DBClusters"}


def _paged(original, key):
    def describe(self):
        limit = self.params.get("MaxRecords")
        limit = 100 if limit in (None, "") else int(limit)
        if not 20 <= limit <= 100:
            raise InvalidParameterValue(f"Invalid value {limit} for MaxRecords. Must be between 20 and 100")
        marker = self.params.get("Marker") or "0"
        if not marker.isdigit():
            raise InvalidParameterValue(f"Invalid marker: {marker}")
        start = int(marker)
        whole = original(self)
        result = dict(whole._result)
        records = list(result.get(key) or [])
        result[key] = records[start:start + limit]
        if start + limit < len(records):
            result["Marker"] = str(start + limit)
        return ActionResult(result)

    describe.__name__ = original.__name__
    return describe


for _name, _key in _PAGED.items():
    setattr(responses.RDSResponse, _name, _paged(getattr(responses.RDSResponse, _name), _key))
