"""Checks grantlog's real answers against its OpenAPI document.

Usage: openapi_check.py DOCUMENT < ANSWERS

DOCUMENT is what `GET /openapi.json` answered. ANSWERS is a JSON list of the answers a
test received, each {"method", "url", "status", "content_type", "headers", "body"}.

openapi-core validates the document as OpenAPI 3.1 and each answer against the
operation it answers: a documented status, content type and headers, and a body its
schema accepts. Beyond that, this script fails on

- a field in a JSON answer that its schema does not name (a schema says what may be
  there; an answer with more means the document fell behind the code), read through
  every allOf part and the oneOf/anyOf alternatives that accept the answer, and
- an operation of the document that no answer came from with a 2xx (an operation
  never called proves nothing).

Exits 0 with a one-line summary, or 1 naming every failure.
"""

import json
import re
import sys
from urllib.parse import parse_qs, urlsplit

from jsonschema import Draft202012Validator
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

METHODS = ("get", "put", "post", "delete", "patch")
BASE = "urn:grantlog:openapi"


def resolve(schema, document):
    """The schema a `$ref` points at (once), or the schema itself."""
    while isinstance(schema, dict) and "$ref" in schema:
        path = schema["$ref"].removeprefix("#/").split("/")
        schema = document
        for part in path:
            schema = schema[part]
    return schema


def accepts(schema, value, document):
    """Whether `schema` (which may refer to the document's components) accepts `value`."""
    root = dict(document, __schema__=schema)
    registry = Registry().with_resource(BASE, Resource.from_contents(root, default_specification=DRAFT202012))
    return Draft202012Validator({"$ref": BASE + "#/__schema__"}, registry=registry).is_valid(value)


def branches(schema, document, value):
    """The schema and the schemas it combines that `value` is read by: every allOf
    part, and the oneOf and anyOf alternatives that accept it; resolved."""
    schema = resolve(schema, document)
    found = [schema]
    for branch in schema.get("allOf", []):
        found.extend(branches(branch, document, value))
    for key in ("oneOf", "anyOf"):
        for branch in schema.get(key, []):
            if accepts(branch, value, document):
                found.extend(branches(branch, document, value))
    return found


def undocumented(value, schema, document, where="$"):
    """The paths of fields in `value` that `schema` does not name."""
    parts = branches(schema, document, value)
    found = []
    if isinstance(value, dict):
        named = {}
        open_ended = False
        for part in parts:
            for name, sub in part.get("properties", {}).items():
                named.setdefault(name, []).append(sub)
            extra = part.get("additionalProperties")
            if extra not in (None, False):
                open_ended = True
                for name in value:
                    named.setdefault(name, []).append(extra if isinstance(extra, dict) else {})
            if part.get("type") == "object" and "properties" not in part and extra is None:
                open_ended = True  # a free-form object: a payload, an event as stored
        for name, item in value.items():
            if name not in named:
                if not open_ended:
                    found.append(f"{where}.{name}")
                continue
            for sub in named[name]:
                found.extend(undocumented(item, sub, document, f"{where}.{name}"))
    elif isinstance(value, list):
        for part in parts:
            if "items" in part:
                for index, item in enumerate(value):
                    found.extend(undocumented(item, part["items"], document, f"{where}[{index}]"))
    return sorted(set(found))


def operation_of(document, method, path):
    """The path template and operation of the document that `method path` calls."""
    for template, item in document["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and method in item:
            return template, item[method]
    return None, None


def json_schema_of(operation, status):
    """The JSON schema the operation documents for `status`, if any."""
    response = operation["responses"].get(str(status), {})
    return response.get("content", {}).get("application/json", {}).get("schema")


def main():
    with open(sys.argv[1], encoding="utf-8") as file:
        document = json.load(file)
    answers = json.load(sys.stdin)
    api = OpenAPI.from_dict(document)  # refuses a document that is not valid OpenAPI
    failures = []
    answered = set()
    for answer in answers:
        method = answer["method"].lower()
        url = urlsplit(answer["url"])
        what = f"{answer['method']} {url.path}{'?' + url.query if url.query else ''} -> {answer['status']}"
        request = MockRequest(
            f"{url.scheme}://{url.netloc}",
            method,
            url.path,
            args=parse_qs(url.query),
            content_type="application/json",
        )
        response = MockResponse(
            answer["body"].encode("utf-8"),
            status_code=answer["status"],
            headers=answer.get("headers", {}),
            content_type=answer["content_type"],
        )
        try:
            api.validate_response(request, response)
        except Exception as error:  # openapi-core raises one of many types; each is a failure
            failures.append(f"{what}: {type(error).__name__}: {error}")
            continue
        template, operation = operation_of(document, method, url.path)
        schema = json_schema_of(operation, answer["status"])
        if schema is not None:
            for field in undocumented(json.loads(answer["body"]), schema, document):
                failures.append(f"{what}: {field} is not in the document")
        if 200 <= answer["status"] < 300:
            answered.add((method, template))
    operations = {(method, template) for template, item in document["paths"].items() for method in item
                  if method in METHODS}
    for method, template in sorted(operations - answered):
        failures.append(f"{method.upper()} {template}: no answer with a 2xx was checked")
    if failures:
        print("\n".join(failures), file=sys.stderr)
        sys.exit(1)
    print(f"{len(answers)} answers to {len(operations)} operations are as the document says")


if __name__ == "__main__":
    main()
