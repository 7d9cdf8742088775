"""Stable functions of logits: log-sum-exp, softmax, log-softmax, sigmoid (private).

Every function here is safe for every finite input in float16, float32 and
float64: no overflow warning, and no NaN where the true result is finite. The
softmax family takes its numbers from the core (:mod:`lossbook._core`), which
the losses share: shift by the largest logit so that the largest exponential
is exactly 1, recover the rounding error of the shift, and keep the *other*
terms apart so that ``log1p`` can recover tiny corrections that
``log(1 + small)`` would round away.

Everything is computed in float64, block by block, and rounded once to the
dtype of the input (integers and booleans give float64).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from lossbook import _core
from lossbook import _validation as v
from lossbook._typing import F64, FloatArray, FloatResult

__all__ = [
    "log_sigmoid",
    "log_softmax",
    "logsumexp",
    "sigmoid",
    "softmax",
    "softmax_jacobian",
]


def _rows(work: FloatArray, axes: tuple[int, ...]) -> tuple[FloatArray, tuple[int, ...]]:
    """`work` with `axes` moved last and flattened: (N, C), and the shape of the N part."""
    k = len(axes)
    moved = np.moveaxis(work, axes, tuple(range(work.ndim - k, work.ndim)))
    lead = moved.shape[: work.ndim - k]
    # Not reshape(..., -1): with no rows (a 0 in `lead`) the row length is ambiguous.
    return moved.reshape(math.prod(lead), math.prod(moved.shape[work.ndim - k :])), lead


def _check_row_maxima(top: F64, name: str, defined_for_inf: bool) -> None:
    """Raise for NaN; for softmax (not logsumexp) also for +inf or an all -inf slice."""
    if np.isnan(top).any():
        raise ValueError(f"{name} contains NaN")
    if defined_for_inf:
        return
    if np.isposinf(top).any():
        raise ValueError(
            f"{name} contains +inf; softmax is undefined there (scipy.special.softmax returns NaN)"
        )
    if np.isneginf(top).any():
        raise ValueError(
            f"{name} has a slice whose entries are all -inf; softmax is undefined there "
            "(scipy.special.softmax returns NaN)"
        )


def _map_rows(z: ArrayLike, axis: int, compute: Callable[[_core.RowSoftmax], F64]) -> FloatArray:
    """Apply `compute` to the row softmax of every slice of `z` along `axis`."""
    work = v.as_float_array(z, "z")
    if work.ndim == 0:
        # A single logit is a distribution over one class, as in SciPy and PyTorch.
        v.check_axis(axis, 1, "axis")
        one = _map_rows(work.reshape(1), axis, compute)
        return one.reshape(())
    axis = v.check_axis(axis, work.ndim, "axis")
    if work.shape[axis] == 0:
        raise ValueError(f"z is empty along axis {axis}")
    z2, lead = _rows(work, (axis,))
    out = np.empty(z2.shape, work.dtype)
    exact = work.dtype != np.float64
    rows = _core.block_rows(z2.shape[1])
    space = _core.Workspace(min(rows, z2.shape[0]), z2.shape[1])
    for part in _core.row_slices(z2.shape[0], rows):
        block = space.get("z", part.stop - part.start)
        np.copyto(block, z2[part])
        _check_row_maxima(np.max(block, axis=1), "z", defined_for_inf=False)
        with np.errstate(over="ignore"):  # a float16 result beyond 65504 is inf
            out[part] = compute(_core.row_softmax(block, exact, space))
    return np.moveaxis(out.reshape(*lead, z2.shape[1]), -1, axis)


def _normalize_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, tuple):
        axes = tuple(v.check_axis(a, ndim, "axis") for a in axis)
        if len(set(axes)) != len(axes):
            raise ValueError(f"axis={axis} repeats an axis")
        return axes
    return (v.check_axis(axis, ndim, "axis"),)


def _lse_rows(block: F64, exact: bool) -> tuple[F64, F64]:
    """log-sum-exp of each row of `block` and its sign (1, or 0 for an all -inf row)."""
    top = np.max(block, axis=1)
    _check_row_maxima(top, "z", defined_for_inf=True)
    bad = ~np.isfinite(top)
    if bad.any():
        block[bad] = 0.0
    parts = _core.row_softmax(block, exact)
    result = parts.top_value + parts.log_total
    result[bad] = top[bad]
    sign = np.where(np.isneginf(result), 0.0, 1.0)
    return result, sign


def _weighted_lse_rows(block: F64, weights: F64, exact: bool) -> tuple[F64, F64]:
    """log|sum(b exp(z))| of each row and the sum's sign, keeping the top term apart."""
    block[weights == 0] = -np.inf
    top = np.max(block, axis=1)
    _check_row_maxima(top, "z", defined_for_inf=True)
    # A row with +inf logits: the sum is +inf or -inf by the signs of their weights.
    inf_rows = np.flatnonzero(np.isposinf(top))
    inf_weights = np.where(np.isposinf(block[inf_rows]), weights[inf_rows], 0.0)
    inf_positive = (inf_weights > 0).any(axis=1)
    if (inf_positive & (inf_weights < 0).any(axis=1)).any():
        raise ValueError(
            "z has +inf entries whose weights b have both signs in one slice, so "
            "sum(b * exp(z)) is inf - inf, which is undefined"
        )
    bad = ~np.isfinite(top)
    if bad.any():
        block[bad] = 0.0
    rows = np.arange(block.shape[0])
    k = np.argmax(block, axis=1)
    shift = block[rows, k][:, None]
    with np.errstate(over="ignore", invalid="ignore"):
        x = block - shift
    e = np.exp(x)
    if not exact:
        e += e * _core.shift_error(block, shift, x)
    e *= weights
    b_top = weights[rows, k]
    e[rows, k] = 0.0
    rest = np.sum(e, axis=1)
    # Both branches of each np.where are evaluated; rows `bad` (b_top may be 0 there)
    # and the branch not taken may divide 0 by 0 or overflow, and are discarded.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = rest / b_top
        apart = ratio > -1.0
        log_abs = np.where(
            apart,
            np.log(np.abs(b_top)) + np.log1p(np.maximum(ratio, -1.0)),
            np.log(np.abs(b_top + rest)),
        )
        sign = np.where(apart, np.sign(b_top), np.sign(b_top + rest))
        result = top + log_abs
    result[bad] = top[bad]
    sign[bad] = 0.0
    sign[inf_rows] = np.where(inf_positive, 1.0, -1.0)
    return result, sign


