"""Private input checks shared by every public function.

Each helper names the offending argument in its message, so that a user who
passes a bad array learns *which* one and *what* is wrong with it, instead of
receiving a silent NaN three calls later.
"""

from __future__ import annotations

import math
from typing import Any, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossbook._typing import BoolArray, FloatArray, FloatDType, FloatResult, IntpArray

__all__: list[str] = []

_FLOAT_TYPES = (np.float16, np.float32, np.float64)


def as_real_array(x: ArrayLike, name: str) -> NDArray[Any]:
    """Return `x` as an array of a real dtype (bool, integer or float), never copying.

    For arguments that are used block by block (targets, weights), so that a
    conversion to float happens one cache-sized block at a time. Complex,
    object and string arrays raise ``TypeError`` naming `name`.
    """
    try:
        array = np.asarray(x)
    except Exception as exc:  # ragged nested lists and the like
        raise TypeError(f"{name} must be array-like of real numbers: {exc}") from exc
    kind = array.dtype.kind
    if kind in "biuf":
        return array
    raise TypeError(
        f"{name} must hold real numbers (float16, float32, float64, int or bool), "
        f"got dtype {array.dtype}"
    )


def as_float_array(x: ArrayLike, name: str) -> FloatArray:
    """Return `x` as a floating-point array without copying when possible.

    float16, float32 and float64 are kept as they are; booleans and integers
    become float64, as in NumPy's own ufuncs. Anything else (complex, object,
    strings) raises ``TypeError`` naming `name`.
    """
    try:
        array = np.asarray(x)
    except Exception as exc:  # ragged nested lists and the like
        raise TypeError(f"{name} must be array-like of real numbers: {exc}") from exc
    dtype = array.dtype
    if dtype.type in _FLOAT_TYPES:
        return array
    if np.issubdtype(dtype, np.bool_) or np.issubdtype(dtype, np.integer):
        return array.astype(np.float64)
    if np.issubdtype(dtype, np.floating):  # longdouble: no accurate libm everywhere
        return array.astype(np.float64)
    raise TypeError(
        f"{name} must hold real numbers (float16, float32, float64, int or bool), got dtype {dtype}"
    )


def compute_dtype(dtype: FloatDType) -> FloatDType:
    """The dtype to compute in: float16 is widened to float32.

    float16 has 11 significant bits and overflows at 65504, so intermediate
    sums and exponentials are carried in float32 and rounded once at the end.
    """
    return np.dtype(np.float32) if dtype == np.float16 else np.dtype(dtype)


def cast_array(result: ArrayLike, dtype: FloatDType) -> FloatArray:
    """Round `result` once to the caller's `dtype`.

    A result computed in a wider dtype can lie beyond the caller's range
    (``log_softmax`` of float16 ``[-65504, 65504]`` is -131008); inf is then
    the correctly rounded value, so the cast's overflow warning is silenced.
    """
    with np.errstate(over="ignore"):
        array: FloatArray = np.asarray(result).astype(dtype, copy=False)
    return array


def cast_result(result: ArrayLike, dtype: FloatDType) -> FloatResult:
    """:func:`cast_array`, with a 0-d result returned as a NumPy scalar."""
    array = cast_array(result, dtype)
    return cast(FloatResult, array[()]) if array.ndim == 0 else array


def check_no_nan(x: NDArray[Any], name: str) -> None:
    """Raise ``ValueError`` if `x` contains NaN."""
    if np.isnan(x).any():
        raise ValueError(f"{name} contains NaN")


def check_finite(x: NDArray[Any], name: str) -> None:
    """Raise ``ValueError`` if `x` contains NaN or an infinity."""
    check_no_nan(x, name)
    if np.isinf(x).any():
        raise ValueError(f"{name} contains an infinite value")


