"""Tests for lossbook._imbalance: class-balanced weights, logit-adjusted and Poly-1 CE.

Expected values come from 60-digit mpmath written from the papers' formulas
(Cui et al. 2019, the effective number; Menon et al. 2021, the logit-adjusted
loss; Leng et al. 2022, Poly-1),
and gradients from ``mp.diff`` of those references, so the analytic gradient
formulas are checked against an independent differentiation.

Bounds at extreme logits (+-1e4 float64, +-80 float32, +-10 float16): values
and gradients to a relative 1e-10 in float64 (measured about 1e-13: the
logit adjustment is one float64 addition, whose rounding at |z| = 1e4 is what
remains), and one ULP of the result's dtype for float16 and float32 (computed
in float64 and rounded once).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import lossbook as lb
from tests import oracle
from tests.oracle import DTYPES, EXTREME, REDUCTIONS, mp

PRIOR = np.array([0.6, 0.25, 0.1, 0.04, 0.01])


def extreme_case(dtype: type, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of 5 logits spanning the dtype's safe range, some confident and correct."""
    r = EXTREME[dtype]
    rng = np.random.default_rng(seed)
    z = rng.uniform(-r, r, (16, 5))
    z[:6, 1:] = z[:6, :1] - rng.uniform(1.0, 0.2 * r, (6, 4))
    y = rng.integers(0, 5, 16)
    y[:6] = 0
    return np.clip(z, -r, r).astype(dtype), y


def mp_poly1(row: list, y: int, eps: float):  # type: ignore[no-untyped-def, type-arg]
    with mp.workdps(mp.dps + 340):  # eps = -1: the two terms cancel to O(ce^2)
        ce = oracle.nll(row, y)
        return ce + oracle.mpf(eps) * -mp.expm1(-ce)


def mp_gradient(f, row: list) -> list:  # type: ignore[no-untyped-def, type-arg]
    """d f / d row_k by mpmath differentiation of f, at 400 digits so that gradient
    entries near the float64 underflow threshold are resolved."""
    out = []
    for k in range(len(row)):

        def along(t, k=k):  # type: ignore[no-untyped-def]
            moved = list(row)
            moved[k] = t
            return f(moved)

        with mp.workdps(400):
            out.append(mp.diff(along, row[k]))
    return out


# --- class-balanced weights --------------------------------------------------------


@pytest.mark.parametrize("beta", [0.0, 0.5, 0.9, 0.99, 0.999, 0.9999, 1 - 1e-12])
def test_class_balanced_weights_oracle(beta: float) -> None:
    counts = np.array([1, 2, 10, 1000, 123456, 10**7])
    got = lb.class_balanced_weights(counts, beta, normalize=False)
    b = oracle.mpf(beta)
    for g, n in zip(got, counts, strict=True):
        exact = (1 - b) / (1 - b ** int(n)) if beta else mp.mpf(1)
        assert float(g) == pytest.approx(float(exact), rel=1e-12)


def test_class_balanced_weights_limits_and_normalisation() -> None:
    counts = np.array([5000, 500, 50, 5])
    assert np.array_equal(lb.class_balanced_weights(counts, 0.0), np.ones(4))
    w = lb.class_balanced_weights(counts, 1 - 1e-9)  # beta -> 1: inverse frequency
    np.testing.assert_allclose(w / w[0], counts[0] / counts, rtol=1e-5)
    for beta in [0.9, 0.999]:
        w = lb.class_balanced_weights(counts, beta)
        assert w.sum() == pytest.approx(4.0, rel=1e-14)
        assert np.all(np.diff(w) >= 0)  # a rarer class never weighs less


