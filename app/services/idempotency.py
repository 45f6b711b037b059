"""Idempotency keys (SPEC §3): the outcome of a keyed change is kept with its key in the change's own
database transaction, and every repeat of the request gets that same typed outcome back, whatever
the transport (REST, pages, GraphQL): each answers a replayed outcome as it answers a first one.

The key is claimed inside the service's transaction, after its locks (`claim_or_repeat`, or `claim`
for a group-commit batch): a repeat that arrives meanwhile waits for the first request's transaction,
then finds the key taken (`Repeated`) and is answered with what that request kept (`once`). Claimed
by the transport before the service ran, a key would be held by a transaction waiting for locks and
connections its holder needed (30 keyed cancels froze a process; see docs/decisions.md)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Generic, TypeVar

import asyncpg
import msgspec

from app.domain.errors import Conflict, FieldError, InvalidInput, KeyReused
from app.domain.immutable import immutable
from app.intake.fields import unstorable
from app.persistence import idempotency as store
from app.persistence.database import Database
from app.services.outcomes import Change, EarlierAnswer, Refused

KEY_MAX = 200
KEEP_HOURS = 48  # SPEC: at least 24 h

O = TypeVar("O")


@immutable
class Key:
    scope: str  # the user or token holder
    key: str
    fingerprint: str  # of the request: the same key with another request is refused (KeyReused)


class Repeated(Exception):
    """This request's key was claimed by an earlier one: answer with the outcome it kept."""

    def __init__(self, key: Key) -> None:
        super().__init__(key.key)
        self.key = key


@immutable
class Answer(Generic[O]):
    """What a keyed request gets: its change's outcome (this request's, or replayed: the first's)."""

    outcome: O | Refused | EarlierAnswer
    replayed: bool

    def result(self) -> O | EarlierAnswer:
        """The outcome, with a refusal raised as the error a first request raises."""
        if isinstance(self.outcome, Refused):
            raise self.outcome.error()
        return self.outcome


