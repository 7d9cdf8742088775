"""Tests for lossbook._information: information, entropy, cross-entropy, KL.

Error bounds against the 60-digit oracle: ``oracle.MAX_ULP_INFORMATION``.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import lossbook as lb
from tests import oracle
from tests.oracle import DTYPES, MAX_ULP_INFORMATION


def adversarial_pairs(dtype: type) -> list[tuple[np.ndarray, np.ndarray]]:
    tiny = {np.float16: 1e-4, np.float32: 1e-30, np.float64: 1e-300}[dtype]
    small = {np.float16: 1e-3, np.float32: 1e-7, np.float64: 1e-15}[dtype]
    pairs = [
        ([0.5, 0.5], [0.25, 0.75]),
        ([1.0, 0.0], [0.5, 0.5]),
        ([1 - small, small], [0.5, 0.5]),
        ([1 - small, small], [1 - 2 * small, 2 * small]),
        ([0.5, 0.5], [0.5 + small, 0.5 - small]),  # KL of order small**2
        ([0.25, 0.25, 0.5], [0.25, 0.25, 0.5]),
        ([1 - tiny, tiny], [tiny, 1 - tiny]),
        ([0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1]),
    ]
    out = []
    for p, q in pairs:
        p_arr, q_arr = np.array(p, dtype=dtype), np.array(q, dtype=dtype)
        out.append((p_arr, q_arr))
    return out


@pytest.mark.parametrize("dtype", DTYPES)
def test_measures_match_oracle(dtype: type) -> None:
    for p, q in adversarial_pairs(dtype):
        cases = [
            (lb.entropy(p), oracle.entropy(p)),
            (lb.cross_entropy(p, q), oracle.cross_entropy(p, q)),
            (lb.kl_divergence(p, q), oracle.kl_divergence(p, q)),
        ]
        for actual, exact in cases:
            assert actual.dtype == dtype
            if float(exact) != 0 and abs(float(exact)) < float(np.finfo(dtype).tiny):
                assert abs(float(actual)) <= float(np.finfo(dtype).tiny)
                continue
            error = oracle.ulp_error(actual, exact, dtype)
            assert error <= MAX_ULP_INFORMATION[dtype], (p, q, actual, exact, error)


@pytest.mark.parametrize("dtype", DTYPES)
def test_information_matches_oracle(dtype: type) -> None:
    p = np.array([1.0, 0.5, 0.1, 1e-3, np.finfo(dtype).tiny], dtype=dtype)
    for actual, pi in zip(lb.information(p), p, strict=True):
        exact = -oracle.mp.log(oracle.mpf(pi))
        assert oracle.ulp_error(actual, exact, dtype) <= MAX_ULP_INFORMATION[dtype]


def test_kl_keeps_relative_accuracy_when_q_is_a_tiny_perturbation_of_p() -> None:
    p = np.array([0.3, 0.7])
    q = np.array([0.3 + 1e-9, 0.7 - 1e-9])
    exact = oracle.kl_divergence(p, q)
    assert float(exact) > 0
    assert (
        oracle.ulp_error(lb.kl_divergence(p, q), exact, np.float64)
        <= MAX_ULP_INFORMATION[np.float64]
    )


def test_units_and_conventions() -> None:
    np.testing.assert_allclose(lb.information([1.0, 0.5, 0.25], base=2), [0.0, 1.0, 2.0])
    assert lb.information(0.0) == np.inf
    assert lb.entropy([0.5, 0.5], base=2) == pytest.approx(1.0)
    assert lb.entropy([1.0, 0.0]) == 0.0  # 0 log 0 = 0
    assert lb.entropy([0.1] * 10, base=10) == pytest.approx(1.0)
    assert lb.cross_entropy([1.0, 0.0], [0.0, 1.0]) == np.inf  # support mismatch
    assert lb.kl_divergence([1.0, 0.0], [0.0, 1.0]) == np.inf
    assert lb.cross_entropy([0.0, 1.0], [0.0, 1.0]) == 0.0  # 0 log 0 = 0, q = 0 where p = 0
    assert lb.kl_divergence([0.0, 1.0], [0.5, 0.5]) == pytest.approx(np.log(2))


def test_broadcasting_and_axis() -> None:
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(4), size=3)  # (3, 4)
    q = rng.dirichlet(np.ones(4))  # (4,) broadcasts against every row
    rows = np.array([lb.cross_entropy(p[i], q) for i in range(3)])
    np.testing.assert_allclose(lb.cross_entropy(p, q), rows)
    np.testing.assert_allclose(lb.kl_divergence(p.T, q[:, None], axis=0), lb.kl_divergence(p, q))
    np.testing.assert_allclose(lb.entropy(p.T, axis=0), lb.entropy(p))
    assert lb.entropy(p[None], axis=-1).shape == (1, 3)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dtype_is_preserved(dtype: type) -> None:
    p = np.array([0.25, 0.75], dtype=dtype)
    assert lb.information(p).dtype == dtype
    for value in (lb.entropy(p), lb.cross_entropy(p, p), lb.kl_divergence(p, p)):
        assert value.dtype == dtype
    assert lb.entropy([0, 1]).dtype == np.float64
    assert lb.cross_entropy(p, np.array([0.5, 0.5])).dtype == np.result_type(dtype, np.float64)


@pytest.mark.parametrize(
    "func", [lb.entropy, lambda p: lb.cross_entropy(p, p), lambda p: lb.kl_divergence(p, p)]
)
def test_distribution_validation(func) -> None:
    with pytest.raises(ValueError, match="p has negative entries"):
        func([1.5, -0.5])
    with pytest.raises(ValueError, match="p contains NaN"):
        func([np.nan, 1.0])
    with pytest.raises(ValueError, match="does not sum to 1 along axis 0"):
        func([0.3, 0.3])
    with pytest.raises(ValueError, match="greater than 1"):
        func([2.0, 0.0])
    with pytest.raises(TypeError, match="p must hold real numbers"):
        func(np.array([0.5 + 0j, 0.5]))
    with pytest.raises(ValueError, match="is empty along axis 0"):
        func(np.array([]))


def test_pair_validation_names_the_argument() -> None:
    with pytest.raises(ValueError, match="q does not sum to 1"):
        lb.kl_divergence([0.5, 0.5], [0.2, 0.2])
    with pytest.raises(ValueError, match="q has negative entries"):
        lb.cross_entropy([0.5, 0.5], [1.5, -0.5])
    with pytest.raises(
        ValueError, match=r"p with shape \(3,\) and q with shape \(2,\) do not broadcast"
    ):
        lb.cross_entropy([0.2, 0.3, 0.5], [0.5, 0.5])


def test_base_and_axis_validation() -> None:
    for base in (0, -2, 1, np.inf):
        with pytest.raises(ValueError, match="base must be positive, finite and not 1"):
            lb.entropy([0.5, 0.5], base=base)
    with pytest.raises(TypeError, match="base must be a real number"):
        lb.information(0.5, base="2")
    with pytest.raises(ValueError, match="axis=3 is out of bounds"):
        lb.entropy([0.5, 0.5], axis=3)
    with pytest.raises(ValueError, match="p has entries greater than 1"):
        lb.information(1.5)


def test_sum_tolerance_depends_on_dtype() -> None:
    off = np.array([0.5, 0.5 + 1e-5])
    with pytest.raises(ValueError, match="does not sum to 1"):
        lb.entropy(off)  # float64: tolerance ~1.5e-8
    lb.entropy(off.astype(np.float32))  # float32: tolerance ~3.5e-4


def test_inputs_are_not_mutated() -> None:
    p = np.array([0.0, 0.25, 0.75])
    q = np.array([0.5, 0.25, 0.25])
    for array in (p, q):
        array.flags.writeable = False
    lb.information(p), lb.entropy(p), lb.cross_entropy(p, q), lb.kl_divergence(p, q)
    np.testing.assert_array_equal(p, [0.0, 0.25, 0.75])
    np.testing.assert_array_equal(q, [0.5, 0.25, 0.25])


@st.composite
def distributions(draw, n: int | None = None) -> np.ndarray:
    size = n if n is not None else draw(st.integers(1, 10))
    weights = draw(
        hnp.arrays(
            np.float64, size, elements=st.floats(0, 1e3, allow_nan=False, allow_infinity=False)
        )
    )
    assume(weights.sum() > 0)
    return weights / weights.sum()


@st.composite
def distribution_pairs(draw) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 10))
    return draw(distributions(n)), draw(distributions(n))


@settings(max_examples=300, deadline=None)
@given(distribution_pairs())
def test_gibbs_inequality(pair: tuple[np.ndarray, np.ndarray]) -> None:
    p, q = pair
    assert lb.kl_divergence(p, q) >= 0
    assert lb.kl_divergence(p, p) == 0


@settings(max_examples=300, deadline=None)
@given(distribution_pairs())
def test_cross_entropy_is_entropy_plus_kl(pair: tuple[np.ndarray, np.ndarray]) -> None:
    p, q = pair
    ce, h, kl = lb.cross_entropy(p, q), lb.entropy(p), lb.kl_divergence(p, q)
    if np.isinf(ce):
        assert np.isinf(kl)
    else:
        assert ce == pytest.approx(h + kl, rel=1e-12, abs=1e-12)


@settings(max_examples=300, deadline=None)
@given(distributions())
def test_entropy_is_between_zero_and_log_n(p: np.ndarray) -> None:
    h = lb.entropy(p)
    assert 0 <= h <= np.log(p.size) * (1 + 1e-12)


def test_kl_matches_oracle_on_random_pairs() -> None:
    """Random and nearly equal pairs, where terms of both signs meet (measured max 3.4 ULP)."""
    rng = np.random.default_rng(7)
    for _ in range(400):
        n = int(rng.integers(2, 6))
        concentration = rng.choice([0.05, 0.5, 1.0, 5.0, 50.0])
        p = rng.dirichlet(np.full(n, concentration))
        q = rng.dirichlet(np.full(n, concentration))
        if rng.random() < 0.3:  # a perturbation of p, from 1e-12 to 1e-1 relative
            q = np.abs(p * (1 + rng.normal(0, 10 ** rng.uniform(-12, -1), n)))
            q /= q.sum()
        if np.any(p == 0) or np.any(q == 0):
            continue
        exact = oracle.kl_divergence(p, q)
        assert oracle.ulp_error(lb.kl_divergence(p, q), exact, np.float64) <= 4, (p, q)
