"""Softmax cross-entropy on logits, against class indices or probabilities (private).

The loss never forms ``log(softmax(z))``: it is ``logsumexp(z) - z_y`` in
effect, so every finite logit works in every dtype. The semantics are those
of PyTorch's ``cross_entropy`` with the class axis *last*.

Precision and speed. Class-index targets without label smoothing run the
fused kernel of :mod:`lossbook._fused_ce` in the input's own precision.
Every other path runs the numerics core (:mod:`lossbook._core`) in float64 on
cache-sized blocks of rows, writing each block's gradient straight into the
output in the input's dtype, so no full-size float64 temporary is formed.

Range. With finite inputs nothing warns and nothing is NaN; a loss beyond
the float range is inf. For float64 logits within a small factor of
``finfo.max`` an intermediate (``z_max - z_c``, a sum before the mean's
division) can overflow although a weight below 1 or the mean would bring the
result back into range; the result is then inf instead of a number near
``finfo.max``. Class weights beyond ``2**512`` or below ``2**-512``, whose
sums could overflow, are first scaled by a power of two, which is exact.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossbook import _core
from lossbook import _validation as v
from lossbook._fused_ce import index_ce_fused
from lossbook._loss_common import (
    ValueAndGrad,
    check_logits,
    class_weight,
    grad_scale,
    overflow_is_inf,
    row_result,
    row_weight,
    unit_scaled,
)
from lossbook._typing import F64, BoolArray, FloatArray, FloatResult, IntpArray

__all__ = ["softmax_cross_entropy"]


def softmax_cross_entropy(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    weight: ArrayLike | None = None,
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
) -> FloatResult:
    r"""Softmax cross-entropy of `logits` against class indices or probabilities.

    For one example with logits :math:`z` and an index target :math:`y`,

    .. math::

        \begin{aligned}
        \ell &= -\log \operatorname{softmax}(z)_y = \operatorname{LSE}(z) - z_y\\
             &= \log\Bigl(1 + \sum_{j \ne y} e^{z_j - z_y}\Bigr),
        \end{aligned}

    and for a probability target :math:`t`,
    :math:`\ell = -\sum_c t_c \log \operatorname{softmax}(z)_c`. The values are
    those of PyTorch's ``torch.nn.functional.cross_entropy`` [1]_ with the
    class dimension moved to the last axis.

    Parameters
    ----------
    logits : array_like
        Unnormalised scores, shape ``(..., C)``: classes on the **last** axis.
        ``-inf`` marks a masked class (probability 0, gradient exactly 0), as
        with ``logits.masked_fill(mask, -inf)`` in PyTorch; every other entry
        must be finite.
    target : array_like
        Either class indices with shape ``logits.shape[:-1]`` (an integer
        dtype, or a float dtype holding whole numbers, as for
        :func:`softmax_focal_loss`), or class probabilities with the shape of
        `logits` (a float or bool dtype; entries in [0, 1], rows need not sum
        to 1). The shape decides which.
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
        :math:`\varepsilon \in [0, 1]` (a scalar or a 0-d array): the target
        is mixed with the uniform distribution,
        :math:`(1 - \varepsilon) t + \varepsilon / C` [2]_.
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
        If `logits` contains NaN or ``+inf`` or has no class axis; if a
        counted target's logit is ``-inf``, a probability target has mass on
        a ``-inf`` logit, label smoothing meets a ``-inf`` logit in a counted
        row, or a row is ``-inf`` throughout (the loss would be infinite); if a
        class index is out of range (other than `ignore_index`) or not a
        whole number; if probability targets leave [0, 1] or contain NaN;
        if a shape does not fit (target, weight of length other than C);
        if `weight` is negative or not finite; if `label_smoothing` is
        outside [0, 1]; or if `reduction` is unknown.
    TypeError
        If an argument has the wrong type (complex logits, a bool `target`
        of the indices' shape, a non-integer `ignore_index`, a non-numeric
        `label_smoothing`).

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

    *Masks.* A ``-inf`` logit is a class the model can never choose, as after
    PyTorch's ``logits.masked_fill(mask, float("-inf"))``: its probability
    and its gradient are exactly 0 and the other classes' values are
    PyTorch's. Where the loss would be infinite -- the target class masked,
    a probability target with mass on a masked class, label smoothing (which
    gives every class mass) in a row with a mask, or a row masked
    throughout -- ``ValueError`` says so; PyTorch returns inf or NaN there.

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

    A masked class (``-inf``) has probability 0 and gradient exactly 0:

    >>> masked = np.array([[-np.inf, 0.0, 1.0]])
    >>> round(float(softmax_cross_entropy(masked, np.array([1]))), 12)
    1.313261687518
    >>> from lossbook import grad
    >>> grad(softmax_cross_entropy)(masked, np.array([1]))[0, 0]
    np.float64(0.0)

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
    w = class_weight(weight, n_classes)
    t = v.as_real_array(target, "target")
    if t.dtype.kind in "iu" or (t.dtype.kind == "f" and t.shape == z.shape[:-1]):
        # Integers, or floats of shape logits.shape[:-1] (whole numbers, as for
        # softmax_focal_loss): class indices.
        y, valid = v.check_class_indices(t, z.shape[:-1], n_classes, ignore)
        check_index_masks(z, y, valid, smoothing)
        if w is not None and reduction == "mean":
            # The weighted mean sum(w_y l) / sum(w_y) does not change when w is scaled.
            w = unit_scaled(w)[0]
        if smoothing == 0.0 or z.dtype != np.float64:
            # float64 logits with smoothing stay on the float64 core: W * LSE - w.z
            # would cancel to more than a few ulp there.
            return index_ce_fused(z, y, valid, w, reduction, need_grad, _index_ce_dense, smoothing)
        return _index_ce_dense(z, y, valid, w, smoothing, reduction, need_grad)
    if t.shape != z.shape:
        if t.shape == z.shape[:-1]:
            # A bool array of the indices' shape fails on its dtype, not its shape.
            v.check_index_dtype(t)
        raise ValueError(
            f"target holds class probabilities when it has the shape of logits {z.shape}, "
            f"and class indices when it has the shape logits.shape[:-1] = {z.shape[:-1]}; "
            f"got {t.shape}"
        )
    if ignore is not None:
        raise ValueError("ignore_index applies to class-index targets only, not probabilities")
    v.check_probabilities(t, "target")  # bool targets are probabilities too
    return _probability_ce(z, t, w, smoothing, reduction, need_grad)


