"""The emulator on its own, for trying the CLI by hand (`make emulator`).

Starts the project's launcher on 127.0.0.1, creates the two accounts' starting point and writes
their AWS profiles, then waits until Ctrl-C:

- production 111111111111, eu-west-1: a KMS key shared with the DR account, the encrypted DB
  instances `orders` and `billing`, the Aurora cluster `ledger`;
- DR 222222222222, eu-central-1: the DR key
  arn:aws:kms:eu-central-1:222222222222:key/00000000-0000-4000-8000-0000000000d2, the one the
  shipped policy templates/policies/dr-copies.yaml names.

Writes WORKDIR/aws-config (profiles `rsp-prod` and `rsp-dr`, region and endpoint_url included)
and WORKDIR/env (`source` it: AWS_CONFIG_FILE and friends), and prints both.

Usage: python standalone.py [--port 4599] [--workdir .emulator]
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time

import boto3

HERE = os.path.dirname(os.path.abspath(__file__))
PROD, DR = "111111111111", "222222222222"
PROD_REGION, DR_REGION = "eu-west-1", "eu-central-1"
DR_KEY_ID = "00000000-0000-4000-8000-0000000000d2"


def credentials(endpoint, account):
    sts = boto3.client("sts", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="emulator", aws_secret_access_key="emulator")
    return sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/operator",
                           RoleSessionName="operator")["Credentials"]


def client(endpoint, creds, service, region):
    return boto3.client(service, endpoint_url=endpoint, region_name=region,
                        aws_access_key_id=creds["AccessKeyId"],
                        aws_secret_access_key=creds["SecretAccessKey"],
                        aws_session_token=creds["SessionToken"])


def key_policy(owner, shared_with=None):
    statements = [{"Sid": "AccountAdministers", "Effect": "Allow",
                   "Principal": {"AWS": f"arn:aws:iam::{owner}:root"}, "Action": "kms:*", "Resource": "*"}]
    if shared_with:
        statements.append({"Sid": "DrAccountCopiesSnapshots", "Effect": "Allow",
                           "Principal": {"AWS": f"arn:aws:iam::{shared_with}:root"},
                           "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant"], "Resource": "*"})
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def populate(endpoint, prod, dr):
    kms = client(endpoint, prod, "kms", PROD_REGION)
    key = kms.create_key(Description="production databases", Policy=key_policy(PROD, DR))["KeyMetadata"]["Arn"]
    rds = client(endpoint, prod, "rds", PROD_REGION)
    for name in ("orders", "billing"):
        rds.create_db_instance(DBInstanceIdentifier=name, Engine="postgres", DBInstanceClass="db.t4g.micro",
                               AllocatedStorage=20, MasterUsername="admin_user",
                               MasterUserPassword="not-a-real-password", StorageEncrypted=True, KmsKeyId=key)
    rds.create_db_cluster(DBClusterIdentifier="ledger", Engine="aurora-postgresql", MasterUsername="ledger_admin",
                          MasterUserPassword="not-a-real-password", StorageEncrypted=True, KmsKeyId=key)
    rds.create_db_instance(DBInstanceIdentifier="ledger-1", DBClusterIdentifier="ledger",
                           Engine="aurora-postgresql", DBInstanceClass="db.t4g.medium")
    dr_kms = client(endpoint, dr, "kms", DR_REGION)
    dr_key = dr_kms.create_key(Description="DR copies", Policy=key_policy(DR),
                               Tags=[{"TagKey": "rsp:key-id", "TagValue": DR_KEY_ID}])["KeyMetadata"]["Arn"]
    return key, dr_key


def write_profiles(workdir, endpoint, prod, dr):
    os.makedirs(workdir, exist_ok=True)
    config = os.path.join(workdir, "aws-config")
    with open(config, "w") as f:
        for name, creds, region in (("rsp-prod", prod, PROD_REGION), ("rsp-dr", dr, DR_REGION)):
            f.write(f"[profile {name}]\nregion = {region}\nendpoint_url = {endpoint}\n"
                    f"aws_access_key_id = {creds['AccessKeyId']}\n"
                    f"aws_secret_access_key = {creds['SecretAccessKey']}\n"
                    f"aws_session_token = {creds['SessionToken']}\n\n")
    env = os.path.join(workdir, "env")
    with open(env, "w") as f:
        f.write(f"export AWS_CONFIG_FILE={config}\nexport AWS_SHARED_CREDENTIALS_FILE={os.devnull}\n"
                "export AWS_EC2_METADATA_DISABLED=true\nunset AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID "
                "AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_REGION AWS_DEFAULT_REGION AWS_PROFILE\n")
    return config, env


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=4599)
    parser.add_argument("--workdir", default=".emulator")
    args = parser.parse_args()
    workdir = os.path.abspath(args.workdir)
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", args.port)) == 0:
            sys.exit(f"emulator: port {args.port} is in use (another `make emulator`?): pass --port")
    os.makedirs(workdir, exist_ok=True)
    log = open(os.path.join(workdir, "emulator.log"), "w")
    launcher = subprocess.Popen([sys.executable, os.path.join(HERE, "launcher.py"), str(args.port), str(os.getpid())],
                                stdout=log, stderr=log)
    endpoint = f"http://127.0.0.1:{args.port}"
    deadline = time.time() + 60
    while True:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", args.port)) == 0:
                break
        if time.time() > deadline or launcher.poll() is not None:
            sys.exit(f"emulator: the launcher did not start; see {log.name}")
        time.sleep(0.2)
    prod, dr = credentials(endpoint, PROD), credentials(endpoint, DR)
    key, dr_key = populate(endpoint, prod, dr)
    config, env = write_profiles(workdir, endpoint, prod, dr)
    print(f"emulator on {endpoint} (log {log.name})")
    print(f"  production {PROD} in {PROD_REGION}: DB instances orders, billing; Aurora cluster ledger (key {key})")
    print(f"  DR {DR} in {DR_REGION}: key {dr_key}")
    print(f"  profiles rsp-prod and rsp-dr in {config}")
    print(f"in another shell: source {os.path.relpath(env)}    (Ctrl-C here stops the emulator)", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        launcher.wait()
    except KeyboardInterrupt:
        pass
    finally:
        launcher.terminate()


if __name__ == "__main__":
    main()
