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
from typing import NamedTuple

import numpy as np

from lossbook._typing import F64, IntpArray

__all__: list[str] = []

# float64 elements per block: the handful of (rows, C) float64 temporaries a
# block needs (256 KiB each) stay in a 1-2 MiB L2 cache.
BLOCK_ELEMENTS = 32768


def block_rows(n_cols: int, elements: int = BLOCK_ELEMENTS) -> int:
    """Rows per block for rows of `n_cols` elements (at least one)."""
    return max(1, elements // max(n_cols, 1))


def row_slices(n_rows: int, rows: int) -> Iterator[slice]:
    """Consecutive slices of at most `rows` rows covering ``range(n_rows)``."""
    for start in range(0, n_rows, rows):
        yield slice(start, min(start + rows, n_rows))


def shift_error(z: F64, shift: F64, shifted: F64) -> F64:
    """The rounding error of ``shifted = z - shift`` (Knuth's TwoSum), 0 where not finite.

    ``(z - shift) == shifted + error`` exactly, for any magnitudes of the two.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        back = shifted - z
        error = z - (shifted - back)
        error += -shift - back
    # Where z - shift is -inf (a -inf logit, or a difference beyond the range),
    # exp is 0 and the error (NaN) is moot.
    error[~np.isfinite(shifted)] = 0.0
    return error


class RowSoftmax(NamedTuple):
    """The softmax of each row of a float64 block, in accurate pieces."""

    log_p: F64  # (B, C) log-probabilities
    p: F64  # (B, C) probabilities
    top: IntpArray  # (B,) index of each row's largest logit
    log_total: F64  # (B,) log(sum_j exp(z_j - z_top)) = log1p(rest)
    top_value: F64  # (B,) each row's largest logit
    top_complement: F64  # (B,) 1 - p[top] = rest / (1 + rest), without cancellation


def row_softmax(z: F64, exact_shift: bool) -> RowSoftmax:
    """Softmax pieces of every row of the float64 block `z` (B, C).

    Each row's maximum must be finite (-inf entries are fine: their
    probability is 0 and their log-probability -inf). `z` is not modified.
    `exact_shift` says that ``z - max`` is exact to far below the caller's
    ulp (float16 or float32 data), so the TwoSum correction is skipped.

    Logarithm of the sum of exponentials of the row is
    ``top_value + log_total``.
    """
    rows = np.arange(z.shape[0])
    top = np.argmax(z, axis=1)
    top_value = z[rows, top]
    shift = top_value[:, None]
    with np.errstate(over="ignore", invalid="ignore"):
        log_p = np.subtract(z, shift)
    p = np.exp(log_p)
    if not exact_shift:
        error = shift_error(z, shift, log_p)
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
    small = np.abs(z)
    np.negative(small, out=small)
    np.exp(small, out=small)
    one_plus = 1.0 + small
    positive = z >= 0
    sig_pos = np.where(positive, 1.0, small)
    sig_pos /= one_plus
    sig_neg = np.where(positive, small, 1.0)
    sig_neg /= one_plus
    log1p_small = np.log1p(small, out=small)
    log_pos = np.minimum(z, 0.0)
    log_pos -= log1p_small
    log_neg = np.maximum(z, 0.0)
    np.negative(log_neg, out=log_neg)
    log_neg -= log1p_small
    return SigmoidParts(sig_pos, sig_neg, log_pos, log_neg)
