"""Tests for lossbook._focal: sigmoid and softmax focal losses.

Expected values: torchvision's ``sigmoid_focal_loss`` formula and the
multi-class focal loss, written out per element in 60-digit mpmath (so the
references themselves do not cancel), and the identities with the
cross-entropies at gamma = 0.

Error bounds at extreme logits (+-1e4 float64, +-80 float32, +-10 float16), in
ULPs of the result's dtype at the exact value (subnormal spacing below the
normal range), ``oracle.MAX_ULP_FOCAL``: float16 and float32 1 (computed in
float64 and rounded once; measured 0.50), float64 8 (measured 3.2 for the
sigmoid focal loss and 4.5 for the softmax one: (1 - p_t)^gamma, alpha_t and
the cross-entropy each bring a rounding or two). Measured 2026-11 with NumPy
2.4; the bounds leave a factor of about two.
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
    EXTREME,
    MAX_ULP_FOCAL,
    REDUCTIONS,
    ZERO_LOGITS,
    as_mp,
    mp,
    vg_bce,
    vg_ce,
)

vg_sigmoid = lb.value_and_grad(lb.sigmoid_focal_loss)
vg_softmax = lb.value_and_grad(lb.softmax_focal_loss)


def ref_sigmoid_focal(z, y, alpha: float | None, gamma: float):  # type: ignore[no-untyped-def]
    """torchvision.ops.sigmoid_focal_loss, one element, in mpmath."""
    z, y = as_mp(z), as_mp(y)
    p, one_minus_p = 1 / (1 + mp.exp(-z)), 1 / (1 + mp.exp(z))
    ce = y * mp.log1p(mp.exp(-z)) + (1 - y) * mp.log1p(mp.exp(z))
    one_minus_pt = p * (1 - y) + one_minus_p * y  # = 1 - (p y + (1 - p)(1 - y))
    loss = ce * one_minus_pt ** as_mp(gamma) if gamma else ce
    if alpha is not None:
        a = as_mp(alpha)
        loss *= a * y + (1 - a) * (1 - y)
    return loss


def ref_sigmoid_focal_array(z, y, alpha, gamma, reduction):  # type: ignore[no-untyped-def]
    out = [
        ref_sigmoid_focal(a, b, alpha, gamma) for a, b in zip(np.ravel(z), np.ravel(y), strict=True)
    ]
    if reduction == "none":
        return np.array([float(x) for x in out]).reshape(np.shape(z))
    total = mp.fsum(out)
    return float(total / len(out) if reduction == "mean" else total)


def ref_softmax_focal(z, y, alpha, gamma, ignore_index, reduction):  # type: ignore[no-untyped-def]
    """-alpha_t (1 - p_t)^gamma log p_t per example; 'mean' over non-ignored examples."""
    c = np.shape(z)[-1]
    out, count = [], 0
    for row, t in zip(np.reshape(z, (-1, c)), np.ravel(y), strict=True):
        if t == ignore_index:
            out.append(mp.mpf(0))
            continue
        nll = oracle.nll(row, int(t))
        q = -mp.expm1(-nll)
        a = 1 if alpha is None else (alpha[t] if np.ndim(alpha) else alpha)
        out.append(oracle.mpf(a) * (q ** oracle.mpf(gamma) if gamma else 1) * nll)
        count += 1
    if reduction == "none":
        return np.array([float(x) for x in out]).reshape(np.shape(z)[:-1])
    total = mp.fsum(out)
    return float(total / count if reduction == "mean" else total)


# --- sigmoid focal loss ----------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("alpha", [0.25, None, 0.0, 1.0])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 3.3])
def test_sigmoid_focal_matches_torchvision_formula(
    reduction: str, alpha: float | None, gamma: float
) -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(0, 6, (3, 4))
    y = rng.uniform(0, 1, (3, 4))
    y[0] = [0, 1, 0, 1]
    got = lb.sigmoid_focal_loss(z, y, alpha=alpha, gamma=gamma, reduction=reduction)
    expected = ref_sigmoid_focal_array(z, y, alpha, gamma, reduction)
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=0)


def test_sigmoid_focal_default_reduction_is_none() -> None:
    assert lb.sigmoid_focal_loss(np.zeros((2, 3)), np.ones((2, 3))).shape == (2, 3)


@pytest.mark.parametrize("alpha", [None, 0.25, 0.8])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_sigmoid_focal_gamma_zero_is_balanced_bce(alpha: float | None, reduction: str) -> None:
    rng = np.random.default_rng(1)
    z = rng.normal(0, 5, (5, 3))
    y = np.where(rng.random((5, 3)) < 0.5, rng.integers(0, 2, (5, 3)), rng.random((5, 3)))
    focal = vg_sigmoid(z, y, alpha=alpha, gamma=0.0, reduction=reduction)
    weight = None if alpha is None else alpha * y + (1 - alpha) * (1 - y)
    bce = vg_bce(z, y, weight=weight, reduction=reduction)
    np.testing.assert_allclose(focal[0], bce[0], rtol=1e-14)
    np.testing.assert_allclose(focal[1], bce[1], rtol=1e-14, atol=1e-300)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_focal_oracle(dtype: type) -> None:
    r = EXTREME[dtype]
    rng = np.random.default_rng(2)
    z = np.concatenate([rng.uniform(-r, r, 150), rng.normal(0, 3, 50), [r, -r, 0.0]])
    z = z.astype(dtype)
    y = np.where(rng.random(z.size) < 0.6, rng.integers(0, 2, z.size), rng.random(z.size))
    y = y.astype(dtype)
    for alpha, gamma in [(0.25, 2.0), (None, 0.5), (0.7, 1.3)]:
        got = lb.sigmoid_focal_loss(z, y, alpha=alpha, gamma=gamma)
        assert got.dtype == dtype
        for g, zi, yi in zip(got, z, y, strict=True):
            error = oracle.ulp_error(g, ref_sigmoid_focal(zi, yi, alpha, gamma), dtype)
            assert error <= MAX_ULP_FOCAL[dtype], (zi, yi, alpha, gamma, error)


# --- softmax focal loss ----------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("alpha", [None, 0.25, np.array([0.1, 0.9, 0.5, 1.0, 0.0])])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("ignore_index", [None, -1, 3])
def test_softmax_focal_matches_reference(
    reduction: str, alpha: object, gamma: float, ignore_index: int | None
) -> None:
    rng = np.random.default_rng(3)
    z = rng.normal(0, 4, (2, 4, 5))
    y = rng.integers(0, 5, (2, 4))
    if ignore_index is not None:
        y[0, 0] = y[1, 3] = ignore_index
    got = lb.softmax_focal_loss(
        z, y, alpha=alpha, gamma=gamma, ignore_index=ignore_index, reduction=reduction
    )
    expected = ref_softmax_focal(z, y, alpha, gamma, ignore_index, reduction)
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=0)
    if reduction == "none" and ignore_index is not None:
        assert got[0, 0] == 0
        assert got[1, 3] == 0


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("ignore_index", [None, 1])
def test_softmax_focal_gamma_zero_is_cross_entropy(
    reduction: str, ignore_index: int | None
) -> None:
    rng = np.random.default_rng(4)
    z = rng.normal(0, 5, (8, 4))
    y = rng.integers(0, 4, 8)
    focal = vg_softmax(z, y, gamma=0.0, ignore_index=ignore_index, reduction=reduction)
    ce = lb.value_and_grad(lb.softmax_cross_entropy)(
        z, y, ignore_index=ignore_index, reduction=reduction
    )
    np.testing.assert_allclose(focal[0], ce[0], rtol=1e-14)
    np.testing.assert_allclose(focal[1], ce[1], rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize("alpha", [0.3, np.array([0.2, 0.5, 1.0, 0.7])])
def test_softmax_focal_gamma_zero_is_alpha_weighted_cross_entropy(alpha: object) -> None:
    rng = np.random.default_rng(5)
    z = rng.normal(0, 5, (8, 4))
    y = rng.integers(0, 4, 8)
    weight = np.broadcast_to(alpha, (4,))
    for reduction in ["none", "sum"]:
        focal = vg_softmax(z, y, alpha=alpha, gamma=0.0, reduction=reduction)
        ce = vg_ce(z, y, weight=weight, reduction=reduction)
        np.testing.assert_allclose(focal[0], ce[0], rtol=1e-14)
        np.testing.assert_allclose(focal[1], ce[1], rtol=1e-13, atol=1e-300)
    # 'mean' differs only in the divisor: the count for focal, sum(alpha_y) for CE.
    focal = vg_softmax(z, y, alpha=alpha, gamma=0.0)
    ce = vg_ce(z, y, weight=weight)
    ratio = weight[y].sum() / len(y)
    np.testing.assert_allclose(focal[0], ce[0] * ratio, rtol=1e-14)
    np.testing.assert_allclose(focal[1], ce[1] * ratio, rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_focal_oracle(dtype: type) -> None:
    r = EXTREME[dtype]
    rng = np.random.default_rng(6)
    z = rng.uniform(-r, r, (120, 5))
    near = 3.0 if dtype == np.float16 else 20.0
    z[:20] = rng.uniform(r - near, r, (20, 5))
    z[20:60, 1:] = z[20:60, :1] - rng.uniform(1.0, near, (40, 4))
    z = np.clip(z, -r, r).astype(dtype)
    y = rng.integers(0, 5, 120)
    y[20:60] = 0  # confident and correct: 1 - p_t is tiny
    alpha = np.array([0.25, 0.5, 0.75, 1.0, 0.1])
    for a, gamma in [(None, 2.0), (alpha, 0.5), (0.5, 3.0)]:
        got = lb.softmax_focal_loss(z, y, alpha=a, gamma=gamma, reduction="none")
        assert got.dtype == dtype
        for g, row, t in zip(got, z, y, strict=True):
            nll = oracle.nll(row, int(t))
            weight = 1 if a is None else (a[t] if np.ndim(a) else a)
            exact = oracle.mpf(weight) * (-mp.expm1(-nll)) ** oracle.mpf(gamma) * nll
            assert oracle.ulp_error(g, exact, dtype) <= MAX_ULP_FOCAL[dtype], (row, t, gamma)


# --- properties ------------------------------------------------------------------

logit_rows = hnp.arrays(
    np.float64,
    hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=5),
    elements=st.floats(-60, 60),
)


@settings(max_examples=60, deadline=None)
@given(logits=logit_rows, gamma=st.floats(0, 5), data=st.data())
def test_softmax_focal_is_nonnegative_and_at_most_ce(
    logits: np.ndarray, gamma: float, data: st.DataObject
) -> None:
    n, c = logits.shape
    y = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    focal = lb.softmax_focal_loss(logits, y, gamma=gamma, reduction="none")
    ce = lb.softmax_cross_entropy(logits, y, reduction="none")
    assert np.all(focal >= 0)
    # (1 - p_t)^gamma <= 1; equality at gamma = 0 up to the rounding of two code paths
    assert np.all(focal <= ce * (1 + 4 * np.finfo(np.float64).eps))


@settings(max_examples=60, deadline=None)
@given(
    logits=hnp.arrays(np.float64, st.integers(1, 8), elements=st.floats(-700, 700)),
    gamma=st.floats(0, 5),
    data=st.data(),
)
def test_sigmoid_focal_is_nonnegative_and_at_most_bce(
    logits: np.ndarray, gamma: float, data: st.DataObject
) -> None:
    y = np.asarray(data.draw(hnp.arrays(np.float64, logits.shape, elements=st.floats(0, 1))))
    focal = lb.sigmoid_focal_loss(logits, y, alpha=None, gamma=gamma)
    bce = lb.binary_cross_entropy_with_logits(logits, y, reduction="none")
    assert np.all(focal >= 0)
    assert np.all(focal <= bce * (1 + 4 * np.finfo(np.float64).eps))
    assert np.all(lb.sigmoid_focal_loss(logits, y, gamma=gamma) >= 0)


# --- gamma < 1 near p_t = 1 --------------------------------------------------------


@pytest.mark.parametrize("gamma", [0.1, 0.5, 0.99])
def test_sigmoid_focal_gradient_is_finite_for_small_gamma(gamma: float) -> None:
    z = np.array([5.0, 20.0, 40.0, 700.0, 1e4, -5.0, -40.0, -1e4])
    y = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0])  # all confident and correct
    grad = lb.grad(lb.sigmoid_focal_loss)(z, y, gamma=gamma)
    assert np.all(np.isfinite(grad))
    for g, zi, yi in zip(grad, z, y, strict=True):
        exact = mp.diff(lambda t, yi=yi: ref_sigmoid_focal(t, yi, 0.25, gamma), oracle.mpf(zi))
        assert float(g) == pytest.approx(float(exact), rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("gamma", [0.1, 0.5, 0.99])
def test_softmax_focal_gradient_is_finite_for_small_gamma(gamma: float) -> None:
    z = np.array([[5.0, 0.0, 0.0], [30.0, 0.0, 0.0], [60.0, -1.0, 0.0], [800.0, 0.0, 0.0]])
    y = np.zeros(4, int)
    grad = lb.grad(lb.softmax_focal_loss)(z, y, gamma=gamma, reduction="sum")
    assert np.all(np.isfinite(grad))
    for g_row, row in zip(grad, z, strict=True):
        for k in range(3):

            def loss_along(t, k=k, row=row):  # type: ignore[no-untyped-def]
                shifted = [oracle.mpf(x) for x in row]
                shifted[k] = t
                zy = shifted[0]
                nll = mp.log1p(mp.fsum(mp.exp(x - zy) for x in shifted[1:]))
                return (-mp.expm1(-nll)) ** oracle.mpf(gamma) * nll

            exact = mp.diff(loss_along, oracle.mpf(row[k]))
            assert float(g_row[k]) == pytest.approx(float(exact), rel=1e-10, abs=1e-300)


def test_focal_gradient_where_one_minus_pt_underflows() -> None:
    """1 - p_t == 0 in float64: the gradient is 0, not 0 * inf = NaN."""
    for gamma in [0.0, 0.5, 2.0]:
        z, y = np.array([1e4, -1e4]), np.array([1.0, 0.0])
        g = lb.grad(lb.sigmoid_focal_loss)(z, y, gamma=gamma)
        assert np.all(g == 0)
        g = lb.grad(lb.softmax_focal_loss)(np.array([[1e4, 0.0]]), np.array([0]), gamma=gamma)
        assert np.all(g == 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_focal_at_the_ends_of_the_float_range(dtype: type) -> None:
    """Logits of +-finfo.max: no warning, no NaN; an overflowing loss is inf."""
    big = float(np.finfo(dtype).max)
    z = np.array([[big, -big, 0.0], [big, -big, 0.0]], dtype=dtype)
    for gamma in [0.0, 0.5, 2.0]:
        value, grad = vg_softmax(z, np.array([1, 0]), gamma=gamma, reduction="none")
        assert value[0] == np.inf
        assert value[1] == 0.0
        assert np.all(np.isfinite(grad))
        np.testing.assert_array_equal(grad[1], 0.0)
        value, grad = vg_sigmoid(z.ravel(), np.array([1.0, 0.0, 0.5, 0.0, 1.0, 1.0]), gamma=gamma)
        assert not np.isnan(value).any()
        assert np.all(np.isfinite(grad))
        # ignored, or weighted 0 by alpha: 0, not 0 * inf
        for kwargs in [{"ignore_index": 1}, {"alpha": np.array([1.0, 0.0, 1.0])}]:
            value, grad = vg_softmax(z, np.array([1, 0]), gamma=gamma, reduction="none", **kwargs)
            assert value[0] == 0
            assert np.all(grad[0] == 0)
            assert np.all(np.isfinite(grad))


# --- dtypes, validation, mutation ------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int16, np.bool_])
def test_focal_dtypes(dtype: type) -> None:
    z = np.array([[1, 0, 1], [0, 1, 1]]).astype(dtype)
    out = np.float64 if dtype in (np.int16, np.bool_) else dtype
    for reduction in REDUCTIONS:
        value, grad = vg_sigmoid(z, np.ones((2, 3)), reduction=reduction)
        assert np.asarray(value).dtype == out
        assert grad.dtype == out
        value, grad = vg_softmax(z, np.array([0, 2]), reduction=reduction)
        assert np.asarray(value).dtype == out
        assert grad.dtype == out
        assert grad.shape == z.shape


def test_softmax_focal_accepts_whole_float_targets() -> None:
    z = np.array([[1.0, 2.0, 3.0]])
    assert lb.softmax_focal_loss(z, np.array([2.0])) == lb.softmax_focal_loss(z, np.array([2]))


def test_softmax_focal_all_ignored_mean_is_zero() -> None:
    value, grad = vg_softmax(np.ones((2, 3)), np.array([5, 5]), ignore_index=5)
    assert value == 0.0
    assert np.all(grad == 0)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"alpha": 1.5}, ValueError, "alpha"),
        ({"alpha": -0.25}, ValueError, "alpha"),
        ({"alpha": "0.25"}, TypeError, "alpha"),
        ({"alpha": np.array([0.5, 0.5, 0.5])}, TypeError, "alpha"),
        ({"gamma": -1.0}, ValueError, "gamma"),
        ({"gamma": float("inf")}, ValueError, "gamma"),
        ({"gamma": None}, TypeError, "gamma"),
        ({"reduction": "max"}, ValueError, "reduction"),
        ({"target": np.ones((3, 2))}, ValueError, "target must have the shape"),
        ({"target": np.full((2, 3), 1.01)}, ValueError, "target has entries greater"),
        ({"target": np.full((2, 3), np.nan)}, ValueError, "target contains NaN"),
        ({"logits": np.full((2, 3), np.nan)}, ValueError, "logits contains NaN"),
        ({"logits": np.full((2, 3), np.inf)}, ValueError, "logits contains an inf"),
    ],
)
def test_sigmoid_focal_validation(kwargs: dict, error: type, match: str) -> None:
    args = {"logits": ZERO_LOGITS, "target": np.zeros((2, 3)), **kwargs}
    with pytest.raises(error, match=match):
        lb.sigmoid_focal_loss(args.pop("logits"), args.pop("target"), **args)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"alpha": 2.0}, ValueError, "alpha"),
        ({"alpha": np.array([0.5, 1.5, 0.5])}, ValueError, "alpha must lie in"),
        ({"alpha": np.array([0.5, np.nan, 0.5])}, ValueError, "alpha contains NaN"),
        ({"alpha": np.array([0.5, 0.5])}, ValueError, "alpha must be a scalar or have shape"),
        ({"alpha": True}, TypeError, "alpha"),
        ({"gamma": -0.5}, ValueError, "gamma"),
        ({"gamma": "2"}, TypeError, "gamma"),
        ({"reduction": "Mean"}, ValueError, "reduction"),
        ({"ignore_index": 0.5}, TypeError, "ignore_index"),
        ({"target": np.array([0, 3])}, ValueError, "target has class index 3"),
        ({"target": np.array([0.5, 1.0])}, ValueError, "target holds class indices, but has non-"),
        ({"target": np.array([np.nan, 1.0])}, ValueError, "target contains NaN"),
        ({"target": np.array([True, False])}, TypeError, "target"),
        ({"target": np.array([[0, 1, 2], [0, 1, 2]])}, ValueError, "target holds class indices"),
        ({"logits": np.array([[0.0, np.nan, 0], [0, 0, 0]])}, ValueError, "logits contains NaN"),
        ({"logits": np.array([[-np.inf, 0.0, 0], [0, 0, 0]])}, ValueError, "-inf at a target"),
        ({"logits": np.array([[0.0, np.inf, 0], [0, 0, 0]])}, ValueError, "logits contains \\+inf"),
        ({"logits": np.float64(2.0), "target": 0}, ValueError, "logits must have"),
    ],
)
def test_softmax_focal_validation(kwargs: dict, error: type, match: str) -> None:
    args = {"logits": ZERO_LOGITS, "target": np.array([0, 1]), **kwargs}
    with pytest.raises(error, match=match):
        lb.softmax_focal_loss(args.pop("logits"), args.pop("target"), **args)


def test_focal_inputs_are_not_mutated() -> None:
    rng = np.random.default_rng(7)
    arrays = [rng.normal(0, 3, (4, 3)), rng.uniform(0, 1, (4, 3)), np.array([0, 2, -1, 1])]
    arrays.append(np.array([0.2, 0.5, 0.9]))
    for a in arrays:
        a.flags.writeable = False
    z, y, idx, alpha = arrays
    copies = [a.copy() for a in arrays]
    for fn in [lb.sigmoid_focal_loss, vg_sigmoid, lb.grad(lb.sigmoid_focal_loss)]:
        fn(z, y, alpha=0.3, gamma=0.5, reduction="mean")
    for fn in [lb.softmax_focal_loss, vg_softmax, lb.grad(lb.softmax_focal_loss)]:
        fn(z, idx, alpha=alpha, gamma=1.5, ignore_index=-1)
    for a, b in zip(arrays, copies, strict=True):
        np.testing.assert_array_equal(a, b)


# --- issue 20: one convention with softmax_cross_entropy and torchvision -----------------


def test_softmax_focal_alpha_minus_one_means_no_balancing() -> None:
    # torchvision's convention, already taken by sigmoid_focal_loss; it raised here.
    rng = np.random.default_rng(21)
    z, y = rng.normal(0, 2, (6, 4)), rng.integers(0, 4, 6)
    for alpha in (-1, -1.0, np.array(-1.0)):
        value, grad = vg_softmax(z, y, alpha=alpha, gamma=1.5)
        expected_value, expected_grad = vg_softmax(z, y, alpha=None, gamma=1.5)
        assert value == expected_value
        np.testing.assert_array_equal(grad, expected_grad)
    with pytest.raises(ValueError, match="alpha must lie in"):
        lb.softmax_focal_loss(z, y, alpha=-0.5)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("ignore_index", [None, 1])
def test_softmax_focal_gamma_zero_is_cross_entropy_bit_for_bit(
    dtype: type, reduction: str, ignore_index: int | None
) -> None:
    # It differed by up to 2 ulp; the sigmoid pair was already equal.
    rng = np.random.default_rng(22)
    z = (rng.normal(0, 4, (300, 5))).astype(dtype)
    y = rng.integers(0, 5, 300)
    kwargs = {"reduction": reduction, "ignore_index": ignore_index}
    value, grad = vg_softmax(z, y, gamma=0.0, **kwargs)
    expected_value, expected_grad = oracle.vg_ce(z, y, **kwargs)
    np.testing.assert_array_equal(value, expected_value)
    np.testing.assert_array_equal(grad, expected_grad)
    assert np.asarray(value).dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_softmax_focal_masks_drop_the_class(dtype: type, gamma: float) -> None:
    z, y, mask = oracle.masked_logits(np.random.default_rng(23), 9, 6, dtype)
    oracle.assert_masked_classes_drop_out(vg_softmax, z, y, mask, gamma=gamma, alpha=None)
    with pytest.raises(ValueError, match="-inf at a target"):
        lb.softmax_focal_loss(np.array([[0.0, -np.inf]], dtype), np.array([1]), gamma=gamma)
    with pytest.raises(ValueError, match="all -inf"):
        lb.softmax_focal_loss(np.full((1, 2), -np.inf, dtype), np.array([1]), gamma=gamma)
