"""Cross-entropy of a linear layer's output, without forming the full logit matrix.

A language model's last layer maps N hidden states (N, H) to logits over a
vocabulary of V classes, ``hidden @ weight.T + bias``. The (N, V) logit matrix
is often the largest array of a training step, and the loss only needs one
number per row from it. :func:`linear_cross_entropy` therefore forms the
logits ``chunk_size`` rows (tokens) at a time, runs lossbook's own fused
softmax cross-entropy kernel on each block (so every option has exactly the
semantics of :func:`lossbook.softmax_cross_entropy`), and turns the block's
gradient with respect to its logits into its contributions to the gradients
with respect to `hidden`, `weight` and `bias` before the next block is formed.

Only the public ``lossbook`` namespace and ``lossbook._validation`` are used,
so this module does not depend on how the losses are implemented.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossbook import _validation as v

__all__ = ["LinearCrossEntropyGrad", "linear_cross_entropy"]

FloatArray = NDArray[np.floating[Any]]

# Bytes of one block of logits. About three such blocks are alive at a time (the
# logits, their gradient and one temporary of the cross-entropy kernel; measured
# with tracemalloc, up to one more with label smoothing), so
# 16 MiB keeps the extra memory near 50 MiB, below 1/8 of the logits of the
# benchmark shapes (4096 x 32000 and 1024 x 128256 in float32, 500 MiB each),
# while giving blocks of 131 and 32 rows. Measured (bench_linear_cross_entropy.py
# --sweep, N=4096, H=512, V=32000, quiet machine): 16, 32, 64, 128, 256 rows took
# 5.7, 3.1, 2.4, 2.1, 2.0 s; 256 rows would exceed the memory target, so 16 MiB
# is the largest block within it.
_CHUNK_BYTES = 16 * 1024 * 1024
# Bytes of the slice of weight's gradient accumulated per matrix product (at most
# half a block). Measured at N=4096, H=512, V=32000 with 2 OpenBLAS threads on the
# shared machine: 2 MiB slices (32 products per block) took 28 s, 16 MiB slices 7-10 s;
# every multithreaded BLAS call pays a synchronisation that a loaded machine makes
# expensive, so fewer, larger products win.
_ACCUMULATE_BYTES = 8 * 1024 * 1024


class LinearCrossEntropyGrad(NamedTuple):
    r"""Gradients of :func:`linear_cross_entropy` with respect to its three arrays.

    Returned by ``lossbook.grad(linear_cross_entropy)`` and as the second item of
    ``lossbook.value_and_grad(linear_cross_entropy)``; unpacks as
    ``d_hidden, d_weight, d_bias = ...``.

    Attributes
    ----------
    hidden : ndarray
        :math:`\partial L / \partial \text{hidden}`, shape and dtype of `hidden`.
    weight : ndarray
        :math:`\partial L / \partial \text{weight}`, shape ``(V, H)``, dtype of `weight`.
    bias : ndarray or None
        :math:`\partial L / \partial \text{bias}`, shape ``(V,)``; None when the loss
        was called without a bias.
    """

    hidden: FloatArray
    weight: FloatArray
    bias: FloatArray | None


class _ValueAndGrads(NamedTuple):
    """The kernel's result: ``(value, grad)`` like every lossbook gradient kernel."""

    value: Any
    grad: LinearCrossEntropyGrad | None


