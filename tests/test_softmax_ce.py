"""Tests for lossbook._softmax_ce: softmax cross-entropy on logits.

Expected values come from explicit per-example loops written from PyTorch's
documented formulas (``oracle.ref_softmax_ce``; no PyTorch needed), and at
extreme logits from the 60-digit mpmath oracle written without cancellation
(``oracle.nll``: ``-log p_y`` as ``log1p(sum_{j != y} exp(z_j - z_y))``).

Error bounds, in ULPs of the result's dtype at the exact value (subnormal
spacing below the normal range), asserted on logits up to +-1e4 (float64),
+-80 (float32) and +-10 (float16), including losses as small as exp(-40):

* ``MAX_ULP_FUSED`` -- softmax_cross_entropy with index targets (with label
  smoothing too, for float16 and float32 logits), whose fused kernel works in
  float32 for float16 and float32 input: float16 1 (rounded once from
  float32; measured 0.50), float32 6 (measured 3.1: each float32 ``exp``
  contributes up to about one ulp to ``rest / e_y``), float64 4 (measured 1.4).
* ``MAX_ULP_CE`` -- every other path, computed in float64 and rounded once:
  float16 and float32 1 (measured 0.50), float64 6 (measured 2.5 with label
  smoothing or probability targets).

Measured 2026-11 on these inputs with NumPy 2.4 (AVX-512 exp); the bounds
leave a factor of about two for other CPUs' exp and log.

The fused kernel itself (blocks, shifts, rows redone in float64) is tested in
test_fused_ce.py; what both cross-entropies share, in test_loss_common.py.
"""

from __future__ import annotations

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
    MAX_ULP_FUSED,
    REDUCTIONS,
    ZERO_LOGITS,
    extreme_rows,
    ref_softmax_ce,
    vg_ce,
)

# --- values -----------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore_index", [None, -100, 2])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2, 1.0])
def test_softmax_ce_index_targets_match_pytorch_formula(
    reduction: str, weighted: bool, ignore_index: int | None, label_smoothing: float
) -> None:
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 3, (4, 3, 5))
    target = rng.integers(0, 5, (4, 3))
    if ignore_index is not None:
        target[0, 1] = target[2, 2] = ignore_index
    weight = rng.uniform(0.1, 2.0, 5) if weighted else None
    kwargs = {"weight": weight, "ignore_index": ignore_index, "label_smoothing": label_smoothing}
    got = lb.softmax_cross_entropy(logits, target, reduction=reduction, **kwargs)
    expected = ref_softmax_ce(logits, target, reduction=reduction, **kwargs)
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=0)
    if reduction == "none":
        assert got.shape == (4, 3)
        if ignore_index is not None:
            assert got[0, 1] == 0
            assert got[2, 2] == 0


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.3])
def test_softmax_ce_probability_targets_match_pytorch_formula(
    reduction: str, weighted: bool, label_smoothing: float
) -> None:
    rng = np.random.default_rng(2)
    logits = rng.normal(0, 3, (6, 4))
    target = rng.dirichlet(np.ones(4), 6)
    target[0] = [0.2, 0.2, 0.0, 0.0]  # rows need not sum to 1, as in PyTorch
    weight = rng.uniform(0.1, 2.0, 4) if weighted else None
    got = lb.softmax_cross_entropy(
        logits, target, weight=weight, label_smoothing=label_smoothing, reduction=reduction
    )
    expected = ref_softmax_ce(
        logits, target, weight=weight, label_smoothing=label_smoothing, reduction=reduction
    )
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=0)


def test_label_smoothing_equals_smoothed_probability_target() -> None:
    rng = np.random.default_rng(3)
    logits = rng.normal(0, 4, (7, 6))
    y = rng.integers(0, 6, 7)
    one_hot = np.eye(6)[y]
    for eps in [0.0, 0.1, 0.5, 1.0]:
        for reduction in REDUCTIONS:
            by_index = lb.softmax_cross_entropy(logits, y, label_smoothing=eps, reduction=reduction)
            by_probs = lb.softmax_cross_entropy(
                logits, one_hot * (1 - eps) + eps / 6, reduction=reduction
            )
            by_probs_smoothed = lb.softmax_cross_entropy(
                logits, one_hot, label_smoothing=eps, reduction=reduction
            )
            np.testing.assert_allclose(by_index, by_probs, rtol=1e-13)
            np.testing.assert_allclose(by_index, by_probs_smoothed, rtol=1e-13)


