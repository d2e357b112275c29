using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace QuantSharp.Engine.Kernels;

/// <summary>
/// The implicit-GEMM loop of the forward convolution, for weights small enough to stay in L2:
/// <c>Y[M × P] = W[M × K] · B[K × P]</c> one 32-pixel panel of B at a time.
/// </summary>
/// <remarks>
/// The weights are packed once per call into the micro-kernel's row panels (<see cref="Gemm.TileHeight"/> rows,
/// k-major) in blocks of rows that fit L2 and slices of k (<see cref="SliceDepth"/>) whose B panel fits L1. Per output
/// panel (32 pixels) and k slice, the packer writes one small panel buffer (per thread) and every row tile of the block
/// multiplies it into C at once, so B never round-trips through memory and C tiles stay in L1 across k slices.
/// This beats the general driver of <see cref="Gemm.SgemmPackedB{TPacker}"/> (which packs all of B for a
/// block into one large shared buffer, made for B reused by many row blocks) when M is small, as in most convolutions.
/// </remarks>
internal sealed unsafe class ConvImplicitGemmDriver : IDisposable
{
    /// <summary>Deepest k slice: a B panel of SliceDepth·32 floats (32 KiB) and an 8-row A panel (8 KiB) fit the 48 KiB L1.</summary>
    public const int SliceDepth = 256;

    /// <summary>Floats of packed weights per row block (≈ 640 KiB, within the 1 MiB L2 with a panel and C).</summary>
    public const int BlockBudget = 160 * 1024;

    /// <summary>Row blocks below this many rows would re-pack B too often: <see cref="TryCreate"/> declines.</summary>
    public const int MinBlockRows = 64;

    private float[]? _packed;
    private GCHandle _pin;
    private readonly float* _a;
    private readonly int _m, _k, _mr, _blockRows, _kc;

    private ConvImplicitGemmDriver(float* w, int m, int k, int mr, int blockRows)
    {
        _m = m; _k = k; _mr = mr; _blockRows = blockRows;
        int slices = (k + SliceDepth - 1) / SliceDepth;
        _kc = (k + slices - 1) / slices;
        long floats = (long)RoundUp(m, mr) * k;
        // Pooled (no fresh pinned allocation per call); pinned until Dispose.
        _packed = ArrayPool<float>.Shared.Rent(checked((int)floats + 16));
        _pin = GCHandle.Alloc(_packed, GCHandleType.Pinned);
        _a = (float*)((_pin.AddrOfPinnedObject() + 63) & ~(nint)63);
        for (int i0 = 0; i0 < m; i0 += blockRows)
        {
            int mc = Math.Min(blockRows, m - i0);
            for (int k0 = 0; k0 < k; k0 += _kc)
                GemmPackA.Pack(w, k, false, i0, mc, k0, Math.Min(_kc, k - k0), Block(i0, k0), mr);
        }
    }

    /// <summary>
    /// Packs the weights <paramref name="w"/> (row-major M×K) for this loop (dispose the result to return its buffer), or
    /// returns null when they are too large for
    /// row blocks of at least <see cref="MinBlockRows"/> rows (the caller then uses <see cref="Gemm.SgemmPackedB{TPacker}"/>).
    /// </summary>
    public static ConvImplicitGemmDriver? TryCreate(float* w, int m, int k)
    {
        int mr = Gemm.TileHeight(m);
        int mPad = RoundUp(m, mr);
        int blocks = (int)Math.Max(1, ((long)mPad * k + BlockBudget - 1) / BlockBudget);
        int blockRows = RoundUp((mPad + blocks - 1) / blocks, mr);
        if (blocks > 1 && blockRows < MinBlockRows) return null;
        return new ConvImplicitGemmDriver(w, m, k, mr, Math.Min(blockRows, mPad));
    }

    /// <summary>Unpins the packed weights and returns them to the pool.</summary>
    public void Dispose()
    {
        if (_packed is null) return;
        _pin.Free();
        ArrayPool<float>.Shared.Return(_packed);
        _packed = null;
    }

    /// <summary>Floats of the per-thread B panel buffer.</summary>
    public int PanelFloats => _kc * Gemm.NR;

    /// <summary>Packed panels of rows [i0, i0 + blockRows) × k slice starting at k0 (k0 a multiple of the slice depth).</summary>
    private float* Block(int i0, int k0)
    {
        int mc = Math.Min(_blockRows, _m - i0);
        return _a + (long)i0 * _k + (long)k0 * RoundUp(mc, _mr);
    }

