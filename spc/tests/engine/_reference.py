"""Access to the published reference data sets in spc/tests/reference (public textbook data).

Each JSON file carries the raw data, the expected values with their provenance (published or
recomputed), a tolerance per field and the citation (see that directory's README.md).
``OPENSPC_REFERENCE_DIR`` overrides the location.
"""

from __future__ import annotations

import json
import math
import os
from functools import cache
from pathlib import Path
from typing import Any

_DEFAULT = Path(__file__).resolve().parents[1] / "reference"
REFERENCE_DIR = Path(os.environ.get("OPENSPC_REFERENCE_DIR", _DEFAULT))


@cache
def load(name: str) -> dict[str, Any]:
    path = REFERENCE_DIR / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(
            f"reference data set {path} not found (the data sets live in spc/tests/reference; "
            "OPENSPC_REFERENCE_DIR overrides the location)"
        )
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)


def phase_i(ds: dict[str, Any]) -> tuple[list[Any], list[bool]]:
    """Rows 0..max(phase_I_rows) and the exclusion mask that leaves exactly phase_I_rows."""
    rows = ds["phase_I_rows"]
    k = max(rows) + 1
    keep = set(rows)
    return ds["data"][:k], [i not in keep for i in range(k)]


def check(ds: dict[str, Any], key: str, actual: float | None) -> None:
    """|actual - expected| ≤ the data set's tolerance for ``key`` (published precision), and
    agreement with the exact recomputation (exact d2/d3/c4) to a relative 1e-9."""
    assert actual is not None, f"{ds['name']} {key}: engine returned None"
    expected = ds["expected"][key]
    tol = ds["tolerance"]["abs"][key]
    assert math.isfinite(actual), f"{ds['name']} {key}: {actual!r}"
    assert abs(actual - expected) <= tol, (
        f"{ds['name']} {key}: engine {actual!r}, expected {expected!r} ± {tol} "
        f"({ds.get('expected_provenance', {}).get(key, '')})"
    )
    exact = ds["recomputed"]["exact"][key]
    assert abs(actual - exact) <= 1e-9 * max(1.0, abs(exact)), (
        f"{ds['name']} {key}: engine {actual!r}, exact recomputation {exact!r}"
    )


def citation(ds: dict[str, Any]) -> str:
    return ds["source"]["citation"]
