"""The schema, with its limits against abuse: query depth, tokens and aliases bounded; batched
requests (several operations in one POST) are not accepted (Strawberry's default).

Malformed input is an error naming the argument, whoever catches it: the resolvers name what the
services refuse (errors.arguments), and `ArgumentNamed` names what GraphQL's own validation refuses
(`quantity: "two"`), whose message says only "Int cannot represent non-integer value", and what a
scalar refuses (`unitPrice: "abc"`: app.web.graphql.scalars points its error at the value)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import strawberry
from graphql import (
    ArgumentNode,
    GraphQLError,
    Node,
    ObjectFieldNode,
    ValueNode,
    VariableDefinitionNode,
    VariableNode,
    visit,
)
from graphql.language import Visitor
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.types import ExecutionContext

from app.web.graphql.mutations import Mutation
from app.web.graphql.queries import Query
from app.web.graphql.scalars import SCALARS
from app.web.graphql.subscriptions import Subscription

MAX_DEPTH = 8
MAX_TOKENS = 20_000  # a query of 5,000 SKUs (inventoriesBySkus) fits
MAX_ALIASES = 50
CACHED_DOCUMENTS = 256  # parsed and validated operations kept: clients send the same few with variables
# The limits' validation rules, made once: a rule made per request would miss the validation cache.
LIMIT_RULES = [*QueryDepthLimiter(max_depth=MAX_DEPTH).validation_rules,
               *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules]  # fmt: skip
CALLERS_ERRORS = {"BAD_USER_INPUT", "FORBIDDEN", "UNAUTHENTICATED", "CONFLICT"}
log = logging.getLogger("stockroom.graphql")


class ArgumentNamed(SchemaExtension):
    """A validation error about a value (or a variable's value) names the argument (or input field)
    that holds it."""

    def on_validate(self) -> Iterator[None]:
        yield
        context = self.execution_context
        errors = context.pre_execution_errors
        if not errors or context.graphql_document is None:
            return
        holders = _holders(context.graphql_document)
        # In place: the answer holds this list (and so does the validation cache: named once).
        errors[:] = [_named(error, holders) for error in errors]

    def on_execute(self) -> Iterator[None]:
        """A variable's value is checked as execution starts (`$price: "abc"`): name the argument
        the variable is passed to."""
        yield
        context = self.execution_context
        result = context.result
        errors = getattr(result, "errors", None)
        if not errors or context.graphql_document is None:
            return
        holders = _holders(context.graphql_document)
        errors[:] = [_named(error, holders) for error in errors]


def _holders(document: Node) -> dict[int, str]:
    """id(value node) -> the name of the argument or input field holding it; and id(a variable's
    definition) -> the first argument or input field its variable is passed to."""
    found: dict[int, str] = {}
    definitions: dict[str, VariableDefinitionNode] = {}
    passed_to: dict[str, str] = {}

    class Holders(Visitor):
        def enter_variable_definition(self, node: VariableDefinitionNode, *_: object) -> None:
            definitions[node.variable.name.value] = node

        def enter_argument(self, node: ArgumentNode, *_: object) -> None:
            self.held_by(node.value, node.name.value)

        def enter_object_field(self, node: ObjectFieldNode, *_: object) -> None:
            self.held_by(node.value, node.name.value)

        @staticmethod
        def held_by(value: ValueNode, name: str) -> None:
            found[id(value)] = name
            if isinstance(value, VariableNode):
                passed_to.setdefault(value.name.value, name)

    visit(document, Holders())
    for variable, name in passed_to.items():
        if variable in definitions:
            found[id(definitions[variable])] = name
    return found


def _named(error: GraphQLError, holders: dict[int, str]) -> GraphQLError:
    names = [holders[id(n)] for n in error.nodes or () if id(n) in holders]
    if not names or (error.extensions or {}).get("code") == "BAD_USER_INPUT":
        return error
    return GraphQLError(f"Invalid argument {names[0]}: {error.message}", error.nodes,
                        extensions={"code": "BAD_USER_INPUT", "arguments": [{"argument": names[0]}]})  # fmt: skip


class StockroomSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        """The caller's mistakes are answered, not logged as the server's: only the rest is."""
        for error in errors:
            original = error.original_error
            if original is None or isinstance(original, GraphQLError):  # a validation error: the caller's
                continue
            if (error.extensions or {}).get("code") not in CALLERS_ERRORS:
                log.error("GraphQL resolver failed", exc_info=original)


schema = StockroomSchema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    scalar_overrides=SCALARS,
    extensions=[
        # Factories: a fresh extension for each request. Parsing and validating cost more than
        # running a mutation (6 ms of 7 in a profile): both are cached by the operation's text.
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: ParserCache(maxsize=CACHED_DOCUMENTS),
        lambda: AddValidationRules(LIMIT_RULES),
        lambda: ValidationCache(maxsize=CACHED_DOCUMENTS),
        ArgumentNamed,
    ],
)
