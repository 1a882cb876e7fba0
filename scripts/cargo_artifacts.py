#!/usr/bin/env python3
"""Reads `cargo ... --message-format=json` on stdin: keeps every line in the file named by the
first argument (the test pool reads the executables from it) and prints the compiler's
diagnostics as cargo would have printed them (warnings, errors, clippy's findings)."""

import json
import sys

with open(sys.argv[1], "w") as out:
    for line in sys.stdin:
        out.write(line)
        try:
            message = json.loads(line)
        except ValueError:
            sys.stderr.write(line)
            continue
        if message.get("reason") == "compiler-message":
            sys.stderr.write(message["message"].get("rendered") or "")
        elif message.get("reason") == "build-finished" and not message.get("success"):
            sys.stderr.write("cargo: the build failed\n")