def test_index_and_one_hot_targets_agree_including_gradient() -> None:
    rng = np.random.default_rng(4)
    logits = rng.normal(0, 5, (9, 4)).astype(np.float32)
    y = rng.integers(0, 4, 9)
    v1, g1 = vg_ce(logits, y)
    v2, g2 = vg_ce(logits, np.eye(4, dtype=np.float32)[y])
    np.testing.assert_allclose(v1, v2, rtol=1e-6)
    np.testing.assert_allclose(g1, g2, rtol=1e-5, atol=1e-9)


def test_bool_targets_are_probabilities() -> None:
    logits = np.array([[1.0, 2.0, 0.5]])
    got = lb.softmax_cross_entropy(logits, np.array([[False, True, False]]))
    assert got == pytest.approx(lb.softmax_cross_entropy(logits, np.array([1])), rel=1e-15)


def test_one_dimensional_logits_and_scalar_target() -> None:
    z = np.array([1.0, 2.0, 3.0])
    got = lb.softmax_cross_entropy(z, 2, reduction="none")
    assert np.ndim(got) == 0
    assert float(got) == pytest.approx(ref_softmax_ce(z[None], np.array([2]), reduction="sum"))


# --- empty means -----------------------------------------------------------------


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_all_ignored_mean_is_zero_with_zero_gradient(label_smoothing: float) -> None:
    z = np.array([[1.0, 2.0], [3.0, -1.0]])
    y = np.array([-100, -100])
    value, grad = vg_ce(z, y, ignore_index=-100, label_smoothing=label_smoothing)
    assert value == 0.0
    assert not np.isnan(value)
    assert np.all(grad == 0)


def test_zero_target_weights_mean_is_zero() -> None:
    value, grad = vg_ce(np.array([[1.0, 2.0]]), np.array([0]), weight=[0.0, 1.0])
    assert value == 0.0
    assert np.all(grad == 0)


# --- the ends of the float range --------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("options", [{}, {"label_smoothing": 0.1}, {"probabilities": True}])
def test_softmax_ce_at_the_ends_of_the_float_range(dtype: type, options: dict) -> None:
    """Logits of +-finfo.max: z - max overflows, and inf is then the right answer."""
    big = float(np.finfo(dtype).max)
    z = np.array([[big, -big, 0.0], [big, -big, 0.0], [-big, -big, big]], dtype=dtype)
    y = np.array([0, 1, 1])
    target = np.eye(3)[y] if options.get("probabilities") else y
    smoothing = options.get("label_smoothing", 0.0)
    value, grad = vg_ce(z, target, label_smoothing=smoothing, reduction="none")
    assert not np.isnan(value).any()
    assert np.all(np.isfinite(grad))
    assert value[1] == np.inf
    assert value[2] == np.inf
    if smoothing:
        assert value[0] > 0  # 0.1 * finfo.max in truth; inf in float64 (see the module notes)
    else:
        assert value[0] == 0.0
        np.testing.assert_array_equal(grad[0], 0.0)
        np.testing.assert_array_equal(grad[1], [1.0, -1.0, 0.0])
    assert grad[2, 1] < 0
    assert grad[2, 2] > 0


# --- class weights at the ends of the float range ----------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_weighted_mean_does_not_overflow_in_its_denominator(
    dtype: type, label_smoothing: float
) -> None:
    """'mean' is sum(w_y l) / sum(w_y): unchanged by scaling w, also where sums overflow."""
    rng = np.random.default_rng(12)
    z = rng.normal(0, 3, (4, 3)).astype(dtype)
    y = np.array([0, 1, 2, 0])
    w = np.array([1.0, 0.5, 0.25])
    kwargs = {"label_smoothing": label_smoothing}
    expected_value, expected_grad = vg_ce(z, y, weight=w, **kwargs)
    # sum(w_y) = inf in float64; 1 / sum(w_y) = inf, with subnormal weights
    for scale in [2.0**1023, 2.0**-1060]:
        value, grad = vg_ce(z, y, weight=w * scale, **kwargs)
        assert value == expected_value  # scaling by a power of two is exact
        np.testing.assert_array_equal(grad, expected_grad)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["sum", "none"])
