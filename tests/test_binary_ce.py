"""Tests for lossbook._binary_ce: binary cross-entropy with logits.

Expected values come from an element-by-element loop written from PyTorch's
documented formula (``oracle.ref_bce``; no PyTorch needed), and at extreme
logits from the 60-digit mpmath oracle (``oracle.log_sigmoid``).

Error bound ``MAX_ULP_CE``, in ULPs of the result's dtype at the exact value
(subnormal spacing below the normal range), asserted on logits up to +-1e4
(float64), +-80 (float32) and +-10 (float16): computed in float64 and rounded
once, float16 and float32 1 (measured 0.50), float64 6 (measured 1.1).
Measured 2026-11 with NumPy 2.4; the bound leaves room for other CPUs' exp
and log.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import lossbook as lb
from tests import oracle
from tests.oracle import (
    DTYPES,
    MAX_ULP_CE,
    REDUCTIONS,
    ZERO_LOGITS,
    extreme_rows,
    ref_bce,
    vg_bce,
)

# --- values -----------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "weight", [None, 2.5, np.array([0.5, 1.0, 2.0]), np.array([[1.0], [0.0], [3.0], [1.0]])]
)
@pytest.mark.parametrize("pos_weight", [None, np.array([1.0, 3.0, 0.5]), 2.0])
def test_bce_matches_pytorch_formula(reduction: str, weight: object, pos_weight: object) -> None:
    rng = np.random.default_rng(7)
    logits = rng.normal(0, 4, (4, 3))
    target = rng.uniform(0, 1, (4, 3))
    target[0] = [0.0, 1.0, 1.0]
    got = lb.binary_cross_entropy_with_logits(
        logits, target, weight=weight, pos_weight=pos_weight, reduction=reduction
    )
    expected = ref_bce(logits, target, weight, pos_weight, reduction)
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=0)


def test_bce_pos_weight_broadcasts_over_the_last_axis() -> None:
    z = np.zeros((2, 5, 3))
    y = np.ones((2, 5, 3))
    got = lb.binary_cross_entropy_with_logits(z, y, pos_weight=[1.0, 2.0, 3.0], reduction="none")
    np.testing.assert_allclose(got, np.broadcast_to([1.0, 2.0, 3.0], z.shape) * math.log(2))


def test_bce_every_finite_logit_is_fine() -> None:
    big = np.finfo(np.float64).max
    z = np.array([-big, -1e300, -800.0, 0.0, 800.0, 1e300, big])
    for y in [0.0, 1.0, 0.5]:
        value, grad = vg_bce(z, np.full(z.shape, y), reduction="none")
        assert np.all(np.isfinite(value) | (value == np.inf))
        assert not np.isnan(value).any()
        assert np.all(np.isfinite(grad))
    ones = lb.binary_cross_entropy_with_logits(z, np.ones(7), reduction="none")
    np.testing.assert_allclose(ones[3:], [math.log(2), 0.0, 0.0, 0.0], atol=1e-300)
    assert ones[0] == big


# --- the ends of the float range --------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_at_the_ends_of_the_float_range(dtype: type) -> None:
    big = float(np.finfo(dtype).max)
    z = np.array([-big, big, big, -big], dtype=dtype)
    y = np.array([1.0, 0.0, 1.0, 0.0])
    value, grad = vg_bce(z, y, pos_weight=np.array(2.0), weight=np.array(3.0), reduction="none")
    np.testing.assert_array_equal(value, [np.inf, np.inf, 0.0, 0.0])
    np.testing.assert_array_equal(grad, [-6.0, 3.0, 0.0, 0.0])
    mean = lb.binary_cross_entropy_with_logits(z, y)  # finfo.max / 2 in truth
    assert mean == big / 2 if dtype != np.float64 else mean in (big / 2, np.inf)


# --- oracle at extreme logits -----------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_oracle(dtype: type) -> None:
    z, _ = extreme_rows(dtype, seed=2)
    z = z.ravel()
    rng = np.random.default_rng(9)
    y = np.where(rng.random(z.size) < 0.4, rng.integers(0, 2, z.size), rng.random(z.size))
    y = y.astype(dtype)
    pw = np.array([1.0, 3.0, 0.5, 1.0, 2.0] * (z.size // 5), dtype)
    got = lb.binary_cross_entropy_with_logits(z, y, pos_weight=pw, reduction="none")
    assert got.dtype == dtype
    for g, zi, yi, pwi in zip(got, z, y, pw, strict=True):
        yi_, pwi_ = oracle.mpf(yi), oracle.mpf(pwi)
        expected = -(pwi_ * yi_ * oracle.log_sigmoid(zi) + (1 - yi_) * oracle.log_sigmoid(-zi))
        assert oracle.ulp_error(g, expected, dtype) <= MAX_ULP_CE[dtype], (zi, yi)


def _bce_extreme_inputs(dtype: type, seed: int) -> tuple[np.ndarray, ...]:
    """Logits at +-EXTREME, where exp(-|z|) underflows in the dtype, near the ends of the
    float range and near 0; hard and soft targets; weights from tiny to huge."""
    z, _ = extreme_rows(dtype, seed=seed)
    finfo = np.finfo(dtype)
    log_tiny = -math.log(float(finfo.smallest_subnormal))
    edges = [log_tiny - 2, log_tiny + 2, 2 * log_tiny, 1e-30, 3e-8, float(finfo.max) / 4]
    edges += [-math.log(float(finfo.tiny)) - 2]
    z = np.concatenate([z.ravel(), [s * e for e in edges for s in (1.0, -1.0)]]).astype(dtype)
    rng = np.random.default_rng(seed + 100)
    y = np.where(rng.random(z.size) < 0.5, rng.integers(0, 2, z.size), rng.random(z.size))
    scales = [1e-30, 1e-4, 1.0, 7.0, 1e4, 1e30] if dtype != np.float16 else [1e-4, 1.0, 7.0, 50.0]
    pw = rng.choice(scales, z.size)
    w = rng.choice(scales, z.size)
    if dtype == np.float64:
        # Known limit (float64 only): where exp(-|z|) is subnormal (708 < |z| < 745) its
        # lost bits show once weights of 1e26 bring the loss back into the normal range.
        band = np.abs(z) > -math.log(float(finfo.tiny))
        pw[band] = w[band] = 1.0
    return z, y.astype(dtype), pw.astype(dtype), w.astype(dtype)


def _ulp(actual: object, exact: object, dtype: type) -> float:
    """ulp_error, with an exact value beyond the dtype's range expected as inf."""
    top = float(np.finfo(dtype).max)
    if abs(float(exact)) > top * (1 + float(np.finfo(dtype).eps) / 2):
        return 0.0 if float(actual) == math.copysign(math.inf, float(exact)) else math.inf
    finfo = np.finfo(dtype)
    if abs(float(exact)) >= 2.0 ** (finfo.maxexp - 1):  # np.spacing overflows in the top binade
        unit = 2.0 ** (finfo.maxexp - 1 - finfo.nmant)
        return float(abs(oracle.mpf(actual) - exact) / unit)
    return oracle.ulp_error(actual, exact, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_value_and_gradient_oracle_on_extreme_inputs(dtype: type) -> None:
    """Loss and gradient against mpmath with weight and pos_weight from 1e-30 to 1e30.

    The gradient ``w ((1 - y) s(z) - p_w y s(-z))`` is checked where at most one of its
    terms is non-zero (hard targets, and soft ones in float16/float32, whose float64
    arithmetic is exact to far below their ulp): for a soft target the two terms can
    cancel, and a float64 result then carries the float64 rounding of the larger one.
    Measured maxima (2026-12, NumPy 2.4): 0.50 ulp in float16 and float32, loss 2.0
    and gradient 3.0 ulp in float64.
    """
    z, y, pw, w = _bce_extreme_inputs(dtype, seed=5)
    value, grad = vg_bce(z, y, weight=w, pos_weight=pw, reduction="none")
    _, grad = vg_bce(z, y, weight=w, pos_weight=pw, reduction="sum")
    assert value.dtype == grad.dtype == dtype
    hard = (y == 0) | (y == 1)
    for k in range(z.size):
        zi, yi, pwi, wi = (oracle.mpf(a[k]) for a in (z, y, pw, w))
        loss = -wi * (pwi * yi * oracle.log_sigmoid(zi) + (1 - yi) * oracle.log_sigmoid(-zi))
        assert _ulp(value[k], loss, dtype) <= MAX_ULP_CE[dtype], (z[k], y[k])
        if hard[k] or dtype != np.float64:
            slope = wi * ((1 - yi) * oracle.sigmoid(zi) - pwi * yi * oracle.sigmoid(-zi))
            assert _ulp(grad[k], slope, dtype) <= MAX_ULP_CE[dtype], (z[k], y[k])


@settings(max_examples=40, deadline=None)
@given(
    logits=hnp.arrays(
        np.float32,
        st.integers(1, 6),
        elements=st.floats(-3.4028234663852886e38, 3.4028234663852886e38, width=32),
    ),
    data=st.data(),
)
def test_bce_float32_matches_the_oracle(logits: np.ndarray, data: st.DataObject) -> None:
    """Any finite float32 logit, soft target and pos_weight: within MAX_ULP_CE of mpmath."""
    y = data.draw(hnp.arrays(np.float32, logits.shape, elements=st.floats(0, 1, width=32)))
    pw = np.float32(data.draw(st.floats(2.0**-100, 2.0**100, width=32)))
    value, grad = vg_bce(logits, y, pos_weight=pw, reduction="none")
    _, grad = vg_bce(logits, y, pos_weight=pw, reduction="sum")
    for zi, yi, got, g in zip(logits, y, value, grad, strict=True):
        z_, y_, p_ = oracle.mpf(zi), oracle.mpf(yi), oracle.mpf(pw)
        loss = -(p_ * y_ * oracle.log_sigmoid(z_) + (1 - y_) * oracle.log_sigmoid(-z_))
        slope = (1 - y_) * oracle.sigmoid(z_) - p_ * y_ * oracle.sigmoid(-z_)
        assert _ulp(got, loss, np.float32) <= MAX_ULP_CE[np.float32], (zi, yi)
        assert _ulp(g, slope, np.float32) <= MAX_ULP_CE[np.float32], (zi, yi)


# --- properties -------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    logits=hnp.arrays(np.float64, st.integers(1, 8), elements=st.floats(-700, 700)),
    data=st.data(),
)
def test_bce_is_nonnegative(logits: np.ndarray, data: st.DataObject) -> None:
    y = np.asarray(data.draw(hnp.arrays(np.float64, logits.shape, elements=st.floats(0, 1))))
    pw = data.draw(st.floats(0, 10))
    loss = lb.binary_cross_entropy_with_logits(logits, y, pos_weight=pw, reduction="none")
    assert np.all(loss >= 0)


