"""The EWMA and CUSUM recursions over a whole series, with the arithmetic of one step.

`ewma_step` and `cusum_step` define one update. The functions here give the same numbers, bit
for bit, for every point of a long series, so that a point judged alone and the same point
judged in a batch of a million carry the same statistic:

* The EWMA Eᵢ = λxᵢ + (1 − λ)Eᵢ₋₁ is a first-order linear filter. `scipy.signal.lfilter` with
  b = (λ, 0), a = (1, −(1 − λ)) computes each output as λ·xᵢ plus the rounded product
  (1 − λ)·Eᵢ₋₁ — the two products and the sum of `ewma_step`. One point and many take the same
  call, so they agree on every platform; that they also agree with `ewma_step` is tested.
* A CUSUM sum Cᵢ = max(0, dᵢ + Cᵢ₋₁) restarts at zero, which no array operation carries exactly
  (a running minimum of a cumulative sum rounds differently). The increments dᵢ are arrays; the
  clamp is one plain loop over floats, and the run lengths follow from where the sum is zero.
"""

import numpy as np
from scipy.signal import lfilter


def ewma_series(start: float, values: np.ndarray, lam: float) -> np.ndarray:
    """E₁ … Eₘ of `values`, continuing from E₀ = `start`."""
    x = np.asarray(values, dtype=float)
    if not x.size:
        return np.empty(0)
    keep = 1.0 - lam
    out, _ = lfilter([lam, 0.0], [1.0, -keep], x, zi=[keep * start])
    return out


def clamped_sums(start: float, increments: np.ndarray) -> np.ndarray:
    """Cᵢ = max(0, dᵢ + Cᵢ₋₁) from C₀ = `start`, as `cusum_step` computes each sum (with dᵢ =
    xᵢ − (T + K) for C⁺, (T − K) − xᵢ for C⁻; a NaN sum becomes 0, as there)."""
    out = [0.0] * len(increments)
    c = float(start)
    for j, d in enumerate(np.asarray(increments, dtype=float).tolist()):
        c = d + c
        if not c > 0.0:
            c = 0.0
        out[j] = c
    return np.array(out, dtype=float)


def run_lengths(start: int, positive: np.ndarray) -> np.ndarray:
    """Nᵢ = Nᵢ₋₁ + 1 where the sum is above zero, else 0 (Montgomery's N), from N₀ = `start`."""
    at = np.arange(positive.size)
    last_zero = np.maximum.accumulate(np.where(positive, -1, at)) if at.size else at
    return np.where(last_zero >= 0, at - last_zero, start + at + 1)


def cusum_series(upper: float, lower: float, upper_run: int, lower_run: int,
                 values: np.ndarray, target, allowance) -> tuple[np.ndarray, ...]:
    """(C⁺, C⁻, N⁺, N⁻) of `values` continuing from the given sums and run lengths; `target`
    (T) and `allowance` (K = kσ_x) are numbers or one per value."""
    x = np.asarray(values, dtype=float)
    up = clamped_sums(upper, x - (target + allowance))
    lo = clamped_sums(lower, (target - allowance) - x)
    return up, lo, run_lengths(upper_run, up > 0.0), run_lengths(lower_run, lo > 0.0)
