"""Sending GraphQL operations over real HTTP, for the test_graphql* modules."""

from __future__ import annotations

from typing import Any

import httpx


async def gql(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None, **headers: str
) -> dict[str, Any]:
    """The whole answer ({"data", "errors"}), after checking it came back as a GraphQL answer."""
    r = await client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def data(client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """The answer's data, after checking it has no errors."""
    answer = await gql(client, query, variables)
    assert not answer.get("errors"), answer["errors"]
    return answer["data"]