def linear_cross_entropy(
    hidden: ArrayLike,
    weight: ArrayLike,
    target: ArrayLike,
    *,
    bias: ArrayLike | None = None,
    class_weight: ArrayLike | None = None,
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    z_loss: float = 0.0,
    reduction: str = "mean",
    chunk_size: int | None = None,
) -> FloatArray:
    r"""Softmax cross-entropy of ``hidden @ weight.T + bias``, computed in chunks.

    The value equals

    .. code-block:: python

        softmax_cross_entropy(hidden @ weight.T + bias, target, weight=class_weight,
                              ignore_index=ignore_index, label_smoothing=label_smoothing,
                              reduction=reduction)

    plus the z-loss below, but the (N, V) logit matrix is never formed: at
    most `chunk_size` rows of it exist at a time.

    Parameters
    ----------
    hidden : array_like
        Hidden states, shape ``(..., H)`` (usually ``(N, H)``). Finite.
    weight : array_like
        The output layer's weight, shape ``(V, H)``, as in
        ``torch.nn.Linear(H, V)``. Finite.
    target : array_like
        Integer class indices in ``[0, V)``, shape ``hidden.shape[:-1]``.
    bias : array_like, optional
        The output layer's bias, shape ``(V,)``. An entry of ``-inf`` masks
        that class for every row (probability 0, gradient exactly 0), the
        one way to pass a ``-inf`` logit here, since `hidden` and `weight`
        must be finite; a ``-inf`` at a counted target, or everywhere,
        raises ``ValueError``.
    class_weight : array_like, optional
        Per-class weights, shape ``(V,)``, finite and non-negative: the
        `weight` argument of :func:`softmax_cross_entropy`, renamed because
        `weight` is the layer's matrix here, as in ``torch.nn.Linear``.
        (``torch.nn.functional.linear_cross_entropy`` instead calls the
        matrix `linear_weight` and the bias `linear_bias`, and keeps `weight`
        for the class weights.)
    ignore_index : int, optional
        Targets equal to it contribute nothing and are left out of the mean.
    label_smoothing : float, optional
        :math:`\varepsilon \in [0, 1]`, exactly as in
        :func:`softmax_cross_entropy`.
    z_loss : float, optional
        Coefficient :math:`\zeta \ge 0` of the auxiliary term
        :math:`\zeta (\log Z_i)^2` added for every example that is not
        ignored, with :math:`\log Z_i` the log-sum-exp of its logits [1]_.
        PaLM used :math:`10^{-4}`.
    reduction : {'mean', 'sum', 'none'}, optional
        'none' returns one loss per example (shape ``hidden.shape[:-1]``),
        'sum' their sum, 'mean' (default) the cross-entropy divided by the
        sum of the targets' class weights (the number of examples that are
        not ignored, without class weights), as in PyTorch, plus the z-loss
        divided by the number of examples that are not ignored. One
        difference from PyTorch: when nothing counts (every target ignored,
        an empty batch, or target weights summing to 0), 'mean' returns 0.0
        with a zero gradient, where PyTorch returns NaN; see
        :func:`softmax_cross_entropy`.
    chunk_size : int, optional
        Rows (tokens) of logits formed at a time. The default keeps one
        block of logits at most 16 MiB (see Notes). Changes the result only
        by rounding.

    Returns
    -------
    ndarray or scalar
        The loss, with the dtype that ``hidden @ weight.T`` would have
        (float32 for float16 inputs is used internally, and the result is
        rounded back to float16).

    Raises
    ------
    ValueError
        If an array contains NaN or an infinity (other than a ``-inf`` mask
        in `bias` that leaves every counted loss finite), if a shape does not fit
        (each message names the argument), if a target lies outside
        ``[0, V)`` (other than `ignore_index`), if `class_weight` is
        negative, if `label_smoothing` is outside [0, 1], `z_loss` is
        negative, `chunk_size` is not positive, `reduction` is unknown, or if
        the logits themselves overflow.
    TypeError
        If an array is not real-valued, `target` is not an integer array, or
        a scalar option has the wrong type.

    See Also
    --------
    lossbook.softmax_cross_entropy : The same loss on given logits.
    lossbook.value_and_grad : With this function, returns the loss and a
        :class:`LinearCrossEntropyGrad` of the three gradients.

    Notes
    -----
    *Gradients.* ``lossbook.grad(linear_cross_entropy)`` and
    ``lossbook.value_and_grad(linear_cross_entropy)`` return a
    :class:`LinearCrossEntropyGrad` named tuple ``(hidden, weight, bias)``
    instead of one array. All three come from the same block of
    :math:`G = \partial L / \partial \text{logits}`:
    :math:`\partial L/\partial h = G W`, :math:`\partial L/\partial W = G^\top h`
    and :math:`\partial L/\partial b = \sum_i G_i`. Forming the logits and
    :math:`G` is shared, but each of :math:`G W` and :math:`G^\top h` costs one
    more matrix product of the logits' size (:math:`N V H` multiply-adds), so
    the value with its gradients takes about three times the work of the value
    alone, and a caller who needs only :math:`\partial L/\partial h` (a frozen output layer) also
    pays for :math:`\partial L/\partial W`. The named tuple keeps the one
    ``grad`` protocol of lossbook; it unpacks like JAX's tuple of gradients
    (``dh, dW, db = ...``) and names each field.

    *Memory.* Besides the inputs and the gradients, the pass holds about three
    ``(chunk_size, V)`` blocks (the logits, their gradient and one temporary of
    the cross-entropy kernel; label smoothing adds up to one more, and a z-loss
    forms its softmax inside the logits' block) and a slice of the weight
    gradient of at most half a block: :math:`O(\text{chunk} \times V)`, never
    :math:`O(N \times V)`. Each block after the first adds into the whole
    ``(V, H)`` weight gradient, so very small blocks cost many passes over it;
    the default block of 16 MiB keeps the extra memory near 50 MiB, below 1/8
    of the logits whenever the full logits exceed about 450 MiB.

    *float16 inputs* are computed in float32: `hidden` and `weight` are
    copied to float32 (:math:`4 (N + V) H` bytes more), and with the
    gradients these are accumulated in float32 before the final rounding
    (up to another :math:`4 (N + V) H`). At a Llama-3-8B head (:math:`H =
    4096`, :math:`V = 128256`) the :math:`8 V H` part alone is 4.2 GB.
    Measured with tracemalloc at :math:`N = 1024`, :math:`H = 512`,
    :math:`V = 32000`: a peak of 48 MiB above the inputs for float32 (value
    or value and gradients, besides the returned gradients), and for float16
    113 MiB for the value and 190 MiB with the gradients (the returned float16
    gradients, 32 MiB, included), where :math:`4 (N + V) H` is 64.5 MiB.

    *Class weights and 'mean'.* The weighted mean does not change when every
    class weight is multiplied by one number, so for 'mean' the weights are
    first scaled by a power of two (exact) that brings the largest into
    [0.5, 1): weights of 1e-300 or 1e300 then give the same loss and finite
    gradients in float32 and float16, as :func:`softmax_cross_entropy` does. Chunking over
    tokens is the layout of Liger-Kernel's fused linear cross-entropy [2]_;
    Cut Cross-Entropy [3]_ tiles tokens and vocabulary together, inside a GPU
    kernel.

    *z-loss and the mean.* The z-loss is a property of the example, not of
    its class, so it is not multiplied by the class weight, and 'mean'
    divides it by the number of examples that count. Its gradient with
    respect to the logits is :math:`2 \zeta \log Z_i \operatorname{softmax}`;
    the softmax is formed from the block's own log-sum-exp, so one
    exponential pass serves both the value and the gradient of the z-loss.

    References
    ----------
    .. [1] A. Chowdhery et al., "PaLM: Scaling Language Modeling with
       Pathways", arXiv:2204.02311, 2022, section 5.
    .. [2] P.-L. Hsu et al., "Liger Kernel: Efficient Triton Kernels for LLM
       Training", arXiv:2410.10989, 2024.
    .. [3] E. Wijmans, B. Huval, A. Hertzberg, V. Koltun and P. Krähenbühl,
       "Cut Your Losses in Large-Vocabulary Language Models",
       arXiv:2411.09009, 2024.

    Examples
    --------
    >>> import numpy as np
    >>> import lossbook as lb
    >>> rng = np.random.default_rng(0)
    >>> hidden, weight = rng.standard_normal((6, 4)), rng.standard_normal((10, 4))
    >>> target = np.array([1, 3, 5, 7, 9, 0])
    >>> loss = lb.linear_cross_entropy(hidden, weight, target, chunk_size=4)
    >>> bool(np.isclose(loss, lb.softmax_cross_entropy(hidden @ weight.T, target)))
    True
    >>> dh, dw, db = lb.grad(lb.linear_cross_entropy)(hidden, weight, target)
    >>> dh.shape, dw.shape, db is None
    ((6, 4), (10, 4), True)
    """
    value: FloatArray = _linear_cross_entropy(
        hidden,
        weight,
        target,
        bias=bias,
        class_weight=class_weight,
        ignore_index=ignore_index,
        label_smoothing=label_smoothing,
        z_loss=z_loss,
        reduction=reduction,
        chunk_size=chunk_size,
    ).value
    return value


