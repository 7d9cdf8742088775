"""Losses and weights for long-tailed and imbalanced classification.

Three remedies from the literature that go beyond the focal loss: class-balanced
weights from the effective number of samples (Cui et al. 2019), logit-adjusted
softmax cross-entropy (Menon et al. 2021) and the Poly-1 loss (Leng et al.
2022). Both losses have private ``_name(..., need_grad)`` kernels, registered
in :mod:`lossbook.gradients`, that return the value and the analytic gradient
with respect to the logits from one pass.

Everything is computed in float64 and rounded once to the dtype of the logits
(float64 for integer logits); other lossbook code is reached through the
public namespace only.
"""

from __future__ import annotations

import math
from typing import Any, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossbook import _validation as v

# The kernels' return type; imported from its defining module because
# lossbook.gradients requires exactly this type for registered kernels.
from lossbook._loss_common import (
    ValueAndGrad,
    check_logits,
    class_weight,
    grad_scale,
    reduce_loss,
    row_weight,
    unit_scaled,
    weighted,
)
from lossbook._softmax_ce import check_index_masks

__all__ = ["class_balanced_weights", "logit_adjusted_cross_entropy", "poly1_cross_entropy"]

FloatArray = NDArray[np.floating[Any]]
F64 = NDArray[np.float64]


