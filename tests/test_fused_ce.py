"""Tests for lossbook._fused_ce: the fused kernel of softmax cross-entropy with
class-index targets.

Blocks with and without a shift, rows too small for their block's shift,
ignored rows across block boundaries and the NaN/inf check on block extremes,
exercised through ``softmax_cross_entropy`` with ``_fused_ce._BLOCK_BYTES``
patched. References: ``oracle.ref_softmax_ce`` and ``oracle.ref_index_ce_grad``
(PyTorch's documented formulas, in 60-digit mpmath), and the oracle's
``nll`` at extreme logits.

Error bound ``MAX_ULP_FUSED``, in ULPs of the result's dtype at the exact
value, asserted on logits up to +-1e4 (float64), +-80 (float32) and +-10
(float16), including losses as small as exp(-40): float16 1 (rounded once
from float32; measured 0.50), float32 6 (measured 3.1: each float32 ``exp``
contributes up to about one ulp to ``rest / e_y``), float64 4 (measured 1.4).
Measured 2026-11 with NumPy 2.4 (AVX-512 exp); the bound leaves a factor of
about two for other CPUs' exp and log.
"""

from __future__ import annotations

import numpy as np
import pytest

import lossbook as lb
from lossbook import _fused_ce
from tests import oracle
from tests.oracle import (
    DTYPES,
    MAX_ULP_FUSED,
    REDUCTIONS,
    extreme_rows,
    ref_index_ce_grad,
    ref_softmax_ce,
    vg_ce,
)

# --- tiny losses ------------------------------------------------------------------


def test_tiny_loss_keeps_relative_accuracy() -> None:
    for dtype, gap in [(np.float64, 700.0), (np.float32, 85.0), (np.float16, 9.0)]:
        z = np.array([[gap, 0.0]], dtype=dtype)
        got = lb.softmax_cross_entropy(z, np.array([0]), reduction="sum")
        expected = oracle.mp.log1p(oracle.mp.exp(-oracle.mpf(z[0, 0])))
        assert oracle.ulp_error(got, expected, dtype) <= MAX_ULP_FUSED[dtype]
        assert got > 0


# --- the fused kernel: blocks, shifts, fallback rows -----------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("block_bytes", [1, 100, 512 * 1024])
@pytest.mark.parametrize("weighted", [False, True])
def test_fused_kernel_matches_general_path(
    dtype: type, block_bytes: int, weighted: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Blocks with a shift, without one, and rows too small for the block's shift."""
    monkeypatch.setattr(_fused_ce, "_BLOCK_BYTES", block_bytes)
    rng = np.random.default_rng(5)
    scale = 3.0 if dtype == np.float16 else 30.0
    z = rng.normal(0, scale, (40, 6))
    z[5] -= 60.0 if dtype == np.float16 else 300.0  # exponentials vanish under the block shift
    z[6] = -30.0 if dtype == np.float16 else -500.0
    z[7] += 9.0 if dtype == np.float16 else 200.0  # forces a shift
    z[8] = [2.0, 2.0, 2.0, 1.0, 0.0, 2.0]  # ties at the top
    z = z.astype(dtype)
    y = rng.integers(0, 6, 40)
    y[8] = 0
    weight = rng.uniform(0.5, 2.0, 6) if weighted else None
    y[[3, 30]] = -1
    # Values: a few ulps. Gradient entries: exp(z - s) with z - s rounded is good to
    # about |z - s| ulps (up to ~90 here) -- the conditioning of exp, not an error in it.
    tol = {np.float16: 2e-3, np.float32: 1e-5, np.float64: 2e-14}[dtype]
    gtol = {np.float16: 2e-3, np.float32: 1e-5, np.float64: 1e-13}[dtype]
    for reduction in REDUCTIONS:
        value, grad = vg_ce(z, y, weight=weight, ignore_index=-1, reduction=reduction)
        expected = ref_softmax_ce(z, y, weight=weight, ignore_index=-1, reduction=reduction)
        np.testing.assert_allclose(np.asarray(value, np.float64), expected, rtol=tol)
        expected_grad = ref_index_ce_grad(z, y, weight, -1, reduction)
        atol = float(np.finfo(dtype).smallest_subnormal)  # float16 gradients go subnormal
        np.testing.assert_allclose(grad.astype(np.float64), expected_grad, rtol=gtol, atol=atol)
        assert grad.dtype == dtype


def test_fused_kernel_with_ignored_rows_across_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_fused_ce, "_BLOCK_BYTES", 64)
    rng = np.random.default_rng(6)
    z = rng.normal(0, 2, (13, 4))
    y = rng.integers(0, 4, 13)
    y[[0, 5, 12]] = 7
    value, grad = vg_ce(z, y, ignore_index=7, reduction="none")
    assert np.all(value[[0, 5, 12]] == 0)
    assert np.all(grad[[0, 5, 12]] == 0)
    np.testing.assert_allclose(value, ref_softmax_ce(z, y, ignore_index=7, reduction="none"))


@pytest.mark.parametrize("dtype", DTYPES)
def test_value_and_grad_value_is_the_loss_also_for_huge_weights(dtype: type) -> None:
    """Weights beyond the fused kernel's range take another path for the gradient only."""
    z = np.array([[0.0, 1.5, 1e-3], [2.0, -1.0, 0.5]], dtype=dtype)
    y = np.array([1, 0])
    for weight in [np.full(3, 1e308), np.array([1e308, 1.0, 0.0])]:
        for reduction in ["sum", "none"]:
            value, grad = vg_ce(z, y, weight=weight, reduction=reduction)
            loss = lb.softmax_cross_entropy(z, y, weight=weight, reduction=reduction)
            np.testing.assert_array_equal(value, loss)
            assert not np.isnan(grad).any()


