"""lossbook: cross-entropy and focal loss, derived and implemented with care.

The companion package of the *lossbook* executable book. Everything here is
plain NumPy: stable in float16, float32 and float64, broadcasting like NumPy,
validating its input, and never mutating the caller's arrays.

Functions of probabilities
    :func:`information`, :func:`entropy`, :func:`cross_entropy`,
    :func:`kl_divergence`
Functions of logits
    :func:`logsumexp`, :func:`softmax`, :func:`log_softmax`,
    :func:`softmax_jacobian`, :func:`sigmoid`, :func:`log_sigmoid`
Losses on logits, and their analytic gradients
    :func:`softmax_cross_entropy`, :func:`binary_cross_entropy_with_logits`,
    :func:`sigmoid_focal_loss`, :func:`softmax_focal_loss`, :func:`grad`,
    :func:`value_and_grad`, :func:`numerical_gradient`

Layout (everything but ``gradients`` is private; import from ``lossbook``):
``_core`` the numerics core (row softmax with the shift's rounding recovered,
sigmoid pieces, blocks and workspaces) that every function of logits uses;
``_special`` the softmax family and sigmoids; ``_information`` functions of
probabilities; ``_softmax_ce``, ``_fused_ce``, ``_binary_ce`` and ``_focal``
the losses; ``_loss_common`` their shared plumbing (the ``ValueAndGrad``
kernel protocol, reductions, elementwise chunking); ``_validation`` input
checks; ``_typing`` shared type aliases; ``gradients`` the registry
``_KERNELS`` of analytic gradient kernels and ``grad``/``value_and_grad``.
"""

from lossbook._binary_ce import binary_cross_entropy_with_logits
from lossbook._focal import sigmoid_focal_loss, softmax_focal_loss
from lossbook._information import cross_entropy, entropy, information, kl_divergence
from lossbook._softmax_ce import softmax_cross_entropy
from lossbook._special import (
    log_sigmoid,
    log_softmax,
    logsumexp,
    sigmoid,
    softmax,
    softmax_jacobian,
)
from lossbook.gradients import grad, numerical_gradient, value_and_grad

__version__ = "0.1.0"

__all__ = [
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "entropy",
    "grad",
    "information",
    "kl_divergence",
    "log_sigmoid",
    "log_softmax",
    "logsumexp",
    "numerical_gradient",
    "sigmoid",
    "sigmoid_focal_loss",
    "softmax",
    "softmax_cross_entropy",
    "softmax_focal_loss",
    "softmax_jacobian",
    "value_and_grad",
]
