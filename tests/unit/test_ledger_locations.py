"""Scenario tests of the fold with stock locations (SPEC §2 "Stock locations"), as ledger texts."""

from decimal import Decimal

import pytest

from app.domain.ledger import EMPTY, Breach, Entry, Gone, Posted, Replay, Settled, Stored, refold, replay, timeline
from app.domain.rules import MAIN, TxType
from tests.unit.ledger_text import parse, parse_line

pytestmark = pytest.mark.unit
D = Decimal


def run(text: str) -> Replay:
    result = replay(parse(text))
    assert isinstance(result, Replay), result
    return result


def refused(text: str) -> Breach:
    result = replay(parse(text))
    assert isinstance(result, Breach), result
    return result


def here(r: Replay) -> list[tuple[int, int | None, int | None]]:
    """(total, at its location, at its destination) after each row."""
    return [(f.stock_after, f.location_stock_after, f.to_location_stock_after) for f in (p.figures for p in r.posted)]


def test_the_old_syntax_still_means_main():
    entry = parse_line("2026-01-08 ADJUST 2 found @ 4.10", 1)
    assert (entry.location, entry.to_location, entry.unit_price, entry.quantity) == (MAIN, None, D("4.10"), 2)
    assert parse_line("2026-01-05 BUY 10 @ 4.00 at STORE", 2).location == "STORE"
    transfer = parse_line("2026-01-06 TRANSFER 3 MAIN>STORE", 3)
    assert (transfer.type, transfer.location, transfer.to_location) == (TxType.TRANSFER, MAIN, "STORE")
    assert transfer.quantity == 3


def test_goods_in_transit_are_two_transfers_and_change_no_total_cost_or_money():
    r = run("""
        2026-01-01 BUY 10 @ 4.00
        2026-01-02 TRANSFER 4 MAIN>TRUCK
        2026-01-03 SELL 2 @ 9.00
        2026-01-05 TRANSFER 4 TRUCK>STORE
        2026-01-06 SELL 1 @ 9.00 at STORE
    """)
    assert here(r) == [(10, 10, None), (10, 6, 4), (8, 4, None), (8, 0, 4), (7, 3, None)]
    assert r.stocks == {MAIN: 4, "TRUCK": 0, "STORE": 3}
    assert r.end.average_cost == D("4.000000")
    moves = [r.posted[1].figures, r.posted[3].figures]
    assert all(f.revenue == f.cogs == f.write_off == f.gain == 0 for f in moves)


def test_a_sale_from_transit_before_it_arrives_is_refused_there():
    b = refused("""
        2026-01-01 BUY 10 @ 4.00
        2026-01-02 TRANSFER 4 MAIN>TRUCK
        2026-01-04 SELL 1 @ 9.00 at STORE
        2026-01-05 TRANSFER 4 TRUCK>STORE
    """)
    assert (b.entry.seq, b.location, b.stock_before, b.stock_would_be) == (3, "STORE", 0, -1)


def test_a_count_counts_one_location_and_values_its_difference_at_the_products_cost():
    r = run("""
        2026-01-01 BUY 10 @ 4.00
        2026-01-02 TRANSFER 4 MAIN>STORE
        2026-01-03 BUY 10 @ 6.00 at STORE
        2026-01-04 COUNT 11 at STORE
        2026-01-05 COUNT 7
    """)
    count_store, count_main = r.posted[3].figures, r.posted[4].figures
    # cost 5.00 across both places; STORE held 14, counted 11: 3 written off; MAIN held 6, counted 7: 1 gained
    assert (count_store.stock_after, count_store.location_stock_after, count_store.write_off) == (17, 11, D("15.00"))
    assert (count_main.stock_after, count_main.location_stock_after, count_main.gain) == (18, 7, D("5.00"))
    assert r.stocks == {MAIN: 7, "STORE": 11}


def test_a_transfer_that_would_leave_its_source_negative_at_a_past_point_names_the_source():
    # Backdated to before the BUY that covers it: at that point MAIN had 2 (the total had 2 too).
    b = refused("""
        2026-01-01 BUY 2 @ 4.00
        2026-01-05 BUY 10 @ 4.00
        2026-01-03 TRANSFER 3 MAIN>STORE
    """)
    assert (b.entry.seq, b.location, b.stock_before, b.stock_would_be) == (3, MAIN, 2, -1)
    assert "in MAIN" in b.describe()


def test_a_transfer_can_break_its_source_while_the_total_is_plenty():
    b = refused("""
        2026-01-01 BUY 10 @ 4.00 at STORE
        2026-01-02 BUY 1 @ 4.00
        2026-01-03 TRANSFER 2 MAIN>STORE
    """)
    assert (b.location, b.stock_before, b.stock_would_be) == (MAIN, 1, -1)


def test_a_sale_at_a_location_with_the_stock_elsewhere_is_refused():
    b = refused("""
        2026-01-01 BUY 10 @ 4.00
        2026-01-02 BUY 1 @ 4.00 at STORE
        2026-01-03 SELL 2 @ 9.00 at STORE
    """)
    assert (b.entry.seq, b.location, b.stock_before, b.stock_would_be) == (3, "STORE", 1, -1)
    assert "in STORE" in b.describe()
    run("""
        2026-01-01 BUY 10 @ 4.00
        2026-01-02 BUY 1 @ 4.00 at STORE
        2026-01-03 SELL 2 @ 9.00
    """)  # the same sale from MAIN


