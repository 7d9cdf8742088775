"""Calibration: reliability-diagram bins, expected calibration error, temperature scaling.

A classifier is calibrated when, among the predictions made with confidence
about :math:`c`, a fraction of about :math:`c` is right (Guo et al. 2017).
The reliability bins and the expected calibration error (ECE) measure this;
temperature scaling repairs it after training with one scalar fitted on
held-out data.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossbook import _validation as v

__all__ = [
    "ReliabilityBins",
    "expected_calibration_error",
    "fit_temperature",
    "reliability_bins",
]

F64 = NDArray[np.float64]


class ReliabilityBins(NamedTuple):
    """The bins of a reliability diagram, returned by :func:`reliability_bins`.

    A named tuple of four arrays: ``edges``, the ``n_bins + 1`` bin boundaries
    from 0 to 1; and per bin ``confidence``, the mean predicted probability,
    ``frequency``, the fraction of positive outcomes (both NaN for an empty
    bin), and ``counts``, the number of predictions.
    """

    edges: F64
    confidence: F64
    frequency: F64
    counts: NDArray[np.intp]


def _check_pair(confidence: ArrayLike, outcome: ArrayLike) -> tuple[F64, F64]:
    c = v.as_float_array(confidence, "confidence")
    o = v.as_float_array(outcome, "outcome")
    if c.shape != o.shape:
        raise ValueError(
            f"confidence with shape {c.shape} and outcome with shape {o.shape} must have "
            "the same shape"
        )
    if c.size == 0:
        raise ValueError("confidence is empty")
    v.check_probabilities(c, "confidence")
    v.check_no_nan(o, "outcome")
    if ((o != 0) & (o != 1)).any():
        raise ValueError("outcome must hold 0/1 or booleans")
    return c.astype(np.float64).ravel(), o.astype(np.float64).ravel()


def _check_bins(n_bins: Any, strategy: Any) -> tuple[int, str]:
    if isinstance(n_bins, (bool, np.bool_)) or not isinstance(n_bins, (int, np.integer)):
        raise TypeError(f"n_bins must be an integer, got {type(n_bins).__name__}")
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}")
    if strategy not in ("uniform", "quantile"):
        raise ValueError(f"strategy must be 'uniform' or 'quantile', got {strategy!r}")
    return int(n_bins), str(strategy)


def reliability_bins(
    confidence: ArrayLike, outcome: ArrayLike, *, n_bins: int = 15, strategy: str = "uniform"
) -> ReliabilityBins:
    r"""Bin predictions by confidence: the data of a reliability diagram.

    Parameters
    ----------
    confidence : array_like
        Predicted probabilities in [0, 1], any shape (flattened). For the
        top-label diagram of Guo et al. [1]_ pass the largest predicted
        probability (for a binary model ``max(p, 1 - p)``); for the diagram
        of the positive class of a binary model (scikit-learn's
        ``calibration_curve``), the probability ``p`` of the positive class.
    outcome : array_like
        Whether the predicted event happened, 0/1 or bool, shaped like
        `confidence`: ``argmax == label`` (or ``(p > 1/2) == label``) for
        top-label confidence, the label itself for the positive class.
    n_bins : int, optional
        Number of bins; default 15, as in [1]_.
    strategy : {'uniform', 'quantile'}, optional
        'uniform' (default): equal-width bins :math:`((b-1)/B, b/B]` (the
        first includes 0). 'quantile': equal-mass bins whose inner edges are
        the percentiles :math:`100\,b/B` of `confidence` (``np.percentile``,
        linear interpolation). Either way a prediction lies in bin
        :math:`b` when ``edges[b] < confidence <= edges[b + 1]`` (the first
        bin also takes ``edges[0]``), compared with the returned edges
        themselves, so equal confidences always share a bin. Names, edges and
        this rule are those of scikit-learn's ``calibration_curve``.

    Returns
    -------
    ReliabilityBins
        ``(edges, confidence, frequency, counts)``: the boundaries, and per
        bin the mean confidence, the fraction of positive outcomes and the
        number of predictions (means are NaN in empty bins, whose count is
        0). Equal-mass bins hold equal counts only up to ties: predictions
        sharing one confidence share one bin, which can leave others empty.
        The outer edges are 0 and 1 for both strategies.

    Raises
    ------
    ValueError
        If the shapes differ, `confidence` is empty or leaves [0, 1],
        `outcome` is not 0/1, `n_bins` < 1 or `strategy` is unknown.
    TypeError
        If `n_bins` is not an integer or an array is not real-valued.

    See Also
    --------
    expected_calibration_error

    References
    ----------
    .. [1] C. Guo, G. Pleiss, Y. Sun and K. Q. Weinberger, "On Calibration of
       Modern Neural Networks", ICML 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook import reliability_bins
    >>> conf = np.array([0.1, 0.2, 0.8, 0.9])
    >>> bins = reliability_bins(conf, [0, 1, 1, 1], n_bins=2)
    >>> bins.confidence, bins.frequency, bins.counts
    (array([0.15, 0.85]), array([0.5, 1. ]), array([2, 2]))
    """
    c, o = _check_pair(confidence, outcome)
    n_bins, strategy = _check_bins(n_bins, strategy)
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    else:
        # scikit-learn's calibration_curve: inner edges at the data's percentiles
        # (linear interpolation), so equal confidences always share a bin.
        edges = np.percentile(c, np.linspace(0.0, 100.0, n_bins + 1))
        edges[0], edges[-1] = 0.0, 1.0
    # Bin b is (edges[b], edges[b + 1]] (the first also takes 0), decided by comparing
    # with the returned edges themselves, as scikit-learn's searchsorted does.
    index = np.searchsorted(edges[1:-1], c, side="left")
    count = np.bincount(index, minlength=n_bins).astype(np.intp)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(index, weights=c, minlength=n_bins) / count
        frequency = np.bincount(index, weights=o, minlength=n_bins) / count
    return ReliabilityBins(edges, mean_conf, frequency, count)


def expected_calibration_error(
    confidence: ArrayLike, outcome: ArrayLike, *, n_bins: int = 15, strategy: str = "uniform"
) -> float:
    r"""Expected calibration error (ECE) of probabilistic predictions.

    .. math:: \mathrm{ECE} = \sum_{b=1}^{B} \frac{n_b}{N}
              \bigl|\operatorname{freq}_b - \operatorname{conf}_b\bigr|

    over the bins of :func:`reliability_bins` [1]_.

    Parameters
    ----------
    confidence, outcome, n_bins, strategy
        As in :func:`reliability_bins`.

    Returns
    -------
    float
        The ECE, in [0, 1].

    Raises
    ------
    ValueError, TypeError
        As :func:`reliability_bins`.

    See Also
    --------
    reliability_bins, fit_temperature

    Notes
    -----
    *Which ECE.* The number depends on what is passed. Guo et al.'s ECE [1]_
    is *top-label*: the confidence is the largest predicted probability and
    the outcome whether that prediction was right; for a binary model with
    positive-class probability ``p`` that is ``confidence = max(p, 1 - p)``,
    ``outcome = ((p > 0.5) == label)``. Passing ``p`` and the label instead
    measures the calibration of the *positive class* (the binning of
    scikit-learn's ``calibration_curve``), a different number: in the last
    example below, 0.1 against 0.25 on the same predictions.

    The ECE also depends on the binning; equal-mass bins ('quantile') put
    about the same number of predictions in each bin (ties stay together)
    and so avoid near-empty bins when most confidences are close to 0 or 1.

    References
    ----------
    .. [1] C. Guo, G. Pleiss, Y. Sun and K. Q. Weinberger, "On Calibration of
       Modern Neural Networks", ICML 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook import expected_calibration_error
    >>> ece = expected_calibration_error([0.1, 0.2, 0.8, 0.9], [0, 1, 1, 1], n_bins=2)
    >>> round(ece, 12)  # (2 |0.5 - 0.15| + 2 |1 - 0.85|) / 4
    0.25

    Positive-class ECE against Guo et al.'s top-label ECE for a binary model:

    >>> p, label = np.array([0.1, 0.2, 0.8, 0.9]), np.array([0, 1, 1, 1])
    >>> round(expected_calibration_error(p, label, n_bins=2), 12)  # positive class
    0.25
    >>> top = np.maximum(p, 1 - p)
    >>> right = (p > 0.5) == label
    >>> round(expected_calibration_error(top, right, n_bins=2), 12)  # top-label
    0.1
    """
    bins = reliability_bins(confidence, outcome, n_bins=n_bins, strategy=strategy)
    filled = bins.counts > 0
    gaps = np.abs(bins.frequency[filled] - bins.confidence[filled])
    return float(np.sum(bins.counts[filled] * gaps) / np.sum(bins.counts))


def _nll_derivatives(a: float, d: F64) -> tuple[float, float]:
    """First and second derivative in ``a`` of ``mean(logsumexp(a * d, axis=1))``."""
    x = a * d
    x = x - np.max(x, axis=1, keepdims=True)
    p = np.exp(x)
    p /= np.sum(p, axis=1, keepdims=True)
    mean = np.sum(p * d, axis=1)
    var = np.sum(p * (d - mean[:, None]) ** 2, axis=1)
    return float(np.mean(mean)), float(np.mean(var))


def fit_temperature(logits: ArrayLike, target: ArrayLike, *, max_iter: int = 100) -> float:
    r"""Fit the temperature of temperature scaling by maximum likelihood (Guo et al. 2017).

    Returns the :math:`T > 0` minimising the mean negative log-likelihood
    of :math:`\operatorname{softmax}(z / T)` (or :math:`\sigma(z / T)` for
    binary logits) on held-out data [1]_.

    Parameters
    ----------
    logits : array_like
        Either ``(..., C)`` softmax logits with integer class-index
        `target` of shape ``logits.shape[:-1]``, or 1-d binary logits with
        `target` in {0, 1} of the same shape (if `logits` is 1-d, it is
        read as binary). Finite.
    target : array_like
        Class indices, or binary labels.
    max_iter : int, optional
        Maximal number of Newton steps; default 100 (a few are enough).

    Returns
    -------
    float
        The temperature :math:`T`; divide the logits by it.

    Raises
    ------
    ValueError
        If the inputs are invalid; if the logits are no better than a
        constant (the likelihood then increases as :math:`T \to \infty`), or
        rank every example's true class first, ties allowed (it then increases
        as :math:`T \to 0`), so that no finite optimum exists; or if the
        iteration does not converge.
    TypeError
        If an array is not real-valued or `max_iter` is not an integer.

    See Also
    --------
    expected_calibration_error

    Notes
    -----
    With :math:`a = 1/T` and :math:`d_{ic} = z_{ic} - z_{i y_i}`, the
    objective :math:`f(a) = \frac1N \sum_i \log \sum_c e^{a d_{ic}}` is
    convex in :math:`a` (a log-sum-exp of linear functions), with
    :math:`f'(a) = \frac1N \sum_i \mathbb{E}_{p_i}[d_i]` and
    :math:`f''(a) = \frac1N \sum_i \operatorname{Var}_{p_i}[d_i] \ge 0`,
    where :math:`p_i = \operatorname{softmax}(a\, d_i)`. It is not convex in
    :math:`T`, so it is solved in :math:`a`: Newton's method safeguarded by
    bisection on a bracket of the root of :math:`f'`, which converges
    quadratically near the optimum and never leaves the bracket.

    References
    ----------
    .. [1] C. Guo, G. Pleiss, Y. Sun and K. Q. Weinberger, "On Calibration of
       Modern Neural Networks", ICML 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook import fit_temperature
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 2000)
    >>> z = 3.0 * (2 * y - 1) + 2.0 * rng.standard_normal(2000)  # over-confident by 2
    >>> round(fit_temperature(2.0 * z, y) / fit_temperature(z, y), 6)
    2.0
    """
    if isinstance(max_iter, (bool, np.bool_)) or not isinstance(max_iter, (int, np.integer)):
        raise TypeError(f"max_iter must be an integer, got {type(max_iter).__name__}")
    if max_iter < 1:
        raise ValueError(f"max_iter must be at least 1, got {max_iter}")
    z = v.as_float_array(logits, "logits")
    if z.ndim == 0 or z.shape[-1] == 0:
        raise ValueError("logits must have at least one dimension and a non-empty last axis")
    v.check_finite(z, "logits")
    t = v.as_real_array(target, "target")
    if z.ndim == 1 and t.dtype.kind == "b":
        t = t.astype(np.intp)  # binary labels may be bool; class indices may not
    if not np.issubdtype(t.dtype, np.integer):
        t = v.as_float_array(t, "target")
    if z.ndim == 1:
        if t.shape != z.shape:
            raise ValueError(
                f"logits is 1-d (binary), so target must have its shape {z.shape}; got {t.shape}"
            )
        y, _ = v.check_class_indices(t, z.shape, 2, None)
        z2 = np.stack([np.zeros(z.shape), z.astype(np.float64)], axis=-1)
    else:
        y, _ = v.check_class_indices(t, z.shape[:-1], z.shape[-1], None)
        z2 = z.astype(np.float64).reshape(-1, z.shape[-1])
        y = y.reshape(-1)
    if z2.shape[0] == 0:
        raise ValueError("logits holds no examples")
    d = z2 - np.take_along_axis(z2, y[:, None], axis=1)
    if np.mean(np.mean(d, axis=1)) >= 0:
        raise ValueError(
            "logits are no better than a constant prediction on these targets; the "
            "likelihood increases without bound in T, so no temperature fits"
        )
    if not (np.max(d, axis=1) > 0).any():
        raise ValueError(
            "logits rank the true class first (or tied first) for every example; the "
            "likelihood increases as T -> 0, so no finite temperature fits"
        )
    # Solve in units of the data's scale s = max|d| (so f'' cannot overflow), and bracket
    # the root of f' from a = 1 there, in both directions. Starting from a = 1 in the
    # data's own units needed ~83 bisections for logits of 1e25 and ran out of steps.
    scale = float(np.max(np.abs(d)))
    d = d / scale
    lo, hi = 1.0, 1.0
    while _nll_derivatives(hi, d)[0] < 0:
        lo, hi = hi, 2.0 * hi
    while lo > 0 and _nll_derivatives(lo, d)[0] > 0:
        lo, hi = 0.5 * lo, lo
    a = 0.5 * (lo + hi)
    for _ in range(max_iter):
        slope, curvature = _nll_derivatives(a, d)
        if slope == 0.0:
            return scale / a
        if slope < 0:
            lo = a
        else:
            hi = a
        step = a - slope / curvature if curvature > 0 else np.inf
        new = step if lo < step < hi else 0.5 * (lo + hi)
        if abs(new - a) <= 1e-13 * a:
            return scale / new
        a = new
    raise ValueError(f"temperature fit did not converge in {max_iter} iterations")
