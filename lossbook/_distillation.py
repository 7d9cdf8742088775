"""Knowledge distillation: a student's softmax matched to a teacher's at temperature T (private).

Both softmaxes come from the numerics core (:func:`lossbook._core.row_softmax`)
on cache-sized float64 blocks of rows, so the loss and its gradient are
rounded once into the student's dtype and no full-size float64 temporary is
formed.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from lossbook import _core
from lossbook import _validation as v
from lossbook._loss_common import (
    ValueAndGrad,
    check_logits,
    grad_scale,
    overflow_is_inf,
    reduce_loss,
)
from lossbook._typing import FloatResult

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

    .. math:: \ell = T^2 \, \mathrm{KL}\bigl(\operatorname{softmax}(v / T)
              \,\big\|\, \operatorname{softmax}(z / T)\bigr)
              = T^2 \sum_c p_c \bigl(\log p_c - \log q_c\bigr),

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
        the shapes differ; if `temperature` is not positive and finite; or
        if `reduction` is unknown.
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

    *Accuracy.* The loss is a sum of terms :math:`T^2 p_c (\log p_c - \log
    q_c)` of either sign, so its error is a few ulp of
    :math:`T^2 \sum_c p_c (|\log p_c| + |\log q_c|)`, not of the loss itself,
    when the two distributions nearly agree. A loss that rounds below zero
    is returned as 0, the true KL divergence being non-negative.

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
        sb = _core.load_block(z2[part], student_work, "student_logits")
        tb = _core.load_block(v2[part], teacher_work, "teacher_logits")
        if t != 1.0:
            sb /= t
            tb /= t
        q = _core.row_softmax(sb, exact, student_work)
        p = _core.row_softmax(tb, exact, teacher_work)
        # KL = sum_c p_c (log p_c - log q_c); p_c = 0 contributes 0, even if log q_c = -inf.
        diff = student_work.get("diff", b)
        with np.errstate(invalid="ignore"):
            np.subtract(p.log_p, q.log_p, out=diff)
        np.multiply(diff, p.p, out=diff)
        diff[p.p == 0.0] = 0.0
        kl = np.sum(diff, axis=1)
        np.maximum(kl, 0.0, out=kl)
        loss[part] = kl * (t * t)
        if grad is not None:
            g = np.subtract(q.p, p.p, out=diff)
            g *= t * factor
            grad[part] = g
    value = v.cast_result(reduce_loss(loss.reshape(z.shape[:-1]), reduction, float(n)), z.dtype)
    return ValueAndGrad(value, None if grad is None else grad.reshape(z.shape))
