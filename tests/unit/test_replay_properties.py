"""Properties of the fold over random histories (Hypothesis).

Histories are valid by construction (`valid_histories`: no point of the timeline goes below zero)
wherever a property is about accepted histories, so no example is thrown away silently; where a
property holds only for some examples, `assume` says so and Hypothesis counts the rest as invalid.
Each test names what it checked with `checked(label)`: a Hypothesis event (see them with
`--hypothesis-show-statistics`) and a count printed at the end of the module (see it with `-s`).
"""

import sys
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from app.domain.ledger import EMPTY, Breach, Entry, Gone, Posted, Replay, Settled, Stored, refold, replay, timeline
from app.domain.refold_figures import fields_a_refold_can_change
from app.domain.rules import MAIN, Reason, TxType
from app.persistence.records import LedgerRow
from app.services.recompute import RefoldChunks, Splice

pytestmark = pytest.mark.unit
BASE = datetime(2026, 1, 1, tzinfo=UTC)
CHECKED: defaultdict[str, Counter[str]] = defaultdict(Counter)  # test → what its examples were


def checked(label: str) -> None:
    """Count one example of the calling test under `label` (and tell Hypothesis's statistics)."""
    CHECKED[sys._getframe(1).f_code.co_name][label] += 1
    event(label)


@pytest.fixture(scope="module", autouse=True)
def examples_report() -> Iterator[None]:
    """How many examples each test ran to the end (shrinking and replays included), by kind."""
    CHECKED.clear()
    yield
    for test, labels in CHECKED.items():
        parts = ", ".join(f"{n} {label}" for label, n in labels.most_common())
        print(f"\n{test}: {sum(labels.values())} examples checked ({parts})")


prices = st.decimals(min_value=0, max_value=Decimal("99999.9999"), places=4, allow_nan=False, allow_infinity=False)


@st.composite
def entries(draw: st.DrawFn) -> list[Entry]:
    n = draw(st.integers(0, 40))
    out = []
    for seq in range(1, n + 1):
        kind = draw(st.sampled_from([t for t in TxType if t is not TxType.TRANSFER]))  # one location here
        at = BASE + timedelta(hours=draw(st.integers(0, 30)))
        if kind is TxType.ADJUST:
            q = draw(st.integers(-20, 20).filter(bool))
            price = draw(st.none() | prices) if q > 0 else None
            out.append(Entry(seq, at, kind, q, price, draw(st.sampled_from(list(Reason))), id=seq))
        elif kind is TxType.COUNT:
            out.append(Entry(seq, at, kind, draw(st.integers(0, 50)), id=seq))
        else:
            out.append(Entry(seq, at, kind, draw(st.integers(1, 30)), draw(prices), id=seq))
    return out


@st.composite
def valid_histories(draw: st.DrawFn, min_size: int = 0) -> list[Entry]:
    """A history no point of which goes below zero, in ingestion (seq) order. Times and ingestion
    numbers are drawn first, so that ties in time and late-ingested (backdated) entries occur; then
    each entry, in timeline order, takes no more stock than there is at its point."""
    n = draw(st.integers(min_size, 40))
    hours = sorted(draw(st.lists(st.integers(0, 30), min_size=n, max_size=n)))
    seqs = draw(st.permutations(range(1, n + 1)))
    stock, out = 0, []
    for at, seq in sorted((BASE + timedelta(hours=h), s) for h, s in zip(hours, seqs, strict=True)):
        kinds = [TxType.BUY, TxType.ADJUST, TxType.COUNT] + ([TxType.SELL] if stock else [])
        kind = draw(st.sampled_from(kinds))
        if kind is TxType.ADJUST:
            q = -draw(st.integers(1, stock)) if stock and draw(st.booleans()) else draw(st.integers(1, 20))
            price = draw(st.none() | prices) if q > 0 else None
            out.append(Entry(seq, at, kind, q, price, draw(st.sampled_from(list(Reason))), id=seq))
            stock += q
        elif kind is TxType.COUNT:
            stock = draw(st.integers(0, 50))
            out.append(Entry(seq, at, kind, stock, id=seq))
        else:
            q = draw(st.integers(1, stock if kind is TxType.SELL else 30))
            out.append(Entry(seq, at, kind, q, draw(prices), id=seq))
            stock += q if kind is TxType.BUY else -q
    return sorted(out, key=lambda e: e.seq)


