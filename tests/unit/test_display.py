"""Money, units and moments as pages and messages show them: the shop's currency and locale (Babel)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.numbers import format_currency, format_decimal
from hypothesis import given
from hypothesis import strategies as st

from app import display
from app.display import Display
from app.settings import Settings
from app.web import templating

pytestmark = pytest.mark.unit
NBSP = "\xa0"
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("locale", "currency", "amount", "shown"),
    [
        ("de_DE", "EUR", "1234.5", f"1.234,50{NBSP}€"),
        ("de_DE", "EUR", "-1234567.89", f"-1.234.567,89{NBSP}€"),
        ("de_DE", "EUR", "0.00", f"0,00{NBSP}€"),
        ("en_US", "USD", "1234.5", "$1,234.50"),
        ("en_US", "USD", "-1234567.89", "-$1,234,567.89"),
        ("ja_JP", "JPY", "1234.00", "￥1,234"),  # the yen has no decimals
        ("ja_JP", "JPY", "1234.50", "￥1,234"),  # half-even, as the ledger rounds
        ("ja_JP", "JPY", "1235.50", "￥1,236"),
        ("ja_JP", "JPY", "-0.40", "￥0"),  # never "-￥0"
        ("en_US", None, "1240.17", "1,240.17"),  # no currency set: the number alone
        ("de_DE", None, "1240.17", "1.240,17"),
    ],
)
def test_money_in_the_shops_currency_and_locale(locale, currency, amount, shown):
    assert Display.of(locale, currency).money(amount) == shown
    assert Display.of(locale, currency).money(Decimal(amount)) == shown


def test_currency_precision_comes_from_the_currency():
    assert [Display.of("en_US", c).precision for c in ("USD", "JPY", "KWD", None)] == [2, 0, 3, 2]


@pytest.mark.parametrize(
    ("locale", "currency", "shown", "exact"),
    [
        ("de_DE", "EUR", f"2,12{NBSP}€", f"2,123457{NBSP}€"),
        ("en_US", "USD", "$2.12", "$2.123457"),
        ("ja_JP", "JPY", "￥2", "￥2.123457"),
    ],
)
def test_an_average_cost_is_shown_to_the_currencys_precision_with_the_exact_figure_on_hover(
    locale, currency, shown, exact
):
    d = Display.of(locale, currency)
    html = str(templating.cost(d, "2.123457"))
    assert html == f'<span class="cost" title="{exact}">{shown}</span>'
    assert templating.cost(d, None) == "" and templating.cost(d, "") == ""


def test_the_exact_cost_keeps_only_the_places_it_has():
    d = Display.of("en_US", "USD")
    assert (d.exact("2.500000"), d.exact("2.125000"), d.exact("2")) == ("$2.50", "$2.125", "$2.00")


def test_units_use_the_locales_grouping():
    assert [Display.of(x).units(1234567) for x in ("en_US", "de_DE", "en_IN")] == ["1,234,567", "1.234.567",
                                                                                  "12,34,567"]  # fmt: skip
    assert Display.of("en_US").units(None) == ""


LOCALES = [("de_DE", "EUR"), ("en_US", "USD"), ("ja_JP", "JPY"), ("fr_FR", "EUR"), ("nl_NL", "EUR"),
           ("pt_BR", "BRL"), ("sv_SE", "SEK"), ("en_IN", "INR"), ("de_CH", "CHF"), ("ar_KW", "KWD"),
           ("en_GB", None)]  # fmt: skip


@given(st.sampled_from(LOCALES), st.decimals(min_value=-(10**12), max_value=10**12, places=2, allow_nan=False))
def test_the_fast_formatter_writes_exactly_what_babel_writes(where, amount):
    locale, currency = where
    shown = Display.of(locale, currency).money(amount)
    if currency:
        expected = format_currency(amount, currency, locale=locale)
    else:
        expected = format_decimal(amount, format=Display.of(locale)._money.pattern.pattern, locale=locale,
                                  decimal_quantization=True)  # fmt: skip
    # Babel writes a rounded-away "-0" with its sign; pages never do.
    assert shown == expected or (expected.replace("-", "", 1) == shown and not Decimal(amount).quantize(Decimal(1)))


def test_moments_are_named_as_the_pages_name_them_in_business_time():
    at = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
    assert Display.of("en_US").moment(at) == "Nov 23, 2026 11:00"
    assert Display.of("en_GB").moment(at) == "23 Nov 2026 11:00"
    assert Display.of("de_DE", zone=ZoneInfo("Europe/Berlin")).moment(at) == "23. Nov. 2026 12:00"
    assert Display.of("en_US").moment("2026-11-23T11:00:00+00:00") == "Nov 23, 2026 11:00"
    assert Display.of("en_US").moment(None) == ""


def test_a_transaction_is_named_by_what_it_is_and_when():
    at = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
    d = Display.of("en_GB")
    assert d.transaction("SELL", 6, at) == "the sale of 6 on 23 Nov 2026 11:00"
    assert d.transaction("BUY", 1200, at, new=True) == "the new purchase of 1,200 on 23 Nov 2026 11:00"
    assert d.transaction("ADJUST", -3, at) == "the adjustment of -3 on 23 Nov 2026 11:00"


def test_bad_locale_or_currency_settings_are_refused_by_name():
    with pytest.raises(ValueError, match="INVENTORY_LOCALE"):
        display.parse_locale("xx_NOPE")
    with pytest.raises(ValueError, match="INVENTORY_CURRENCY"):
        display.parse_currency("EURO")
    assert (display.parse_currency(" eur "), display.parse_currency(""), str(display.parse_locale("de-DE"))) == (
        "EUR", None, "de_DE")  # fmt: skip


def test_settings_read_the_locale_and_currency(monkeypatch):
    monkeypatch.setenv("INVENTORY_LOCALE", "ja_JP")
    monkeypatch.setenv("INVENTORY_CURRENCY", "jpy")
    s = Settings.from_env()
    assert (s.locale, s.currency) == ("ja_JP", "JPY")
    monkeypatch.delenv("INVENTORY_LOCALE")
    monkeypatch.delenv("INVENTORY_CURRENCY")
    assert (Settings.from_env().locale, Settings.from_env().currency) == ("en_US", None)


def test_the_default_data_dir_does_not_depend_on_the_current_directory(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "INVENTORY_DATA_DIR"}
    code = "from app.settings import Settings; print(Settings.from_env().data_dir)"
    found = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env={**env, "PYTHONPATH": str(ROOT)},
                           capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    assert Path(found) == ROOT / ".data"


def test_templates_get_the_filters_and_the_shops_format_for_scripts():
    from app.web.templating import template_config

    env = template_config(Display.of("de_DE", "EUR", ZoneInfo("Europe/Berlin"))).to_engine().engine
    assert env.globals["shop"] == {"lang": "de-DE", "currency": "EUR", "precision": 2}
    template = '{{ "1234.5"|money }} · {{ "2.123457"|cost }} · {{ at|when }} · {{ at|when("%Y-%m-%d") }}'
    html = env.from_string(template).render(at="2026-11-23T11:00:00+00:00")
    assert html == (f'1.234,50{NBSP}€ · <span class="cost" title="2,123457{NBSP}€">2,12{NBSP}€</span> · '
                    '<time datetime="2026-11-23T12:00:00+01:00">23. Nov. 2026 12:00</time> · 2026-11-23')  # fmt: skip


@pytest.mark.parametrize(
    ("locale", "typed", "read"),
    [("de_DE", "4,50", "4.50"), ("de_DE", "4.50", "4.50"), ("de_DE", "1.234,50", "1.234,50"), ("fr_FR", "0,5", "0.5"),
     ("en_US", "4,50", "4,50"), ("en_US", "1,234.50", "1,234.50"), ("de_DE", "4,5,0", "4,5,0"),
     ("de_DE", " 4,50 ", " 4.50 "), ("de_DE", "4, 50", "4, 50"), ("de_DE", "€4,50", "€4,50"),
     ("de_DE", "4,50 €", "4,50 €")],
)  # fmt: skip
def test_a_price_typed_with_the_locales_decimal_comma_is_read_plain_and_nothing_else_is_guessed(locale, typed, read):
    assert Display.of(locale).typed_decimal(typed) == read