def logsumexp(
    z: ArrayLike,
    axis: int | tuple[int, ...] | None = -1,
    b: ArrayLike | None = None,
    keepdims: bool = False,
    return_sign: bool = False,
) -> Any:
    r"""Compute ``log(sum(b * exp(z)))`` along `axis` without overflow.

    .. math::

        \begin{aligned}
        \operatorname{LSE}(z) &= m + \log\Bigl(1 + \sum_{j \ne k} e^{z_j - m}\Bigr),\\
        m &= z_k = \max_j z_j
        \end{aligned}

    Parameters
    ----------
    z : array_like
        Logits. Any shape; reduced along `axis`.
    axis : int or tuple of int or None, optional
        Axis or axes to reduce; None reduces over all of them. Default is
        the last axis (:func:`scipy.special.logsumexp` defaults to None).
    b : array_like, optional
        Weights of the exponentials, broadcast against `z`, as in SciPy:
        ``log(sum(b * exp(z)))``. Entries may be negative (see
        `return_sign`); where ``b == 0`` the term is left out even when
        ``z`` is infinite.
    keepdims : bool, optional
        If True, the reduced axes are kept with length 1, so the result
        broadcasts against `z`.
    return_sign : bool, optional
        If True, return ``(log(abs(s)), sign(s))`` for the weighted sum
        ``s``, as SciPy does; the sign is 0 where the sum is 0.

    Returns
    -------
    ndarray or tuple of ndarray
        The log-sum-exp, with the dtype ``np.result_type(z, b)`` (that of
        `z` without `b`; float64 for integer input), as in SciPy, and with
        `return_sign` its sign. `axis` refers to the shape of `z` and `b`
        broadcast together. As in
        :func:`scipy.special.logsumexp`, a slice containing ``+inf`` gives
        ``+inf`` and a slice of all ``-inf`` gives ``-inf``. Without
        `return_sign`, a negative weighted sum raises ``ValueError``
        (SciPy returns NaN).

    Raises
    ------
    ValueError
        If `z` or `b` contains NaN, `z` is empty along `axis`, `axis` is out
        of range or repeated, `b` does not broadcast against `z`, or the
        weighted sum is negative and `return_sign` is False, or a slice has
        ``+inf`` entries of `z` with weights of both signs (``inf - inf``).
    TypeError
        If `z` or `b` is not real-valued, or `axis` is not an integer, a
        tuple of integers or None.

    See Also
    --------
    log_softmax : ``z - logsumexp(z, keepdims=True)``, computed stably.
    scipy.special.logsumexp : The SciPy equivalent.

    Notes
    -----
    Subtracting the maximum makes the largest exponential exactly 1, so the
    sum cannot overflow and is at least 1, so its logarithm is safe. Keeping
    that 1 apart and applying ``log1p`` to the remaining sum keeps full
    relative accuracy even when one logit dominates [1]_. The rounding error
    of each ``z - m`` is recovered and folded back in, so a large gap costs
    no accuracy either.

    References
    ----------
    .. [1] P. Blanchard, D. J. Higham and N. J. Higham, "Accurately computing
       the log-sum-exp and softmax functions", IMA Journal of Numerical
       Analysis 41(4), 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook import logsumexp
    >>> logsumexp([1000.0, 1000.0])  # np.log(np.sum(np.exp(...))) overflows
    np.float64(1000.6931471805599)
    >>> logsumexp(np.zeros((2, 4), dtype=np.float32), axis=1)
    array([1.3862944, 1.3862944], dtype=float32)
    >>> logsumexp([0.0, 0.0], b=[1.0, -3.0], return_sign=True)
    (np.float64(0.6931471805599453), np.float64(-1.0))
    """
    work = v.as_float_array(z, "z")
    result_dtype = work.dtype
    b_arr = None
    if b is not None:
        b_given = v.as_real_array(b, "b")
        # np.result_type of z and b, as SciPy (bool b keeps float16; int b gives float64)
        result_dtype = np.result_type(work.dtype, b_given.dtype)
        if result_dtype == np.longdouble and np.longdouble != np.float64:
            result_dtype = np.dtype(np.float64)  # as as_float_array does for z
        b_arr = v.as_float_array(b_given, "b")
        v.check_no_nan(b_arr, "b")
        try:
            work, b_arr = np.broadcast_arrays(work, b_arr)
        except ValueError:
            raise ValueError(
                f"b with shape {b_arr.shape} does not broadcast against z with shape {work.shape}"
            ) from None
    # The axes refer to the broadcast shape (b may have more dimensions than z), as in SciPy.
    axes = _normalize_axes(axis, work.ndim)
    weights = None if b_arr is None else _rows(b_arr, axes)[0]
    z2, lead = _rows(work, axes)
    if z2.shape[1] == 0:
        raise ValueError(f"z is empty along axis {axis}")
    exact = work.dtype != np.float64
    result = np.empty(z2.shape[0])
    sign = np.empty(z2.shape[0])
    for part in _core.row_slices(z2.shape[0], _core.block_rows(z2.shape[1])):
        block = z2[part].astype(np.float64)
        if weights is None:
            result[part], sign[part] = _lse_rows(block, exact)
        else:
            wb = weights[part].astype(np.float64)
            result[part], sign[part] = _weighted_lse_rows(block, wb, exact)
    if not return_sign and (sign < 0).any():
        raise ValueError(
            "the weighted sum sum(b * exp(z)) is negative in some slice, so its logarithm "
            "is not real; pass return_sign=True"
        )
    shape = tuple(1 if i in axes else n for i, n in enumerate(work.shape)) if keepdims else lead
    value = v.cast_result(result.reshape(shape), result_dtype)
    if return_sign:
        return value, v.cast_result(sign.reshape(shape), result_dtype)
    return value


