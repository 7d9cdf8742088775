"""The fused kernel of softmax cross-entropy with class-index targets (private).

One blocked pass in the input's own precision (float16 in float32) computes
every row's loss and, when asked, writes the gradient straight into its
output buffer; only the few rows whose result could have lost relative
accuracy are recomputed in float64 by the numerics core.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from lossbook import _core
from lossbook import _validation as v
from lossbook._loss_common import ValueAndGrad, grad_scale, reduce_loss, row_weight, weighted
from lossbook._typing import F64, BoolArray, FloatArray, IntpArray

__all__: list[str] = []

# Rows per block: a block of logits and a block of the gradient (2 x 512 KiB)
# stay in a 1 MiB L2 cache through the pass; smaller blocks measured slower
# (more Python overhead per row), larger ones no faster.
_BLOCK_BYTES = 512 * 1024
# A block whose largest logit lies in [_SHIFT_LOW, log(max) - log(C) - 2] is
# exponentiated unshifted: exp(z) is then exact up to one rounding, whereas
# z - max rounds when z and max differ in sign or magnitude. Rows whose own
# exponentials are too small for that (sum below _MIN_TOTAL) are redone with
# their own maximum as the shift.
_SHIFT_LOW = -10.0
_MIN_TOTAL = 2.0**-20


def index_ce_fused(
    z: FloatArray,
    y: IntpArray,
    valid: BoolArray | None,
    w: F64 | None,
    reduction: str,
    need_grad: bool,
    dense: Callable[..., ValueAndGrad],
    smoothing: float = 0.0,
) -> ValueAndGrad:
    """Loss and gradient for index targets, with label smoothing `smoothing`.

    `dense` is the float64 path (``dense(z, y, valid, w, smoothing, reduction,
    need_grad)``) for weights so extreme that the compute dtype would overflow.

    With smoothing the loss of row i is PyTorch's
    ``(1 - eps) w_y nll_i + eps / C * sum_c w_c (-log p_ic)``, and the sum is
    ``W (LSE_i - m_i) + sum_c w_c (m_i - z_ic)`` (``W = sum_c w_c``, ``m_i``
    the row's largest logit), two non-negative terms formed in float64 from
    the fused pass's row sums and a float64 product of each block with `w`.
    """
    n_classes = z.shape[-1]
    z2 = z.reshape(-1, n_classes)
    y1 = y.reshape(-1)
    valid1 = None if valid is None else valid.reshape(-1)
    row_w = row_weight(y1, valid1, w)
    count = float(len(y1)) if row_w is None else float(np.sum(row_w))
    # Per-row coefficients are arrays only where rows differ (weights, ignored rows).
    rw: F64 | float = 1.0 if row_w is None else row_w
    live: F64 | float = 1.0 if valid1 is None else valid1.astype(np.float64)
    class_total = float(n_classes) if w is None else float(np.sum(w))
    spec = None
    out = None
    if need_grad:
        factor = grad_scale(reduction, count)
        # The gradient of row i is factor * (T_i p - (1 - eps) w_y onehot(y) - eps / C * w),
        # with T_i = (1 - eps) w_y + eps / C * W the total target mass of the row.
        on = factor * (1.0 - smoothing) * rw
        spread = factor * (smoothing / n_classes) * live if smoothing else None
        scale = on if spread is None else on + spread * class_total
        biggest = float(np.max(scale)) if np.size(scale) else 0.0
        if biggest > np.finfo(v.compute_dtype(z.dtype)).max * _MIN_TOTAL:
            # scale / total (total >= _MIN_TOTAL) would overflow the compute dtype, and
            # 0 * inf give NaN: the gradient for weights that large comes from the
            # float64 path; the value from this one, so that it is the loss's to the bit.
            grad = dense(z, y, valid, w, smoothing, reduction, need_grad).grad
            result = index_ce_fused(z, y, valid, w, reduction, False, dense, smoothing)
            return result._replace(grad=grad)
        ct = v.compute_dtype(z.dtype)
        spec = _GradSpec(scale, on, spread, None if w is None else w.astype(ct), w)
        out = np.empty(z.shape, z.dtype)
    weights_for_sum = None
    if smoothing:
        weights_for_sum = np.ones(n_classes) if w is None else w
    loss, smooth_sums = _fused_rows(
        z2, y1, spec, None if out is None else out.reshape(-1, n_classes), weights_for_sum
    )
    if row_w is not None:
        loss = weighted((1.0 - smoothing) * row_w, loss)
    elif smoothing:
        loss *= 1.0 - smoothing
    if smooth_sums is not None:
        smooth = class_total * smooth_sums.lse_gap + smooth_sums.weighted_gap
        loss += weighted(np.asarray((smoothing / n_classes) * live), smooth)
    value = reduce_loss(loss.reshape(z.shape[:-1]), reduction, count)
    return ValueAndGrad(v.cast_result(value, z.dtype), out)


class _RowSums(NamedTuple):
    """Per-row results of the fused pass, for a shift s chosen per block (or per row)."""

    e_y: FloatArray  # exp(z_y - s), compute dtype
    rest: FloatArray  # sum over j != y of exp(z_j - s), compute dtype
    shift: F64  # s


class _SmoothingSums(NamedTuple):
    """Per row, float64: LSE - m and sum_c w_c (m - z_c), m the row's largest logit."""

    lse_gap: F64
    weighted_gap: F64


class _GradSpec(NamedTuple):
    """Coefficients of the gradient ``scale * p - on * onehot(y) - spread * class_w``."""

    scale: F64 | float  # (N,) or one for all rows: factor * T_i
    on: F64 | float  # (N,) or one for all rows: factor * (1 - eps) * w_y
    spread: F64 | float | None  # factor * eps / C (0 on ignored rows); None without smoothing
    class_w: FloatArray | None  # (C,) class weights in the compute dtype; None for ones
    class_w64: F64 | None  # the same weights in float64, for the target entry


class _RowBuffers:
    """Per-row work vectors of one block, allocated once per call and reused.

    A fresh array of 128 KiB or more is an mmap and a page fault per page with
    glibc's malloc; at small class counts a block has tens of thousands of rows,
    so these vectors are preallocated and every operation writes into them.
    """

    def __init__(self, rows: int, n_cols: int, ct: np.dtype[Any]) -> None:
        self.base = np.arange(rows) * n_cols  # flat offset of each row in a block
        self.local = np.empty(rows, np.intp)
        self.e_y = np.empty(rows, ct)
        self.rest = np.empty(rows, ct)
        self.total = np.empty(rows, ct)
        self.k = np.empty(rows, ct)
        self.head = np.empty(rows, ct)
        self.e64 = np.empty(rows)
        self.r64 = np.empty(rows)
        self.ratio = np.empty(rows)
        self.shift = np.empty(rows)
        self.ok = np.empty(rows, np.bool_)


def _fused_rows(
    z2: FloatArray,
    y: IntpArray,
    spec: _GradSpec | None,
    out: FloatArray | None,
    sum_weights: F64 | None,
) -> tuple[F64, _SmoothingSums | None]:
    """Per-row ``-log p_y`` (float64); with `spec`, fill `out` with the gradient; with
    `sum_weights` (w), also the pieces of ``sum_c w_c (-log p_c)`` per row.

    One pass over `z2` in blocks of rows small enough to stay in L2: exp into
    the output buffer, gather and zero the target entry, row sums,
    scale in place, write the target entry, and the block's losses. Only the
    (N,) losses leave the loop.
    """
    n, c = z2.shape
    ct = v.compute_dtype(z2.dtype)
    rows = max(1, min(n, _BLOCK_BYTES // (c * ct.itemsize)))
    buf = _RowBuffers(rows, c, ct)
    ones = np.ones(c, ct)
    loss = np.empty(n)
    direct = out is not None and out.dtype == ct
    scratch = None if direct else np.empty((rows, c), ct)
    spread_scratch = None
    if spec is not None and spec.spread is not None and spec.class_w is not None:
        spread_scratch = np.empty((rows, c), ct)
    smooth = None
    wide = None
    weight_total = 0.0
    if sum_weights is not None:
        weight_total = float(np.sum(sum_weights))
        smooth = _SmoothingSums(np.empty(n), np.empty(n))
        wide = np.empty((rows, c))
    high = math.log(float(np.finfo(ct).max)) - math.log(c) - 2.0
    for start in range(0, n, rows):
        part = slice(start, min(start + rows, n))
        b = part.stop - start
        block = out[part] if direct else scratch[:b]  # type: ignore[index]
        s = _exp_block(z2[part], block, high)  # raises for NaN, +inf, all--inf rows
        local = np.add(buf.base[:b], y[part], out=buf.local[:b])
        flat = block.reshape(-1)
        sums = _RowSums(buf.e_y[:b], buf.rest[:b], buf.shift[:b])
        np.take(flat, local, out=sums.e_y)
        flat[local] = 0
        _row_sums(block, ones, sums.rest)
        sums.shift.fill(s)
        total = np.add(sums.rest, sums.e_y, out=buf.total[:b])
        low = np.flatnonzero(total < _MIN_TOTAL) if total.min() < _MIN_TOTAL else None
        if spec is not None:
            if low is not None:
                total[low] = 1.0  # these rows are redone below; avoid 0/0 meanwhile
            _block_grad(block, local, part, total, sums.rest, spec, spread_scratch, buf)
        if low is not None:
            _redo_rows(z2[part], y[part], low, part, spec, sums, block)
        if out is not None and not direct:
            with np.errstate(over="ignore"):
                np.copyto(out[part], block)
        _row_losses(z2[part], y[part], sums, buf, loss[part])
        if smooth is not None and wide is not None and sum_weights is not None:
            # sum_c w_c (-log p_c) = W (LSE - m) + sum_c w_c (m - z_c), m the row max:
            # two terms >= 0, in float64 (m - z_c is exact for float16/float32 data).
            # sum_c w_c (m - z_c) as W m - sum_c w_c z_c in float64: the products of
            # float16/float32 data are exact there, and the difference loses at most a
            # few float64 ulp of W |m|, far below the caller's precision.
            zw = wide[:b]
            np.copyto(zw, z2[part])
            top = np.max(z2[part], axis=1).astype(np.float64)
            # einsum, not BLAS: OpenBLAS threads a long float64 gemv, and on a busy
            # machine its threads' spin-waits measured 10-100x slower.
            np.einsum("ij,j->i", zw, sum_weights, out=smooth.weighted_gap[part])
            np.subtract(
                weight_total * top, smooth.weighted_gap[part], out=smooth.weighted_gap[part]
            )
            np.maximum(smooth.weighted_gap[part], 0.0, out=smooth.weighted_gap[part])
            gap = (sums.shift - top) + np.log(sums.e_y.astype(np.float64) + sums.rest)
            np.maximum(gap, 0.0, out=smooth.lse_gap[part])
            # Where y is the row's largest logit (rest < e_y), LSE - m is the row's
            # -log p_y, which keeps full relative accuracy; log(e_y + rest) - m rounds a
            # tiny gap away (all of it for C = 1, or when only class y has weight).
            np.copyto(smooth.lse_gap[part], loss[part], where=buf.ratio[:b] < 1.0)
    return loss, smooth


def _row_sums(block: FloatArray, ones: FloatArray, out: FloatArray) -> None:
    """Row sums of `block` into `out`: BLAS for short rows, einsum for long ones.

    OpenBLAS runs a long gemv on several threads, and on a busy machine their
    spin-waits measured 10-1000x slower than one thread (float64, C >= 2**16);
    einsum's own loop is as fast as BLAS for rows of 64 and more, but several
    times slower for rows of 2 to 8, where gemv stays single-threaded.
    """
    if block.shape[1] >= 64:
        np.einsum("ij->i", block, out=out)
    else:
        np.matmul(block, ones, out=out)


def _block_grad(
    block: FloatArray,
    local: IntpArray,
    part: slice | IntpArray,
    total: FloatArray,
    rest: FloatArray,
    spec: _GradSpec,
    scratch: FloatArray | None,
    buf: _RowBuffers | None = None,
) -> None:
    """Turn the exponentials in `block` (target entries, at flat positions `local`,
    zeroed) into the gradient rows `part` of the whole array."""
    ct = block.dtype
    b = block.shape[0]
    k = np.empty(b, ct) if buf is None else buf.k[:b]
    with np.errstate(over="ignore"):
        np.copyto(k, _at(spec.scale, part) / total, casting="same_kind")
    np.multiply(block, k[:, None], out=block)
    flat = block.reshape(-1)
    head = np.empty(b, ct) if buf is None else buf.head[:b]
    if spec.spread is None:
        np.multiply(k, rest, out=head)
        np.negative(head, out=head)
        flat[local] = head
        return
    spread = np.broadcast_to(_at(spec.spread, part), (b,))
    if spec.class_w is None or spec.class_w64 is None:
        block -= spread.astype(ct)[:, None]
        w_y: F64 | float = 1.0
    else:
        weights = scratch[:b] if scratch is not None else np.empty(block.shape, ct)
        np.multiply(spread.astype(ct)[:, None], spec.class_w[None, :], out=weights)
        block -= weights
        # float64 weights, as in `scale`: with class_w rounded to float32 the target entry
        # kept spread * (w_y - float32(w_y)), which can exceed a tiny true gradient.
        w_y = spec.class_w64[local % block.shape[1]]
    # scale * p_y - on - spread * w_y, with scale * p_y = scale - k * rest.
    value = _at(spec.scale, part) - _at(spec.on, part) - spread * w_y
    flat[local] = value - k.astype(np.float64) * rest


def _at(coefficient: F64 | float, part: slice | IntpArray) -> F64 | float:
    """Rows `part` of a per-row coefficient, or the coefficient shared by every row."""
    return coefficient if isinstance(coefficient, float) else coefficient[part]


def _exp_block(zb: FloatArray, block: FloatArray, high: float) -> float:
    """``block <- exp(zb - s)``; return the shift s (0 when exp(zb) is safe)."""
    top = float(zb.max())
    if not (math.isfinite(top) and math.isfinite(float(zb.min()))):
        # -inf entries are masks: exp gives exactly 0 there, and so does the gradient.
        v.check_masked_logits(zb, "logits")
        v.check_masked_rows(np.max(zb, axis=1), "logits")
    source = zb
    if zb.dtype != block.dtype:
        np.copyto(block, zb)
        source = block
    if _SHIFT_LOW <= top <= high:
        np.exp(source, out=block)
        return 0.0
    np.subtract(source, block.dtype.type(top), out=block)
    np.exp(block, out=block)
    return top


def _redo_rows(
    zb: FloatArray,
    yb: IntpArray,
    low: IntpArray,
    part: slice,
    spec: _GradSpec | None,
    sums: _RowSums,
    block: FloatArray,
) -> None:
    """Redo rows `low` of the block (logits `zb`), whose exponentials vanished under
    the block's shift, with each row's own maximum as its shift."""
    ct = block.dtype
    zr = zb[low].astype(ct)
    top = zr.max(axis=1, keepdims=True)
    np.subtract(zr, top, out=zr)
    np.exp(zr, out=zr)
    rows = np.arange(len(low))
    yr = yb[low]
    sums.e_y[low] = zr[rows, yr]
    zr[rows, yr] = 0
    sums.rest[low] = np.sum(zr, axis=1)
    sums.shift[low] = top[:, 0]
    if spec is not None:
        # The row max contributes exactly 1 to the total, so it cannot vanish.
        total = sums.rest[low] + sums.e_y[low]
        local = rows * zr.shape[1] + yr
        _block_grad(zr, local, part.start + low, total, sums.rest[low], spec, None)
        block[low] = zr


def _row_losses(zb: FloatArray, yb: IntpArray, sums: _RowSums, buf: _RowBuffers, loss: F64) -> None:
    """``-log p_y`` for the rows of one block, from the fused pass's sums, into `loss`.

    ``log1p(rest / e_y)`` keeps a tiny loss accurate; where e_y is subnormal,
    or rest / e_y overflows (float64 losses beyond ~709), the loss is large and
    ``log(total) + s - z_y`` is accurate instead. Rows that were shifted
    (s != 0) and have p_y > 1/2 are recomputed in float64, because the
    rounding of ``z - s`` would otherwise limit a tiny loss's relative
    accuracy to about ``|z - s|`` ulps (measured: 43 ulps in float32 at
    logits of +-80, against 2 with the recomputation).
    """
    b = len(yb)
    e, r, ratio, ok = buf.e64[:b], buf.r64[:b], buf.ratio[:b], buf.ok[:b]
    np.copyto(e, sums.e_y)
    np.copyto(r, sums.rest)
    np.greater_equal(sums.e_y, np.finfo(sums.e_y.dtype).tiny, out=ok)
    ratio.fill(np.inf)
    np.divide(r, e, out=ratio, where=ok)
    np.log1p(ratio, out=loss)
    if not np.isfinite(loss).all():
        bad = np.flatnonzero(~(ok & np.isfinite(ratio)))
        z_y = zb[bad, yb[bad]].astype(np.float64)
        loss[bad] = np.log(r[bad] + e[bad]) + (sums.shift[bad] - z_y)
    if sums.shift.any():
        redo = np.flatnonzero((sums.shift != 0) & (ratio < 1.0))
        if redo.size:
            loss[redo] = _small_losses(zb[redo].astype(np.float64), yb[redo])


def _small_losses(z: F64, y: IntpArray) -> F64:
    """``-log p_y`` for rows with p_y > 1/2 (so y is the row's argmax), in float64."""
    parts = _core.row_softmax(z, exact_shift=False)
    return 0.0 - parts.log_p[np.arange(len(y)), y]
