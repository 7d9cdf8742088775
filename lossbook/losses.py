"""Cross-entropy losses on logits: softmax (multi-class) and sigmoid (binary).

Both losses take *logits* and never form ``log(softmax(z))`` or
``log(sigmoid(z))``: softmax cross-entropy is ``logsumexp(z) - z_y`` and the
binary loss is written with log-sigmoids, so every finite logit works in every
dtype. Their semantics are those of PyTorch's ``cross_entropy`` and
``binary_cross_entropy_with_logits`` with the class axis *last*.

Precision. The common case of :func:`softmax_cross_entropy` (class-index
targets, no label smoothing) runs a fused, blocked kernel in the input's own
precision (float16 in float32), then recomputes in float64 the few rows whose
small loss could have lost relative accuracy. Every other path computes in
float64 and rounds once to the dtype of `logits`.

Range. With finite inputs nothing warns and nothing is NaN; a loss beyond
the float range is inf. For float64 logits within a small factor of
``finfo.max`` an intermediate (``z_max - z_c``, a sum before the mean's
division) can overflow although a weight below 1 or the mean would bring the
result back into range; the result is then inf instead of a number near
``finfo.max``. (float16 and float32 inputs are reduced in float64 and are not
affected.) Class weights beyond ``2**512`` or below ``2**-512``, whose sums
could overflow, are first scaled by a power of two, which is exact.

Each loss has a private ``_name(..., need_grad)`` kernel returning the value
and the analytic gradient from one pass; :mod:`lossbook.gradients` exposes
them as ``grad(loss)`` and ``value_and_grad(loss)``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossbook import _validation as v

__all__ = ["softmax_cross_entropy", "binary_cross_entropy_with_logits"]

FloatArray = NDArray[np.floating[Any]]
F64 = NDArray[np.float64]

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


class ValueAndGrad(NamedTuple):
    """A loss value and its gradient with respect to the logits (None if not asked)."""

    value: Any
    grad: FloatArray | None


# --- shared helpers ------------------------------------------------------------


def check_logits(logits: ArrayLike, classes: bool) -> FloatArray:
    """`logits` as a float array; with `classes`, it needs a non-empty last axis."""
    z = v.as_float_array(logits, "logits")
    if classes:
        if z.ndim == 0:
            raise ValueError("logits must have at least one dimension (classes on the last axis)")
        if z.shape[-1] == 0:
            raise ValueError("logits is empty along the class axis (the last axis)")
    return z


def overflow_is_inf(kernel: Callable[..., ValueAndGrad]) -> Callable[..., ValueAndGrad]:
    """Run a loss kernel with floating-point overflow warnings off.

    With finite inputs the kernels overflow only in quantities whose true
    value lies beyond the dtype's range -- ``z - max`` for logits of opposite
    extreme signs, a loss of ``2 * finfo.max``, a float16 sum past 65504 --
    and inf is then the correctly rounded value, which every later step
    handles (the exponential of -inf is 0; the products that would give
    ``0 * inf`` are masked explicitly). See the module notes for the one
    consequence, at the very end of the float64 range.
    """

    @functools.wraps(kernel)
    def quiet(*args: Any, **kwargs: Any) -> ValueAndGrad:
        with np.errstate(over="ignore"):
            return kernel(*args, **kwargs)

    return quiet


def weighted(weight: F64, loss: F64) -> F64:
    """``weight * loss``, with 0 wherever the weight is 0 -- even where the loss is inf."""
    out = np.zeros(np.broadcast_shapes(weight.shape, loss.shape))
    return np.multiply(weight, loss, out=out, where=weight != 0)


def reduce_loss(per_item: F64, reduction: str, count: float) -> Any:
    """'none' -> `per_item`; 'sum' -> its sum; 'mean' -> sum / `count` (0.0 if count is 0)."""
    if reduction == "none":
        return per_item
    total = float(np.sum(per_item, dtype=np.float64))
    if reduction == "sum":
        return total
    return total / count if count > 0 else 0.0


def grad_scale(reduction: str, count: float) -> float:
    """Factor turning per-item gradients into the gradient of the reduced loss."""
    if reduction == "mean":
        return 1.0 / count if count > 0 else 0.0
    return 1.0


def unit_scaled(w: F64) -> tuple[F64, int]:
    """``(w / 2**e, e)``: brings ``max(w)`` into [0.5, 1) if it is not in [2**-512, 2**512).

    Only weights that far out let a sum of them (``sum(w[y])``, ``sum(t * w)``)
    overflow to inf, or ``1 / sum(w[y])`` overflow; inf then turns ``inf / inf``
    or ``0 * inf`` into NaN. Scaling by a power of two is exact short of
    subnormal results, so a loss computed with the scaled weights is ``2**-e``
    times the true one, and other weights are left alone to the bit.
    """
    e = math.frexp(float(np.max(w)))[1]  # max(w) in [2**(e-1), 2**e)
    return (w, 0) if -512 < e <= 512 else (np.ldexp(w, -e), e)


def sigmoid_parts(z: F64) -> tuple[F64, F64, F64, F64]:
    """Return sigma(z), sigma(-z), log sigma(z), log sigma(-z), all accurate.

    Only ``exp(-|z|)`` is formed, so nothing overflows, and each quantity is
    computed directly instead of as ``1 - something``.
    """
    small = np.exp(-np.abs(z))
    one_plus = 1.0 + small
    positive = z >= 0
    sig_pos = np.where(positive, 1.0, small) / one_plus
    sig_neg = np.where(positive, small, 1.0) / one_plus
    log1p_small = np.log1p(small)
    log_pos = np.minimum(z, 0.0) - log1p_small
    log_neg = -np.maximum(z, 0.0) - log1p_small
    return sig_pos, sig_neg, log_pos, log_neg


def shifted(z: F64, shift: F64) -> tuple[F64, F64]:
    """``z - shift`` rounded, and its rounding error (Knuth's TwoSum).

    The error is what keeps ``exp(z - max)`` accurate to a few ulps when
    ``z - max`` is large: a half-ulp error in the exponent is an error of
    ``|z - max| / 2`` ulps in the exponential.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        x = z - shift
        back = x - z
        error = (z - (x - back)) + (-shift - back)
    # Where z - shift overflowed to -inf, exp(x) is 0 and the (NaN) error is moot.
    return x, np.where(np.isfinite(x), error, 0.0)


class SoftmaxStats(NamedTuple):
    """Accurate pieces of a row-wise softmax in float64 (private)."""

    log_p: F64  # (N, C) log-probabilities
    p: F64  # (N, C) probabilities
    top: NDArray[np.intp]  # (N,) argmax
    top_complement: F64  # (N,) 1 - p[top], without cancellation


def softmax_stats(z: F64) -> SoftmaxStats:
    """Row-wise softmax of a finite float64 (N, C) array, with log1p accuracy."""
    n = z.shape[0]
    rows = np.arange(n)
    top = np.argmax(z, axis=1)
    x, error = shifted(z, z[rows, top][:, None])
    e = np.exp(x)
    e += e * error
    e[rows, top] = 0.0
    rest = np.sum(e, axis=1)
    total = 1.0 + rest
    log_p = (x + error) - np.log1p(rest)[:, None]
    p = e / total[:, None]
    p[rows, top] = 1.0 / total
    return SoftmaxStats(log_p, p, top, rest / total)


def dense_ce(stats: SoftmaxStats, target: F64, need_grad: bool) -> tuple[F64, F64 | None]:
    """Rows of ``-sum_c t_c log p_c`` and of its gradient ``p * sum(t) - t``.

    `target` is any non-negative (N, C) array (weights and smoothing already
    folded in). The gradient's top entry is formed as
    ``(sum(t) - t_top) p_top - t_top (1 - p_top)`` so that a confident,
    correct prediction gets a tiny gradient with full relative accuracy.
    """
    # log p is -inf only beyond the float range (logits ~ +-finfo.max); 0 * inf -> 0 there.
    terms = np.multiply(target, -stats.log_p, out=np.zeros(target.shape), where=target > 0)
    loss = np.sum(terms, axis=1)
    if not need_grad:
        return loss, None
    rows = np.arange(target.shape[0])
    t_sum = np.sum(target, axis=1)
    grad = stats.p * t_sum[:, None] - target
    t_top = target[rows, stats.top]
    p_top = stats.p[rows, stats.top]
    grad[rows, stats.top] = (t_sum - t_top) * p_top - t_top * stats.top_complement
    return loss, grad


# --- softmax cross-entropy -------------------------------------------------------


def softmax_cross_entropy(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    weight: ArrayLike | None = None,
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
) -> FloatArray:
    r"""Softmax cross-entropy of `logits` against class indices or probabilities.

    For one example with logits :math:`z` and an index target :math:`y`,

    .. math:: \ell = -\log \operatorname{softmax}(z)_y
              = \operatorname{LSE}(z) - z_y
              = \log\Bigl(1 + \sum_{j \ne y} e^{z_j - z_y}\Bigr),

    and for a probability target :math:`t`,
    :math:`\ell = -\sum_c t_c \log \operatorname{softmax}(z)_c`. The values are
    those of PyTorch's ``torch.nn.functional.cross_entropy`` [1]_ with the
    class dimension moved to the last axis.

    Parameters
    ----------
    logits : array_like
        Unnormalised scores, shape ``(..., C)``: classes on the **last** axis.
        Must be finite.
    target : array_like
        Either integer class indices with shape ``logits.shape[:-1]`` (an
        integer dtype), or class probabilities with the shape of `logits`
        (a float or bool dtype; entries in [0, 1], rows need not sum to 1).
    weight : array_like, optional
        Per-class weights, shape ``(C,)``, finite and non-negative.
    ignore_index : int, optional
        With index targets, entries equal to it contribute 0 to the loss and
        to its gradient and are left out of the mean's denominator. May lie
        inside ``[0, C)``. Not allowed with probability targets (PyTorch does
        not support it there either). The default, None, ignores nothing:
        unlike PyTorch, whose default is -100, a target of -100 is then an
        out-of-range class index and raises ``ValueError``.
    label_smoothing : float, optional
        :math:`\varepsilon \in [0, 1]`: the target is mixed with the uniform
        distribution, :math:`(1 - \varepsilon) t + \varepsilon / C` [2]_.
    reduction : {'mean', 'sum', 'none'}, optional
        'none' returns one loss per example (shape ``logits.shape[:-1]``),
        'sum' their sum and 'mean' (default) their mean as defined below.

    Returns
    -------
    ndarray or scalar
        The loss, with the dtype of `logits` (float64 for integer logits).

    Raises
    ------
    ValueError
        If `logits` contains NaN or an infinity or has no class axis; if a
        class index is out of range (other than `ignore_index`) or not a
        whole number; if probability targets leave [0, 1] or contain NaN;
        if a shape does not fit (target, weight of length other than C);
        if `weight` is negative or not finite; if `label_smoothing` is
        outside [0, 1]; or if `reduction` is unknown.
    TypeError
        If an argument has the wrong type (complex logits, a non-integer
        `ignore_index`, a non-numeric `label_smoothing`).

    See Also
    --------
    binary_cross_entropy_with_logits : One sigmoid per class instead.
    lossbook.cross_entropy : The same quantity from probabilities.
    lossbook.value_and_grad : The loss and its gradient in one fused pass.

    Notes
    -----
    *Weights and means.* With index targets, example :math:`i` counts with
    :math:`w_{y_i}` and 'mean' divides by :math:`\sum_i w_{y_i}` over the
    examples that are not ignored. With probability targets, the weight
    multiplies each class inside the sum and 'mean' divides by the number of
    examples, :math:`N` -- both as in PyTorch.

    *Label smoothing with index targets* follows PyTorch exactly:
    :math:`\ell_i = (1 - \varepsilon) w_{y_i} (-\log p_{i y_i})
    + \frac{\varepsilon}{C} \sum_c w_c (-\log p_{ic})`, and 'mean' divides
    both parts by :math:`\sum_i w_{y_i}`.

    *Empty means.* When nothing is left to average -- every target ignored,
    an empty batch, or target weights summing to 0 -- PyTorch returns NaN.
    Here 'mean' returns 0.0 (the value of the empty sum) and its gradient is
    zero, so that a batch consisting only of padding leaves training
    undisturbed instead of poisoning it.

    *Accuracy.* The loss is ``log1p(sum_{j != y} exp(z_j - z_y))`` in effect,
    so a confident, correct prediction gets a tiny loss with full relative
    accuracy, where ``-log(softmax(z)[y])`` would round it to 0.

    References
    ----------
    .. [1] PyTorch documentation, ``torch.nn.CrossEntropyLoss`` and
       ``torch.nn.functional.cross_entropy``,
       https://pytorch.org/docs/stable/generated/torch.nn.CrossEntropyLoss.html
    .. [2] C. Szegedy, V. Vanhoucke, S. Ioffe, J. Shlens and Z. Wojna,
       "Rethinking the Inception Architecture for Computer Vision", CVPR 2016,
       section 7.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook import softmax_cross_entropy
    >>> logits = np.array([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    >>> softmax_cross_entropy(logits, np.array([0, 2]), reduction="none")
    array([0.16984602, 1.09861229])
    >>> round(float(softmax_cross_entropy(logits, np.array([0, 2]))), 12)
    0.634229154112

    Probability targets, and label smoothing on index targets:

    >>> t = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    >>> round(float(softmax_cross_entropy(logits, t)), 12)
    0.634229154112
    >>> round(float(softmax_cross_entropy(logits, np.array([0, 2]), label_smoothing=0.1)), 12)
    0.717562487446

    A logit gap of 200 gives a loss of ``exp(-200)``, not 0:

    >>> softmax_cross_entropy(np.array([200.0, 0.0]), np.array(0), reduction="sum")
    np.float64(1.3838965267367376e-87)
    """
    return _softmax_cross_entropy(
        logits,
        target,
        weight=weight,
        ignore_index=ignore_index,
        label_smoothing=label_smoothing,
        reduction=reduction,
    ).value


@overflow_is_inf
def _softmax_cross_entropy(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    weight: ArrayLike | None = None,
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
    need_grad: bool = False,
) -> ValueAndGrad:
    z = check_logits(logits, classes=True)
    reduction = v.check_reduction(reduction)
    smoothing = v.check_unit_interval(label_smoothing, "label_smoothing")
    ignore = v.check_ignore_index(ignore_index)
    n_classes = z.shape[-1]
    w = _class_weight(weight, n_classes)
    t = _as_target(target)
    if np.issubdtype(t.dtype, np.integer):
        y, valid = v.check_class_indices(t, z.shape[:-1], n_classes, ignore)
        if w is not None and reduction == "mean":
            # The weighted mean sum(w_y l) / sum(w_y) does not change when w is scaled.
            w = unit_scaled(w)[0]
        if smoothing == 0.0:
            return _index_ce_fused(z, y, valid, w, reduction, need_grad)
        return _index_ce_smoothed(z, y, valid, w, smoothing, reduction, need_grad)
    if t.shape != z.shape:
        raise ValueError(
            f"target is not an integer array, so it holds class probabilities and must have "
            f"the shape of logits {z.shape}; got {t.shape} (pass an integer array for "
            "class indices)"
        )
    if ignore is not None:
        raise ValueError("ignore_index applies to class-index targets only, not probabilities")
    v.check_probabilities(t, "target")
    return _probability_ce(z, t, w, smoothing, reduction, need_grad)


def _as_target(target: ArrayLike) -> NDArray[Any]:
    try:
        t = np.asarray(target)
    except Exception as exc:
        raise TypeError(f"target must be array-like of real numbers: {exc}") from exc
    if np.issubdtype(t.dtype, np.integer):
        return t
    return v.as_float_array(t, "target")


def _class_weight(weight: ArrayLike | None, n_classes: int) -> F64 | None:
    if weight is None:
        return None
    w = v.as_float_array(weight, "weight")
    if w.shape != (n_classes,):
        raise ValueError(
            f"weight must have shape ({n_classes},), one entry per class; got {w.shape}"
        )
    v.check_nonnegative(w, "weight")
    return w.astype(np.float64)


def _row_weight(
    y: NDArray[np.intp], valid: NDArray[np.bool_] | None, w: F64 | None
) -> F64 | None:
    """w[y] with ignored rows at 0, or None when every row counts with weight 1."""
    if w is None and valid is None:
        return None
    row = np.ones(y.shape, np.float64) if w is None else w[y]
    return row if valid is None else np.where(valid, row, 0.0)


def _index_ce_fused(
    z: FloatArray,
    y: NDArray[np.intp],
    valid: NDArray[np.bool_] | None,
    w: F64 | None,
    reduction: str,
    need_grad: bool,
) -> ValueAndGrad:
    n_classes = z.shape[-1]
    z2 = z.reshape(-1, n_classes)
    y1 = y.reshape(-1)
    row_w = _row_weight(y1, None if valid is None else valid.reshape(-1), w)
    count = float(len(y1)) if row_w is None else float(np.sum(row_w))
    scale = None
    out = None
    if need_grad:
        factor = grad_scale(reduction, count)
        scale = np.full(len(y1), factor) if row_w is None else row_w * factor
        if scale.size and scale.max() > np.finfo(v.compute_dtype(z.dtype)).max * _MIN_TOTAL:
            # scale / total (total >= _MIN_TOTAL) would overflow the compute dtype, and
            # 0 * inf give NaN: the gradient for weights that large comes from the
            # float64 path; the value from this one, so that it is the loss's to the bit.
            grad = _index_ce_smoothed(z, y, valid, w, 0.0, reduction, need_grad).grad
            return _index_ce_fused(z, y, valid, w, reduction, False)._replace(grad=grad)
        out = np.empty(z.shape, z.dtype)
    loss = _fused_rows(z2, y1, scale, None if out is None else out.reshape(-1, n_classes))
    if row_w is not None:
        loss = weighted(row_w, loss)
    value = reduce_loss(loss.reshape(z.shape[:-1]), reduction, count)
    return ValueAndGrad(v.cast_result(value, z.dtype), out)


class _RowSums(NamedTuple):
    """Per-row results of the fused pass, for a shift s chosen per block (or per row)."""

    e_y: FloatArray  # exp(z_y - s), compute dtype
    rest: FloatArray  # sum over j != y of exp(z_j - s), compute dtype
    shift: F64  # s


def _fused_rows(
    z2: FloatArray, y: NDArray[np.intp], scale: F64 | None, out: FloatArray | None
) -> F64:
    """Per-row ``-log p_y`` (float64); with `scale`, fill `out` with scale * (p - onehot(y)).

    One pass over `z2` in blocks of rows small enough to stay in L2: exp into
    the output buffer, gather and zero the target entry, row sums by BLAS,
    scale in place, write the target entry. Only (N,) vectors leave the loop.
    """
    n, c = z2.shape
    ct = v.compute_dtype(z2.dtype)
    rows = max(1, _BLOCK_BYTES // (c * ct.itemsize))
    sums = _RowSums(np.empty(n, ct), np.empty(n, ct), np.zeros(n))
    ones = np.ones(c, ct)
    local = (np.arange(n) % rows) * c + y  # flat position of each target in its block
    direct = out is not None and out.dtype == ct
    scratch = None if direct else np.empty((min(rows, n), c), ct)
    high = math.log(float(np.finfo(ct).max)) - math.log(c) - 2.0
    for start in range(0, n, rows):
        part = slice(start, min(start + rows, n))
        block = out[part] if direct else scratch[: part.stop - start]  # type: ignore
        s = _exp_block(z2[part], block, high)
        flat = block.reshape(-1)
        np.take(flat, local[part], out=sums.e_y[part])
        flat[local[part]] = 0
        np.matmul(block, ones, out=sums.rest[part])
        sums.shift[part] = s
        total = sums.rest[part] + sums.e_y[part]
        low = np.flatnonzero(total < _MIN_TOTAL) if total.min() < _MIN_TOTAL else None
        if scale is not None:
            if low is not None:
                total[low] = 1.0  # these rows are redone below; avoid 0/0 meanwhile
            k = (scale[part] / total).astype(ct)
            np.multiply(block, k[:, None], out=block)
            flat[local[part]] = 0.0 - k * sums.rest[part]
        if low is not None:
            _redo_rows(z2, y, start + low, scale, sums, block, low)
        if out is not None and not direct:
            with np.errstate(over="ignore"):
                np.copyto(out[part], block)
    return _row_losses(z2, y, sums)


def _exp_block(zb: FloatArray, block: FloatArray, high: float) -> float:
    """``block <- exp(zb - s)``; return the shift s (0 when exp(zb) is safe)."""
    top = float(zb.max())
    if not (math.isfinite(top) and math.isfinite(float(zb.min()))):
        v.check_finite(zb, "logits")
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
    z2: FloatArray,
    y: NDArray[np.intp],
    idx: NDArray[np.intp],
    scale: F64 | None,
    sums: _RowSums,
    block: FloatArray,
    low: NDArray[np.intp],
) -> None:
    """Redo rows `idx` (rows `low` of `block`), whose exponentials vanished under the
    block's shift, with each row's own maximum as its shift."""
    ct = block.dtype
    zr = z2[idx].astype(ct)
    top = zr.max(axis=1, keepdims=True)
    np.subtract(zr, top, out=zr)
    np.exp(zr, out=zr)
    rows = np.arange(len(idx))
    yr = y[idx]
    sums.e_y[idx] = zr[rows, yr]
    zr[rows, yr] = 0
    sums.rest[idx] = np.sum(zr, axis=1)
    sums.shift[idx] = top[:, 0]
    if scale is not None:
        # The row max contributes exactly 1 to the total, so it cannot vanish.
        k = (scale[idx] / (sums.rest[idx] + sums.e_y[idx])).astype(ct)
        zr *= k[:, None]
        zr[rows, yr] = 0.0 - k * sums.rest[idx]
        block[low] = zr


def _row_losses(z2: FloatArray, y: NDArray[np.intp], sums: _RowSums) -> F64:
    """``-log p_y`` per row from the fused pass's sums.

    ``log1p(rest / e_y)`` keeps a tiny loss accurate; where e_y is subnormal
    the loss exceeds ~80 and ``log(total) + s - z_y`` is accurate instead.
    Rows that were shifted (s != 0) and have p_y > 1/2 are recomputed in
    float64, because the rounding of ``z - s`` would otherwise limit a tiny
    loss's relative accuracy to about ``|z - s|`` ulps (measured: 43 ulps in
    float32 at logits of +-80, against 2 with the recomputation).
    """
    n = len(y)
    e = sums.e_y.astype(np.float64)
    r = sums.rest.astype(np.float64)
    ok = sums.e_y >= np.finfo(sums.e_y.dtype).tiny
    ratio = np.divide(r, e, out=np.full(n, np.inf), where=ok)
    loss = np.log1p(ratio)
    if not ok.all():
        bad = np.flatnonzero(~ok)
        z_y = z2[bad, y[bad]].astype(np.float64)
        loss[bad] = np.log(r[bad] + e[bad]) + (sums.shift[bad] - z_y)
    redo = np.flatnonzero((sums.shift != 0) & (ratio < 1.0))
    if redo.size:
        loss[redo] = _small_losses(z2[redo].astype(np.float64), y[redo])
    return loss


def _small_losses(z: F64, y: NDArray[np.intp]) -> F64:
    """``log1p(sum_{j != y} exp(z_j - z_y))`` for rows with p_y > 1/2, in float64."""
    rows = np.arange(len(y))
    x, error = shifted(z, z[rows, y][:, None])
    e = np.exp(x)
    e += e * error
    e[rows, y] = 0.0
    return np.log1p(np.sum(e, axis=1))


def _index_ce_smoothed(
    z: FloatArray,
    y: NDArray[np.intp],
    valid: NDArray[np.bool_] | None,
    w: F64 | None,
    smoothing: float,
    reduction: str,
    need_grad: bool,
) -> ValueAndGrad:
    n_classes = z.shape[-1]
    z2 = z.reshape(-1, n_classes).astype(np.float64)
    v.check_finite(z2, "logits")
    y1 = y.reshape(-1)
    row_w = _row_weight(y1, None if valid is None else valid.reshape(-1), w)
    count = float(len(y1)) if row_w is None else float(np.sum(row_w))
    rows = np.arange(len(y1))
    # PyTorch: (1 - eps) * weighted NLL + eps / C * sum_c w_c (-log p_c), ignored rows 0.
    on = (1.0 - smoothing) * (np.ones(len(y1)) if row_w is None else row_w)
    off = np.full(len(y1), smoothing / n_classes)
    if valid is not None:
        off *= valid.reshape(-1)
    target = off[:, None] * (np.ones(n_classes) if w is None else w)[None, :]
    target[rows, y1] += on
    return _dense_result(z, z2, target, count, reduction, need_grad)


def _probability_ce(
    z: FloatArray,
    t: FloatArray,
    w: F64 | None,
    smoothing: float,
    reduction: str,
    need_grad: bool,
) -> ValueAndGrad:
    n_classes = z.shape[-1]
    z2 = z.reshape(-1, n_classes).astype(np.float64)
    v.check_finite(z2, "logits")
    target = t.reshape(-1, n_classes).astype(np.float64)
    if smoothing:
        target = target * (1.0 - smoothing) + smoothing / n_classes
    exponent = 0
    if w is not None:
        # sum_c t_c w_c overflows for weights near finfo.max / C; the loss and its
        # gradient are linear in w, so use w / 2**e and multiply by 2**e at the end.
        w, exponent = unit_scaled(w)
        target = target * w
    return _dense_result(z, z2, target, float(z2.shape[0]), reduction, need_grad, exponent)


def _dense_result(
    z: FloatArray,
    z2: F64,
    target: F64,
    count: float,
    reduction: str,
    need_grad: bool,
    exponent: int = 0,
) -> ValueAndGrad:
    """Reduce `dense_ce`; value and gradient are multiplied by ``2**exponent``."""
    loss, grad = dense_ce(softmax_stats(z2), target, need_grad)
    value = reduce_loss(loss.reshape(z.shape[:-1]), reduction, count)
    value = v.cast_result(np.ldexp(value, exponent) if exponent else value, z.dtype)
    if grad is None:
        return ValueAndGrad(value, None)
    grad *= grad_scale(reduction, count)
    if exponent:
        grad = np.ldexp(grad, exponent)
    return ValueAndGrad(value, v.cast_result(grad.reshape(z.shape), z.dtype))


# --- binary cross-entropy ---------------------------------------------------------


def binary_cross_entropy_with_logits(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    weight: ArrayLike | None = None,
    pos_weight: ArrayLike | None = None,
    reduction: str = "mean",
) -> FloatArray:
    r"""Sigmoid (binary) cross-entropy of `logits` against targets in [0, 1].

    .. math:: \ell = -w \bigl[\, p_w \, y \log \sigma(z)
              + (1 - y) \log \sigma(-z) \bigr]

    elementwise, as in PyTorch's ``binary_cross_entropy_with_logits`` [1]_.
    Both terms are non-negative log-sigmoids, so there is no cancellation
    and no overflow for any finite logit.

    Parameters
    ----------
    logits : array_like
        Logits, any shape. Must be finite.
    target : array_like
        Targets with the shape of `logits`, in [0, 1]; soft (fractional)
        targets are allowed.
    weight : array_like, optional
        Rescales each element's loss; broadcasts to the shape of `logits`.
        Finite and non-negative.
    pos_weight : array_like, optional
        Weight :math:`p_w` of the positive term, typically one per class
        with shape ``(C,)``, broadcast over the last axis by NumPy's rules
        (it must broadcast to the shape of `logits`). Finite and
        non-negative. ``pos_weight = n_negative / n_positive`` balances a
        class that is rarely positive.
    reduction : {'mean', 'sum', 'none'}, optional
        'mean' (default) averages over *all elements*, as PyTorch does.

    Returns
    -------
    ndarray or scalar
        The loss, with the dtype of `logits` (float64 for integer logits).

    Raises
    ------
    ValueError
        If `logits` has NaN or an infinity; if `target` has NaN, leaves
        [0, 1] or differs in shape from `logits`; if `weight` or
        `pos_weight` does not broadcast to the shape of `logits` or is
        negative or not finite; or if `reduction` is unknown.
    TypeError
        If an array argument is not real-valued.

    See Also
    --------
    softmax_cross_entropy : Mutually exclusive classes.
    sigmoid_focal_loss : Down-weights well-classified elements.

    Notes
    -----
    With :math:`\log\sigma(z) = \min(z, 0) - \log(1 + e^{-|z|})` this equals
    PyTorch's :math:`(1 - y) z + (1 + (p_w - 1) y) \operatorname{softplus}(-z)`
    but never subtracts two large numbers. 'mean' of an empty array is 0.0
    (PyTorch gives NaN).

    References
    ----------
    .. [1] PyTorch documentation, ``torch.nn.BCEWithLogitsLoss``,
       https://pytorch.org/docs/stable/generated/torch.nn.BCEWithLogitsLoss.html

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook import binary_cross_entropy_with_logits
    >>> z = np.array([[3.0, -1.0], [-40.0, 40.0]])
    >>> y = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> binary_cross_entropy_with_logits(z, y, reduction="none")
    array([[4.85873516e-02, 3.13261688e-01],
           [4.24835426e-18, 4.24835426e-18]])
    >>> binary_cross_entropy_with_logits(z, y, pos_weight=np.array([2.0, 1.0]), reduction="none")
    array([[9.71747031e-02, 3.13261688e-01],
           [4.24835426e-18, 4.24835426e-18]])
    """
    return _binary_cross_entropy_with_logits(
        logits, target, weight=weight, pos_weight=pos_weight, reduction=reduction
    ).value


@overflow_is_inf
def _binary_cross_entropy_with_logits(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    weight: ArrayLike | None = None,
    pos_weight: ArrayLike | None = None,
    reduction: str = "mean",
    need_grad: bool = False,
) -> ValueAndGrad:
    z = check_logits(logits, classes=False)
    reduction = v.check_reduction(reduction)
    y = binary_target(target, z.shape)
    w = elementwise_weight(weight, z.shape, "weight")
    pw = elementwise_weight(pos_weight, z.shape, "pos_weight")
    z64 = z.astype(np.float64)
    v.check_finite(z64, "logits")
    sig_pos, sig_neg, log_pos, log_neg = sigmoid_parts(z64)
    positive = y if pw is None else pw * y
    loss = -(positive * log_pos) - (1.0 - y) * log_neg
    if w is not None:
        loss = weighted(w, loss)
    count = float(z.size)
    value = v.cast_result(reduce_loss(loss, reduction, count), z.dtype)
    if not need_grad:
        return ValueAndGrad(value, None)
    grad = (1.0 - y) * sig_pos - positive * sig_neg
    if w is not None:
        grad *= w
    grad *= grad_scale(reduction, count)
    return ValueAndGrad(value, v.cast_result(grad, z.dtype))


def binary_target(target: ArrayLike, shape: tuple[int, ...]) -> F64:
    """Targets in [0, 1] with exactly the shape of the logits, as float64."""
    y = v.as_float_array(target, "target")
    if y.shape != shape:
        raise ValueError(f"target must have the shape of logits {shape}; got {y.shape}")
    v.check_probabilities(y, "target")
    return y.astype(np.float64)


def elementwise_weight(weight: ArrayLike | None, shape: tuple[int, ...], name: str) -> F64 | None:
    """A finite, non-negative weight broadcast to `shape` (float64), or None."""
    if weight is None:
        return None
    w = v.as_float_array(weight, name)
    w = v.check_broadcasts_to(w, shape, name)
    v.check_nonnegative(w, name)
    return w.astype(np.float64)
