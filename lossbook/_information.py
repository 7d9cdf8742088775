"""Information content, entropy, cross-entropy and KL divergence.

These take *probabilities*, not logits. The conventions are those of Cover and
Thomas: ``0 * log 0 = 0``, and a zero of ``q`` where ``p > 0`` gives ``+inf``.
The natural logarithm is the default (nats); ``base=2`` gives bits.

Every function validates its input: entries must lie in [0, 1], contain no
NaN and, where a distribution is expected, sum to 1 along `axis` within a
dtype-aware tolerance. The arithmetic is carried out in float64 and rounded
once to the input's dtype, so float16 and float32 results are correctly
rounded to within one unit in the last place.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossbook import _validation as v
from lossbook._typing import F64, FloatArray, FloatDType, FloatResult

__all__ = ["cross_entropy", "entropy", "information", "kl_divergence"]


def information(p: ArrayLike, base: float | None = None) -> FloatResult:
    r"""Information content (surprisal) of events with probability `p`.

    .. math:: I(p) = -\log_b p

    Parameters
    ----------
    p : array_like
        Probabilities in [0, 1], any shape.
    base : float, optional
        Base of the logarithm: None (default) for nats, 2 for bits,
        10 for hartleys.

    Returns
    -------
    ndarray
        ``-log(p) / log(base)``, elementwise, with the dtype of `p`
        (float64 for integer input). ``information(0)`` is ``+inf``.

    Raises
    ------
    ValueError
        If `p` has NaN or entries outside [0, 1], or `base` is not positive,
        finite and different from 1.
    TypeError
        If `p` is not real-valued.

    Notes
    -----
    Up to the choice of unit, -log p is the only function of p that is
    strictly decreasing and additive over independent events; continuity and
    ``information(1) == 0`` follow from these two conditions, they are not
    extra assumptions (the book's first chapter proves this from Cauchy's
    functional equation). Shannon [1]_ characterised the entropy of a
    distribution, the expected value of this quantity, not the information
    of a single event. Halving a probability adds one bit.

    References
    ----------
    .. [1] C. E. Shannon, "A Mathematical Theory of Communication",
       Bell System Technical Journal 27, 1948.

    Examples
    --------
    >>> from lossbook import information
    >>> information([1.0, 0.5, 0.25], base=2)
    array([0., 1., 2.])
    """
    array = v.as_float_array(p, "p")
    log_base = v.check_base(base)
    v.check_probabilities(array, "p")
    with np.errstate(divide="ignore"):
        result = 0.0 - np.log(array.astype(np.float64))  # no -0.0 for p = 1
    return _finish(result, log_base, array.dtype)


def entropy(p: ArrayLike, base: float | None = None, axis: int = -1) -> FloatResult:
    r"""Shannon entropy of the distribution(s) `p` along `axis`.

    .. math:: H(P) = -\sum_i p_i \log_b p_i, \qquad 0 \log 0 = 0

    Parameters
    ----------
    p : array_like
        Probability distribution(s); entries in [0, 1] summing to 1 along
        `axis`.
    base : float, optional
        Base of the logarithm; None (default) for nats, 2 for bits.
    axis : int, optional
        Axis holding the outcomes. Default is the last axis.

    Returns
    -------
    ndarray
        The entropy, with `axis` removed and the dtype of `p`. It lies in
        ``[0, log(n)]`` for ``n`` outcomes.

    Raises
    ------
    ValueError
        If `p` is not a probability distribution along `axis`, or `base`
        or `axis` is invalid.
    TypeError
        If `p` is not real-valued.

    See Also
    --------
    scipy.stats.entropy : Normalises `p` silently instead of checking it.

    Notes
    -----
    *Axis.* The outcomes lie along `axis`, by default the **last** axis,
    as for the losses (classes last). :func:`scipy.stats.entropy` uses axis 0
    by default: the SciPy equivalent of ``lossbook.entropy(p)`` is
    ``scipy.stats.entropy(p, axis=-1)``.

    References
    ----------
    .. [1] T. M. Cover and J. A. Thomas, *Elements of Information Theory*,
       2nd ed., Wiley, 2006, chapter 2.

    Examples
    --------
    >>> from lossbook import entropy
    >>> entropy([0.5, 0.5], base=2)
    np.float64(1.0)
    >>> entropy([[1.0, 0.0], [0.25, 0.75]], base=2)
    array([0.        , 0.81127812])
    """
    array, axis, log_base = _distribution(p, "p", axis, base)
    p64 = array.astype(np.float64)
    terms = -p64 * np.log(np.where(p64 > 0, p64, 1.0))
    return _finish(np.sum(terms, axis=axis), log_base, array.dtype)


def cross_entropy(
    p: ArrayLike, q: ArrayLike, base: float | None = None, axis: int = -1
) -> FloatResult:
    r"""Cross-entropy of the model `q` relative to the data distribution `p`.

    .. math:: H(P, Q) = -\sum_i p_i \log_b q_i = H(P) + D_{\mathrm{KL}}(P \,\|\, Q)

    Parameters
    ----------
    p : array_like
        Reference ("true") distribution(s) along `axis`.
    q : array_like
        Model distribution(s) along `axis`; broadcast against `p`.
    base : float, optional
        Base of the logarithm; None (default) for nats, 2 for bits.
    axis : int, optional
        Axis holding the outcomes. Default is the last axis.

    Returns
    -------
    ndarray
        The cross-entropy, with `axis` removed and the common dtype of `p`
        and `q`. ``+inf`` where ``q_i = 0`` but ``p_i > 0``.

    Raises
    ------
    ValueError
        If `p` or `q` is not a probability distribution along `axis`, or the
        shapes do not broadcast.
    TypeError
        If `p` or `q` is not real-valued.

    See Also
    --------
    softmax_cross_entropy : The same quantity computed from logits.

    Notes
    -----
    *Axis.* The outcomes lie along `axis`, by default the **last** axis,
    as for the losses (classes last). :func:`scipy.stats.entropy` uses axis 0
    by default: the SciPy equivalent of ``lossbook.cross_entropy(p, q)`` is
    ``scipy.stats.entropy(p, axis=-1) + scipy.stats.entropy(p, q, axis=-1)``.

    References
    ----------
    .. [1] T. M. Cover and J. A. Thomas, *Elements of Information Theory*,
       2nd ed., Wiley, 2006, section 2.3.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook import cross_entropy, entropy, kl_divergence
    >>> p, q = [0.5, 0.5], [0.25, 0.75]
    >>> round(float(cross_entropy(p, q, base=2)), 12)
    1.207518749639
    >>> bool(np.isclose(cross_entropy(p, q), entropy(p) + kl_divergence(p, q)))
    True
    """
    p_arr, q_arr, axis, log_base = _distribution_pair(p, q, axis, base)
    p64, q64 = p_arr.astype(np.float64), q_arr.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):  # 0 * log 0 is masked out
        terms = np.where(p64 > 0, -p64 * np.log(q64), 0.0)
    return _finish(np.sum(terms, axis=axis), log_base, np.result_type(p_arr, q_arr))


def kl_divergence(
    p: ArrayLike, q: ArrayLike, base: float | None = None, axis: int = -1
) -> FloatResult:
    r"""Kullback-Leibler divergence of `q` from `p` along `axis`.

    .. math:: D_{\mathrm{KL}}(P \,\|\, Q) = \sum_i p_i \log_b \frac{p_i}{q_i}

    Parameters
    ----------
    p : array_like
        Reference distribution(s) along `axis`.
    q : array_like
        Approximating distribution(s) along `axis`; broadcast against `p`.
    base : float, optional
        Base of the logarithm; None (default) for nats, 2 for bits.
    axis : int, optional
        Axis holding the outcomes. Default is the last axis.

    Returns
    -------
    ndarray
        The divergence, ``>= 0``, with `axis` removed and the common dtype of
        `p` and `q`. ``+inf`` where ``q_i = 0`` but ``p_i > 0``.

    Raises
    ------
    ValueError
        If `p` or `q` is not a probability distribution along `axis`, or the
        shapes do not broadcast.
    TypeError
        If `p` or `q` is not real-valued.

    Notes
    -----
    *Axis.* The outcomes lie along `axis`, by default the **last** axis,
    as for the losses (classes last). :func:`scipy.stats.entropy` uses axis 0
    by default: the SciPy equivalent of ``lossbook.kl_divergence(p, q)`` is
    ``scipy.stats.entropy(p, q, axis=-1)``.

    It is not a distance: ``kl_divergence(p, q) != kl_divergence(q, p)`` in
    general [1]_. Each term is computed as the non-negative quantity
    ``p*log(p/q) - p + q`` (the extra terms sum to zero), with a series for
    ``q/p`` near 1, so the result keeps full relative accuracy even when
    ``q`` is a tiny perturbation of ``p``, where the textbook sum cancels
    catastrophically. Probabilities rounded to a float dtype seldom sum to
    exactly 1; the result is then the generalised divergence
    ``sum(p*log(p/q) - p + q)``, which differs from the textbook sum by
    ``sum(q) - sum(p)`` (a few rounding errors) and, unlike it, is never
    negative.

    References
    ----------
    .. [1] S. Kullback and R. A. Leibler, "On Information and Sufficiency",
       Annals of Mathematical Statistics 22(1), 1951.

    Examples
    --------
    >>> from lossbook import kl_divergence
    >>> round(float(kl_divergence([0.5, 0.5], [0.9, 0.1])), 12)
    0.510825623766
    >>> round(float(kl_divergence([0.9, 0.1], [0.5, 0.5])), 12)
    0.368064207168
    """
    p_arr, q_arr, axis, log_base = _distribution_pair(p, q, axis, base)
    terms = _kl_terms(p_arr.astype(np.float64), q_arr.astype(np.float64))
    return _finish(np.sum(terms, axis=axis), log_base, np.result_type(p_arr, q_arr))


# Coefficients 2/(2k+1), k = 1..17, of the series
#   d - log1p(d) = d**2/(2+d) - sum_k 2 u**(2k+1)/(2k+1),  u = d/(2+d),
# which for -1/2 < d < 1 (|u| < 1/3) reaches float64 accuracy by k = 17.
_ATANH_TAIL = 2.0 / (2.0 * np.arange(1, 18) + 1.0)


def _d_minus_log1p(d: NDArray[np.float64]) -> NDArray[np.float64]:
    """``d - log1p(d)`` for -1/2 < d < 1, with full relative accuracy near 0."""
    u = d / (2.0 + d)
    u2 = u * u
    tail = np.zeros_like(u)
    for coefficient in _ATANH_TAIL[::-1]:
        tail = tail * u2 + coefficient
    return d * d / (2.0 + d) - tail * u2 * u


def _kl_terms(p: NDArray[np.float64], q: NDArray[np.float64]) -> NDArray[np.float64]:
    """Elementwise ``p*log(p/q) - p + q``: non-negative, summing to the KL.

    With ``d = (q - p)/p`` a term is ``p*(d - log1p(d))``. Near d = 0 the two
    parts cancel, and the series of `_d_minus_log1p` is used; elsewhere the
    cancellation is at most a factor of about 5 and ``(q - p) + p*log(p/q)``
    is used, with the ratio's logarithm split when p/q leaves the normal range.
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        positive = p > 0
        safe_p = np.where(positive, p, 1.0)
        d = np.where(positive, (q - p) / safe_p, 0.0)
        near = (d > -0.5) & (d < 1.0)
        near_terms = p * _d_minus_log1p(np.where(near, d, 0.0))
        ratio = p / q
        normal = (ratio >= np.finfo(np.float64).tiny) & np.isfinite(ratio)
        log_ratio = np.where(normal, np.log(ratio), np.log(safe_p) - np.log(q))
        far_terms = (q - p) + p * log_ratio
    terms = np.where(near, near_terms, far_terms)
    terms = np.where(positive & (q == 0), np.inf, terms)
    return np.where(positive, terms, q)


def _distribution(
    p: ArrayLike, name: str, axis: int, base: float | None
) -> tuple[FloatArray, int, float | None]:
    array = v.as_float_array(p, name)
    log_base = v.check_base(base)
    axis = v.check_axis(axis, array.ndim)
    v.check_distribution(array, name, axis)
    return array, axis, log_base


def _distribution_pair(
    p: ArrayLike, q: ArrayLike, axis: int, base: float | None
) -> tuple[FloatArray, FloatArray, int, float | None]:
    p_arr = v.as_float_array(p, "p")
    q_arr = v.as_float_array(q, "q")
    p_b, q_b = v.broadcast_pair(p_arr, q_arr, "p", "q")
    log_base = v.check_base(base)
    axis = v.check_axis(axis, p_b.ndim)
    v.check_distribution(p_b, "p", axis)
    v.check_distribution(q_b, "q", axis)
    return p_b, q_b, axis, log_base


def _finish(result: F64, log_base: float | None, dtype: FloatDType) -> FloatResult:
    return v.cast_result(result if log_base is None else result / log_base, dtype)
