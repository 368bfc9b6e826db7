"""OpenAPI post-processing: every operation documents the error answers any request can get."""

from __future__ import annotations

from typing import Any

__all__ = ["document_error_responses"]

ERROR_COMPONENT = "Error"
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An error: `detail` for the request as a whole, or a list of messages per "
    'field (`{"name": ["..."]}`); ingest answers `{"errors": [...]}`.',
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": True,
}
_DESCRIPTIONS = {
    "400": "Invalid request: a parameter or the body, with what and where",
    "401": "No valid credentials",
    "403": "Not allowed",
    "404": "Not found (or not visible to you)",
    "406": "Not acceptable: the API answers JSON",
    "413": "Request body too large",
    "415": "Unsupported media type: send JSON",
    "429": "Too many requests; retry after the Retry-After header",
}
_METHODS = {"get", "post", "put", "patch", "delete"}


def _codes(method: str, path: str, operation: dict[str, Any]) -> list[str]:
    codes = ["400", "406", "429"]
    if operation.get("security") != [{}] and operation.get("security") != []:
        codes += ["401", "403"]
    if "{" in path:
        codes.append("404")
    if method in {"post", "put", "patch"} or "requestBody" in operation:
        codes += ["413", "415"]
    return codes


def _also_generic_error(code: str, response: dict[str, Any], reference: dict[str, Any]) -> None:
    """A documented 4xx shape may also come as the generic error (a missing field, a body
    that is not an object), so the schema says either."""
    if not code.startswith("4"):
        return
    for media in response.get("content", {}).values():
        schema = media.get("schema")
        if schema and schema != reference and "anyOf" not in schema:
            media["schema"] = {"anyOf": [schema, reference]}


def document_error_responses(result: dict[str, Any], **_: Any) -> dict[str, Any]:
    """drf-spectacular hook: add the error answers an operation does not document yet."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault(ERROR_COMPONENT, ERROR_SCHEMA)
    reference = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in _METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for code, response in responses.items():
                _also_generic_error(code, response, reference)
            for code in _codes(method, path, operation):
                responses.setdefault(
                    code,
                    {
                        "description": _DESCRIPTIONS[code],
                        "content": {"application/json": {"schema": reference}},
                    },
                )
    return result
