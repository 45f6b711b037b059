"""Errors the domain raises at its boundary (the fold itself returns breaches as values)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.domain.immutable import immutable


@immutable
class FieldError:
    field: str
    message: str


class DomainError(Exception):
    """Base of every error a user can cause."""

    def __init__(self, detail: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra or {}


class InvalidInput(DomainError):
    """Input that breaks a field rule; nothing was changed (HTTP 400)."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors)
        super().__init__(
            f"Invalid input: {detail}",
            {"errors": [{"field": e.field, "message": e.message} for e in errors]},
        )


class NotFound(DomainError):
    """An unknown product or transaction (HTTP 404)."""


class Conflict(DomainError):
    """A ledger rule would break; nothing was changed (HTTP 409)."""


@dataclass
class FieldErrors:
    """Collects every field error of one input so the user sees them all at once."""

    errors: list[FieldError] = field(default_factory=list)

    def add(self, name: str, message: str) -> None:
        self.errors.append(FieldError(name, message))

    def raise_if_any(self) -> None:
        if self.errors:
            raise InvalidInput(self.errors)


@immutable
class LineError:
    line: int
    field: str
    message: str


class InvalidFile(DomainError):
    """An import file with bad rows: every one is named, nothing was imported (HTTP 400)."""

    def __init__(self, errors: list[LineError], shown: int = 1000) -> None:
        self.errors = errors
        lines = sorted({e.line for e in errors})
        super().__init__(
            f"{len(lines)} bad row(s), nothing imported; lines {', '.join(map(str, lines[:20]))}"
            + (" …" if len(lines) > 20 else ""),
            {"errors": [{"line": e.line, "field": e.field, "message": e.message} for e in errors[:shown]]},
        )


class KeyReused(DomainError):
    """An idempotency key sent again with a different request (HTTP 422)."""
