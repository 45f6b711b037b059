"""The arguments of one SQL statement, numbered as they are bound.

A statement assembled from parts (filters, a varying set of columns) gets its `$n` placeholders
from here, so that no caller numbers them by hand or by arithmetic.
"""

from __future__ import annotations

from typing import Any


class SqlArgs:
    def __init__(self, *values: Any) -> None:
        self.values: list[Any] = list(values)  # already bound: $1, $2, ... in this order

    def bind(self, value: Any, cast: str = "") -> str:
        """Append `value`; returns its placeholder (with `::cast` when given)."""
        self.values.append(value)
        return f"${len(self.values)}::{cast}" if cast else f"${len(self.values)}"