@settings(max_examples=300, deadline=None)
@given(entries())
def test_every_accepted_history_keeps_stock_non_negative(history):
    """Any history: accepted whole with no point below zero, or refused at a point that would be."""
    result = replay(history)
    if isinstance(result, Replay):
        checked("accepted")
        assert all(p.figures.stock_after >= 0 for p in result.posted)
        assert len(result.posted) == len(history)
    else:
        checked("refused")
        assert result.stock_would_be < 0


@settings(max_examples=200, deadline=None)
@given(valid_histories())
def test_a_history_that_never_goes_below_zero_is_accepted_whole(history):
    """The converse, and the check that `valid_histories` makes what it says."""
    result = replay(history)
    assert isinstance(result, Replay)
    assert [p.entry for p in result.posted] == timeline(history)
    checked("empty" if not history else "accepted")


@settings(max_examples=300, deadline=None)
@given(valid_histories(), st.data())
def test_replaying_from_any_checkpoint_equals_a_full_replay(history, data):
    full = replay(history)
    assert isinstance(full, Replay)
    ordered = timeline(history)
    cut = data.draw(st.integers(0, len(ordered)))
    start = full.posted[cut - 1].figures.position if cut else None
    partial = replay(ordered[cut:], start) if start else replay(ordered[cut:])
    assert isinstance(partial, Replay)
    assert partial.posted == full.posted[cut:]
    assert partial.end == full.end
    checked("from the start" if not cut else "from the end" if cut == len(ordered) else "from a checkpoint")


@settings(max_examples=300, deadline=None)
@given(valid_histories(min_size=1), st.data())
def test_a_refold_that_settles_early_agrees_with_a_full_replay(history, data):
    """Edit one entry's price; refolding the stored rows from it must give what a full replay gives."""
    before = replay(history)
    assert isinstance(before, Replay)
    priced = [i for i, p in enumerate(before.posted) if p.entry.unit_price is not None]
    assume(priced)  # a history of counts and unpriced adjustments only has no price to edit
    i = data.draw(st.sampled_from(priced))
    target = before.posted[i].entry
    edited = target._replace(unit_price=data.draw(prices))
    after = replay([e for e in history if e is not target] + [edited])
    start = before.posted[i - 1].figures.position if i else EMPTY
    rows = [edited, *stored(before.posted[i + 1 :])]
    outcome = refold(start, rows, edited.key)
    assert isinstance(after, Replay), "a price never moves stock"
    assert not isinstance(outcome, Breach)
    settled_rest = before.posted[i + len(outcome.posted) :] if isinstance(outcome, Settled) else ()
    assert tuple(outcome.posted) + tuple(settled_rest) == after.posted[i:]
    checked("settled early" if isinstance(outcome, Settled) else "refolded to the end")


def stored(posted: tuple[Posted, ...]) -> list[Stored]:
    return [Stored(p.entry, p.figures.position) for p in posted]


@st.composite
def edits(draw: st.DrawFn, entry: Entry) -> Entry:
    """Another quantity, price or time for the same transaction, as a manager might correct it."""
    field = draw(st.sampled_from(["quantity", "unit_price", "at"]))
    if field == "at":
        return entry._replace(at=BASE + timedelta(hours=draw(st.integers(0, 30))))
    if field == "unit_price" and entry.unit_price is not None:
        return entry._replace(unit_price=draw(prices))
    if entry.type is TxType.ADJUST:
        return entry._replace(quantity=draw(st.integers(1, 20)) * draw(st.sampled_from([1, -1])), unit_price=None)
    return entry._replace(quantity=draw(st.integers(0 if entry.type is TxType.COUNT else 1, 50)))


