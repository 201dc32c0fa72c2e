from __future__ import annotations

import datetime as dt
import os
import re
from decimal import Decimal
from pathlib import Path

import pytest

import bitgoeul.tariff as tariff
from bitgoeul.errors import BitgoeulError, TariffError
from bitgoeul.tariff import compute_bill, compute_tou_bill, load_tariffs
from bitgoeul.tariff.book import ENV_VAR, default_book

URL_OR_DUGURS = re.compile(
    r"(https?://|\[dugurs\]|computed|assumption|not in|no verified|one spec|general-service|kwise)"
)


def test_public_all_is_sorted_and_complete() -> None:
    assert tariff.__all__ == sorted(tariff.__all__)
    for name in tariff.__all__:
        assert hasattr(tariff, name), name


def test_tariff_package_imports_no_store_service_or_adapter() -> None:
    import ast

    forbidden = (
        "bitgoeul.store",
        "bitgoeul.services",
        "bitgoeul.cli",
        "bitgoeul.api",
        "bitgoeul.web",
    )
    for path in Path(tariff.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not [n for n in names if n.startswith(forbidden)], (path.name, names)


def test_tariff_error_is_a_bitgoeul_error() -> None:
    assert issubclass(TariffError, BitgoeulError)


def test_packaged_contracts_include_residential_and_tou_classes() -> None:
    assert load_tariffs().contracts() == [
        "general-a1-low",
        "industrial-a1-high-a-1",
        "industrial-a1-high-a-2",
        "industrial-a1-low",
        "industrial-a2-high-a-1",
        "industrial-a2-high-a-2",
        "industrial-b-high-a-2",
        "residential-high",
        "residential-low",
    ]


def test_every_packaged_value_has_date_status_and_source() -> None:
    book = load_tariffs()
    assert book.series()
    for key in book.series():
        history = book.history(key)
        assert [e.effective_from for e in history] == sorted(e.effective_from for e in history)
        for entry in history:
            assert entry.status in {"verified", "sourced", "unverified"}, entry
            assert URL_OR_DUGURS.search(entry.source), (key, entry.source)
            assert entry.file.endswith(".toml")
            assert entry.missing == (entry.value is None)


def test_packaged_history_matches_the_notes() -> None:
    book = load_tariffs()
    low = [
        (e.effective_from.isoformat(), e.value)
        for e in book.history("residential-low.energy_won_per_kwh")
    ]
    assert low[:5] == [
        ("2021-01-01", tuple(Decimal(x) for x in ("88.3", "182.9", "275.6", "704.5"))),
        ("2022-04-01", tuple(Decimal(x) for x in ("93.2", "187.8", "280.5", "709.4"))),
        ("2022-10-01", tuple(Decimal(x) for x in ("100.6", "195.2", "287.9", "716.8"))),
        ("2023-01-01", tuple(Decimal(x) for x in ("112.0", "206.6", "299.3", "728.2"))),
        ("2023-05-16", tuple(Decimal(x) for x in ("120.0", "214.6", "307.3", "736.2"))),
    ]
    fund = [(e.effective_from.isoformat(), str(e.value)) for e in book.history("fund_rate")]
    assert fund == [("2021-01-01", "0.037"), ("2024-07-01", "0.032"), ("2025-07-01", "0.027")]
    deduction = [e.value.limit_won for e in book.history("residential-low.deduction")]
    assert deduction == [4000, 2000, 0]
    bounds = book.value_at("residential-low.tier_bounds_kwh", dt.date(2025, 1, 1)).value
    assert (
        bounds[6] == (300, 450, 1000) and bounds[9] == (200, 400) and bounds[11] == (200, 400, 1000)
    )


def test_values_after_2026q1_are_marked_unverified_assumptions() -> None:
    book = load_tariffs()
    for key in ("fuel_won_per_kwh", "climate_won_per_kwh", "residential-low.energy_won_per_kwh"):
        assert book.value_at(key, dt.date(2026, 4, 1)).status == "unverified"
    bill = compute_bill(350, dt.date(2026, 4, 1), dt.date(2026, 4, 30))
    assert any("fuel_won_per_kwh from 2026-04-01" in w for w in bill.warnings)


def test_value_at_before_the_data_raises_tariff_error() -> None:
    with pytest.raises(TariffError, match="begin on 2021-01-01"):
        load_tariffs().value_at("fund_rate", dt.date(2020, 12, 31))


def test_unknown_contract_names_the_known_ones() -> None:
    with pytest.raises(TariffError, match=r"unknown contract 'residential-mid'.*residential-low"):
        load_tariffs().contract("residential-mid")


# -- overrides ------------------------------------------------------------------------------
RATE_2025 = """
[contracts.residential-low]
[[contracts.residential-low.energy_won_per_kwh]]
effective_from = 2025-01-01
value = [130.0, 224.6, 317.3, 746.2]
status = "unverified"
source = "test: a hypothetical +10 won/kWh increase"
"""


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_override_file_adds_a_rate_from_a_date(tmp_path: Path) -> None:
    book = load_tariffs(extra_paths=[_write(tmp_path / "rates.toml", RATE_2025)])
    after = compute_bill(350, dt.date(2025, 10, 1), dt.date(2025, 10, 31), book=book)
    assert after.energy_won == 200 * 130 + 150 * Decimal("224.6")  # 59,690
    before = compute_bill(350, dt.date(2024, 10, 1), dt.date(2024, 10, 31), book=book)
    assert before.energy_won == 56190
    assert any("a hypothetical" in w for w in after.warnings)
    # a period spanning the new date is prorated by days: 2024-12-20..2025-01-19
    spanning = compute_bill(310, dt.date(2024, 12, 20), dt.date(2025, 1, 19), book=book)
    exact = (200 * Decimal("120.0") + 110 * Decimal("214.6")) * 12 + (
        200 * Decimal("130.0") + 110 * Decimal("224.6")
    ) * 19
    assert spanning.energy_won == int(exact / 31)


def test_override_replaces_an_entry_with_the_same_key_and_date(tmp_path: Path) -> None:
    text = """
[[climate_won_per_kwh]]
effective_from = 2023-01-01
value = 10.0
status = "sourced"
source = "https://example.org/test"
"""
    book = load_tariffs(extra_paths=[_write(tmp_path / "c.toml", text)])
    assert len(book.history("climate_won_per_kwh")) == len(
        load_tariffs().history("climate_won_per_kwh")
    )
    bill = compute_bill(350, dt.date(2025, 10, 1), dt.date(2025, 10, 31), book=book)
    assert bill.climate_won == 3500


def test_env_var_directories_and_files_are_read_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = tmp_path / "dir"
    first.mkdir()
    _write(first / "a.toml", RATE_2025)
    second = _write(
        tmp_path / "later.toml",
        RATE_2025.replace("130.0", "140.0").replace("hypothetical", "later"),
    )
    monkeypatch.setenv(ENV_VAR, os.pathsep.join([str(first), str(second), ""]))
    book = load_tariffs()
    assert book.value_at("residential-low.energy_won_per_kwh", dt.date(2025, 2, 1)).value[0] == 140
    # the default book follows the variable
    bill = compute_bill(100, dt.date(2025, 10, 1), dt.date(2025, 10, 31))
    assert bill.energy_won == 14000
    monkeypatch.delenv(ENV_VAR)
    assert (
        default_book().value_at("residential-low.energy_won_per_kwh", dt.date(2025, 2, 1)).value[0]
        == 120
    )


def test_explicit_extra_paths_win_over_the_env_var(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_VAR, str(_write(tmp_path / "env.toml", RATE_2025)))
    extra = _write(tmp_path / "extra.toml", RATE_2025.replace("130.0", "150.0"))
    book = load_tariffs(extra_paths=[extra])
    assert book.value_at("residential-low.energy_won_per_kwh", dt.date(2025, 2, 1)).value[0] == 150


def test_a_file_can_supply_missing_general_rates(tmp_path: Path) -> None:
    import pandas as pd

    text = """
[[contracts.general-a1-low.energy_won_per_kwh]]
effective_from = 2023-05-16
value = { summer = 150.0, spring_fall = 100.0, winter = 140.0 }
status = "unverified"
source = "test values, not KEPCO's"
"""
    idx = pd.date_range("2025-10-01", "2025-11-01", freq="h", tz="Asia/Seoul", inclusive="left")
    energy = pd.Series(1.0, index=idx)
    with pytest.raises(
        TariffError, match=r"general-a1-low\.energy_won_per_kwh from 2023-05-16 is not known"
    ):
        compute_tou_bill(
            energy,
            dt.date(2025, 10, 1),
            dt.date(2025, 10, 31),
            contract="general-a1-low",
            demand_kw=10,
        )
    book = load_tariffs(extra_paths=[_write(tmp_path / "general.toml", text)])
    bill = compute_tou_bill(
        energy,
        dt.date(2025, 10, 1),
        dt.date(2025, 10, 31),
        contract="general-a1-low",
        demand_kw=10,
        book=book,
    )
    assert bill.energy_won == 744 * 100
    assert bill.basic_won == 61600
    assert [line.label for line in bill.lines] == ["spring_fall"]


def test_a_file_can_define_a_new_tou_contract(tmp_path: Path) -> None:
    import pandas as pd

    text = """
[contracts.general-b-high-a-2]
kind = "tou"
name = "일반용(을) 고압A 선택II (test values)"
load_periods = "mainland"

[[contracts.general-b-high-a-2.basic_won_per_kw]]
effective_from = 2024-01-01
value = 8000
status = "unverified"
source = "test values, not KEPCO's"

[[contracts.general-b-high-a-2.energy_won_per_kwh]]
effective_from = 2024-01-01
value = { summer = [100, 200, 300], spring_fall = [100, 150, 200], winter = [110, 210, 310] }
status = "unverified"
source = "test values, not KEPCO's"
"""
    book = load_tariffs(extra_paths=[_write(tmp_path / "new.toml", text)])
    assert "general-b-high-a-2" in book.contracts()
    idx = pd.date_range("2025-07-01", "2025-07-02", freq="h", tz="Asia/Seoul", inclusive="left")
    bill = compute_tou_bill(
        pd.Series(1.0, index=idx),
        dt.date(2025, 7, 1),
        dt.date(2025, 7, 1),
        contract="general-b-high-a-2",
        demand_kw=1,
        book=book,
    )
    # Tuesday 2025-07-01: 10 light, 8 mid, 6 peak hours
    assert bill.energy_won == 10 * 100 + 8 * 200 + 6 * 300


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not = [valid", "not valid TOML"),
        (
            "[[vat_rate]]\neffective_from = 2021-01-01\nvalue = 0.1\nsource = 'x'\n",
            "status must be one of",
        ),
        (
            "[[vat_rate]]\neffective_from = 2021-01-01\nvalue = 0.1\nstatus = 'verified'\n",
            "source must be",
        ),
        (
            "[[vat_rate]]\nvalue = 0.1\nstatus = 'verified'\nsource = 'x'\n",
            "effective_from = YYYY-MM-DD",
        ),
        (
            "[[vat_rate]]\neffective_from = 2021-01-01\nvalue = 1.5\nstatus = 'verified'\nsource = 'x'\n",
            "fraction",
        ),
        (
            "[[vat_rates]]\neffective_from = 2021-01-01\nvalue = 0.1\n",
            "unknown top-level key 'vat_rates'",
        ),
        (
            "[[contracts.nobody.basic_won]]\neffective_from = 2021-01-01\nvalue = [1]\nstatus = 'verified'\nsource = 'x'\n",
            "kind must be one of",
        ),
        (
            "[[rounding]]\neffective_from = 2021-01-01\nvalue = { basic = 'floor' }\nstatus = 'verified'\nsource = 'x'\n",
            "expected the fields",
        ),
        (
            "[[fund_rate]]\neffective_from = 2021-01-01\nvalue = 0.1\nmissing = true\nstatus = 'verified'\nsource = 'x'\n",
            "must not have a value",
        ),
        ("schema = 2\n", "schema 2 is not supported"),
    ],
)
def test_invalid_tariff_files_raise_tariff_error_naming_the_file(
    tmp_path: Path, text: str, message: str
) -> None:
    path = _write(tmp_path / "bad.toml", text)
    with pytest.raises(TariffError, match=message) as info:
        load_tariffs(extra_paths=[path])
    assert "bad.toml" in str(info.value)


def test_nonexistent_tariff_path_raises(tmp_path: Path) -> None:
    with pytest.raises(TariffError, match="does not exist"):
        load_tariffs(extra_paths=[tmp_path / "nope.toml"])


def test_extra_paths_must_be_a_sequence_not_a_single_path(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="sequence"):
        load_tariffs(extra_paths=str(tmp_path))  # type: ignore[arg-type]


def test_tariff_value_to_dict_is_json_ready() -> None:
    import json

    entry = load_tariffs().value_at("rounding", dt.date(2025, 1, 1))
    data = json.loads(json.dumps(entry.to_dict()))
    assert data["value"]["total"] == {"mode": "down", "unit": 10}
    assert data["effective_from"] == "2021-01-01"
