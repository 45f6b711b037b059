"""Scenario tests of the ledger fold, written as small ledger texts."""

from decimal import Decimal

import pytest

from app.domain.ledger import EMPTY, Breach, Position, Replay, replay
from app.domain.summary import Status, status, totals_of
from tests.unit.ledger_text import parse

pytestmark = pytest.mark.unit
D = Decimal


def run(text: str) -> Replay:
    result = replay(parse(text))
    assert isinstance(result, Replay), result
    return result


def test_buy_sets_moving_average_cost_rounded_to_six_places():
    r = run("""
        2026-01-01 BUY 3 @ 1.00
        2026-01-02 BUY 3 @ 2.00
        2026-01-03 BUY 1 @ 0.0001
    """)
    assert [p.figures.average_cost_after for p in r.posted] == [D("1.000000"), D("1.500000"), D("1.285729")]
    assert r.end == Position(7, D("1.285729"))


def test_sell_books_revenue_cogs_and_profit_at_average_cost():
    r = run("""
        2026-01-01 BUY 10 @ 4.00
        2026-01-02 BUY 10 @ 5.00
        2026-01-03 SELL 3 @ 9.999
    """)
    sell = r.posted[-1].figures
    assert (sell.revenue, sell.cogs, sell.realized_pl) == (D("30.00"), D("13.50"), D("16.50"))
    assert sell.stock_after == 17 and sell.average_cost_after == D("4.500000")


def test_rounding_is_half_even_to_cents_and_six_places():
    r = run("""
        2026-01-01 BUY 1 @ 0.0050
        2026-01-02 BUY 1 @ 0.0150
        2026-01-03 SELL 1 @ 0.0250
    """)
    # (0.005 + 0.015) / 2 = 0.01 exactly; revenue 0.025 rounds to 0.02 (half-even)
    assert r.posted[1].figures.average_cost_after == D("0.010000")
    assert r.posted[2].figures.revenue == D("0.02")
    r = run("""
        2026-01-01 BUY 2 @ 0.0000
        2026-01-02 BUY 1 @ 0.0001
    """)
    # 0.0001 / 3 = 0.0000333.. -> 0.000033
    assert r.posted[1].figures.average_cost_after == D("0.000033")


def test_exact_half_of_a_micro_rounds_to_even():
    r = run("""
        2026-01-01 BUY 1 @ 0.0000
        2026-01-02 BUY 1 @ 0.0001
        2026-01-03 BUY 2 @ 0.0000
        2026-01-04 BUY 3 @ 0.0000
    """)
    # 0.0001/2 = 0.00005 exactly; 0.00005*2/4 = 0.000025 -> 0.000025 (no rounding)
    # then 0.000025*4/7 = 0.0000142857.. -> 0.000014
    assert [p.figures.average_cost_after for p in r.posted] == [D("0"), D("0.000050"), D("0.000025"), D("0.000014")]


def test_selling_more_than_on_hand_is_a_breach_naming_the_sale():
    result = replay(
        parse("""
        2026-01-01 BUY 2 @ 1.00
        2026-01-02 SELL 3 @ 2.00
    """)
    )
    assert isinstance(result, Breach)
    assert (result.entry.seq, result.stock_before, result.stock_would_be) == (2, 2, -1)
    assert "would leave stock at -1" in result.describe()


def test_negative_adjust_writes_off_at_average_cost():
    r = run("""
        2026-01-01 BUY 4 @ 2.50
        2026-01-02 ADJUST -3 damage
    """)
    f = r.posted[1].figures
    assert (f.stock_after, f.write_off, f.average_cost_after) == (1, D("7.50"), D("2.500000"))


def test_negative_adjust_below_zero_is_a_breach():
    result = replay(
        parse("""
        2026-01-01 BUY 1 @ 2.50
        2026-01-02 ADJUST -2 theft
    """)
    )
    assert isinstance(result, Breach) and result.stock_would_be == -1


def test_positive_adjust_with_cost_is_like_a_buy_and_without_is_a_gain():
    r = run("""
        2026-01-01 BUY 2 @ 3.00
        2026-01-02 ADJUST 2 found @ 5.00
        2026-01-03 ADJUST 1 found
    """)
    assert r.posted[1].figures.average_cost_after == D("4.000000")
    assert r.posted[1].figures.gain == D("0.00")
    assert r.posted[2].figures.gain == D("4.00")
    assert r.end == Position(5, D("4.000000"))


def test_count_sets_stock_and_books_the_difference():
    r = run("""
        2026-01-01 BUY 10 @ 1.25
        2026-01-02 COUNT 8
        2026-01-03 COUNT 11
    """)
    assert (r.posted[1].figures.stock_after, r.posted[1].figures.write_off) == (8, D("2.50"))
    assert (r.posted[2].figures.stock_after, r.posted[2].figures.gain) == (11, D("3.75"))