@settings(max_examples=400, deadline=None)
@given(valid_histories(min_size=1), st.data())
def test_refolding_stored_positions_after_any_edit_agrees_with_a_full_replay(history, data):
    """Drop one entry and place its edited version; refold from the earlier of the two points
    over the stored entries and positions only. The rows it gives, then the stored rows after
    them, must be what a full replay of the edited history gives."""
    before = replay(history)
    assert isinstance(before, Replay)
    target = before.posted[data.draw(st.integers(0, len(before.posted) - 1))].entry
    edited = data.draw(edits(target))
    after = replay([e for e in history if e is not target] + [edited])
    key, horizon = min(target.key, edited.key), max(target.key, edited.key)
    kept = [p for p in before.posted if p.entry is not target]
    prior = [p for p in kept if p.entry.key < key]
    rest = [p for p in kept if p.entry.key >= key]
    rows = timeline([edited, *[p.entry for p in rest]])
    by_entry = {id(p.entry): Stored(p.entry, p.figures.position) for p in rest}
    outcome = refold(prior[-1].figures.position if prior else EMPTY, [by_entry.get(id(e), e) for e in rows], horizon)
    if isinstance(after, Breach):
        assert isinstance(outcome, Breach) and outcome.entry == after.entry
        checked("edit refused")
        return
    assert not isinstance(outcome, Breach)
    if isinstance(outcome, Settled):
        untouched = tuple(rest[len(outcome.posted) - 1 :])  # the edited entry is one of the folded
        assert outcome.posted + untouched == after.posted[len(prior) :]
        checked("edit settled early")
    else:
        assert outcome.posted == after.posted[len(prior) :]
        checked("edit refolded to the end")


@settings(max_examples=300, deadline=None)
@given(valid_histories(min_size=1), st.data())
def test_a_refold_changes_only_the_figures_its_rules_say_it_can(history, data):
    """A stored row keeps its entry, so only figures that depend on the position before it change."""
    before = replay(history)
    assert isinstance(before, Replay)
    target = before.posted[data.draw(st.integers(0, len(before.posted) - 1))].entry
    after = replay([e for e in history if e is not target] + [data.draw(edits(target))])
    assume(isinstance(after, Replay))  # a refused edit changes no figure at all
    assert isinstance(after, Replay)
    was = {p.entry.seq: p.figures for p in before.posted}
    for row in after.posted:
        if row.entry.seq == target.seq:
            continue
        changed = {i for i, (old, new) in enumerate(zip(was[row.entry.seq], row.figures, strict=True)) if old != new}
        assert changed <= set(fields_a_refold_can_change([row.entry.type]))
    checked("edit accepted")


# --- Stock locations (SPEC §2 "Stock locations") ---------------------------------------------------
#
# Histories over 1-4 locations with TRANSFERs between them. Quantities are small and prices few so
# that stored positions coincide often: a refold that settles too early needs a row whose stored
# total and cost happen to match while some location's stock does not.

CODES = (MAIN, "A", "B", "T")
few_prices = st.sampled_from([Decimal("4.0000"), Decimal("4.0000"), Decimal("5.5000"), Decimal("0.0000")])


def stocks_of(history: list[Entry]) -> Iterator[tuple[Entry, dict[str, int]]]:
    """A model of the stock by location, folded by hand: each entry in timeline order with the stock
    by location after it (no check: that is the fold's job)."""
    at: dict[str, int] = {}
    for e in timeline(history):
        if e.type is TxType.COUNT:
            at[e.location] = e.quantity
        elif e.type is TxType.TRANSFER:
            assert e.to_location is not None
            at[e.location] = at.get(e.location, 0) - e.quantity
            at[e.to_location] = at.get(e.to_location, 0) + e.quantity
        else:
            at[e.location] = at.get(e.location, 0) + (-e.quantity if e.type is TxType.SELL else e.quantity)
        yield e, dict(at)


