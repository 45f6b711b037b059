"""The stock locations a page offers. A shop with one location sees no location control at all (SPEC
§2: the pages hide them while only one location exists); a user limited to a location (a store's
clerk) works there without being asked."""

from __future__ import annotations

from typing import Any

from app.domain.immutable import immutable
from app.domain.rules import LocationKind, TxType
from app.services.accounts import Identity
from app.services.locations import LocationService


@immutable
class Places:
    codes: list[str]  # every location, MAIN first
    transit: frozenset[str]  # those of kind transit
    mine: str | None  # the signed-in user's own location, when they are limited to one

    @property
    def several(self) -> bool:
        """Whether pages show locations at all."""
        return len(self.codes) > 1

    @property
    def choice(self) -> bool:
        """Whether a form asks where: several locations, and the user is not limited to one."""
        return self.several and self.mine is None

    def known(self, code: str | None) -> str | None:
        """`code` when it names a location (a hand-edited URL may name none)."""
        return code if code in self.codes else None

    def as_context(self) -> dict[str, Any]:
        return {"location_codes": self.codes, "transit": self.transit, "several_locations": self.several,
                "location_choice": self.choice, "my_location": self.mine}  # fmt: skip


async def places_for(locations: LocationService, me: Identity | None) -> Places:
    """The locations, and `me`'s own when they are limited to one (None: no user given, or every location)."""
    found = await locations.all()
    codes = [x.code for x in found]
    transit = frozenset(x.code for x in found if x.kind is LocationKind.TRANSIT)
    return Places(codes, transit, me.location if me is not None else None)


def entry_types(role_is_manager: bool) -> list[str]:
    """The types the entry forms offer: a clerk BUY and SELL; never TRANSFER, which has its own page
    (/transfers/new: from, to and the stock at both)."""
    return [t.value for t in TxType if t is not TxType.TRANSFER and (role_is_manager or t in (TxType.BUY, TxType.SELL))]
