"""Tests for lossbook._calibration: reliability bins, ECE and the temperature fit.

The bins and the ECE are checked against a brute-force loop over the
definitions of Guo et al. 2017; the temperature against the
first-order condition of the likelihood, written with lossbook's own
cross-entropy and differentiated numerically, and against nearby
temperatures.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import lossbook as lb


def brute_bins(
    conf: np.ndarray, outcome: np.ndarray, n_bins: int
) -> list[tuple[int, float, float]]:
    """Equal-width bins ((b-1)/B, b/B], the first closed at 0, by a loop."""
    out = []
    for b in range(n_bins):
        lo, hi = b / n_bins, (b + 1) / n_bins
        inside = [
            (c, o)
            for c, o in zip(conf, outcome, strict=True)
            if (lo < c <= hi) or (b == 0 and c == 0)
        ]
        if inside:
            cs, os_ = zip(*inside, strict=True)
            out.append((len(inside), float(np.mean(cs)), float(np.mean(os_))))
        else:
            out.append((0, np.nan, np.nan))
    return out


@settings(max_examples=60, deadline=None)
@given(
    conf=hnp.arrays(np.float64, st.integers(1, 60), elements=st.floats(0, 1)),
    n_bins=st.integers(1, 20),
    data=st.data(),
)
def test_uniform_bins_and_ece_match_brute_force(
    conf: np.ndarray, n_bins: int, data: st.DataObject
) -> None:
    outcome = data.draw(hnp.arrays(np.int64, conf.shape, elements=st.integers(0, 1)))
    bins = lb.reliability_bins(conf, outcome, n_bins=n_bins)
    ref = brute_bins(conf, outcome, n_bins)
    # the bin of c is ceil(c B) - 1: at an exact edge b/B in floating point the
    # product may round either way, so compare away from edges only
    on_edge = np.isclose(conf * n_bins, np.round(conf * n_bins), rtol=0, atol=1e-9) & (conf > 0)
    if not on_edge.any():
        assert bins.counts.tolist() == [r[0] for r in ref]
        np.testing.assert_allclose(bins.confidence, [r[1] for r in ref], rtol=1e-12)
        np.testing.assert_allclose(bins.frequency, [r[2] for r in ref], rtol=1e-12)
        ece = sum(n * abs(f - c) for n, c, f in ref if n) / conf.size
        assert lb.expected_calibration_error(conf, outcome, n_bins=n_bins) == pytest.approx(
            ece, abs=1e-12
        )
    np.testing.assert_allclose(bins.edges, np.linspace(0, 1, n_bins + 1))
    assert bins.counts.sum() == conf.size


@settings(max_examples=60, deadline=None)
@given(
    conf=hnp.arrays(np.float64, st.integers(1, 80), elements=st.floats(0, 1)),
    n_bins=st.integers(1, 20),
)
def test_quantile_bins_have_equal_mass(conf: np.ndarray, n_bins: int) -> None:
    outcome = (conf > 0.5).astype(int)
    bins = lb.reliability_bins(conf, outcome, n_bins=n_bins, strategy="quantile")
    assert bins.counts.sum() == conf.size
    # scikit-learn's edges: the percentiles 100 b / B (linear interpolation)
    inner = np.percentile(conf, np.linspace(0, 100, n_bins + 1))[1:-1]
    np.testing.assert_array_equal(bins.edges[1:-1], inner)
    distinct = np.unique(conf)
    if distinct.size == conf.size >= n_bins:
        # percentile positions b (N - 1) / B: bins of floor or ceil of (N - 1) / B, the
        # first one more (its edge value itself falls in the bin below)
        low, high = (conf.size - 1) // n_bins, -(-(conf.size - 1) // n_bins) + 1
        assert low <= bins.counts.min()
        assert bins.counts.max() <= high
    filled = bins.counts > 0
    # the bins partition the sorted confidences: their means are non-decreasing
    assert np.all(np.diff(bins.confidence[filled]) >= -1e-12)
    assert np.all(np.diff(bins.edges) >= 0)
    assert bins.edges[0] == 0
    assert bins.edges[-1] == 1
    ece = lb.expected_calibration_error(conf, outcome, n_bins=n_bins, strategy="quantile")
    assert 0 <= ece <= 1


def test_ece_is_zero_when_calibrated_and_counts_the_gap() -> None:
    conf = np.repeat([0.25, 0.75], 8)
    outcome = np.array([1, 0, 0, 0] * 2 + [1, 1, 1, 0] * 2)
    assert lb.expected_calibration_error(conf, outcome) == pytest.approx(0.0, abs=1e-15)
    assert lb.expected_calibration_error(np.full(4, 0.9), [1, 1, 0, 0]) == pytest.approx(0.4)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        (([0.5, 1.2], [0, 1]), {}, ValueError, "confidence"),
        (([0.5, np.nan], [0, 1]), {}, ValueError, "confidence"),
        (([0.5, 0.5], [0, 2]), {}, ValueError, "outcome"),
        (([0.5, 0.5], [0, 1, 1]), {}, ValueError, "shape"),
        (([], []), {}, ValueError, "empty"),
        (([0.5], [1]), {"n_bins": 0}, ValueError, "n_bins"),
        (([0.5], [1]), {"n_bins": 2.0}, TypeError, "n_bins"),
        (([0.5], [1]), {"strategy": "equal"}, ValueError, "strategy"),
    ],
)
def test_calibration_validation(args: tuple, kwargs: dict, error: type, match: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(error, match=match):
        lb.expected_calibration_error(*args, **kwargs)
    with pytest.raises(error, match=match):
        lb.reliability_bins(*args, **kwargs)


# --- temperature scaling --------------------------------------------------------------


def overconfident(seed: int, n: int = 3000, c: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    z = rng.normal(0, 1.5, (n, c))
    z[np.arange(n), y] += 1.5
    return 3.0 * z, y


@pytest.mark.parametrize("seed", [0, 1])
def test_fit_temperature_is_the_likelihood_optimum(seed: int) -> None:
    z, y = overconfident(seed)
    before = z.copy()
    t = lb.fit_temperature(z, y)
    assert np.array_equal(z, before)

    def nll(inv_t: np.ndarray) -> float:
        return float(lb.softmax_cross_entropy(z * inv_t[0], y))

    slope = lb.numerical_gradient(nll, np.array([1.0 / t]))[0]
    assert abs(slope) < 1e-6
    for factor in [0.99, 1.01]:
        assert nll(np.array([1.0 / t])) < nll(np.array([factor / t]))
    assert t > 1.0  # the logits were inflated threefold: over-confident


def test_fit_temperature_binary_equals_two_class_and_scales() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 1000)
    z = 2.0 * (2 * y - 1) + 1.5 * rng.standard_normal(1000)
    t_binary = lb.fit_temperature(z, y)
    t_two = lb.fit_temperature(np.stack([np.zeros_like(z), z], axis=1), y)
    assert t_binary == pytest.approx(t_two, rel=1e-12)
    assert lb.fit_temperature(5.0 * z, y) == pytest.approx(5.0 * t_binary, rel=1e-10)
    assert lb.fit_temperature(z.astype(np.float32), y) == pytest.approx(t_binary, rel=1e-6)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6), scale=st.floats(0.05, 20))
def test_fit_temperature_is_equivariant(seed: int, scale: float) -> None:
    z, y = overconfident(seed, n=200, c=3)
    assert lb.fit_temperature(scale * z, y) == pytest.approx(
        scale * lb.fit_temperature(z, y), rel=1e-9
    )


def test_fit_temperature_rejects_problems_without_an_optimum() -> None:
    z = np.array([[2.0, 0.0], [0.0, 3.0]])
    with pytest.raises(ValueError, match="T -> 0"):
        lb.fit_temperature(z, np.array([0, 1]))  # separable
    with pytest.raises(ValueError, match="no better than a constant"):
        lb.fit_temperature(z, np.array([1, 0]))  # anti-informative
    with pytest.raises(ValueError, match="logits"):
        lb.fit_temperature(np.array([[np.nan, 0.0]]), np.array([0]))
    with pytest.raises(ValueError, match="target"):
        lb.fit_temperature(np.zeros(3), np.zeros(2, int))
    with pytest.raises(ValueError, match="target"):
        lb.fit_temperature(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(TypeError, match="max_iter"):
        lb.fit_temperature(z, np.array([0, 1]), max_iter=1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_ties_share_a_bin_whatever_the_order(strategy: str) -> None:
    # Issue 20: quantile bins split tied confidences in input order (0.5 against 0.4).
    conf = np.full(4, 0.9)
    eces = [
        lb.expected_calibration_error(conf, outcome, n_bins=2, strategy=strategy)
        for outcome in ([1, 1, 0, 0], [0, 1, 0, 1], [0, 0, 1, 1])
    ]
    assert eces == [pytest.approx(0.4, abs=1e-15)] * 3
    bins = lb.reliability_bins(conf, [1, 1, 0, 0], n_bins=2, strategy=strategy)
    assert sorted(bins.counts.tolist()) == [0, 4]


@settings(max_examples=60, deadline=None)
@given(
    conf=hnp.arrays(
        np.float64, st.integers(1, 60), elements=st.sampled_from([0.0, 0.1, 0.3, 0.3, 0.9, 1.0])
    ),
    n_bins=st.integers(1, 10),
    strategy=st.sampled_from(["uniform", "quantile"]),
    seed=st.integers(0, 2**16),
)
def test_bins_follow_the_returned_edges_and_ignore_order(
    conf: np.ndarray, n_bins: int, strategy: str, seed: int
) -> None:
    outcome = np.arange(conf.size) % 2
    bins = lb.reliability_bins(conf, outcome, n_bins=n_bins, strategy=strategy)
    order = np.random.default_rng(seed).permutation(conf.size)
    again = lb.reliability_bins(conf[order], outcome[order], n_bins=n_bins, strategy=strategy)
    np.testing.assert_array_equal(bins.counts, again.counts)
    np.testing.assert_allclose(bins.frequency, again.frequency, rtol=1e-12)
    # every prediction lies in the bin (edges[b], edges[b + 1]] of the returned edges
    for value in np.unique(conf):
        b = max(0, int(np.sum(bins.edges[1:-1] < value)))
        assert bins.counts[b] >= np.count_nonzero(conf == value)


@pytest.mark.parametrize("n_bins", [3, 6, 7, 10, 15])
def test_uniform_bins_agree_with_their_edges_one_ulp_above(n_bins: int) -> None:
    # Issue 20: ceil(c * B) put a confidence one ulp above an edge in the bin below
    # (c * B rounds down to the edge's index for 206 edges of B < 40, e.g. B = 3).
    edges = lb.reliability_bins([0.5], [1], n_bins=n_bins).edges
    for b in range(1, n_bins):
        above = np.nextafter(edges[b], 1.0)
        bins = lb.reliability_bins([above], [1], n_bins=n_bins)
        assert bins.edges[b] < above <= bins.edges[b + 1]
        assert bins.counts[b] == 1, b


@pytest.mark.parametrize("scale", [1e-300, 1e-30, 1e25, 1e30, 1e100, 1e300])
def test_fit_temperature_brackets_from_the_data_scale(scale: float) -> None:
    # Logit scales above ~1e25 ran out of iterations (the bracket started at a = 1).
    rng = np.random.default_rng(40)
    y = rng.integers(0, 3, 500)
    z = rng.standard_normal((500, 3))
    z[np.arange(500), y] += 2.0
    base = lb.fit_temperature(z, y)
    assert lb.fit_temperature(scale * z, y) == pytest.approx(scale * base, rel=1e-12)
    binary = z[:, 1] - z[:, 0]
    labels = y == 1  # bool binary labels are accepted
    assert lb.fit_temperature(scale * binary, labels) == pytest.approx(
        scale * lb.fit_temperature(binary, labels.astype(int)), rel=1e-12
    )
