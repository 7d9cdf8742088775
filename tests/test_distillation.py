"""Tests for lossbook._distillation: T^2 KL(softmax(v/T) || softmax(z/T)).

Expected values come from 60-digit mpmath (``oracle.distillation``), written
from the formula of Hinton, Vinyals and Dean (2015), and from PyTorch's
``kl_div(..., reduction="batchmean", log_target=True)`` when torch is installed.

Accuracy. Each row takes the centred form log1p(E_p[e^{-r} - 1 + r]) (no
cancellation; a few ULP of the loss) or the direct sum ``p_c (log p_c - log q_c)``
(a few ULP of its terms' magnitudes), whichever has the smaller error bound. On the
extreme rows the error is measured in ULPs of the larger of the loss and the sum of
the terms' magnitudes (the oracle's ``scale``): float16 and float32 are computed in
float64 and rounded once (measured at most 0.5 ULP), float64 at most 2.5 ULP for the
value and 2.0 for the gradient (temperatures below, three seeds of ``extreme_pair``).
On nearly equal logits the float64 loss is within 4.1 ULP of itself (measured, T from
1 to 2**30). The gradient ``T (q - p)`` is measured in ULPs of ``T max(p_c, q_c)``.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import lossbook as lb
from tests import oracle
from tests.oracle import DTYPES, EXTREME, MAX_ULP, REDUCTIONS

vg = lb.value_and_grad(lb.distillation_loss)
# Powers of two, so that z / T is exact and the oracle sees the same inputs.
TEMPERATURES = [0.5, 1.0, 4.0, 64.0]


def extreme_pair(dtype: type, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Student and teacher rows across the dtype's safe range: spread, dominant,
    near-equal (the loss nearly cancels) and far apart."""
    r = EXTREME[dtype]
    rng = np.random.default_rng(seed)
    z = rng.uniform(-r, r, (24, 5))
    v = rng.uniform(-r, r, (24, 5))
    v[:6] = z[:6] + rng.standard_normal((6, 5)) * 0.01 * r  # close to the student
    v[6:12, 0] = r  # a dominant teacher
    z[12:18] = rng.standard_normal((6, 5))
    return np.clip(z, -r, r).astype(dtype), np.clip(v, -r, r).astype(dtype)


