"""The provider at fleet scale with AWS-like latency (`make bench-scale`).

Starts the emulator and the fault proxy in front of it with a fixed delay per call (an
approximation of AWS: RDS control-plane calls take tens to hundreds of milliseconds), creates
DATABASES instances with SNAPSHOTS manual snapshots in all (tagged as the policy's, not yet
shared), then times `rds-snapshot-policy run share` (the first share: two calls per snapshot)
with RSP_PARALLELISM 1 (sequential), the default 4 and 8, on identical fleets. Prints a
markdown table: wall time, AWS calls, peak RSS of the CLI.

Usage: python bench_scale.py [--sizes 10x100,50x500] [--latency-ms 100] [--parallelism 1,4,8]
"""

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time

import boto3

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PROD, DR, REGION = "111111111111", "222222222222", "eu-west-1"
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


def run_share(env, policy_file, parallelism):
    env = dict(env, RSP_PARALLELISM=str(parallelism))
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.time()
    done = subprocess.run([CLI, "run", "share", "--policy", policy_file, "--json"], env=env,
                          capture_output=True, text=True)
    wall = time.time() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if done.returncode != 0:
        sys.exit(f"bench: run share failed: {done.stderr[-2000:]}")
    summary = json.loads(done.stdout)
    return wall, summary["awsCalls"], len(summary["done"]), max(peak, before) / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10x100,50x500")
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--parallelism", default="1,4,8", help="the RSP_PARALLELISM values to time")
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
    env = {"PATH": os.environ.get("PATH", ""), "AWS_ENDPOINT_URL": proxy, "AWS_REGION": REGION,
           "AWS_ACCESS_KEY_ID": creds["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
           "AWS_SESSION_TOKEN": creds["SessionToken"], "AWS_EC2_METADATA_DISABLED": "true"}
    rows = []
    workdir = tempfile.mkdtemp(prefix="rsp-bench-scale-")
    try:
        for size in args.sizes.split(","):
            databases, snapshots = (int(x) for x in size.split("x"))
            for parallelism in (int(p) for p in args.parallelism.split(",")):
                prefix = f"b{databases}x{snapshots}p{parallelism}"
                count = fleet(rds, key, prefix, databases, snapshots)
                policy = os.path.join(workdir, f"{prefix}.json")
                with open(policy, "w") as f:
                    json.dump({"Role": "Source", "PolicyId": prefix, "InstanceNamePattern": f"^{prefix}-",
                               "DestinationAccounts": [DR]}, f)
                wall, calls, shared, peak = run_share(env, policy, parallelism)
                rows.append((databases, count, parallelism, wall, calls, shared, peak))
                print(f"bench: {databases} databases, {count} snapshots, parallelism {parallelism}: "
                      f"{wall:.1f} s, {calls} calls, {shared} shared, peak RSS {peak:.0f} MB", flush=True)
    finally:
        for child in children:
            child.terminate()
    print()
    print(f"| databases | snapshots | parallelism | first share, wall | AWS calls | shared | peak RSS (CLI) |")
    print("|---|---|---|---|---|---|---|")
    for databases, count, parallelism, wall, calls, shared, peak in rows:
        print(f"| {databases} | {count} | {parallelism} | {wall:.1f} s | {calls} | {shared} | {peak:.0f} MB |")


if __name__ == "__main__":
    main()
