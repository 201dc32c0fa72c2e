from __future__ import annotations

from decimal import Decimal

import pytest

from bitgoeul.tariff.bill import round_won
from bitgoeul.tariff.book import RoundingRule

DOWN = RoundingRule("down", 1)
DOWN10 = RoundingRule("down", 10)
HALF_UP = RoundingRule("half_up", 1)


@pytest.mark.parametrize(
    ("numerator", "denominator", "rule", "expected"),
    [
        (Decimal("557260"), 31, DOWN, 17976),  # V6 tier 1: 17,976.13
        (Decimal("41006.4"), 1, DOWN, 41006),  # V2 energy
        (Decimal("23000.5"), 1, HALF_UP, 23001),  # V1 VAT
        (Decimal("5857.5"), 1, HALF_UP, 5858),  # V4 VAT
        (Decimal("5857.4999"), 1, HALF_UP, 5857),
        (Decimal("8510.185"), 1, DOWN10, 8510),  # V1 fund
        (Decimal("261519.99"), 1, DOWN10, 261510),
        (Decimal("-301.5"), 1, DOWN, -301),  # 절사 cuts a credit towards zero
        (Decimal("-2.5"), 1, HALF_UP, -3),
        (Decimal(0), 7, DOWN, 0),
        (62, 31, DOWN, 2),
    ],
)
def test_round_won_applies_kepco_rules_exactly(
    numerator: Decimal | int, denominator: int, rule: RoundingRule, expected: int
) -> None:
    assert round_won(numerator, denominator, rule) == expected
