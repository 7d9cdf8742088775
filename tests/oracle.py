"""What every test file shares: dtypes, extreme values, ULP bounds, reductions,
random logits with large gaps, the high-precision reference (mpmath, 60 digits),
the references written from PyTorch's documented loss formulas, and the
value-and-gradient forms of the two cross-entropies that several files call.

The oracle recomputes each quantity from the *exact* binary value of every
input, so the only error measured is the one lossbook commits.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import mpmath
import numpy as np

import lossbook as lb

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

# The bounds of the individual test files against the oracle, on their own inputs,
# in ULPs of the result's dtype at the exact value; the measurements behind each
# are given in the docstring or comments of the file that asserts it.
# softmax_cross_entropy's fused kernel (class-index targets; with label smoothing
# too for float16 and float32 logits), which works in float32 for those dtypes
# (test_fused_ce.py, test_softmax_ce.py).
MAX_ULP_FUSED = {np.float16: 1, np.float32: 6, np.float64: 4}
# Every other path of softmax_cross_entropy and binary_cross_entropy_with_logits,
# computed in float64 and rounded once (test_softmax_ce.py, test_binary_ce.py).
MAX_ULP_CE = {np.float16: 1, np.float32: 1, np.float64: 6}
# The sigmoid and softmax focal losses (test_focal.py).
MAX_ULP_FOCAL = {np.float16: 1, np.float32: 1, np.float64: 8}
# information, entropy, cross_entropy, kl_divergence (test_information.py). The
# arithmetic is carried out in float64 and rounded once, so float16 and float32
# results are within one rounding of the truth; float64 accumulates a few roundings
# (measured maximum 1.5 ULP; the KL terms use a series near p = q, so the bound
# holds even when KL ~ 1e-24).
MAX_ULP_INFORMATION = {np.float16: 1, np.float32: 1, np.float64: 3}
# The softmax family and the sigmoids on adversarial logits (test_special.py).
# float16 is computed in float32 and rounded once, so it is within one rounding.
# logsumexp and log_softmax are measured in ULPs of max(|result|, 1): near zero their
# error is absolute, set by the rounding of the largest logit.
# Measured maxima on these inputs (2026-11): logsumexp 0.5, softmax 1.0,
# log_softmax 1.0 ULP; the bounds leave a factor of about two.
MAX_ULP_SPECIAL = {
    "logsumexp": {np.float16: 1, np.float32: 2, np.float64: 2},
    "softmax": {np.float16: 1, np.float32: 2, np.float64: 2},
    "log_softmax": {np.float16: 1, np.float32: 2, np.float64: 2},
    "sigmoid": {np.float16: 1, np.float32: 2, np.float64: 2},
    "log_sigmoid": {np.float16: 1, np.float32: 2, np.float64: 2},
}
# linear_cross_entropy per example on extreme logits (test_linear_cross_entropy.py;
# measured worst over 20 seeds: 0.96 ULP in float32, 1.01 in float64).
MAX_ULP_LINEAR_CE = {np.float32: 2, np.float64: 4}

# The logits that the validation tests perturb one argument at a time.
ZERO_LOGITS = np.zeros((2, 3))

# The value-and-gradient forms of the two cross-entropies.
vg_ce = lb.value_and_grad(lb.softmax_cross_entropy)
vg_bce = lb.value_and_grad(lb.binary_cross_entropy_with_logits)


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


def as_mp(x: Any) -> mpmath.mpf:
    """An mpf as is (mp.diff passes those), any other number by its exact binary value."""
    return x if isinstance(x, mp.mpf) else mpf(x)


def logsumexp(row: Iterable[Any]) -> mpmath.mpf:
    return mp.log(mp.fsum(mp.exp(mpf(x)) for x in row))


def log_softmax(row: Sequence[Any]) -> list[mpmath.mpf]:
    """``(z_j - m) - log1p(sum_{k != top} exp(z_k - m))``: free of cancellation, so a
    log-probability of -1e-200 keeps its digits (``z_j - logsumexp`` would not)."""
    values = [as_mp(x) for x in row]
    top = max(range(len(values)), key=lambda k: values[k])
    m = values[top]
    rest = mp.fsum(mp.exp(x - m) for k, x in enumerate(values) if k != top)
    log_total = mp.log1p(rest)
    return [(x - m) - log_total for x in values]


def softmax(row: Sequence[Any]) -> list[mpmath.mpf]:
    return [mp.exp(x) for x in log_softmax(row)]


def nll(row: Sequence[Any], y: int) -> mpmath.mpf:
    """``-log softmax(row)[y]`` as ``log1p(sum_{j != y} exp(z_j - z_y))`` (no cancellation).

    Entries that are already mpf (rows moved by ``mp.diff``) are taken as they are.
    log(1 + 1e-400) would round to 0 at 60 digits; log1p of the off-target sum does not.
    """
    z_y = as_mp(row[y])
    return mp.log1p(mp.fsum(mp.exp(as_mp(x) - z_y) for j, x in enumerate(row) if j != y))


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


# --- references written from the PyTorch documentation -----------------------------


def ref_softmax_ce(
    logits: np.ndarray,
    target: np.ndarray,
    weight: np.ndarray | None = None,
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
) -> np.ndarray | float:
    """torch.nn.functional.cross_entropy with the class dimension last."""
    z = np.asarray(logits, np.float64)
    c = z.shape[-1]
    z2 = z.reshape(-1, c)
    w = np.ones(c) if weight is None else np.asarray(weight, np.float64)
    eps = label_smoothing
    losses, denominator = [], 0.0
    if np.issubdtype(np.asarray(target).dtype, np.integer):
        for row, y in zip(z2, np.asarray(target).reshape(-1), strict=True):
            if ignore_index is not None and y == ignore_index:
                losses.append(0.0)
                continue
            ls = log_softmax(row)
            nll = -w[y] * ls[y]
            # classes without target mass are left out: 0 * log 0 = 0 at a -inf logit
            smooth = -mp.fsum(w[k] * ls[k] for k in range(c) if w[k]) if eps else 0
            losses.append((1 - eps) * nll + eps / c * smooth)
            denominator += w[y]
    else:
        for row, t in zip(z2, np.asarray(target, np.float64).reshape(-1, c), strict=True):
            ls = log_softmax(row)
            t = t * (1 - eps) + eps / c
            losses.append(-mp.fsum(w[k] * t[k] * ls[k] for k in range(c) if w[k] * t[k]))
        denominator = float(len(z2))
    if reduction == "none":
        return np.array([float(x) for x in losses]).reshape(z.shape[:-1])
    if reduction == "sum":
        return float(mp.fsum(losses))
    return float(mp.fsum(losses) / denominator)


def ref_index_ce_grad(
    logits: np.ndarray,
    target: np.ndarray,
    weight: np.ndarray | None,
    ignore_index: int | None,
    reduction: str,
) -> np.ndarray:
    """d/dz of the PyTorch loss for index targets without smoothing: w_y (p - onehot) / D.

    In mpmath, with p_y - 1 formed as -sum_{j != y} p_j, so that tiny entries are exact.
    """
    z = np.asarray(logits, np.float64)
    c = z.shape[-1]
    w = np.ones(c) if weight is None else np.asarray(weight, np.float64)
    grad = np.zeros(z.shape)
    denominator = 0.0
    for i, y in zip(np.ndindex(z.shape[:-1]), np.asarray(target).reshape(-1), strict=True):
        if y == ignore_index:
            continue
        p = softmax(z[i])  # exp(z - lse) with lse to 60 digits
        p[y] = -mp.fsum(p[j] for j in range(c) if j != y)
        grad[i] = [w[y] * float(pj) for pj in p]
        denominator += w[y]
    return grad / denominator if reduction == "mean" else grad


def ref_log_sigmoid(x: float) -> float:
    return -math.log1p(math.exp(-x)) if x >= 0 else x - math.log1p(math.exp(x))


def ref_bce(
    logits: np.ndarray,
    target: np.ndarray,
    weight: np.ndarray | None = None,
    pos_weight: np.ndarray | None = None,
    reduction: str = "mean",
) -> np.ndarray | float:
    """torch.nn.functional.binary_cross_entropy_with_logits, element by element."""
    z = np.asarray(logits, np.float64)
    w = np.broadcast_to(1.0 if weight is None else weight, z.shape)
    pw = np.broadcast_to(1.0 if pos_weight is None else pos_weight, z.shape)
    y = np.asarray(target, np.float64)
    out = np.empty(z.shape)
    for i in np.ndindex(z.shape):
        out[i] = -w[i] * (
            pw[i] * y[i] * ref_log_sigmoid(z[i]) + (1 - y[i]) * ref_log_sigmoid(-z[i])
        )
    if reduction == "none":
        return out
    return math.fsum(out.ravel()) / (out.size if reduction == "mean" else 1)


# --- extreme inputs ---------------------------------------------------------------------


def extreme_rows(dtype: type, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Rows at +-EXTREME: spread, near-ties at the top or bottom, dominant, tiny losses."""
    r = EXTREME[dtype]
    rng = np.random.default_rng(seed)
    c = 5
    z = rng.uniform(-r, r, (160, c))
    near = 3.0 if dtype == np.float16 else 20.0
    z[:30] = rng.uniform(r - near, r, (30, c))
    z[30:50] = rng.uniform(-r, -r + 5, (20, c))
    z[50:70, 0] = r
    z[50:70, 1:] = rng.uniform(-r, 0.3 * r, (20, c - 1))
    z[70:90] = rng.standard_normal((20, c)) * 3
    gap = (1.0, 8.0) if dtype == np.float16 else (5.0, 40.0)
    z[90:130, 0] = rng.uniform(-r, r, 40)
    z[90:130, 1:] = z[90:130, :1] - rng.uniform(*gap, (40, c - 1))
    y = rng.integers(0, c, len(z))
    y[50:130] = 0  # the target is the largest logit: losses down to exp(-gap)
    return np.clip(z, -r, r).astype(dtype), y


