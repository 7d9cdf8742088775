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
Imbalance and calibration
    :func:`class_balanced_weights`, :func:`logit_adjusted_cross_entropy`,
    :func:`poly1_cross_entropy`, :func:`reliability_bins`,
    :func:`expected_calibration_error`, :func:`fit_temperature`
Cross-entropy at scale
    :func:`linear_cross_entropy` (gradients as a :class:`LinearCrossEntropyGrad`)
Learning without class labels
    :func:`distillation_loss`, :func:`info_nce_loss`, :func:`sigmoid_pairwise_loss`

Layout (everything but ``gradients`` is private; import from ``lossbook``):
``_core`` the numerics core (row softmax with the shift's rounding recovered,
sigmoid pieces, blocks and workspaces) that every function of logits uses;
``_special`` the softmax family and sigmoids; ``_information`` functions of
probabilities; ``_softmax_ce``, ``_fused_ce``, ``_binary_ce`` and ``_focal``
the losses; ``_loss_common`` their shared plumbing (the ``ValueAndGrad``
kernel protocol, reductions, elementwise chunking); ``_imbalance`` and
``_calibration`` the imbalance and calibration tools; ``_linear_cross_entropy``
the chunked loss of a linear layer; ``_distillation`` and ``_contrastive`` the
losses without class labels (distillation; InfoNCE, CLIP and SigLIP); ``_validation`` input
checks; ``_typing`` shared type aliases; ``gradients`` the registry
``_KERNELS`` of analytic gradient kernels and ``grad``/``value_and_grad``.
"""

from lossbook._binary_ce import binary_cross_entropy_with_logits
from lossbook._calibration import (
    ReliabilityBins,
    expected_calibration_error,
    fit_temperature,
    reliability_bins,
)
from lossbook._contrastive import info_nce_loss, sigmoid_pairwise_loss
from lossbook._distillation import distillation_loss
from lossbook._focal import sigmoid_focal_loss, softmax_focal_loss
from lossbook._imbalance import (
    class_balanced_weights,
    logit_adjusted_cross_entropy,
    poly1_cross_entropy,
)
from lossbook._information import cross_entropy, entropy, information, kl_divergence
from lossbook._linear_cross_entropy import LinearCrossEntropyGrad, linear_cross_entropy
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

__version__ = "0.2.0"

__all__ = [
    "LinearCrossEntropyGrad",
    "ReliabilityBins",
    "binary_cross_entropy_with_logits",
    "class_balanced_weights",
    "cross_entropy",
    "distillation_loss",
    "entropy",
    "expected_calibration_error",
    "fit_temperature",
    "grad",
    "info_nce_loss",
    "information",
    "kl_divergence",
    "linear_cross_entropy",
    "log_sigmoid",
    "log_softmax",
    "logit_adjusted_cross_entropy",
    "logsumexp",
    "numerical_gradient",
    "poly1_cross_entropy",
    "reliability_bins",
    "sigmoid",
    "sigmoid_focal_loss",
    "sigmoid_pairwise_loss",
    "softmax",
    "softmax_cross_entropy",
    "softmax_focal_loss",
    "softmax_jacobian",
    "value_and_grad",
]