def softmax(z: ArrayLike, axis: int = -1) -> FloatArray:
    r"""Compute the softmax ``exp(z) / sum(exp(z))`` along `axis`, stably.

    .. math:: \operatorname{softmax}(z)_i = \frac{e^{z_i - m}}{\sum_j e^{z_j - m}},
              \quad m = \max_j z_j

    Parameters
    ----------
    z : array_like
        Logits. Any shape; normalised along `axis`.
    axis : int, optional
        Axis along which the result sums to 1. Default is the last axis.

    Returns
    -------
    ndarray
        Probabilities with the shape and dtype of `z` (float64 for integer
        input). ``-inf`` logits get probability exactly 0.

    Raises
    ------
    ValueError
        If `z` contains NaN or ``+inf``, if a slice is all ``-inf`` (where
        :func:`scipy.special.softmax` silently returns NaN), or if it is empty.
    TypeError
        If `z` is not real-valued.

    See Also
    --------
    log_softmax, logsumexp, scipy.special.softmax

    Notes
    -----
    Softmax is unchanged by adding a constant to every logit; subtracting the
    maximum uses that freedom so that no exponential exceeds 1 [1]_.

    References
    ----------
    .. [1] I. Goodfellow, Y. Bengio and A. Courville, *Deep Learning*,
       MIT Press, 2016, section 4.1.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook import softmax
    >>> softmax([1.0, 2.0, 3.0])
    array([0.09003057, 0.24472847, 0.66524096])
    >>> softmax(np.array([1000.0, 0.0], dtype=np.float32))  # naive exp overflows
    array([1., 0.], dtype=float32)
    """
    return _map_rows(z, axis, lambda parts: parts.p)