def class_balanced_weights(
    counts: ArrayLike, beta: float = 0.999, *, normalize: bool = True
) -> FloatArray:
    r"""Class weights from the effective number of samples (Cui et al. 2019).

    .. math:: E_n = \frac{1 - \beta^{n}}{1 - \beta}, \qquad
              w_c = \frac{1}{E_{n_c}} = \frac{1 - \beta}{1 - \beta^{n_c}}

    for a class with :math:`n_c` training examples [1]_. :math:`\beta = 0`
    gives equal weights; :math:`\beta \to 1` gives inverse class frequency
    :math:`1 / n_c`.

    Parameters
    ----------
    counts : array_like
        Number of training examples per class, any shape; positive and
        finite (non-integer counts are allowed).
    beta : float, optional
        Hyperparameter in [0, 1); default 0.999. The weights differ from
        equal ones only for classes with fewer than about
        :math:`1 / (1 - \beta)` examples.
    normalize : bool, optional
        If True (default), scale the weights so that they sum to the number
        of classes, as in the paper. This fixes the weights' sum, not the
        scale of the loss: see Notes.

    Returns
    -------
    ndarray
        The weights, shaped like `counts`, with its dtype (float64 for
        integer counts).

    Raises
    ------
    ValueError
        If `counts` is empty or has an entry that is not positive and
        finite, or `beta` is outside [0, 1).
    TypeError
        If `counts` is not real-valued, `beta` is not a real number or
        `normalize` is not a bool.

    See Also
    --------
    softmax_cross_entropy : Takes the weights as its ``weight`` argument.

    Notes
    -----
    :math:`1 - \beta^{n}` is computed as ``-expm1(n * log(beta))``, so the
    weights stay accurate for :math:`\beta` close to 1, where
    :math:`\beta^{n}` is close to 1 for small classes. Normalised weights are
    formed relative to the smallest :math:`1 - \beta^{n}` (in logarithms), so
    they stay finite even where :math:`1 / E_n` itself would overflow, and for
    counts so small that :math:`n \log\beta` underflows.

    *The scale of the loss.* Normalisation makes the weights sum to
    :math:`C` for every :math:`\beta`, but a loss averaged over examples,
    :math:`\frac1N \sum_i w_{y_i} \ell_i`, is scaled by the mean weight per
    example, :math:`\sum_c n_c w_c / N`, which does change with
    :math:`\beta` when the classes differ in size (see the last example).
    :func:`softmax_cross_entropy` with ``weight=`` and 'mean' divides by
    :math:`\sum_i w_{y_i}` instead, which removes that scale.

    References
    ----------
    .. [1] Y. Cui, M. Jia, T.-Y. Lin, Y. Song and S. Belongie, "Class-Balanced
       Loss Based on Effective Number of Samples", CVPR 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook import class_balanced_weights
    >>> class_balanced_weights([1000, 100, 10], beta=0.0)
    array([1., 1., 1.])
    >>> w = class_balanced_weights([1000, 100, 10], beta=0.99)
    >>> np.round(w, 4)
    array([0.2301, 0.363 , 2.4068])
    >>> float(w.sum())
    3.0

    The mean weight per example, for two classes of 3960 and 40 examples:

    >>> n = np.array([3960, 40])
    >>> [round(float(n @ class_balanced_weights(n, b) / n.sum()), 3) for b in (0.0, 0.9999)]
    [1.0, 0.044]
    """
    n = v.as_float_array(counts, "counts")
    b = v.check_real_scalar(beta, "beta")
    if not isinstance(normalize, (bool, np.bool_)):
        raise TypeError(f"normalize must be a bool, got {type(normalize).__name__}")
    if n.size == 0:
        raise ValueError("counts is empty; pass one count per class")
    v.check_finite(n, "counts")
    if (n <= 0).any():
        raise ValueError("counts has entries <= 0; every class needs at least one example")
    if not 0.0 <= b < 1.0:
        raise ValueError(f"beta must lie in [0, 1), got {beta!r}")
    n64 = n.astype(np.float64)
    if b == 0.0:  # every class has effective number 1 (log(0) would warn)
        return v.cast_array(np.ones_like(n64), n.dtype)
    # log((1 - beta) E_n) = log(1 - beta^n), the log of the weight's denominator. For
    # x = n log(beta) near 0 (tiny counts), 1 - beta^n = -x (1 + x/2 + x^2/6 + ...) and
    # log(-x) = log(n) + log(-log(beta)): no product n log(beta) that underflows to 0,
    # which made 0 / 0 = NaN.
    neg_log_beta = -math.log(b)
    x = n64 * -neg_log_beta
    tiny = np.abs(x) < 1e-8
    with np.errstate(divide="ignore"):  # log(0): the branch not taken where x == 0
        log_denominator = np.where(
            tiny,
            np.log(n64) + math.log(neg_log_beta) + np.log1p(x / 2 + x * x / 6),
            np.log(-np.expm1(x)),
        )
    if normalize:
        # Normalised weights are ratios of these denominators: form them relative to the
        # smallest one, so that a tiny count cannot overflow 1 / E_n into inf / inf = nan.
        relative = np.exp(np.min(log_denominator) - log_denominator)
        w = relative * (relative.size / np.sum(relative))
    else:
        with np.errstate(over="ignore"):  # beyond float64, inf is the rounded value
            w = np.exp(math.log1p(-b) - log_denominator)
    return v.cast_array(w, n.dtype)


def _prior_shift(prior: ArrayLike, tau: float, n_classes: int) -> F64:
    """``tau * log(prior)`` as float64, after checking `prior` and `tau`."""
    t = v.check_real_scalar(tau, "tau")
    pi = v.as_float_array(prior, "prior")
    if pi.shape != (n_classes,):
        raise ValueError(
            f"prior must have shape ({n_classes},), one entry per class; got {pi.shape}"
        )
    v.check_finite(pi, "prior")
    if (pi <= 0).any():
        raise ValueError("prior has entries <= 0; class priors must be positive")
    with np.errstate(over="ignore"):
        shift = t * np.log(pi.astype(np.float64))
    if not np.isfinite(shift).all():
        raise ValueError(
            f"tau * log(prior) overflows float64 (tau={tau!r}); the adjustment is infinite, "
            "so use a smaller tau or a prior further from 0 and 1"
        )
    return shift


