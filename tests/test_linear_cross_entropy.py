"""Tests for lossbook._linear_cross_entropy: chunked against the unchunked composition.

The reference is the composition the function promises to equal: logits
``hidden @ weight.T + bias`` formed in full, ``value_and_grad(
softmax_cross_entropy)`` on them, plus the z-loss from ``logsumexp``; the
gradients with respect to hidden, weight and bias follow from the logits'
gradient G by the chain rule (G W, G^T h, sum of G's rows). Every option and
reduction is compared for chunk sizes that do and do not divide N, and for
slices of the vocabulary (in the weight-gradient accumulation) that do and do
not divide V. Independently of that derivation, central differences check
all three gradients, and tracemalloc checks the memory claim.
"""

from __future__ import annotations

import tracemalloc
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lossbook as lb
from lossbook import _linear_cross_entropy as lce_module
from tests import oracle
from tests.oracle import EXTREME, MAX_ULP_LINEAR_CE, REDUCTIONS

N, H, V = 12, 5, 7
OPTIONS: dict[str, dict[str, Any]] = {
    "plain": {},
    "class_weight": {"class_weight": np.array([0.5, 2.0, 1.0, 0.0, 1.5, 0.25, 3.0])},
    "ignore_index": {"ignore_index": -1},
    "ignore_inside": {"ignore_index": 2},
    "label_smoothing": {"label_smoothing": 0.2},
    "z_loss": {"z_loss": 0.05},
    "everything": {
        "class_weight": np.array([0.5, 2.0, 1.0, 0.0, 1.5, 0.25, 3.0]),
        "ignore_index": -1,
        "label_smoothing": 0.1,
        "z_loss": 1e-2,
    },
}


