"""Tests for lossbook.losses: softmax cross-entropy and binary cross-entropy on logits.

Expected values come from explicit per-example loops written from PyTorch's
documented formulas (no PyTorch needed), and at extreme logits from a 60-digit
mpmath oracle written without cancellation (``-log p_y`` as
``log1p(sum_{j != y} exp(z_j - z_y))``).

Error bounds, in ULPs of the result's dtype at the exact value (subnormal
spacing below the normal range), asserted on logits up to +-1e4 (float64),
+-80 (float32) and +-10 (float16), including losses as small as exp(-40):

* ``MAX_ULP_FUSED`` -- softmax_cross_entropy with index targets (with label
  smoothing too, for float16 and float32 logits), whose fused kernel works in
  float32 for float16 and float32 input: float16 1 (rounded once from
  float32; measured 0.50), float32 6 (measured 3.1: each float32 ``exp``
  contributes up to about one ulp to ``rest / e_y``), float64 4 (measured 1.4).
* ``MAX_ULP`` -- every other path, computed in float64 and rounded once:
  float16 and float32 1 (measured 0.50), float64 6 (measured 2.5 with label
  smoothing or probability targets, 1.1 for the binary loss).

Measured 2026-11 on these inputs with NumPy 2.4 (AVX-512 exp); the bounds
leave a factor of about two for other CPUs' exp and log.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import lossbook as lb
import lossbook._fused_ce as losses_module
from tests import oracle
from tests.oracle import DTYPES, EXTREME, REDUCTIONS

MAX_ULP = {np.float16: 1, np.float32: 1, np.float64: 6}
MAX_ULP_FUSED = {np.float16: 1, np.float32: 6, np.float64: 4}
vg_ce = lb.value_and_grad(lb.softmax_cross_entropy)
vg_bce = lb.value_and_grad(lb.binary_cross_entropy_with_logits)


# --- references written from the PyTorch documentation --------------------------


def ref_log_softmax(row: np.ndarray) -> list:  # type: ignore[type-arg]
    """log softmax in 60-digit arithmetic: tiny losses come out exact, not rounded to 0."""
    return oracle.log_softmax(row)


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
            ls = ref_log_softmax(row)
            nll = -w[y] * ls[y]
            smooth = -oracle.mp.fsum(w[k] * ls[k] for k in range(c))
            losses.append((1 - eps) * nll + eps / c * smooth)
            denominator += w[y]
    else:
        for row, t in zip(z2, np.asarray(target, np.float64).reshape(-1, c), strict=True):
            ls = ref_log_softmax(row)
            t = t * (1 - eps) + eps / c
            losses.append(-oracle.mp.fsum(w[k] * t[k] * ls[k] for k in range(c)))
        denominator = float(len(z2))
    if reduction == "none":
        return np.array([float(x) for x in losses]).reshape(z.shape[:-1])
    if reduction == "sum":
        return float(oracle.mp.fsum(losses))
    return float(oracle.mp.fsum(losses) / denominator)


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
        p = oracle.softmax(z[i])  # exp(z - lse) with lse to 60 digits
        p[y] = -oracle.mp.fsum(p[j] for j in range(c) if j != y)
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


mp_nll = oracle.nll  # -log softmax(row)[y] to 60 digits, without cancellation


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


# --- softmax cross-entropy: values ------------------------------------------------


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


def test_bool_targets_with_the_shape_of_indices_name_the_dtype() -> None:
    # The message blamed the shape (which is right) and not the dtype (which is not).
    with pytest.raises(ValueError, match="got \\(2,\\) with dtype bool"):
        lb.softmax_cross_entropy(np.zeros((2, 3)), np.array([True, False]))


def test_bool_targets_are_probabilities() -> None:
    logits = np.array([[1.0, 2.0, 0.5]])
    got = lb.softmax_cross_entropy(logits, np.array([[False, True, False]]))
    assert got == pytest.approx(lb.softmax_cross_entropy(logits, np.array([1])), rel=1e-15)


def test_one_dimensional_logits_and_scalar_target() -> None:
    z = np.array([1.0, 2.0, 3.0])
    got = lb.softmax_cross_entropy(z, 2, reduction="none")
    assert np.ndim(got) == 0
    assert float(got) == pytest.approx(ref_softmax_ce(z[None], np.array([2]), reduction="sum"))


def test_tiny_loss_keeps_relative_accuracy() -> None:
    for dtype, gap in [(np.float64, 700.0), (np.float32, 85.0), (np.float16, 9.0)]:
        z = np.array([[gap, 0.0]], dtype=dtype)
        got = lb.softmax_cross_entropy(z, np.array([0]), reduction="sum")
        expected = oracle.mp.log1p(oracle.mp.exp(-oracle.mpf(z[0, 0])))
        assert oracle.ulp_error(got, expected, dtype) <= MAX_ULP_FUSED[dtype]
        assert got > 0


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


# --- the fused kernel: blocks, shifts, fallback rows -----------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("block_bytes", [1, 100, 512 * 1024])
@pytest.mark.parametrize("weighted", [False, True])
def test_fused_kernel_matches_general_path(
    dtype: type, block_bytes: int, weighted: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Blocks with a shift, without one, and rows too small for the block's shift."""
    monkeypatch.setattr(losses_module, "_BLOCK_BYTES", block_bytes)
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
    monkeypatch.setattr(losses_module, "_BLOCK_BYTES", 64)
    rng = np.random.default_rng(6)
    z = rng.normal(0, 2, (13, 4))
    y = rng.integers(0, 4, 13)
    y[[0, 5, 12]] = 7
    value, grad = vg_ce(z, y, ignore_index=7, reduction="none")
    assert np.all(value[[0, 5, 12]] == 0)
    assert np.all(grad[[0, 5, 12]] == 0)
    np.testing.assert_allclose(value, ref_softmax_ce(z, y, ignore_index=7, reduction="none"))


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


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_empty_batch(reduction: str) -> None:
    for target in [np.zeros(0, int), np.zeros((0, 3))]:
        value, grad = vg_ce(np.zeros((0, 3), np.float32), target, reduction=reduction)
        assert grad.shape == (0, 3)
        assert grad.dtype == np.float32
        assert np.asarray(value).dtype == np.float32
        if reduction != "none":
            assert value == 0.0
    value, grad = vg_bce(np.zeros((0, 2)), np.zeros((0, 2)), reduction=reduction)
    assert grad.shape == (0, 2)


