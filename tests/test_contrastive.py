"""Tests for lossbook._contrastive: InfoNCE (and CLIP's symmetric form) and SigLIP's loss.

Expected values come from 60-digit mpmath (``oracle.info_nce_rows``,
``oracle.sigmoid_pair``), written from the formulas of van den Oord et al.
(2018), Radford et al. (2021) and Zhai et al. (2023), and from PyTorch's
``cross_entropy`` and ``logsigmoid`` when torch is installed.

Accuracy. ``info_nce_loss`` runs ``softmax_cross_entropy``'s fused kernel, so
its bound is that kernel's, ``MAX_ULP_FUSED``; the symmetric form averages two
such results in float64 and rounds once, which adds at most half an ULP.
Its float64 gradient entries are ``exp(z - shift)`` with the shift's rounding
not recovered (the fused kernel's trade, see test_fused_ce.py), good to a few
ULPs times the conditioning of ``exp``: measured at most 7.7 ULP on
``extreme_matrix`` (seeds 1-4, logits up to 1e4), bounded by ``GRAD_ULP``.
``sigmoid_pairwise_loss`` is elementwise in float64 from the numerics core's
log-sigmoids and rounded once: ``MAX_ULP`` per pair.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import lossbook as lb
from tests import oracle
from tests.oracle import DTYPES, EXTREME, MAX_ULP, MAX_ULP_FUSED, REDUCTIONS, mp

vg_nce = lb.value_and_grad(lb.info_nce_loss)
# Measured (seeds 1-4 of extreme_matrix): 0.5, 3.3 and 7.7 ULP.
GRAD_ULP = {np.float16: 1, np.float32: MAX_ULP_FUSED[np.float32], np.float64: 16}
vg_sig = lb.value_and_grad(lb.sigmoid_pairwise_loss)


def extreme_matrix(dtype: type, seed: int, n: int = 12) -> np.ndarray:
    """An (n, n) matrix across the dtype's safe range: confident diagonal rows (tiny
    losses), rows whose positive is far below the rest, near-ties, ordinary rows."""
    r = EXTREME[dtype]
    rng = np.random.default_rng(seed)
    s = rng.uniform(-r, r, (n, n))
    idx = np.arange(n)
    s[idx[:4], idx[:4]] = r  # confident and correct
    s[4:6, 4:6] = -r  # the positive at the bottom
    s[6:8] = rng.uniform(r - 2.0, r, (2, n))  # near-ties at the top
    s[8:] = rng.standard_normal((n - 8, n)) * 3
    return np.clip(s, -r, r).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_info_nce_oracle_value_and_gradient(dtype: type) -> None:
    s = extreme_matrix(dtype, 1)
    n = s.shape[0]
    value, grad = vg_nce(s, reduction="none")
    assert value.dtype == grad.dtype == dtype
    rows, rows_grad = oracle.info_nce_rows(s)
    cols, cols_grad = oracle.info_nce_rows(s.T)
    assert oracle.max_ulp_error(value, rows, dtype) <= MAX_ULP_FUSED[dtype]
    flat_grad = [g for row in rows_grad for g in row]
    assert oracle.max_ulp_error(grad, flat_grad, dtype) <= GRAD_ULP[dtype]
    value, grad = vg_nce(s, symmetric=True, reduction="none")
    both = [(a + b) / 2 for a, b in zip(rows, cols, strict=True)]
    both_grad = [(rows_grad[i][j] + cols_grad[j][i]) / 2 for i in range(n) for j in range(n)]
    assert oracle.max_ulp_error(value, both, dtype) <= MAX_ULP_FUSED[dtype] + 1
    # An entry of the gradient is a sum of two of either sign: ULPs of the larger part.
    floors = [
        max(abs(rows_grad[i][j]), abs(cols_grad[j][i])) / 2 for i in range(n) for j in range(n)
    ]
    worst = max(
        oracle.ulp_error(g, e, dtype, floor=float(f))
        for g, e, f in zip(grad.ravel(), both_grad, floors, strict=True)
    )
    assert worst <= GRAD_ULP[dtype] + 1


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_pairwise_oracle_value_and_gradient(dtype: type) -> None:
    s = extreme_matrix(dtype, 2)
    n = s.shape[0]
    value, grad = vg_sig(s, reduction="none")
    assert value.shape == grad.shape == s.shape
    assert value.dtype == grad.dtype == dtype
    exact = [oracle.sigmoid_pair(s[i, j], i == j) for i in range(n) for j in range(n)]
    assert oracle.max_ulp_error(value, [e[0] for e in exact], dtype) <= MAX_ULP[dtype]
    assert oracle.max_ulp_error(grad, [e[1] for e in exact], dtype) <= MAX_ULP[dtype]
    mean = lb.sigmoid_pairwise_loss(s)
    assert oracle.ulp_error(mean, mp.fsum(e[0] for e in exact) / n, dtype) <= MAX_ULP[dtype]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    ("loss", "kwargs"),
    [
        (lb.info_nce_loss, {}),
        (lb.info_nce_loss, {"symmetric": True}),
        (lb.sigmoid_pairwise_loss, {}),
    ],
)
def test_numerical_gradient(loss, kwargs: dict, reduction: str) -> None:  # type: ignore[no-untyped-def, type-arg]
    rng = np.random.default_rng(3)
    s = rng.standard_normal((2, 4, 4)) * 3  # a stack of two batches
    g = lb.grad(loss)(s, reduction=reduction, **kwargs)

    def total(x: np.ndarray) -> float:
        return float(np.sum(loss(x, reduction=reduction, **kwargs)))

    np.testing.assert_allclose(g, lb.numerical_gradient(total, s), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_pytorch_when_installed(dtype: type, seed: int) -> None:
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    s = (
        extreme_matrix(dtype, seed)
        if seed
        else (np.random.default_rng(4).standard_normal((9, 9)) * 5).astype(dtype)
    )
    n = s.shape[0]
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    labels = torch.arange(n)

    def check(ours: tuple, st: object, expected: object) -> None:  # type: ignore[type-arg]
        expected.backward()  # type: ignore[attr-defined]
        value, grad = ours
        np.testing.assert_allclose(value, expected.item(), rtol=rtol)  # type: ignore[attr-defined]
        theirs = st.grad.numpy()  # type: ignore[attr-defined]
        np.testing.assert_allclose(grad, theirs, rtol=rtol, atol=rtol * np.abs(theirs).max())

    st_ = torch.tensor(s, requires_grad=True)
    check(vg_nce(s), st_, functional.cross_entropy(st_, labels))
    st_ = torch.tensor(s, requires_grad=True)
    clip = (functional.cross_entropy(st_, labels) + functional.cross_entropy(st_.T, labels)) / 2
    check(vg_nce(s, symmetric=True), st_, clip)
    st_ = torch.tensor(s, requires_grad=True)
    signs = 2 * torch.eye(n, dtype=st_.dtype) - 1
    check(vg_sig(s), st_, -functional.logsigmoid(signs * st_).sum() / n)


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(np.float64, (5, 5), elements=st.floats(-60, 60)),
    hnp.arrays(np.float64, (5, 1), elements=st.floats(-1e3, 1e3)),
)
def test_info_nce_properties(s: np.ndarray, shift: np.ndarray) -> None:
    rows = lb.info_nce_loss(s, reduction="none")
    assert np.all(rows >= 0)
    # Row losses ignore a constant added to a row; CLIP's is symmetric in S and S^T.
    np.testing.assert_allclose(
        lb.info_nce_loss(s + shift, reduction="none"), rows, rtol=1e-9, atol=1e-9
    )
    np.testing.assert_allclose(
        lb.info_nce_loss(s, symmetric=True), lb.info_nce_loss(s.T, symmetric=True), rtol=1e-12
    )
    assert lb.info_nce_loss(s) == lb.softmax_cross_entropy(s, np.arange(5))
    g = lb.grad(lb.info_nce_loss)(s, symmetric=True)
    np.testing.assert_allclose(g.sum(), 0.0, atol=1e-12)  # both softmaxes sum to 1


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(np.float64, (6, 6), elements=st.floats(-60, 60)),
    st.integers(1, 5),
)
def test_sigmoid_pairwise_properties(s: np.ndarray, cut: int) -> None:
    n = 6
    total = lb.sigmoid_pairwise_loss(s, reduction="sum")
    expected = lb.binary_cross_entropy_with_logits(s, np.eye(n), reduction="sum")
    assert total == pytest.approx(expected, rel=1e-12, abs=1e-300)
    # No normalisation across the batch: any split of the pairs into blocks adds up.
    blocks = [s[:cut, :cut], s[:cut, cut:], s[cut:, :cut], s[cut:, cut:]]
    parts = [
        lb.sigmoid_pairwise_loss(blocks[0], reduction="sum"),
        lb.binary_cross_entropy_with_logits(blocks[1], np.zeros(blocks[1].shape), reduction="sum"),
        lb.binary_cross_entropy_with_logits(blocks[2], np.zeros(blocks[2].shape), reduction="sum"),
        lb.sigmoid_pairwise_loss(blocks[3], reduction="sum"),
    ]
    assert sum(parts) == pytest.approx(total, rel=1e-12, abs=1e-300)
    assert lb.sigmoid_pairwise_loss(s) == pytest.approx(total / n, rel=1e-15)


def test_stacks_reduce_over_every_row() -> None:
    rng = np.random.default_rng(5)
    s = rng.standard_normal((3, 4, 4))
    for loss in (lb.info_nce_loss, lb.sigmoid_pairwise_loss):
        stacked = loss(s, reduction="sum")
        assert stacked == pytest.approx(sum(loss(m, reduction="sum") for m in s))
        assert loss(s) == pytest.approx(stacked / 12)
    assert lb.info_nce_loss(s, reduction="none").shape == (3, 4)
    assert lb.sigmoid_pairwise_loss(s, reduction="none").shape == (3, 4, 4)
    empty = np.zeros((0, 3, 3))
    assert lb.sigmoid_pairwise_loss(empty) == 0.0
    assert lb.info_nce_loss(empty) == 0.0


@pytest.mark.parametrize("loss", [lb.info_nce_loss, lb.sigmoid_pairwise_loss])
@pytest.mark.parametrize("dtype", DTYPES)
def test_inputs_not_mutated_and_dtype_kept(loss, dtype: type) -> None:  # type: ignore[no-untyped-def]
    s = np.random.default_rng(6).standard_normal((4, 4)).astype(dtype)
    s0 = s.copy()
    value, grad = lb.value_and_grad(loss)(s)
    assert np.array_equal(s, s0)
    assert value.dtype == grad.dtype == dtype
    assert loss(np.eye(3, dtype=int)).dtype == np.float64


@pytest.mark.parametrize("loss", [lb.info_nce_loss, lb.sigmoid_pairwise_loss])
@pytest.mark.parametrize(
    ("logits", "error", "match"),
    [
        (np.zeros((2, 3)), ValueError, r"logits must be a square matrix .* got shape \(2, 3\)"),
        (np.zeros(3), ValueError, "logits must be a square matrix"),
        (np.zeros((0, 0)), ValueError, "logits is empty"),
        (np.array([[0.0, np.nan], [0.0, 0.0]]), ValueError, "logits contains NaN"),
        (np.array([[0.0, np.inf], [0.0, 0.0]]), ValueError, r"logits contains (an infinite|\+inf)"),
        (np.zeros((2, 2), complex), TypeError, "logits must hold real numbers"),
    ],
)
def test_validation(loss, logits: np.ndarray, error: type, match: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=match):
        loss(logits)
    with pytest.raises(ValueError, match="reduction must be"):
        loss(np.zeros((2, 2)), reduction="batchmean")


def test_info_nce_takes_minus_inf_masks_off_the_diagonal() -> None:
    # As every softmax loss (issue 20): a masked pair drops out of its row and column.
    masked = np.array([[2.0, -np.inf, 0.5], [0.0, 1.0, -np.inf], [0.3, 0.1, 1.5]])
    value, grad = lb.value_and_grad(lb.info_nce_loss)(masked, symmetric=True)
    assert np.isfinite(value)
    assert np.all(grad[np.isneginf(masked)] == 0.0)
    with pytest.raises(ValueError, match="logits"):
        lb.info_nce_loss(np.array([[-np.inf, 0.0], [0.0, 0.0]]))  # a positive pair masked


def test_symmetric_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match="symmetric must be a bool"):
        lb.info_nce_loss(np.zeros((2, 2)), symmetric="yes")  # type: ignore[arg-type]


@pytest.mark.parametrize("loss", [lb.info_nce_loss, lb.sigmoid_pairwise_loss])
def test_gradient_wrappers_keep_the_signature(loss) -> None:  # type: ignore[no-untyped-def]
    import inspect

    assert inspect.signature(lb.grad(loss)) == inspect.signature(loss)
    assert inspect.signature(lb.value_and_grad(loss)) == inspect.signature(loss)
    s = np.array([[2.0, -1.0], [0.5, 1.0]])
    value, g = lb.value_and_grad(loss)(s)
    assert value == loss(s)
    np.testing.assert_array_equal(g, lb.grad(loss)(s))


def test_symmetric_info_nce_forms_no_full_size_transpose() -> None:
    import tracemalloc

    s = np.random.default_rng(7).standard_normal((1024, 1024))  # 8 MiB
    tracemalloc.start()
    try:
        lb.info_nce_loss(s, symmetric=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # The columns go through the row kernel in blocks: a copy of the transpose was 8 MiB.
    assert peak < s.nbytes / 2
