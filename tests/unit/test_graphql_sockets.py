"""A subscriber whose connection is gone is let go quietly; any other failure of a subscription's task
is still an ERROR with its traceback."""

from __future__ import annotations

import logging

import pytest
from uvicorn.protocols.utils import ClientDisconnected

from app.web.graphql import SubscriptionSockets

pytestmark = pytest.mark.unit


def _handler() -> SubscriptionSockets:
    return object.__new__(SubscriptionSockets)  # handle_task_exception needs none of a socket's state


async def test_a_vanished_subscriber_is_no_error(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        await _handler().handle_task_exception(ClientDisconnected())
    assert [r.levelname for r in caplog.records] == ["INFO"]
    assert "connection was gone" in caplog.records[0].getMessage()


async def test_any_other_failure_is_still_an_error_with_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        try:
            raise ValueError("a bug")
        except ValueError as bug:
            await _handler().handle_task_exception(bug)
    assert [(r.levelname, r.exc_info is not None) for r in caplog.records] == [("ERROR", True)]
