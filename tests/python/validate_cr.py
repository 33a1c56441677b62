#!/usr/bin/env python3
"""Checks DuckLakeIngestion documents against the CRD the way the API server
would, offline: nulls pruned where the schema is not nullable, the OpenAPI schema (types, enums, required keys, ranges,
lengths, patterns) with `jsonschema`, and every `x-kubernetes-validations`
CEL rule with `cel-python`.

Usage: validate_cr.py CRD.yaml RESOURCE.yaml...
Prints one JSON line per resource document: {"file", "name", "errors": [...],
"stored": the document as stored}.
"""
import json
import sys

import celpy
import jsonschema
import yaml


def to_json_schema(node):
    """OpenAPI v3 (Kubernetes flavour) -> JSON Schema: `nullable` allows null,
    int-or-string has no single type."""
    if isinstance(node, list):
        return [to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: to_json_schema(v) for k, v in node.items() if not k.startswith("x-kubernetes-") and k != "nullable"}
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


def prune_nulls(schema, value):
    """What the API server does before validating: a null where the schema
    does not say `nullable` is dropped, as if the key were absent."""
    if not isinstance(schema, dict):
        return value
    if isinstance(value, dict):
        props = schema.get("properties", {})
        out = {}
        for key, child in value.items():
            sub = props.get(key, schema.get("additionalProperties"))
            if child is None and isinstance(sub, dict) and not sub.get("nullable"):
                continue
            out[key] = prune_nulls(sub, child)
        return out
    if isinstance(value, list):
        return [prune_nulls(schema.get("items"), v) for v in value]
    return value


def cel_errors(schema, value, path, env, out):
    """Evaluates the CEL rules of `schema` on `value`, then descends."""
    if value is None or not isinstance(schema, dict):
        return
    for rule in schema.get("x-kubernetes-validations", []):
        program = env.program(env.compile(rule["rule"]))
        ok = program.evaluate({"self": celpy.json_to_cel(value)})
        if not ok:
            out.append(f"{path}: Invalid value: {rule.get('message', rule['rule'])}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key, child in value.items():
            sub = props.get(key, schema.get("additionalProperties"))
            cel_errors(sub, child, f"{path}.{key}" if path else key, env, out)
    elif isinstance(value, list):
        for i, child in enumerate(value):
            cel_errors(schema.get("items"), child, f"{path}[{i}]", env, out)


def main():
    crd_path, *files = sys.argv[1:]
    with open(crd_path) as f:
        crd = next(d for d in yaml.safe_load_all(f) if d)
    version = crd["spec"]["versions"][0]
    schema = version["schema"]["openAPIV3Schema"]
    validator = jsonschema.Draft7Validator(to_json_schema(schema))
    env = celpy.Environment()
    for path in files:
        with open(path) as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
        for doc in docs:
            doc = prune_nulls(schema, doc)
            errors = [
                f"{'.'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
                for e in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
            ]
            cel_errors(schema, doc, "", env, errors)
            name = (doc.get("metadata") or {}).get("name", "")
            # "stored": the document as the API server would keep it (nulls pruned).
            print(json.dumps({"file": path, "name": name, "errors": errors, "stored": doc}))


if __name__ == "__main__":
    main()
