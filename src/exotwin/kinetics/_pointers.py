"""Raw data pointers of numba arrays, for calling the generated kernels.

Generated kernels take ``CPointer`` arguments instead of arrays: their (large,
straight-line) bodies then compile about twice as fast, and calls carry no array structs.
"""

from numba import types
from numba.extending import intrinsic


@intrinsic
def ptr(typingctx, arr):
    """Pointer to the first element of a C-contiguous array (no copy, no ownership)."""
    sig = types.CPointer(arr.dtype)(arr)

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        return ary.data

    return sig, codegen
