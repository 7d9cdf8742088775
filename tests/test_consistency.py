"""API consistency across lossbook's functions (issue 10): targets, scalars, axes, errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import lossbook as lb
from tests import oracle

Z = np.array([[2.0, -1.0, 0.5], [0.0, 3.0, -2.0]])


def test_whole_number_float_targets_are_indices_for_ce_and_focal() -> None:
    ints, floats = np.array([0, 2]), np.array([0.0, 2.0])
    assert lb.softmax_cross_entropy(Z, floats) == lb.softmax_cross_entropy(Z, ints)
    assert lb.softmax_focal_loss(Z, floats) == lb.softmax_focal_loss(Z, ints)
    # gamma = 0 and no alpha: the focal loss is the cross-entropy, for both target kinds.
    assert lb.softmax_focal_loss(Z, floats, gamma=0.0) == pytest.approx(
        lb.softmax_cross_entropy(Z, floats), rel=1e-15
    )
    with pytest.raises(ValueError, match="softmax_focal_loss does not take"):
        lb.softmax_focal_loss(Z, lb.softmax(Z))


@pytest.mark.parametrize(
    ("loss", "name", "value"),
    [
        (lb.sigmoid_focal_loss, "alpha", 0.25),
        (lb.sigmoid_focal_loss, "gamma", 1.5),
        (lb.softmax_focal_loss, "alpha", 0.25),
        (lb.softmax_focal_loss, "gamma", 1.5),
        (lb.softmax_cross_entropy, "label_smoothing", 0.1),
    ],
)
def test_zero_d_arrays_are_accepted_wherever_a_scalar_is(
    loss: Any, name: str, value: float
) -> None:
    target = np.array([0, 1]) if loss is not lb.sigmoid_focal_loss else (Z > 0).astype(float)
    scalar = loss(Z, target, **{name: value}, reduction="sum")
    assert loss(Z, target, **{name: np.array(value)}, reduction="sum") == scalar
    assert loss(Z, target, **{name: np.float32(value)}, reduction="sum") == pytest.approx(scalar)


def test_sigmoid_focal_alpha_minus_one_means_no_balancing() -> None:
    y = (Z > 0).astype(float)
    assert np.array_equal(
        lb.sigmoid_focal_loss(Z, y, alpha=-1), lb.sigmoid_focal_loss(Z, y, alpha=None)
    )
    with pytest.raises(ValueError, match="alpha must lie in"):
        lb.sigmoid_focal_loss(Z, y, alpha=-0.5)


def test_logsumexp_axis_none_and_tuples() -> None:
    z = np.random.default_rng(0).standard_normal((3, 4, 5))
    assert lb.logsumexp(z, axis=None) == pytest.approx(np.log(np.sum(np.exp(z))), rel=1e-14)
    expected = np.log(np.sum(np.exp(z), axis=(0, 2)))
    np.testing.assert_allclose(lb.logsumexp(z, axis=(0, 2)), expected, rtol=1e-14)
    kept = lb.logsumexp(z, axis=(0, 2), keepdims=True)
    assert kept.shape == (1, 4, 1)
    with pytest.raises(ValueError, match="repeats"):
        lb.logsumexp(z, axis=(1, -2))


def test_logsumexp_weights_and_sign_match_the_oracle() -> None:
    rng = np.random.default_rng(1)
    z = oracle.gap_rows(rng, np.float64, 20, 4)
    b = rng.uniform(0.1, 3.0, size=z.shape)
    result = lb.logsumexp(z, b=b)
    for i, row in enumerate(z):
        exact = oracle.mp.log(
            oracle.mp.fsum(
                oracle.mpf(w) * oracle.mp.exp(oracle.mpf(x)) for x, w in zip(row, b[i], strict=True)
            )
        )
        assert oracle.ulp_error(result[i], exact, np.float64, floor=1.0) <= 4
    value, sign = lb.logsumexp([0.0, 0.0], b=[1.0, -3.0], return_sign=True)
    assert sign == -1.0
    assert value == pytest.approx(np.log(2.0), rel=1e-15)
    with pytest.raises(ValueError, match="return_sign=True"):
        lb.logsumexp([0.0, 0.0], b=[1.0, -3.0])
    # A zero weight drops its term even when the logit is +inf (as in SciPy).
    assert lb.logsumexp([np.inf, 1.0], b=[0.0, 1.0]) == 1.0


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: lb.softmax_cross_entropy(Z, np.array([0, 1]), reduction=np.array(["mean"])),
            ValueError,
            "reduction",
        ),
        (lambda: lb.entropy([0.5, 0.5], base=2 + 0j), TypeError, "base"),
        (lambda: lb.softmax_jacobian(1.0), ValueError, "z must have at least one dimension"),
        (lambda: lb.logsumexp([1.0, 2.0], b=[1.0, 2.0, 3.0]), ValueError, "^b with shape"),
        (lambda: lb.sigmoid_focal_loss(Z, Z > 0, gamma=np.array([1.0, 2.0])), TypeError, "gamma"),
    ],
)
def test_error_messages_name_the_argument(call: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("func", [lb.sigmoid, lb.log_sigmoid])
def test_elementwise_functions_of_0d_input_return_scalars(func: Any) -> None:
    for value in (-20.0, np.float32(3.0), np.array(2.0)):
        result = func(value)
        assert np.ndim(result) == 0
        assert result.dtype == np.asarray(value).dtype
