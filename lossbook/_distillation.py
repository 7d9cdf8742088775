"""Knowledge distillation: a student's softmax matched to a teacher's at temperature T (private).

Both softmaxes come from the numerics core (:func:`lossbook._core.row_softmax`)
on cache-sized float64 blocks of rows, so the loss and its gradient are
rounded once into the student's dtype and no full-size float64 temporary is
formed.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from lossbook import _core
from lossbook import _validation as v
from lossbook._loss_common import (
    ValueAndGrad,
    check_logits,
    grad_scale,
    overflow_is_inf,
    row_result,
)
from lossbook._typing import F64, BoolArray, FloatResult

__all__ = ["distillation_loss"]


def distillation_loss(
    student_logits: ArrayLike,
    teacher_logits: ArrayLike,
    *,
    temperature: float = 1.0,
    reduction: str = "mean",
) -> FloatResult:
    r"""Distillation loss: :math:`T^2` times the KL divergence of the softened softmaxes.

    For one example with student logits :math:`z`, teacher logits :math:`v`
    and temperature :math:`T`,

    .. math::

        \begin{aligned}
        \ell &= T^2 \, \mathrm{KL}\bigl(\operatorname{softmax}(v / T)
              \,\big\|\, \operatorname{softmax}(z / T)\bigr)\\
             &= T^2 \sum_c p_c \bigl(\log p_c - \log q_c\bigr),
        \end{aligned}

    with :math:`p = \operatorname{softmax}(v/T)` and
    :math:`q = \operatorname{softmax}(z/T)`: the soft-target term of Hinton,
    Vinyals and Dean [1]_. Its gradient with respect to the student logits
    is :math:`T (q - p)`; the factor :math:`T^2` keeps its size independent
    of :math:`T` for large :math:`T` (see Notes).

    Parameters
    ----------
    student_logits : array_like
        The student's logits, shape ``(..., C)``, classes on the last axis.
        Must be finite. The loss is differentiated with respect to these.
    teacher_logits : array_like
        The teacher's logits, the same shape. Must be finite. Treated as a
        constant (no gradient flows to the teacher).
    temperature : float, optional
        :math:`T > 0`, finite. Default 1.
    reduction : {'mean', 'sum', 'none'}, optional
        'none' returns one loss per example (shape
        ``student_logits.shape[:-1]``), 'sum' their sum, and 'mean' (default)
        their mean over all examples.

    Returns
    -------
    ndarray or scalar
        The loss, with the dtype of `student_logits` (float64 for integer
        logits).

    Raises
    ------
    ValueError
        If either array contains NaN or an infinity, has no class axis, or
        the shapes differ; if `temperature` is not positive and finite, or
        so small that ``logits / temperature`` overflows; or if `reduction`
        is unknown.
    TypeError
        If an array is not real-valued or `temperature` is not a real number.

    See Also
    --------
    softmax_cross_entropy : The same gradient, ``q - p``, with hard targets.
    lossbook.kl_divergence : The KL divergence of two probability vectors.

    Notes
    -----
    With PyTorch [2]_ the same loss is ``T**2 * kl_div(log_softmax(z / T, -1),
    log_softmax(v / T, -1), reduction="batchmean", log_target=True)`` for
    2-d input; 'batchmean' divides by ``size(0)``, which equals the number of
    examples only for 2-d input, where 'mean' here always divides by the
    number of examples, ``prod(shape[:-1])``.

    *Why* :math:`T^2`. :math:`\partial \ell / \partial z_c = T (q_c - p_c)`, and
    for large :math:`T`, :math:`q_c - p_c \approx (z_c - v_c - \overline{z - v})
    / (C T)`, so the gradient of the KL term alone shrinks as :math:`1/T^2`;
    multiplying by :math:`T^2` keeps the soft-target term on the scale of a
    hard-target cross-entropy when both are combined [1]_. In the same limit
    the loss tends to :math:`\frac{1}{2C} \sum_c (z_c - v_c - \overline{z - v})^2`,
    the squared error of zero-mean logits (the book derives both).

    *Accuracy.* Written as :math:`\sum_c p_c (\log p_c - \log q_c)` the loss
    is a sum of terms of either sign that cancel when the student nearly
    matches the teacher. It is computed instead as
    :math:`\log \mathbb{E}_p[e^{-r}] = \operatorname{log1p}
    \mathbb{E}_p[e^{-r} - 1 + r]`, with :math:`r = (v - z)/T` less its mean
    under :math:`p`: a sum of non-negative terms, accurate to a few ulp of
    the loss itself, also for nearly equal logits and for huge :math:`T`
    (where it tends to the limit above instead of underflowing). Where
    :math:`v - z` is much larger than the loss (logits of very different
    sizes) the direct sum has the smaller error, a few ulp of
    :math:`T^2 \sum_c p_c (|\log p_c| + |\log q_c|)`; each row takes the form
    with the smaller error bound.

    References
    ----------
    .. [1] G. Hinton, O. Vinyals and J. Dean, "Distilling the Knowledge in a
       Neural Network", NIPS 2014 Deep Learning Workshop, arXiv:1503.02531,
       2015, section 2.
    .. [2] PyTorch documentation, ``torch.nn.KLDivLoss``,
       https://pytorch.org/docs/stable/generated/torch.nn.KLDivLoss.html

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook import distillation_loss
    >>> student = np.array([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    >>> teacher = np.array([[3.0, 1.0, -2.0], [0.0, 0.0, 0.0]])
    >>> distillation_loss(student, teacher, reduction="none").round(6)
    array([0.025201, 0.      ])
    >>> round(float(distillation_loss(student, teacher, temperature=4.0)), 6)
    0.143861

    The gradient with respect to the student is ``T * (q - p)``, here divided by
    the two rows of the mean:

    >>> from lossbook import grad
    >>> grad(distillation_loss)(student, teacher, temperature=2.0).round(6)
    array([[-0.06114 , -0.022492,  0.083633],
           [ 0.      ,  0.      ,  0.      ]])
    """
    return _distillation_loss(
        student_logits, teacher_logits, temperature=temperature, reduction=reduction
    ).value


@overflow_is_inf
def _distillation_loss(
    student_logits: ArrayLike,
    teacher_logits: ArrayLike,
    *,
    temperature: float = 1.0,
    reduction: str = "mean",
    need_grad: bool = False,
) -> ValueAndGrad:
    z = check_logits(student_logits, classes=True, name="student_logits")
    teacher = v.as_float_array(teacher_logits, "teacher_logits")
    if teacher.shape != z.shape:
        raise ValueError(
            f"teacher_logits must have the shape of student_logits {z.shape}; got {teacher.shape}"
        )
    t = v.check_positive_scalar(temperature, "temperature")
    reduction = v.check_reduction(reduction)
    n_classes = z.shape[-1]
    z2 = z.reshape(-1, n_classes)
    v2 = teacher.reshape(-1, n_classes)
    n = z2.shape[0]
    factor = grad_scale(reduction, float(n))
    loss = np.empty(n)
    grad = np.empty(z2.shape, z.dtype) if need_grad else None
    # z - max is exact far below a float16/float32 ulp once widened (see _core); the
    # division by T adds one float64 rounding, far below it too.
    exact = z.dtype != np.float64 and teacher.dtype != np.float64
    rows = _core.block_rows(n_classes)
    student_work = _core.Workspace(min(rows, n), n_classes)
    teacher_work = _core.Workspace(min(rows, n), n_classes)
    for part in _core.row_slices(n, rows):
        b = part.stop - part.start
        sb = _core.load_block(z2[part], student_work, "student_logits", masks=False)
        tb = _core.load_block(v2[part], teacher_work, "teacher_logits", masks=False)
        # v - z from the unscaled logits: v/T - z/T would cancel.
        raw = np.subtract(tb, sb, out=teacher_work.get("raw", b))
        if t != 1.0:
            sb /= t
            tb /= t
            if not (np.isfinite(sb).all() and np.isfinite(tb).all()):
                raise ValueError(
                    f"temperature {t!r} is too small for these logits: logits / temperature "
                    "overflows float64"
                )
        p = _core.row_softmax(tb, exact, teacher_work)
        q = _core.row_softmax(sb, exact, student_work)
        rows_kl = _row_kl(p, q, raw, t, student_work)
        loss[part] = rows_kl.loss
        if grad is not None:
            g = _grad_rows(p.p, q.p, rows_kl)
            g *= t * factor
            grad[part] = g
    return row_result(loss, grad, z, reduction, float(n))


# Taylor coefficients of (e^{-x} - 1 + x) / x^2 = sum_{k >= 2} (-1)^k x^(k-2) / k!, highest
# first (Horner); for |x| < 1/2 the first omitted term is below 2^-60 of the sum.
_SERIES = [(-1.0) ** k / math.factorial(k) for k in range(19, 1, -1)]
_SERIES_BOUND = 0.5


def _series(x: F64) -> F64:
    """``(e^{-x} - 1 + x) / x^2`` for ``|x| < 1/2`` (1/2 at 0)."""
    acc = np.full(x.shape, _SERIES[0])
    for coefficient in _SERIES[1:]:
        acc *= x
        acc += coefficient
    return acc


def _exp_minus_one_plus(x: F64) -> F64:
    """``e^{-x} - 1 + x`` (>= 0) with full relative accuracy, also for tiny ``x``."""
    with np.errstate(over="ignore"):
        out = np.expm1(np.negative(x))
    out += x
    small = np.abs(x) < _SERIES_BOUND
    if small.any():
        xs = x[small]
        out[small] = _series(xs) * (xs * xs)
    return out


def _log_exp_minus_one_plus(x: F64) -> F64:
    """``log(e^{-x} - 1 + x)`` without overflow for very negative ``x`` (-inf at 0)."""
    out = np.empty_like(x)
    negative = x < -0.5
    xn = x[negative]
    # e^{-x} (1 - e^{x} (1 - x)), and e^{x} (1 - x) < 1 for x < 0.
    out[negative] = np.log1p(-np.exp(xn) * (1.0 - xn)) - xn
    rest = ~negative
    with np.errstate(divide="ignore"):
        out[rest] = np.log(_exp_minus_one_plus(x[rest]))
    return out


class _RowKL(NamedTuple):
    loss: F64  # T^2 KL(p || q) per row
    kl: F64  # KL(p || q) per row (may underflow where the loss does not)
    r: F64  # (v - z) / T less its mean under p
    centred: BoolArray  # rows whose KL came from the centred form (r accurate there)


def _row_kl(
    p: _core.RowSoftmax, q: _core.RowSoftmax, raw: F64, t: float, work: _core.Workspace
) -> _RowKL:
    """T^2 KL(p || q) per row, by whichever of two forms has the smaller rounding error.

    *Direct*: ``sum p (log p - log q)``, with an error of a few ulp of
    ``sum p (|log p| + |log q|)``: poor where q is close to p and the terms cancel.

    *Centred*: ``log p - log q = delta + const`` with ``delta = (v - z) / T``; with
    ``r = delta - E_p[delta]``, KL = log E_p[e^{-r}] = log1p(E_p[e^{-r} - 1 + r]), a
    sum of non-negative terms (E_p[r] = 0): no cancellation, and an error in the mean
    moves it only to second order. Its error is that of r, a few ulp of ``|delta|``
    per term: poor where delta is huge although p and q are not far apart (logits of
    1e4 against logits of 1). ``T^2 (e^{-r} - 1 + r)`` is formed as
    ``(T r)^2 (e^{-r} - 1 + r) / r^2`` for small r, so that ``T^2 KL`` keeps its
    digits (and does not underflow) when T is huge. Terms whose ``p`` underflowed are
    formed from ``log p``.
    """
    weights = p.p
    mean = np.einsum("ij,ij->i", weights, raw)
    scaled = raw  # T r, in place
    scaled -= mean[:, None]
    r = np.divide(scaled, t, out=work.get("r", raw.shape[0]))
    # One exponential serves g = e^{-r} - 1 + r (where |r| >= 1/2) and e^{-r} below.
    with np.errstate(over="ignore"):
        exp_m1 = np.expm1(np.negative(r))
    g = exp_m1 + r
    with np.errstate(over="ignore"):
        g_scaled = g * t * t  # T^2 g: inf only where the loss itself is
    small = np.abs(r) < _SERIES_BOUND
    if small.any():
        ratio_small = _series(r[small])
        r_small, s_small = r[small], scaled[small]
        g[small] = ratio_small * (r_small * r_small)
        g_scaled[small] = ratio_small * (s_small * s_small)
    live = weights > 0.0
    gone = ~live & (p.log_p > -np.inf)
    with np.errstate(invalid="ignore"):  # inf * 0 where p underflowed: set just below
        g *= weights
        g_scaled *= weights
    g[~live] = 0.0
    g_scaled[~live] = 0.0
    if gone.any():  # p underflowed, but p * e^{-r} need not have
        with np.errstate(over="ignore"):
            g[gone] = np.exp(p.log_p[gone] + _log_exp_minus_one_plus(r[gone]))
            g_scaled[gone] = g[gone] * t * t
    total = np.sum(g, axis=1)
    total_scaled = np.sum(g_scaled, axis=1)
    kl_centred = np.log1p(total)
    # T^2 log1p(total) = total_scaled * log1p(total) / total, the ratio 1 where total
    # underflowed.
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(total > 0.0, kl_centred / total, 1.0)
    loss_centred = total_scaled * ratio
    # Error scales, in units of KL: each term p e^{-r} carries the absolute error of r.
    with np.errstate(over="ignore", invalid="ignore"):
        spread = exp_m1
        spread += 1.0  # e^{-r}
        spread *= weights
        spread *= np.abs(raw + mean[:, None]) + np.abs(mean)[:, None]
        centred_error = np.sum(spread, axis=1) / (t * (1.0 + total))
    kl_direct, direct_error = _direct_kl(p, q)
    centred = centred_error < direct_error  # NaN or inf (a huge KL): direct
    with np.errstate(over="ignore"):
        loss_direct = kl_direct * t * t  # not kl * (t * t): t * t may overflow where kl is 0
    return _RowKL(
        np.where(centred, loss_centred, loss_direct),
        np.where(centred, kl_centred, kl_direct),
        r,
        centred,
    )


def _direct_kl(p: _core.RowSoftmax, q: _core.RowSoftmax) -> tuple[F64, F64]:
    """``sum p (log p - log q)`` per row (>= 0), and ``sum p (|log p| + |log q|)``."""
    live = p.p > 0.0
    with np.errstate(invalid="ignore"):
        diff = np.subtract(p.log_p, q.log_p)
        scale = np.abs(p.log_p) + np.abs(q.log_p)
    diff *= p.p
    scale *= p.p
    diff[~live] = 0.0  # p = 0 contributes 0, even where log q = -inf
    scale[~live] = 0.0
    kl = np.sum(diff, axis=1)
    np.maximum(kl, 0.0, out=kl)
    return kl, np.sum(scale, axis=1)


def _grad_rows(p: F64, q: F64, rows: _RowKL) -> F64:
    """``q - p`` per row, as ``p * expm1(-r - KL)`` where that avoids cancellation.

    ``q_c = p_c e^{-r_c - KL}`` exactly, so in the rows where r is accurate (those
    that took the centred KL) the difference keeps its relative accuracy where q is
    close to p; elsewhere (a factor e or more apart, p zero, or r inexact) the plain
    difference is used.
    """
    exponent = np.negative(rows.r)
    exponent -= rows.kl[:, None]
    close = (np.abs(exponent) < 1.0) & (p > 0.0) & rows.centred[:, None]
    grad = np.subtract(q, p)
    if close.any():
        grad[close] = p[close] * np.expm1(exponent[close])
    grad += 0.0  # -0.0 (from expm1(-0.0)) to 0.0, as q - p gives for equal rows
    return grad
