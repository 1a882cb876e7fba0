"""A source database's snapshot minute, as the deploy-time check computes it (`spread.rs`):
FNV-1a (64 bits) of `<account>/<region>/source:db-instance/<id>` (or `db-cluster`), modulo the
cadence in minutes (at most 60). `tests/demo/spread-vectors.json` holds the Rust side's answers;
`check_vectors` compares."""

import json
import os

VECTORS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "demo", "spread-vectors.json")


def snapshot_minute(identity, cadence):
    value = 0xcbf29ce484222325
    for byte in identity.encode():
        value = ((value ^ byte) * 0x100000001b3) % (1 << 64)
    return value % max(1, min(cadence, 60))


def identity(account, region, kind, database):
    """`kind`: "instance" or "cluster"."""
    return f"{account}/{region}/source:db-{kind}/{database}"


def check_vectors():
    with open(VECTORS) as f:
        for text, cadence, minute in json.load(f):
            if snapshot_minute(text, cadence) != minute:
                raise SystemExit(f"snapshot_minute({text!r}, {cadence}) differs from spread.rs's {minute}")
