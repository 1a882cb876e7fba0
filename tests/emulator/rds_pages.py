"""RDS describes in pages of at most 100 records, as RDS serves them.

Moto 5.2.5 pages DescribeDBInstances but answers DescribeDBSnapshots,
DescribeDBClusterSnapshots and DescribeDBClusters whole, so a client that reads one page sees
everything and every call count on more than 100 snapshots is low. RDS API reference,
DescribeDBSnapshots (and DescribeDBClusterSnapshots, DescribeDBClusters): "MaxRecords - The
maximum number of records to include in the response. If more records exist than the
specified MaxRecords value, a pagination token called a marker is included in the response so
that you can retrieve the remaining results. Default: 100. Constraints: Minimum 20, maximum
100." The answer carries `Marker`; the next request passes it back (botocore's pagination
model for RDS, which moto's own pager follows).
"""

from moto.core.responses import PaginatedResult
from moto.rds import responses

_PAGED = ("describe_db_snapshots", "describe_db_cluster_snapshots", "describe_db_clusters")


def _paged(original):
    def describe(self):
        whole = original(self)
        return PaginatedResult(whole._result)

    describe.__name__ = original.__name__
    return describe


for _name in _PAGED:
    setattr(responses.RDSResponse, _name, _paged(getattr(responses.RDSResponse, _name)))
