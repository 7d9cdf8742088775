"""Tests for lossbook._core: one accuracy contract for every function of logits.

Random rows with large gaps (``oracle.gap_rows``) go through the public
softmax family and through every loss, and each result is compared with the
60-digit oracle. Before the numerics core was shared, the public ``softmax``
was 510 ulp off on such rows in float64 and 61 ulp in float32; measured now
(2026-11, NumPy 2.4, 200-300 rows): softmax 2.0, log_softmax 0.8, logsumexp
0.5 ulp in float64, and 0.5 (one rounding) in float16 and float32; the
losses' maxima are given at each test. The bound is ``oracle.MAX_ULP`` (one
more for the losses, whose focal term compounds a power and a logarithm).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import lossbook as lb
from lossbook import _core
from tests import oracle
from tests.oracle import DTYPES, MAX_ULP

N_ROWS = 60


def rows(dtype: Any, n_classes: int = 5, seed: int = 0) -> np.ndarray:
    return oracle.gap_rows(np.random.default_rng(seed), dtype, N_ROWS, n_classes)


def representable(exact: Any, dtype: Any) -> bool:
    value = abs(float(exact))
    return float(np.finfo(dtype).tiny) <= value <= float(np.finfo(dtype).max)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_family_on_random_rows_with_large_gaps(dtype: Any) -> None:
    z = rows(dtype)
    probs, logs, lse = lb.softmax(z), lb.log_softmax(z), lb.logsumexp(z)
    for i, row in enumerate(z):
        for actual, exact in zip(probs[i], oracle.softmax(row), strict=True):
            if representable(exact, dtype):
                assert oracle.ulp_error(actual, exact, dtype) <= MAX_ULP[dtype], row
        for actual, exact in zip(logs[i], oracle.log_softmax(row), strict=True):
            assert oracle.ulp_error(actual, exact, dtype, floor=1.0) <= MAX_ULP[dtype], row
        error = oracle.ulp_error(lse[i], oracle.logsumexp(row), dtype, floor=1.0)
        assert error <= MAX_ULP[dtype], row


def test_softmax_large_gap_regression() -> None:
    """Issue 10: 500 ulp in float64 when exp(z - max) used an unrecovered z - max."""
    row = np.array([0.1234567890123, 731.987654321, -3.3])
    for actual, exact in zip(lb.softmax(row), oracle.softmax(row), strict=True):
        if representable(exact, np.float64):
            assert oracle.ulp_error(actual, exact, np.float64) <= 2


def ce_index(row: np.ndarray, y: int) -> Any:
    return oracle.nll(row, y)


def ce_smoothed(row: np.ndarray, y: int, eps: float = 0.1) -> Any:
    logs = oracle.log_softmax(row)
    c = len(row)
    return -(1 - oracle.mpf(eps)) * logs[y] - oracle.mpf(eps) / c * oracle.mp.fsum(logs)


def focal(row: np.ndarray, y: int, gamma: float = 2.0) -> Any:
    log_pt = -oracle.nll(row, y)
    return -((-oracle.mp.expm1(log_pt)) ** oracle.mpf(gamma)) * log_pt


LOSSES: dict[str, tuple[Callable[..., Any], dict[str, Any], Callable[..., Any]]] = {
    "index": (lb.softmax_cross_entropy, {}, ce_index),
    "smoothed": (lb.softmax_cross_entropy, {"label_smoothing": 0.1}, ce_smoothed),
    "focal": (lb.softmax_focal_loss, {}, focal),
}


@pytest.mark.parametrize("path", LOSSES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_losses_on_random_rows_with_large_gaps(path: str, dtype: Any) -> None:
    """Measured maxima over 300 such rows: float64 index 1.6, smoothed 1.8, focal 4.5 ulp;
    float32 index (fused, float32 arithmetic) 0.9; every other case 0.5 (one rounding)."""
    loss, options, reference = LOSSES[path]
    z = rows(dtype, seed=1)
    y = np.random.default_rng(2).integers(0, z.shape[1], size=len(z))
    # Half the rows get the top class as target (tiny losses), half a random one.
    y[::2] = np.argmax(z[::2], axis=1)
    result = loss(z, y, reduction="none", **options)
    assert result.dtype == dtype
    for i, row in enumerate(z):
        exact = reference(row, int(y[i]))
        if float(exact) > float(np.finfo(dtype).max):
            assert result[i] == np.inf
            continue
        if float(exact) < float(np.finfo(dtype).tiny):
            continue  # below the normal range: absolute accuracy only
        assert oracle.ulp_error(result[i], exact, dtype) <= MAX_ULP[dtype] + 1, (path, row)


@pytest.mark.parametrize("dtype", DTYPES)
def test_probability_targets_on_random_rows_with_large_gaps(dtype: Any) -> None:
    z = rows(dtype, seed=3)
    t = np.random.default_rng(4).dirichlet(np.ones(z.shape[1]), size=len(z)).astype(dtype)
    result = lb.softmax_cross_entropy(z, t, reduction="none")
    for i, row in enumerate(z):
        logs = oracle.log_softmax(row)
        exact = -oracle.mp.fsum(oracle.mpf(ti) * li for ti, li in zip(t[i], logs, strict=True))
        assert oracle.ulp_error(result[i], exact, dtype, floor=1.0) <= MAX_ULP[dtype] + 1


def test_ce_losses_beyond_709_are_finite_in_float64() -> None:
    """Issue 10: exp(z_j - z_y) overflowed for losses of ~710 and more and gave inf."""
    assert lb.softmax_cross_entropy(np.array([[400.0, -400.0]]), np.array([1])) == 800.0
    rng = np.random.default_rng(5)
    z = rng.standard_normal((64, 50)) * 180.0
    y = rng.integers(0, 50, size=64)
    per_row = lb.softmax_cross_entropy(z, y, reduction="none")
    assert np.isfinite(per_row).all()
    for i in range(0, 64, 8):
        assert oracle.ulp_error(per_row[i], ce_index(z[i], int(y[i])), np.float64) <= 4
    value, _grad = lb.value_and_grad(lb.softmax_cross_entropy)(z, y)
    assert np.isfinite(value)
    assert value == pytest.approx(np.mean(per_row), rel=1e-15)


@pytest.mark.parametrize(
    "layout",
    [np.asfortranarray, np.transpose, lambda a: a[:, ::2]],
    ids=["fortran", "transposed", "strided"],
)
def test_numerical_gradient_of_non_contiguous_input(layout: Callable[..., np.ndarray]) -> None:
    """Issue 10: a Fortran-ordered or transposed point gave an all-zero gradient."""
    x = layout(np.arange(1.0, 13.0).reshape(3, 4))
    weights = np.arange(x.size, dtype=np.float64).reshape(x.shape)
    g = lb.numerical_gradient(lambda a: float(np.sum(weights * a**2)), x)
    np.testing.assert_allclose(g, 2 * weights * x, rtol=1e-8)


def test_row_softmax_recovers_the_rounding_of_the_shift() -> None:
    z = np.array([[700.0 + 2.0**-40, 0.1, -0.3]])
    exact_shift = _core.row_softmax(z, exact_shift=True)
    corrected = _core.row_softmax(z, exact_shift=False)
    for i, exact in enumerate(oracle.softmax(z[0])[1:], start=1):
        assert oracle.ulp_error(corrected.p[0, i], exact, np.float64) <= 1
        # Without the correction the error is about |z - max| / 2 ulp.
        assert oracle.ulp_error(exact_shift.p[0, i], exact, np.float64) > 10


def test_row_slices_cover_every_row_once() -> None:
    slices = list(_core.row_slices(10, _core.block_rows(4, elements=12)))
    assert [(s.start, s.stop) for s in slices] == [(0, 3), (3, 6), (6, 9), (9, 10)]


def _every_path(z: np.ndarray, rng: np.random.Generator) -> dict[str, Any]:
    """value_and_grad of every loss path that runs through the blocked driver."""
    n, c = z.shape
    y = rng.integers(0, c, size=n)
    hard = (rng.random(z.shape) < 0.1).astype(z.dtype)
    soft = rng.random(z.shape).astype(z.dtype)
    probs = soft / soft.sum(axis=1, keepdims=True)
    vg = lb.value_and_grad
    calls: dict[str, Callable[[], Any]] = {
        "index": lambda: vg(lb.softmax_cross_entropy)(z, y),
        "smoothed": lambda: vg(lb.softmax_cross_entropy)(z, y, label_smoothing=0.1),
        "probability": lambda: vg(lb.softmax_cross_entropy)(z, probs),
        "bce": lambda: vg(lb.binary_cross_entropy_with_logits)(z, soft),
        "bce none": lambda: vg(lb.binary_cross_entropy_with_logits)(z, hard, reduction="none"),
        "bce pos_weight": lambda: vg(lb.binary_cross_entropy_with_logits)(
            z, hard, pos_weight=np.linspace(0.5, 4.0, c)
        ),
        "sigmoid focal": lambda: vg(lb.sigmoid_focal_loss)(z, soft, reduction="sum"),
        "softmax focal": lambda: vg(lb.softmax_focal_loss)(z, y),
    }
    return {name: call() for name, call in calls.items()}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_results_do_not_depend_on_the_thread_count(
    dtype: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Big enough for several blocks on several threads (PARALLEL_ELEMENTS and more).
    rng = np.random.default_rng(7)
    z = (rng.standard_normal((1100, 300)) * 6).astype(dtype)
    assert z.size >= 1.2 * _core.PARALLEL_ELEMENTS
    results = {}
    for threads in ("1", "2", "3", "8"):
        monkeypatch.setenv("OMP_NUM_THREADS", threads)
        assert _core.thread_count() == int(threads)
        results[threads] = _every_path(z, np.random.default_rng(11))
    for threads in ("2", "3", "8"):
        for name, (value, grad) in results["1"].items():
            other_value, other_grad = results[threads][name]
            assert np.array_equal(value, other_value), (name, threads)
            assert np.array_equal(grad, other_grad), (name, threads)


def test_thread_count_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "5")
    assert _core.thread_count() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "")  # unset or empty: the next variable
    assert _core.thread_count() == 5
    monkeypatch.delenv("OMP_NUM_THREADS")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "0")  # not a positive count: ignored
    counter = getattr(os, "process_cpu_count", None)
    expected = counter() if counter else len(os.sched_getaffinity(0))
    assert _core.thread_count() == expected


def test_run_blocks_raises_a_workers_error() -> None:
    def work(blocks: range) -> None:
        if 3 in blocks:
            raise ValueError("block 3")

    with pytest.raises(ValueError, match="block 3"):
        _core.run_blocks(8, _core.PARALLEL_ELEMENTS, work)


def test_nan_logits_are_caught_on_every_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    z = np.zeros((1000, 400), np.float32)
    z[-1, -1] = np.nan  # in the last block, which the second thread runs
    with pytest.raises(ValueError, match="logits"):
        lb.binary_cross_entropy_with_logits(z, np.zeros_like(z))
    with pytest.raises(ValueError, match="logits"):
        lb.softmax_cross_entropy(z, np.zeros(1000, int))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_the_thread_pool_works_in_a_forked_child(monkeypatch: pytest.MonkeyPatch) -> None:
    # A child forked after the pool started has none of its threads; with the
    # parent's pool object, the child's first threaded call would wait forever.
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    z = np.random.default_rng(3).standard_normal((600, 500))
    y = np.zeros(600, int)
    expected = lb.softmax_cross_entropy(z, y)  # starts the pool in the parent
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            code = 0 if lb.softmax_cross_entropy(z, y) == expected else 1
        finally:
            os._exit(code)
    os.close(write)
    os.close(read)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            return
        time.sleep(0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    pytest.fail("the forked child hung in the thread pool")
