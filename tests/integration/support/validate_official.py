"""Validates export lines against the OFFICIAL schemas of the standard they declare, not
hookledger's own description of them.

usage: validate_official.py ocsf FILE
       validate_official.py ecs ECS_PACKAGE_DIR FILE

ocsf: each line against the OCSF JSON schema that PyPI `ocsf-json-schema` compiles for the
      line's `metadata.version`, its `class_uid` and the profiles it lists in
      `metadata.profiles` (attributes are closed: any attribute the class and those profiles
      do not define is an error, as is a missing required one or a value outside an enum).
ecs:  each line against the field list of npm `@elastic/ecs` (ECS_PACKAGE_DIR is the
      package's directory): `ecs.version` must be the package's version; every leaf field
      outside `hookledger.*` must be an ECS field of that version, of its type, and
      categorization fields must hold allowed values.

Prints one line per problem and exits 1 if any; prints the count and exits 0 otherwise.
Exits 2 when a schema package is missing (the caller decides whether that fails).
"""
import json
import pathlib
import subprocess
import sys


def lines_of(path):
    return [json.loads(l) for l in pathlib.Path(path).read_text().splitlines() if l.strip()]


def validate_ocsf(path):
    try:
        import jsonschema
        from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema, get_packaged_versions
    except ImportError as e:
        print(f"missing: {e}")
        sys.exit(2)
    packaged = get_packaged_versions()
    schemas, validators = {}, {}
    problems = 0
    lines = lines_of(path)
    for number, line in enumerate(lines, 1):
        metadata = line.get("metadata") or {}
        version = metadata.get("version")
        if version not in packaged:
            print(f"line {number}: metadata.version {version!r} is not an OCSF version ocsf-json-schema knows ({sorted(packaged)})")
            problems += 1
            continue
        if version not in schemas:
            schemas[version] = OcsfJsonSchemaEmbedded(get_ocsf_schema(version))
        schema = schemas[version]
        profiles = tuple(sorted(metadata.get("profiles") or []))
        try:
            class_name = schema.lookup_class_name_from_uid(line.get("class_uid"))
        except Exception as e:  # an unknown class
            print(f"line {number}: class_uid {line.get('class_uid')!r}: {e}")
            problems += 1
            continue
        key = (version, class_name, profiles)
        if key not in validators:
            class_schema = schema.get_class_schema(class_name, list(profiles))
            cls = jsonschema.validators.validator_for(class_schema)
            validators[key] = cls(class_schema)
        for error in validators[key].iter_errors(line):
            problems += 1
            where = "/".join(map(str, error.absolute_path))
            print(f"line {number} ({class_name}, profiles {list(profiles)}): {where}: {error.message[:300]}")
    return problems, len(lines)


STRING_TYPES = {"keyword", "constant_keyword", "wildcard", "text", "match_only_text", "date", "ip", "version"}
INTEGER_TYPES = {"long", "integer", "short", "byte", "unsigned_long"}
NUMBER_TYPES = INTEGER_TYPES | {"float", "double", "scaled_float", "half_float"}


def ecs_fields(package_dir):
    package = pathlib.Path(package_dir)
    flat = (package / "build" / "commonjs" / "ecs_flat.js").resolve()
    if not flat.is_file():
        print(f"missing: {flat}")
        sys.exit(2)
    script = "console.log(JSON.stringify(require(process.argv[1]).EcsFlat))"
    out = subprocess.run(["node", "-e", script, str(flat)], check=True, capture_output=True, text=True)
    version = json.loads((package / "package.json").read_text())["version"]
    return json.loads(out.stdout), version


def type_ok(kind, value):
    if kind in STRING_TYPES:
        return isinstance(value, str)
    if kind in INTEGER_TYPES:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind in NUMBER_TYPES:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in ("object", "flattened", "nested"):
        return isinstance(value, (dict, list))
    return True


def validate_ecs(package_dir, path):
    fields, version = ecs_fields(package_dir)
    problems = 0
    lines = lines_of(path)

    def check(number, name, value):
        nonlocal problems
        field = fields.get(name)
        if field is None:
            problems += 1
            print(f"line {number}: {name}: not a field of ECS {version}")
            return
        values = value if isinstance(value, list) else [value]
        for item in values:
            if not type_ok(field.get("type"), item):
                problems += 1
                print(f"line {number}: {name}: {item!r} is not of ECS type {field.get('type')}")
        allowed = field.get("allowed_values")
        if allowed:
            names = {a["name"] for a in allowed}
            for item in values:
                if item not in names:
                    problems += 1
                    print(f"line {number}: {name}: {item!r} is not an allowed value ({sorted(names)})")

    def walk(number, prefix, obj):
        for key, value in obj.items():
            name = f"{prefix}{key}"
            # hookledger's own fields (the chain and the payload) are namespaced, as ECS asks.
            if name == "hookledger":
                continue
            field = fields.get(name)
            if isinstance(value, dict) and not (field and field.get("type") in ("object", "flattened", "nested")):
                walk(number, name + ".", value)
            else:
                check(number, name, value)

    for number, line in enumerate(lines, 1):
        declared = (line.get("ecs") or {}).get("version")
        if declared != version:
            problems += 1
            print(f"line {number}: ecs.version {declared!r} is not the field list's version {version}")
        walk(number, "", line)
    return problems, len(lines)


def main():
    kind = sys.argv[1]
    if kind == "ocsf":
        problems, count = validate_ocsf(sys.argv[2])
    elif kind == "ecs":
        problems, count = validate_ecs(sys.argv[2], sys.argv[3])
    else:
        print(__doc__)
        sys.exit(2)
    if problems:
        print(f"{problems} problems in {count} lines")
        sys.exit(1)
    print(f"{count} valid")


main()