def logit_adjusted_cross_entropy(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    prior: ArrayLike,
    tau: float = 1.0,
    weight: ArrayLike | None = None,
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
) -> FloatArray:
    r"""Logit-adjusted softmax cross-entropy (Menon et al. 2021).

    .. math:: \ell(z, y) = -\log
              \frac{e^{z_y + \tau \log \pi_y}}{\sum_c e^{z_c + \tau \log \pi_c}}

    the softmax cross-entropy of the logits shifted by :math:`\tau` times the
    log class prior [1]_. Training with it and predicting with
    :math:`\arg\max_c z_c` targets the *balanced* error: for
    :math:`\tau = 1` the minimiser of the expected loss is
    :math:`z_c = \log P(x \mid c) + \text{const}`, whose argmax is the
    Bayes-optimal classifier for the balanced error [1]_.

    Parameters
    ----------
    logits : array_like
        Logits with the classes on the last axis, shape ``(..., C)``; ``-inf``
        masks a class, as in :func:`softmax_cross_entropy`.
    target : array_like
        Class indices (integer, shape ``logits.shape[:-1]``) or class
        probabilities (float, shape of `logits`), as in
        :func:`softmax_cross_entropy`.
    prior : array_like
        Class priors :math:`\pi`, shape ``(C,)``, positive; usually the
        class frequencies of the training set. Their normalisation does not
        matter (a constant shift of all logits leaves softmax unchanged).
    tau : float, optional
        Scale :math:`\tau` of the adjustment; default 1. ``tau=0`` gives
        :func:`softmax_cross_entropy`.
    weight : array_like, optional
        Class weights, shape ``(C,)``, as in :func:`softmax_cross_entropy`.
    ignore_index : int, optional
        A target index whose examples are ignored, as in
        :func:`softmax_cross_entropy`.
    label_smoothing : float, optional
        Label smoothing in [0, 1], as in :func:`softmax_cross_entropy`.
    reduction : {'mean', 'sum', 'none'}, optional
        As in :func:`softmax_cross_entropy`.

    Returns
    -------
    ndarray or scalar
        The loss, with the dtype of `logits` (float64 for integer logits).

    Raises
    ------
    ValueError
        If `prior` does not have shape ``(C,)`` or has an entry that is not
        positive and finite; if `tau` is not finite, or ``tau * log(prior)``
        or the adjusted logits overflow float64; and for every reason
        :func:`softmax_cross_entropy` raises.
    TypeError
        If `tau` is not a real number or an array argument is not
        real-valued.

    See Also
    --------
    softmax_cross_entropy, class_balanced_weights

    Notes
    -----
    The gradient with respect to `logits` is that of softmax cross-entropy
    at the shifted logits, :math:`\operatorname{softmax}(z + \tau\log\pi) - e_y`,
    because the shift is a constant. The shifted logits are formed in
    float64.

    The *post-hoc* variant of [1]_ trains with plain cross-entropy and
    predicts with :math:`\arg\max_c (z_c - \tau \log \pi_c)` instead; both
    are compared in the book's chapter on imbalance and calibration.

    References
    ----------
    .. [1] A. K. Menon, S. Jayasumana, A. S. Rawat, H. Jain, A. Veit and
       S. Kumar, "Long-tail learning via logit adjustment", ICLR 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook import logit_adjusted_cross_entropy, softmax_cross_entropy
    >>> z = np.array([[2.0, 0.0, -1.0]])
    >>> prior = np.array([0.7, 0.2, 0.1])
    >>> float(logit_adjusted_cross_entropy(z, np.array([2]), prior=prior))
    4.990672844439938
    >>> float(logit_adjusted_cross_entropy(z, np.array([2]), prior=prior, tau=0.0))
    3.1698460195562856
    >>> float(softmax_cross_entropy(z, np.array([2])))
    3.1698460195562856
    """
    return cast(
        FloatArray,
        _logit_adjusted_cross_entropy(
            logits,
            target,
            prior=prior,
            tau=tau,
            weight=weight,
            ignore_index=ignore_index,
            label_smoothing=label_smoothing,
            reduction=reduction,
        ).value,
    )