def check_masked_logits(x: NDArray[Any], name: str) -> None:
    """Raise ``ValueError`` for NaN or ``+inf`` in `x`; ``-inf`` (a mask) is allowed.

    ``-inf`` marks an entry that can never be chosen (probability 0), as in
    ``logits.masked_fill(mask, -inf)``; whether the loss is then finite (no
    target mass on a ``-inf`` entry, not every entry of a row ``-inf``) is
    checked by the caller, who knows the targets.
    """
    check_no_nan(x, name)
    if np.isposinf(x).any():
        raise ValueError(f"{name} contains +inf; only -inf is accepted (as a mask: probability 0)")


def check_masked_rows(top: NDArray[Any], name: str) -> None:
    """Raise ``ValueError`` if a row's largest logit `top` is -inf (every entry masked)."""
    if np.isneginf(top).any():
        raise ValueError(
            f"{name} has a row whose entries are all -inf; softmax is undefined there "
            "and the loss would be infinite"
        )


def check_target_not_masked(z_target: NDArray[Any], name: str) -> None:
    """Raise ``ValueError`` if a target's logit is -inf: its loss would be infinite."""
    if np.isneginf(z_target).any():
        raise ValueError(
            f"{name} is -inf at a target class (a masked entry), so the loss would be "
            "infinite; -inf is accepted only where the target has no mass"
        )


def check_axis(axis: object, ndim: int, name: str = "axis") -> int:
    """Return `axis` normalised to ``0 <= axis < ndim``."""
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(axis).__name__}")
    if ndim == 0:
        raise ValueError(f"{name}={axis} is invalid for a 0-d input; pass at least a 1-d array")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name}={axis} is out of bounds for an array of dimension {ndim}")
    return int(axis) % ndim


def broadcast_pair(
    a: NDArray[Any], b: NDArray[Any], name_a: str, name_b: str
) -> tuple[NDArray[Any], NDArray[Any]]:
    """Broadcast two arrays, naming both in the error if their shapes clash."""
    try:
        return np.broadcast_arrays(a, b)  # type: ignore[return-value]
    except ValueError:
        raise ValueError(
            f"{name_a} with shape {a.shape} and {name_b} with shape {b.shape} "
            "do not broadcast together"
        ) from None


def sum_tolerance(dtype: FloatDType, n: int) -> float:
    """How far from 1 a sum of `n` probabilities of `dtype` may be.

    The larger of sqrt(eps) and n*eps: loose enough for probabilities that
    were themselves computed in `dtype` (rounding grows at worst like n*eps),
    tight enough to reject hand-typed values that were never normalised.
    """
    eps = float(np.finfo(dtype).eps)
    return max(math.sqrt(eps), n * eps)


def check_probabilities(p: NDArray[Any], name: str) -> None:
    """Raise ``ValueError`` unless every entry of `p` lies in [0, 1]."""
    check_no_nan(p, name)
    if (p < 0).any():
        raise ValueError(f"{name} has negative entries; probabilities must lie in [0, 1]")
    if (p > 1).any():
        raise ValueError(f"{name} has entries greater than 1; probabilities must lie in [0, 1]")


def check_distribution(p: NDArray[Any], name: str, axis: int) -> None:
    """Raise ``ValueError`` unless `p` is a probability distribution along `axis`."""
    check_probabilities(p, name)
    n = p.shape[axis]
    if n == 0:
        raise ValueError(f"{name} is empty along axis {axis}")
    totals = np.sum(p, axis=axis, dtype=np.float64)
    tol = sum_tolerance(p.dtype, n)
    worst = float(np.max(np.abs(totals - 1.0))) if totals.size else 0.0
    if worst > tol:
        raise ValueError(
            f"{name} does not sum to 1 along axis {axis} "
            f"(off by {worst:.3g}, tolerance {tol:.3g} for {p.dtype})"
        )


def check_base(base: object) -> float | None:
    """Return log(base), or None for the natural logarithm."""
    if base is None:
        return None
    if isinstance(base, np.ndarray) and base.ndim == 0:
        base = base[()]
    if isinstance(base, (bool, np.bool_)) or not isinstance(
        base, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"base must be a real number or None, got {base!r}")
    value = float(base)
    if not np.isfinite(value) or value <= 0 or value == 1:
        raise ValueError(f"base must be positive, finite and not 1, got {base!r}")
    return float(np.log(value))


