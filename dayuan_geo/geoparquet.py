"""GeoParquet 1.1 'geo' metadata checked against the specification's JSON schema, offline.

The schema (shipped beside this module) refers to PROJJSON's schema by URL for the `crs` member;
nothing is fetched at run time, so that reference resolves to "an object", and the CRS itself is
checked by the dataset validator (it must be WGS 84).
"""

from __future__ import annotations

import json
from functools import cache

import jsonschema
from referencing import Registry, Resource

from dayuan_geo.schema import PACKAGE_DIR

SCHEMA_FILE = PACKAGE_DIR / "geoparquet-1.1.0-schema.json"
PROJJSON_URI = "https://proj.org/schemas/v0.7/projjson.schema.json"


@cache
def _validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    registry = Registry().with_resource(
        PROJJSON_URI, Resource.from_contents({"$schema": "http://json-schema.org/draft-07/schema#",
                                              "type": "object"})
    )
    return jsonschema.Draft7Validator(schema, registry=registry)


def metadata_problems(meta: object, *, label: str) -> list[str]:
    """One line per way meta breaks the GeoParquet 1.1 schema; empty when it conforms."""
    problems = []
    for err in sorted(_validator().iter_errors(meta), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in err.absolute_path) or "(root)"
        problems.append(f"{label}: geo metadata {where}: {err.message}")
    return problems