# --- binary cross-entropy ----------------------------------------------------------


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


@pytest.mark.parametrize("dtype", DTYPES)
def test_ignored_or_zero_weight_entries_stay_zero_at_the_ends_of_the_range(dtype: type) -> None:
    """An ignored row whose placeholder loss would be inf contributes 0, not 0 * inf."""
    big = float(np.finfo(dtype).max)
    z = np.array([[-big, big, 0.0], [1.0, 2.0, 3.0]], dtype=dtype)
    for kwargs in [
        {"target": np.array([-1, 0]), "ignore_index": -1},
        {"target": np.array([0, 0]), "weight": np.array([0.0, 1.0, 1.0])},
        {"target": np.array([-1, 0]), "ignore_index": -1, "label_smoothing": 0.1},
    ]:
        value, grad = vg_ce(z, reduction="none", **kwargs)
        assert value[0] == 0
        assert np.all(grad[0] == 0)
        assert np.all(np.isfinite(value))
        assert np.all(np.isfinite(grad))
    value, grad = vg_bce(z, np.ones(z.shape), weight=np.array([0.0, 1.0, 1.0]), pos_weight=2.0)
    assert np.isfinite(value)
    assert np.all(np.isfinite(grad))


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
    monkeypatch.setattr(losses_module, "_BLOCK_BYTES", block_bytes)
    z, y = extreme_rows(dtype)
    got = lb.softmax_cross_entropy(z, y, reduction="none")
    assert got.dtype == dtype
    errors = [
        oracle.ulp_error(g, mp_nll(row, t), dtype) for g, row, t in zip(got, z, y, strict=True)
    ]
    assert max(errors) <= MAX_ULP_FUSED[dtype], (max(errors), z[int(np.argmax(errors))])


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_ce_smoothing_and_probability_targets_oracle(dtype: type) -> None:
    z, y = extreme_rows(dtype, seed=1)
    eps = oracle.mp.mpf(0.1)
    got = lb.softmax_cross_entropy(z, y, label_smoothing=0.1, reduction="none")
    for g, row, t in zip(got, z, y, strict=True):
        expected = (1 - eps) * mp_nll(row, t) + eps / 5 * oracle.mp.fsum(
            mp_nll(row, k) for k in range(5)
        )
        # Smoothing runs the fused kernel for float16 and float32 logits.
        assert oracle.ulp_error(g, expected, dtype) <= MAX_ULP_FUSED[dtype], row
    probs = np.random.default_rng(8).dirichlet(np.full(5, 0.3), len(z)).astype(dtype)
    got = lb.softmax_cross_entropy(z, probs, reduction="none")
    for g, row, p in zip(got, z, probs, strict=True):
        expected = oracle.mp.fsum(oracle.mpf(p[k]) * mp_nll(row, k) for k in range(5))
        assert oracle.ulp_error(g, expected, dtype) <= MAX_ULP[dtype], row


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
        assert oracle.ulp_error(g, expected, dtype) <= MAX_ULP[dtype], (zi, yi)


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


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int64, np.bool_])
def test_bce_dtypes(dtype: type) -> None:
    z = np.array([[1, 0], [0, 1]]).astype(dtype)
    out = np.float64 if dtype in (np.int64, np.bool_) else dtype
    for reduction in REDUCTIONS:
        value, grad = vg_bce(z, np.array([[1.0, 0.0], [0.5, 1.0]]), reduction=reduction)
        assert np.asarray(value).dtype == out
        assert grad.dtype == out


