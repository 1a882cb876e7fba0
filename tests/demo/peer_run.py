"""Runs one function of the peer tool (awslabs/rds-snapshot-tool, from a checkout the user names;
nothing of it is kept in this repository) the way its Lambda would, against the endpoint in
AWS_ENDPOINT_URL, and prints {"calls": N, "error": "..."} as JSON: N counts the AWS requests it
made (botocore's before-call event, once per operation call, retries not counted).

Usage: python peer_run.py CHECKOUT FUNCTION   (FUNCTION: share_snapshots_rds, take_snapshots_rds, ...)
The function's configuration comes from the environment, as in its Lambda (PATTERN, DEST_ACCOUNT,
INTERVAL, RETENTION_DAYS, LOG_LEVEL, AWS_DEFAULT_REGION).
"""

import importlib
import json
import os
import sys


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    checkout, function = sys.argv[1], sys.argv[2]
    folder = os.path.join(checkout, "lambda", function)
    if not os.path.isfile(os.path.join(folder, "lambda_function.py")):
        sys.exit(f"peer_run: {folder}/lambda_function.py not found: CHECKOUT must be a checkout of the peer tool")
    import boto3
    calls = [0]
    session = boto3._get_default_session()
    session.events.register("before-call.*.*", lambda **_: calls.__setitem__(0, calls[0] + 1))
    sys.path[:0] = [folder, os.path.join(checkout, "lambda")]
    error = None
    try:
        importlib.import_module("lambda_function").lambda_handler(None, None)
    except Exception as e:  # the peer raises to be retried; the bench reports it
        error = f"{type(e).__name__}: {e}"
    print(json.dumps({"calls": calls[0], "error": error}))


if __name__ == "__main__":
    main()