def test_class_balanced_weights_normalised_without_overflow() -> None:
    # 1 / E_n overflows float64 for a tiny (non-integer) count; the normalised weights
    # are finite: the tiny class takes almost all of the total C = 2.
    counts = np.array([1e-320, 1.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        w = lb.class_balanced_weights(counts, 0.5)
    b = oracle.mpf(0.5)
    inverse = [1 / -mp.expm1(oracle.mpf(n) * mp.log(b)) for n in counts]
    exact = [2 * x / mp.fsum(inverse) for x in inverse]
    np.testing.assert_allclose(w, [float(e) for e in exact], rtol=1e-12, atol=0)
    with np.errstate(over="ignore"):  # unnormalised, 1 / E_n really exceeds the float64 range
        assert np.isinf(lb.class_balanced_weights(counts, 0.5, normalize=False)[0])


@pytest.mark.parametrize("dtype", DTYPES)
def test_class_balanced_weights_dtype_and_no_mutation(dtype: type) -> None:
    counts = np.array([100, 10, 1], dtype=dtype)
    before = counts.copy()
    w = lb.class_balanced_weights(counts, 0.99)
    assert w.dtype == dtype
    assert np.array_equal(counts, before)
    assert lb.class_balanced_weights([3, 1], 0.5).dtype == np.float64


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"counts": [1, 0], "beta": 0.9}, ValueError, "counts"),
        ({"counts": [1, -2], "beta": 0.9}, ValueError, "counts"),
        ({"counts": [1, np.nan], "beta": 0.9}, ValueError, "counts"),
        ({"counts": [], "beta": 0.9}, ValueError, "counts"),
        ({"counts": [1, 2], "beta": 1.0}, ValueError, "beta"),
        ({"counts": [1, 2], "beta": -0.1}, ValueError, "beta"),
        ({"counts": [1, 2], "beta": "0.9"}, TypeError, "beta"),
        ({"counts": ["a"], "beta": 0.9}, TypeError, "counts"),
        ({"counts": [1, 2], "beta": 0.9, "normalize": 1}, TypeError, "normalize"),
    ],
)
def test_class_balanced_weights_validation(kwargs: dict, error: type, match: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(error, match=match):
        lb.class_balanced_weights(**kwargs)


# --- logit-adjusted cross-entropy --------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_logit_adjusted_oracle_value_and_gradient(dtype: type) -> None:
    z, y = extreme_case(dtype, 1)
    tau = 1.5
    value, grad = lb.value_and_grad(lb.logit_adjusted_cross_entropy)(
        z, y, prior=PRIOR, tau=tau, reduction="none"
    )
    assert value.dtype == grad.dtype == dtype
    shift = [oracle.mpf(tau) * mp.log(oracle.mpf(p)) for p in PRIOR]
    for row, t, v_row, g_row in zip(z, y, value, grad, strict=True):
        adjusted = [oracle.mpf(x) + s for x, s in zip(row, shift, strict=True)]
        exact = oracle.nll(adjusted, int(t))
        exact_grad = mp_gradient(
            lambda r, t=t: oracle.nll([a + s for a, s in zip(r, shift, strict=True)], int(t)),
            [oracle.mpf(x) for x in row],
        )
        if dtype == np.float64:
            assert float(v_row) == pytest.approx(float(exact), rel=1e-10, abs=1e-300)
            np.testing.assert_allclose(
                g_row, [float(e) for e in exact_grad], rtol=1e-10, atol=1e-300
            )
        else:
            assert oracle.ulp_error(v_row, exact, dtype) <= 1
            assert oracle.max_ulp_error(g_row, exact_grad, dtype) <= 1


def test_logit_adjusted_is_ce_of_shifted_logits_and_numerical_gradient() -> None:
    rng = np.random.default_rng(2)
    z, y = rng.normal(0, 3, (6, 5)), rng.integers(0, 5, 6)
    w = np.array([1.0, 2.0, 0.5, 1.0, 3.0])
    for tau in [0.0, 1.0, 2.5]:
        got = lb.logit_adjusted_cross_entropy(z, y, prior=PRIOR, tau=tau, weight=w)
        want = lb.softmax_cross_entropy(z + tau * np.log(PRIOR), y, weight=w)
        assert got == pytest.approx(want, rel=1e-14)
        g = lb.grad(lb.logit_adjusted_cross_entropy)(z, y, prior=PRIOR, tau=tau, weight=w)
        num = lb.numerical_gradient(
            lambda x, tau=tau: lb.logit_adjusted_cross_entropy(
                x, y, prior=PRIOR, tau=tau, weight=w
            ),
            z,
        )
        np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-9)


