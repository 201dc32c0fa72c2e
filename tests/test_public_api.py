from __future__ import annotations

import bitgoeul


def test_all_is_sorted_and_complete() -> None:
    assert bitgoeul.__all__ == sorted(bitgoeul.__all__)
    for name in bitgoeul.__all__:
        assert hasattr(bitgoeul, name), name
