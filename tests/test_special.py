"""Tests for lossbook._special: stable functions of logits (the softmax family and sigmoids).

Error bounds against the 60-digit oracle: ``oracle.MAX_ULP_SPECIAL``, per function.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import lossbook as lb
from tests import oracle
from tests.oracle import DTYPES, MAX_ULP_SPECIAL


def adversarial_logits(dtype: type) -> list[np.ndarray]:
    """Rows that break naive formulas: huge, tiny, dominant, tied, spread out."""
    big = {np.float16: 1e4, np.float32: 1e30, np.float64: 1e300}[dtype]
    rows = [
        [0.0, 0.0, 0.0],
        [1.0, 2.0, 3.0],
        [80.0, 79.0, -80.0],
        [-80.0, -81.0, -85.0],
        [11.0, 10.0, 0.0] if dtype == np.float16 else [1000.0, 999.0, 0.0],
        [-1000.0, -1000.0, -1000.0] if dtype != np.float16 else [-60000.0, -60000.0, -60001.0],
        [30.0, 0.0, 0.0],  # one dominant class: log-softmax of it is ~ -2e-13
        [15.0, -15.0, 0.5],
        [big, 0.0, -big],
        [1e-7, -1e-7, 0.0],
        [5.0, 5.0, 4.0],
    ]
    return [np.array(row, dtype=dtype) for row in rows]


@pytest.mark.parametrize("dtype", DTYPES)
def test_logsumexp_matches_oracle(dtype: type) -> None:
    for row in adversarial_logits(dtype):
        result = lb.logsumexp(row)
        assert result.dtype == dtype
        expected = oracle.logsumexp(row)
        if abs(float(expected)) > float(np.finfo(dtype).max):
            continue  # the true value is not representable in this dtype
        error = oracle.ulp_error(result, expected, dtype, floor=1.0)
        assert error <= MAX_ULP_SPECIAL["logsumexp"][dtype], (row, error)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_and_log_softmax_match_oracle(dtype: type) -> None:
    for row in adversarial_logits(dtype):
        probs, logs = lb.softmax(row), lb.log_softmax(row)
        assert probs.dtype == logs.dtype == dtype
        expected_probs = oracle.softmax(row)
        expected_logs = oracle.log_softmax(row)
        for actual, exact in zip(probs, expected_probs, strict=True):
            if float(exact) < float(np.finfo(dtype).tiny):
                assert actual <= np.finfo(dtype).tiny  # underflow to (sub)normal is fine
                continue
            assert oracle.ulp_error(actual, exact, dtype) <= MAX_ULP_SPECIAL["softmax"][dtype], row
        for actual, exact in zip(logs, expected_logs, strict=True):
            if abs(float(exact)) > float(np.finfo(dtype).max):
                assert actual == -np.inf
                continue
            error = oracle.ulp_error(actual, exact, dtype, floor=1.0)
            assert error <= MAX_ULP_SPECIAL["log_softmax"][dtype], (row, error)


def test_log_softmax_keeps_relative_accuracy_of_tiny_log_probabilities() -> None:
    row = np.array([30.0, 0.0, 0.0])
    result = lb.log_softmax(row)[0]
    assert oracle.ulp_error(result, oracle.log_softmax(row)[0], np.float64) <= 2


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_and_log_sigmoid_match_oracle(dtype: type) -> None:
    limit = {np.float16: 11.0, np.float32: 88.0, np.float64: 700.0}[dtype]
    z = np.array([-limit, -30.0, -5.0, -1e-3, 0.0, 1e-3, 5.0, 30.0, limit], dtype=dtype)
    for name, func, reference in [
        ("sigmoid", lb.sigmoid, oracle.sigmoid),
        ("log_sigmoid", lb.log_sigmoid, oracle.log_sigmoid),
    ]:
        result = func(z)
        assert result.dtype == dtype
        for actual, x in zip(result, z, strict=True):
            exact = reference(x)
            if abs(float(exact)) < float(np.finfo(dtype).tiny):
                assert abs(float(actual)) <= float(np.finfo(dtype).tiny)
                continue
            assert oracle.ulp_error(actual, exact, dtype) <= MAX_ULP_SPECIAL[name][dtype], (name, x)


@pytest.mark.parametrize("dtype", DTYPES)
def test_no_overflow_at_the_extremes_of_each_dtype(dtype: type) -> None:
    info = np.finfo(dtype)
    z = np.array([[info.max, -info.max, 0.0], [-info.max, -info.max, -info.max]], dtype=dtype)
    assert np.all(np.isfinite(lb.softmax(z)))
    assert np.all(np.isfinite(lb.sigmoid(z)))
    assert np.all(~np.isnan(lb.log_sigmoid(z)))
    assert np.isfinite(lb.logsumexp(z[1]))
    np.testing.assert_array_equal(lb.softmax(z[0]), np.array([1, 0, 0], dtype=dtype))
    # log_softmax of -max is -2 * max, beyond the range: -inf, and no overflow warning
    # (float16 is computed in float32, where -131008 is finite, and overflows in the cast).
    np.testing.assert_array_equal(
        lb.log_softmax(z[0]), np.array([0, -np.inf, -info.max], dtype=dtype)
    )


def test_infinities_follow_scipy() -> None:
    inf = np.inf
    np.testing.assert_array_equal(
        lb.logsumexp([[inf, 0.0], [-inf, -inf], [-inf, 0.0]]), [inf, -inf, 0.0]
    )
    np.testing.assert_array_equal(lb.softmax([-inf, 0.0]), [0.0, 1.0])
    np.testing.assert_array_equal(lb.log_softmax([-inf, 0.0]), [-inf, 0.0])
    np.testing.assert_array_equal(lb.sigmoid([-inf, inf]), [0.0, 1.0])
    np.testing.assert_array_equal(lb.log_sigmoid([-inf, inf]), [-inf, 0.0])


@pytest.mark.parametrize("func", [lb.softmax, lb.log_softmax, lb.softmax_jacobian])
def test_softmax_raises_where_scipy_returns_nan(func) -> None:
    with pytest.raises(ValueError, match=r"z contains \+inf"):
        func([np.inf, 0.0])
    with pytest.raises(ValueError, match="z has a slice whose entries are all -inf"):
        func([-np.inf, -np.inf])


@pytest.mark.parametrize(
    "func",
    [lb.logsumexp, lb.softmax, lb.log_softmax, lb.softmax_jacobian, lb.sigmoid, lb.log_sigmoid],
)
def test_validation_errors(func) -> None:
    with pytest.raises(ValueError, match="z contains NaN"):
        func([1.0, np.nan])
    with pytest.raises(TypeError, match="z must hold real numbers"):
        func(np.array([1 + 1j, 2.0]))
    with pytest.raises(TypeError, match="z must"):
        func(["a", "b"])


@pytest.mark.parametrize("func", [lb.logsumexp, lb.softmax, lb.log_softmax])
def test_axis_validation(func) -> None:
    with pytest.raises(ValueError, match="axis=2 is out of bounds"):
        func(np.zeros((2, 2)), axis=2)
    with pytest.raises(TypeError, match="axis must be an integer"):
        func(np.zeros((2, 2)), axis=1.0)
    with pytest.raises(ValueError, match="z is empty along axis 1"):
        func(np.zeros((2, 0)), axis=1)
    if func is lb.logsumexp:  # axis=-1 of a 0-d input (softmax takes it: one class)
        with pytest.raises(ValueError, match="0-d input"):
            func(1.0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dtype_and_shape_are_preserved(dtype: type) -> None:
    z = np.linspace(-3, 3, 24, dtype=dtype).reshape(2, 3, 4)
    for func in (lb.softmax, lb.log_softmax, lb.sigmoid, lb.log_sigmoid):
        out = func(z)
        assert out.dtype == dtype
        assert out.shape == z.shape
    assert lb.logsumexp(z, axis=1).shape == (2, 4)
    assert lb.logsumexp(z, axis=1, keepdims=True).shape == (2, 1, 4)
    jac = lb.softmax_jacobian(z)
    assert jac.dtype == dtype
    assert jac.shape == (2, 3, 4, 4)


@pytest.mark.parametrize("dtype", DTYPES)
def test_no_rows_give_empty_results_as_in_numpy(dtype: type) -> None:
    # Empty along an axis that is not reduced: an empty result, as NumPy and SciPy give.
    z = np.zeros((0, 3, 4), dtype=dtype)
    for func in (lb.softmax, lb.log_softmax):
        for axis in (-1, 1):
            out = func(z, axis=axis)
            assert out.shape == z.shape
            assert out.dtype == dtype
    assert lb.logsumexp(z).shape == (0, 3)
    assert lb.logsumexp(z, axis=(1, 2)).shape == (0,)
    assert lb.logsumexp(z, axis=(1, 2), keepdims=True).shape == (0, 1, 1)
    assert lb.logsumexp(z, b=np.ones(4), return_sign=True)[1].shape == (0, 3)
    assert lb.logsumexp(z, axis=-1).dtype == dtype


def test_weighted_logsumexp_with_infinite_logits_takes_the_sign_of_their_weights() -> None:
    # sum(b * exp(z)) is -inf when the +inf logit has a negative weight, wherever it sits.
    for z, b in (([0.0, np.inf], [1.0, -1.0]), ([np.inf, 0.0], [-2.0, 1.0])):
        value, sign = lb.logsumexp(z, b=b, return_sign=True)
        assert value == np.inf
        assert sign == -1.0
        with pytest.raises(ValueError, match="negative"):
            lb.logsumexp(z, b=b)
    assert lb.logsumexp([0.0, np.inf, np.inf], b=[-1.0, 2.0, 0.5], return_sign=True) == (
        np.inf,
        1.0,
    )
    with pytest.raises(ValueError, match="inf - inf"):
        lb.logsumexp([np.inf, np.inf], b=[1.0, -1.0], return_sign=True)


def test_weighted_logsumexp_edge_cases_raise_no_warnings() -> None:
    # RuntimeWarnings are errors under pytest here: 0/0 for an all-zero weight row,
    # and the overflow of the branch np.where discards for huge weights.
    assert lb.logsumexp([1.0, 2.0], b=[0.0, 0.0], return_sign=True) == (-np.inf, 0.0)
    expected = np.log(1e308) + np.log(2.0)
    assert lb.logsumexp([0.0, 0.0], b=[1e308, 1e308]) == pytest.approx(expected, rel=1e-15)


def test_integer_input_gives_float64() -> None:
    assert lb.softmax([1, 2, 3]).dtype == np.float64
    assert lb.sigmoid(np.array([True, False])).dtype == np.float64


def test_axis_argument_matches_moving_the_axis() -> None:
    z = np.random.default_rng(0).normal(size=(3, 4, 5))
    for axis in (0, 1, -1):
        moved = np.moveaxis(z, axis, -1)
        np.testing.assert_allclose(
            np.moveaxis(lb.softmax(z, axis=axis), axis, -1), lb.softmax(moved)
        )
        np.testing.assert_allclose(lb.logsumexp(z, axis=axis), lb.logsumexp(moved))


def test_softmax_jacobian_matches_finite_differences() -> None:
    z = np.random.default_rng(1).normal(size=(2, 5))
    jac = lb.softmax_jacobian(z)
    step = 1e-6
    for n in range(2):
        for j in range(5):
            plus, minus = z[n].copy(), z[n].copy()
            plus[j] += step
            minus[j] -= step
            column = (lb.softmax(plus) - lb.softmax(minus)) / (2 * step)
            np.testing.assert_allclose(jac[n, :, j], column, atol=1e-9)
    np.testing.assert_allclose(jac, np.swapaxes(jac, -1, -2))
    np.testing.assert_allclose(jac.sum(axis=-1), 0, atol=1e-16)


def test_softmax_jacobian_diagonal_is_accurate_for_a_dominant_class() -> None:
    jac = lb.softmax_jacobian([40.0, 0.0])
    exact = oracle.softmax([40.0, 0.0])
    expected = exact[0] * (1 - exact[0])
    assert oracle.ulp_error(jac[0, 0], expected, np.float64) <= 4


def test_inputs_are_not_mutated() -> None:
    z = np.array([[1.0, 2.0, 3.0], [-1.0, 0.0, 100.0]])
    z.flags.writeable = False
    before = z.copy()
    for func in (
        lb.logsumexp,
        lb.softmax,
        lb.log_softmax,
        lb.softmax_jacobian,
        lb.sigmoid,
        lb.log_sigmoid,
    ):
        func(z)
        np.testing.assert_array_equal(z, before)


finite_rows = hnp.arrays(
    np.float64,
    st.integers(1, 8),
    elements=st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
)


@settings(max_examples=200, deadline=None)
@given(finite_rows, st.floats(-1e3, 1e3))
def test_softmax_is_shift_invariant_and_sums_to_one(z: np.ndarray, shift: float) -> None:
    probs = lb.softmax(z)
    assert np.all(probs >= 0)
    assert abs(probs.sum() - 1) <= 4 * z.size * np.finfo(np.float64).eps
    # z + shift is rounded, so compare with a tolerance scaled to the rounding of z.
    scale = np.finfo(np.float64).eps * (np.max(np.abs(z)) + abs(shift))
    np.testing.assert_allclose(lb.softmax(z + shift), probs, atol=16 * scale + 1e-15)


@settings(max_examples=200, deadline=None)
@given(finite_rows)
def test_log_softmax_is_log_of_softmax_where_both_are_finite(z: np.ndarray) -> None:
    probs, logs = lb.softmax(z), lb.log_softmax(z)
    usable = probs > np.finfo(np.float64).tiny
    np.testing.assert_allclose(np.exp(logs[usable]), probs[usable], rtol=1e-12)
    np.testing.assert_allclose(logs[usable], np.log(probs[usable]), rtol=1e-12, atol=1e-14)
    assert np.all(np.isfinite(logs))


@settings(max_examples=200, deadline=None)
@given(finite_rows)
def test_logsumexp_bounds(z: np.ndarray) -> None:
    lse = lb.logsumexp(z)
    assert z.max() <= lse <= z.max() + np.log(z.size) + 1e-9 * max(1.0, abs(z.max()))


# --- issue 20 ---------------------------------------------------------------------------


def test_logsumexp_axes_refer_to_the_broadcast_shape() -> None:
    # b with more dimensions than z: the axes were normalised against z alone.
    np.testing.assert_allclose(
        lb.logsumexp([1.0, 2.0], b=np.ones((3, 2))), [np.logaddexp(1.0, 2.0)] * 3, rtol=1e-15
    )
    assert lb.logsumexp(0.0, axis=None, b=[1, 2, 3]) == pytest.approx(np.log(6.0), rel=1e-15)
    assert lb.logsumexp(np.zeros(2), axis=0, b=np.ones((4, 2))).shape == (2,)
    scipy_special = pytest.importorskip("scipy.special")
    z, b = np.array([[0.5, -1.0]]), np.arange(1.0, 13.0).reshape(2, 3, 2)
    for axis in (-1, 0, 1, (0, 2), None):
        np.testing.assert_allclose(
            lb.logsumexp(z, axis=axis, b=b), scipy_special.logsumexp(z, axis=axis, b=b), rtol=1e-14
        )


@pytest.mark.parametrize("z_dtype", DTYPES)
@pytest.mark.parametrize("b_dtype", [*DTYPES, np.int64, np.bool_])
def test_logsumexp_dtype_follows_z_and_b(z_dtype: type, b_dtype: type) -> None:
    result = lb.logsumexp(np.zeros(3, z_dtype), b=np.ones(3, b_dtype))
    expected = np.result_type(z_dtype, b_dtype)
    assert result.dtype == expected
    value, sign = lb.logsumexp(np.zeros(3, z_dtype), b=np.ones(3, b_dtype), return_sign=True)
    assert value.dtype == sign.dtype == expected


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_of_a_single_logit(dtype: type) -> None:
    # "Any shape": a 0-d input is a distribution over one class (SciPy, torch: 1 and 0).
    p, log_p = lb.softmax(dtype(3.0)), lb.log_softmax(dtype(3.0))
    assert p.shape == log_p.shape == ()
    assert p.dtype == log_p.dtype == dtype
    assert p == 1.0
    assert log_p == 0.0
    assert lb.softmax(3.0, axis=0) == 1.0
    with pytest.raises(ValueError, match="out of bounds"):
        lb.softmax(3.0, axis=1)
    with pytest.raises(ValueError, match="\\+inf"):
        lb.softmax(np.inf)
