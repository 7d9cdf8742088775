"""Benchmark: fused ``value_and_grad(softmax_cross_entropy)`` against ``np.exp``.

float32 logits of shape (8192, 1000) with integer targets, seeded. Times, in
one process, (a) one ``np.exp(logits)``, (b) the plain NumPy chain for the same
gradient (max, subtract, exp, sum, divide, subtract the one-hot) and (c)
``value_and_grad(softmax_cross_entropy)`` (mean reduction), each repeated and
reported as min and median; then prints the ratios to ``np.exp``. The target
is value_and_grad <= 3x one np.exp.

Run with ``python benchmarks/bench_softmax_cross_entropy.py [--repeat N]``.
Timings on a shared machine are noisy: compare minima.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from lossbook import softmax_cross_entropy, value_and_grad

SHAPE = (8192, 1000)
SEED = 20240604


def make_inputs() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(SEED)
    logits = rng.standard_normal(SHAPE, dtype=np.float32) * np.float32(2.0)
    target = rng.integers(0, SHAPE[1], size=SHAPE[0])
    return logits, target


def naive_value_and_grad(logits: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    """The textbook NumPy chain, for reference (one full-size temporary per step)."""
    rows = np.arange(len(target))
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    total = e.sum(axis=1, keepdims=True)
    probs = e / total
    loss = float(np.mean(np.log(total[:, 0]) - shifted[rows, target]))
    grad = probs
    grad[rows, target] -= 1.0
    grad /= len(target)
    return loss, grad


def timings(fn: Callable[[], Any], repeat: int) -> list[float]:
    fn()  # warm up: page in the output buffers, load BLAS
    result = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        result.append(time.perf_counter() - start)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30, help="timed runs per candidate")
    args = parser.parse_args()
    logits, target = make_inputs()
    fused = value_and_grad(softmax_cross_entropy)

    value, grad = fused(logits, target)
    ref_value, ref_grad = naive_value_and_grad(logits, target)
    assert abs(float(value) - ref_value) <= 1e-5 * abs(ref_value)
    assert np.allclose(grad, ref_grad, rtol=1e-4, atol=1e-9)

    candidates = {
        "np.exp(logits)": lambda: np.exp(logits),
        "naive NumPy chain": lambda: naive_value_and_grad(logits, target),
        "value_and_grad(softmax_cross_entropy)": lambda: fused(logits, target),
        "softmax_cross_entropy (value only)": lambda: softmax_cross_entropy(logits, target),
    }
    results = {name: timings(fn, args.repeat) for name, fn in candidates.items()}
    base_min = min(results["np.exp(logits)"])
    base_med = statistics.median(results["np.exp(logits)"])
    print(f"float32 logits {SHAPE}, int targets, {args.repeat} runs each")
    print(f"{'':40s} {'min ms':>8s} {'median ms':>10s} {'min/exp':>8s} {'med/exp':>8s}")
    for name, times in results.items():
        t_min, t_med = min(times), statistics.median(times)
        print(
            f"{name:40s} {t_min * 1e3:8.2f} {t_med * 1e3:10.2f} "
            f"{t_min / base_min:8.2f} {t_med / base_med:8.2f}"
        )


if __name__ == "__main__":
    main()