def _located(draw: st.DrawFn, seq: int, at: datetime, codes: tuple[str, ...], stocks: dict[str, int] | None) -> Entry:
    """One entry at one of `codes`; with `stocks` (by location), one that takes no more than is there."""
    where = draw(st.sampled_from(codes))
    have = stocks.get(where, 0) if stocks is not None else draw(st.integers(0, 12))
    kinds = [TxType.BUY, TxType.ADJUST, TxType.COUNT]
    kinds += [TxType.SELL] if have else []
    kinds += [TxType.TRANSFER] * 2 if have and len(codes) > 1 else []
    kind = draw(st.sampled_from(kinds))
    if kind is TxType.TRANSFER:
        to = draw(st.sampled_from([c for c in codes if c != where]))
        return Entry(seq, at, kind, draw(st.integers(1, have)), id=seq, location=where, to_location=to)
    if kind is TxType.ADJUST:
        q = -draw(st.integers(1, have)) if have and draw(st.booleans()) else draw(st.integers(1, 8))
        price = draw(st.none() | few_prices) if q > 0 else None
        return Entry(seq, at, kind, q, price, draw(st.sampled_from(list(Reason))), seq, where)
    if kind is TxType.COUNT:
        return Entry(seq, at, kind, draw(st.integers(0, 12)), id=seq, location=where)
    q = draw(st.integers(1, have if kind is TxType.SELL else 8))
    return Entry(seq, at, kind, q, draw(few_prices), id=seq, location=where)


@st.composite
def located_histories(draw: st.DrawFn, min_size: int = 0, valid: bool = True) -> list[Entry]:
    """A history over 1-4 locations, in ingestion order; `valid`: no location below zero anywhere
    (each entry, in timeline order, takes no more than its location has at its point)."""
    codes = CODES[: draw(st.integers(1, 4))]
    n = draw(st.integers(min_size, 30))
    hours = sorted(draw(st.lists(st.integers(0, 20), min_size=n, max_size=n)))
    seqs = draw(st.permutations(range(1, n + 1)))
    out: list[Entry] = []
    for at, seq in sorted((BASE + timedelta(hours=h), s) for h, s in zip(hours, seqs, strict=True)):
        if valid:
            _, stocks = next(iter(reversed(list(stocks_of(out)))), (None, {}))
            out.append(_located(draw, seq, at, codes, stocks))
        else:
            out.append(_located(draw, seq, at, codes, None))
    return sorted(out, key=lambda e: e.seq)


def location_figures(posted: Iterable[Posted]) -> list[tuple[int, int, int | None, int | None]]:
    return [(p.entry.seq, p.figures.stock_after, p.figures.location_stock_after, p.figures.to_location_stock_after)
            for p in posted]  # fmt: skip


def nonzero(stocks: Mapping[str, int]) -> dict[str, int]:
    return {code: units for code, units in stocks.items() if units}


@settings(max_examples=400, deadline=None)
@given(located_histories(valid=False))
def test_every_accepted_history_keeps_every_location_non_negative_at_every_point(history):
    """Accepted: every location (by a model folded by hand) is >= 0 after every row, the row's
    figures say so at its location(s), and the total is their sum. Refused: at the first point where
    a location would go below zero, naming it."""
    result = replay(history)
    model = list(stocks_of(history))
    first_bad = next((i for i, (_, at) in enumerate(model) if min(at.values(), default=0) < 0), None)
    if isinstance(result, Replay):
        checked("accepted")
        assert first_bad is None
        for p, (e, at) in zip(result.posted, model, strict=True):
            assert p.entry == e
            assert p.figures.stock_after == sum(at.values())
            assert p.figures.location_stock_after == at[e.location] >= 0
            if e.to_location is not None:
                assert p.figures.to_location_stock_after == at[e.to_location] >= 0
        assert nonzero(result.stocks) == nonzero(model[-1][1] if model else {})
    else:
        checked("refused at a transfer" if result.entry.type is TxType.TRANSFER else "refused")
        assert first_bad is not None
        e, at = model[first_bad]
        assert result.entry == e and result.location == e.location
        assert result.stock_would_be == at[e.location] < 0
        assert result.stock_before == at[e.location] + (e.quantity if e.type is not TxType.ADJUST else -e.quantity)


@settings(max_examples=200, deadline=None)
@given(located_histories())
def test_a_history_no_location_of_which_goes_below_zero_is_accepted_whole(history):
    result = replay(history)
    assert isinstance(result, Replay)
    assert [p.entry for p in result.posted] == timeline(history)
    checked("with transfers" if any(e.type is TxType.TRANSFER for e in history) else "without transfers")


