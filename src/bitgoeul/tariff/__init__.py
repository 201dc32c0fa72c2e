"""KEPCO tariffs and bills (pure domain: no I/O beyond reading the tariff data files).

Every tariff number lives in dated TOML data (``bitgoeul/tariff/data/*.toml``), each
value with ``effective_from``, ``source`` and ``status`` (verified / sourced /
unverified, as in ``docs/kepco-tariff-and-dr.md``). Users add or override values with
``BITGOEUL_TARIFF_PATH`` or ``load_tariffs(extra_paths=...)``; see
:mod:`bitgoeul.tariff.book` and ``data/README.md``.

Functions
---------
:func:`load_tariffs`
    Read the data into a :class:`TariffBook`.
:func:`compute_bill` / :func:`compute_bills`
    Residential bill of one period (Decimal) / of many periods (numpy, equal to the won).
:func:`compute_tou_bill`
    Bill of a demand-charged (TOU or seasonal) contract from interval data.
:func:`tier_status`
    Block, next bound, basic-charge jump and marginal price of a residential usage.
:func:`estimate_cashback`
    주택용 에너지캐시백 for one month against the same month in past years.
:func:`label_load_periods`
    TOU season, day type and load period of timestamps.

Contract keys (packaged data)
-----------------------------
=========================  =========================================  ================
key                        class                                      data
=========================  =========================================  ================
residential-low            주택용 저압                                2021-01-01 on
residential-high           주택용 고압                                2021-01-01 on
industrial-a1-low          산업용(갑)I 저압, seasonal                 2023-05-16 on
industrial-a1-high-a-1     산업용(갑)I 고압A 선택I, seasonal          2024-10-24 on
industrial-a1-high-a-2     산업용(갑)I 고압A 선택II, seasonal         2024-10-24 on
industrial-a2-high-a-1     산업용(갑)II 고압A 선택I, TOU              2024-01-01 on
industrial-a2-high-a-2     산업용(갑)II 고압A 선택II, TOU             2024-01-01 on
industrial-b-high-a-2      산업용(을) 고압A 선택II, TOU               incomplete [1]
general-a1-low             일반용(갑)I 저압, seasonal                 incomplete [2]
=========================  =========================================  ================

[1] energy rates 2023-05-16 and 2023-11-09 unverified; basic charge and the
2024-10-24 rates missing. [2] basic charge only; energy rates missing. Billing a day
that needs a missing value raises :class:`~bitgoeul.errors.TariffError` naming it;
supply it in a tariff file.
"""

from __future__ import annotations

from bitgoeul.tariff.batch import compute_bills
from bitgoeul.tariff.bill import Bill, BillLine
from bitgoeul.tariff.book import ContractInfo, TariffBook, TariffValue, load_tariffs
from bitgoeul.tariff.cashback import Cashback, estimate_cashback
from bitgoeul.tariff.residential import TierStatus, compute_bill, tier_status
from bitgoeul.tariff.tou import compute_tou_bill, label_load_periods

__all__ = [
    "Bill",
    "BillLine",
    "Cashback",
    "ContractInfo",
    "TariffBook",
    "TariffValue",
    "TierStatus",
    "compute_bill",
    "compute_bills",
    "compute_tou_bill",
    "estimate_cashback",
    "label_load_periods",
    "load_tariffs",
    "tier_status",
]
