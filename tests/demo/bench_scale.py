"""The provider at fleet scale with AWS-like latency (`make bench-scale`).

Starts the emulator and the fault proxy in front of it with a fixed delay per call (an
approximation of AWS: RDS control-plane calls take tens to hundreds of milliseconds), creates
DATABASES instances with SNAPSHOTS manual snapshots in all (tagged as the policy's, not yet
shared), then times each action through the proxy with `rds-snapshot-policy run`, the way a
fleet meets it: the first share (two calls per snapshot), a take a day later (one snapshot per
database), the DR account's first copy run (lists every shared snapshot, starts AWS's 20
copies in flight) and a delete a month later (every snapshot but the newest per database).
Each RSP_PARALLELISM value (1 sequential, 4, the default 8) gets its own identical fleet.
Prints a markdown table: wall time, AWS calls, operations done, peak RSS of the CLI.

Usage: python bench_scale.py [--sizes 10x100,50x500] [--latency-ms 100] [--parallelism 1,4,8]
"""

import argparse
import datetime
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

import boto3

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PROD, DR, REGION, DR_REGION = "111111111111", "222222222222", "eu-west-1", "eu-central-1"
CLI = os.path.join(ROOT, "target/debug/rds-snapshot-policy")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port):
    deadline = time.time() + 60
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    sys.exit(f"bench: nothing listens on {port}")


def post(url, body):
    import urllib.request
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read()


