using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace QuantSharp.Engine.Kernels;

/// <summary>The per-thread scratch buffers of the implicit-GEMM convolution.</summary>
internal enum ConvScratchRole
{
    /// <summary>The zero-padded copy of one image (input, or gradient-output for backward-data).</summary>
    PaddedImage,
    /// <summary>A block of the column matrix of backward-data (Wᵀ·gY), or of a batch of images (<see cref="ConvBatched"/>).</summary>
    Columns,
    /// <summary>The padded input-gradient image that col2im accumulates into.</summary>
    PaddedGradient,
    /// <summary>One packed B panel of the implicit-GEMM loop.</summary>
    Panel,
    /// <summary>A packed slice of the output gradient (the A operand of the weight gradient), or a batch's GEMM output or gathered gradient.</summary>
    GradientSlice,
}

/// <summary>
/// Per-thread, 64-byte-aligned, pinned scratch buffers, one per <see cref="ConvScratchRole"/>, kept between calls so
/// the convolution does not allocate in steady state. A buffer is lent to one user at a time; a nested request for the
/// same role on the same thread gets a fresh array. Contents are undefined on rent.
/// </summary>
internal sealed unsafe class ConvScratch : IDisposable
{
    [ThreadStatic] private static ConvScratch?[]? _cache;

    private float[] _array = [];
    private bool _inUse;

    /// <summary>Aligned start of at least the requested number of floats (valid until disposal).</summary>
    public float* Pointer { get; private set; }

    /// <summary>Borrows the calling thread's buffer of the given role, grown to at least <paramref name="floats"/>.</summary>
    public static ConvScratch Rent(ConvScratchRole role, long floats)
    {
        var cache = _cache ??= new ConvScratch?[Enum.GetValues<ConvScratchRole>().Length];
        ref ConvScratch? slot = ref cache[(int)role];
        var buf = slot is { _inUse: false } ? slot : null;
        if (buf is null)
        {
            buf = new ConvScratch();
            slot ??= buf;
        }
        buf.Ensure(floats);
        buf._inUse = true;
        return buf;
    }

    private void Ensure(long floats)
    {
        long need = floats + 16;
        if (_array.Length >= need) return;
        if (need > Array.MaxLength) throw new OutOfMemoryException($"ConvImplicitGemm: scratch buffer of {floats} floats is too large");
        _array = GC.AllocateUninitializedArray<float>((int)need, pinned: true);
        nint p = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_array));
        Pointer = (float*)((p + 63) & ~(nint)63);
    }

    /// <summary>Returns the buffer to its thread's cache.</summary>
    public void Dispose() => _inUse = false;
}
