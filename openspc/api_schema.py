"""The API's OpenAPI schema, with the error answers every operation can give.

drf-spectacular describes each operation's success only. The API also answers, as JSON:
400 for bad input (a message per field, or `detail`), 401 without valid credentials, 403 for a
role too low at the plant, 404 for an id outside your plants, 413 for a body over
OPENSPC_MAX_REQUEST_MB, 415 for a body in a media type it does not read. The hook below adds those to every operation they can come from, so
that a client (and the schema test) knows every status it may get.
"""

from drf_spectacular.views import SpectacularAPIView

_ERROR = "Error"
_ERROR_SCHEMA = {
    "type": "object",
    "description": "What went wrong: `detail`, or a list of messages per field (bulk and "
                   "import list their `errors`, each naming its `row`).",
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": {},
}
_DESCRIPTIONS = {
    "400": "Bad input: nothing was written.",
    "401": "No valid credentials.",
    "403": "Your role at this plant does not allow it.",
    "404": "No such object in your plants.",
    "413": "The request body is over the size limit.",
    "415": "The body is not in one of the media types the operation reads.",
}
# Paths without a path parameter that answer 404 all the same (an id in the query or body).
_NOT_FOUND_WITHOUT_PATH_ID = {"/api/v1/hierarchy/tree/", "/api/v1/violations/acknowledge/"}


def document_errors(result, generator, request, public):
    """drf-spectacular postprocessing hook: each operation's error responses (see above)."""
    result.setdefault("components", {}).setdefault("schemas", {})[_ERROR] = _ERROR_SCHEMA
    for path, operations in result.get("paths", {}).items():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            parameters = operation.get("parameters", [])
            codes = ["401", "403"]
            if "requestBody" in operation or any(p.get("in") == "query" for p in parameters):
                codes.append("400")
            if any(p.get("in") == "path" for p in parameters) or path in _NOT_FOUND_WITHOUT_PATH_ID:
                codes.append("404")
            if "requestBody" in operation:
                codes += ["413", "415"]
            for code in codes:
                operation["responses"].setdefault(code, {
                    "description": _DESCRIPTIONS[code],
                    "content": {"application/json": {
                        "schema": {"$ref": f"#/components/schemas/{_ERROR}"}}},
                })
    return result


class SchemaView(SpectacularAPIView):
    """The schema at /api/v1/schema/, its error answers included."""

    custom_settings = {"POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "openspc.api_schema.document_errors",
    ]}