def log_softmax(z: ArrayLike, axis: int = -1) -> FloatArray:
    r"""Compute ``log(softmax(z))`` along `axis` without forming the softmax.

    .. math:: \log \operatorname{softmax}(z)_i = z_i - \operatorname{LSE}(z)

    Parameters
    ----------
    z : array_like
        Logits. Any shape.
    axis : int, optional
        Axis of the distribution. Default is the last axis.

    Returns
    -------
    ndarray
        Log-probabilities with the shape and dtype of `z`. Finite wherever
        the logit is finite, even where ``softmax`` underflows to 0.

    Raises
    ------
    ValueError
        Under the same conditions as :func:`softmax`.
    TypeError
        If `z` is not real-valued.

    See Also
    --------
    softmax, logsumexp, scipy.special.log_softmax

    Notes
    -----
    ``np.log(softmax(z))`` returns ``-inf`` once a probability underflows;
    ``z - logsumexp(z)`` does not [1]_.

    References
    ----------
    .. [1] P. Blanchard, D. J. Higham and N. J. Higham, "Accurately computing
       the log-sum-exp and softmax functions", IMA Journal of Numerical
       Analysis 41(4), 2021.

    Examples
    --------
    >>> from lossbook import log_softmax
    >>> log_softmax([0.0, -1000.0])  # log(softmax) would give -inf
    array([    0., -1000.])
    """
    return _map_rows(z, axis, lambda parts: parts.log_p)


def softmax_jacobian(z: ArrayLike) -> FloatArray:
    r"""Jacobian of the softmax over the last axis, with shape ``(..., C, C)``.

    .. math:: J_{ij} = \frac{\partial a_i}{\partial z_j} = a_i(\delta_{ij} - a_j),
              \qquad J = \operatorname{diag}(a) - a a^\top

    Parameters
    ----------
    z : array_like
        Logits with classes on the last axis, shape ``(..., C)``.

    Returns
    -------
    ndarray
        ``J[..., i, j] = d softmax(z)[..., i] / d z[..., j]``, with the dtype
        of `z`. Symmetric, and each row sums to 0.

    Raises
    ------
    ValueError
        Under the same conditions as :func:`softmax`, or for a 0-d input.
    TypeError
        If `z` is not real-valued.

    Notes
    -----
    This builds ``C * C`` numbers per example. It is here for teaching and
    testing; the losses never call it, because the gradient of softmax
    cross-entropy collapses to ``softmax(z) * sum(y) - y`` in O(C) work.
    The diagonal uses ``1 - a_k = (sum of the other terms) / (sum of all)``
    for the largest entry, which avoids the cancellation in ``a - a**2``
    when one class is nearly certain. The formula is derived in [1]_.

    References
    ----------
    .. [1] C. M. Bishop, *Pattern Recognition and Machine Learning*, Springer,
       2006, section 4.3.4.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook import softmax_jacobian
    >>> J = softmax_jacobian([0.0, 0.0])
    >>> J
    array([[ 0.25, -0.25],
           [-0.25,  0.25]])
    >>> np.allclose(J.sum(axis=-1), 0)
    True
    """
    work = v.as_float_array(z, "z")
    if work.ndim == 0:
        raise ValueError(
            "z must have at least one dimension (classes on the last axis); got a 0-d input"
        )
    if work.shape[-1] == 0:
        raise ValueError("z is empty along the class axis (the last axis)")
    z2 = work.reshape(-1, work.shape[-1]).astype(np.float64)
    _check_row_maxima(np.max(z2, axis=1), "z", defined_for_inf=False)
    parts = _core.row_softmax(z2, work.dtype != np.float64)
    probs = parts.p
    rows = np.arange(z2.shape[0])
    complement = 1.0 - probs
    complement[rows, parts.top] = parts.top_complement
    jacobian = -probs[:, :, None] * probs[:, None, :]
    diagonal = np.einsum("...ii->...i", jacobian)  # a writable view of the diagonal
    diagonal[...] = probs * complement
    return v.cast_array(jacobian.reshape(*work.shape, work.shape[-1]), work.dtype)


