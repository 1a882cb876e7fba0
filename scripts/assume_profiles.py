"""The pipeline's verify phase (scripts/pipeline.sh verify): assumes each account's read-only
status role with the stage's own credentials (CodeBuild's container credentials, or any the
standard chain finds) and writes an AWS config file with one profile per account holding the
session's credentials, for `rds-snapshot-policy status --source-profile prod --dr-profile dr`.

Usage: python scripts/assume_profiles.py CONFIG NAME=ROLE_ARN@REGION...
"""

import os
import sys

import boto3


def main(config, entries):
    sts = boto3.client("sts", region_name=os.environ.get("AWS_REGION") or "us-east-1")
    lines = []
    for entry in entries:
        name, _, rest = entry.partition("=")
        role, _, region = rest.rpartition("@")
        if not name or not role.startswith("arn:") or not region:
            sys.exit(f"pipeline: verify: {entry!r} is not NAME=ROLE_ARN@REGION")
        creds = sts.assume_role(RoleArn=role, RoleSessionName=f"rds-snapshot-policy-verify-{name}",
                                DurationSeconds=3600)["Credentials"]
        lines += [f"[profile {name}]", f"region = {region}", f"aws_access_key_id = {creds['AccessKeyId']}",
                  f"aws_secret_access_key = {creds['SecretAccessKey']}", f"aws_session_token = {creds['SessionToken']}"]
        print(f"pipeline: verify: profile {name} is {role} in {region}")
    descriptor = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2:])