@pytest.mark.parametrize("probabilities", [False, True])
def test_huge_class_weights_give_no_nan_gradient(
    dtype: type, reduction: str, probabilities: bool
) -> None:
    """p * w with p = 0 and w beyond the compute dtype's range is 0, not 0 * inf = NaN."""
    z = np.array([[-13.0, -800.0, -14.0], [1.0, 2.0, 3.0]], dtype=dtype)  # p[0, 1] = 0
    y = np.array([0, 1])
    target = np.ones((2, 3)) if probabilities else y  # rows need not sum to 1: sum(t w) = 3 w
    big = 2.0**1023  # 3 * big overflows float64, and so does big / exp(-13)
    value, grad = vg_ce(z, target, weight=np.full(3, big), reduction=reduction)
    _, unit_grad = vg_ce(z.astype(np.float64), target, reduction=reduction)
    assert not np.isnan(grad).any()
    assert not np.isnan(value).any()
    with np.errstate(over="ignore"):
        expected_grad = (unit_grad * big).astype(dtype)
    finite = np.isfinite(expected_grad)
    np.testing.assert_array_equal(grad[~finite], expected_grad[~finite])
    np.testing.assert_allclose(grad[finite], expected_grad[finite], rtol=4 * np.finfo(dtype).eps)


# --- oracle at extreme logits -----------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_ce_smoothing_and_probability_targets_oracle(dtype: type) -> None:
    z, y = extreme_rows(dtype, seed=1)
    eps = oracle.mp.mpf(0.1)
    got = lb.softmax_cross_entropy(z, y, label_smoothing=0.1, reduction="none")
    for g, row, t in zip(got, z, y, strict=True):
        expected = (1 - eps) * oracle.nll(row, t) + eps / 5 * oracle.mp.fsum(
            oracle.nll(row, k) for k in range(5)
        )
        # Smoothing runs the fused kernel for float16 and float32 logits.
        assert oracle.ulp_error(g, expected, dtype) <= MAX_ULP_FUSED[dtype], row
    probs = np.random.default_rng(8).dirichlet(np.full(5, 0.3), len(z)).astype(dtype)
    got = lb.softmax_cross_entropy(z, probs, reduction="none")
    for g, row, p in zip(got, z, probs, strict=True):
        expected = oracle.mp.fsum(oracle.mpf(p[k]) * oracle.nll(row, k) for k in range(5))
        assert oracle.ulp_error(g, expected, dtype) <= MAX_ULP_CE[dtype], row


@pytest.mark.parametrize("dtype", DTYPES)
def test_probability_targets_value_and_gradient_oracle(dtype: type) -> None:
    """The dense path's loss ``sum(t) log_total + sum t (-s)`` and its gradient
    ``p sum(t) - t`` (normalised in the gradient's row scale) against mpmath, with
    soft targets that do not sum to 1. Gradient entries are checked where ``p sum(t)``
    and ``t`` do not cancel beyond a factor 2 (a float64 result then carries the
    rounding of the larger term; float16/float32 everywhere). Measured maxima
    (2026-12): 0.50 ulp in float16 and float32; float64 loss 1.67, gradient 2.75.
    """
    z, _ = extreme_rows(dtype, seed=3)
    rng = np.random.default_rng(8)
    t = (rng.dirichlet(np.full(5, 0.3), len(z)) * rng.uniform(0.2, 1.0, (len(z), 1))).astype(dtype)
    value = lb.softmax_cross_entropy(z, t, reduction="none")
    _, grad = vg_ce(z, t, reduction="sum")
    for row, target, got, g in zip(z, t, value, grad, strict=True):
        log_p = oracle.log_softmax(row)
        mass = oracle.mp.fsum(oracle.mpf(x) for x in target)
        loss = -oracle.mp.fsum(oracle.mpf(target[k]) * log_p[k] for k in range(5))
        assert oracle.ulp_error(got, loss, dtype) <= MAX_ULP_CE[dtype], row
        for k in range(5):
            scaled, tk = oracle.mp.exp(log_p[k]) * mass, oracle.mpf(target[k])
            exact = scaled - tk
            if dtype != np.float64 or abs(exact) >= max(scaled, tk) / 2:
                assert oracle.ulp_error(g[k], exact, dtype) <= MAX_ULP_CE[dtype], (row, k)


# --- properties --------------------------------------------------------------------

logit_arrays = hnp.arrays(
    np.float64,
    hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=6),
    elements=st.floats(-60, 60, allow_nan=False),
)


