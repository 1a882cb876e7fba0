"""The pipeline's upload (scripts/pipeline.sh upload): both Lambda packages of this version and
SHA256SUMS from DIST to rds-snapshot-policy/ in the code bucket of each install region (Lambda
reads a function's code only from its own region).

Usage: python scripts/upload_packages.py DIST VERSION REGION=BUCKET...
"""

import os
import sys

import boto3


def main(dist, version, pairs):
    files = [f"rds-snapshot-policy-{kind}-{version}-x86_64.zip" for kind in ("macro", "provider")] + ["SHA256SUMS"]
    missing = [f for f in files if not os.path.exists(os.path.join(dist, f))]
    if missing:
        sys.exit(f"pipeline: upload: {', '.join(missing)} not in {dist} (scripts/package.sh writes them)")
    if not pairs or any("=" not in p for p in pairs):
        sys.exit(f"pipeline: upload: LAMBDA_BUCKETS must be REGION=BUCKET pairs, got {pairs}")
    for pair in pairs:
        region, bucket = pair.split("=", 1)
        s3 = boto3.client("s3", region_name=region)
        for name in files:
            s3.upload_file(os.path.join(dist, name), bucket, f"rds-snapshot-policy/{name}")
        print(f"pipeline: uploaded {', '.join(files)} to s3://{bucket}/rds-snapshot-policy/ ({region})")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
