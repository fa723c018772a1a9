"""The lab's kinds pass the library's conformance kit, as any plugin's should."""

from __future__ import annotations

from typing import Any

from emma_plugins.testing import KindRef, parametrize_with_checks, registered_kinds


def test_the_lab_provides_its_data_sets() -> None:
    kinds = {ref.kind for ref in registered_kinds("dataset", provider="emma-lab")}
    assert kinds == {"htru2", "mfeat", "fsdd", "av_digits", "wave", "circle"}


@parametrize_with_checks(provider="emma-lab")
def test_every_lab_kind_passes_every_check(kind: KindRef, check: Any) -> None:
    check(kind)  # data sets absent from EMMA_DATA_DIR are skipped, never downloaded