@settings(max_examples=60, deadline=None)
@given(logits=logit_arrays, data=st.data())
def test_softmax_ce_is_nonnegative(logits: np.ndarray, data: st.DataObject) -> None:
    n, c = logits.shape
    y = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    eps = data.draw(st.floats(0, 1))
    assert np.all(lb.softmax_cross_entropy(logits, y, label_smoothing=eps, reduction="none") >= 0)
    probs = np.asarray(data.draw(hnp.arrays(np.float64, (n, c), elements=st.floats(0, 1))))
    assert np.all(lb.softmax_cross_entropy(logits, probs, reduction="none") >= 0)


@settings(max_examples=60, deadline=None)
@given(logits=logit_arrays, data=st.data())
def test_softmax_ce_gradient_rows_sum_to_zero(logits: np.ndarray, data: st.DataObject) -> None:
    n, c = logits.shape
    y = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    eps = data.draw(st.floats(0, 1))
    raw = np.asarray(data.draw(hnp.arrays(np.float64, (n, c), elements=st.floats(0.01, 1))))
    probs = raw / raw.sum(axis=1, keepdims=True)
    for reduction in ["none", "sum"]:
        for target, kw in [(y, {"label_smoothing": eps}), (probs, {})]:
            grad = lb.grad(lb.softmax_cross_entropy)(logits, target, reduction=reduction, **kw)
            np.testing.assert_allclose(grad.sum(axis=1), 0.0, atol=1e-14)


# --- dtypes and shapes ---------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int32, np.bool_])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_softmax_ce_dtypes(dtype: type, smoothing: float) -> None:
    z = np.array([[1, 0, 1], [0, 1, 1]]).astype(dtype)
    out = np.float64 if dtype in (np.int32, np.bool_) else dtype
    for reduction in REDUCTIONS:
        value, grad = vg_ce(z, np.array([0, 2]), label_smoothing=smoothing, reduction=reduction)
        assert np.asarray(value).dtype == out
        assert grad.dtype == out
        assert lb.softmax_cross_entropy(z, np.array([0, 2]), reduction=reduction).dtype == out
    value, grad = vg_ce(z, np.eye(3, dtype=np.float64)[[0, 2]])
    assert np.asarray(value).dtype == out
    assert grad.dtype == out


def test_float16_overflowing_sum_rounds_to_inf_without_warning() -> None:
    z = np.tile(np.array([[10.0, -10.0]], np.float16), (4000, 1))
    value = lb.softmax_cross_entropy(z, np.ones(4000, int), reduction="sum")
    assert value == np.inf
    assert value.dtype == np.float16


# --- validation -------------------------------------------------------------------