# --- -inf masks (issue 20) ----------------------------------------------------------


def masked_logits(
    rng: np.random.Generator, n: int, n_classes: int, dtype: Any, fraction: float = 0.4
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random logits with -inf at about `fraction` of the entries, never at the target.

    Returns ``(logits, target, mask)``; every row keeps its target and so at least one
    finite entry.
    """
    z = (3.0 * rng.standard_normal((n, n_classes))).astype(dtype)
    y = rng.integers(0, n_classes, n)
    mask = rng.random((n, n_classes)) < fraction
    mask[np.arange(n), y] = False
    z[mask] = -np.inf
    return z, y, mask


def assert_masked_classes_drop_out(
    value_and_grad: Any, z: np.ndarray, y: np.ndarray, mask: np.ndarray, **kwargs: Any
) -> None:
    """A row with -inf entries has the loss of the row without those classes (per example),
    and its gradient is exactly 0 at them and that row's gradient elsewhere."""
    value, grad = value_and_grad(z, y, reduction="none", **kwargs)
    assert np.all(grad[mask] == 0.0)  # exactly zero, not tiny
    for i in range(z.shape[0]):
        keep = ~mask[i]
        sub_y = np.array([int(np.sum(keep[: y[i]]))])
        sub_value, sub_grad = value_and_grad(z[i : i + 1, keep], sub_y, reduction="none", **kwargs)
        np.testing.assert_allclose(value[i], sub_value[0], rtol=4 * np.finfo(z.dtype).eps)
        np.testing.assert_allclose(
            grad[i, keep], sub_grad[0], rtol=8 * np.finfo(z.dtype).eps, atol=1e-300
        )


def torch_cross_entropy(
    logits: np.ndarray, target: np.ndarray, **kwargs: Any
) -> tuple[np.ndarray, np.ndarray]:
    """torch.nn.functional.cross_entropy in float64 (classes last) and its gradient.

    Skips the calling test when torch is not installed.
    """
    import pytest

    torch = pytest.importorskip("torch")
    z = torch.tensor(np.asarray(logits, np.float64), requires_grad=True)
    t = torch.tensor(np.asarray(target))
    if "weight" in kwargs and kwargs["weight"] is not None:
        kwargs["weight"] = torch.tensor(np.asarray(kwargs["weight"], np.float64))
    moved = z.movedim(-1, 1) if z.ndim > 2 else z
    if t.is_floating_point() and t.ndim > 2:
        t = t.movedim(-1, 1)
    loss = torch.nn.functional.cross_entropy(moved, t, **kwargs)
    loss.sum().backward()
    return loss.detach().numpy(), z.grad.numpy()  # type: ignore[union-attr]