@settings(max_examples=300, deadline=None)
@given(located_histories(), st.data())
def test_replaying_from_any_point_with_the_stocks_there_equals_a_full_replay(history, data):
    full = replay(history)
    assert isinstance(full, Replay)
    ordered = timeline(history)
    cut = data.draw(st.integers(0, len(ordered)))
    start = full.posted[cut - 1].figures.position if cut else EMPTY
    stocks = dict(list(stocks_of(ordered))[cut - 1][1]) if cut else {}
    partial = replay(ordered[cut:], start, stocks)
    assert isinstance(partial, Replay)
    assert partial.posted == full.posted[cut:]
    assert partial.end == full.end and nonzero(partial.stocks) == nonzero(full.stocks)
    checked("from the start" if not cut else "from the end" if cut == len(ordered) else "from a point")


@st.composite
def located_changes(draw: st.DrawFn, history: list[Entry]) -> tuple[Entry | None, list[Entry], str]:
    """A change as a user makes it: (the row it takes out, the entries it puts in, what it is)."""
    codes = sorted({c for e in history for c in e.locations} | {MAIN, "NEW"})
    what = draw(st.sampled_from(["location", "to_location", "quantity", "at", "delete", "insert", "to a transfer"]))
    if what == "insert":
        seq = max((e.seq for e in history), default=0) + 1
        return None, [_located(draw, seq, BASE + timedelta(hours=draw(st.integers(0, 21))), tuple(codes), None)], what
    transfers = [e for e in history if e.type is TxType.TRANSFER]
    target = draw(st.sampled_from(transfers if transfers and draw(st.booleans()) else history))
    if what == "delete":
        return target, [], what
    if what == "at":
        return target, [target._replace(at=BASE + timedelta(hours=draw(st.integers(0, 21))))], what
    if what == "quantity":
        if target.type is TxType.ADJUST:
            q = draw(st.integers(1, 8)) * draw(st.sampled_from([1, -1]))
            return target, [target._replace(quantity=q, unit_price=target.unit_price if q > 0 else None)], what
        low = 0 if target.type is TxType.COUNT else 1
        return target, [target._replace(quantity=draw(st.integers(low, 12)))], what
    if what == "to_location" and target.to_location is not None:
        to = draw(st.sampled_from([c for c in codes if c != target.location]))
        return target, [target._replace(to_location=to)], what
    if what == "to a transfer" and target.type is not TxType.TRANSFER:
        to = draw(st.sampled_from([c for c in codes if c != target.location]))
        moved = target._replace(type=TxType.TRANSFER, quantity=max(1, abs(target.quantity)), unit_price=None,
                                reason=None, to_location=to)  # fmt: skip
        return target, [moved], what
    where = draw(st.sampled_from([c for c in codes if c != target.location and c != target.to_location]))
    return target, [target._replace(location=where)], "location"


