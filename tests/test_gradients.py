"""Tests for lossbook.gradients: analytic gradients against central differences.

Every loss, every reduction and every option (weight, ignore_index,
label_smoothing, pos_weight, alpha, gamma) is differentiated numerically in
float64 at random logits and at extreme ones (+-30), and compared with
``grad(loss)``. For reduction='none' the reference is the gradient of the sum.
Central differences with the default step are good to about 1e-9 relative to
the loss's scale here, so the tolerance is rtol=1e-6 with a small atol.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import lossbook as lb
from lossbook import gradients
from tests.oracle import REDUCTIONS

LOSSES = [
    lb.softmax_cross_entropy,
    lb.binary_cross_entropy_with_logits,
    lb.sigmoid_focal_loss,
    lb.softmax_focal_loss,
]


def logits_for(kind: str, shape: tuple[int, ...], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "random":
        return rng.normal(0, 3, shape)
    z = rng.choice([-30.0, 30.0], shape) + rng.normal(0, 1, shape)  # extreme
    return z


def check_gradient(
    loss: Callable[..., Any], logits: np.ndarray, target: Any, **kwargs: Any
) -> None:
    def scalar(z: np.ndarray) -> float:
        return float(np.sum(loss(z, target, **kwargs)))

    analytic = lb.grad(loss)(logits, target, **kwargs)
    numeric = lb.numerical_gradient(scalar, logits)
    scale = max(1.0, float(np.max(np.abs(numeric))))
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8 * scale)
    value, both = lb.value_and_grad(loss)(logits, target, **kwargs)
    np.testing.assert_array_equal(both, analytic)
    np.testing.assert_array_equal(value, loss(logits, target, **kwargs))


@pytest.mark.parametrize("kind", ["random", "extreme"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore_index", [None, -1])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.25])
def test_softmax_ce_index_gradient(
    kind: str, reduction: str, weighted: bool, ignore_index: int | None, label_smoothing: float
) -> None:
    z = logits_for(kind, (3, 2, 4), 0)
    y = np.random.default_rng(1).integers(0, 4, (3, 2))
    if ignore_index is not None:
        y[1, 0] = ignore_index
    weight = np.array([0.5, 2.0, 1.0, 0.0]) if weighted else None
    check_gradient(
        lb.softmax_cross_entropy,
        z,
        y,
        weight=weight,
        ignore_index=ignore_index,
        label_smoothing=label_smoothing,
        reduction=reduction,
    )


@pytest.mark.parametrize("kind", ["random", "extreme"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.4])
def test_softmax_ce_probability_gradient(
    kind: str, reduction: str, weighted: bool, label_smoothing: float
) -> None:
    z = logits_for(kind, (5, 4), 2)
    t = np.random.default_rng(3).dirichlet(np.ones(4), 5)
    t[0] = [0.5, 0.0, 0.0, 0.0]  # unnormalised rows are allowed
    weight = np.array([0.5, 2.0, 1.0, 3.0]) if weighted else None
    check_gradient(
        lb.softmax_cross_entropy,
        z,
        t,
        weight=weight,
        label_smoothing=label_smoothing,
        reduction=reduction,
    )


@pytest.mark.parametrize("kind", ["random", "extreme"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight", [None, np.array([[2.0], [0.5], [1.0]])])
@pytest.mark.parametrize("pos_weight", [None, np.array([3.0, 0.2, 1.0, 0.0])])
def test_bce_gradient(kind: str, reduction: str, weight: Any, pos_weight: Any) -> None:
    z = logits_for(kind, (3, 4), 4)
    rng = np.random.default_rng(5)
    y = np.where(rng.random((3, 4)) < 0.5, rng.integers(0, 2, (3, 4)), rng.random((3, 4)))
    check_gradient(
        lb.binary_cross_entropy_with_logits,
        z,
        y,
        weight=weight,
        pos_weight=pos_weight,
        reduction=reduction,
    )


@pytest.mark.parametrize("kind", ["random", "extreme"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("alpha", [None, 0.25])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("soft", [False, True])
def test_sigmoid_focal_gradient(
    kind: str, reduction: str, alpha: float | None, gamma: float, soft: bool
) -> None:
    z = logits_for(kind, (3, 4), 6)
    rng = np.random.default_rng(7)
    y = rng.random((3, 4)) if soft else rng.integers(0, 2, (3, 4)).astype(float)
    check_gradient(lb.sigmoid_focal_loss, z, y, alpha=alpha, gamma=gamma, reduction=reduction)


@pytest.mark.parametrize("kind", ["random", "extreme"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("alpha", [None, 0.25, np.array([0.1, 0.9, 0.5, 1.0])])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("ignore_index", [None, 2])
def test_softmax_focal_gradient(
    kind: str, reduction: str, alpha: Any, gamma: float, ignore_index: int | None
) -> None:
    z = logits_for(kind, (5, 4), 8)
    y = np.array([0, 1, 2, 3, 1])
    check_gradient(
        lb.softmax_focal_loss,
        z,
        y,
        alpha=alpha,
        gamma=gamma,
        ignore_index=ignore_index,
        reduction=reduction,
    )


@pytest.mark.parametrize("loss", LOSSES)
def test_reduction_none_gradient_is_gradient_of_the_sum(loss: Callable[..., Any]) -> None:
    z = logits_for("random", (4, 3), 9)
    target = np.array([0, 2, 1, 1]) if "softmax" in loss.__name__ else np.eye(4, 3)
    np.testing.assert_array_equal(
        lb.grad(loss)(z, target, reduction="none"), lb.grad(loss)(z, target, reduction="sum")
    )


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_low_precision_gradients_match_float64(loss: Callable[..., Any], dtype: type) -> None:
    z = logits_for("random", (6, 5), 10).astype(dtype)
    target = np.array([0, 2, 1, 4, 3, 3]) if "softmax" in loss.__name__ else np.eye(6, 5)
    low = lb.grad(loss)(z, target)
    high = lb.grad(loss)(z.astype(np.float64), target)
    assert low.dtype == dtype
    assert low.shape == z.shape
    eps = float(np.finfo(dtype).eps)
    np.testing.assert_allclose(low, high, rtol=4 * eps, atol=4 * eps * np.max(np.abs(high)))


# --- the wrappers -----------------------------------------------------------------


@pytest.mark.parametrize("loss", LOSSES)
def test_wrappers_keep_the_signature(loss: Callable[..., Any]) -> None:
    assert inspect.signature(lb.grad(loss)) == inspect.signature(loss)
    assert inspect.signature(lb.value_and_grad(loss)) == inspect.signature(loss)
    assert loss.__name__ in lb.grad(loss).__name__
    # The imbalance losses are tested in tests/test_imbalance.py, linear_cross_entropy's
    # three gradients in tests/test_linear_cross_entropy.py, the losses without class
    # labels in tests/test_distillation.py and tests/test_contrastive.py.
    imbalance = {lb.logit_adjusted_cross_entropy, lb.poly1_cross_entropy}
    unlabelled = {lb.distillation_loss, lb.info_nce_loss, lb.sigmoid_pairwise_loss}
    assert set(gradients._KERNELS) == {
        *LOSSES,
        *imbalance,
        *unlabelled,
        lb.linear_cross_entropy,
    }


@pytest.mark.parametrize("wrapper", [lb.grad, lb.value_and_grad])
@pytest.mark.parametrize(
    ("function", "name"),
    [(lb.softmax, "softmax"), (lambda z: z, "lambda"), (np.sum, "sum"), (3, "3")],
)
def test_wrappers_reject_other_functions(
    wrapper: Callable[..., Any], function: Any, name: str
) -> None:
    with pytest.raises(TypeError, match=name):
        wrapper(function)


def test_wrappers_reject_unknown_arguments() -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'axis'"):
        lb.grad(lb.softmax_cross_entropy)(np.zeros((1, 2)), np.array([0]), axis=0)
    with pytest.raises(TypeError, match="need_grad"):
        lb.grad(lb.softmax_cross_entropy)(np.zeros((1, 2)), np.array([0]), need_grad=False)
    with pytest.raises(TypeError):
        lb.value_and_grad(lb.sigmoid_focal_loss)(np.zeros(2))


def test_wrappers_validate_like_the_loss() -> None:
    with pytest.raises(ValueError, match="gamma"):
        lb.grad(lb.softmax_focal_loss)(np.zeros((1, 2)), np.array([0]), gamma=-1.0)


# --- numerical_gradient -------------------------------------------------------------


def test_numerical_gradient_of_a_polynomial() -> None:
    x = np.array([[1.0, -2.0], [0.5, 4.0]])
    g = lb.numerical_gradient(lambda v: np.sum(v**3) + v[0, 1] * v[1, 0], x)
    expected = 3 * x**2 + np.array([[0.0, 0.5], [-2.0, 0.0]])
    np.testing.assert_allclose(g, expected, rtol=1e-8)
    assert g.shape == x.shape
    assert g.dtype == np.float64


def test_numerical_gradient_scalar_and_dtypes() -> None:
    assert lb.numerical_gradient(lambda v: float(v) ** 2, 3.0) == pytest.approx(6.0)
    g32 = lb.numerical_gradient(lambda v: np.sum(np.sin(v)), np.array([0.3, 1.0], np.float32))
    assert g32.dtype == np.float32
    np.testing.assert_allclose(g32, np.cos([0.3, 1.0]), rtol=1e-4)
    g_int = lb.numerical_gradient(lambda v: np.sum(v**2), np.array([1, 2]))
    assert g_int.dtype == np.float64
    np.testing.assert_allclose(g_int, [2.0, 4.0])


def test_numerical_gradient_custom_eps_and_no_mutation() -> None:
    x = np.array([0.1, 0.2, 0.3])
    x.flags.writeable = False
    seen: list[np.ndarray] = []

    def f(v: np.ndarray) -> float:
        seen.append(v)
        return float(np.sum(np.exp(v)))

    g = lb.numerical_gradient(f, x, eps=1e-4)
    np.testing.assert_allclose(g, np.exp(x), rtol=1e-7)
    np.testing.assert_array_equal(x, [0.1, 0.2, 0.3])
    assert all(v is not x for v in seen)


@pytest.mark.parametrize(
    ("f", "x", "kwargs", "error", "match"),
    [
        (np.sum, np.array([1.0]), {"eps": 0.0}, ValueError, "eps"),
        (np.sum, np.array([1.0]), {"eps": -1e-3}, ValueError, "eps"),
        (np.sum, np.array([1.0]), {"eps": float("nan")}, ValueError, "eps"),
        (np.sum, np.array([1.0]), {"eps": "small"}, TypeError, "eps"),
        (np.sum, np.array([np.nan]), {}, ValueError, "x contains NaN"),
        (np.sum, np.array([np.inf]), {}, ValueError, "x contains an inf"),
        (np.sum, np.array([1j]), {}, TypeError, "x"),
        (lambda v: v, np.array([1.0, 2.0]), {}, ValueError, "f must return a real scalar"),
        (lambda v: "a", np.array([1.0]), {}, ValueError, "f must return a real scalar"),
        (lambda v: np.nan, np.array([1.0]), {}, ValueError, "f returned a non-finite"),
        ("f", np.array([1.0]), {}, TypeError, "f must be callable"),
    ],
)
def test_numerical_gradient_validation(
    f: Any, x: np.ndarray, kwargs: dict, error: type, match: str
) -> None:
    with pytest.raises(error, match=match):
        lb.numerical_gradient(f, x, **kwargs)


# --- any finite input ---------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    logits=hnp.arrays(
        st.sampled_from([np.float16, np.float32, np.float64]),
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=5),
        elements={"allow_nan": False, "allow_infinity": False},
    ),
    data=st.data(),
)
def test_any_finite_logits_give_no_nan_and_finite_gradients(
    logits: np.ndarray, data: st.DataObject
) -> None:
    """Full float range, every loss: no warning (they are errors here), no NaN."""
    n, c = logits.shape
    y = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    probs = np.asarray(data.draw(hnp.arrays(np.float64, (n, c), elements=st.floats(0, 1))))
    gamma = data.draw(st.sampled_from([0.0, 0.5, 2.0]))
    zero_first = np.r_[0.0, np.ones(c - 1)]  # class 0 weighted 0, and ignored below
    smoothing = data.draw(st.sampled_from([0.0, 0.2]))
    calls = [
        (lb.softmax_cross_entropy, y, {"label_smoothing": smoothing}),
        (lb.softmax_cross_entropy, y, {"label_smoothing": smoothing, "weight": zero_first}),
        (lb.softmax_cross_entropy, y, {"label_smoothing": smoothing, "ignore_index": 0}),
        (lb.softmax_cross_entropy, probs, {"weight": zero_first}),
        (lb.binary_cross_entropy_with_logits, probs, {"pos_weight": 3.0, "weight": zero_first}),
        (lb.sigmoid_focal_loss, probs, {"gamma": gamma}),
        (lb.softmax_focal_loss, y, {"gamma": gamma, "alpha": 0.25}),
        (lb.softmax_focal_loss, y, {"gamma": gamma, "alpha": zero_first, "ignore_index": 1}),
    ]
    for loss, target, kwargs in calls:
        for reduction in REDUCTIONS:
            value, grad = lb.value_and_grad(loss)(logits, target, reduction=reduction, **kwargs)
            assert not np.isnan(value).any(), loss.__name__
            assert np.all(np.asarray(value) >= 0), loss.__name__
            assert np.all(np.isfinite(grad)), loss.__name__
            assert grad.dtype == logits.dtype
