"""Strawberry's Decimal and DateTime scalars, pointing their parse errors at the value.

GraphQL reports a scalar's own parse error (`unitPrice: "abc"`) as the scalar raised it, without the
value's node, so `schema.ArgumentNamed` could not tell which argument held it. These parse a
literal as Strawberry does and raise the same message at the value's node."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from graphql import GraphQLError, ValueNode, value_from_ast_untyped
from strawberry.schema.types.base_scalars import DateTimeDefinition, DecimalDefinition
from strawberry.types.scalar import ScalarDefinition


def _located(scalar: ScalarDefinition) -> ScalarDefinition:
    parse_value = scalar.parse_value
    assert parse_value is not None

    def parse_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> Any:
        try:
            return parse_value(value_from_ast_untyped(node, variables))
        except GraphQLError as error:
            raise GraphQLError(error.message, node) from None

    return replace(scalar, parse_literal=parse_literal, implementation=None)


SCALARS: dict[object, ScalarDefinition] = {Decimal: _located(DecimalDefinition), datetime: _located(DateTimeDefinition)}
