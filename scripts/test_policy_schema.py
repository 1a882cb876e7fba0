"""The shipped JSON Schema of a policy's Properties (docs/src/reference/policy-properties.schema.json,
generated from core/src/policy/properties.rs) checked with a real validator (`jsonschema`,
pinned with cfn-lint in scripts/setup-tools.sh): it is a valid 2020-12 schema; every policy the
macro accepts (the golden cases that expand, the example stacks, the plain policy files)
validates, so the schema is never stricter than the reader; and the policies the reader refuses
for an unknown or other-role property fail it too.

Run by `make test` with .tools/lint/bin/python.
"""

import glob
import json
import os
import unittest

import jsonschema
import yaml
from cfnlint.decode import cfn_yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SCHEMA = os.path.join(ROOT, "docs/src/reference/policy-properties.schema.json")


def validator():
    with open(SCHEMA) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def policies(template_path):
    """(logical ID, Properties) of every Custom::RdsSnapshotPolicy of a template (short-form tags read)."""
    with open(template_path) as f:
        template = cfn_yaml.loads(f.read())
    for logical_id, resource in (template.get("Resources") or {}).items():
        if isinstance(resource, dict) and resource.get("Type") == "Custom::RdsSnapshotPolicy":
            yield logical_id, resource.get("Properties") or {}


def plain(value):
    """cfn-lint's node types as plain JSON values."""
    return json.loads(json.dumps(value))


class PolicySchema(unittest.TestCase):
    def setUp(self):
        self.validator = validator()

    def errors(self, properties):
        return [e.message for e in self.validator.iter_errors(plain(properties))]

    def test_every_policy_the_macro_expands_validates(self):
        templates = [p for p in glob.glob(os.path.join(ROOT, "macro/tests/golden/*/input.yaml"))
                     if not os.path.basename(os.path.dirname(p)).startswith(("error-", "warnings-type-typo"))]
        templates += glob.glob(os.path.join(ROOT, "templates/examples/*.yaml"))
        self.assertGreater(len(templates), 20)
        seen = 0
        for path in templates:
            for logical_id, properties in policies(path):
                seen += 1
                with self.subTest(template=os.path.relpath(path, ROOT), resource=logical_id):
                    self.assertEqual(self.errors(properties), [])
        self.assertGreater(seen, 20)

    def test_the_plain_policy_files_validate(self):
        files = glob.glob(os.path.join(ROOT, "templates/policies/*.yaml"))
        self.assertGreater(len(files), 0)
        for path in files:
            with open(path) as f, self.subTest(policy=os.path.relpath(path, ROOT)):
                self.assertEqual(self.errors(yaml.safe_load(f)), [])

    def test_unknown_and_other_role_properties_fail(self):
        """Each golden policy fails because of exactly the properties the reader refuses."""
        cases = {
            ("error-other-role-properties", "SourceWithCopy"): ["CopySchedule", "KmsKeyDestination"],
            ("error-other-role-properties", "DestinationWithBackup"): ["BackupInterval", "InstanceNamePattern"],
            ("error-unknown-properties", "OrdersDbSnapshots"): ["RetentionDay", "backupschedule", "Colour"],
        }
        for (case, logical_id), refused in cases.items():
            found = dict(policies(os.path.join(ROOT, f"macro/tests/golden/{case}/input.yaml")))
            with self.subTest(case=case, resource=logical_id):
                self.assertNotEqual(self.errors(found[logical_id]), [])
                rest = {k: v for k, v in found[logical_id].items() if k not in refused}
                self.assertEqual(self.errors(rest), [])

    def test_bounds_and_shapes(self):
        base = {"Role": "Source", "DBInstanceIdentifier": "orders"}
        self.assertEqual(self.errors(dict(base, RetentionDays="3", EventDriven="FALSE", Role="source")), [])
        self.assertEqual(self.errors(dict(base, RetentionDays={"Ref": "Days"})), [])
        self.assertNotEqual(self.errors(dict(base, RtoMinutes=10)), [])  # Destination only, and below 15
        self.assertNotEqual(self.errors(dict(base, KeepDaily=367)), [])
        self.assertNotEqual(self.errors(dict(base, EventDriven="yes")), [])
        self.assertNotEqual(self.errors({"DBInstanceIdentifier": "orders"}), [])  # Role is required


if __name__ == "__main__":
    unittest.main()
