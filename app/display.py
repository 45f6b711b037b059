"""How figures and moments are shown to people: the shop's currency and locale, the business time zone.

Pages and messages use this; the API keeps plain decimal strings and ISO times. Formats come from
Babel (CLDR data). A page of a thousand products formats thousands of figures, so each format is
turned once into a plain Python one (prefix, grouping, separators, suffix) that is checked against
Babel's own output on sample values; a locale whose format that cannot reproduce (another grouping,
other digits) keeps Babel's slower formatter.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import (
    NumberPattern,
    get_currency_precision,
    get_currency_symbol,
    get_decimal_symbol,
    get_group_symbol,
    is_currency,
    parse_pattern,
)

DEFAULT_LOCALE = "en_US"
_PROBES = [Decimal(x) for x in ("0", "7", "12.5", "-3.25", "999.999", "1234.5", "-1234567.891", "1000000")]
# A type of transaction as the pages and messages call it.
NOUNS = {"BUY": "purchase", "SELL": "sale", "ADJUST": "adjustment", "COUNT": "count", "TRANSFER": "transfer"}


def parse_locale(raw: str) -> Locale:
    """`de_DE`, `de-DE` or `de`; a ValueError naming the setting otherwise."""
    try:
        return Locale.parse(raw.strip().replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError) as bad:
        raise ValueError(f"INVENTORY_LOCALE: {raw!r} is not a locale Babel knows (like en_US, de_DE, ja_JP)") from bad


def parse_currency(raw: str | None) -> str | None:
    """An ISO 4217 code (`EUR`), or None when not set."""
    if raw is None or not raw.strip():
        return None
    code = raw.strip().upper()
    if not is_currency(code):
        raise ValueError(f"INVENTORY_CURRENCY: {raw!r} is not an ISO 4217 currency code (like EUR, USD, JPY)")
    return code


def _plain(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    d = value if isinstance(value, Decimal) else Decimal(str(value))
    return d if d else abs(d)  # never "-0"


def _places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


class _Number:
    """One Babel number pattern in one locale at exactly `places` decimals, with a checked fast path."""

    def __init__(self, pattern: NumberPattern, locale: Locale, currency: str | None, places: int) -> None:
        self.pattern = copy.copy(pattern)
        self.pattern.frac_prec = (places, places)
        self.locale, self.currency, self.places = locale, currency, places
        self.step = Decimal(1).scaleb(-places)
        fast = self._fast()
        if fast is not None and all(fast(self._round(p)) == self.babel(self._round(p)) for p in _PROBES):
            self.format = fast
        else:
            self.format = self.babel

    def __call__(self, value: Decimal) -> str:
        return self.format(self._round(value))

    def _round(self, value: Decimal) -> Decimal:
        q = value.quantize(self.step, ROUND_HALF_EVEN)
        return q if q else abs(q)  # never "-0.00"

    def babel(self, value: Decimal) -> str:
        return str(self.pattern.apply(value, self.locale, currency=self.currency, currency_digits=False))

    def _fast(self) -> Callable[[Decimal], str] | None:
        """The pattern as prefix + Python's grouped number + suffix, when it has plain groups of three."""
        p = self.pattern
        if p.grouping != (3, 3) or p.scale != 0 or p.exp_prec is not None or p.int_prec[0] != 1:
            return None
        symbol = get_currency_symbol(self.currency, self.locale) if self.currency else ""
        pos_prefix, neg_prefix = (x.replace("¤", symbol) for x in p.prefix)
        pos_suffix, neg_suffix = (x.replace("¤", symbol) for x in p.suffix)
        table = str.maketrans({",": get_group_symbol(self.locale), ".": get_decimal_symbol(self.locale)})
        places = self.places

        def fast(value: Decimal) -> str:
            body = f"{abs(value):,.{places}f}".translate(table)
            return neg_prefix + body + neg_suffix if value < 0 else pos_prefix + body + pos_suffix

        return fast


