"""Validation errors of journey definitions: one (path, message) per problem."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DefinitionError", "DefinitionInvalid"]


@dataclass(frozen=True)
class DefinitionError:
    """One problem in a definition; ``path`` is the raw JSON position, e.g. ``nodes[2].within``.

    Problems with the document as a whole use the path ``""``.
    """

    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


class DefinitionInvalid(Exception):
    """Raised by ``parse_definition`` when a definition has problems; ``errors`` lists them all."""

    def __init__(self, errors: list[DefinitionError]) -> None:
        self.errors: list[DefinitionError] = list(errors)
        summary = "; ".join(f"{e.path or '(definition)'}: {e.message}" for e in self.errors[:5])
        more = f" (+{len(self.errors) - 5} more)" if len(self.errors) > 5 else ""
        super().__init__(f"Invalid journey definition: {summary}{more}")

    def as_list(self) -> list[dict[str, str]]:
        return [e.as_dict() for e in self.errors]