def test_count_absorbs_earlier_changes():
    before = run("""
        2026-01-01 BUY 10 @ 1.00
        2026-01-02 SELL 2 @ 3.00
        2026-01-05 COUNT 6
        2026-01-06 SELL 6 @ 3.00
    """)
    with_backdated_loss = run("""
        2026-01-01 BUY 10 @ 1.00
        2026-01-02 SELL 2 @ 3.00
        2026-01-05 COUNT 6
        2026-01-06 SELL 6 @ 3.00
        2026-01-03 ADJUST -1 loss
    """)
    assert before.end == with_backdated_loss.end == Position(0, D("1.000000"))
    count_before = before.posted[2].figures
    count_after = [p for p in with_backdated_loss.posted if p.entry.seq == 3][0].figures
    assert (count_before.write_off, count_after.write_off) == (D("2.00"), D("1.00"))


def test_backdated_buy_changes_the_cost_of_every_later_sell():
    history = """
        2026-01-01 BUY 10 @ 2.00
        2026-01-10 SELL 5 @ 5.00
        2026-01-20 SELL 5 @ 5.00
    """
    plain = run(history)
    backdated = run(history + "\n2026-01-05 BUY 10 @ 4.00")
    assert [p.figures.cogs for p in plain.posted if p.entry.type == "SELL"] == [D("10.00"), D("10.00")]
    assert [p.figures.cogs for p in backdated.posted if p.entry.type == "SELL"] == [D("15.00"), D("15.00")]


def test_deleting_early_buy_makes_later_sell_fail():
    entries = parse("""
        2026-01-01 BUY 5 @ 2.00
        2026-01-02 BUY 5 @ 2.00
        2026-01-03 SELL 8 @ 3.00
    """)
    result = replay(entries[1:])
    assert isinstance(result, Breach) and result.entry.seq == 3 and result.stock_would_be == -3


def test_moving_a_sell_before_the_stock_that_covers_it_fails():
    entries = parse("""
        2026-01-02 BUY 5 @ 2.00
        2026-01-03 SELL 5 @ 3.00
    """)
    moved = [entries[0], entries[1]._replace(at=entries[0].at.replace(day=1))]
    result = replay(moved)
    assert isinstance(result, Breach) and result.entry.seq == 2 and result.stock_would_be == -5


def test_equal_times_are_ordered_by_seq():
    entries = parse("""
        2026-01-01T10:00 BUY 1 @ 1.00
        2026-01-01T10:00 SELL 1 @ 2.00
    """)
    assert isinstance(replay(entries), Replay)
    assert isinstance(replay(list(reversed(entries))), Replay)
    swapped = [entries[0]._replace(seq=3), entries[1]]
    assert isinstance(replay(swapped), Breach)


def test_stock_back_to_zero_keeps_the_last_cost():
    r = run("""
        2026-01-01 BUY 2 @ 3.30
        2026-01-02 SELL 2 @ 4.00
        2026-01-03 BUY 2 @ 3.50
    """)
    assert r.posted[1].figures.average_cost_after == D("3.300000")
    assert r.posted[2].figures.average_cost_after == D("3.500000")


def test_empty_history_has_zero_cost_and_a_sell_breaks():
    assert replay([]) == Replay((), EMPTY)
    assert isinstance(replay(parse("2026-01-01 SELL 1 @ 1.00")), Breach)


def test_replay_does_not_mutate_its_input():
    entries = parse("""
        2026-01-03 BUY 1 @ 1.00
        2026-01-01 BUY 1 @ 2.00
    """)
    snapshot = list(entries)
    replay(entries)
    assert entries == snapshot


def test_totals_are_sums_of_row_figures_and_units():
    r = run("""
        2026-01-01 BUY 10 @ 1.00
        2026-01-02 SELL 3 @ 2.00
        2026-01-03 ADJUST -2 damage
        2026-01-04 ADJUST 1 found
        2026-01-05 COUNT 5
    """)
    t = totals_of(list(r.posted))
    assert (t.revenue, t.cogs, t.realized_pl, t.write_off, t.gain) == (
        D("6.00"),
        D("3.00"),
        D("3.00"),
        D("3.00"),
        D("1.00"),
    )
    assert (t.units_in, t.units_out, t.damaged) == (11, 3, 2)
    assert r.end.stock == 5


def test_status_follows_available_and_threshold():
    assert [status(0, 5), status(5, 5), status(6, 5), status(1, 0)] == [Status.OUT, Status.LOW, Status.OK, Status.OK]
