"""Manning friction helpers shared by both schemes' kernels (numba, inlined).

Both schemes need h^(-7/3) in every cell or face each step; libm's ``cbrt``/``pow`` do not
vectorise and cost more than the rest of a kernel, hence the bit-level inverse cube root.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

_INV_CBRT_MAGIC = np.int64(0x553EF0FF289DD796)  # first guess of x^(-1/3) from x's bits


@intrinsic
def _bits(typingctx, x):
    """The IEEE bits of a float64 as int64 (an LLVM bitcast)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(types.float64), codegen


@intrinsic
def _from_bits(typingctx, i):
    """The float64 with the given IEEE bits."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


@njit(cache=True, inline="always")
def inv_cbrt(x):
    """x^(-1/3) of a positive float64 to 3e-10 relative (friction needs far less): a guess
    from the bits and three Newton steps without division, so that loops vectorise."""
    y = _from_bits(_INV_CBRT_MAGIC - np.int64(np.float64(_bits(x)) * (1 / 3)))
    for _ in range(3):
        y = y * (4.0 - x * y * y * y) * (1 / 3)
    return y


@njit(cache=True, inline="always")
def inv_pow_7_3(h):
    """h^(-7/3) of a positive float64 (the depth power of Manning's friction on a discharge)."""
    y = inv_cbrt(h)
    y2 = y * y
    return y2 * y2 * y2 * y
