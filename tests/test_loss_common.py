"""Tests for lossbook._loss_common: the plumbing both cross-entropies share.

Seen through ``softmax_cross_entropy`` and ``binary_cross_entropy_with_logits``
together: reductions of an empty batch (``reduce_loss``, ``grad_scale``), zero
weights that stay zero beside an infinite loss (``weighted``), NumPy scalars as
reduced results, and inputs that are never mutated.
"""

from __future__ import annotations

import numpy as np
import pytest

import lossbook as lb
from tests.oracle import DTYPES, REDUCTIONS, vg_bce, vg_ce

# --- empty means ------------------------------------------------------------------


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


# --- zero weights beside infinite losses ------------------------------------------


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


# --- dtypes and shapes ------------------------------------------------------------


def test_scalar_results_are_numpy_scalars() -> None:
    value = lb.softmax_cross_entropy(np.zeros((2, 3), np.float32), np.array([0, 1]))
    assert isinstance(value, np.float32)
    value = lb.binary_cross_entropy_with_logits(np.float32(0.5), np.float32(1.0), reduction="none")
    assert isinstance(value, np.float32)


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


@pytest.mark.parametrize("dtype", DTYPES)
def test_elementwise_paths_agree_element_by_element(dtype: type) -> None:
    # Rows of up to 32768 elements go through the direct blocked path, longer rows
    # through the buffered iterator: the same elements must get the same bits.
    rng = np.random.default_rng(5)
    z = (rng.standard_normal(2 * 40000) * 30).astype(dtype)
    y = rng.random(z.shape)
    w = rng.random(40000) * 3
    long_rows = z.reshape(2, 40000), y.reshape(2, 40000)
    short_rows = z.reshape(400, 200), y.reshape(400, 200)
    for loss, kwargs in [
        (lb.binary_cross_entropy_with_logits, {"pos_weight": w}),
        (lb.sigmoid_focal_loss, {}),
    ]:
        value_long, grad_long = lb.value_and_grad(loss)(*long_rows, reduction="none", **kwargs)
        weights = {"pos_weight": np.tile(w.reshape(200, 200), (2, 1))} if kwargs else {}
        value_short, grad_short = lb.value_and_grad(loss)(*short_rows, reduction="none", **weights)
        assert np.array_equal(value_long.reshape(-1), value_short.reshape(-1))
        assert np.array_equal(grad_long.reshape(-1), grad_short.reshape(-1))


@pytest.mark.parametrize("shape", [(5, 0), (0, 5), (3, 0, 2), (0,)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_elementwise_losses_of_empty_arrays_with_any_shape(
    shape: tuple[int, ...], reduction: str
) -> None:
    # Regression: rows of zero elements divided by zero when sizing the blocks.
    z = np.zeros(shape, np.float32)
    for loss in (lb.binary_cross_entropy_with_logits, lb.sigmoid_focal_loss):
        value, grad = lb.value_and_grad(loss)(z, np.zeros(shape), reduction=reduction)
        assert grad.shape == shape
        assert np.shape(value) == (shape if reduction == "none" else ())
        if reduction != "none":
            assert value == 0.0