class _Inputs(NamedTuple):
    """Validated inputs, cast to the compute dtype, flattened to 2-D."""

    hidden: FloatArray  # (N, H)
    weight: FloatArray  # (V, H)
    bias: FloatArray | None  # (V,)
    target: NDArray[Any]  # (N,) as given (integer dtype)
    indices: NDArray[np.intp]  # (N,) with ignored entries set to 0
    valid: NDArray[np.bool_] | None  # (N,) rows that count
    class_weight: NDArray[np.float64] | None  # (V,)
    dtypes: tuple[np.dtype[Any], np.dtype[Any], np.dtype[Any] | None]
    result_dtype: np.dtype[Any]
    batch_shape: tuple[int, ...]


def _check_inputs(
    hidden: ArrayLike,
    weight: ArrayLike,
    target: ArrayLike,
    bias: ArrayLike | None,
    class_weight: ArrayLike | None,
    ignore_index: int | None,
    reduction: str,
) -> _Inputs:
    h = v.as_float_array(hidden, "hidden")
    w = v.as_float_array(weight, "weight")
    b = None if bias is None else v.as_float_array(bias, "bias")
    if h.ndim == 0:
        raise ValueError("hidden must have at least one dimension (features on the last axis)")
    if w.ndim != 2:
        raise ValueError(f"weight must have shape (V, H), two dimensions; got shape {w.shape}")
    n_classes, n_features = w.shape
    if n_classes == 0:
        raise ValueError("weight has no rows: the vocabulary (V = weight.shape[0]) is empty")
    if h.shape[-1] != n_features:
        raise ValueError(
            f"hidden has {h.shape[-1]} features on its last axis but weight has "
            f"{n_features} columns; they must match (weight has shape (V, H))"
        )
    if b is not None and b.shape != (n_classes,):
        raise ValueError(f"bias must have shape ({n_classes},), one entry per class; got {b.shape}")
    for array, name in ((h, "hidden"), (w, "weight")):
        v.check_finite(array, name)
    t = _integer_target(target)
    batch_shape = h.shape[:-1]
    indices, valid = v.check_class_indices(t, batch_shape, n_classes, ignore_index)
    if b is not None:
        _check_bias_mask(b, indices, valid)
    cw = None
    if class_weight is not None:
        given = v.as_float_array(class_weight, "class_weight")
        if given.shape != (n_classes,):
            raise ValueError(
                f"class_weight must have shape ({n_classes},), one entry per class; "
                f"got {given.shape}"
            )
        v.check_nonnegative(given, "class_weight")
        cw = given.astype(np.float64)
        if reduction == "mean" and np.max(cw) > 0:
            # The weighted mean does not change when the weights are scaled: bring the
            # largest into [0.5, 1) by a power of two (exact), so that float32 and float16
            # blocks neither underflow (1e-300 gave 0.0) nor overflow (1e300 gave inf).
            cw = np.ldexp(cw, -math.frexp(float(np.max(cw)))[1])
    result_dtype = np.result_type(h.dtype, w.dtype, *([] if b is None else [b.dtype]))
    ct = v.compute_dtype(result_dtype)
    return _Inputs(
        hidden=h.reshape(-1, n_features).astype(ct, copy=False),
        weight=w.astype(ct, copy=False),
        bias=None if b is None else b.astype(ct, copy=False),
        target=t.reshape(-1),
        indices=indices.reshape(-1),
        valid=None if valid is None else valid.reshape(-1),
        class_weight=cw,
        dtypes=(h.dtype, w.dtype, None if b is None else b.dtype),
        result_dtype=result_dtype,
        batch_shape=batch_shape,
    )