def check_index_masks(
    z: FloatArray, y: IntpArray, valid: BoolArray | None, smoothing: float = 0.0
) -> None:
    """``ValueError`` where a -inf (masked) logit would make a counted row's loss infinite.

    The logit of each counted target must not be -inf; with label smoothing
    every class carries target mass, so no counted row may hold -inf at all.
    (NaN, +inf and rows of nothing but -inf are caught block by block.) Costs
    one gather of N logits, and a minimum over `z` only with label smoothing.
    """
    if z.size == 0:
        return
    z_y = np.take_along_axis(z, y[..., None], axis=-1)[..., 0]
    if valid is not None:
        z_y = z_y[valid]
    if np.isneginf(z_y).any():
        v.check_masked_rows(np.max(z, axis=-1), "logits")  # the clearer message, if it fits
        v.check_target_not_masked(z_y, "logits")
    if smoothing and np.min(z) == -np.inf:
        masked = np.isneginf(z).any(axis=-1)
        if valid is not None:
            masked &= valid
        if masked.any():
            raise ValueError(
                "logits has a -inf (masked) entry in a row that counts, and label_smoothing "
                "puts target mass on every class, so the loss would be infinite"
            )


def _dense_ce(parts: _core.RowSoftmax, target: F64, need_grad: bool) -> tuple[F64, F64 | None]:
    """Rows of ``-sum_c t_c log p_c`` and of its gradient ``p * sum(t) - t``, one block.

    `parts` is an unnormalised :func:`lossbook._core.row_softmax` (shifted logits
    ``s = z - max`` and ``exp(s)``): the loss is ``sum(t) log_total + sum_c t_c (-s_c)``,
    two non-negative terms, and the gradient scales ``exp(s)`` by ``sum(t) / (1 + rest)``
    in one pass, so the block is never normalised on its own. `target` is any
    non-negative (B, C) block (weights and smoothing already folded in); it is
    scratch, and its top entries are overwritten. The gradient's top entry is formed
    as ``sum_{c != top} t_c p_top - t_top (1 - p_top)`` so that a confident, correct
    prediction gets a tiny gradient with full relative accuracy.
    """
    shifted = parts.log_p
    loss = np.einsum("ij,ij->i", target, shifted)
    np.negative(loss, out=loss)
    odd = np.flatnonzero(np.isnan(loss))
    if odd.size:
        # s is -inf at masked entries (t = 0 there) and beyond the float range; 0 * inf -> 0.
        t, lp = target[odd], shifted[odd]
        loss[odd] = -np.sum(np.multiply(t, lp, out=np.zeros(t.shape), where=t > 0), axis=1)
    rows = np.arange(target.shape[0])
    t_top = target[rows, parts.top]
    # The other classes' mass summed on its own: sum(t) - t_top cancels (13,000 ulp
    # measured in float64 for t = (1 - 1.8e-5, 1.8e-5)). `target` is a scratch block.
    target[rows, parts.top] = 0.0
    t_rest = np.sum(target, axis=1)
    mass = t_rest + t_top
    loss += mass * parts.log_total
    if not need_grad:
        return loss, None
    grad = parts.p
    grad *= (mass / parts.total)[:, None]
    grad -= target
    grad[rows, parts.top] = t_rest / parts.total - t_top * parts.top_complement
    return loss, grad


