"""Plumbing shared by every loss: checks, reductions, the kernel protocol (private)."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossbook import _validation as v
from lossbook._core import CHUNK_ELEMENTS, Scratch, run_blocks
from lossbook._typing import F64, BoolArray, FloatArray, FloatResult, IntpArray

__all__: list[str] = []


class ValueAndGrad(NamedTuple):
    """A loss value and its gradient with respect to the logits (None if not asked)."""

    value: FloatResult
    grad: FloatArray | None


def check_logits(logits: ArrayLike, classes: bool, name: str = "logits") -> FloatArray:
    """`logits` as a float array; with `classes`, it needs a non-empty last axis."""
    z = v.as_float_array(logits, name)
    if classes:
        if z.ndim == 0:
            raise ValueError(f"{name} must have at least one dimension (classes on the last axis)")
        if z.shape[-1] == 0:
            raise ValueError(f"{name} is empty along the class axis (the last axis)")
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


def row_result(
    loss: F64, grad: FloatArray | None, z: FloatArray, reduction: str, count: float
) -> ValueAndGrad:
    """The result of a loss over the last axis of `z`: the flat per-row `loss` reduced and
    cast to `z`'s dtype, and the flat-row `grad` back in `z`'s shape."""
    value = v.cast_result(reduce_loss(loss.reshape(z.shape[:-1]), reduction, count), z.dtype)
    return ValueAndGrad(value, None if grad is None else grad.reshape(z.shape))


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


def class_weight(weight: ArrayLike | None, n_classes: int) -> F64 | None:
    """Per-class weights of shape (C,), finite and non-negative, as float64; or None."""
    if weight is None:
        return None
    w = v.as_float_array(weight, "weight")
    if w.shape != (n_classes,):
        raise ValueError(
            f"weight must have shape ({n_classes},), one entry per class; got {w.shape}"
        )
    v.check_nonnegative(w, "weight")
    return w.astype(np.float64)


def row_weight(y: IntpArray, valid: BoolArray | None, w: F64 | None) -> F64 | None:
    """w[y] with ignored rows at 0, or None when every row counts with weight 1."""
    if w is None and valid is None:
        return None
    row = np.ones(y.shape, np.float64) if w is None else w[y]
    return row if valid is None else np.where(valid, row, 0.0)


def binary_target(target: ArrayLike, shape: tuple[int, ...]) -> NDArray[Any]:
    """Targets in [0, 1] with exactly the shape of the logits (any real dtype, not copied)."""
    y = v.as_real_array(target, "target")
    if y.shape != shape:
        raise ValueError(f"target must have the shape of logits {shape}; got {y.shape}")
    v.check_probabilities(y, "target")
    return y


def elementwise_weight(
    weight: ArrayLike | None, shape: tuple[int, ...], name: str
) -> NDArray[Any] | None:
    """A finite, non-negative weight that broadcasts to `shape` (not copied), or None."""
    if weight is None:
        return None
    w = v.as_real_array(weight, name)
    v.check_broadcasts_to(w, shape, name)
    v.check_nonnegative(w, name)
    return w


ElementKernel = Callable[..., tuple[F64, F64 | None]]
# Elements per block of the elementwise passes: the unit of work of a thread, and of
# the sum of the losses (one partial sum per block, added in order), so that the
# result does not depend on the thread count.
_ELEMENTWISE_BLOCK = 1 << 16
# Elements per block of the direct (iterator-free) elementwise path, whose float64
# scratch arrays are reused from block to block. Larger blocks spend less time in
# Python between ufunc calls (which also holds the GIL the other threads wait for):
# the binary loss's CPU time per call measured 129, 97 and 88 ms at 8192, 16384 and
# 32768 elements (float32 8192 x 1000, one thread), and with the shorter kernel of
# z k + m log1p(exp(-|z|)) 73-77, 64-67 and 81 ms at 32768, 65536 and 131072.
_DIRECT_ELEMENTS = 65536


def elementwise_pass(
    z: FloatArray,
    operands: list[NDArray[Any] | None],
    kernel: ElementKernel,
    reduction: str,
    need_grad: bool,
) -> ValueAndGrad:
    """Run an elementwise loss kernel over `z` in cache-sized float64 chunks.

    ``kernel(z, *operands, need_grad=..., scratch=...)`` receives 1-d float64
    chunks of `z` and of each operand (None stays None; operands are
    broadcast to the shape of `z` by the iterator, without copies) and
    returns the chunk's losses and, if asked, its gradient before the
    reduction's scale; it may keep its temporaries, and its results, in the
    arrays of `scratch` (a :class:`lossbook._core.Scratch`, one per thread). Losses and
    gradients are rounded straight into outputs of `z`'s dtype, so no
    full-size float64 temporary is formed. The chunks are grouped into blocks
    of rows along the first axis (their boundaries set by the shape alone)
    that run on the numerics core's threads.
    """
    present = [op for op in operands if op is not None]
    count = float(z.size)
    per_item = np.empty(z.shape, z.dtype) if reduction == "none" else None
    grad = np.empty(z.shape, z.dtype) if need_grad else None
    factor = grad_scale(reduction, count)
    inner = max(1, z.size // z.shape[0]) if z.ndim and z.shape[0] else 1
    if z.ndim and inner <= _DIRECT_ELEMENTS:
        # Blocks of whole rows of about one chunk, copied into float64 scratch arrays:
        # no iterator, whose buffering measured 3 ns per element (a quarter of the
        # binary loss), and the kernel sees (rows, ...) blocks.
        rows = max(1, _DIRECT_ELEMENTS // inner)
        n_blocks = -(-z.shape[0] // rows) if z.size else 0  # no empty blocks to reduce
        full = [np.broadcast_to(op, z.shape) for op in present]

        def direct(blocks: range) -> None:
            scratch = Scratch()
            for index in blocks:
                part = slice(index * rows, (index + 1) * rows)
                zc = scratch.get("pass_z", z[part])
                np.copyto(zc, z[part])
                if not (np.isfinite(zc.max()) and np.isfinite(zc.min())):
                    v.check_finite(zc, "logits")
                inputs = iter(full)
                args: list[F64 | None] = []
                for k, op in enumerate(operands):
                    if op is None:
                        args.append(None)
                        continue
                    buffer = scratch.get(f"pass_op{k}", zc)
                    np.copyto(buffer, next(inputs)[part])
                    args.append(buffer)
                loss, g = kernel(zc, *args, need_grad=need_grad, scratch=scratch)
                if per_item is not None:
                    per_item[part] = loss
                else:
                    totals[index] = np.sum(loss)
                if grad is not None and g is not None:
                    np.multiply(g, factor, out=grad[part], casting="same_kind")

        totals = np.zeros(n_blocks)
        run_blocks(n_blocks, z.size, direct)
        return _finish_elementwise(z, per_item, grad, totals, reduction)
    if z.ndim:
        rows = max(1, _ELEMENTWISE_BLOCK // inner)
        n_blocks = -(-z.shape[0] // rows)
        full = [np.broadcast_to(op, z.shape) for op in present]
    else:
        rows, n_blocks, full = 1, 1, present
    totals = np.zeros(n_blocks)

    def work(blocks: range) -> None:
        scratch = Scratch()
        for index in blocks:
            part: Any = slice(index * rows, (index + 1) * rows) if z.ndim else ...
            outputs = [a[part] for a in (per_item, grad) if a is not None]
            arrays = [z[part], *(op[part] for op in full), *outputs]
            reading: list[list[Literal["readonly", "writeonly"]]] = [["readonly"]]
            writing: list[list[Literal["readonly", "writeonly"]]] = [["writeonly"]]
            flags = reading * (1 + len(present)) + writing * len(outputs)
            total = 0.0
            iterator = np.nditer(
                arrays,
                flags=["external_loop", "buffered", "zerosize_ok"],  # no grow_inner
                op_flags=flags,
                op_dtypes=[np.float64] * len(arrays),
                casting="same_kind",
                buffersize=CHUNK_ELEMENTS,
            )
            with iterator:
                for chunks in iterator:
                    zc = chunks[0]
                    if not (np.isfinite(zc.max()) and np.isfinite(zc.min())):
                        v.check_finite(zc, "logits")
                    inputs = iter(chunks[1 : 1 + len(present)])
                    args = [None if op is None else next(inputs) for op in operands]
                    loss, g = kernel(zc, *args, need_grad=need_grad, scratch=scratch)
                    out = iter(chunks[1 + len(present) :])
                    if per_item is not None:
                        next(out)[...] = loss
                    else:
                        total += float(np.sum(loss))
                    if grad is not None and g is not None:
                        g *= factor
                        next(out)[...] = g
            totals[index] = total

    run_blocks(n_blocks, z.size, work)
    return _finish_elementwise(z, per_item, grad, totals, reduction)


def _finish_elementwise(
    z: FloatArray,
    per_item: FloatArray | None,
    grad: FloatArray | None,
    totals: F64,
    reduction: str,
) -> ValueAndGrad:
    """The value of an elementwise pass from its per-item losses or per-block sums."""
    if per_item is not None:
        return ValueAndGrad(v.cast_result(per_item, z.dtype), grad)
    total = float(np.sum(totals))
    count = float(z.size)
    value = total / count if reduction == "mean" and count else total
    return ValueAndGrad(v.cast_result(value, z.dtype), grad)
