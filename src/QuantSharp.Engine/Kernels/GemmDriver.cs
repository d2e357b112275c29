using System.Runtime.CompilerServices;

namespace QuantSharp.Engine.Kernels;

/// <summary>
/// One column block (columns [jc, jc+nc) of C, a range of k — all of it unless k is very long) of the
/// packed GEMM. op(B) for the whole block is packed into one shared buffer, lazily and once per NR-wide panel and KC-deep slice: whichever
/// thread first needs a panel packs it (the others wait for that panel only), so a call needs a single
/// parallel region and no barrier. Threads take (k slice, chunk of C) tasks slice by slice (see
/// <see cref="Gemm.ChunkGrid"/>), so the packed slice in use stays cache-resident, and a task waits only
/// for the same chunk's previous slice.
/// </summary>
internal sealed unsafe class GemmColumnBlock<TPacker> where TPacker : struct, IGemmBPacker
{
    private const int Unpacked = 0, Packing = 1, Packed = 2, Failed = 3;

    private readonly TPacker _packer;
    private readonly float* _a, _c, _pb, _rowBias;
    private readonly int _lda, _ldc, _k, _kBase, _jc, _nc, _panels, _height, _kcStep, _slices;
    private readonly bool _transA;
    private readonly float _alpha, _beta;
    private readonly GemmKernelKind _kind;
    private readonly int[] _state; // per (k slice, panel)

    /// <param name="a">op(A) shifted to column kBase (the first of this block's k range).</param>
    /// <param name="pb">Buffer of k·⌈nc/NR⌉·NR floats; slice s starts at s·kcStep·⌈nc/NR⌉·NR.</param>
    /// <param name="k">Depth of this block: rows [kBase, kBase+k) of op(B).</param>
    public GemmColumnBlock(in TPacker packer, float* a, int lda, bool transA, float* c, int ldc, float* pb,
        int kBase, int k, int jc, int nc, int height, float alpha, float beta, GemmKernelKind kind, float* rowBias)
    {
        _kBase = kBase;
        _rowBias = rowBias;
        _packer = packer;
        _a = a; _lda = lda; _transA = transA;
        _c = c; _ldc = ldc; _pb = pb;
        _k = k; _jc = jc; _nc = nc; _height = height;
        _alpha = alpha; _beta = beta; _kind = kind;
        _panels = (nc + Gemm.NR - 1) / Gemm.NR;
        // k is cut into equal slices of at most KC (1100 → 550 + 550, not 1024 + 76: fewer, cheaper C updates).
        _slices = Math.Max(1, (k + Gemm.KC - 1) / Gemm.KC);
        _kcStep = (k + _slices - 1) / _slices;
        _state = new int[_slices * _panels];
    }

    /// <summary>Number of NR-wide panels in the block.</summary>
    public int Panels => _panels;

    /// <summary>Number of KC-deep slices of k in the block.</summary>
    public int Slices => _slices;

    /// <summary>
    /// Adds k slice <paramref name="slice"/>'s contribution to C rows [r0, r1) (r0 a multiple of the tile
    /// height) × panels [q0, q1); slice 0 applies beta (and the row bias), later slices accumulate.
    /// <paramref name="salt"/> rotates the panel order so concurrent chunks start packing different panels.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Run(int slice, int r0, int r1, int q0, int q1, int salt)
    {
        using var aBuf = GemmBuffer.Rent(forA: true, (long)Gemm.MC * _kcStep);
        float* pa = aBuf.Pointer;
        float* tile = stackalloc float[Gemm.MR * Gemm.NR];
        int span = q1 - q0;
        int rot = span > 1 ? (int)((uint)salt * 7u % (uint)span) : 0;
        long ncPad = (long)_panels * Gemm.NR;
        int h = _height;
        int pc = slice * _kcStep;
        int kc = Math.Min(_kcStep, _k - pc);
        float beta = pc == 0 ? _beta : 1f;
        float* pbSlice = _pb + pc * ncPad;
        for (int ic = r0; ic < r1; ic += Gemm.MC)
        {
            int mc = Math.Min(Gemm.MC, r1 - ic);
            GemmPackA.Pack(_a, _lda, _transA, ic, mc, pc, kc, pa, h);
            for (int qi = 0; qi < span; qi++)
            {
                int q = q0 + (qi + rot) % span;
                int col = q * Gemm.NR;
                float* pbq = pbSlice + (long)col * kc;
                EnsurePacked(slice * _panels + q, pc, kc, col, pbq);
                int nr = Math.Min(Gemm.NR, _nc - col);
                float* cq = _c + (long)ic * _ldc + _jc + col;
                float tileBeta = beta;
                if (pc == 0 && _rowBias != null)
                {
                    // Epilogue folded into the first k slice: C ← beta·C + bias[row] while the tile is hot, then accumulate.
                    AddRowBias(cq, _ldc, mc, nr, _rowBias + ic, beta);
                    tileBeta = 1f;
                }
                for (int ip = 0; ip < mc; ip += h)
                    GemmMicroKernels.Tile(_kind, h, kc, pa + (long)ip * kc, pbq, cq + (long)ip * _ldc, _ldc,
                        Math.Min(h, mc - ip), nr, _alpha, tileBeta, tile);
            }
        }
    }

    private static void AddRowBias(float* c, int ldc, int rows, int cols, float* bias, float beta)
    {
        for (int i = 0; i < rows; i++)
        {
            float* cr = c + (long)i * ldc;
            float bv = bias[i];
            if (beta == 0f) new Span<float>(cr, cols).Fill(bv);
            else for (int j = 0; j < cols; j++) cr[j] = beta * cr[j] + bv;
        }
    }

    private void EnsurePacked(int index, int pc, int kc, int col, float* dest)
    {
        ref int s = ref _state[index];
        if (Volatile.Read(ref s) == Packed) return;
        if (Interlocked.CompareExchange(ref s, Packing, Unpacked) == Unpacked)
        {
            try
            {
                _packer.Pack(_kBase + pc, kc, _jc + col, Math.Min(Gemm.NR, _nc - col), dest);
            }
            catch
            {
                Volatile.Write(ref s, Failed);
                throw;
            }
            Volatile.Write(ref s, Packed);
            return;
        }
        var spin = new SpinWait();
        int v;
        while ((v = Volatile.Read(ref s)) == Packing) spin.SpinOnce(sleep1Threshold: -1);
        if (v == Failed) throw new InvalidOperationException("Gemm: the B packer failed on another thread");
    }
}