# --- dtypes and shapes ------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int64, np.bool_])
def test_bce_dtypes(dtype: type) -> None:
    z = np.array([[1, 0], [0, 1]]).astype(dtype)
    out = np.float64 if dtype in (np.int64, np.bool_) else dtype
    for reduction in REDUCTIONS:
        value, grad = vg_bce(z, np.array([[1.0, 0.0], [0.5, 1.0]]), reduction=reduction)
        assert np.asarray(value).dtype == out
        assert grad.dtype == out


# --- validation -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"reduction": None}, ValueError, "reduction"),
        ({"target": np.ones((2, 2))}, ValueError, "target must have the shape"),
        ({"target": np.full((2, 3), 2.0)}, ValueError, "target has entries greater"),
        ({"target": np.full((2, 3), np.nan)}, ValueError, "target contains NaN"),
        ({"weight": np.ones(2)}, ValueError, "weight with shape"),
        ({"weight": np.ones((3, 3))}, ValueError, "weight with shape"),
        ({"weight": -1.0}, ValueError, "weight has negative"),
        ({"pos_weight": np.ones(4)}, ValueError, "pos_weight with shape"),
        ({"pos_weight": np.ones((2, 2, 3))}, ValueError, "pos_weight with shape"),
        ({"pos_weight": np.array([1.0, np.nan, 1.0])}, ValueError, "pos_weight contains NaN"),
        ({"pos_weight": np.array([1.0, -2.0, 1.0])}, ValueError, "pos_weight has negative"),
        ({"logits": np.full((2, 3), np.nan)}, ValueError, "logits contains NaN"),
        ({"logits": np.full((2, 3), -np.inf)}, ValueError, "logits contains an inf"),
        ({"logits": "abc"}, TypeError, "logits"),
    ],
)
def test_bce_validation(kwargs: dict, error: type, match: str) -> None:
    args = {"logits": ZERO_LOGITS, "target": np.zeros((2, 3)), **kwargs}
    with pytest.raises(error, match=match):
        lb.binary_cross_entropy_with_logits(args.pop("logits"), args.pop("target"), **args)