def _logit_adjusted_cross_entropy(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    prior: ArrayLike,
    tau: float = 1.0,
    weight: ArrayLike | None = None,
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
    need_grad: bool = False,
) -> ValueAndGrad:
    import lossbook as lb

    z = check_logits(logits, classes=True)
    v.check_masked_logits(z, "logits")  # -inf masks stay -inf after the shift
    shift = _prior_shift(prior, tau, z.shape[-1])
    with np.errstate(over="ignore"):
        adjusted = z.astype(np.float64) + shift
    if np.isposinf(adjusted).any() or (np.isneginf(adjusted) & np.isfinite(z)).any():
        raise ValueError(
            "the adjusted logits logits + tau * log(prior) overflow float64; "
            "use a smaller tau or smaller logits"
        )
    kwargs: dict[str, Any] = {
        "weight": weight,
        "ignore_index": ignore_index,
        "label_smoothing": label_smoothing,
        "reduction": reduction,
    }
    if need_grad:
        value, g = lb.value_and_grad(lb.softmax_cross_entropy)(adjusted, target, **kwargs)
        return ValueAndGrad(v.cast_result(value, z.dtype), v.cast_array(g, z.dtype))
    value = lb.softmax_cross_entropy(adjusted, target, **kwargs)
    return ValueAndGrad(v.cast_result(value, z.dtype), None)