def make_inputs(
    seed: int = 0, n: int = N, h: int = H, vocab: int = V, dtype: Any = np.float64
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    hidden = rng.normal(0, 1, (n, h)).astype(dtype)
    weight = rng.normal(0, 1, (vocab, h)).astype(dtype)
    bias = rng.normal(0, 1, vocab).astype(dtype)
    target = rng.integers(0, vocab, n)
    target[::5] = -1  # ignored when ignore_index=-1, made valid otherwise
    return hidden, weight, bias, target


def targets_for(target: np.ndarray, options: dict[str, Any]) -> np.ndarray:
    return target if options.get("ignore_index") == -1 else np.abs(target)


def reference(
    hidden: np.ndarray,
    weight: np.ndarray,
    target: np.ndarray,
    bias: np.ndarray | None,
    reduction: str,
    class_weight: np.ndarray | None = None,
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    z_loss: float = 0.0,
) -> tuple[Any, lb.LinearCrossEntropyGrad]:
    """The unchunked composition in float64: full logits, then the chain rule."""
    logits = hidden @ weight.T + (0.0 if bias is None else bias)
    value, g = lb.value_and_grad(lb.softmax_cross_entropy)(
        logits,
        target,
        weight=class_weight,
        ignore_index=ignore_index,
        label_smoothing=label_smoothing,
        reduction=reduction,
    )
    if z_loss:
        counted = np.ones(len(target)) if ignore_index is None else target != ignore_index
        lse = lb.logsumexp(logits, axis=-1)
        rows = z_loss * lse**2 * counted
        scale = 1.0 / max(1, np.count_nonzero(counted)) if reduction == "mean" else 1.0
        value = {
            "none": value + rows,
            "sum": value + rows.sum(),
            "mean": value + rows.sum() * scale,
        }[reduction]
        g = g + (2 * z_loss * scale * lse * counted)[:, None] * lb.softmax(logits, axis=-1)
    grads = lb.LinearCrossEntropyGrad(g @ weight, g.T @ hidden, None if bias is None else g.sum(0))
    return value, grads


def assert_grads_close(actual: Any, expected: Any, rtol: float, atol: float) -> None:
    assert isinstance(actual, lb.LinearCrossEntropyGrad)
    for name in ("hidden", "weight"):
        np.testing.assert_allclose(
            getattr(actual, name), getattr(expected, name), rtol=rtol, atol=atol, err_msg=name
        )
    if expected.bias is None:
        assert actual.bias is None
    else:
        np.testing.assert_allclose(actual.bias, expected.bias, rtol=rtol, atol=atol)


@pytest.mark.parametrize("chunk_size", [1, 4, 5, 12, 50, None])
@pytest.mark.parametrize("option", list(OPTIONS))
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_equals_the_unchunked_composition(
    chunk_size: int | None, option: str, reduction: str
) -> None:
    hidden, weight, bias, target = make_inputs()
    options = OPTIONS[option]
    target = targets_for(target, options)
    expected_value, expected_grads = reference(hidden, weight, target, bias, reduction, **options)
    value = lb.linear_cross_entropy(
        hidden, weight, target, bias=bias, reduction=reduction, chunk_size=chunk_size, **options
    )
    np.testing.assert_allclose(value, expected_value, rtol=1e-13, atol=1e-15)
    both = lb.value_and_grad(lb.linear_cross_entropy)(
        hidden, weight, target, bias=bias, reduction=reduction, chunk_size=chunk_size, **options
    )
    np.testing.assert_array_equal(both[0], value)
    assert_grads_close(both[1], expected_grads, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("vocab_rows", [1, 4, 5, 6])
def test_weight_gradient_slices_of_the_vocabulary(
    vocab_rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The weight gradient is accumulated a slice of vocabulary rows at a time (slices of
    at most half a block: here 6 of the 12 rows); slices that do and do not divide V."""
    hidden, weight, bias, target = make_inputs(1, vocab=12)
    target = np.abs(target)
    monkeypatch.setattr(lce_module, "_ACCUMULATE_BYTES", vocab_rows * H * 8)
    grads = lb.grad(lb.linear_cross_entropy)(hidden, weight, target, bias=bias, chunk_size=5)
    assert_grads_close(grads, reference(hidden, weight, target, bias, "mean")[1], 1e-12, 1e-14)


@pytest.mark.parametrize("with_bias", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradients_match_central_differences(with_bias: bool, reduction: str) -> None:
    hidden, weight, bias, target = make_inputs(2, n=6, h=3, vocab=5)
    options = {**OPTIONS["everything"], "class_weight": np.array([0.5, 2.0, 1.0, 0.0, 1.5])}
    b = bias if with_bias else None
    grads = lb.grad(lb.linear_cross_entropy)(
        hidden, weight, target, bias=b, reduction=reduction, chunk_size=4, **options
    )

    def loss(h: np.ndarray, w: np.ndarray, bb: np.ndarray | None) -> float:
        value = lb.linear_cross_entropy(
            h, w, target, bias=bb, reduction=reduction, chunk_size=4, **options
        )
        return float(np.sum(value))

    checks = [
        (grads.hidden, lb.numerical_gradient(lambda h: loss(h, weight, b), hidden)),
        (grads.weight, lb.numerical_gradient(lambda w: loss(hidden, w, b), weight)),
    ]
    if with_bias:
        checks.append(
            (grads.bias, lb.numerical_gradient(lambda bb: loss(hidden, weight, bb), bias))
        )
    else:
        assert grads.bias is None
    for analytic, numeric in checks:
        np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 9),
    vocab=st.integers(1, 9),
    chunk=st.integers(1, 10),
    seed=st.integers(0, 2**16),
    z=st.sampled_from([0.0, 0.1]),
)
def test_any_shape_and_chunk(n: int, vocab: int, chunk: int, seed: int, z: float) -> None:
    hidden, weight, bias, target = make_inputs(seed, n=n, h=3, vocab=vocab)
    target = np.abs(target) % vocab
    value, grads = lb.value_and_grad(lb.linear_cross_entropy)(
        hidden, weight, target, bias=bias, z_loss=z, chunk_size=chunk
    )
    expected_value, expected_grads = reference(hidden, weight, target, bias, "mean", z_loss=z)
    np.testing.assert_allclose(value, expected_value, rtol=1e-12)
    assert_grads_close(grads, expected_grads, 1e-11, 1e-13)


def test_float32_keeps_its_dtype_and_accuracy() -> None:
    hidden, weight, bias, target = make_inputs(3, n=40, h=8, vocab=30)
    target = np.abs(target)
    h32, w32, b32 = (a.astype(np.float32) for a in (hidden, weight, bias))
    value, grads = lb.value_and_grad(lb.linear_cross_entropy)(
        h32, w32, target, bias=b32, z_loss=1e-3, chunk_size=7
    )
    assert value.dtype == np.float32
    assert grads.hidden.dtype == grads.weight.dtype == grads.bias.dtype == np.float32
    # The reference at the float32 inputs, computed in float64.
    h64, w64, b64 = (a.astype(np.float64) for a in (h32, w32, b32))
    expected_value, expected = reference(h64, w64, target, b64, "mean", z_loss=1e-3)
    np.testing.assert_allclose(value, expected_value, rtol=1e-5)
    assert_grads_close(grads, expected, rtol=1e-4, atol=1e-6)


def test_float16_is_computed_in_float32_and_rounded_back() -> None:
    hidden, weight, _, target = make_inputs(4, n=10, h=4, vocab=6)
    h16, w16 = hidden.astype(np.float16), weight.astype(np.float16)
    value, grads = lb.value_and_grad(lb.linear_cross_entropy)(h16, w16, np.abs(target))
    assert value.dtype == grads.hidden.dtype == grads.weight.dtype == np.float16
    expected = lb.linear_cross_entropy(
        h16.astype(np.float32), w16.astype(np.float32), np.abs(target)
    )
    assert value == np.float16(expected)


def test_mixed_precision_follows_numpy_promotion() -> None:
    """float32 hidden with a float64 weight: the loss is float64 (as hidden @ weight.T),
    each gradient has the dtype of its own argument."""
    hidden, weight, bias, target = make_inputs(12)
    target = np.abs(target)
    h32 = hidden.astype(np.float32)
    value, grads = lb.value_and_grad(lb.linear_cross_entropy)(h32, weight, target, bias=bias)
    assert value.dtype == np.float64
    assert grads.hidden.dtype == np.float32
    assert grads.weight.dtype == np.float64
    expected_value, expected = reference(h32.astype(np.float64), weight, target, bias, "mean")
    np.testing.assert_allclose(value, expected_value, rtol=1e-13)
    np.testing.assert_allclose(grads.weight, expected.weight, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(grads.hidden, expected.hidden, rtol=1e-6, atol=1e-7)


def test_one_token_without_batch_axis() -> None:
    hidden, weight, bias, target = make_inputs(13)
    value, grads = lb.value_and_grad(lb.linear_cross_entropy)(
        hidden[0], weight, target[0] % V, bias=bias, reduction="none"
    )
    assert np.shape(value) == ()
    assert grads.hidden.shape == (H,)
    expected_value, expected = reference(hidden[:1], weight, target[:1] % V, bias, "none")
    np.testing.assert_allclose(value, expected_value[0], rtol=1e-14)
    np.testing.assert_allclose(grads.hidden, expected.hidden[0], rtol=1e-12, atol=1e-14)


def test_batch_axes_are_flattened_and_restored() -> None:
    hidden, weight, bias, target = make_inputs(5)
    target = np.abs(target)
    h3, t3 = hidden.reshape(3, 4, H), target.reshape(3, 4)
    per_example = lb.linear_cross_entropy(h3, weight, t3, bias=bias, reduction="none", chunk_size=5)
    assert per_example.shape == (3, 4)
    flat = lb.linear_cross_entropy(hidden, weight, target, bias=bias, reduction="none")
    np.testing.assert_allclose(per_example.reshape(-1), flat, rtol=1e-14)
    grads = lb.grad(lb.linear_cross_entropy)(h3, weight, t3, bias=bias, chunk_size=5)
    assert grads.hidden.shape == (3, 4, H)


def test_inputs_are_not_mutated() -> None:
    hidden, weight, bias, target = make_inputs(6)
    arrays = (hidden, weight, bias, target, OPTIONS["everything"]["class_weight"])
    copies = [a.copy() for a in arrays]
    lb.value_and_grad(lb.linear_cross_entropy)(
        hidden, weight, target, bias=bias, chunk_size=5, **OPTIONS["everything"]
    )
    for before, after in zip(copies, arrays, strict=True):
        np.testing.assert_array_equal(before, after)


def test_everything_ignored_gives_zero() -> None:
    hidden, weight, bias, _ = make_inputs(7)
    target = np.full(N, -1)
    value, grads = lb.value_and_grad(lb.linear_cross_entropy)(
        hidden, weight, target, bias=bias, ignore_index=-1, z_loss=0.1
    )
    assert value == 0.0
    for gradient in grads:
        assert not gradient.any()


def test_peak_memory_is_a_fraction_of_the_logits() -> None:
    """On a shape whose float32 logits take 16 MiB, the whole call (outputs included)
    stays below 1/8 of that, and of the naive composition's peak."""
    n, h, vocab, chunk = 1024, 16, 4096, 16
    rng = np.random.default_rng(8)
    hidden = rng.standard_normal((n, h), dtype=np.float32)
    weight = rng.standard_normal((vocab, h), dtype=np.float32)
    target = rng.integers(0, vocab, n)
    logits_bytes = n * vocab * 4
    vg = lb.value_and_grad(lb.linear_cross_entropy)
    vg(hidden, weight, target, chunk_size=chunk)  # warm up lazy imports and caches
    tracemalloc.start()
    try:
        vg(hidden, weight, target, chunk_size=chunk)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        logits = hidden @ weight.T
        lb.value_and_grad(lb.softmax_cross_entropy)(logits, target)
        naive_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert naive_peak >= logits_bytes
    assert peak <= logits_bytes / 8, (peak, logits_bytes)
    assert naive_peak >= 8 * peak, (naive_peak, peak)


@pytest.mark.parametrize(
    "options", [{}, {"z_loss": 0.1}, {"label_smoothing": 0.1, "class_weight": np.ones(16384)}]
)
def test_extra_memory_is_a_few_blocks(options: dict[str, Any]) -> None:
    """The Notes' budget: besides the returned gradients, about three blocks of logits
    (the logits, their gradient, one kernel temporary; measured 3.0-3.7), at most four."""
    n, h, vocab, chunk = 256, 8, 16384, 32
    rng = np.random.default_rng(9)
    hidden = rng.standard_normal((n, h), dtype=np.float32)
    weight = rng.standard_normal((vocab, h), dtype=np.float32)
    target = rng.integers(0, vocab, n)
    vg = lb.value_and_grad(lb.linear_cross_entropy)
    vg(hidden, weight, target, chunk_size=chunk, **options)
    tracemalloc.start()
    try:
        vg(hidden, weight, target, chunk_size=chunk, **options)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    returned = (n * h + vocab * h) * 4
    block = chunk * vocab * 4
    assert 2 * block <= peak - returned <= 4 * block, (peak - returned) / block


def test_default_chunk_bounds_the_block() -> None:
    rows = lce_module._check_chunk_size(None, 10**6, 128_256, 4)
    assert rows * 128_256 * 4 <= lce_module._CHUNK_BYTES
    assert lce_module._check_chunk_size(None, 3, 10, 8) == 3


def test_overflowing_logits_are_reported() -> None:
    big = np.full((2, 1), 1e200)
    with pytest.raises(ValueError, match=r"hidden @ weight\.T \+ bias overflow"):
        lb.linear_cross_entropy(big, big, np.array([0, 1]))


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"hidden": np.array([[np.nan, 0.0]])}, ValueError, "hidden contains NaN"),
        ({"weight": np.array([[np.inf, 0.0], [0.0, 0.0], [0.0, 0.0]])}, ValueError, "weight"),
        ({"bias": np.array([0.0, np.nan, 0.0])}, ValueError, "bias contains NaN"),
        ({"bias": np.zeros(2)}, ValueError, r"bias must have shape \(3,\)"),
        ({"weight": np.zeros((3, 4))}, ValueError, "hidden has 2 features"),
        ({"weight": np.zeros(6)}, ValueError, "weight must have shape"),
        ({"weight": np.zeros((0, 2))}, ValueError, "vocabulary"),
        ({"hidden": np.array(1.0)}, ValueError, "hidden must have at least one"),
        ({"hidden": np.zeros((1, 2), complex)}, TypeError, "hidden must hold real"),
        ({"target": np.array([3])}, ValueError, "target has class index 3"),
        ({"target": np.array([0, 1])}, ValueError, "target holds class indices"),
        ({"target": np.array([0.0])}, TypeError, "target must hold integer"),
        ({"class_weight": np.array([1.0, -1.0, 1.0])}, ValueError, "class_weight has negative"),
        ({"class_weight": np.ones(4)}, ValueError, r"class_weight must have shape \(3,\)"),
        ({"label_smoothing": 1.5}, ValueError, "label_smoothing"),
        ({"z_loss": -1.0}, ValueError, "z_loss must be non-negative"),
        ({"z_loss": np.nan}, ValueError, "z_loss must be finite"),
        ({"z_loss": np.inf}, ValueError, "z_loss must be finite"),
        ({"z_loss": "big"}, TypeError, "z_loss"),
        ({"chunk_size": 0}, ValueError, "chunk_size"),
        ({"chunk_size": 2.0}, TypeError, "chunk_size"),
        ({"chunk_size": True}, TypeError, "chunk_size"),
        ({"reduction": "avg"}, ValueError, "reduction"),
        ({"ignore_index": 1.0}, TypeError, "ignore_index"),
    ],
)
def test_bad_input_names_the_argument(change: dict[str, Any], error: type, match: str) -> None:
    arguments: dict[str, Any] = {
        "hidden": np.zeros((1, 2)),
        "weight": np.zeros((3, 2)),
        "target": np.array([0]),
        "bias": np.zeros(3),
        **change,
    }
    for fn in (lb.linear_cross_entropy, lb.grad(lb.linear_cross_entropy)):
        with pytest.raises(error, match=match):
            fn(**arguments)


