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
Cross-entropy at scale
    :func:`linear_cross_entropy` (gradients as a :class:`LinearCrossEntropyGrad`)
"""

from lossbook._linear_cross_entropy import LinearCrossEntropyGrad, linear_cross_entropy
from lossbook.focal import sigmoid_focal_loss, softmax_focal_loss
from lossbook.gradients import grad, numerical_gradient, value_and_grad
from lossbook.information import cross_entropy, entropy, information, kl_divergence
from lossbook.losses import binary_cross_entropy_with_logits, softmax_cross_entropy
from lossbook.special import (
    log_sigmoid,
    log_softmax,
    logsumexp,
    sigmoid,
    softmax,
    softmax_jacobian,
)

__version__ = "0.1.0"

__all__ = [
    "information",
    "entropy",
    "cross_entropy",
    "kl_divergence",
    "logsumexp",
    "softmax",
    "log_softmax",
    "softmax_jacobian",
    "sigmoid",
    "log_sigmoid",
    "softmax_cross_entropy",
    "binary_cross_entropy_with_logits",
    "sigmoid_focal_loss",
    "softmax_focal_loss",
    "grad",
    "value_and_grad",
    "numerical_gradient",
    "linear_cross_entropy",
    "LinearCrossEntropyGrad",
]
