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

from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from lossbook._typing import F64, IntpArray
from lossbook._validation import check_masked_logits, check_masked_rows

__all__: list[str] = []

# float64 elements per block of rows: the handful of (rows, C) float64 buffers a
# block needs (256 KiB each) stay in a 1-2 MiB L2 cache. They are allocated once
# per call (see Workspace): a fresh array of 128 KiB or more is an mmap and a
# page fault per page with glibc's malloc, which measured 10x slower than the
# arithmetic on it.
BLOCK_ELEMENTS = 32768
# Elements per chunk of the elementwise (sigmoid) paths, whose temporaries are
# fresh arrays: 64 KiB each, under glibc's 128 KiB mmap threshold (measured
# 4.6 ns per element for the binary loss's kernel, against 74 at 32768).
CHUNK_ELEMENTS = 8192


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


def load_block(rows: NDArray[Any], work: Workspace) -> F64:
    """`rows` of logits widened into the workspace buffer 'z'.

    ``-inf`` entries (masks) are kept; NaN, ``+inf`` and a row of nothing but
    ``-inf`` raise ``ValueError``.
    """
    block = work.get("z", rows.shape[0])
    np.copyto(block, rows)
    if not (np.isfinite(block.max()) and np.isfinite(block.min())):
        check_masked_logits(block, "logits")
        check_masked_rows(np.max(block, axis=1), "logits")
    return block


def row_slices(n_rows: int, rows: int) -> Iterator[slice]:
    """Consecutive slices of at most `rows` rows covering ``range(n_rows)``."""
    for start in range(0, n_rows, rows):
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


def row_softmax(z: F64, exact_shift: bool, work: Workspace | None = None) -> RowSoftmax:
    """Softmax pieces of every row of the float64 block `z` (B, C).

    Each row's maximum must be finite (-inf entries are fine: their
    probability is 0 and their log-probability -inf). `z` is not modified.
    `exact_shift` says that ``z - max`` is exact to far below the caller's
    ulp (float16 or float32 data), so the TwoSum correction is skipped. With
    `work`, the (B, C) results live in its buffers 'log_p' and 'p' (valid
    until the next call) and no block-size array is allocated.

    The log of each row's sum of exponentials is ``top_value + log_total``.
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
    log_p -= log_total[:, None]
    total = 1.0 + rest
    p /= total[:, None]
    p[rows, top] = 1.0 / total
    return RowSoftmax(log_p, p, top, log_total, top_value, rest / total)


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


class SigmoidParts(NamedTuple):
    """sigma(z), sigma(-z), log sigma(z), log sigma(-z), each accurate."""

    sig_pos: F64
    sig_neg: F64
    log_pos: F64
    log_neg: F64


def sigmoid_parts(z: F64) -> SigmoidParts:
    """The four sigmoid quantities of the float64 array `z`.

    Only ``exp(-|z|)`` is formed, so nothing overflows, and each quantity is
    computed directly instead of as ``1 - something``.
    """
    # Every result has an explicit out=, so that 0-d input stays a 0-d array.
    small = np.abs(z, out=np.empty_like(z))
    np.negative(small, out=small)
    np.exp(small, out=small)
    one_plus = np.add(small, 1.0, out=np.empty_like(z))
    positive = z >= 0
    sig_pos = np.where(positive, 1.0, small)
    sig_pos /= one_plus
    sig_neg = np.where(positive, small, 1.0)
    sig_neg /= one_plus
    log1p_small = np.log1p(small, out=small)
    log_pos = np.minimum(z, 0.0, out=np.empty_like(z))
    log_pos -= log1p_small
    log_neg = np.maximum(z, 0.0, out=np.empty_like(z))
    np.negative(log_neg, out=log_neg)
    log_neg -= log1p_small
    return SigmoidParts(sig_pos, sig_neg, log_pos, log_neg)