def test_a_write_off_at_a_location_is_checked_there():
    b = refused("""
        2026-01-01 BUY 10 @ 4.00
        2026-01-02 ADJUST -1 damage at STORE
    """)
    assert (b.location, b.stock_before, b.stock_would_be) == ("STORE", 0, -1)


def test_deleting_a_buy_that_a_later_transfer_needed_breaks_at_the_transfer():
    history = parse("""
        2026-01-01 BUY 5 @ 4.00 at WH
        2026-01-02 BUY 5 @ 4.00
        2026-01-03 TRANSFER 4 WH>STORE
    """)
    b = replay(history[1:])
    assert isinstance(b, Breach) and (b.entry.seq, b.location, b.stock_before) == (3, "WH", 0)


def test_a_ledger_without_locations_folds_as_before():
    r = run("""
        2026-01-01 BUY 10 @ 4.00
        2026-01-02 SELL 3 @ 9.00
        2026-01-03 COUNT 6
    """)
    assert here(r) == [(10, 10, None), (7, 7, None), (6, 6, None)]
    assert r.stocks == {MAIN: 6}


def _stored(posted: tuple[Posted, ...]) -> list[Stored]:
    return [Stored(p.entry, p.figures.position, p.figures.location_stock_after, p.figures.to_location_stock_after)
            for p in posted]  # fmt: skip


def test_a_refold_of_a_transfer_edit_does_not_settle_while_the_locations_are_off():
    """A TRANSFER's quantity moves no total: the stored total matches at once, yet STORE is short
    until the COUNT there. Without `watched` the refold would settle at the next row and keep a
    sale at STORE that no longer has stock."""
    history = parse("""
        2026-01-01 BUY 10 @ 4.00
        2026-01-02 TRANSFER 5 MAIN>STORE
        2026-01-03 SELL 1 @ 9.00
        2026-01-04 SELL 4 @ 9.00 at STORE
    """)
    before = run_entries(history)
    edited = history[1]._replace(quantity=3)
    start = before.posted[0].figures.position
    stocks = {MAIN: 10}
    rows = [edited, Gone(history[1], 5, 5), *_stored(before.posted[2:])]
    outcome = refold(start, sorted(rows, key=_key), edited.key, stocks, {MAIN: 10, "STORE": 0})
    assert isinstance(outcome, Breach) and (outcome.entry.seq, outcome.location) == (4, "STORE")
    assert isinstance(replay([*history[:1], edited, *history[2:]]), Breach)


def test_a_refold_of_a_moved_row_settles_once_both_locations_are_as_stored():
    history = parse("""
        2026-01-01 BUY 10 @ 4.00
        2026-01-02 BUY 3 @ 4.00 at STORE
        2026-01-03 SELL 1 @ 9.00
        2026-01-04 COUNT 0 at STORE
        2026-01-05 COUNT 9
        2026-01-06 SELL 1 @ 9.00
    """)
    before = run_entries(history)
    moved = history[1]._replace(location="BACK")  # the BUY was put away in the back room
    after = run_entries([*history[:1], moved, *history[2:]])
    rows = [moved, Gone(history[1], 3, None), *_stored(before.posted[2:])]
    outcome = refold(before.posted[0].figures.position, sorted(rows, key=_key), moved.key, {MAIN: 10},
                     {MAIN: 10, "STORE": 0, "BACK": 0})  # fmt: skip
    # STORE is as stored after its COUNT, MAIN after its; BACK keeps 3 to the end: no settling.
    assert isinstance(outcome, Replay)
    assert outcome.posted == after.posted[1:]
    assert outcome.stocks == after.stocks == {MAIN: 8, "STORE": 0, "BACK": 3}


def test_a_refold_settles_once_every_watched_location_is_back_as_stored():
    history = parse("""
        2026-01-01 BUY 10 @ 4.00
        2026-01-02 TRANSFER 5 MAIN>STORE
        2026-01-03 SELL 1 @ 9.00 at STORE
        2026-01-04 COUNT 6
        2026-01-05 SELL 1 @ 9.00
        2026-01-06 COUNT 2 at STORE
        2026-01-07 SELL 1 @ 9.00
    """)
    before = run_entries(history)
    edited = history[1]._replace(quantity=4)
    after = run_entries([*history[:1], edited, *history[2:]])
    rows = [edited, Gone(history[1], 5, 5), *_stored(before.posted[2:])]
    outcome = refold(before.posted[0].figures.position, sorted(rows, key=_key), edited.key, {MAIN: 10},
                     {MAIN: 10, "STORE": 0})  # fmt: skip
    assert isinstance(outcome, Settled)
    # It settles at the COUNT at STORE (its write-off differs, the position after it does not); the
    # last SELL comes out as stored.
    assert len(outcome.posted) == 5
    assert outcome.posted + before.posted[1 + len(outcome.posted) :] == after.posted[1:]


def run_entries(entries: list[Entry]) -> Replay:
    result = replay(entries)
    assert isinstance(result, Replay), result
    return result


def _key(row: Stored | Entry | Gone) -> tuple:
    return row.key if isinstance(row, Entry) else row.entry.key


def test_the_empty_fold_has_no_stock_anywhere():
    assert replay([]) == Replay((), EMPTY, {})
    assert timeline([]) == []