def _check_bias_mask(b: FloatArray, indices: NDArray[np.intp], valid: NDArray[Any] | None) -> None:
    """`bias` may be -inf (a class masked for every row); NaN, +inf, or a mask that
    makes a loss infinite raise ``ValueError``."""
    v.check_masked_logits(b, "bias")
    if not np.isneginf(b).any():
        return
    if np.isneginf(b).all():
        raise ValueError("bias is -inf for every class, so every loss would be infinite")
    hit = np.isneginf(b)[indices]
    if valid is not None:
        hit &= valid
    if hit.any():
        raise ValueError(
            "bias is -inf (masked) at a target class, so that example's loss would be infinite"
        )


def _integer_target(target: ArrayLike) -> NDArray[Any]:
    try:
        t = np.asarray(target)
    except Exception as exc:
        raise TypeError(f"target must be array-like of integer class indices: {exc}") from exc
    if not np.issubdtype(t.dtype, np.integer):
        raise TypeError(
            f"target must hold integer class indices (an integer dtype), got dtype {t.dtype}"
        )
    return t


def _check_chunk_size(chunk_size: int | None, n_rows: int, n_classes: int, itemsize: int) -> int:
    if chunk_size is None:
        return max(1, min(n_rows, _CHUNK_BYTES // (n_classes * itemsize)))
    if isinstance(chunk_size, (bool, np.bool_)) or not isinstance(chunk_size, (int, np.integer)):
        raise TypeError(f"chunk_size must be a positive integer or None, got {chunk_size!r}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size}")
    return max(1, min(n_rows, int(chunk_size)))


def _denominators(inputs: _Inputs) -> tuple[float, float]:
    """'mean' divisors: the sum of the targets' class weights, and the number of rows
    that count (both over the rows that are not ignored)."""
    valid = inputs.valid
    n_counted = float(inputs.indices.size if valid is None else np.count_nonzero(valid))
    if inputs.class_weight is None:
        return n_counted, n_counted
    row_weight = inputs.class_weight[inputs.indices]
    if valid is not None:
        row_weight = np.where(valid, row_weight, 0.0)
    return float(np.sum(row_weight)), n_counted


def _linear_cross_entropy(
    hidden: ArrayLike,
    weight: ArrayLike,
    target: ArrayLike,
    *,
    bias: ArrayLike | None = None,
    class_weight: ArrayLike | None = None,
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    z_loss: float = 0.0,
    reduction: str = "mean",
    chunk_size: int | None = None,
    need_grad: bool = False,
) -> _ValueAndGrads:
    """The loss and, with `need_grad`, its three gradients, from one chunked pass.

    The kernel registered for :func:`lossbook.grad` and
    :func:`lossbook.value_and_grad`: the loss's own arguments plus
    `need_grad`, returning ``(value, grad)``.
    """
    import lossbook as lb  # the public namespace only, at call time

    reduction = v.check_reduction(reduction)
    ignore = v.check_ignore_index(ignore_index)
    smoothing = v.check_unit_interval(label_smoothing, "label_smoothing")
    zeta = v.check_real_scalar(z_loss, "z_loss")
    if zeta < 0:
        raise ValueError(f"z_loss must be non-negative, got {z_loss!r}")
    x = _check_inputs(hidden, weight, target, bias, class_weight, ignore, reduction)
    any_counted = x.valid is None or bool(x.valid.any())
    if smoothing and any_counted and x.bias is not None and np.isneginf(x.bias).any():
        raise ValueError(
            "bias has a -inf (masked) entry and label_smoothing puts target mass on "
            "every class, so the loss would be infinite"
        )
    n_rows = x.hidden.shape[0]
    n_classes, n_features = x.weight.shape
    ct = x.hidden.dtype
    rows = _check_chunk_size(chunk_size, n_rows, n_classes, ct.itemsize)
    ce_denominator, z_denominator = _denominators(x)
    if reduction == "mean":
        ce_scale = 1.0 / ce_denominator if ce_denominator > 0 else 0.0
        z_scale = 1.0 / z_denominator if z_denominator > 0 else 0.0
    else:
        ce_scale = z_scale = 1.0

    ce_value_and_grad = lb.value_and_grad(lb.softmax_cross_entropy)
    per_row = np.zeros(n_rows, np.float64)
    z_per_row = np.zeros(n_rows, np.float64) if zeta else None
    if need_grad:
        d_hidden = np.empty_like(x.hidden)
        d_weight = np.zeros_like(x.weight)
        d_bias = None if x.bias is None else np.zeros(n_classes, np.float64)
    logits = np.empty((rows, n_classes), ct)
    weight_t = x.weight.T
    for start in range(0, n_rows, rows):
        stop = min(start + rows, n_rows)
        block = logits[: stop - start]
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported below
            np.matmul(x.hidden[start:stop], weight_t, out=block)
            if x.bias is not None:
                block += x.bias
        y = x.target[start:stop]
        try:
            losses, g = ce_value_and_grad(
                block,
                y,
                weight=x.class_weight,
                ignore_index=ignore,
                label_smoothing=smoothing,
                reduction="none",
            )
        except ValueError as exc:  # the inputs are valid, so only the logits can be at fault
            raise ValueError(
                f"the logits hidden @ weight.T + bias overflow {ct} in rows "
                f"{start}..{stop - 1}: {exc}"
            ) from exc
        per_row[start:stop] = losses
        if need_grad and ce_scale != 1.0:
            g *= ce_scale
        if z_per_row is not None:
            counted = None if x.valid is None else x.valid[start:stop]
            z_per_row[start:stop] = _z_loss_rows(
                block, counted, zeta, z_scale, g if need_grad else None
            )
        if not need_grad:
            continue
        np.matmul(g, x.weight, out=d_hidden[start:stop])
        _accumulate_weight_grad(d_weight, g, x.hidden[start:stop], first=start == 0)
        if d_bias is not None:
            d_bias += np.sum(g, axis=0, dtype=np.float64)

    value = _reduce(per_row, z_per_row, reduction, ce_denominator, z_denominator, x.batch_shape)
    value = v.cast_result(value, x.result_dtype)
    if not need_grad:
        return _ValueAndGrads(value, None)
    h_dtype, w_dtype, b_dtype = x.dtypes
    grads = LinearCrossEntropyGrad(
        hidden=v.cast_array(d_hidden.reshape(*x.batch_shape, n_features), h_dtype),
        weight=v.cast_array(d_weight, w_dtype),
        bias=None if d_bias is None or b_dtype is None else v.cast_array(d_bias, b_dtype),
    )
    return _ValueAndGrads(value, grads)


def _z_loss_rows(
    block: FloatArray,
    counted: NDArray[np.bool_] | None,
    zeta: float,
    scale: float,
    g: FloatArray | None,
) -> NDArray[np.float64]:
    """Rows of ``zeta * lse**2`` (0 where not counted); with `g`, add their gradient to it.

    Overwrites `block` (the logits, no longer needed) with the softmax, so the
    one exponential pass gives both log Z and the softmax that the gradient
    ``2 zeta lse softmax`` needs.
    """
    top = np.max(block, axis=1, keepdims=True)
    np.subtract(block, top, out=block)
    np.exp(block, out=block)
    total = np.sum(block, axis=1)
    lse = top[:, 0].astype(np.float64) + np.log(total.astype(np.float64))
    if counted is not None:
        lse = np.where(counted, lse, 0.0)
    if g is not None:
        coef = (2.0 * zeta * scale) * lse / total
        np.multiply(block, coef.astype(block.dtype)[:, None], out=block)
        g += block
    rows: NDArray[np.float64] = zeta * lse**2
    return rows


def _accumulate_weight_grad(
    d_weight: FloatArray, g: FloatArray, hidden: FloatArray, *, first: bool
) -> None:
    """``d_weight += g.T @ hidden`` without a (V, H) temporary.

    The first block writes straight into `d_weight`. Later blocks go a slice
    of vocabulary rows at a time through a small buffer that stays in cache,
    so each pass over `d_weight` reads and writes it once, as a BLAS
    ``beta=1`` product would. The buffer is at most half the size of `g`.
    """
    if first:
        np.matmul(g.T, hidden, out=d_weight)
        return
    n_classes, n_features = d_weight.shape
    budget = min(_ACCUMULATE_BYTES, g.nbytes // 2)
    rows = max(1, min(n_classes, budget // (n_features * d_weight.itemsize)))
    buffer = np.empty((rows, n_features), d_weight.dtype)
    for start in range(0, n_classes, rows):
        stop = min(start + rows, n_classes)
        part = buffer[: stop - start]
        np.matmul(g[:, start:stop].T, hidden, out=part)
        d_weight[start:stop] += part


def _reduce(
    per_row: NDArray[np.float64],
    z_per_row: NDArray[np.float64] | None,
    reduction: str,
    ce_denominator: float,
    z_denominator: float,
    batch_shape: tuple[int, ...],
) -> Any:
    """Combine the per-row losses as `reduction` says; an empty mean is 0.0."""
    if reduction == "none":
        total = per_row if z_per_row is None else per_row + z_per_row
        return total.reshape(batch_shape)
    value = float(np.sum(per_row))
    z_value = 0.0 if z_per_row is None else float(np.sum(z_per_row))
    if reduction == "sum":
        return value + z_value
    ce_mean = value / ce_denominator if ce_denominator > 0 else 0.0
    return ce_mean + (z_value / z_denominator if z_denominator > 0 else 0.0)
