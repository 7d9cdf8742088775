"""Analytic gradients of the losses, and a finite-difference check for them.

``grad(loss)`` and ``value_and_grad(loss)`` follow the JAX idiom: they take a
loss function and return a new function with the same signature. There is no
automatic differentiation here; each loss has a hand-derived gradient kernel
registered in ``_KERNELS``, which computes the value and the gradient with
respect to the logits in one pass, sharing the softmax or sigmoid between
them. :func:`numerical_gradient` checks those derivations by central
differences.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from lossbook import _validation as v
from lossbook._binary_ce import _binary_cross_entropy_with_logits, binary_cross_entropy_with_logits
from lossbook._contrastive import (
    _info_nce_loss,
    _sigmoid_pairwise_loss,
    info_nce_loss,
    sigmoid_pairwise_loss,
)
from lossbook._distillation import _distillation_loss, distillation_loss
from lossbook._focal import (
    _sigmoid_focal_loss,
    _softmax_focal_loss,
    sigmoid_focal_loss,
    softmax_focal_loss,
)
from lossbook._imbalance import (
    _logit_adjusted_cross_entropy,
    _poly1_cross_entropy,
    logit_adjusted_cross_entropy,
    poly1_cross_entropy,
)
from lossbook._linear_cross_entropy import _linear_cross_entropy, linear_cross_entropy
from lossbook._loss_common import ValueAndGrad
from lossbook._softmax_ce import _softmax_cross_entropy, softmax_cross_entropy
from lossbook._typing import FloatArray

__all__ = ["grad", "numerical_gradient", "value_and_grad"]

# Each kernel takes the loss's own arguments plus need_grad=True and returns
# ValueAndGrad(value, d value / d logits).
_KERNELS: dict[Callable[..., Any], Callable[..., ValueAndGrad]] = {
    softmax_cross_entropy: _softmax_cross_entropy,
    binary_cross_entropy_with_logits: _binary_cross_entropy_with_logits,
    sigmoid_focal_loss: _sigmoid_focal_loss,
    softmax_focal_loss: _softmax_focal_loss,
    logit_adjusted_cross_entropy: _logit_adjusted_cross_entropy,
    poly1_cross_entropy: _poly1_cross_entropy,
    distillation_loss: _distillation_loss,
    info_nce_loss: _info_nce_loss,
    sigmoid_pairwise_loss: _sigmoid_pairwise_loss,
    # Returns (value, LinearCrossEntropyGrad(hidden, weight, bias)): three gradients.
    linear_cross_entropy: _linear_cross_entropy,  # type: ignore[dict-item]
}


def _kernel(loss: Any, caller: str) -> tuple[Callable[..., ValueAndGrad], inspect.Signature]:
    kernel = _KERNELS.get(loss) if callable(loss) else None
    if kernel is None:
        supported = ", ".join(f.__name__ for f in _KERNELS)
        name = getattr(loss, "__qualname__", None) or repr(loss)
        raise TypeError(
            f"{caller}() has analytic gradients only for lossbook's losses ({supported}); "
            f"got {name}"
        )
    return kernel, inspect.signature(loss)


def _wrap(loss: Any, caller: str, pick: Callable[[ValueAndGrad], Any]) -> Callable[..., Any]:
    kernel, signature = _kernel(loss, caller)

    @functools.wraps(loss)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)  # the loss's own TypeError for bad arguments
        return pick(kernel(*bound.args, **bound.kwargs, need_grad=True))

    wrapper.__name__ = wrapper.__qualname__ = f"{caller}({loss.__name__})"
    wrapper.__doc__ = (
        f"{caller} of :func:`lossbook.{loss.__name__}` with respect to its logits "
        "(its hidden states, weight and bias for linear_cross_entropy); "
        f"same arguments. See :func:`lossbook.{caller}`."
    )
    return wrapper


def grad(loss: Callable[..., Any]) -> Callable[..., FloatArray]:
    r"""Return a function computing the gradient of `loss` with respect to its logits.

    Parameters
    ----------
    loss : callable
        One of lossbook's losses: :func:`softmax_cross_entropy`,
        :func:`binary_cross_entropy_with_logits`, :func:`sigmoid_focal_loss`,
        :func:`softmax_focal_loss`, :func:`logit_adjusted_cross_entropy`,
        :func:`poly1_cross_entropy`, :func:`distillation_loss` (with respect
        to the student's logits), :func:`info_nce_loss`,
        :func:`sigmoid_pairwise_loss` or :func:`linear_cross_entropy`.

    Returns
    -------
    callable
        A function with the signature of `loss` that returns
        :math:`\partial L / \partial \text{logits}`: an array with the shape
        and dtype of `logits` (float64 for integer logits). For
        :func:`linear_cross_entropy`, which takes no logits, it returns a
        :class:`LinearCrossEntropyGrad` with the gradients with respect to
        `hidden`, `weight` and `bias` instead. For
        ``reduction='none'`` it is the gradient of the *sum* of the
        per-example losses -- the vector-Jacobian product with a vector of
        ones, as ``jax.grad`` of ``loss(...).sum()`` would give.

    Raises
    ------
    TypeError
        If `loss` is not one of the losses above (there is no
        automatic differentiation; each loss has a derived gradient).

    See Also
    --------
    value_and_grad : The loss and its gradient from one pass.
    numerical_gradient : A finite-difference check.

    Notes
    -----
    For softmax cross-entropy the gradient is
    :math:`(\operatorname{softmax}(z) \sum_c t_c - t) \cdot s` with the
    effective target :math:`t` (weights and label smoothing folded in) and
    the reduction's scale :math:`s`; no :math:`C \times C` Jacobian is ever
    formed [1]_. The focal gradients are derived in the book's focal-loss
    chapter and written so that they stay finite for :math:`\gamma < 1`.

    References
    ----------
    .. [1] I. Goodfellow, Y. Bengio and A. Courville, *Deep Learning*,
       MIT Press, 2016, section 6.2.2.3.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook import grad, softmax_cross_entropy
    >>> g = grad(softmax_cross_entropy)
    >>> g(np.zeros((1, 4)), np.array([2]))
    array([[ 0.25,  0.25, -0.75,  0.25]])
    """
    return _wrap(loss, "grad", lambda result: result.grad)


def value_and_grad(loss: Callable[..., Any]) -> Callable[..., tuple[Any, FloatArray]]:
    r"""Return a function computing `loss` and its gradient in one fused pass.

    Parameters
    ----------
    loss : callable
        One of lossbook's losses: :func:`softmax_cross_entropy`,
        :func:`binary_cross_entropy_with_logits`, :func:`sigmoid_focal_loss`,
        :func:`softmax_focal_loss`, :func:`logit_adjusted_cross_entropy`,
        :func:`poly1_cross_entropy`, :func:`distillation_loss` (with respect
        to the student's logits), :func:`info_nce_loss`,
        :func:`sigmoid_pairwise_loss` or :func:`linear_cross_entropy`.

    Returns
    -------
    callable
        A function with the signature of `loss` returning ``(value, grad)``:
        `value` exactly as `loss` returns it, and `grad` as :func:`grad`
        returns it (for ``reduction='none'``, the gradient of the sum).

    Raises
    ------
    TypeError
        If `loss` is not one of the losses above.

    See Also
    --------
    grad, numerical_gradient

    Notes
    -----
    The name and the ``(value, grad)`` convention are those of
    ``jax.value_and_grad`` [1]_. The softmax (or sigmoid) is computed once
    and serves both the value and the gradient. For
    :func:`softmax_cross_entropy` with class-index targets and no label
    smoothing, rows are processed in cache-sized blocks written straight into
    the gradient buffer, so the whole call costs about as much as two or
    three passes of ``np.exp`` over the logits.

    References
    ----------
    .. [1] J. Bradbury et al., *JAX: composable transformations of
       Python+NumPy programs*, ``jax.value_and_grad``, 2018,
       https://jax.readthedocs.io/en/latest/_autosummary/jax.value_and_grad.html

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook import value_and_grad, binary_cross_entropy_with_logits
    >>> f = value_and_grad(binary_cross_entropy_with_logits)
    >>> value, g = f(np.array([0.0, 0.0]), np.array([1.0, 0.0]), reduction="sum")
    >>> float(value)
    1.3862943611198906
    >>> g
    array([-0.5,  0.5])
    """
    return _wrap(loss, "value_and_grad", lambda result: (result.value, result.grad))


def numerical_gradient(
    f: Callable[[FloatArray], Any], x: ArrayLike, eps: float | None = None
) -> FloatArray:
    r"""Central-difference gradient of a scalar function `f` at `x`.

    .. math:: \frac{\partial f}{\partial x_i} \approx
              \frac{f(x + h_i e_i) - f(x - h_i e_i)}{2 h_i}

    Parameters
    ----------
    f : callable
        Takes an array shaped like `x` (of its dtype) and returns a real
        scalar.
    x : array_like
        The point; float64 is recommended. Not modified.
    eps : float, optional
        Relative step: :math:`h_i = \text{eps} \cdot \max(1, |x_i|)`. The
        default, the cube root of the machine epsilon of `x`'s dtype
        (about 6e-6 in float64), balances truncation error
        (:math:`O(h^2)`) against rounding error (:math:`O(\epsilon / h)`).

    Returns
    -------
    ndarray
        The estimated gradient, shaped like `x`, with its dtype (float64
        for integer input).

    Raises
    ------
    ValueError
        If `eps` is not positive and finite, `x` contains NaN or an
        infinity, or `f` returns something other than a finite scalar.
    TypeError
        If `f` is not callable or `x` is not real-valued.

    Notes
    -----
    The divisor is the step actually taken, ``(x_i + h) - (x_i - h)`` as
    represented, not :math:`2h`, which removes the representation error of
    the step [1]_. The error is then about
    :math:`\epsilon^{2/3} \max(1, |x_i|)` relative to the scale of `f`.
    It costs ``2 * x.size`` calls of `f`.

    References
    ----------
    .. [1] J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed.,
       Springer, 2006, section 8.1.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook import numerical_gradient
    >>> g = numerical_gradient(lambda x: np.sum(x**3), np.array([1.0, 2.0]))
    >>> np.allclose(g, [3.0, 12.0])
    True
    """
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    point = v.as_float_array(x, "x")
    v.check_finite(point, "x")
    dtype = point.dtype
    step = float(np.cbrt(np.finfo(dtype).eps)) if eps is None else v.check_real_scalar(eps, "eps")
    if step <= 0:
        raise ValueError(f"eps must be positive, got {eps!r}")
    # A fresh C-ordered copy, so that reshape(-1) is a view of it (for Fortran-ordered or
    # transposed input, astype(copy=True) keeps the memory order and reshape would copy).
    work = np.array(point, dtype=dtype, order="C", copy=True)
    flat = work.reshape(-1)
    result = np.empty(work.size, np.float64)
    for i, xi in enumerate(point.reshape(-1).tolist()):
        h = step * max(1.0, abs(xi))
        flat[i] = xi + h
        upper, f_upper = float(flat[i]), _scalar(f(work))
        flat[i] = xi - h
        lower, f_lower = float(flat[i]), _scalar(f(work))
        flat[i] = xi
        result[i] = (f_upper - f_lower) / (upper - lower)
    return result.reshape(point.shape).astype(dtype)


def _scalar(value: Any) -> float:
    array = np.asarray(value)
    if array.size != 1 or not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
        raise ValueError(f"f must return a real scalar, got {value!r}")
    result = float(array.reshape(()))
    if not np.isfinite(result):
        raise ValueError(f"f returned a non-finite value ({result})")
    return result
