"""A high-precision reference (mpmath, 60 digits) and ULP error measurement.

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


def mpf(x: Any) -> mpmath.mpf:
    return mp.mpf(float(x))


def logsumexp(row: Iterable[Any]) -> mpmath.mpf:
    return mp.log(mp.fsum(mp.exp(mpf(x)) for x in row))


def softmax(row: Sequence[Any]) -> list[mpmath.mpf]:
    lse = logsumexp(row)
    return [mp.exp(mpf(x) - lse) for x in row]


def log_softmax(row: Sequence[Any]) -> list[mpmath.mpf]:
    lse = logsumexp(row)
    return [mpf(x) - lse for x in row]


def sigmoid(x: Any) -> mpmath.mpf:
    return 1 / (1 + mp.exp(-mpf(x)))


def log_sigmoid(x: Any) -> mpmath.mpf:
    return -mp.log1p(mp.exp(-mpf(x)))


def entropy(p: Sequence[Any]) -> mpmath.mpf:
    return -mp.fsum(mpf(pi) * mp.log(mpf(pi)) for pi in p if pi > 0)


def cross_entropy(p: Sequence[Any], q: Sequence[Any]) -> mpmath.mpf:
    return -mp.fsum(mpf(pi) * mp.log(mpf(qi)) for pi, qi in zip(p, q) if pi > 0)


def kl_divergence(p: Sequence[Any], q: Sequence[Any]) -> mpmath.mpf:
    """sum(p log(p/q) - p + q): the KL divergence when both sums are exactly 1.

    Inputs rounded to a float dtype rarely sum to exactly 1; this form (the
    generalised KL divergence that lossbook computes) stays non-negative then.
    """
    return mp.fsum(
        (mpf(pi) * mp.log(mpf(pi) / mpf(qi)) if pi > 0 else 0) - mpf(pi) + mpf(qi)
        for pi, qi in zip(p, q)
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


def max_ulp_error(actual: np.ndarray, expected: Sequence[Any], dtype: Any, floor: float = 0.0) -> float:
    return max(ulp_error(a, e, dtype, floor) for a, e in zip(np.ravel(actual), expected))