def recompute_like(
    before: Replay, drop: Posted | None, places: list[Entry], first_chunk: int
) -> tuple[Replay | Settled | Breach, int]:
    """What app/services/recompute.py does with a change, on the stored rows of `before` (its end
    stocks are the product's `stocks`): the position and the stock by location before the change's
    first point (as `_stocks_before` reads them: the last row at each other location, MAIN the
    rest), then the rows from there in growing chunks (`_refold_from`), stored rows as `Stored`
    with their stored figures, the placed entries, and the dropped row as `Gone` when `watch` asks.
    Returns the outcome and how many stored rows lie before the change's first point."""
    splice = Splice.of(LedgerRow(drop, None, "SKU") if drop else None, places)
    product_stocks = dict(before.stocks)
    last_key = before.posted[-1].entry.key if before.posted else None
    if drop is None and (last_key is None or splice.start > last_key):  # an append reads nothing
        now = product_stocks if product_stocks else None
        return refold(before.end, timeline(places), splice.horizon, now), len(before.posted)
    prior = [p for p in before.posted if p.entry.key < splice.start]
    start = prior[-1].figures.position if prior else EMPTY
    others = (set(product_stocks) | splice.locations) - {MAIN}
    stocks: dict[str, int] | None = None
    if others:
        found: dict[str, int] = {}
        for p in prior:
            units_there = (p.figures.location_stock_after, p.figures.to_location_stock_after)
            for code, units in zip(p.entry.locations, units_there, strict=False):
                if code in others and units is not None:
                    found[code] = units
        main = start.stock - sum(found.values())
        stocks = {**found, MAIN: main} if main or MAIN in product_stocks else found
    stored_rows = [
        Stored(p.entry, p.figures.position, p.figures.location_stock_after, p.figures.to_location_stock_after)
        for p in before.posted[len(prior) :]
        if drop is None or p.entry.seq != drop.entry.seq
    ]
    pending: list[Entry | Gone] = sorted([*splice.places, *filter(None, [splice.gone])], key=_key_of)
    watched = {code: (stocks or {}).get(code, 0) for code in splice.watch}
    chunks = RefoldChunks.starting_at(first_chunk)
    position, limit, read, folded = start, chunks.first, 0, []
    while True:
        chunk = stored_rows[read : read + limit]
        read += len(chunk)
        is_last = len(chunk) < limit
        rows: list[Stored | Entry | Gone] = list(chunk)
        due = len(pending) if is_last else bisect_left([_key_of(e) for e in pending], chunk[-1].entry.key)
        if due:
            rows = sorted([*rows, *pending[:due]], key=_key_of)
            del pending[:due]
        outcome = refold(position, rows, splice.horizon, stocks, watched)
        if isinstance(outcome, Breach):
            return outcome, len(prior)
        folded.extend(outcome.posted)
        if isinstance(outcome, Settled):
            return Settled(tuple(folded)), len(prior)
        if is_last:
            return Replay(tuple(folded), outcome.end, outcome.stocks), len(prior)
        position, stocks, watched = outcome.end, dict(outcome.stocks), dict(outcome.watched)
        limit = min(limit * 4, chunks.largest)


def _key_of(row: Stored | Entry | Gone) -> tuple[datetime, int]:
    return row.key if isinstance(row, Entry) else row.entry.key


@settings(max_examples=1000, deadline=None)
@given(located_histories(min_size=1), st.data())
def test_a_refold_of_any_change_as_recompute_makes_it_agrees_with_a_full_replay(history, data):
    """Change a location, a destination, a quantity or a time, delete a row (a TRANSFER too) or put
    a new one in; refold the way recompute does. A refusal is the full replay's, at the same row and
    location; a settled refold's rows and then the stored rows after them are the full replay's, on
    every figure (the stock at each location included), and so are its end position and stock by
    location (a settled one: the stored end)."""
    before = replay(history)
    assert isinstance(before, Replay)
    target, places, what = data.draw(located_changes(history))
    drop = next((p for p in before.posted if p.entry is target), None)
    after = replay([e for e in history if e is not target] + places)
    outcome, kept = recompute_like(before, drop, places, data.draw(st.integers(1, 6)))
    touched = Splice.of(LedgerRow(drop, None, "SKU") if drop else None, places).locations
    several = "several locations" if len(touched) > 1 else "one location"
    if isinstance(after, Breach):
        assert isinstance(outcome, Breach), (outcome, after)
        assert (outcome.entry, outcome.location) == (after.entry, after.location)
        assert outcome.stock_would_be == after.stock_would_be
        checked(f"{what}: refused")
        return
    assert not isinstance(outcome, Breach), (outcome, after)
    expected = after.posted[kept:]
    if isinstance(outcome, Settled):
        stored_after = [p for p in before.posted[kept:] if drop is None or p.entry.seq != drop.entry.seq]
        placed = sum(1 for p in outcome.posted if p.entry in places)
        untouched = tuple(stored_after[len(outcome.posted) - placed :])
        assert location_figures(outcome.posted + untouched) == location_figures(expected)
        assert outcome.posted + untouched == expected
        assert before.end == after.end and nonzero(before.stocks) == nonzero(after.stocks)
        checked(f"{what} ({several}): settled early")
    else:
        assert location_figures(outcome.posted) == location_figures(expected)
        assert outcome.posted == expected
        assert outcome.end == after.end and nonzero(outcome.stocks) == nonzero(after.stocks)
        checked(f"{what} ({several}): refolded to the end")