def _dense_pass(
    z: FloatArray,
    fill_target: Callable[[slice, F64], None],
    count: float,
    reduction: str,
    need_grad: bool,
    exponent: int = 0,
) -> ValueAndGrad:
    """Blocked softmax cross-entropy against dense targets; results times ``2**exponent``.

    ``fill_target(rows, block)`` writes the float64 targets of `rows` into
    `block`. Each block of logits is widened to float64, run through the
    numerics core, and its gradient rounded straight into the output.
    """
    n_classes = z.shape[-1]
    z2 = z.reshape(-1, n_classes)
    n = z2.shape[0]
    exact = z.dtype != np.float64
    loss = np.empty(n)
    grad = np.empty(z2.shape, z.dtype) if need_grad else None
    factor = grad_scale(reduction, count)
    rows = _core.block_rows(n_classes)

    def blocks(indices: range) -> None:
        work = _core.Workspace(min(rows, n), n_classes)  # one per thread
        for part in _core.row_slices(n, rows, indices):
            block = _core.load_block(z2[part], work)
            tb = work.get("target", part.stop - part.start)
            fill_target(part, tb)
            if block.min() == -np.inf and ((tb != 0) & np.isneginf(block)).any():
                raise ValueError(
                    "target has mass on a class whose logit is -inf (a masked entry), so the "
                    "loss would be infinite"
                )
            parts = _core.row_softmax(block, exact, work, normalize=False)
            loss[part], gb = _dense_ce(parts, tb, need_grad)
            if grad is not None and gb is not None:
                if exponent:
                    gb *= factor
                    grad[part] = np.ldexp(gb, exponent)
                else:
                    np.multiply(gb, factor, out=grad[part], casting="same_kind")

    _core.run_blocks(-(-n // rows), z2.size, blocks)
    if exponent:
        loss = np.ldexp(loss, exponent)
    return row_result(loss, grad, z, reduction, count)


def _index_ce_dense(
    z: FloatArray,
    y: IntpArray,
    valid: BoolArray | None,
    w: F64 | None,
    smoothing: float,
    reduction: str,
    need_grad: bool,
) -> ValueAndGrad:
    """Index targets through the dense path (label smoothing, or extreme weights)."""
    n_classes = z.shape[-1]
    y1 = y.reshape(-1)
    valid1 = None if valid is None else valid.reshape(-1)
    row_w = row_weight(y1, valid1, w)
    count = float(len(y1)) if row_w is None else float(np.sum(row_w))
    # PyTorch: (1 - eps) * weighted NLL + eps / C * sum_c w_c (-log p_c), ignored rows 0.
    on = (1.0 - smoothing) * (np.ones(len(y1)) if row_w is None else row_w)
    off = np.full(len(y1), smoothing / n_classes)
    if valid1 is not None:
        off *= valid1
    class_w = np.ones(n_classes) if w is None else w

    def fill(part: slice, block: F64) -> None:
        np.multiply(off[part, None], class_w[None, :], out=block)
        block[np.arange(block.shape[0]), y1[part]] += on[part]

    return _dense_pass(z, fill, count, reduction, need_grad)


def _probability_ce(
    z: FloatArray,
    t: NDArray[Any],
    w: F64 | None,
    smoothing: float,
    reduction: str,
    need_grad: bool,
) -> ValueAndGrad:
    n_classes = z.shape[-1]
    t2 = t.reshape(-1, n_classes)
    exponent = 0
    if w is not None:
        # sum_c t_c w_c overflows for weights near finfo.max / C; the loss and its
        # gradient are linear in w, so use w / 2**e and multiply by 2**e at the end.
        w, exponent = unit_scaled(w)
    keep = 1.0 - smoothing
    spread = smoothing / n_classes

    def fill(part: slice, block: F64) -> None:
        block[...] = t2[part]
        if smoothing:
            block *= keep
            block += spread
        if w is not None:
            block *= w

    return _dense_pass(z, fill, float(t2.shape[0]), reduction, need_grad, exponent)