Y = np.array([0, 1])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"reduction": "avg"}, ValueError, "reduction"),
        ({"target": np.array([0, 3])}, ValueError, "target has class index 3"),
        ({"target": np.array([-1, 0])}, ValueError, "target has class index -1"),
        ({"target": np.array([0, -100]), "ignore_index": -1}, ValueError, "target"),
        ({"target": np.array([0, 1, 2])}, ValueError, "target holds class indices"),
        ({"target": np.array([0.5, 1.0])}, ValueError, "non-integer values"),
        ({"target": np.array([False, True])}, TypeError, "got dtype bool"),
        ({"target": np.zeros((2, 2))}, ValueError, "target holds class probabilities"),
        ({"reduction": np.array(["mean"])}, ValueError, "reduction must be"),
        ({"target": np.full((2, 3), 1.5)}, ValueError, "target has entries greater than 1"),
        ({"target": np.full((2, 3), -0.1)}, ValueError, "target has negative"),
        ({"target": np.full((2, 3), np.nan)}, ValueError, "target contains NaN"),
        ({"target": np.full((2, 3), 0.3), "ignore_index": 0}, ValueError, "ignore_index"),
        ({"target": np.array(["a", "b"])}, TypeError, "target"),
        ({"label_smoothing": 1.5}, ValueError, "label_smoothing"),
        ({"label_smoothing": -0.1}, ValueError, "label_smoothing"),
        ({"label_smoothing": float("nan")}, ValueError, "label_smoothing"),
        ({"label_smoothing": "0.1"}, TypeError, "label_smoothing"),
        ({"label_smoothing": True}, TypeError, "label_smoothing"),
        ({"ignore_index": 1.0}, TypeError, "ignore_index"),
        ({"ignore_index": True}, TypeError, "ignore_index"),
        ({"weight": np.ones(4)}, ValueError, "weight"),
        ({"weight": np.ones((1, 3))}, ValueError, "weight"),
        ({"weight": np.array([1.0, -1.0, 1.0])}, ValueError, "weight has negative"),
        ({"weight": np.array([1.0, np.inf, 1.0])}, ValueError, "weight contains an infinite"),
        ({"weight": np.array([1j, 1, 1])}, TypeError, "weight"),
        ({"logits": np.array([[0.0, np.nan, 1.0], [0, 0, 0]])}, ValueError, "logits contains NaN"),
        (
            {"logits": np.array([[0.0, np.inf, 1.0], [0, 0, 0]])},
            ValueError,
            "logits contains \\+inf",
        ),
        ({"logits": np.array([[-np.inf, 0, 1.0], [0, 0, 0]])}, ValueError, "-inf at a target"),
        ({"logits": np.full((2, 3), -np.inf)}, ValueError, "all -inf"),
        ({"logits": np.zeros((2, 0)), "target": np.array([0, 0])}, ValueError, "logits is empty"),
        ({"logits": np.float64(1.0), "target": np.array(0)}, ValueError, "logits must have"),
        ({"logits": np.array([[1j, 0, 0]]), "target": np.array([0])}, TypeError, "logits"),
    ],
)
def test_softmax_ce_validation(kwargs: dict, error: type, match: str) -> None:
    args = {"logits": ZERO_LOGITS, "target": Y, **kwargs}
    with pytest.raises(error, match=match):
        lb.softmax_cross_entropy(args.pop("logits"), args.pop("target"), **args)
    args = {"logits": ZERO_LOGITS, "target": Y, **kwargs}
    with pytest.raises(error, match=match):
        vg_ce(args.pop("logits"), args.pop("target"), **args)


def test_bool_targets_with_the_shape_of_indices_name_the_dtype() -> None:
    # One check for every loss that takes class indices (issue 20): TypeError naming bool.
    with pytest.raises(TypeError, match=r"target holds class indices.*got dtype bool"):
        lb.softmax_cross_entropy(np.zeros((2, 3)), np.array([True, False]))


def test_dense_gradient_of_the_top_class_has_no_cancellation() -> None:
    # The top entry of p * sum(t) - t is sum_{c != top} t_c p_top - t_top (1 - p_top);
    # forming sum(t) - t_top instead cost 13,000 ulp in float64 here.
    mp = oracle.mp
    t = np.array([[1.0 - 1.7950668432184304e-05, 1.7950668432184304e-05]])
    z = np.array([[40.0, 0.0]])
    lsm = oracle.log_softmax(z[0])
    probs = [mp.exp(a) for a in lsm]
    expected = probs[0] * (oracle.mpf(t[0, 0]) + oracle.mpf(t[0, 1])) - oracle.mpf(t[0, 0])
    got = lb.grad(lb.softmax_cross_entropy)(z, t, reduction="sum")
    assert oracle.ulp_error(got[0, 0], expected, np.float64) <= 4
    # Label smoothing on float64 index targets takes the same dense path.
    z3 = np.array([[40.0, 0.0, -3.0]])
    eps, w = 0.1, np.array([0.3, 1.7, 2.9])
    lsm = oracle.log_softmax(z3[0])
    target = [oracle.mpf(w[c]) * (mp.mpf(eps) / 3 + (1 - mp.mpf(eps)) * (c == 0)) for c in range(3)]
    expected = mp.exp(lsm[0]) * mp.fsum(target) - target[0]
    got = lb.grad(lb.softmax_cross_entropy)(
        z3, np.array([0]), weight=w, label_smoothing=eps, reduction="sum"
    )
    assert oracle.ulp_error(got[0, 0], expected, np.float64) <= 4


# --- -inf masks (issue 20) ------------------------------------------------------------