def fingerprint(fields: Mapping[str, Any]) -> str:
    canonical = json.dumps({k: str(v) for k, v in fields.items() if v not in (None, "")}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def key_for(raw_key: str | None, fields: Mapping[str, Any], scope: str) -> Key | None:
    """The key a request sent (header or form field), scoped to its user or token holder."""
    if not raw_key:
        return None
    key = raw_key.strip()
    if len(key) > KEY_MAX:  # never cut: two keys alike in their first 200 characters are two requests
        raise InvalidInput([FieldError("idempotency_key", f"must be at most {KEY_MAX} characters (got {len(key)})")])
    if problem := unstorable(key):  # a header cannot carry a NUL, but a form field (%00) can
        raise InvalidInput([FieldError("idempotency_key", problem)])
    return Key(scope, key, fingerprint(fields))


# --- a transport's one call --------------------------------------------------------------------


# The keys of changes made `alone` now running in this process (see `once`).
_alone: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = weakref.WeakValueDictionary()


async def once(
    db: Database, key: Key | None, kind: type[O], run: Callable[[Key | None], Awaitable[O]], *, alone: bool = False
) -> Answer[O]:
    """`run(key)` at most once per key: a key kept before is answered with its outcome (of type
    `kind`, or a refusal) without running anything; else `run` hands the key to the service, which
    claims it and keeps the outcome with its change, or finds it claimed meanwhile (`Repeated`).

    `alone`: for a change made in several transactions (a CSV import in parts, whose last part
    claims the key). A repeat arriving while it runs in this process waits for it and is then
    answered what it kept; without that, the two split the file's parts between them, and the
    answer kept was one request's share (nothing was imported twice either way)."""
    if key is not None and alone:
        lock = _alone.setdefault((key.scope, key.key), asyncio.Lock())  # the local keeps it alive
        async with lock:
            return await once(db, key, kind, run)
    if key is not None and (earlier := await kept(db, key, kind)) is not None:
        return Answer(earlier, replayed=True)
    try:
        return Answer(await run(key), replayed=False)
    except Repeated as repeat:
        earlier = await kept(db, repeat.key, kind)
        if earlier is None:
            raise RuntimeError("a claimed key is kept with its outcome in the same transaction") from None
        return Answer(earlier, replayed=True)


async def kept(db: Database, key: Key, kind: type[O]) -> O | Refused | EarlierAnswer | None:
    """The outcome kept for `key`; KeyReused if the key came with another request."""
    async with db.read_only() as conn:
        found = await store.kept(conn, key.scope, key.key)
    if found is None:
        return None
    if found.fingerprint != key.fingerprint:
        raise _reused(key)
    if found.outcome is None:
        return None
    return decode(found.outcome, kind, key)


# --- in the change's transaction -------------------------------------------------------------


async def claim(conn: asyncpg.Connection, keys: Sequence[Key]) -> set[tuple[str, str]]:
    """Insert the keys; returns (scope, key) of those this transaction now owns. A key another
    transaction holds makes this wait for it to finish, then is reported as not ours (a repeat)."""
    return await store.claim(conn, [store.KeyRow(k.scope, k.key, k.fingerprint) for k in keys])


def first_claim(key: Key, owned: set[tuple[str, str]]) -> bool:
    """True for the first request of a batch holding a key this transaction claimed."""
    ident = (key.scope, key.key)
    if ident not in owned:
        return False
    owned.discard(ident)
    return True


async def claim_or_repeat(conn: asyncpg.Connection, key: Key | None) -> None:
    """Under the change's locks, in its transaction: own `key`, or raise `Repeated` when an earlier
    request holds it (after waiting for that request's transaction to end)."""
    if key is not None and not await claim(conn, [key]):
        raise Repeated(key)


async def keep(conn: asyncpg.Connection, key: Key | None, outcome: Any) -> None:
    """Keep the outcome of a claimed key's change, in the change's transaction."""
    if key is not None:
        await keep_all(conn, [(key, outcome)])


async def keep_all(conn: asyncpg.Connection, outcomes: Sequence[tuple[Key, Any]]) -> None:
    """Keep each claimed key's outcome (one statement for a group-commit batch)."""
    await store.keep(conn, [store.OutcomeRow(k.scope, k.key, encode(o), _recorded_id(o)) for k, o in outcomes])


async def keep_batch(conn: asyncpg.Connection, answered: Iterable[tuple[Key | None, object]]) -> None:
    """Keep what each keyed request of a group-commit batch was answered: its outcome, or its
    refusal (a Conflict or an InvalidInput the batch found, kept as `Refused`); nothing for a repeat
    (`Repeated`: the first request's key keeps its own). One statement for the batch. Its keys were
    claimed in this transaction, so each must keep something: a key kept empty is answered by
    nothing, and its repeats failed (a 500, issue 12's adversarial trial)."""
    kept: list[tuple[Key, Any]] = []
    for key, result in answered:
        if key is None or isinstance(result, Repeated):
            continue
        if isinstance(result, Exception) and not isinstance(result, Conflict | InvalidInput):
            raise RuntimeError(f"a batch answered a keyed request {result!r}, which no key can keep")
        kept.append((key, Refused.of(result) if isinstance(result, Conflict | InvalidInput) else result))
    await keep_all(conn, kept)


async def purge(db: Database) -> None:
    """Forget the keys older than KEEP_HOURS (the app's hourly job)."""
    async with db.read_only() as conn:
        await store.purge(conn, KEEP_HOURS)


# --- the encoding ------------------------------------------------------------------------------
# {"kind": the outcome's class name, "of": its fields}, by msgspec: exact for every record (decimals
# as their strings, times with their offsets), so that a transport answers a replayed outcome as it
# answered the first. Renaming an outcome class, or changing its fields, changes what a key kept in
# the last 48 h decodes as: keep the old name or shape readable until then.


class _Envelope(msgspec.Struct):
    kind: str
    of: msgspec.Raw


def encode(outcome: Any) -> bytes:
    return msgspec.json.encode({"kind": type(outcome).__name__, "of": outcome})


def decode(document: bytes, kind: type[O], key: Key) -> O | Refused | EarlierAnswer:
    envelope = msgspec.json.decode(document, type=_Envelope)
    if envelope.kind == kind.__name__:
        return msgspec.json.decode(envelope.of, type=kind)
    if envelope.kind == Refused.__name__:
        return msgspec.json.decode(envelope.of, type=Refused)
    if envelope.kind == EarlierAnswer.__name__:
        return msgspec.json.decode(envelope.of, type=EarlierAnswer)
    raise _reused(key)  # the same key and fields, sent to another operation


def _recorded_id(outcome: Any) -> int | None:
    """The transaction a keyed request recorded: kept apart, it proves who recorded it (the void rule)."""
    if isinstance(outcome, Change) and outcome.row is not None:
        return outcome.row.entry.id
    return None


def _reused(key: Key) -> KeyReused:
    return KeyReused("This Idempotency-Key was already used for a different request", {"idempotency_key": key.key})
