"""What every test file shares: dtypes, extreme values, ULP bounds, reductions,
random logits with large gaps, and the high-precision reference (mpmath, 60 digits).

The oracle recomputes each quantity from the *exact* binary value of every
input, so the only error measured is the one lossbook commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import mpmath
import numpy as np

mpmath.mp.dps = 60
mp = mpmath.mp

DTYPES = [np.float16, np.float32, np.float64]
REDUCTIONS = ["mean", "sum", "none"]
# Largest |logit| the accuracy tests use: exp of it is representable in the
# compute dtype, and the gap between two such logits still has most of its bits.
EXTREME = {np.float16: 10.0, np.float32: 80.0, np.float64: 1e4}
# Largest gap between a row's top logit and the others in the random-row tests:
# up to where the smaller probabilities underflow.
GAP = {np.float16: 16.0, np.float32: 100.0, np.float64: 740.0}
# The one accuracy contract of every function of logits (softmax family and every
# loss), in ULPs of the result's dtype: float16 and float32 are computed in float64
# and rounded once (measured 0.5); float64 goes through the numerics core (measured
# maxima are given where each test asserts the bound).
MAX_ULP = {np.float16: 1, np.float32: 1, np.float64: 4}


def gap_rows(rng: np.random.Generator, dtype: Any, n: int, n_classes: int) -> np.ndarray:
    """Random rows of logits, many with a large gap between the top logit and the rest.

    Each row is standard normal noise times a random scale in [0.1, 10], plus, in
    three rows out of four, a gap drawn uniformly from [0, GAP[dtype]] added to one
    random entry -- the rows where an unrecovered rounding of z - max shows.
    """
    scale = 10.0 ** rng.uniform(-1, 1, size=(n, 1))
    z = rng.standard_normal((n, n_classes)) * scale
    gap = rng.uniform(0, GAP[dtype], size=n) * (rng.uniform(size=n) < 0.75)
    z[np.arange(n), rng.integers(0, n_classes, size=n)] += gap
    z += rng.uniform(-EXTREME[dtype] / 2, EXTREME[dtype] / 2, size=(n, 1)) * (dtype != np.float16)
    return z.astype(dtype)


def mpf(x: Any) -> mpmath.mpf:
    return mp.mpf(float(x))


def logsumexp(row: Iterable[Any]) -> mpmath.mpf:
    return mp.log(mp.fsum(mp.exp(mpf(x)) for x in row))


def log_softmax(row: Sequence[Any]) -> list[mpmath.mpf]:
    """``(z_j - m) - log1p(sum_{k != top} exp(z_k - m))``: free of cancellation, so a
    log-probability of -1e-200 keeps its digits (``z_j - logsumexp`` would not)."""
    values = [mpf(x) for x in row]
    top = max(range(len(values)), key=lambda k: values[k])
    m = values[top]
    rest = mp.fsum(mp.exp(x - m) for k, x in enumerate(values) if k != top)
    log_total = mp.log1p(rest)
    return [(x - m) - log_total for x in values]


def softmax(row: Sequence[Any]) -> list[mpmath.mpf]:
    return [mp.exp(x) for x in log_softmax(row)]


def nll(row: Sequence[Any], y: int) -> mpmath.mpf:
    """``-log softmax(row)[y]`` as ``log1p(sum_{j != y} exp(z_j - z_y))`` (no cancellation)."""
    z_y = mpf(row[y])
    return mp.log1p(mp.fsum(mp.exp(mpf(x) - z_y) for j, x in enumerate(row) if j != y))


def sigmoid(x: Any) -> mpmath.mpf:
    return 1 / (1 + mp.exp(-mpf(x)))


def log_sigmoid(x: Any) -> mpmath.mpf:
    return -mp.log1p(mp.exp(-mpf(x)))


def entropy(p: Sequence[Any]) -> mpmath.mpf:
    return -mp.fsum(mpf(pi) * mp.log(mpf(pi)) for pi in p if pi > 0)


def cross_entropy(p: Sequence[Any], q: Sequence[Any]) -> mpmath.mpf:
    return -mp.fsum(mpf(pi) * mp.log(mpf(qi)) for pi, qi in zip(p, q, strict=True) if pi > 0)


def kl_divergence(p: Sequence[Any], q: Sequence[Any]) -> mpmath.mpf:
    """sum(p log(p/q) - p + q): the KL divergence when both sums are exactly 1.

    Inputs rounded to a float dtype rarely sum to exactly 1; this form (the
    generalised KL divergence that lossbook computes) stays non-negative then.
    """
    return mp.fsum(
        (mpf(pi) * mp.log(mpf(pi) / mpf(qi)) if pi > 0 else 0) - mpf(pi) + mpf(qi)
        for pi, qi in zip(p, q, strict=True)
    )


def ulp_error(actual: Any, expected: Any, dtype: Any, floor: float = 0.0) -> float:
    """|actual - expected| in units of the last place of `dtype` at `expected`.

    The unit is taken at max(|expected|, floor): a floor turns the measure
    into a mixed absolute/relative one for results that may be near zero.
    """
    finfo = np.finfo(dtype)
    exact = mp.mpf(expected)
    if mp.isinf(exact) or np.isinf(float(actual)):
        return 0.0 if float(actual) == float(exact) else float("inf")
    scale = max(abs(float(exact)), floor, float(finfo.smallest_subnormal))
    unit = float(np.spacing(np.array(scale, dtype=dtype)))
    return float(abs(mpf(actual) - exact) / unit)


def max_ulp_error(
    actual: np.ndarray, expected: Sequence[Any], dtype: Any, floor: float = 0.0
) -> float:
    return max(
        ulp_error(a, e, dtype, floor) for a, e in zip(np.ravel(actual), expected, strict=True)
    )