@pytest.mark.parametrize("temperature", TEMPERATURES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_oracle_value_and_gradient(dtype: type, temperature: float) -> None:
    z, v = extreme_pair(dtype, 3)
    value, grad = vg(z, v, temperature=temperature, reduction="none")
    assert value.dtype == grad.dtype == dtype
    worst_value = worst_grad = 0.0
    for zr, vr, val, g in zip(z, v, value, grad, strict=True):
        exact, exact_grad, scale, grad_scales = oracle.distillation(zr, vr, temperature)
        worst_value = max(worst_value, oracle.ulp_error(val, exact, dtype, floor=float(scale)))
        for gc, ec, floor in zip(g, exact_grad, grad_scales, strict=True):
            worst_grad = max(worst_grad, oracle.ulp_error(gc, ec, dtype, floor=floor))
    assert worst_value <= MAX_ULP[dtype]
    assert worst_grad <= MAX_ULP[dtype]


@pytest.mark.parametrize("temperature", [1.0, 4.0, 1024.0, 2.0**30])
@pytest.mark.parametrize("closeness", [1e-1, 1e-4, 1e-8])
def test_relative_accuracy_where_student_and_teacher_agree(
    closeness: float, temperature: float
) -> None:
    """The loss to a few ULP of itself, where the direct sum would cancel to noise."""
    rng = np.random.default_rng(13)
    v = rng.normal(0.0, 3.0, (12, 6))
    z = v + closeness * rng.standard_normal((12, 6))
    value = lb.distillation_loss(z, v, temperature=temperature, reduction="none")
    worst = max(
        oracle.ulp_error(got, oracle.distillation(zr, vr, temperature)[0], np.float64)
        for got, zr, vr in zip(value, z, v, strict=True)
    )
    assert worst <= 6  # measured 4.1


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_numerical_gradient(reduction: str) -> None:
    rng = np.random.default_rng(5)
    z = rng.standard_normal((3, 4, 5)) * 3
    v = rng.standard_normal((3, 4, 5)) * 3
    g = lb.grad(lb.distillation_loss)(z, v, temperature=2.5, reduction=reduction)

    def total(x: np.ndarray) -> float:
        return float(np.sum(lb.distillation_loss(x, v, temperature=2.5, reduction=reduction)))

    np.testing.assert_allclose(g, lb.numerical_gradient(total, z), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("temperature", [1.0, 3.0, 20.0])
def test_matches_pytorch_when_installed(dtype: type, temperature: float) -> None:
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    rng = np.random.default_rng(6)
    r = EXTREME[dtype]
    z = (rng.standard_normal((16, 7)) * 4).astype(dtype)
    v = (rng.standard_normal((16, 7)) * 4).astype(dtype)
    z[:4] = rng.uniform(-r, r, (4, 7)).astype(dtype)  # extreme rows
    v[:4] = rng.uniform(-r, r, (4, 7)).astype(dtype)
    zt = torch.tensor(z, requires_grad=True)
    vt = torch.tensor(v)
    expected = temperature**2 * functional.kl_div(
        functional.log_softmax(zt / temperature, -1),
        functional.log_softmax(vt / temperature, -1),
        reduction="batchmean",
        log_target=True,
    )
    expected.backward()
    value, grad = vg(z, v, temperature=temperature)
    rtol = 1e-5 if dtype == np.float32 else 1e-11
    # The form most code writes: the teacher's probabilities as the target.
    with_probabilities = temperature**2 * functional.kl_div(
        functional.log_softmax(torch.tensor(z) / temperature, -1),
        functional.softmax(vt / temperature, -1),
        reduction="batchmean",
    )
    np.testing.assert_allclose(value, with_probabilities.item(), rtol=rtol)
    assert value.dtype == grad.dtype == dtype
    np.testing.assert_allclose(value, expected.item(), rtol=rtol)
    scale = float(np.max(np.abs(zt.grad.numpy())))
    np.testing.assert_allclose(grad, zt.grad.numpy(), rtol=rtol, atol=rtol * scale)


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(np.float64, (4, 6), elements=st.floats(-50, 50)),
    hnp.arrays(np.float64, (4, 6), elements=st.floats(-50, 50)),
    st.floats(0.1, 100.0),
    st.floats(-1e3, 1e3),
)
def test_properties(z: np.ndarray, v: np.ndarray, temperature: float, shift: float) -> None:
    loss = lb.distillation_loss(z, v, temperature=temperature, reduction="none")
    assert np.all(loss >= 0)
    # Adding a constant to a row of either logits changes neither softmax.
    shifted = lb.distillation_loss(z + shift, v, temperature=temperature, reduction="none")
    np.testing.assert_allclose(shifted, loss, rtol=1e-6, atol=1e-9 * temperature**2)
    assert np.all(lb.distillation_loss(v, v, temperature=temperature, reduction="none") == 0)
    g = lb.grad(lb.distillation_loss)(z, v, temperature=temperature, reduction="sum")
    # sum_c T (q_c - p_c) = 0: the gradient never moves the mean of a row.
    np.testing.assert_allclose(g.sum(axis=-1), 0.0, atol=1e-12 * temperature)


def test_high_temperature_limit_is_zero_mean_logit_mse() -> None:
    """T^2 KL -> (1 / 2C) sum_c (d_c - mean d)^2 with d = z - v, error O(1/T)."""
    rng = np.random.default_rng(7)
    z, v = rng.standard_normal((2, 5, 10))
    d = z - v
    d -= d.mean(axis=-1, keepdims=True)
    mse = np.sum(d**2, axis=-1) / (2 * 10)
    errors = [
        np.max(np.abs(lb.distillation_loss(z, v, temperature=t, reduction="none") - mse))
        for t in (10.0, 100.0, 1000.0)
    ]
    assert errors[0] > 5 * errors[1] > 25 * errors[2]  # shrinks like 1/T


def test_reductions_and_batch_shapes() -> None:
    rng = np.random.default_rng(8)
    z, v = rng.standard_normal((2, 3, 4, 5))
    none = lb.distillation_loss(z, v, temperature=2.0, reduction="none")
    assert none.shape == (3, 4)
    assert lb.distillation_loss(z, v, temperature=2.0, reduction="sum") == pytest.approx(none.sum())
    assert lb.distillation_loss(z, v, temperature=2.0) == pytest.approx(none.mean())
    flat = lb.distillation_loss(z.reshape(12, 5), v.reshape(12, 5), temperature=2.0)
    assert flat == pytest.approx(none.mean())


def test_inputs_not_mutated_and_dtype_kept() -> None:
    rng = np.random.default_rng(9)
    z = rng.standard_normal((4, 3)).astype(np.float32)
    v = rng.standard_normal((4, 3)).astype(np.float16)
    z0, v0 = z.copy(), v.copy()
    value, grad = vg(z, v, temperature=3.0)
    assert np.array_equal(z, z0)
    assert np.array_equal(v, v0)
    assert value.dtype == grad.dtype == np.float32
    assert lb.distillation_loss(np.arange(3), np.zeros(3)).dtype == np.float64


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"student_logits": [[np.nan, 0.0]]}, ValueError, "student_logits contains NaN"),
        ({"teacher_logits": [[np.inf, 0.0]]}, ValueError, "teacher_logits contains an inf"),
        ({"teacher_logits": [[0.0, 0.0, 0.0]]}, ValueError, "teacher_logits must have the shape"),
        (
            {"student_logits": 1.0, "teacher_logits": 1.0},
            ValueError,
            "student_logits must have at least one dimension",
        ),
        ({"temperature": 0.0}, ValueError, "temperature must be positive"),
        ({"temperature": -1.0}, ValueError, "temperature must be positive"),
        ({"temperature": np.inf}, ValueError, "temperature must be finite"),
        ({"temperature": "2"}, TypeError, "temperature must be a real number"),
        ({"student_logits": [[1j, 0.0]]}, TypeError, "student_logits must hold real numbers"),
        ({"teacher_logits": [["a", "b"]]}, TypeError, "teacher_logits must hold real numbers"),
        ({"reduction": "batchmean"}, ValueError, "reduction must be"),
    ],
)
def test_validation(kwargs: dict, error: type, match: str) -> None:  # type: ignore[type-arg]
    args = {"student_logits": [[0.0, 1.0]], "teacher_logits": [[1.0, 0.0]], **kwargs}
    with pytest.raises(error, match=match):
        lb.distillation_loss(args.pop("student_logits"), args.pop("teacher_logits"), **args)


