"""Losses whose labels are the batch itself: InfoNCE/CLIP and SigLIP (private).

Both take the (N, N) matrix of scaled similarities of N matched pairs, the
positive of row i being column i. InfoNCE is the softmax cross-entropy of
each row (and, for CLIP, each column) against that diagonal, so it runs the
cross-entropy kernel of :mod:`lossbook._softmax_ce` unchanged. The sigmoid
pairwise loss is elementwise, so it is computed with the formulas of the
numerics core's log-sigmoids on cache-sized float64 blocks of rows; no row or column sum of
the whole matrix is needed, which is what lets SigLIP compute it in chunks.
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
from lossbook._softmax_ce import _softmax_cross_entropy
from lossbook._typing import FloatResult

__all__ = ["info_nce_loss", "sigmoid_pairwise_loss"]


def info_nce_loss(
    logits: ArrayLike, *, symmetric: bool = False, reduction: str = "mean"
) -> FloatResult:
    r"""InfoNCE: the cross-entropy of each row of a similarity matrix against its diagonal.

    For an :math:`N \times N` matrix :math:`S` of logits (similarities
    already divided by the temperature), row :math:`i` has its positive in
    column :math:`i` and its :math:`N - 1` negatives elsewhere:

    .. math:: \ell_i = -\log \frac{e^{S_{ii}}}{\sum_j e^{S_{ij}}}
              = \operatorname{LSE}_j(S_{ij}) - S_{ii},

    the loss of van den Oord, Li and Vinyals [1]_. With ``symmetric=True``
    each example's loss is the mean of its row's and its column's,
    :math:`\tfrac12 (\ell_i^{\text{row}} + \ell_i^{\text{col}})`, the
    symmetric loss of CLIP [2]_.

    Parameters
    ----------
    logits : array_like
        Scaled similarities, shape ``(..., N, N)`` (a stack of batches is
        allowed); entry ``[..., i, j]`` scores example i of the first kind
        (an image, a context) against example j of the second (a text, a
        future sample). Must be finite.
    symmetric : bool, optional
        Also classify each column against its diagonal entry and average
        the two losses (CLIP). Default False.
    reduction : {'mean', 'sum', 'none'}, optional
        'none' returns one loss per example (shape ``logits.shape[:-1]``),
        'sum' their sum, 'mean' (default) their mean.

    Returns
    -------
    ndarray or scalar
        The loss, with the dtype of `logits` (float64 for integer logits).

    Raises
    ------
    ValueError
        If `logits` contains NaN or an infinity or is not square in its last
        two axes, or if `reduction` is unknown.
    TypeError
        If `logits` is not real-valued or `symmetric` is not a bool.

    See Also
    --------
    softmax_cross_entropy : The same loss with any class-index targets.
    sigmoid_pairwise_loss : Every pair as its own binary problem (SigLIP).

    Notes
    -----
    The loss is exactly ``softmax_cross_entropy(logits, arange(N))``, and
    its gradient with respect to :math:`S` is
    :math:`(\operatorname{softmax}(S) - I) / N` for 'mean' (rows), and the
    average of that and its column counterpart for ``symmetric=True``. In
    PyTorch [3]_: ``cross_entropy(S, arange(N))`` and, for CLIP,
    ``(cross_entropy(S, arange(N)) + cross_entropy(S.T, arange(N))) / 2``.

    With :math:`N` candidates, :math:`\log N - \ell` (the mean loss) is a
    lower bound on the mutual information of the two kinds of examples [1]_;
    since the loss is non-negative, the bound never exceeds :math:`\log N`.

    References
    ----------
    .. [1] A. van den Oord, Y. Li and O. Vinyals, "Representation Learning
       with Contrastive Predictive Coding", arXiv:1807.03748, 2018,
       section 2.3.
    .. [2] A. Radford et al., "Learning Transferable Visual Models From
       Natural Language Supervision", ICML 2021, figure 3.
    .. [3] PyTorch documentation, ``torch.nn.functional.cross_entropy``,
       https://pytorch.org/docs/stable/generated/torch.nn.functional.cross_entropy.html

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook import info_nce_loss
    >>> s = np.array([[4.0, 1.0, 0.0], [0.0, 3.0, 1.0], [2.0, 0.0, 2.0]])
    >>> info_nce_loss(s, reduction="none").round(6)
    array([0.065884, 0.169846, 0.758624])
    >>> info_nce_loss(s, symmetric=True, reduction="none").round(6)
    array([0.104408, 0.169846, 0.583115])

    Uninformative logits give exactly :math:`\log N`:

    >>> float(info_nce_loss(np.zeros((4, 4)))) == float(np.log(4))
    True
    """
    return _info_nce_loss(logits, symmetric=symmetric, reduction=reduction).value


@overflow_is_inf
def _info_nce_loss(
    logits: ArrayLike,
    *,
    symmetric: bool = False,
    reduction: str = "mean",
    need_grad: bool = False,
) -> ValueAndGrad:
    z = check_logits(logits, classes=True)
    n = v.check_square(z, "logits")
    if not isinstance(symmetric, (bool, np.bool_)):
        raise TypeError(f"symmetric must be a bool, got {type(symmetric).__name__}")
    reduction = v.check_reduction(reduction)
    diagonal = np.broadcast_to(np.arange(n), z.shape[:-1])
    rows = _softmax_cross_entropy(z, diagonal, reduction=reduction, need_grad=need_grad)
    if not symmetric:
        return rows
    # The columns in blocks of ~COLUMN_BLOCK_ELEMENTS: each block of columns is copied,
    # transposed, into one C-ordered buffer and run through the row kernel, so no full-size
    # transpose is formed (the kernel's row blocks of a transposed view are strided, which
    # measured 6x slower than a contiguous copy).
    z3 = z.reshape(-1, n, n)
    per_col = np.empty((z3.shape[0], n), z.dtype)
    factor = grad_scale(reduction, float(per_col.size))
    width = _core.block_rows(n, _COLUMN_BLOCK_ELEMENTS)
    buffer = np.empty((min(width, n), n), z.dtype)
    grad = None if rows.grad is None else rows.grad.reshape(z3.shape)
    for k, matrix in enumerate(z3):
        for part in _core.row_slices(n, width):
            block = buffer[: part.stop - part.start]
            np.copyto(block, matrix[:, part].T)
            cols = _softmax_cross_entropy(
                block, np.arange(part.start, part.stop), reduction="none", need_grad=need_grad
            )
            per_col[k, part] = cols.value
            if grad is not None and cols.grad is not None:
                # Averaged in float64 and rounded once.
                both = cols.grad.T.astype(np.float64)
                if factor != 1.0:
                    both *= factor
                both += grad[k][:, part]
                both *= 0.5
                grad[k][:, part] = both
    col_losses = per_col.reshape(z.shape[:-1]).astype(np.float64)
    # Averaged in float64 and rounded once.
    value = 0.5 * (
        np.asarray(rows.value, np.float64)
        + np.asarray(reduce_loss(col_losses, reduction, float(per_col.size)), np.float64)
    )
    return ValueAndGrad(
        v.cast_result(value, z.dtype), None if grad is None else grad.reshape(z.shape)
    )


# Elements per block of columns in the symmetric InfoNCE (512 KiB of float64; larger
# blocks measured slower at 2048 x 2048).
_COLUMN_BLOCK_ELEMENTS = 1 << 16


def sigmoid_pairwise_loss(logits: ArrayLike, *, reduction: str = "mean") -> FloatResult:
    r"""SigLIP's loss: every pair of a batch as its own binary problem.

    For an :math:`N \times N` matrix :math:`S` of logits (scaled
    similarities plus bias, :math:`S_{ij} = t\, x_i \cdot y_j + b`), pair
    :math:`(i, j)` has the label :math:`\lambda_{ij} = +1` if :math:`i = j`
    and :math:`-1` otherwise, and the loss

    .. math:: \ell_{ij} = -\log \sigma(\lambda_{ij} S_{ij})
              = \log\bigl(1 + e^{-\lambda_{ij} S_{ij}}\bigr),

    the sigmoid loss of Zhai et al. [1]_. 'mean' divides the sum over all
    :math:`N^2` pairs by :math:`N`, as the paper does.

    Parameters
    ----------
    logits : array_like
        Pair logits, shape ``(..., N, N)`` (a stack of batches is allowed).
        Must be finite.
    reduction : {'mean', 'sum', 'none'}, optional
        'none' returns the ``(..., N, N)`` matrix of pair losses, 'sum' its
        total, and 'mean' (default) the total divided by the number of rows,
        ``prod(shape[:-1])`` (N for one batch).

    Returns
    -------
    ndarray or scalar
        The loss, with the dtype of `logits` (float64 for integer logits).

    Raises
    ------
    ValueError
        If `logits` contains NaN or an infinity or is not square in its last
        two axes, or if `reduction` is unknown.
    TypeError
        If `logits` is not real-valued.

    See Also
    --------
    binary_cross_entropy_with_logits : The same loss with any targets.
    info_nce_loss : The softmax (InfoNCE, CLIP) counterpart.

    Notes
    -----
    The loss equals ``binary_cross_entropy_with_logits(S, eye(N),
    reduction='sum') / N``, computed without forming the target matrix;
    in PyTorch [2]_ ``-logsigmoid((2 * eye(N) - 1) * S).sum() / N``. The
    gradient is :math:`\partial \ell_{ij} / \partial S_{ij} =
    -\lambda_{ij}\, \sigma(-\lambda_{ij} S_{ij})`: :math:`\sigma(S_{ij})` off
    the diagonal and :math:`\sigma(S_{ii}) - 1` on it. Each pair's loss
    depends on its own logit only, so the total is a plain sum over any
    partition of the pairs -- the property that lets SigLIP compute it
    device by device [1]_.

    References
    ----------
    .. [1] X. Zhai, B. Mustafa, A. Kolesnikov and L. Beyer, "Sigmoid Loss
       for Language Image Pre-Training", ICCV 2023, algorithm 1 and
       section 3.
    .. [2] PyTorch documentation, ``torch.nn.functional.logsigmoid``,
       https://pytorch.org/docs/stable/generated/torch.nn.functional.logsigmoid.html

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook import sigmoid_pairwise_loss
    >>> s = np.array([[3.0, -2.0], [-4.0, 1.0]])
    >>> sigmoid_pairwise_loss(s, reduction="none").round(6)
    array([[0.048587, 0.126928],
           [0.01815 , 0.313262]])
    >>> round(float(sigmoid_pairwise_loss(s)), 6)
    0.253463

    At SigLIP's initial bias of -10 every negative pair is almost free:

    >>> float(sigmoid_pairwise_loss(np.full((2, 2), -10.0), reduction="none")[0, 1]) < 5e-5
    True
    """
    return _sigmoid_pairwise_loss(logits, reduction=reduction).value


@overflow_is_inf
def _sigmoid_pairwise_loss(
    logits: ArrayLike, *, reduction: str = "mean", need_grad: bool = False
) -> ValueAndGrad:
    z = check_logits(logits, classes=True)
    n = v.check_square(z, "logits")
    reduction = v.check_reduction(reduction)
    z2 = z.reshape(-1, n)
    n_rows = z2.shape[0]
    per_pair = np.empty(z2.shape, z.dtype) if reduction == "none" else None
    grad = np.empty(z2.shape, z.dtype) if need_grad else None
    factor = grad_scale(reduction, float(n_rows))
    total = 0.0
    rows = _core.block_rows(n)
    work = _core.Workspace(min(rows, n_rows), n)
    for part in _core.row_slices(n_rows, rows):
        b = part.stop - part.start
        block = _core.load_block(z2[part], work, masks=False)
        here = np.arange(b)
        diagonal = np.arange(part.start, part.stop) % n  # row r of the stack is row r % N
        s_diag = block[here, diagonal]
        # The formulas of _core.sigmoid_parts, one quantity per pair instead of four:
        # with e = exp(-|S|), -log sigma(-S) = max(S, 0) + log1p(e) off the diagonal and
        # -log sigma(S) = max(-S, 0) + log1p(e) on it (same roundings, so the same bits).
        small = np.abs(block, out=work.get("small", b))
        np.negative(small, out=small)
        np.exp(small, out=small)
        loss = np.log1p(small, out=work.get("loss", b))
        loss += np.maximum(block, 0.0, out=work.get("relu", b))
        e_diag = small[here, diagonal]
        loss[here, diagonal] = np.maximum(-s_diag, 0.0) + np.log1p(e_diag)
        if per_pair is None:
            total += float(np.sum(loss))
        else:
            per_pair[part] = loss
        if grad is not None:
            # sigma(S) = where(S >= 0, 1, e) / (1 + e) off the diagonal, and
            # sigma(S) - 1 = -where(S >= 0, e, 1) / (1 + e) on it (no cancellation).
            one_plus = np.add(small, 1.0, out=work.get("one_plus", b))
            g = np.where(block >= 0, 1.0, small)
            g /= one_plus
            g[here, diagonal] = -np.where(s_diag >= 0, e_diag, 1.0) / one_plus[here, diagonal]
            if factor != 1.0:
                g *= factor
            grad[part] = g
    if per_pair is not None:
        value = v.cast_result(per_pair.reshape(z.shape), z.dtype)
    else:
        mean = total / n_rows if n_rows else 0.0  # an empty stack: 0.0, as every mean here
        value = v.cast_result(mean if reduction == "mean" else total, z.dtype)
    return ValueAndGrad(value, None if grad is None else grad.reshape(z.shape))
