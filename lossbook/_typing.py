"""Type aliases shared by every lossbook module (private)."""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np
from numpy.typing import NDArray

__all__ = ["F64", "BoolArray", "FloatArray", "FloatDType", "FloatResult", "IntpArray"]

FloatArray: TypeAlias = NDArray[np.floating[Any]]
F64: TypeAlias = NDArray[np.float64]
IntpArray: TypeAlias = NDArray[np.intp]
BoolArray: TypeAlias = NDArray[np.bool_]
FloatDType: TypeAlias = np.dtype[Any]
# What a loss or a reduction returns: an array, or a NumPy scalar for a 0-d result.
FloatResult: TypeAlias = FloatArray | np.floating[Any]
