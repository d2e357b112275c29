using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace QuantSharp.Engine.Kernels;

/// <summary>
/// Per-thread, 64-byte-aligned packing buffers for the GEMM driver, kept between calls so packing never
/// allocates in steady state. A buffer is lent to one user at a time; a nested request on the same thread
/// gets a fresh array.
/// </summary>
internal sealed unsafe class GemmBuffer : IDisposable
{
    [ThreadStatic] private static GemmBuffer? _cachedA;
    [ThreadStatic] private static GemmBuffer? _cachedB;

    private float[] _array = [];
    private bool _inUse;

    /// <summary>Aligned start of at least the requested number of floats (valid until disposal).</summary>
    public float* Pointer { get; private set; }

    /// <summary>Borrows the calling thread's A-panel buffer (role A) or B-panel buffer (role B).</summary>
    public static GemmBuffer Rent(bool forA, long floats)
    {
        ref GemmBuffer? slot = ref forA ? ref _cachedA : ref _cachedB;
        var buf = slot is { _inUse: false } ? slot : null;
        if (buf is null)
        {
            buf = new GemmBuffer();
            slot ??= buf;
        }
        buf.Ensure(floats);
        buf._inUse = true;
        return buf;
    }

    private void Ensure(long floats)
    {
        long need = floats + 16 + 64; // alignment slack plus room for vector over-reads
        if (_array.Length >= need) return;
        if (need > Array.MaxLength) throw new OutOfMemoryException($"Gemm: packing buffer of {floats} floats is too large");
        _array = GC.AllocateUninitializedArray<float>((int)need, pinned: true);
        nint p = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_array));
        Pointer = (float*)((p + 63) & ~(nint)63);
    }

    /// <summary>Returns the buffer to its thread's cache.</summary>
    public void Dispose()
    {
        _inUse = false;
    }
}