@dataclass(frozen=True)
class Display:
    """Formats for one shop: its locale, its currency (or none) and its business time zone."""

    locale: Locale
    currency: str | None
    zone: tzinfo
    precision: int  # decimals of the currency (2 when none is set)
    _money: _Number = field(repr=False)
    _units: _Number = field(repr=False)
    _exact: dict[int, _Number] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, locale: str | Locale = DEFAULT_LOCALE, currency: str | None = None,
           zone: tzinfo | None = None) -> Display:  # fmt: skip
        where = locale if isinstance(locale, Locale) else parse_locale(locale)
        code = parse_currency(currency)
        precision = get_currency_precision(code) if code else 2
        money = where.currency_formats["standard"]
        if code is None:  # amounts without a currency sign, in the locale's currency layout
            money = parse_pattern(re.sub(r"\s*¤\s*", "", money.pattern))
        return cls(where, code, zone or ZoneInfo("UTC"), precision, _Number(money, where, code, precision),
                   _Number(where.decimal_formats[None], where, None, 0))  # fmt: skip

    # --- figures --------------------------------------------------------------------------------

    def money(self, value: Any) -> str:
        """An amount in the shop's currency, to the currency's precision; '' for none."""
        d = _plain(value)
        return "" if d is None else self._money(d)

    def exact(self, value: Any) -> str:
        """An amount with every decimal place it carries (at least the currency's): an average cost."""
        d = _plain(value)
        if d is None:
            return ""
        places = max(self.precision, _places(d.normalize()))
        number = self._exact.get(places)
        if number is None:
            number = self._exact[places] = _Number(self._money.pattern, self.locale, self.currency, places)
        return number(d)

    def units(self, value: Any) -> str:
        """A whole number of units with the locale's grouping."""
        if value is None or value == "":
            return ""
        return self._units(Decimal(int(value)))

    # --- moments --------------------------------------------------------------------------------

    def typed_decimal(self, text: str) -> str:
        """A number as typed into a page's form, in the API's plain form: where the locale writes a
        decimal comma (de_DE "4,50 €"), "4,50" is 4.50. Only a lone comma with no dot is read so: a
        text with both ("1.234,50") or none is left as it is, for the field's own rule to judge, so
        nothing is guessed (in de_DE "1.234" may mean a thousand and more; it is refused or read as
        plain, as the API reads it)."""
        if get_decimal_symbol(self.locale) == "," and _COMMA_DECIMAL.fullmatch(text):
            return text.replace(",", ".")
        return text  # as typed: a refusal quotes what the user wrote ("4, 50"), not a rewrite of it

    def moment(self, value: datetime | str | None) -> str:
        """A time as the pages show it: the locale's medium date and the 24-hour time, in business time."""
        if not value:
            return ""
        at = (datetime.fromisoformat(value) if isinstance(value, str) else value).astimezone(self.zone)
        return f"{_medium_date(at.date(), self.locale)} {at:%H:%M}"

    def day(self, value: date | datetime | str | None) -> str:
        """A date (a datetime is taken in business time) in the locale's medium form."""
        if not value:
            return ""
        if isinstance(value, str):
            value = datetime.fromisoformat(value) if len(value) > 10 else date.fromisoformat(value)
        if isinstance(value, datetime):
            value = value.astimezone(self.zone).date()
        return _medium_date(value, self.locale)

    def transaction(self, type_: str, quantity: int, at: datetime, *, new: bool = False) -> str:
        """'the sale of 6 on Nov 23, 2026 11:00': a transaction named the way the timeline shows it."""
        noun = NOUNS.get(type_, type_.lower())
        return f"the {'new ' if new else ''}{noun} of {self.units(quantity)} on {self.moment(at)}"


# "4,50", " 0,5 ", ",5": a number that the comma alone makes decimal
_COMMA_DECIMAL = re.compile(r"\s*[+-]?[0-9]*,[0-9]+\s*")


@lru_cache(maxsize=4096)
def _medium_date(day: date, locale: Locale) -> str:
    """The locale's form of day, abbreviated month and year: 'Nov 23, 2026', '23. Nov. 2026', '2026年11月23日'."""
    return str(format_date(day, locale.datetime_skeletons["yMMMd"].pattern, locale=locale))