def test_masked_logit_matches_pytorch() -> None:
    # F.cross_entropy([[-inf, 0, 1]], [1]) is 1.3133; every loss used to raise.
    z = np.array([[-np.inf, 0.0, 1.0], [2.0, -np.inf, -1.0]])
    y = np.array([1, 0])
    expected_value, expected_grad = oracle.torch_cross_entropy(z, y, reduction="none")
    value, grad = vg_ce(z, y, reduction="none")
    np.testing.assert_allclose(value, expected_value, rtol=8e-16 * 8)
    np.testing.assert_allclose(grad, expected_grad, rtol=8e-16 * 8, atol=0)
    # and to a few ulp of the 60-digit reference
    exact = oracle.ref_softmax_ce(z, y, reduction="none")
    assert oracle.max_ulp_error(value, exact, np.float64) <= MAX_ULP_CE[np.float64]
    assert grad[0, 0] == 0.0
    assert grad[1, 1] == 0.0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "options",
    [{}, {"weight": "w"}, {"ignore_index": 2}, {"reduction": "sum"}, {"probabilities": True}],
)
def test_masks_match_pytorch_on_every_path(dtype: type, options: dict) -> None:
    rng = np.random.default_rng(20)
    z, y, mask = oracle.masked_logits(rng, 33, 7, dtype)
    kwargs: dict = {"reduction": options.get("reduction", "mean")}
    if "weight" in options:
        kwargs["weight"] = rng.uniform(0.1, 3.0, 7)
    if "ignore_index" in options:
        kwargs["ignore_index"] = 2
    target: np.ndarray = y
    if "probabilities" in options:
        target = rng.random((33, 7)) * ~mask
        target /= target.sum(axis=1, keepdims=True)
    value, grad = vg_ce(z, target, **kwargs)
    z64 = z.astype(np.float64)
    if "probabilities" in options:
        # PyTorch gives NaN here (0 * log 0 in its sum); its value at a logit of -1e4
        # instead, whose exponential underflows to exactly 0, is the finite limit.
        z64[mask] = -1e4
    expected_value, expected_grad = oracle.torch_cross_entropy(z64, target, **kwargs)
    rtol = 8 * float(np.finfo(dtype).eps)
    np.testing.assert_allclose(value, expected_value, rtol=rtol)
    np.testing.assert_allclose(
        grad, expected_grad, rtol=rtol, atol=rtol * np.abs(expected_grad).max()
    )
    assert np.all(grad[mask] == 0.0)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    dtype=st.sampled_from(DTYPES),
    n_classes=st.integers(1, 9),
    fraction=st.floats(0.0, 0.9),
)
def test_masked_classes_drop_out_of_the_softmax(
    seed: int, dtype: type, n_classes: int, fraction: float
) -> None:
    """A -inf class behaves as if it were not there: the loss of the shorter row, and a
    gradient that is exactly 0 at it (fused float16/float32 and float64 paths)."""
    z, y, mask = oracle.masked_logits(np.random.default_rng(seed), 5, n_classes, dtype, fraction)
    oracle.assert_masked_classes_drop_out(vg_ce, z, y, mask)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("z", "target", "kwargs", "match"),
    [
        ([[0.0, -np.inf, 1.0]], [1], {}, "-inf at a target"),
        ([[-np.inf, -np.inf, -np.inf], [0.0, 0.0, 0.0]], [1, 0], {}, "all -inf"),
        ([[0.0, -np.inf, 1.0]], [0], {"label_smoothing": 0.1}, "label_smoothing"),
        ([[0.0, -np.inf, 1.0]], [[0.5, 0.25, 0.25]], {}, "target has mass on a class"),
        ([[0.0, np.inf, 1.0]], [0], {}, "logits contains \\+inf"),
        ([[0.0, np.nan, 1.0]], [0], {}, "logits contains NaN"),
    ],
)
def test_masks_where_the_loss_is_infinite_raise(
    dtype: type, z: list, target: list, kwargs: dict, match: str
) -> None:
    logits = np.array(z, dtype)
    for fn in (lb.softmax_cross_entropy, vg_ce):
        with pytest.raises(ValueError, match=match):
            fn(logits, np.array(target), **kwargs)


@pytest.mark.parametrize("dtype", DTYPES)
def test_masked_row_that_is_ignored_counts_for_nothing(dtype: type) -> None:
    z = np.array([[0.0, -np.inf, 1.0], [-np.inf, 0.0, 0.0]], dtype)
    value, grad = vg_ce(z, np.array([0, 0]), ignore_index=0, reduction="sum")
    assert value == 0.0
    assert np.all(grad == 0.0)
    # ... also with label smoothing, which gives only counted rows target mass
    value, _ = vg_ce(z, np.array([0, 0]), ignore_index=0, label_smoothing=0.1, reduction="sum")
    assert value == 0.0
