"""Properties of the fold over random histories (Hypothesis).

Histories are valid by construction (`valid_histories`: no point of the timeline goes below zero)
wherever a property is about accepted histories, so no example is thrown away silently; where a
property holds only for some examples, `assume` says so and Hypothesis counts the rest as invalid.
Each test names what it checked with `checked(label)`: a Hypothesis event (see them with
`--hypothesis-show-statistics`) and a count printed at the end of the module (see it with `-s`).
"""

import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from app.domain.ledger import EMPTY, Breach, Entry, Posted, Replay, Settled, Stored, refold, replay, timeline
from app.domain.refold_figures import fields_a_refold_can_change
from app.domain.rules import Reason, TxType

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