def fleet(rds, key, prefix, databases, snapshots):
    per_db = max(1, snapshots // databases)
    tags = lambda db: [{"Key": "CreatedBy", "Value": "Snapshot Tool for RDS"},
                       {"Key": "rds-snapshot-policy:policy", "Value": prefix},
                       {"Key": "rds-snapshot-policy:database", "Value": db}]
    for d in range(databases):
        db = f"{prefix}-db{d:03d}"
        rds.create_db_instance(DBInstanceIdentifier=db, Engine="postgres", DBInstanceClass="db.t4g.micro",
                               AllocatedStorage=20, MasterUsername="bench_admin",
                               MasterUserPassword="not-a-real-password", StorageEncrypted=True, KmsKeyId=key)
        for i in range(per_db):
            rds.create_db_snapshot(DBInstanceIdentifier=db, DBSnapshotIdentifier=f"{db}-2026-01-01-{i // 60:02d}-{i % 60:02d}",
                                   Tags=tags(db))
    return databases * per_db


def run_action(env, action, policy_file, parallelism, now=None):
    """(wall seconds, AWS calls, operations done, peak RSS MB) of one `run ACTION`."""
    env = dict(env, RSP_PARALLELISM=str(parallelism))
    args = [CLI, "run", action, "--policy", policy_file, "--json"]
    if now:
        args += ["--now", now]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.time()
        child = subprocess.Popen(args, env=env, stdout=out, stderr=err)
        # wait4: this run's own peak RSS (getrusage would give the largest child so far).
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.time() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if child.returncode != 0:
            sys.exit(f"bench: run {action} failed: {err.read()[-2000:].decode(errors='replace')}")
        summary = json.loads(out.read())
    return wall, summary["awsCalls"], len(summary["done"]), usage.ru_maxrss / 1024


def later(days):
    stamp = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days)
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10x100,50x500")
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--parallelism", default="1,4,8", help="the RSP_PARALLELISM values to time")
    parser.add_argument("--actions", default="all", help="share,take,copy,delete or all")
    args = parser.parse_args()
    port, proxy_port = free_port(), free_port()
    children = [subprocess.Popen([sys.executable, os.path.join(ROOT, "tests/emulator/launcher.py"), str(port), str(os.getpid())],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    wait_port(port)
    endpoint = f"http://127.0.0.1:{port}"
    post(f"{endpoint}/_rsp/config", {"snapshot_limit": 1_000_000})
    children.append(subprocess.Popen([sys.executable, os.path.join(ROOT, "tests/emulator/fault_proxy.py"), str(proxy_port),
                                      endpoint, str(os.getpid())], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    wait_port(proxy_port)
    proxy = f"http://127.0.0.1:{proxy_port}"
    post(f"{proxy}/_proxy/mode", {"mode": "latency", "latency_ms": args.latency_ms})
    sts = boto3.client("sts", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="b", aws_secret_access_key="b")
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{PROD}:role/bench", RoleSessionName="bench")["Credentials"]
    client = lambda service: boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                                          aws_access_key_id=creds["AccessKeyId"],
                                          aws_secret_access_key=creds["SecretAccessKey"],
                                          aws_session_token=creds["SessionToken"])
    key = client("kms").create_key(Description="bench")["KeyMetadata"]["Arn"]
    rds = client("rds")
    dr_creds = sts.assume_role(RoleArn=f"arn:aws:iam::{DR}:role/bench", RoleSessionName="bench")["Credentials"]
    dr_key = boto3.client("kms", endpoint_url=endpoint, region_name=DR_REGION,
                          aws_access_key_id=dr_creds["AccessKeyId"], aws_secret_access_key=dr_creds["SecretAccessKey"],
                          aws_session_token=dr_creds["SessionToken"]).create_key(Description="bench-dr")["KeyMetadata"]["Arn"]
    base = {"PATH": os.environ.get("PATH", ""), "AWS_ENDPOINT_URL": proxy, "AWS_EC2_METADATA_DISABLED": "true"}
    as_account = lambda c, region: dict(base, AWS_REGION=region, AWS_ACCESS_KEY_ID=c["AccessKeyId"],
                                        AWS_SECRET_ACCESS_KEY=c["SecretAccessKey"], AWS_SESSION_TOKEN=c["SessionToken"])
    env, dr_env = as_account(creds, REGION), as_account(dr_creds, DR_REGION)
    rows = []
    workdir = tempfile.mkdtemp(prefix="rsp-bench-scale-")
    try:
        for size in args.sizes.split(","):
            databases, snapshots = (int(x) for x in size.split("x"))
            for parallelism in (int(p) for p in args.parallelism.split(",")):
                prefix = f"b{databases}x{snapshots}p{parallelism}"
                count = fleet(rds, key, prefix, databases, snapshots)
                source = os.path.join(workdir, f"{prefix}.json")
                with open(source, "w") as f:
                    json.dump({"Role": "Source", "PolicyId": prefix, "InstanceNamePattern": f"^{prefix}-",
                               "DestinationAccounts": [DR], "BackupInterval": 1, "RetentionDays": 7}, f)
                target = os.path.join(workdir, f"{prefix}-dr.json")
                with open(target, "w") as f:
                    json.dump({"Role": "Destination", "PolicyId": f"{prefix}-dr", "SnapshotPattern": f"^{prefix}-",
                               "SourceAccounts": [PROD], "SourceRegionOverride": REGION, "DestinationRegion": DR_REGION,
                               "KmsKeyDestination": dr_key}, f)
                runs = [("share", env, source, None), ("take", env, source, later(1)),
                        ("copy", dr_env, target, None), ("delete", env, source, later(30))]
                if args.actions != "all":
                    runs = [r for r in runs if r[0] in args.actions.split(",")]
                for action, action_env, policy, now in runs:
                    wall, calls, done, peak = run_action(action_env, action, policy, parallelism, now)
                    rows.append((databases, count, action, parallelism, wall, calls, done, peak))
                    print(f"bench: {databases} databases, {count} snapshots, {action}, parallelism {parallelism}: "
                          f"{wall:.1f} s, {calls} calls, {done} done, peak RSS {peak:.0f} MB", flush=True)
    finally:
        for child in children:
            child.terminate()
    print()
    print("| databases | snapshots | action | parallelism | wall | AWS calls | done | peak RSS (CLI) |")
    print("|---|---|---|---|---|---|---|---|")
    for databases, count, action, parallelism, wall, calls, done, peak in rows:
        print(f"| {databases} | {count} | {action} | {parallelism} | {wall:.1f} s | {calls} | {done} | {peak:.0f} MB |")


if __name__ == "__main__":
    main()
