"""Size and depth bounds of a raw definition (nesting, text, numbers, layout, labels), checked before parsing."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .errors import DefinitionError

__all__ = [
    "MAX_DEPTH",
    "MAX_LABEL",
    "MAX_LAYOUT_DEPTH",
    "MAX_LAYOUT_ENTRIES",
    "MAX_TEXT",
    "MAX_VALUES",
    "bounds_errors",
]

MAX_DEPTH = 24  # levels of nesting in the whole definition
MAX_VALUES = 100_000  # JSON values (objects, lists, scalars) in the whole definition
MAX_TEXT = 100_000  # characters of one string (message bodies are the longest)
MAX_LABEL = 200  # characters of a block's "label" (CONTRACT.md)
MAX_LAYOUT_ENTRIES = 2_000  # keys of "layout" (one per block, goal or note on the canvas)
MAX_LAYOUT_DEPTH = 4  # levels below "layout" ({"id": {"x": 1, "y": 2, "size": {...}}})
MAX_INT = 2**63 - 1


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _key(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _walk(raw: Any, errors: list[DefinitionError]) -> None:
    """Depth, count, text and numbers of every value, iteratively (no recursion to exhaust)."""
    stack: list[tuple[Any, str, int]] = [(raw, "", 0)]
    seen = 0
    while stack:
        value, path, depth = stack.pop()
        seen += 1
        if seen > MAX_VALUES:
            errors.append(DefinitionError("", f"The definition holds over {MAX_VALUES} values"))
            return
        if depth > MAX_DEPTH:
            errors.append(DefinitionError(path, f"Nested deeper than {MAX_DEPTH} levels"))
            return
        if isinstance(value, str):
            if len(value) > MAX_TEXT:
                errors.append(DefinitionError(path, f"Text longer than {MAX_TEXT} characters"))
            elif not _storable(value):
                errors.append(
                    DefinitionError(path, "Text holds a NUL character or invalid Unicode")
                )
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, int):
            if not -MAX_INT <= value <= MAX_INT:
                errors.append(DefinitionError(path, "Number out of range (64-bit integers)"))
        elif isinstance(value, float):
            if not math.isfinite(value):
                errors.append(DefinitionError(path, "Numbers must be finite"))
        elif isinstance(value, Mapping):
            for key, item in value.items():
                if not isinstance(key, str) or not _storable(key) or len(key) > MAX_TEXT:
                    errors.append(DefinitionError(path, "A key is not storable text"))
                    continue
                stack.append((item, _key(path, key), depth + 1))
        elif isinstance(value, list | tuple):
            stack.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value))
        else:
            errors.append(DefinitionError(path, f"Not a JSON value: {type(value).__name__}"))
        if len(errors) >= 20:
            return


def _layout_depth(value: Any) -> int:
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_LAYOUT_DEPTH:
            break
        if isinstance(item, Mapping):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list | tuple):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def _layout(layout: Any, errors: list[DefinitionError]) -> None:
    if not isinstance(layout, Mapping):
        return  # the parser reports a layout that is not an object
    if len(layout) > MAX_LAYOUT_ENTRIES:
        errors.append(DefinitionError("layout", f"At most {MAX_LAYOUT_ENTRIES} layout entries"))
        return
    for key, entry in layout.items():
        if _layout_depth(entry) > MAX_LAYOUT_DEPTH - 1:
            errors.append(
                DefinitionError(
                    _key("layout", key), f"Layout entries nest at most {MAX_LAYOUT_DEPTH} levels"
                )
            )
            return


def _labels(raw: Mapping[str, Any], errors: list[DefinitionError]) -> None:
    blocks: list[tuple[str, Any]] = [("entry", raw.get("entry"))]
    for key in ("nodes", "goals"):
        items = raw.get(key)
        if isinstance(items, list | tuple):
            blocks.extend((f"{key}[{i}]", item) for i, item in enumerate(items))
    for path, block in blocks:
        if not isinstance(block, Mapping) or "label" not in block:
            continue
        label = block["label"]
        if label is not None and (not isinstance(label, str) or len(label) > MAX_LABEL):
            errors.append(
                DefinitionError(
                    f"{path}.label", f"'label' must be text of at most {MAX_LABEL} characters"
                )
            )


def bounds_errors(raw: Any) -> list[DefinitionError]:
    """What makes ``raw`` too big, too deep or unstorable; empty when within bounds.

    Run before parsing and before anything walks the definition recursively (equality,
    JSON encoding), so an oversized definition is a validation error, never a crash.
    """
    errors: list[DefinitionError] = []
    _walk(raw, errors)
    if errors or not isinstance(raw, Mapping):
        return errors
    _layout(raw.get("layout"), errors)
    _labels(raw, errors)
    return errors