# --- oracle at extreme logits ------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("block_bytes", [16, 512 * 1024])
def test_softmax_ce_index_targets_oracle(
    dtype: type, block_bytes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_fused_ce, "_BLOCK_BYTES", block_bytes)
    z, y = extreme_rows(dtype)
    got = lb.softmax_cross_entropy(z, y, reduction="none")
    assert got.dtype == dtype
    errors = [
        oracle.ulp_error(g, oracle.nll(row, t), dtype) for g, row, t in zip(got, z, y, strict=True)
    ]
    assert max(errors) <= MAX_ULP_FUSED[dtype], (max(errors), z[int(np.argmax(errors))])


# --- validation in every block ----------------------------------------------------


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_softmax_ce_nan_or_inf_anywhere_is_caught(smoothing: float) -> None:
    """The fused kernel checks block extremes; every position must be seen."""
    rng = np.random.default_rng(10)
    for bad in [np.nan, np.inf, -np.inf]:
        for position in [(0, 0), (17, 4), (39, 5)]:
            z = rng.normal(size=(40, 6)).astype(np.float32)
            z[position] = bad
            if bad == -np.inf and position[1] != 0 and not smoothing:
                continue  # a mask off the target: accepted (test_softmax_ce.py)
            with pytest.raises(ValueError, match=r"logits contains|-inf"):
                vg_ce(z, np.zeros(40, int), label_smoothing=smoothing)


# --- label smoothing --------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", [{}, {"weight": "w"}, {"ignore_index": 2}])
@pytest.mark.parametrize("block_bytes", [64, 512 * 1024])
def test_fused_label_smoothing_matches_the_float64_path(
    monkeypatch: pytest.MonkeyPatch, reduction: str, options: dict, block_bytes: int
) -> None:
    """float32 logits with smoothing take the fused kernel; float64 the core: same numbers."""
    monkeypatch.setattr(_fused_ce, "_BLOCK_BYTES", block_bytes)
    rng = np.random.default_rng(11)
    z32 = (rng.standard_normal((37, 6)) * 3).astype(np.float32)
    y = rng.integers(0, 6, 37)
    kwargs = {k: (rng.uniform(0.1, 3.0, 6) if val == "w" else val) for k, val in options.items()}
    value32, grad32 = vg_ce(z32, y, label_smoothing=0.2, reduction=reduction, **kwargs)
    value64, grad64 = vg_ce(
        z32.astype(np.float64), y, label_smoothing=0.2, reduction=reduction, **kwargs
    )
    assert grad32.dtype == np.float32
    np.testing.assert_allclose(value32, value64, rtol=4e-7)
    np.testing.assert_allclose(grad32, grad64, rtol=1e-5, atol=1e-7 * np.abs(grad64).max())


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_fused_label_smoothing_keeps_a_tiny_loss(dtype: type) -> None:
    # With one class, or weight on the target class only, the smoothed loss is
    # (1 - eps + eps / C) w_y (-log p_y): the fused pass's log(e_y + rest) - m lost the
    # smoothing term (3.6% low in float32) or left rounding noise where the loss is 0.
    eps = 0.1
    single = lb.softmax_cross_entropy(
        np.array([[1.0232404]], dtype=dtype), np.array([0]), label_smoothing=eps
    )
    assert single == 0.0
    z = np.array([[30.0, 0.0, -5.0], [4.0, 1.0, 0.5]], dtype=dtype)
    got = lb.softmax_cross_entropy(
        z,
        np.array([0, 0]),
        weight=np.array([1.0, 0.0, 0.0]),
        label_smoothing=eps,
        reduction="none",
    )
    for row, value in zip(z, got, strict=True):
        expected = -(1 - oracle.mp.mpf(eps) * 2 / 3) * oracle.log_softmax(row)[0]
        assert oracle.ulp_error(value, expected, dtype) <= 2


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_fused_smoothed_gradient_of_the_target_uses_the_exact_class_weight(dtype: type) -> None:
    # The target entry is scale * p_y - on - spread * w_y with scale from float64 weights;
    # w_y rounded to the compute dtype left spread * (w_y - float32(w_y)) behind: a
    # gradient of 1e-8 for one class (true 0), 60% off for a tiny gradient.
    grad = lb.grad(lb.softmax_cross_entropy)
    w = np.array([1.81613301, 0.0, 0.0])
    one = grad(np.array([[0.3]], dtype=dtype), np.array([0]), weight=w[:1], label_smoothing=1.0)
    assert one[0, 0] == 0.0
    z = np.array([[8.0, 0.0, -1.0]], dtype=dtype)
    got = grad(z, np.array([0]), weight=w, label_smoothing=0.5, reduction="sum")
    mp = oracle.mp
    # Only class 0 has weight: the target mass is w_0 (1 - eps + eps / 3) on class 0.
    expected = (
        -oracle.mpf(w[0]) * (1 - mp.mpf(0.5) * 2 / 3) * (1 - mp.exp(oracle.log_softmax(z[0])[0]))
    )
    assert oracle.ulp_error(got[0, 0], expected, dtype) <= 2