def test_logit_adjusted_soft_targets_smoothing_and_ignore_index() -> None:
    rng = np.random.default_rng(5)
    z = rng.normal(0, 3, (6, 5))
    soft = rng.dirichlet(np.ones(5), 6)
    y = np.array([0, 4, -100, 2, 1, -100])
    cases = [
        (soft, {"label_smoothing": 0.1}),
        (y, {"ignore_index": -100, "label_smoothing": 0.2}),
    ]
    for target, kwargs in cases:
        got = lb.logit_adjusted_cross_entropy(z, target, prior=PRIOR, tau=1.5, **kwargs)
        want = lb.softmax_cross_entropy(z + 1.5 * np.log(PRIOR), target, **kwargs)
        assert got == pytest.approx(want, rel=1e-14)
        g = lb.grad(lb.logit_adjusted_cross_entropy)(z, target, prior=PRIOR, tau=1.5, **kwargs)
        num = lb.numerical_gradient(
            lambda x, target=target, kwargs=kwargs: lb.logit_adjusted_cross_entropy(
                x, target, prior=PRIOR, tau=1.5, **kwargs
            ),
            z,
        )
        np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-9)
    g = lb.grad(lb.logit_adjusted_cross_entropy)(z, y, prior=PRIOR, ignore_index=-100)
    assert np.array_equal(g[y == -100], np.zeros((2, 5)))


@settings(max_examples=40, deadline=None)
@given(
    z=hnp.arrays(np.float64, (4, 3), elements=st.floats(-50, 50)),
    prior=hnp.arrays(np.float64, 3, elements=st.floats(1e-3, 1.0)),
    scale=st.floats(1e-3, 1e3),
    tau=st.floats(0, 3),
)
def test_logit_adjusted_ignores_prior_scale(
    z: np.ndarray, prior: np.ndarray, scale: float, tau: float
) -> None:
    y = np.array([0, 1, 2, 0])
    a = lb.logit_adjusted_cross_entropy(z, y, prior=prior, tau=tau, reduction="none")
    b = lb.logit_adjusted_cross_entropy(z, y, prior=scale * prior, tau=tau, reduction="none")
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"prior": [0.5, 0.5]}, ValueError, "prior"),
        ({"prior": [0.5, 0.5, 0.0]}, ValueError, "prior"),
        ({"prior": [0.5, 0.5, np.inf]}, ValueError, "prior"),
        ({"prior": [0.5, 0.3, 0.2], "tau": np.nan}, ValueError, "tau"),
        ({"prior": [0.5, 0.3, 0.2], "tau": "1"}, TypeError, "tau"),
        ({"prior": [0.5, 0.3, 0.2], "reduction": "avg"}, ValueError, "reduction"),
    ],
)
def test_logit_adjusted_validation(kwargs: dict, error: type, match: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(error, match=match):
        lb.logit_adjusted_cross_entropy(np.zeros((2, 3)), np.array([0, 1]), **kwargs)
    with pytest.raises(ValueError, match="logits"):
        lb.logit_adjusted_cross_entropy(np.array([[np.nan, 0, 0]]), [0], prior=[1, 1, 1])


# --- Poly-1 --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("eps", [1.0, -1.0, 4.0])
def test_poly1_oracle_value_and_gradient(dtype: type, eps: float) -> None:
    z, y = extreme_case(dtype, 3)
    before = z.copy()
    value, grad = lb.value_and_grad(lb.poly1_cross_entropy)(z, y, epsilon=eps, reduction="none")
    assert np.array_equal(z, before)
    assert value.dtype == grad.dtype == dtype
    for row, t, v_row, g_row in zip(z, y, value, grad, strict=True):
        r = [oracle.mpf(x) for x in row]
        exact = mp_poly1(r, int(t), eps)
        exact_grad = mp_gradient(lambda q, t=t: mp_poly1(q, int(t), eps), r)
        if dtype == np.float64:
            assert float(v_row) == pytest.approx(float(exact), rel=1e-12, abs=1e-300)
            np.testing.assert_allclose(
                g_row, [float(e) for e in exact_grad], rtol=1e-10, atol=1e-300
            )
        else:
            assert oracle.ulp_error(v_row, exact, dtype) <= 1
            assert oracle.max_ulp_error(g_row, exact_grad, dtype) <= 1


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_poly1_numerical_gradient_and_weights(reduction: str) -> None:
    rng = np.random.default_rng(4)
    z, y = rng.normal(0, 2, (7, 4)), rng.integers(0, 4, 7)
    w = np.array([0.5, 1.0, 2.0, 0.0])
    g = lb.grad(lb.poly1_cross_entropy)(z, y, epsilon=2.0, weight=w, reduction=reduction)
    num = lb.numerical_gradient(
        lambda x: np.sum(lb.poly1_cross_entropy(x, y, epsilon=2.0, weight=w, reduction=reduction)),
        z,
    )
    np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-9)
    per = lb.poly1_cross_entropy(z, y, epsilon=2.0, reduction="none")
    mean = lb.poly1_cross_entropy(z, y, epsilon=2.0, weight=w)
    assert mean == pytest.approx(np.sum(w[y] * per) / np.sum(w[y]), rel=1e-14)


