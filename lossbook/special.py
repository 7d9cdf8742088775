"""Stable functions of logits: log-sum-exp, softmax, log-softmax, sigmoid.

Every function here is safe for every finite input in float16, float32 and
float64: no overflow warning, and no NaN where the true result is finite. The
trick throughout is the same (see the book's chapter on numerical stability):
shift by the largest logit so that the largest exponential is exactly 1, and
keep the *other* terms apart so that ``log1p`` can recover tiny corrections
that ``log(1 + small)`` would round away.

float16 inputs are computed in float32 and rounded once at the end; the result
always has the dtype of the input (integers and booleans give float64).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossbook import _validation as v

__all__ = [
    "logsumexp",
    "softmax",
    "log_softmax",
    "softmax_jacobian",
    "sigmoid",
    "log_sigmoid",
]

FloatArray = NDArray[np.floating[Any]]


class SoftmaxParts(NamedTuple):
    """Pieces of a stable softmax along one axis (private to lossbook).

    ``exp_shifted`` holds exp(z - max) with the entry at ``argmax`` set to 0,
    so ``rest_sum`` = Σ_{j ≠ argmax} exp(z_j - max) is free of the rounding
    that ``1 + rest_sum`` would suffer. All arrays keep `axis` (keepdims).
    """

    exp_shifted: FloatArray
    argmax: NDArray[np.intp]
    max: FloatArray
    rest_sum: FloatArray


def _prepare(z: ArrayLike, name: str) -> tuple[FloatArray, np.dtype[Any]]:
    array = v.as_float_array(z, name)
    work = array.astype(v.compute_dtype(array.dtype), copy=False)
    return work, array.dtype


def softmax_parts(z: FloatArray, axis: int, name: str = "z") -> SoftmaxParts:
    """Split a stable softmax of `z` along `axis` into its parts.

    `z` must already be in its compute dtype. Raises ``ValueError`` for NaN.
    Infinite maxima are shifted by 0 instead of by themselves, so that
    ``inf - inf`` never arises; callers decide what an infinite max means.
    """
    if z.shape[axis] == 0:
        raise ValueError(f"{name} is empty along axis {axis}")
    argmax = np.argmax(z, axis=axis, keepdims=True)
    # argmax stops at the first NaN, so a NaN anywhere in a slice shows up here.
    zmax = np.take_along_axis(z, argmax, axis=axis)
    if np.isnan(zmax).any():
        raise ValueError(f"{name} contains NaN")
    shift = np.where(np.isfinite(zmax), zmax, 0).astype(z.dtype, copy=False)
    with np.errstate(over="ignore", invalid="ignore"):
        exp_shifted = np.subtract(z, shift)
        np.exp(exp_shifted, out=exp_shifted)
    np.put_along_axis(exp_shifted, argmax, 0, axis=axis)
    rest_sum = np.sum(exp_shifted, axis=axis, keepdims=True)
    return SoftmaxParts(exp_shifted, argmax, zmax, rest_sum)


def _check_softmax_defined(parts: SoftmaxParts, name: str) -> None:
    if np.isposinf(parts.max).any():
        raise ValueError(
            f"{name} contains +inf; softmax is undefined there "
            "(scipy.special.softmax returns NaN)"
        )
    if np.isneginf(parts.max).any():
        raise ValueError(
            f"{name} has a slice whose entries are all -inf; softmax is undefined there "
            "(scipy.special.softmax returns NaN)"
        )


def _log_softmax_from_parts(z: FloatArray, parts: SoftmaxParts) -> FloatArray:
    # z - max can overflow to -inf only where the true value is below -finfo.max.
    with np.errstate(over="ignore", invalid="ignore"):
        return (z - parts.max) - np.log1p(parts.rest_sum)


def logsumexp(z: ArrayLike, axis: int = -1, keepdims: bool = False) -> FloatArray:
    r"""Compute ``log(sum(exp(z)))`` along `axis` without overflow.

    .. math:: \operatorname{LSE}(z) = m + \log\Bigl(1 + \sum_{j \ne k} e^{z_j - m}\Bigr),
              \quad m = z_k = \max_j z_j

    Parameters
    ----------
    z : array_like
        Logits. Any shape; reduced along `axis`.
    axis : int, optional
        Axis to reduce. Default is the last axis.
    keepdims : bool, optional
        If True, the reduced axis is kept with length 1, so the result
        broadcasts against `z`.

    Returns
    -------
    ndarray
        The log-sum-exp, with the dtype of `z` (float64 for integer input).
        As in :func:`scipy.special.logsumexp`, a slice containing ``+inf``
        gives ``+inf`` and a slice of all ``-inf`` gives ``-inf``.

    Raises
    ------
    ValueError
        If `z` contains NaN, is empty along `axis`, or `axis` is out of range.
    TypeError
        If `z` is not real-valued.

    See Also
    --------
    log_softmax : ``z - logsumexp(z, keepdims=True)``, computed stably.
    scipy.special.logsumexp : The SciPy equivalent.

    Notes
    -----
    Subtracting the maximum makes the largest exponential exactly 1, so the
    sum cannot overflow and is at least 1, so its logarithm is safe. Keeping
    that 1 apart and applying ``log1p`` to the remaining sum keeps full
    relative accuracy even when one logit dominates [1]_.

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
    """
    work, dtype = _prepare(z, "z")
    axis = v.check_axis(axis, work.ndim)
    parts = softmax_parts(work, axis)
    with np.errstate(invalid="ignore"):
        result = parts.max + np.log1p(parts.rest_sum)
    if not keepdims:
        result = np.squeeze(result, axis=axis)
    return v.cast_result(result, dtype)


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
    work, dtype = _prepare(z, "z")
    axis = v.check_axis(axis, work.ndim)
    parts = softmax_parts(work, axis)
    _check_softmax_defined(parts, "z")
    probs = parts.exp_shifted
    np.put_along_axis(probs, parts.argmax, 1, axis=axis)
    probs /= 1 + parts.rest_sum
    return v.cast_result(probs, dtype)


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
    work, dtype = _prepare(z, "z")
    axis = v.check_axis(axis, work.ndim)
    parts = softmax_parts(work, axis)
    _check_softmax_defined(parts, "z")
    return v.cast_result(_log_softmax_from_parts(work, parts), dtype)


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
    work, dtype = _prepare(z, "z")
    axis = v.check_axis(-1, work.ndim)
    parts = softmax_parts(work, axis)
    _check_softmax_defined(parts, "z")
    total = 1 + parts.rest_sum
    probs = parts.exp_shifted
    np.put_along_axis(probs, parts.argmax, 1, axis=-1)
    probs /= total
    complement = 1 - probs
    np.put_along_axis(complement, parts.argmax, parts.rest_sum / total, axis=-1)
    jacobian = -probs[..., :, None] * probs[..., None, :]
    diagonal = np.einsum("...ii->...i", jacobian)  # a writable view of the diagonal
    diagonal[...] = probs * complement
    return v.cast_result(jacobian, dtype)


def sigmoid(z: ArrayLike) -> FloatArray:
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
    work, dtype = _prepare(z, "z")
    v.check_no_nan(work, "z")
    small = np.exp(-np.abs(work))
    result = np.where(work >= 0, 1, small) / (1 + small)
    return v.cast_result(result, dtype)


def log_sigmoid(z: ArrayLike) -> FloatArray:
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
    work, dtype = _prepare(z, "z")
    v.check_no_nan(work, "z")
    result = np.minimum(work, 0) - np.log1p(np.exp(-np.abs(work)))
    return v.cast_result(result, dtype)
