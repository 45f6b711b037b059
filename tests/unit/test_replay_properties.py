"""Properties of the fold over random histories (Hypothesis)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.ledger import EMPTY, Breach, Entry, Replay, Settled, refold, replay, timeline
from app.domain.rules import Reason, TxType

pytestmark = pytest.mark.unit
BASE = datetime(2026, 1, 1, tzinfo=UTC)

prices = st.decimals(min_value=0, max_value=Decimal("99999.9999"), places=4, allow_nan=False, allow_infinity=False)


@st.composite
def entries(draw: st.DrawFn) -> list[Entry]:
    n = draw(st.integers(0, 40))
    out = []
    for seq in range(1, n + 1):
        kind = draw(st.sampled_from(list(TxType)))
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


@settings(max_examples=300, deadline=None)
@given(entries())
def test_every_accepted_history_keeps_stock_non_negative(history):
    result = replay(history)
    if isinstance(result, Replay):
        assert all(p.figures.stock_after >= 0 for p in result.posted)
        assert len(result.posted) == len(history)
    else:
        assert result.stock_would_be < 0


@settings(max_examples=300, deadline=None)
@given(entries(), st.data())
def test_replaying_from_any_checkpoint_equals_a_full_replay(history, data):
    full = replay(history)
    if not isinstance(full, Replay):
        return
    ordered = timeline(history)
    cut = data.draw(st.integers(0, len(ordered)))
    start = full.posted[cut - 1].figures.position if cut else None
    partial = replay(ordered[cut:], start) if start else replay(ordered[cut:])
    assert isinstance(partial, Replay)
    assert partial.posted == full.posted[cut:]
    assert partial.end == full.end


@settings(max_examples=300, deadline=None)
@given(entries(), st.data())
def test_a_refold_that_settles_early_agrees_with_a_full_replay(history, data):
    """Edit one entry's price; refolding the stored rows from it must give what a full replay gives."""
    before = replay(history)
    if not isinstance(before, Replay) or not before.posted:
        return
    i = data.draw(st.integers(0, len(before.posted) - 1))
    target = before.posted[i].entry
    if target.unit_price is None:
        return
    edited = target._replace(unit_price=data.draw(prices))
    after = replay([e for e in history if e is not target] + [edited])
    start = before.posted[i - 1].figures.position if i else EMPTY
    rows = [edited, *before.posted[i + 1 :]]
    outcome = refold(start, rows, edited.key)
    if isinstance(after, Breach):
        assert isinstance(outcome, Breach) and outcome.entry == after.entry
        return
    assert not isinstance(outcome, Breach)
    settled_rest = before.posted[i + len(outcome.posted) :] if isinstance(outcome, Settled) else ()
    assert tuple(outcome.posted) + tuple(settled_rest) == after.posted[i:]