logit_rows = hnp.arrays(
    np.float64,
    hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=5),
    elements=st.floats(-60, 60),
)


@settings(max_examples=60, deadline=None)
@given(logits=logit_rows, eps=st.floats(-1, 10), data=st.data())
def test_poly1_is_ce_plus_eps_times_one_minus_pt(
    logits: np.ndarray, eps: float, data: st.DataObject
) -> None:
    n, c = logits.shape
    y = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    poly = lb.poly1_cross_entropy(logits, y, epsilon=eps, reduction="none")
    ce = lb.softmax_cross_entropy(logits, y, reduction="none")
    pt = np.take_along_axis(lb.softmax(logits, axis=-1), y[:, None], axis=1)[:, 0]
    np.testing.assert_allclose(poly, ce + eps * (1 - pt), rtol=1e-12, atol=1e-12)
    assert np.all(poly >= 0) if eps >= 0 else True
    np.testing.assert_allclose(
        lb.poly1_cross_entropy(logits, y, epsilon=0.0, reduction="none"), ce, rtol=1e-14, atol=0
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"epsilon": -1.5}, ValueError, "epsilon"),
        ({"epsilon": np.inf}, ValueError, "epsilon"),
        ({"epsilon": None}, TypeError, "epsilon"),
        ({"weight": [1.0, 2.0]}, ValueError, "weight"),
        ({"weight": [1.0, -2.0, 1.0]}, ValueError, "weight"),
        ({"reduction": "avg"}, ValueError, "reduction"),
    ],
)
def test_poly1_validation(kwargs: dict, error: type, match: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(error, match=match):
        lb.poly1_cross_entropy(np.zeros((2, 3)), np.array([0, 1]), **kwargs)
    with pytest.raises(ValueError, match="target"):
        lb.poly1_cross_entropy(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match="logits"):
        lb.poly1_cross_entropy(np.array([[np.inf, 0.0]]), np.array([0]))


@pytest.mark.parametrize("loss", [lb.logit_adjusted_cross_entropy, lb.poly1_cross_entropy])
def test_gradient_wrappers_keep_the_signature(loss) -> None:  # type: ignore[no-untyped-def]
    import inspect

    assert inspect.signature(lb.grad(loss)) == inspect.signature(loss)
    assert inspect.signature(lb.value_and_grad(loss)) == inspect.signature(loss)
    z, y = np.array([[1.0, -2.0, 0.5]]), np.array([1])
    kwargs = {"prior": PRIOR[:3]} if loss is lb.logit_adjusted_cross_entropy else {}
    value, g = lb.value_and_grad(loss)(z, y, **kwargs)
    assert value == loss(z, y, **kwargs)
    np.testing.assert_array_equal(g, lb.grad(loss)(z, y, **kwargs))


# --- issue 20 ---------------------------------------------------------------------------

vg_poly1 = lb.value_and_grad(lb.poly1_cross_entropy)


def mp_poly1_smoothed(row: list, y: int, eps: float, ls: float, w: list):  # type: ignore[no-untyped-def, type-arg]
    """PyTorch's smoothed, weighted CE plus eps w_y (1 - p_t), p_t = <(1-ls) e_y + ls/C, p>."""
    c = len(row)
    log_p = oracle.log_softmax(row)
    ls_ = oracle.mpf(ls)
    ce = (1 - ls_) * w[y] * -log_p[y] + ls_ / c * -mp.fsum(w[k] * log_p[k] for k in range(c))
    p_t = (1 - ls_) * mp.exp(log_p[y]) + ls_ / c
    return ce + oracle.mpf(eps) * w[y] * (1 - p_t)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("eps", [1.0, -0.5, 3.0])
@pytest.mark.parametrize("ls", [0.1, 0.9])
def test_poly1_label_smoothing_oracle(dtype: type, eps: float, ls: float) -> None:
    rng = np.random.default_rng(30)
    z = rng.normal(0, 3, (6, 4)).astype(dtype)
    y = rng.integers(0, 4, 6)
    w = np.array([0.5, 1.0, 2.0, 0.25])
    value, grad = vg_poly1(z, y, epsilon=eps, weight=w, label_smoothing=ls, reduction="none")
    wm = [oracle.mpf(x) for x in w]
    for row, t, v_row, g_row in zip(z, y, value, grad, strict=True):
        r = [oracle.mpf(x) for x in row]
        exact = mp_poly1_smoothed(r, int(t), eps, ls, wm)
        exact_grad = mp_gradient(lambda q, t=t: mp_poly1_smoothed(q, int(t), eps, ls, wm), r)
        tol = 1e-13 if dtype == np.float64 else 2 * float(np.finfo(dtype).eps)
        assert float(v_row) == pytest.approx(float(exact), rel=tol)
        scale = max(abs(float(e)) for e in exact_grad)
        np.testing.assert_allclose(
            g_row, [float(e) for e in exact_grad], rtol=tol, atol=tol * scale
        )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("ls", [0.0, 0.2])
def test_poly1_ignore_index_and_smoothing_numerical_gradient(reduction: str, ls: float) -> None:
    rng = np.random.default_rng(31)
    z, y = rng.normal(0, 2, (9, 5)), rng.integers(0, 5, 9)
    y[[1, 4]] = -100
    w = np.array([0.5, 1.0, 2.0, 0.0, 1.5])
    kwargs = {"epsilon": 2.0, "weight": w, "ignore_index": -100, "label_smoothing": ls}
    g = lb.grad(lb.poly1_cross_entropy)(z, y, reduction=reduction, **kwargs)
    num = lb.numerical_gradient(
        lambda x: np.sum(lb.poly1_cross_entropy(x, y, reduction=reduction, **kwargs)), z
    )
    np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-9)
    assert np.all(g[[1, 4]] == 0.0)
    per = lb.poly1_cross_entropy(z, y, reduction="none", **kwargs)
    assert np.all(per[[1, 4]] == 0.0)
    # ignoring is dropping the examples
    keep = y != -100
    dropped = lb.poly1_cross_entropy(
        z[keep], y[keep], reduction=reduction, **{**kwargs, "ignore_index": None}
    )
    np.testing.assert_allclose(
        per[keep]
        if reduction == "none"
        else lb.poly1_cross_entropy(z, y, reduction=reduction, **kwargs),
        dropped,
        rtol=1e-14,
    )