    /// <summary>
    /// <c>C[:, panels q0 … q1) = W · B (+ bias[row])</c> for one image (ldc = P, every element of those columns
    /// overwritten), with B packed by <paramref name="packer"/> into <paramref name="panel"/> (<see cref="PanelFloats"/> floats).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Run<TPacker>(ref TPacker packer, int p, int q0, int q1, float* c, float* bias, float* panel)
        where TPacker : struct, IGemmBPacker => Run(ref packer, p, q0, q1, c, p, bias, panel);

    /// <summary>As <see cref="Run{TPacker}(ref TPacker, int, int, int, float*, float*, float*)"/> with C rows <paramref name="ldc"/> apart.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Run<TPacker>(ref TPacker packer, int p, int q0, int q1, float* c, long ldc, float* bias, float* panel)
        where TPacker : struct, IGemmBPacker
    {
        var kind = GemmMicroKernels.Default;
        float* tile = stackalloc float[Gemm.MR * Gemm.NR];
        for (int i0 = 0; i0 < _m; i0 += _blockRows)
        {
            int mc = Math.Min(_blockRows, _m - i0);
            for (int q = q0; q < q1; q++)
            {
                int n0 = q * Gemm.NR, nr = Math.Min(Gemm.NR, p - n0);
                float* cq = c + i0 * ldc + n0;
                if (bias != null)
                    for (int i = 0; i < mc; i++) new Span<float>(cq + i * ldc, nr).Fill(bias[i0 + i]);
                for (int k0 = 0; k0 < _k; k0 += _kc)
                {
                    int kc = Math.Min(_kc, _k - k0);
                    packer.Pack(k0, kc, n0, nr, panel);
                    float* pa = Block(i0, k0);
                    float beta = k0 == 0 && bias == null ? 0f : 1f;
                    for (int ip = 0; ip < mc; ip += _mr)
                        GemmMicroKernels.Tile(kind, _mr, kc, pa + (long)ip * kc, panel, cq + ip * ldc, (int)ldc,
                            Math.Min(_mr, mc - ip), nr, 1f, beta, tile);
                }
            }
        }
    }

    /// <summary>
    /// Weight-gradient loop for one image: <c>C[:, K panels q0 … q1) = beta·C + gY[M × P] · Bᵀ</c> (ldc = K), gY packed
    /// per pixel slice into <paramref name="aBuf"/> (M rounded up to the tile height × <see cref="SliceDepth"/> floats)
    /// and the transposed im2col by <paramref name="packer"/> into <paramref name="panel"/> (SliceDepth·32 floats).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RunWeight<TPacker>(ref TPacker packer, int m, int k, int p, float* gy, int q0, int q1, float* c, float beta,
        float* aBuf, float* panel) where TPacker : struct, IGemmBPacker
    {
        var kind = GemmMicroKernels.Default;
        int mr = Gemm.TileHeight(m);
        float* tile = stackalloc float[Gemm.MR * Gemm.NR];
        // Pixel slices of a multiple of 16, so the weight packer's 16×16 transposes cover them (gathers only at the end).
        int slices = (p + SliceDepth - 1) / SliceDepth;
        int pcMax = Math.Min(SliceDepth, ((p + slices - 1) / slices + 15) / 16 * 16);
        for (int p0 = 0; p0 < p; p0 += pcMax)
        {
            int pc = Math.Min(pcMax, p - p0);
            GemmPackA.Pack(gy, p, false, 0, m, p0, pc, aBuf, mr);
            float b = p0 == 0 ? beta : 1f;
            for (int q = q0; q < q1; q++)
            {
                int n0 = q * Gemm.NR, nr = Math.Min(Gemm.NR, k - n0);
                packer.Pack(p0, pc, n0, nr, panel);
                for (int ip = 0; ip < m; ip += mr)
                    GemmMicroKernels.Tile(kind, mr, pc, aBuf + (long)ip * pc, panel, c + (long)ip * k + n0, k,
                        Math.Min(mr, m - ip), nr, 1f, b, tile);
            }
        }
    }

    /// <summary>Floats of the per-thread gY slice buffer of <see cref="RunWeight"/>.</summary>
    public static long WeightABufferFloats(int m) => (long)RoundUp(m, Gemm.TileHeight(m)) * SliceDepth;

    private static int RoundUp(int x, int to) => (x + to - 1) / to * to;
}
