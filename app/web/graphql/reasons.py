"""Seed 001's free-text adjustment reasons ("物理盘点损耗", "补货入库", "damaged in transit") as a
Stockroom reason: the first reason one of whose words the text contains, else `other`. The text
itself is kept as the transaction's note."""

from __future__ import annotations

from app.domain.rules import Reason

# In order: the first match wins ("物理盘点损耗", a count's shrinkage, is a loss before a correction).
WORDS: tuple[tuple[Reason, tuple[str, ...]], ...] = (
    (Reason.DAMAGE, ("damage", "broken", "breakage", "损坏", "破损", "毁损", "残次")),
    (Reason.THEFT, ("theft", "stolen", "盗", "失窃")),
    (Reason.EXPIRED, ("expired", "expiry", "过期", "临期")),
    (Reason.LOSS, ("loss", "lost", "shrink", "损耗", "丢失", "遗失", "盘亏")),
    (Reason.RETURN, ("return", "退货", "退回")),
    (Reason.FOUND, ("found", "盘盈", "找回")),
    (Reason.CORRECTION, ("correction", "recount", "miscount", "盘点", "更正", "修正", "纠正")),
)


def reason_for(text: str) -> Reason:
    folded = text.casefold()
    for reason, words in WORDS:
        if any(word in folded for word in words):
            return reason
    return Reason.OTHER