def test_poly1_at_epsilon_zero_is_smoothed_cross_entropy() -> None:
    rng = np.random.default_rng(32)
    z, y = rng.normal(0, 2, (8, 5)), rng.integers(0, 5, 8)
    w = rng.uniform(0.1, 2.0, 5)
    kwargs = {"weight": w, "ignore_index": 3, "label_smoothing": 0.15}
    np.testing.assert_allclose(
        lb.poly1_cross_entropy(z, y, epsilon=0.0, reduction="none", **kwargs),
        lb.softmax_cross_entropy(z, y, reduction="none", **kwargs),
        rtol=1e-14,
    )


@pytest.mark.parametrize("scale", [1e-300, 1e-45, 1.0, 1e300, 1e308])
def test_poly1_mean_does_not_depend_on_the_weights_scale(scale: float) -> None:
    # weight=np.full(C, 1e308) returned NaN (inf / inf); the CE functions already rescaled.
    rng = np.random.default_rng(33)
    z, y = rng.normal(0, 2, (6, 3)), rng.integers(0, 3, 6)
    w = np.array([1.0, 0.5, 0.25])
    value, grad = vg_poly1(z, y, weight=scale * w)
    expected_value, expected_grad = vg_poly1(z, y, weight=w)
    assert value == pytest.approx(expected_value, rel=1e-15)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-15)


