"""Manning friction helpers shared by both schemes' kernels (numba, inlined).

Both schemes need h^(-7/3) in every cell or face each step; libm's ``cbrt``/``pow`` do not
vectorise and cost more than the rest of a kernel, hence the bit-level inverse cube root, in
the precision of its argument (float32 lanes are twice as many as float64 ones).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core.errors import TypingError
from numba.extending import intrinsic, overload

# first guesses of x^(-1/3) from x's bits (the float32 one chosen for the smallest worst error, 3.4 %)
_INV_CBRT_MAGIC = np.int64(0x553EF0FF289DD796)
_INV_CBRT_MAGIC32 = np.int32(0x54A23356)


@intrinsic
def _bits(typingctx, x):
    """The IEEE bits of a float64 as int64, of a float32 as int32 (an LLVM bitcast)."""
    width = {types.float64: 64, types.float32: 32}.get(x)
    if width is None:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(width))
    return (types.int64 if width == 64 else types.int32)(x), codegen


@intrinsic
def _from_bits(typingctx, i):
    """The float64 with the given int64 bits, the float32 with the given int32 bits."""
    real = {types.int64: (types.float64, ir.DoubleType()), types.int32: (types.float32, ir.FloatType())}.get(i)
    if real is None:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], real[1])
    return real[0](i), codegen


@njit(cache=True, inline="always")
def _inv_cbrt64(x):
    """x^(-1/3) of a positive float64 to 3e-10 relative (friction needs far less): a guess
    from the bits and three Newton steps without division, so that loops vectorise."""
    y = _from_bits(_INV_CBRT_MAGIC - np.int64(np.float64(_bits(x)) * (1 / 3)))
    for _ in range(3):
        y = y * (4.0 - x * y * y * y) * (1 / 3)
    return y


@njit(cache=True, inline="always")
def _inv_cbrt32(x):
    """x^(-1/3) of a positive float32 to 2e-7 relative, all in float32 (see :func:`_inv_cbrt64`)."""
    third = np.float32(1 / 3)
    y = _from_bits(np.int32(_INV_CBRT_MAGIC32 - np.int32(np.float32(_bits(x)) * third)))  # numba widens int32 sums
    for _ in range(3):
        y = y * (np.float32(4) - x * y * y * y) * third
    return y


def inv_pow_7_3(h):
    """h^(-7/3) of a positive float32 or float64, in its precision (the depth power of Manning's
    friction on a discharge). For numba kernels only."""
    raise NotImplementedError("inv_pow_7_3 is compiled into numba kernels")


@njit(cache=True, inline="always")
def _seventh_power(y):
    y2 = y * y
    return y2 * y2 * y2 * y


@overload(inv_pow_7_3)
def _inv_pow_7_3(h):
    if h not in (types.float32, types.float64):
        raise TypingError(f"inv_pow_7_3 takes a float32 or a float64, not {h}")
    inv_cbrt = _inv_cbrt32 if h == types.float32 else _inv_cbrt64
    return lambda h: _seventh_power(inv_cbrt(h))