def test_extreme_temperatures() -> None:
    z, v = np.array([[3.0, -1.0, 0.5]]), np.array([[1.0, 2.0, -4.0]])
    # T * T overflows float64 while the loss is finite (0 for equal rows): no NaN.
    assert lb.distillation_loss(v, v, temperature=1e200) == 0.0
    big = lb.distillation_loss(z, v, temperature=1e200)
    assert np.isfinite(big)
    d = (z - v) - (z - v).mean()
    assert big == pytest.approx(np.sum(d**2) / (2 * 3), rel=1e-12)  # the high-T limit
    with pytest.raises(ValueError, match="temperature 1e-310 is too small"):
        lb.distillation_loss(z, v, temperature=1e-310)


def test_gradient_wrappers_keep_the_signature() -> None:
    import inspect

    loss = lb.distillation_loss
    assert inspect.signature(lb.grad(loss)) == inspect.signature(loss)
    assert inspect.signature(vg) == inspect.signature(loss)
    z, v = np.array([[2.0, -1.0, 0.0]]), np.array([[0.0, 1.0, 3.0]])
    value, g = vg(z, v, temperature=2.0)
    assert value == loss(z, v, temperature=2.0)
    np.testing.assert_array_equal(g, lb.grad(loss)(z, v, temperature=2.0))
