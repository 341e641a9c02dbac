"""Benchmarks of the SPC engine (spc/engine). Prints its figures; never asserts.

    .venv/bin/python bench/engine.py              # figures as a table
    .venv/bin/python bench/engine.py --markdown   # the docs/performance.md section

Targets (issue "SPC engine"): all eight Nelson rules over 1,000,000 points < 0.5 s on one
core; one incremental evaluation of a new point < 50 µs; limits for 100,000 subgroups of 5
< 50 ms. The process pins itself to one CPU and numpy to one thread.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from spc import engine as E  # noqa: E402


def pin_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "not pinned (no sched_setaffinity)"


def timed(fn: Callable[[], object], repeat: int, warmup: bool = True) -> tuple[float, float]:
    """(best, median) wall time in seconds over ``repeat`` runs, after one warm-up."""
    if warmup:
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def per_call(fn: Callable[[], object], calls: int, repeat: int = 5) -> tuple[float, float]:
    """(best, median) seconds per call of a tiny function, measured over batches of calls."""
    for _ in range(1000):
        fn()
    batches = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        batches.append((time.perf_counter() - t0) / calls)
    return min(batches), statistics.median(batches)


def run() -> list[tuple[str, str, float, float, str]]:
    rows: list[tuple[str, str, float, float, str]] = []
    rng = np.random.default_rng(12345)

    # --- rules over 1,000,000 points ---------------------------------------------------
    z = rng.standard_normal(1_000_000)
    n_firings = sum(v.size for v in E.evaluate_rules_arrays(z).values())
    best, med = timed(lambda: E.evaluate_rules_arrays(z), 7)
    rows.append(
        (
            "rules 1-8, 1,000,000 random-normal z (index arrays)",
            "< 0.5 s",
            best,
            med,
            f"{n_firings:,} firings",
        )
    )
    best, med = timed(lambda: E.evaluate_rules(z), 5)
    rows.append(
        (
            "rules 1-8, 1,000,000 random-normal z (RuleFiring objects)",
            "< 0.5 s",
            best,
            med,
            f"{n_firings:,} firing objects with points",
        )
    )
    worst = np.tile([1.5, -1.5], 500_000)  # rules 4 and 8 fire at almost every point
    n_worst = sum(v.size for v in E.evaluate_rules_arrays(worst).values())
    best, med = timed(lambda: E.evaluate_rules_arrays(worst), 5)
    rows.append(
        (
            "rules 1-8, 1,000,000 alternating ±1.5 (index arrays)",
            "",
            best,
            med,
            f"{n_worst:,} firings",
        )
    )
    best, med = timed(lambda: E.evaluate_rules(worst), 2, warmup=False)
    rows.append(
        (
            "rules 1-8, 1,000,000 alternating ±1.5 (RuleFiring objects)",
            "",
            best,
            med,
            f"{n_worst:,} firing objects",
        )
    )

    # --- incremental evaluation of one new point ------------------------------------------
    window = [float(v) for v in rng.standard_normal(E.WINDOW)]
    best, med = per_call(lambda: E.evaluate_latest(window), 20_000)
    rows.append(
        ("evaluate_latest: one new point, 15-value window, rules 1-8", "< 50 µs", best, med, "")
    )
    alt_window = [1.5 * (-1) ** i for i in range(E.WINDOW)]  # rules 4, 6, 8 fire: object building
    best, med = per_call(lambda: E.evaluate_latest(alt_window), 20_000)
    rows.append(("evaluate_latest: window where rules 4, 6, 8 fire", "< 50 µs", best, med, ""))
    win = E.RuleWindow()
    stream = [float(v) for v in rng.standard_normal(200_000)]
    it = iter(stream * 10)
    best, med = per_call(lambda: win.push(next(it)), 100_000)
    rows.append(("RuleWindow.push: one new point, rules 1-8", "< 50 µs", best, med, ""))
    fit = E.xbar_r_limits(rng.normal(10, 1, (25, 5)))
    center, sigma = float(fit.primary.center), fit.sigma
    win2 = E.RuleWindow()
    it2 = iter(stream * 10)
    best, med = per_call(
        lambda: win2.push(E.z_score("xbar", 10 + next(it2) * 0.4, 5, center, sigma)), 100_000
    )
    rows.append(("z_score + RuleWindow.push (real-time path)", "< 50 µs", best, med, ""))

    # --- limits for 100,000 subgroups of 5 ---------------------------------------------------
    data = rng.normal(74.0, 0.01, (100_000, 5))
    best, med = timed(lambda: E.xbar_r_limits(data), 7)
    rows.append(("xbar_r_limits, 100,000 × 5 array", "< 50 ms", best, med, ""))
    best, med = timed(lambda: E.xbar_s_limits(data), 7)
    rows.append(("xbar_s_limits, 100,000 × 5 array", "< 50 ms", best, med, ""))
    mask = rng.random(100_000) < 0.01
    best, med = timed(lambda: E.xbar_r_limits(data, excluded=mask), 7)
    rows.append(("xbar_r_limits, 100,000 × 5 array, 1 % excluded", "", best, med, ""))
    as_lists = data.tolist()
    best, med = timed(lambda: E.xbar_r_limits(as_lists), 3)
    rows.append(
        ("xbar_r_limits, 100,000 × 5 list of lists", "", best, med, "list → array conversion")
    )
    sizes = rng.integers(3, 8, 100_000)
    ragged = [row[:n] for row, n in zip(as_lists, sizes.tolist(), strict=True)]
    best, med = timed(lambda: E.xbar_r_limits(ragged), 3)
    rows.append(
        ("xbar_r_limits, 100,000 ragged subgroups (n = 3..7)", "", best, med, "per-point limits")
    )
    values = data[:, 0].copy()
    best, med = timed(lambda: E.imr_limits(values), 7)
    rows.append(("imr_limits, 100,000 values", "", best, med, ""))
    best, med = timed(lambda: E.ewma_limits(values, lam=0.2, L=3), 5)
    rows.append(("ewma_limits, 100,000 values", "", best, med, "Python recursion"))
    best, med = timed(lambda: E.cusum(values, k=0.5, h=5), 5)
    rows.append(("cusum, 100,000 values", "", best, med, "Python recursion"))
    best, med = timed(
        lambda: E.capability(data.ravel(), usl=74.04, lsl=73.96, sigma_within=0.01), 5
    )
    rows.append(("capability, 500,000 values (incl. Anderson–Darling)", "", best, med, ""))
    return rows


def fmt(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.1f} µs"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def machine() -> str:
    cpu = cpu_name()
    return (
        f"{cpu}, {os.cpu_count()} cores (benchmark on 1), Python {platform.python_version()}, "
        f"numpy {np.__version__}, {platform.system()} {platform.machine()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--markdown", action="store_true", help="print the docs/performance.md section"
    )
    args = parser.parse_args()
    pinned = pin_one_core()
    rows = run()
    if args.markdown:
        print("## Engine (bench/engine.py)\n")
        print(f"Machine: {machine()}; {pinned}. Best and median of several runs.\n")
        print("| benchmark | target | best | median | notes |")
        print("| --- | --- | --- | --- | --- |")
        for name, target, best, med, note in rows:
            print(f"| {name} | {target} | {fmt(best)} | {fmt(med)} | {note} |")
        return
    print(f"machine: {machine()}; {pinned}")
    width = max(len(r[0]) for r in rows)
    print(f"{'benchmark':<{width}}  {'target':>9}  {'best':>9}  {'median':>9}  notes")
    for name, target, best, med, note in rows:
        print(f"{name:<{width}}  {target:>9}  {fmt(best):>9}  {fmt(med):>9}  {note}")


if __name__ == "__main__":
    main()