def test_the_wrappers_keep_the_signature() -> None:
    import inspect

    signature = inspect.signature(lb.linear_cross_entropy)
    assert inspect.signature(lb.grad(lb.linear_cross_entropy)) == signature
    assert inspect.signature(lb.value_and_grad(lb.linear_cross_entropy)) == signature


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_logits_against_the_mpmath_oracle(dtype: Any) -> None:
    """One-hot hidden states make the logits exact copies of weight's columns, so the
    oracle sees exactly the logits the function forms; they reach +-EXTREME[dtype]."""
    vocab, n = 9, 9
    rng = np.random.default_rng(11)
    weight = rng.uniform(-EXTREME[dtype], EXTREME[dtype], (vocab, n)).astype(dtype)
    hidden = np.eye(n, dtype=dtype)  # row i selects column i of weight
    target = rng.integers(0, vocab, n)
    zeta = 1e-4
    per_example = lb.linear_cross_entropy(
        hidden, weight, target, z_loss=zeta, reduction="none", chunk_size=4
    )
    logits = [[weight[k, i] for k in range(vocab)] for i in range(n)]
    expected = [
        oracle.nll(row, int(y)) + oracle.mpf(zeta) * oracle.logsumexp(row) ** 2
        for row, y in zip(logits, target, strict=True)
    ]
    assert per_example.dtype == dtype
    assert oracle.max_ulp_error(per_example, expected, dtype) <= MAX_ULP_LINEAR_CE[dtype]


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_matches_pytorch_when_installed(reduction: str) -> None:
    """PyTorch's own semantics (class weights, ignore_index, label smoothing, the mean's
    denominator) for the value and all three gradients; skipped without PyTorch."""
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    hidden, weight, bias, target = make_inputs(14)
    class_weight = OPTIONS["class_weight"]["class_weight"]
    options = {"ignore_index": -1, "label_smoothing": 0.1}
    h_t, w_t, b_t = (torch.tensor(a, requires_grad=True) for a in (hidden, weight, bias))
    expected = functional.cross_entropy(
        h_t @ w_t.T + b_t,
        torch.tensor(target),
        weight=torch.tensor(class_weight),
        reduction=reduction,
        **options,
    )
    expected.sum().backward()
    value, grads = lb.value_and_grad(lb.linear_cross_entropy)(
        hidden,
        weight,
        target,
        bias=bias,
        class_weight=class_weight,
        reduction=reduction,
        chunk_size=5,
        **options,
    )
    np.testing.assert_allclose(value, expected.detach().numpy(), rtol=1e-12, atol=1e-14)
    for got, tensor in zip(grads, (h_t, w_t, b_t), strict=True):
        np.testing.assert_allclose(got, tensor.grad.numpy(), rtol=1e-10, atol=1e-13)