def sigmoid(z: ArrayLike) -> FloatResult:
    r"""The logistic sigmoid ``1 / (1 + exp(-z))``, elementwise and stable.

    .. math:: \sigma(z) = \frac{1}{1 + e^{-z}} = \frac{e^{z}}{1 + e^{z}}

    Parameters
    ----------
    z : array_like
        Logits, any shape.

    Returns
    -------
    ndarray
        Values in [0, 1] with the shape and dtype of `z`;
        ``sigmoid(inf) = 1`` and ``sigmoid(-inf) = 0`` as in
        :func:`scipy.special.expit`.

    Raises
    ------
    ValueError
        If `z` contains NaN.
    TypeError
        If `z` is not real-valued.

    See Also
    --------
    log_sigmoid, scipy.special.expit

    Notes
    -----
    Each branch exponentiates ``-|z|`` only, so nothing overflows; the sigmoid
    is the softmax of the two logits ``(z, 0)`` [1]_.

    References
    ----------
    .. [1] I. Goodfellow, Y. Bengio and A. Courville, *Deep Learning*,
       MIT Press, 2016, section 3.10.

    Examples
    --------
    >>> from lossbook import sigmoid
    >>> sigmoid([-1000.0, 0.0, 1000.0])
    array([0. , 0.5, 1. ])
    """
    work = v.as_float_array(z, "z")
    v.check_no_nan(work, "z")
    return v.cast_result(_core.sigmoid_parts(work.astype(np.float64)).sig_pos, work.dtype)


def log_sigmoid(z: ArrayLike) -> FloatResult:
    r"""The logarithm of the sigmoid, ``-softplus(-z)``, elementwise and stable.

    .. math:: \log \sigma(z) = \min(z, 0) - \log\bigl(1 + e^{-|z|}\bigr)

    Parameters
    ----------
    z : array_like
        Logits, any shape.

    Returns
    -------
    ndarray
        Values in (-inf, 0] with the shape and dtype of `z`.
        ``log_sigmoid(-inf) = -inf`` and ``log_sigmoid(inf) = 0``.

    Raises
    ------
    ValueError
        If `z` contains NaN.
    TypeError
        If `z` is not real-valued.

    See Also
    --------
    sigmoid, scipy.special.log_expit

    Notes
    -----
    :math:`\log \sigma(z) = -\zeta(-z)`, minus the softplus of :math:`-z` [1]_;
    splitting off :math:`\min(z, 0)` leaves ``log1p`` of a number in [0, 1],
    which neither overflows nor loses the tiny result for large :math:`z` [2]_.

    References
    ----------
    .. [1] I. Goodfellow, Y. Bengio and A. Courville, *Deep Learning*,
       MIT Press, 2016, section 3.10.
    .. [2] M. Mächler, "Accurately Computing log(1 - exp(-\|a\|)) Assessed by
       the Rmpfr package", R package vignette, 2012.

    Examples
    --------
    >>> from lossbook import log_sigmoid
    >>> log_sigmoid([-1000.0, 0.0, 40.0])
    array([-1.00000000e+03, -6.93147181e-01, -4.24835426e-18])
    """
    work = v.as_float_array(z, "z")
    v.check_no_nan(work, "z")
    return v.cast_result(_core.sigmoid_parts(work.astype(np.float64)).log_pos, work.dtype)