def poly1_cross_entropy(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    epsilon: float = 1.0,
    weight: ArrayLike | None = None,
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
) -> FloatArray:
    r"""Poly-1 softmax cross-entropy (Leng et al. 2022).

    .. math:: \ell = -\log p_t + \varepsilon\,(1 - p_t),
              \qquad p_t = \operatorname{softmax}(z)_y

    [1]_: cross-entropy, whose Taylor series in
    :math:`1 - p_t` is :math:`\sum_{j \ge 1} (1 - p_t)^j / j`, with the
    coefficient of the first term raised from 1 to :math:`1 + \varepsilon`.

    Parameters
    ----------
    logits : array_like
        Logits with the classes on the last axis, shape ``(..., C)``.
        ``-inf`` masks a class (probability 0, gradient exactly 0), as in
        :func:`softmax_cross_entropy`; every other entry must be finite.
    target : array_like
        Class indices, shape ``logits.shape[:-1]`` (an integer dtype, or
        floats holding whole numbers; bool raises ``TypeError``).
    epsilon : float, optional
        The coefficient :math:`\varepsilon \ge -1`; default 1. At
        ``epsilon=0`` this is
        :func:`softmax_cross_entropy`.
    weight : array_like, optional
        Class weights, shape ``(C,)``, non-negative; the loss of an example
        of class :math:`y` is multiplied by :math:`w_y`, and 'mean' divides
        by :math:`\sum_i w_{y_i}`, as in :func:`softmax_cross_entropy`.
    ignore_index : int, optional
        Targets equal to it contribute 0 to the loss and its gradient and
        are left out of the mean, as in :func:`softmax_cross_entropy`.
    label_smoothing : float, optional
        :math:`\varepsilon_{ls} \in [0, 1]`: the cross-entropy part is
        PyTorch's smoothed cross-entropy and :math:`p_t` becomes the
        probability the model gives to the smoothed target (see Notes).
    reduction : {'mean', 'sum', 'none'}, optional
        'none' returns the loss per example (shape ``logits.shape[:-1]``);
        'mean' of nothing (every target ignored, or weights summing to 0) is
        0.0 with a zero gradient, as in :func:`softmax_cross_entropy` (PyTorch
        gives NaN).

    Returns
    -------
    ndarray or scalar
        The loss, with the dtype of `logits` (float64 for integer logits).

    Raises
    ------
    ValueError
        If `logits` contains NaN or ``+inf``, has no class axis, or is
        ``-inf`` where the loss would be infinite (as in
        :func:`softmax_cross_entropy`); if `target` has the wrong shape or
        an index outside ``[0, C)`` (other than `ignore_index`); if
        `epsilon` is below -1 or not finite; if `weight` has the wrong shape
        or a negative entry; if `label_smoothing` is outside [0, 1]; if
        `reduction` is unknown.
    TypeError
        If `epsilon` is not a real number, `target` is boolean, or an array
        argument is not real-valued.

    See Also
    --------
    softmax_cross_entropy, softmax_focal_loss

    Notes
    -----
    For :math:`\varepsilon \ge -1` the loss decreases in :math:`p_t` (its
    derivative is :math:`-1/p_t - \varepsilon \le 0`), hence the bound. The
    gradient is :math:`(1 + \varepsilon p_t)(\operatorname{softmax}(z) - e_y)`;
    its true-class entry :math:`-(1 - p_t)(1 + \varepsilon p_t)` is formed
    from ``1 - p_t = -expm1(log p_t)``, so it keeps full relative accuracy
    for confident correct predictions.

    *Label smoothing.* With the smoothed target
    :math:`t = (1 - \varepsilon_{ls}) e_y + \varepsilon_{ls}/C`, the loss is
    PyTorch's smoothed, weighted cross-entropy plus
    :math:`\varepsilon\, w_y (1 - p_t)` with :math:`p_t = \langle t, p\rangle
    = (1 - \varepsilon_{ls}) p_y + \varepsilon_{ls}/C`, as in the reference
    implementation of [1]_, which applies the smoothing to the labels before
    both terms. Since :math:`\partial p_t / \partial z_k = p_k (t_k - p_t)`,
    the gradient is

    .. math::

        \begin{aligned}
        &(1 - \varepsilon_{ls})\, w_y (1 + \varepsilon p_y) (p - e_y)\\
        &\quad + \frac{\varepsilon_{ls}}{C} (W p - w),
        \qquad W = \textstyle\sum_c w_c .
        \end{aligned}

    'mean' divides by :math:`\sum_i w_{y_i}` and does not depend on the
    scale of `weight` (the weights are first scaled by a power of two,
    which is exact, so weights near ``finfo.max`` do not overflow).

    References
    ----------
    .. [1] Z. Leng, M. Tan, C. Liu, E. D. Cubuk, X. Shi, S. Cheng and
       D. Anguelov, "PolyLoss: A Polynomial Expansion Perspective of
       Classification Loss Functions", ICLR 2022.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook import poly1_cross_entropy
    >>> z = np.array([[0.0, 0.0]])
    >>> float(poly1_cross_entropy(z, np.array([0])))  # log 2 + 1 * (1 - 1/2)
    1.1931471805599454
    >>> float(poly1_cross_entropy(z, np.array([0]), epsilon=0.0))
    0.6931471805599453

    With a masked class (probability 0) and an ignored example:

    >>> z = np.array([[0.0, 0.0, -np.inf], [5.0, 1.0, 2.0]])
    >>> poly1_cross_entropy(z, np.array([0, -100]), ignore_index=-100, reduction="none")
    array([1.19314718, 0.        ])
    """
    result = _poly1_cross_entropy(
        logits,
        target,
        epsilon=epsilon,
        weight=weight,
        ignore_index=ignore_index,
        label_smoothing=label_smoothing,
        reduction=reduction,
    )
    return cast(FloatArray, result.value)


