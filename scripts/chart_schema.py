"""values.schema.json from the chart's commented values.yaml, so the two cannot drift apart.

    .venv/bin/python scripts/chart_schema.py            # rewrite k8s/domainlm/values.schema.json
    .venv/bin/python scripts/chart_schema.py --check    # exit 1 when the file is not what it would write

Each key's type is read off its default value (objects refuse unknown keys); the comment lines above a
key become its description, and a `# @schema {...}` line there refines its schema (JSON merged in).
`{"$def": NAME}` makes a block the shared definition NAME (the other blocks `{"$ref": "#/$defs/NAME"}`
it); the fixed definitions below (a secret, resources, env) are the chart's own vocabulary.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parent.parent / "k8s" / "domainlm"
_KEY = re.compile(r"^(\s*)([A-Za-z_][\w-]*):(?:\s|$)")
_QUANTITY = {"type": ["string", "integer", "number"]}

# A value that may be written inline (kept in the release's Secret) or name an existing Secret.
DEFS: dict[str, Any] = {
    "secretRef": {
        "type": "object",
        "properties": {
            "existingSecret": {"type": "string", "minLength": 1},
            "key": {"type": "string", "minLength": 1},
        },
        "required": ["existingSecret", "key"],
        "additionalProperties": False,
    },
    "optionalSecretRef": {
        "description": "{} (none), or {existingSecret: NAME, key: KEY}",
        "anyOf": [{"type": "object", "maxProperties": 0}, {"$ref": "#/$defs/secretRef"}],
    },
    # null by default rather than "": Helm warns when a map replaces a string default, not a null one.
    "secret": {
        "description": "a string (stored in the release's Secret), {existingSecret: NAME, key: KEY}, or null",
        "anyOf": [{"type": "null"}, {"type": "string"}, {"$ref": "#/$defs/secretRef"}],
    },
    "resources": {
        "type": "object",
        "properties": {
            "requests": {"type": "object", "additionalProperties": _QUANTITY},
            "limits": {"type": "object", "additionalProperties": _QUANTITY},
        },
        "additionalProperties": False,
    },
    "env": {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "value": {"type": "string"},
                "valueFrom": {"type": "object"},
            },
            "required": ["name"],
            "additionalProperties": False,
        },
    },
}


def annotations(text: str) -> dict[tuple[str, ...], tuple[list[str], dict[str, Any]]]:
    """Each key path's comment lines and merged @schema JSON, read from the YAML's lines."""
    out: dict[tuple[str, ...], tuple[list[str], dict[str, Any]]] = {}
    stack: list[tuple[int, str]] = []
    comments: list[str] = []
    schema: dict[str, Any] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            body = stripped.lstrip("#").strip()
            if body.startswith("@schema"):
                schema |= json.loads(body.removeprefix("@schema"))
            elif body:
                comments.append(body)
            continue
        match = _KEY.match(line)
        if not match:
            comments, schema = [], {}
            continue
        indent = len(match.group(1))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, match.group(2)))
        out[tuple(k for _, k in stack)] = (comments, schema)
        comments, schema = [], {}
    return out


def infer(value: Any, path: tuple[str, ...], notes: dict, defs: dict[str, Any]) -> dict[str, Any]:
    comments, extra = notes.get(path, ([], {}))
    extra = dict(extra)
    if "$ref" in extra:  # a block of a shared shape: its own value is checked against the shape
        return {"$ref": extra["$ref"], **({"description": " ".join(comments)} if comments else {})}
    name = extra.pop("$def", None)
    if isinstance(value, dict):
        schema: dict[str, Any] = {"type": "object"}
        if value:
            schema["properties"] = {k: infer(v, (*path, k), notes, defs) for k, v in value.items()}
        schema["additionalProperties"] = False
    elif isinstance(value, bool):
        schema = {"type": "boolean"}
    elif isinstance(value, int):
        schema = {"type": "integer"}
    elif isinstance(value, float):
        schema = {"type": "number"}
    elif isinstance(value, str):
        schema = {"type": "string"}
    elif isinstance(value, list):
        schema = {"type": "array"}
        if value and "items" not in extra:
            schema["items"] = infer(value[0], (*path, "[]"), notes, defs)
    else:
        schema = {}
    if comments:
        schema["description"] = " ".join(comments)
    schema |= extra
    if schema.get("additionalProperties") not in (False, None) and "properties" in schema:
        del schema["properties"]  # a free map: its example entries are not a closed set
    if name:
        defs[name] = schema
        return {"$ref": f"#/$defs/{name}"}
    return schema


def build(values_path: Path = CHART / "values.yaml") -> dict[str, Any]:
    text = values_path.read_text(encoding="utf-8")
    values = yaml.safe_load(text)
    defs: dict[str, Any] = {}
    root = infer(values, (), annotations(text), defs)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "domainlm chart values",
        **root,
        "$defs": dict(sorted({**DEFS, **defs}.items())),
    }


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when values.schema.json is stale")
    args = parser.parse_args()
    target = CHART / "values.schema.json"
    text = render(build())
    if args.check:
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            print(f"{target} does not match values.yaml: run scripts/chart_schema.py", file=sys.stderr)
            return 1
        return 0
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
