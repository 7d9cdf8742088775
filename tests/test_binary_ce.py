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