@pytest.mark.parametrize(
    "loss",
    [
        lb.poly1_cross_entropy,
        lambda z, y, **k: lb.logit_adjusted_cross_entropy(z, y, prior=np.ones(z.shape[-1]), **k),
    ],
)
def test_bool_class_indices_raise_type_error(loss) -> None:  # type: ignore[no-untyped-def]
    # poly1_cross_entropy read True as class 1; CE raised ValueError, focal TypeError.
    with pytest.raises(TypeError, match="got dtype bool"):
        loss(np.zeros((2, 3)), np.array([True, False]))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ls", [0.0, 0.3])
def test_poly1_and_logit_adjustment_take_masks(dtype: type, ls: float) -> None:
    z, y, mask = oracle.masked_logits(np.random.default_rng(34), 9, 6, dtype)
    oracle.assert_masked_classes_drop_out(vg_poly1, z, y, mask, epsilon=1.5)
    value, grad = lb.value_and_grad(lb.logit_adjusted_cross_entropy)(
        z, y, prior=np.linspace(0.1, 0.6, 6), reduction="none"
    )
    assert np.all(grad[mask] == 0.0)
    assert np.all(np.isfinite(value))
    with pytest.raises(ValueError, match="-inf at a target"):
        lb.poly1_cross_entropy(np.array([[0.0, -np.inf]], dtype), np.array([1]))
    if ls:
        with pytest.raises(ValueError, match="label_smoothing"):
            lb.poly1_cross_entropy(z, y, label_smoothing=ls)


def test_logit_adjustment_overflow_blames_tau_and_prior() -> None:
    # The message blamed logits, which were fine.
    z, y = np.zeros((2, 3)), np.array([0, 1])
    with pytest.raises(ValueError, match="tau \\* log\\(prior\\) overflows"):
        lb.logit_adjusted_cross_entropy(z, y, prior=np.array([1e-300, 0.5, 0.5]), tau=1e307)
    with pytest.raises(ValueError, match="adjusted logits"):
        lb.logit_adjusted_cross_entropy(
            np.full((2, 3), 1.7e308), y, prior=np.array([1.0, 1.0, 4.0]), tau=1e307
        )


def test_class_balanced_weights_are_finite_for_tiny_counts() -> None:
    # n log(beta) underflowed to 0, and 0 / 0 gave NaN, although the docstring
    # promises finite normalised weights.
    for counts in ([5e-324, 1.0], [1e-320, 3.0, 7.0], [1e-310, 1e-300]):
        w = lb.class_balanced_weights(counts, beta=0.999)
        assert np.all(np.isfinite(w))
        assert float(np.sum(w)) == pytest.approx(len(counts), rel=1e-15)
        # against the oracle: w_c proportional to 1 / (1 - beta^n_c)
        b = oracle.mpf(0.999)
        exact = [1 / -mp.expm1(oracle.mpf(n) * mp.log(b)) for n in counts]
        total = mp.fsum(exact)
        for got, e in zip(w, exact, strict=True):
            assert float(got) == pytest.approx(float(len(counts) * e / total), rel=1e-12)
