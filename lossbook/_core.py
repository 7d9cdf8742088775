"""The numerics core: shift, exponentiate, keep the top term apart (private).

Every function of logits in lossbook -- ``softmax``, ``log_softmax``,
``logsumexp``, ``softmax_jacobian``, the softmax cross-entropy paths and the
softmax focal loss -- takes its softmax from :func:`row_softmax`, and every
sigmoid-based function from :func:`sigmoid_parts`, so they share one accuracy
contract: a few ulp against a high-precision reference in every dtype,
including rows with a large gap between the largest logit and the others.

Work is done in float64 on cache-sized blocks of rows (:func:`row_slices`),
so a call never allocates more than a block's worth of temporaries.

Two facts carry the accuracy:

* ``exp(z - m)`` is only as good as ``z - m``: a half-ulp rounding of a shift
  of size ``d`` is a relative error of about ``d / 2`` ulp in the exponential
  (500 ulp at a gap of 1000). For float64 data the rounding error of the
  subtraction is recovered exactly (Knuth's TwoSum) and folded back in; for
  float16 and float32 data widened to float64 the subtraction is exact to
  within ``2**-29`` relative, far below their ulp, and no correction is needed.
* The largest term, exactly 1 after the shift, is kept apart from the sum of
  the others, ``rest``, so that ``log1p(rest)`` and ``rest / (1 + rest)``
  keep full relative accuracy when one class dominates.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from lossbook._typing import F64, IntpArray
from lossbook._validation import check_finite, check_masked_logits, check_masked_rows

__all__: list[str] = []

# float64 elements per block of rows (512 KiB per (rows, C) buffer). The Python
# between a block's two dozen ufunc calls costs more than the cache misses of
# blocks larger than L2: CPU time per call at 16384, 32768, 65536 and 131072
# elements measured 64, 55, 48 and 47 ms for probability-target CE and 47, 36, 31
# and 31 ms for the softmax focal loss (float32 8192 x 1000, one thread, 1 MiB
# L2 per core). The buffers are allocated once per call and thread (see
# Workspace): a fresh array of 128 KiB or more is an mmap and a page fault per
# page with glibc's malloc, which measured 10x slower than the arithmetic on it.
BLOCK_ELEMENTS = 65536
# Elements per chunk of the elementwise (sigmoid) paths, whose temporaries are
# fresh arrays: 64 KiB each, under glibc's 128 KiB mmap threshold (measured
# 4.6 ns per element for the binary loss's kernel, against 74 at 32768).
CHUNK_ELEMENTS = 8192
# Below this many elements a call runs on the calling thread: handing blocks to
# the pool costs tens of microseconds, more than the arithmetic of a small call.
PARALLEL_ELEMENTS = 1 << 18

_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def thread_count() -> int:
    """Worker threads for the blocked passes.

    ``OMP_NUM_THREADS`` if set to a positive integer, else
    ``OPENBLAS_NUM_THREADS``, else the CPUs this process may run on
    (``os.process_cpu_count()`` on Python 3.13+, the scheduler's affinity
    mask before that), the variables the BLAS NumPy links and PyTorch follow.
    Read at every call, so a change of the environment takes effect at once.
    """
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        value = os.environ.get(name, "").split(",")[0].strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    counter = getattr(os, "process_cpu_count", None)
    if counter is not None:
        return max(1, int(counter() or 1))
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)  # pragma: no cover - platforms without affinity


def _forget_pool() -> None:
    """In a forked child the pool's threads do not exist: start a new pool on first use."""
    global _pool, _pool_size, _pool_lock
    _pool, _pool_size, _pool_lock = None, 0, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _executor(size: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    with _pool_lock:
        if _pool is None or _pool_size != size:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(size, thread_name_prefix="lossbook")
            _pool_size = size
        return _pool


_serial: contextvars.ContextVar[bool] = contextvars.ContextVar("lossbook_serial", default=False)


@contextlib.contextmanager
def serial() -> Iterator[None]:
    """Run every blocked pass inside the block on the calling thread.

    For callers that already work block by block (``linear_cross_entropy``): a
    pool there would only add one workspace per thread to the memory held, while
    the matrix products around it already use the BLAS threads.
    """
    token = _serial.set(True)
    try:
        yield
    finally:
        _serial.reset(token)


def run_blocks(n_blocks: int, elements: int, work: Callable[[range], None]) -> None:
    """Call ``work(blocks)`` on consecutive ranges covering ``range(n_blocks)``.

    The one driver of every blocked pass. The caller fixes the blocks (their
    boundaries never depend on the thread count), and `work` writes each
    block's results to that block's own rows and allocates its own scratch
    buffers once per range; so the results are bit-identical for any number
    of threads. With :func:`thread_count` above 1 and `elements` (the size of
    the whole pass) at least ``PARALLEL_ELEMENTS``, the ranges run on a pool
    of threads: NumPy's ufuncs release the GIL, so the arithmetic of the
    blocks overlaps. The first exception of the lowest range is raised.
    """
    threads = min(thread_count(), n_blocks)
    if threads <= 1 or elements < PARALLEL_ELEMENTS or _serial.get():
        work(range(n_blocks))
        return
    bounds = [n_blocks * k // threads for k in range(threads + 1)]
    ranges = [range(bounds[k], bounds[k + 1]) for k in range(threads)]
    # Each worker runs in a copy of the caller's context, which carries np.errstate.
    pool = _executor(threads)
    futures = [pool.submit(contextvars.copy_context().run, work, r) for r in ranges[1:]]
    try:
        work(ranges[0])
    finally:
        errors = [f.exception() for f in futures]
    for error in errors:
        if error is not None:
            raise error


class Workspace:
    """Float64 buffers of up to (rows, C), allocated once and reused for every block."""

    def __init__(self, rows: int, n_cols: int) -> None:
        self.shape = (rows, n_cols)
        self._buffers: dict[str, F64] = {}

    def get(self, name: str, rows: int) -> F64:
        """The buffer `name`, as its first `rows` rows (contents undefined)."""
        buffer = self._buffers.get(name)
        if buffer is None:
            buffer = self._buffers[name] = np.empty(self.shape)
        return buffer[:rows]


def block_rows(n_cols: int, elements: int = BLOCK_ELEMENTS) -> int:
    """Rows per block for rows of `n_cols` elements (at least one)."""
    return max(1, elements // max(n_cols, 1))


def load_block(
    rows: NDArray[Any], work: Workspace, name: str = "logits", *, masks: bool = True
) -> F64:
    """`rows` of `name` widened into the workspace buffer 'z'.

    With `masks`, ``-inf`` entries are kept and NaN, ``+inf`` and a row of nothing
    but ``-inf`` raise ``ValueError``; without, every non-finite entry does.
    """
    block = work.get("z", rows.shape[0])
    np.copyto(block, rows)
    if not (np.isfinite(block.max()) and np.isfinite(block.min())):
        if not masks:
            check_finite(block, name)
        check_masked_logits(block, name)
        check_masked_rows(np.max(block, axis=1), name)
    return block


def row_slices(n_rows: int, rows: int, blocks: range | None = None) -> Iterator[slice]:
    """Consecutive slices of at most `rows` rows covering ``range(n_rows)``; with
    `blocks`, only the slices of those block numbers (a range from :func:`run_blocks`)."""
    first, last = (0, n_rows) if blocks is None else (blocks.start * rows, blocks.stop * rows)
    for start in range(first, min(last, n_rows), rows):
        yield slice(start, min(start + rows, n_rows))


def shift_error(z: F64, shift: F64, shifted: F64) -> F64:
    """The rounding error of ``shifted = z - shift`` (Knuth's TwoSum), 0 where not finite.

    ``(z - shift) == shifted + error`` exactly, for any magnitudes of the two.
    """
    # Where z - shift is -inf (a -inf logit, or a difference beyond the range),
    # exp is 0 and the error (NaN) is moot: it is set to 0.
    return _shift_error_into(z, shift, shifted, np.empty_like(z), np.empty_like(z))


class RowSoftmax(NamedTuple):
    """The softmax of each row of a float64 block, in accurate pieces."""

    log_p: F64  # (B, C) log-probabilities
    p: F64  # (B, C) probabilities
    top: IntpArray  # (B,) index of each row's largest logit
    log_total: F64  # (B,) log(sum_j exp(z_j - z_top)) = log1p(rest)
    top_value: F64  # (B,) each row's largest logit
    top_complement: F64  # (B,) 1 - p[top] = rest / (1 + rest), without cancellation
    total: F64  # (B,) 1 + rest, the divisor of exp(z - top_value)


def row_softmax(
    z: F64, exact_shift: bool, work: Workspace | None = None, normalize: bool = True
) -> RowSoftmax:
    """Softmax pieces of every row of the float64 block `z` (B, C).

    Each row's maximum must be finite (-inf entries are fine: their
    probability is 0 and their log-probability -inf). `z` is not modified.
    `exact_shift` says that ``z - max`` is exact to far below the caller's
    ulp (float16 or float32 data), so the TwoSum correction is skipped. With
    `work`, the (B, C) results live in its buffers 'log_p' and 'p' (valid
    until the next call) and no block-size array is allocated.

    The log of each row's sum of exponentials is ``top_value + log_total``.

    With ``normalize=False`` the two (B, C) passes that normalise are left to
    the caller, who can fold them into its own: `log_p` then holds the shifted
    logits ``z - top_value`` (each <= 0) and `p` their exponentials (1 at the
    top), to be divided by ``1 + rest = exp(log_total)``.
    """
    b = z.shape[0]
    if work is None:
        work = Workspace(b, z.shape[1])
    rows = np.arange(b)
    top = np.argmax(z, axis=1)
    top_value = z[rows, top]
    shift = top_value[:, None]
    log_p = work.get("log_p", b)
    p = work.get("p", b)
    with np.errstate(over="ignore", invalid="ignore"):
        np.subtract(z, shift, out=log_p)
    np.exp(log_p, out=p)
    if not exact_shift:
        error = _shift_error_into(z, shift, log_p, work.get("back", b), work.get("error", b))
        # exp(x + e) = exp(x) (1 + e) to first order, e being below half an ulp of x.
        log_p += error
        error *= p
        p += error
    p[rows, top] = 0.0
    rest = np.sum(p, axis=1)
    log_total = np.log1p(rest)
    total = 1.0 + rest
    if normalize:
        log_p -= log_total[:, None]
        p /= total[:, None]
        p[rows, top] = 1.0 / total
    else:
        p[rows, top] = 1.0
    return RowSoftmax(log_p, p, top, log_total, top_value, rest / total, total)


def _shift_error_into(z: F64, shift: F64, shifted: F64, back: F64, error: F64) -> F64:
    """:func:`shift_error` written into the buffers `back` and `error`."""
    with np.errstate(over="ignore", invalid="ignore"):
        np.subtract(shifted, z, out=back)
        np.subtract(shifted, back, out=error)
        np.subtract(z, error, out=error)
        np.negative(back, out=back)
        back -= shift
        error += back
    if not np.isfinite(shifted).all():
        error[~np.isfinite(shifted)] = 0.0
    return error


class Scratch:
    """Named float64 arrays reused from chunk to chunk of an elementwise pass.

    Fresh temporaries of a chunk cost more than the arithmetic on them: once
    a chunk's arrays are freed glibc trims its heap, and the next chunk's
    arrays page-fault afresh (measured 3-5 ns per element for one fresh
    64 KiB array, against 0.3 for an add into a reused one).
    """

    def __init__(self) -> None:
        self._buffers: dict[str, F64] = {}

    def get(self, name: str, like: NDArray[Any]) -> F64:
        """The array `name` with the shape of `like` (contents undefined)."""
        buffer = self._buffers.get(name)
        if buffer is None or buffer.size < like.size:
            buffer = self._buffers[name] = np.empty(max(like.size, CHUNK_ELEMENTS))
        return buffer[: like.size].reshape(like.shape)


class SigmoidParts(NamedTuple):
    """sigma(z), sigma(-z), log sigma(z), log sigma(-z), each accurate."""

    sig_pos: F64
    sig_neg: F64
    log_pos: F64
    log_neg: F64


def sigmoid_parts(z: F64, scratch: Scratch | None = None) -> SigmoidParts:
    """The four sigmoid quantities of the float64 array `z`.

    Only ``exp(-|z|)`` is formed, so nothing overflows, and each quantity is
    computed directly instead of as ``1 - something``. With `scratch`, the
    results live in its arrays, valid until its next use.
    """
    # Every result has an explicit out=, so that 0-d input stays a 0-d array.
    work = Scratch() if scratch is None else scratch
    small = np.abs(z, out=work.get("small", z))
    np.negative(small, out=small)
    np.exp(small, out=small)
    one_plus = np.add(small, 1.0, out=work.get("one_plus", z))
    # The numerators 1 and exp(-|z|) chosen by sign without a masked copy (which
    # measured 4x slower): max(e, 1) = 1 and max(e, 0) = e, as e lies in (0, 1].
    positive = np.greater_equal(z, 0.0, out=work.get("positive", z))
    sig_pos = np.maximum(small, positive, out=work.get("sig_pos", z))
    sig_pos /= one_plus
    negative = np.subtract(1.0, positive, out=positive)
    sig_neg = np.maximum(small, negative, out=work.get("sig_neg", z))
    sig_neg /= one_plus
    log1p_small = np.log1p(small, out=small)
    log_pos = np.minimum(z, 0.0, out=work.get("log_pos", z))
    log_pos -= log1p_small
    log_neg = np.maximum(z, 0.0, out=work.get("log_neg", z))
    np.negative(log_neg, out=log_neg)
    log_neg -= log1p_small
    return SigmoidParts(sig_pos, sig_neg, log_pos, log_neg)
