"""Exact rounding rules of SPEC §2: `q6` for average cost, `m` for money."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

CENT = Decimal("0.01")
MICRO = Decimal("0.000001")
ZERO_MONEY = Decimal("0.00")
ZERO_COST = Decimal("0.000000")


# Rounding passed by position: as a keyword it costs C decimal twice as much per call,
# and a refold rounds twice per sale over 100,000s of rows.


def m(value: Decimal) -> Decimal:
    """Round half-even to cents."""
    return value.quantize(CENT, ROUND_HALF_EVEN)


def q6(value: Decimal) -> Decimal:
    """Round half-even to six decimal places."""
    return value.quantize(MICRO, ROUND_HALF_EVEN)


def q6_ratio(numerator: Decimal, denominator: int) -> Decimal:
    """`q6(numerator / denominator)` without an intermediate rounding.

    Dividing first in a finite-precision context and then quantizing could
    round twice; scaling to integers keeps the half-even decision exact.
    """
    scaled = numerator.scaleb(6)
    whole = int(scaled)
    if whole != scaled:
        # Inputs carry at most 6 decimals, so this is a programming error.
        raise ValueError(f"numerator {numerator} has more than 6 decimal places")
    quotient, remainder = divmod(whole, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2 == 1):
        quotient += 1
    return Decimal(quotient).scaleb(-6)
