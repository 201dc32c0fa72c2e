from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from bitgoeul.errors import TariffError
from bitgoeul.tariff import estimate_cashback

AFTER = dt.date(2023, 10, 1)


def test_estimate_cashback_reproduces_kepco_worked_example() -> None:
    # 332 kWh -> 298 kWh (-10%, 34 kWh): 34 x 30 + 34 x 50 = 2,720 won
    cb = estimate_cashback(298, [332], start=AFTER)
    assert cb.eligible and cb.reduction_kwh == 34 and cb.reduction_pct == Decimal("10.24")
    assert (cb.basic_won, cb.extra_won, cb.total_won) == (1020, 1700, 2720)
    assert any("regional average" in n for n in cb.notes)
    assert json.loads(json.dumps(cb.to_dict()))["total_won"] == 2720


@pytest.mark.parametrize(
    ("usage", "rate"),
    [(98, 0), (97.5, 0), (97, 30), (95, 60), (90.5, 60), (90, 80), (80, 100), (60, 100)],
)
def test_estimate_cashback_brackets(usage: float, rate: int) -> None:
    cb = estimate_cashback(usage, [100], start=AFTER)
    assert cb.basic_won_per_kwh + cb.extra_won_per_kwh == rate
    assert cb.total_won == int((100 - Decimal(str(usage))) * rate)


def test_reduction_above_30_percent_is_noted() -> None:
    assert any("above 30%" in n for n in estimate_cashback(60, [100], start=AFTER).notes)


def test_estimate_cashback_needs_history_and_beating_the_region() -> None:
    assert not estimate_cashback(90, [], start=AFTER).eligible
    assert not estimate_cashback(90, [100], regional_reduction_pct=12.0, start=AFTER).eligible
    assert estimate_cashback(90, [100], regional_reduction_pct=8.0, start=AFTER).total_won == 800
    two_years = estimate_cashback(90, [100, 110], start=AFTER)  # baseline 105
    assert two_years.baseline_kwh == 105 and two_years.reduction_kwh == 15
    assert not estimate_cashback(120, [100], start=AFTER).eligible
    with pytest.raises(ValueError, match="1-2 years"):
        estimate_cashback(90, [100, 100, 100], start=AFTER)


def test_before_2023_07_only_the_basic_cashback_applies_and_is_flagged() -> None:
    cb = estimate_cashback(298, [332], start=dt.date(2023, 5, 1))
    assert cb.total_won == 34 * 30
    assert any("unverified cashback" in w for w in cb.warnings)
    with pytest.raises(TariffError, match="begin on 2021-01-01"):
        estimate_cashback(298, [332], start=dt.date(2020, 5, 1))
