"""Stock locations: create, rename, list; and the check that a location named by a change exists.

A location is never deleted and its code never changes, so the codes seen once are kept in the
process: a transaction that names a known location costs no read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import asyncpg

from app.domain.errors import Conflict, FieldError, FieldErrors, InvalidInput, NotFound
from app.domain.rules import MAIN, NAME_MAX, LocationKind
from app.intake import fields
from app.intake.requests import location_code
from app.persistence import locations as repo
from app.persistence.database import Database
from app.persistence.locations import LocationRecord
from app.persistence.records import ProductRecord
from app.services import idempotency
from app.services.idempotency import Key

LOCATION_FIELDS = ("code", "name", "kind")


class LocationService:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._kinds: dict[str, LocationKind] = {}

    async def all(self) -> list[LocationRecord]:
        async with self.db.read_only() as conn:
            found = await repo.all_locations(conn)
        self._kinds.update({x.code: x.kind for x in found})
        return found

    async def get(self, code: str) -> LocationRecord:
        async with self.db.read_only() as conn:
            found = await repo.by_code(conn, code)
        if found is None:
            raise NotFound(f"No location with code {code!r}", {"field": "location", "location": code})
        return found

    async def create(self, raw: Mapping[str, Any], key: Key | None = None) -> LocationRecord:
        code, name, kind = _parse(raw, creating=True)
        assert code is not None and name is not None
        async with self.db.unit_of_work() as conn:
            await idempotency.claim_or_repeat(conn, key)
            try:
                made = await repo.insert(conn, code, name, kind or LocationKind.STORAGE)
            except repo.CodeTaken:
                raise Conflict(
                    f"A location with code {code!r} exists already (codes are told apart without case)",
                    {"field": "code", "code": code},
                ) from None
            await idempotency.keep(conn, key, made)
        self._kinds[made.code] = made.kind
        return made

    async def update(self, code: str, raw: Mapping[str, Any]) -> LocationRecord:
        current = await self.get(code)
        if "code" in raw and raw["code"] != code:
            raise InvalidInput([FieldError("code", "cannot be changed")])
        _, name, kind = _parse({k: v for k, v in raw.items() if k != "code"}, creating=False)
        if "name" in raw and name is None:
            raise InvalidInput([FieldError("name", "cannot be empty")])
        if code == MAIN and kind is LocationKind.TRANSIT:
            raise InvalidInput([FieldError("kind", "MAIN is a storage location")])
        async with self.db.unit_of_work() as conn:
            if kind is LocationKind.TRANSIT and current.kind is not LocationKind.TRANSIT:
                users = await repo.defaulting_to(conn, code, 3)
                if users:
                    raise Conflict(
                        f"{code} is the default location of {', '.join(users)}{' and more' if len(users) == 3 else ''}:"
                        " a default location stays a storage location (choose another default first)",
                        {"field": "kind", "code": code},
                    )
            changed = await repo.update(conn, code, name or current.name, kind or current.kind)
        assert changed is not None
        self._kinds[code] = changed.kind
        return changed

    async def check_known(self, named: Iterable[tuple[str, str]], conn: asyncpg.Connection | None = None) -> None:
        """400 for every (field, code) that names no location; `conn`: the caller's, when it holds one."""
        named = list(named)
        if any(code not in self._kinds for _, code in named):
            if conn is None:
                await self.all()
            else:
                self._kinds.update({x.code: x.kind for x in await repo.all_locations(conn)})
        unknown = [FieldError(name, f"no location {code!r}") for name, code in named if code not in self._kinds]
        if unknown:
            raise InvalidInput(unknown)

    def kind_of(self, code: str) -> LocationKind | None:
        return self._kinds.get(code)

    async def products_at(self, code: str, limit: int, after_sku: str | None = None) -> list[ProductRecord]:
        await self.get(code)
        async with self.db.read_only() as conn:
            return await repo.products_at(conn, code, limit, after_sku)


async def location_named(conn: asyncpg.Connection, field: str, code: str) -> LocationRecord:
    """The location `code` names, read in the caller's transaction; a 400 naming `field` when none."""
    place = await repo.by_code(conn, code)
    if place is None:
        raise InvalidInput([FieldError(field, f"no location {code!r}")])
    return place


def _parse(raw: Mapping[str, Any], *, creating: bool) -> tuple[str | None, str | None, LocationKind | None]:
    errors = FieldErrors()
    for given in raw:
        if given not in LOCATION_FIELDS:
            errors.add(given, "is not a known field")
    code: str | None = None
    if creating:
        code = location_code(errors, "code", raw.get("code"))
        if code is None and not any(e.field == "code" for e in errors.errors):
            errors.add("code", "is required")
    name = fields.text(errors, "name", raw.get("name"), max_len=NAME_MAX, required=creating)
    kind = None
    if raw.get("kind") not in (None, ""):
        try:
            kind = LocationKind(str(raw["kind"]).lower())
        except ValueError:
            errors.add("kind", f"must be one of {', '.join(k.value for k in LocationKind)}")
    errors.raise_if_any()
    return code, name, kind