def _poly1_cross_entropy(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    epsilon: float = 1.0,
    weight: ArrayLike | None = None,
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
    need_grad: bool = False,
) -> ValueAndGrad:
    import lossbook as lb

    z = check_logits(logits, classes=True)
    eps = v.check_real_scalar(epsilon, "epsilon")
    if eps < -1.0:
        raise ValueError(f"epsilon must be >= -1 (else the loss is not monotone), got {epsilon!r}")
    reduction = v.check_reduction(reduction)
    smoothing = v.check_unit_interval(label_smoothing, "label_smoothing")
    ignore = v.check_ignore_index(ignore_index)
    n_classes = z.shape[-1]
    t = v.as_real_array(target, "target")
    y, valid = v.check_class_indices(t, z.shape[:-1], n_classes, ignore)
    v.check_masked_logits(z, "logits")
    check_index_masks(z, y, valid, smoothing)
    w = class_weight(weight, n_classes)
    if w is not None and reduction == "mean":
        w = unit_scaled(w)[0]  # the weighted mean does not change when w is scaled
    w_row = row_weight(y, valid, w)
    if w_row is None:
        w_row = np.ones(y.shape)
    z64 = z.astype(np.float64)
    log_p = np.asarray(lb.log_softmax(z64, axis=-1), np.float64)  # raises for all -inf rows
    log_py = np.take_along_axis(log_p, y[..., None], axis=-1)[..., 0]
    nll = -log_py
    miss = -np.expm1(log_py)  # 1 - p_y, accurate when p_y is close to 1
    keep = 1.0 - smoothing
    if smoothing == 0.0:
        if eps >= 0:
            per_example = weighted(w_row, nll + eps * miss)
        else:
            # nll + eps (1 - p_t) = (1 + eps) nll + |eps| (nll - 1 + p_t): two non-negative
            # terms, where the direct form cancels to 0 for eps = -1 and a confident prediction.
            per_example = weighted(w_row, (1.0 + eps) * nll - eps * _ce_minus_miss(nll))
    else:
        class_w = np.ones(n_classes) if w is None else w
        live = np.ones(y.shape) if valid is None else valid.astype(np.float64)
        # -sum_c w_c log p_c; a class of weight 0 contributes 0 even where log p_c = -inf.
        smooth = -np.sum(
            np.multiply(class_w, log_p, out=np.zeros(log_p.shape), where=class_w > 0), axis=-1
        )
        # 1 - p_t = (1 - ls)(1 - p_y) + ls (1 - 1/C): non-negative terms.
        one_minus_pt = keep * miss + smoothing * (1.0 - 1.0 / n_classes)
        per_example = weighted(w_row, keep * nll + eps * one_minus_pt) + weighted(
            live * (smoothing / n_classes), smooth
        )
    count = float(np.sum(w_row))
    value = reduce_loss(per_example, reduction, count)
    if not need_grad:
        return ValueAndGrad(v.cast_result(value, z.dtype), None)
    scale = grad_scale(reduction, count)
    # 1 + eps p_y, written without cancellation for -1 <= eps < 0 and p_y near 1
    boost = 1.0 + eps * np.exp(log_py) if eps >= 0 else (1.0 + eps) - eps * miss
    factor = keep * boost * w_row * scale
    p = np.exp(log_p)  # exactly 0 at -inf (masked) logits
    g = p * factor[..., None]
    true_entry = -miss * factor
    if smoothing:
        # + ls / C (W p - w) on every entry; at y, -w_y (1 - p_y) ... plus ls / C (W p_y - w_y).
        spread = (smoothing / n_classes) * scale * live
        class_w = np.ones(n_classes) if w is None else w
        total_w = float(np.sum(class_w))
        g += (spread * total_w)[..., None] * p
        g -= spread[..., None] * class_w
        p_y = np.exp(log_py)
        true_entry += spread * (total_w * p_y - class_w[y])
    np.put_along_axis(g, y[..., None], true_entry[..., None], axis=-1)
    return ValueAndGrad(v.cast_result(value, z.dtype), v.cast_array(g, z.dtype))


def _ce_minus_miss(x: F64) -> F64:
    """``x - (1 - exp(-x)) = exp(-x) - 1 + x`` for ``x >= 0``, without cancellation.

    Below 0.5 the Taylor series ``x**2/2! - x**3/3! + ...`` (alternating, terms
    shrinking by at least half, 18 terms to float64 accuracy); above, the direct
    form loses at most a bit or two.
    """
    small = np.minimum(x, 0.5)
    series = np.zeros_like(small)
    for n in range(19, 1, -1):  # Horner: x^2 (1/2! - x (1/3! - x (1/4! - ...)))
        series = 1.0 / math.factorial(n) - small * series
    series *= small * small
    return np.where(x < 0.5, series, np.expm1(-x) + x)
