"""Validates NDJSON export lines against hookledger's JSON Schemas (schema/export-*.schema.json).

usage: validate_lines.py SCHEMA_DIR SCHEMA_NAME FILE
Prints one line per invalid record and exits 1 if any; prints the count and exits 0 otherwise.
"""
import json
import pathlib
import sys

import jsonschema
from referencing import Registry, Resource

schema_dir, name, data = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3]
resources = []
for path in schema_dir.glob("export-*.schema.json"):
    schema = json.loads(path.read_text())
    resources.append((schema["$id"], Resource.from_contents(schema)))
registry = Registry().with_resources(resources)
schema = json.loads((schema_dir / name).read_text())
validator = jsonschema.Draft202012Validator(schema, registry=registry,
                                            format_checker=jsonschema.FormatChecker())
bad = 0
lines = [l for l in pathlib.Path(data).read_text().splitlines() if l.strip()]
for number, line in enumerate(lines, 1):
    for error in validator.iter_errors(json.loads(line)):
        bad += 1
        print(f"line {number}: {'/'.join(map(str, error.absolute_path))}: {error.message}")
if bad:
    sys.exit(1)
print(f"{len(lines)} valid")