# --- issue 20 ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
@pytest.mark.parametrize("scale", [1e-300, 1e-45, 1e300])
def test_class_weights_far_from_one_in_narrow_dtypes(dtype: type, scale: float) -> None:
    # 'mean' gave 0.0, 5.675 and inf against 5.669, with NaN gradients.
    rng = np.random.default_rng(50)
    h = rng.standard_normal((12, 8)).astype(dtype)
    w = rng.standard_normal((30, 8)).astype(dtype)
    y = rng.integers(0, 30, 12)
    cw = rng.uniform(0.5, 2.0, 30)
    vg = lb.value_and_grad(lb.linear_cross_entropy)
    value, grads = vg(h, w, y, class_weight=scale * cw)
    expected_value, expected_grads = vg(h, w, y, class_weight=cw)
    # scale * cw rounds in float64, so equal to the last few bits of the compute dtype
    tol = 8 * float(np.finfo(dtype).eps)
    assert value == pytest.approx(expected_value, rel=tol)
    for got, expected in zip(grads[:2], expected_grads[:2], strict=True):
        assert np.all(np.isfinite(got))
        big = float(np.max(np.abs(expected)))
        np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * big)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_minus_inf_bias_masks_a_class(dtype: type) -> None:
    rng = np.random.default_rng(51)
    h = rng.standard_normal((10, 6)).astype(dtype)
    w = rng.standard_normal((9, 6)).astype(dtype)
    y = rng.integers(0, 4, 10)  # classes 4.. never targets
    bias = rng.standard_normal(9).astype(dtype)
    bias[[5, 7]] = -np.inf
    vg = lb.value_and_grad(lb.linear_cross_entropy)
    value, (dh, dw, db) = vg(h, w, y, bias=bias, reduction="sum", chunk_size=3)
    expected_value, dz = oracle.vg_ce(h @ w.T + bias, y, reduction="sum")
    rtol = 8 * float(np.finfo(dtype).eps)
    assert value == pytest.approx(expected_value, rel=rtol)
    assert np.all(db[[5, 7]] == 0.0)
    assert np.all(dw[[5, 7]] == 0.0)
    np.testing.assert_allclose(dh, dz @ w, rtol=1e3 * rtol, atol=rtol)
    with pytest.raises(ValueError, match="bias is -inf \\(masked\\) at a target"):
        lb.linear_cross_entropy(h, w, np.full(10, 5), bias=bias)
    with pytest.raises(ValueError, match="bias is -inf for every class"):
        lb.linear_cross_entropy(h, w, y, bias=np.full(9, -np.inf, dtype))
    with pytest.raises(ValueError, match="bias contains \\+inf"):
        lb.linear_cross_entropy(h, w, y, bias=np.full(9, np.inf, dtype))
    with pytest.raises(ValueError, match=r"bias has a -inf .* label_smoothing"):
        lb.linear_cross_entropy(h, w, y, bias=bias, label_smoothing=0.1)
    # an ignored row may have its target masked
    y_ignored = y.copy()
    y_ignored[0] = 5
    lb.linear_cross_entropy(h, w, y_ignored, bias=bias, ignore_index=5)
