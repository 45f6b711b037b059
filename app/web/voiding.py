"""Voids as the web sees them: whose entries a caller may void, and a refusal as a 403."""

from __future__ import annotations

from dataclasses import replace

from litestar.exceptions import PermissionDeniedException

from app.domain.access import Role
from app.domain.voids import VoidRefused
from app.services.accounts import Identity
from app.services.idempotency import Key
from app.services.ledger import LedgerService
from app.services.outcomes import Voided
from app.web.auth import scope_of


def entry_scopes(me: Identity) -> list[str]:
    """The idempotency scopes a user's entries are kept under: the form's and the API's alike."""
    return [scope_of(replace(me, via=via)) for via in ("session", "token")]


def own_scopes(me: Identity) -> list[str] | None:
    """Whose entries `me` may void: their own; None for a manager (whatever a delete could take)."""
    return None if me.role >= Role.MANAGER else entry_scopes(me)


async def void_as(me: Identity, ledger: LedgerService, tx_id: int, key: Key | None = None) -> Voided:
    try:
        return await ledger.void(tx_id, actor=me.username, own_scopes=own_scopes(me), key=key, within=me.location)
    except VoidRefused as refused:
        raise PermissionDeniedException(refused.detail) from None
