"""Focal losses on logits: sigmoid (per element) and softmax (multi-class) (private).

The focal loss of Lin et al. multiplies the cross-entropy of each example by
:math:`(1 - p_t)^\\gamma`, where :math:`p_t` is the probability the model gives
to the true class, so that the many easy, well-classified examples stop
dominating the gradient. Both functions take their softmax or sigmoid from
the numerics core (:mod:`lossbook._core`), compute in float64 on cache-sized
blocks and round each block's results straight into outputs of the dtype of
`logits`; :math:`1 - p_t` is always formed directly (as a sigmoid of the other
sign, or as ``-expm1(log p_t)``), never as ``1 - p_t``.

The private ``_name(..., need_grad)`` kernels return the value and the
analytic gradient together; see :mod:`lossbook.gradients`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossbook import _core
from lossbook import _validation as v
from lossbook._loss_common import (
    ValueAndGrad,
    binary_target,
    check_logits,
    elementwise_pass,
    grad_scale,
    overflow_is_inf,
    row_result,
    weighted,
)
from lossbook._softmax_ce import _softmax_cross_entropy, check_index_masks
from lossbook._typing import F64, BoolArray, FloatArray, FloatResult, IntpArray

__all__ = ["sigmoid_focal_loss", "softmax_focal_loss"]


def sigmoid_focal_loss(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    alpha: float | None = 0.25,
    gamma: float = 2.0,
    reduction: str = "none",
) -> FloatResult:
    r"""Sigmoid focal loss of Lin et al. (2017), elementwise, on logits.

    .. math::

        \begin{aligned}
        \ell &= \alpha_t \, (1 - p_t)^\gamma \, \mathrm{CE}(z, y),\\
        p_t &= p\,y + (1 - p)(1 - y), \qquad p = \sigma(z),\\
        \alpha_t &= \alpha y + (1 - \alpha)(1 - y)
        \end{aligned}

    where CE is :func:`binary_cross_entropy_with_logits` per element: eq. (5)
    of [1]_, with the values of ``torchvision.ops.sigmoid_focal_loss`` [2]_.

    Parameters
    ----------
    logits : array_like
        Logits, any shape. Must be finite.
    target : array_like
        Targets with the shape of `logits`, in [0, 1] (soft targets allowed).
    alpha : float or None, optional
        Weight of the positive class, in [0, 1]; default 0.25 as in the
        paper. None or -1 (torchvision's convention, ``alpha < 0`` there)
        switch the balancing off. A 0-d array is accepted as a scalar.
    gamma : float, optional
        Focusing parameter :math:`\gamma \ge 0`; default 2. With
        :math:`\gamma = 0` this is the :math:`\alpha`-balanced cross-entropy.
    reduction : {'none', 'mean', 'sum'}, optional
        'none' (default, as in torchvision) keeps the shape of `logits`;
        'mean' averages over all elements.

    Returns
    -------
    ndarray or scalar
        The loss, with the dtype of `logits` (float64 for integer logits).

    Raises
    ------
    ValueError
        If `logits` has NaN or an infinity; if `target` has NaN, leaves
        [0, 1] or differs in shape from `logits`; if `alpha` is outside
        [0, 1], `gamma` is negative or not finite, or `reduction` is unknown.
    TypeError
        If `alpha` or `gamma` is not a real number, or an array argument is
        not real-valued.

    See Also
    --------
    softmax_focal_loss, binary_cross_entropy_with_logits

    Notes
    -----
    :math:`1 - p_t = \sigma(z)(1 - y) + \sigma(-z)\,y` is a sum of two
    non-negative, accurately computed terms, so for a confident correct
    prediction it is tiny but exact rather than a rounded-away ``1 - p``.
    'mean' of an empty array is 0.0 (torchvision's ``loss.mean()`` gives NaN).

    References
    ----------
    .. [1] T.-Y. Lin, P. Goyal, R. Girshick, K. He and P. Dollár, "Focal Loss
       for Dense Object Detection", ICCV 2017, eq. (5).
    .. [2] torchvision documentation, ``torchvision.ops.sigmoid_focal_loss``,
       https://pytorch.org/vision/stable/generated/torchvision.ops.sigmoid_focal_loss.html

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook import sigmoid_focal_loss
    >>> z = np.array([4.0, 0.0, -2.0])
    >>> y = np.array([1.0, 1.0, 1.0])
    >>> sigmoid_focal_loss(z, y)  # the easy example (z = 4) is down-weighted most
    array([1.46789243e-06, 4.33216988e-02, 4.12519545e-01])
    >>> sigmoid_focal_loss(z, y, alpha=None, gamma=0.0)  # plain cross-entropy
    array([0.01814993, 0.69314718, 2.12692801])
    """
    return _sigmoid_focal_loss(logits, target, alpha=alpha, gamma=gamma, reduction=reduction).value


@overflow_is_inf
def _sigmoid_focal_loss(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    alpha: float | None = 0.25,
    gamma: float = 2.0,
    reduction: str = "none",
    need_grad: bool = False,
) -> ValueAndGrad:
    z = check_logits(logits, classes=False)
    reduction = v.check_reduction(reduction)
    a = _check_alpha(alpha)
    g = _check_gamma(gamma)
    y = binary_target(target, z.shape)

    def chunk(
        zc: F64, yc: F64, *, need_grad: bool, scratch: _core.Scratch
    ) -> tuple[F64, F64 | None]:
        return _sigmoid_focal_chunk(zc, yc, a, g, need_grad, scratch)

    return elementwise_pass(z, [y], chunk, reduction, need_grad)


def _check_alpha(alpha: object) -> float | None:
    """alpha in [0, 1], or None for no balancing (torchvision's alpha=-1 included)."""
    if alpha is None:
        return None
    value = v.check_real_scalar(alpha, "alpha")
    if value == -1.0:
        return None
    if not 0.0 <= value <= 1.0:
        raise ValueError(
            f"alpha must lie in [0, 1], or be -1 or None for no balancing; got {alpha!r}"
        )
    return value


def _sigmoid_focal_chunk(
    z: F64,
    y: F64,
    a: float | None,
    g: float,
    need_grad: bool,
    scratch: _core.Scratch | None = None,
) -> tuple[F64, F64 | None]:
    """Per-element sigmoid focal loss and its gradient, for one chunk."""
    work = _core.Scratch() if scratch is None else scratch
    sig_pos, sig_neg, log_pos, log_neg = _core.sigmoid_parts(z, work)
    negative = np.subtract(1.0, y, out=work.get("focal_negative", z))
    ce = np.multiply(y, log_pos, out=log_pos)
    ce += np.multiply(negative, log_neg, out=log_neg)
    np.negative(ce, out=ce)
    q = np.multiply(negative, sig_pos, out=work.get("focal_q", z))  # 1 - p_t
    q += np.multiply(y, sig_neg, out=work.get("focal_tmp", z))
    weight = np.power(q, g, out=work.get("focal_weight", z))
    if a is not None:
        balance = np.multiply(y, a, out=work.get("focal_tmp", z))
        balance += np.multiply(1.0 - a, negative, out=work.get("focal_tmp2", z))
        weight *= balance
    loss = np.multiply(weight, ce, out=work.get("focal_loss", z))
    if not need_grad:
        return loss, None
    # d(1-p_t)/dz = p(1-p)(1-2y); with r = p(1-p)/(1-p_t) the derivative of
    # (1-p_t)^g is g (1-p_t)^g (1-2y) r, finite even for g < 1 as p_t -> 1.
    r = _focal_ratio(sig_pos, sig_neg, q, y, work.get("focal_r", z))
    grad = np.multiply(y, 2.0, out=work.get("focal_grad", z))
    np.subtract(1.0, grad, out=grad)
    grad *= r
    grad *= g
    grad *= ce
    grad += np.multiply(negative, sig_pos, out=sig_pos)
    grad -= np.multiply(y, sig_neg, out=sig_neg)
    grad *= weight
    return loss, grad


def _focal_ratio(sig_pos: F64, sig_neg: F64, q: F64, y: F64, out: F64 | None = None) -> F64:
    """``p(1-p) / (1-p_t)``, with its hard-target limit where 1-p_t underflows to 0."""
    r = np.multiply(sig_pos, sig_neg, out=np.empty_like(q) if out is None else out)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(r, q, out=r)
    if not q.all():  # q >= 0; where it is 0 the ratio's limit is p(1-p)'s larger factor
        zero = q == 0
        r[zero] = np.where(y < 0.5, sig_neg, sig_pos)[zero]
    return r


def softmax_focal_loss(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    alpha: float | ArrayLike | None = None,
    gamma: float = 2.0,
    ignore_index: int | None = None,
    reduction: str = "mean",
) -> FloatResult:
    r"""Multi-class (softmax) focal loss with class-index targets.

    .. math:: \ell = -\alpha_t \, (1 - p_t)^\gamma \log p_t,
              \qquad p_t = \operatorname{softmax}(z)_y

    the multi-class form of the focal loss of Lin et al. [1]_.

    Parameters
    ----------
    logits : array_like
        Logits with classes on the last axis, shape ``(..., C)``. ``-inf``
        masks a class (probability 0, gradient exactly 0), as in
        :func:`softmax_cross_entropy`; every other entry must be finite.
    target : array_like
        Class indices with shape ``logits.shape[:-1]``: an integer array, or
        a float array holding whole numbers.
    alpha : float or array_like or None, optional
        Class balancing: None (default) or -1 (torchvision's convention, as
        in :func:`sigmoid_focal_loss`) for none, a scalar in [0, 1] applied
        to every class, or one value in [0, 1] per class (shape ``(C,)``),
        :math:`\alpha_t = \alpha_y`.
    gamma : float, optional
        Focusing parameter :math:`\gamma \ge 0`; default 2. With
        :math:`\gamma = 0` and no `alpha` this is softmax cross-entropy,
        equal to :func:`softmax_cross_entropy` bit for bit (it runs its kernel).
    ignore_index : int, optional
        Targets equal to it contribute 0 to the loss and its gradient and
        are not counted by 'mean'.
    reduction : {'mean', 'sum', 'none'}, optional
        'mean' (default) divides the sum by the number of non-ignored
        examples (not by the sum of the :math:`\alpha_t`); 0.0 if there are
        none (where a PyTorch mean would give NaN). 'none' has shape
        ``logits.shape[:-1]``, with 0 at ignored entries.

    Returns
    -------
    ndarray or scalar
        The loss, with the dtype of `logits` (float64 for integer logits).

    Raises
    ------
    ValueError
        If `logits` has NaN or ``+inf`` or no class axis, is ``-inf`` at a
        counted target or throughout a row (the loss would be infinite); if a target is
        out of range (other than `ignore_index`) or not a whole number, or
        the target shape is not ``logits.shape[:-1]``; if `alpha` is outside
        [0, 1] or has a length other than C; if `gamma` is negative or not
        finite; or if `reduction` is unknown.
    TypeError
        If `target` is boolean, or an argument has the wrong type.

    See Also
    --------
    sigmoid_focal_loss, softmax_cross_entropy

    Notes
    -----
    For the most probable class, :math:`1 - p_t` is formed as
    :math:`\sum_{j \ne t} e^{z_j - z_t} / (1 + \sum_{j \ne t} e^{z_j - z_t})`
    (through ``-expm1(log p_t)``), so a confident correct prediction keeps a
    tiny, accurate loss. The gradient uses :math:`\log(p_t)/(1 - p_t)`, whose
    limit is -1, instead of :math:`(1 - p_t)^{\gamma - 1}`, which is infinite
    at :math:`p_t = 1` when :math:`\gamma < 1`.

    References
    ----------
    .. [1] T.-Y. Lin, P. Goyal, R. Girshick, K. He and P. Dollár, "Focal Loss
       for Dense Object Detection", ICCV 2017: eq. (5), and footnote 1 of
       section 3 on extending it to the multi-class case.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook import softmax_focal_loss
    >>> logits = np.array([[3.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    >>> softmax_focal_loss(logits, np.array([0, 1]), reduction="none")
    array([0.00077842, 0.48827213])
    >>> softmax_focal_loss(logits, np.array([0, 1]), gamma=0.0, reduction="none")
    array([0.09492296, 1.09861229])
    """
    return _softmax_focal_loss(
        logits,
        target,
        alpha=alpha,
        gamma=gamma,
        ignore_index=ignore_index,
        reduction=reduction,
    ).value


@overflow_is_inf
def _softmax_focal_loss(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    alpha: float | ArrayLike | None = None,
    gamma: float = 2.0,
    ignore_index: int | None = None,
    reduction: str = "mean",
    need_grad: bool = False,
) -> ValueAndGrad:
    z = check_logits(logits, classes=True)
    reduction = v.check_reduction(reduction)
    g = _check_gamma(gamma)
    ignore = v.check_ignore_index(ignore_index)
    n_classes = z.shape[-1]
    class_alpha = _class_alpha(alpha, n_classes)
    y, valid = v.check_class_indices(
        _index_target(target, z.shape), z.shape[:-1], n_classes, ignore
    )
    check_index_masks(z, y, valid)
    if g == 0.0 and class_alpha is None:
        # (1 - p_t)^0 = 1: exactly softmax cross-entropy, so take its kernel and be
        # equal to it bit for bit (as sigmoid_focal_loss is to the binary loss).
        return _softmax_cross_entropy(
            z,
            y if valid is None else np.where(valid, y, -1),
            ignore_index=None if valid is None else -1,
            reduction=reduction,
            need_grad=need_grad,
        )
    z2 = z.reshape(-1, n_classes)
    y1 = y.reshape(-1)
    valid1 = None if valid is None else valid.reshape(-1)
    n = len(y1)
    count = float(n) if valid1 is None else float(np.count_nonzero(valid1))
    factor = grad_scale(reduction, count)
    loss = np.empty(n)
    grad = np.empty(z2.shape, z.dtype) if need_grad else None
    rows_per_block = _core.block_rows(n_classes)

    def run(blocks: range) -> None:
        _softmax_focal_blocks(z2, y1, valid1, class_alpha, g, factor, loss, grad, blocks)

    _core.run_blocks(-(-n // rows_per_block), z2.size, run)
    return row_result(loss, grad, z, reduction, count)


def _softmax_focal_blocks(
    z2: FloatArray,
    y1: IntpArray,
    valid1: BoolArray | None,
    class_alpha: F64 | None,
    g: float,
    factor: float,
    loss: F64,
    grad: FloatArray | None,
    blocks: range,
) -> None:
    """Blocks `blocks` of rows of the softmax focal loss, with a workspace of their own
    (one call per thread): `loss` and `grad` are filled at those rows."""
    n, n_classes = z2.shape
    exact = z2.dtype != np.float64
    rows_per_block = _core.block_rows(n_classes)
    work = _core.Workspace(min(rows_per_block, n), n_classes)
    for part in _core.row_slices(n, rows_per_block, blocks):
        block = _core.load_block(z2[part], work)
        # Unnormalised: the loss needs log p only at the targets, and the gradient's
        # row scale d / (1 + rest) normalises p in the pass that scales it.
        parts = _core.row_softmax(block, exact, work, normalize=False)
        yb = y1[part]
        rows = np.arange(len(yb))
        log_pt = parts.log_p[rows, yb] - parts.log_total
        q = -np.expm1(log_pt)  # 1 - p_t, accurate also when p_t is close to 1
        row_weight = np.power(q, g)
        if class_alpha is not None:
            row_weight *= class_alpha[yb]
        if valid1 is not None:
            row_weight *= valid1[part]
        loss[part] = weighted(row_weight, -log_pt)
        if grad is None:
            continue
        # l = -a q^g log p_t; dl/dz = D (p - onehot(y)) with D = a q^g (1 - g p_t log(p_t)/q).
        # log(p_t)/q -> -1 as q -> 0, so D stays finite for every g >= 0.
        log_over_q = np.divide(log_pt, q, out=np.full(len(yb), -1.0), where=q > 0)
        p_t = parts.p[rows, yb] / parts.total
        # p_t log p_t -> 0 as p_t -> 0, also where log p_t is -inf (logits ~ +-finfo.max).
        focus = np.multiply(p_t, log_over_q, out=np.zeros(len(yb)), where=p_t > 0)
        d = row_weight * (1.0 - g * focus) * factor
        gb = parts.p
        gb *= (d / parts.total)[:, None]
        gb[rows, yb] = 0.0 - d * q
        grad[part] = gb


def _check_gamma(gamma: Any) -> float:
    g = v.check_real_scalar(gamma, "gamma")
    if g < 0:
        raise ValueError(f"gamma must be non-negative, got {gamma!r}")
    return g


def _class_alpha(alpha: Any, n_classes: int) -> F64 | None:
    """None, or alpha as one float64 value per class, each checked to lie in [0, 1]."""
    if alpha is None:
        return None
    if np.ndim(alpha) == 0:
        if v.check_real_scalar(alpha, "alpha") == -1.0:
            return None  # torchvision's "no balancing", as in sigmoid_focal_loss
        return np.full(n_classes, v.check_unit_interval(np.asarray(alpha).item(), "alpha"))
    a = v.as_float_array(alpha, "alpha")
    if a.shape != (n_classes,):
        raise ValueError(f"alpha must be a scalar or have shape ({n_classes},); got {a.shape}")
    v.check_no_nan(a, "alpha")
    if ((a < 0) | (a > 1)).any():
        raise ValueError("alpha must lie in [0, 1] for every class")
    return a.astype(np.float64)


def _index_target(target: ArrayLike, shape: tuple[int, ...]) -> NDArray[Any]:
    t = v.as_real_array(target, "target")
    v.check_index_dtype(t)
    if t.dtype.kind == "f" and t.shape == shape:
        raise ValueError(
            f"target has the shape of logits {shape}: class probabilities, which "
            "softmax_focal_loss does not take; pass class indices with shape "
            f"logits.shape[:-1] = {shape[:-1]}"
        )
    return t