def check_reduction(reduction: object) -> str:
    """Raise ``ValueError`` unless `reduction` is 'none', 'mean' or 'sum'."""
    if not isinstance(reduction, str) or reduction not in ("none", "mean", "sum"):
        raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
    return reduction


# --- helpers for the losses (the private loss modules) -------------------


def check_real_scalar(x: object, name: str) -> float:
    """Return `x` as a finite Python float; ``TypeError`` unless it is a real scalar.

    Python and NumPy scalars and 0-d arrays are accepted.
    """
    if isinstance(x, np.ndarray) and x.ndim == 0:
        x = x[()]
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(x).__name__}")
    value = float(x)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {x!r}")
    return value


def check_unit_interval(x: object, name: str) -> float:
    """Return `x` as a float after checking that it lies in [0, 1]."""
    value = check_real_scalar(x, name)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {x!r}")
    return value


def check_ignore_index(ignore_index: object) -> int | None:
    """Return `ignore_index` as an int, or None; ``TypeError`` for anything else."""
    if ignore_index is None:
        return None
    if isinstance(ignore_index, np.ndarray) and ignore_index.ndim == 0:
        ignore_index = ignore_index[()]
    if isinstance(ignore_index, (bool, np.bool_)) or not isinstance(
        ignore_index, (int, np.integer)
    ):
        raise TypeError(
            f"ignore_index must be an integer or None, got {type(ignore_index).__name__}"
        )
    return int(ignore_index)


def check_index_dtype(target: NDArray[Any], name: str = "target") -> None:
    """Raise ``TypeError`` for a bool array where class indices are expected.

    True would otherwise be read silently as class 1; one check, one exception
    type, for every function that takes class indices.
    """
    if target.dtype.kind == "b":
        raise TypeError(
            f"{name} holds class indices, which need an integer dtype (or floats holding "
            f"whole numbers); got dtype bool"
        )


def check_class_indices(
    target: NDArray[Any],
    shape: tuple[int, ...],
    n_classes: int,
    ignore_index: int | None,
    name: str = "target",
) -> tuple[IntpArray, BoolArray | None]:
    """Validate integer class indices; return them (ignored entries set to 0) and a mask.

    `target` must already have an integer dtype, or a floating dtype holding
    whole numbers. The mask marks the entries that count (None when
    `ignore_index` is None, meaning every entry counts).
    """
    check_index_dtype(target, name)
    if target.shape != shape:
        raise ValueError(
            f"{name} holds class indices, so its shape must be logits.shape[:-1] = {shape}; "
            f"got {target.shape}"
        )
    if not np.issubdtype(target.dtype, np.integer):
        check_no_nan(target, name)
        if (target != np.round(target)).any():
            raise ValueError(f"{name} holds class indices, but has non-integer values")
    valid = None if ignore_index is None else target != ignore_index
    bad = (target < 0) | (target >= n_classes)
    if valid is not None:
        bad &= valid
    if bad.any():
        first = target[bad].flat[0].item()
        raise ValueError(
            f"{name} has class index {first!r} outside [0, {n_classes}) "
            f"(ignore_index={ignore_index})"
        )
    indices = target.astype(np.intp, copy=False)
    if valid is not None:
        indices = np.where(valid, indices, 0)
    return indices, valid


def check_broadcasts_to(
    x: NDArray[Any], shape: tuple[int, ...], name: str, target_name: str = "logits"
) -> NDArray[Any]:
    """Broadcast `x` to `shape` (a view), or raise ``ValueError`` naming `name`."""
    try:
        return np.broadcast_to(x, shape)
    except ValueError:
        raise ValueError(
            f"{name} with shape {x.shape} does not broadcast to the shape {shape} of {target_name}"
        ) from None


def check_nonnegative(x: NDArray[Any], name: str) -> None:
    """Raise ``ValueError`` unless every entry of `x` is finite and ``>= 0``."""
    check_finite(x, name)
    if (x < 0).any():
        raise ValueError(f"{name} has negative entries; it must be non-negative")