def test_scalar_results_are_numpy_scalars() -> None:
    value = lb.softmax_cross_entropy(np.zeros((2, 3), np.float32), np.array([0, 1]))
    assert isinstance(value, np.float32)
    value = lb.binary_cross_entropy_with_logits(np.float32(0.5), np.float32(1.0), reduction="none")
    assert isinstance(value, np.float32)


def test_float16_overflowing_sum_rounds_to_inf_without_warning() -> None:
    z = np.tile(np.array([[10.0, -10.0]], np.float16), (4000, 1))
    value = lb.softmax_cross_entropy(z, np.ones(4000, int), reduction="sum")
    assert value == np.inf
    assert value.dtype == np.float16


# --- validation ----------------------------------------------------------------------

Z = np.zeros((2, 3))
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
        ({"target": np.array([False, True])}, ValueError, "target holds class probabilities"),
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
        ({"logits": np.array([[0.0, np.inf, 1.0], [0, 0, 0]])}, ValueError, "logits contains an"),
        ({"logits": np.array([[0.0, -np.inf, 1.0], [0, 0, 0]])}, ValueError, "logits contains an"),
        ({"logits": np.zeros((2, 0)), "target": np.array([0, 0])}, ValueError, "logits is empty"),
        ({"logits": np.float64(1.0), "target": np.array(0)}, ValueError, "logits must have"),
        ({"logits": np.array([[1j, 0, 0]]), "target": np.array([0])}, TypeError, "logits"),
    ],
)
def test_softmax_ce_validation(kwargs: dict, error: type, match: str) -> None:
    args = {"logits": Z, "target": Y, **kwargs}
    with pytest.raises(error, match=match):
        lb.softmax_cross_entropy(args.pop("logits"), args.pop("target"), **args)
    args = {"logits": Z, "target": Y, **kwargs}
    with pytest.raises(error, match=match):
        vg_ce(args.pop("logits"), args.pop("target"), **args)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_softmax_ce_nan_or_inf_anywhere_is_caught(smoothing: float) -> None:
    """The fused kernel checks block extremes; every position must be seen."""
    rng = np.random.default_rng(10)
    for bad in [np.nan, np.inf, -np.inf]:
        for position in [(0, 0), (17, 4), (39, 5)]:
            z = rng.normal(size=(40, 6)).astype(np.float32)
            z[position] = bad
            with pytest.raises(ValueError, match="logits contains"):
                vg_ce(z, np.zeros(40, int), label_smoothing=smoothing)


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
    args = {"logits": Z, "target": np.zeros((2, 3)), **kwargs}
    with pytest.raises(error, match=match):
        lb.binary_cross_entropy_with_logits(args.pop("logits"), args.pop("target"), **args)


# --- no mutation -----------------------------------------------------------------------


def _frozen(*arrays: np.ndarray) -> list[np.ndarray]:
    result = []
    for a in arrays:
        a = np.array(a)
        a.flags.writeable = False
        result.append(a)
    return result


@pytest.mark.parametrize("dtype", DTYPES)
def test_inputs_are_not_mutated(dtype: type) -> None:
    rng = np.random.default_rng(11)
    z, probs, w = _frozen(
        rng.normal(0, 3, (5, 4)).astype(dtype), rng.dirichlet(np.ones(4), 5), np.arange(1.0, 5.0)
    )
    (y,) = _frozen(np.array([0, 3, 1, -1, 2]))
    copies = [a.copy() for a in (z, probs, w, y)]
    for fn in [lb.softmax_cross_entropy, vg_ce, lb.grad(lb.softmax_cross_entropy)]:
        fn(z, y, weight=w, ignore_index=-1)
        fn(z, y, weight=w, ignore_index=-1, label_smoothing=0.2, reduction="none")
        fn(z, probs, weight=w, label_smoothing=0.1, reduction="sum")
    yb, pw, wb = _frozen(rng.uniform(0, 1, (5, 4)), np.ones(4) * 2, np.ones((5, 1)))
    bce_copies = [a.copy() for a in (yb, pw, wb)]
    for fn in [lb.binary_cross_entropy_with_logits, vg_bce]:
        fn(z, yb, weight=wb, pos_weight=pw)
    for a, b in zip((z, probs, w, y, yb, pw, wb), copies + bce_copies, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", [{}, {"weight": "w"}, {"ignore_index": 2}])
@pytest.mark.parametrize("block_bytes", [64, 512 * 1024])
def test_fused_label_smoothing_matches_the_float64_path(
    monkeypatch: pytest.MonkeyPatch, reduction: str, options: dict, block_bytes: int
) -> None:
    """float32 logits with smoothing take the fused kernel; float64 the core: same numbers."""
    monkeypatch.setattr(losses_module, "_BLOCK_BYTES", block_bytes)
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
