using System.Runtime.CompilerServices;
using QuantSharp.Engine.Threading;

namespace QuantSharp.Engine.Kernels;

/// <summary>
/// Single-precision matrix multiplication (row-major BLAS sgemm semantics), packed and register-blocked
/// in the Goto/BLIS structure: op(B) is packed (once per column block of up to NC columns, in KC-deep
/// slices) into NR-wide k-major panels shared by all threads; each thread packs its own MC×KC blocks of
/// op(A) into 12-row (or 8-row) panels, and a 12×32 (8×32) micro-kernel keeps the whole C tile in vector
/// registers. Small products take an unpacked loop; small-output long-k products are split along k.
/// </summary>
public static unsafe class Gemm
{
    /// <summary>
    /// Rows of the micro-kernel tile (height of a packed A panel). An 8-row tile is used instead when m is a
    /// multiple of 8 that 12 would pad by more than 4% (e.g. 64 output channels).
    /// </summary>
    public const int MR = 12;

    /// <summary>The tile height for m rows: 12, or 8 when m is a multiple of 8 that 12-row tiles would pad by more than 4%.</summary>
    internal static int TileHeight(int m) =>
        m % 8 == 0 && m % 12 != 0 && (m + 11) / 12 * 12 * 100 > m * 104 ? 8 : 12;

    /// <summary>Columns of the micro-kernel tile (width of a packed B panel, see <see cref="IGemmBPacker"/>).</summary>
    public const int NR = 32;

    /// <summary>
    /// Depth of one packed block (rows of op(B) per <see cref="IGemmBPacker.Pack"/> call, at most). 1024 rather than the
    /// textbook 512: fewer passes over C paid off at 2048³ on 2 threads (0.885 → 0.95 of OpenBLAS in one run) and kept 1024³.
    /// </summary>
    public const int KC = 1024;

    /// <summary>Rows of op(A) packed per thread at a time (a multiple of <see cref="MR"/>, sized for L2).</summary>
    public const int MC = 192;

    /// <summary>Columns of op(B) packed per block (at most; sized for L3).</summary>
    public const int NC = 4096;

    /// <summary>Below this m·n·k (or for m ≤ 2) the product runs an unpacked loop (packing would cost more than it saves).</summary>
    internal const long SmallThreshold = 32 * 1024;

    /// <summary>Below this m·n·k the packed driver stays on one thread (task start-up would dominate).</summary>
    internal const long ParallelThreshold = 1L << 20;

    /// <summary>
    /// C[m×n] = alpha·op(A)·op(B) + beta·C, row-major; op(A) is m×k (A is k×m with lda ≥ m when
    /// <paramref name="transA"/>), op(B) is k×n. beta = 0 overwrites C.
    /// </summary>
    /// <remarks>
    /// C[i,j] ← alpha·Σₚ op(A)[i,p]·op(B)[p,j] + beta·C[i,j]. When beta = 0, C is not read (NaN or Inf
    /// in C does not propagate); when k = 0 or alpha = 0, A and B are not read and C ← beta·C.
    /// Summation is in float with fused multiply-adds, in blocks of <see cref="KC"/>.
    /// </remarks>
    /// <param name="parallel">Use all cores (false when the caller already runs in parallel).</param>
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc, bool parallel = true)
    {
        CheckSizes("Sgemm", transA, transB, m, n, k, lda, ldb, ldc);
        if (m == 0 || n == 0) return;
        if (k == 0 || alpha == 0f)
        {
            ScaleC(m, n, beta, c, ldc);
            return;
        }
        if ((long)m * n * k < SmallThreshold || m <= 2)
        {
            // Tiny products, and one- or two-row products (matrix·vector-like, e.g. a Linear layer on one sample),
            // which are memory-bound: streaming op(B) once beats copying it into panels first.
            GemmSmall.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
            return;
        }
        var packer = new MatrixBPacker(b, ldb, transB);
        Driver(m, n, k, alpha, a, lda, transA, ref packer, beta, c, ldc, parallel, GemmMicroKernels.Default);
    }

    /// <summary>Span overload of <see cref="Sgemm(bool,bool,int,int,int,float,float*,int,float*,int,float,float*,int,bool)"/>.</summary>
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc, bool parallel = true)
    {
        CheckSizes("Sgemm", transA, transB, m, n, k, lda, ldb, ldc);
        if (m > 0 && n > 0)
        {
            Check.That(c.Length >= (long)(m - 1) * ldc + n, "Sgemm", "c", $"at least {(long)(m - 1) * ldc + n} elements", $"{c.Length}");
            if (k > 0)
            {
                long needA = transA ? (long)(k - 1) * lda + m : (long)(m - 1) * lda + k;
                long needB = transB ? (long)(n - 1) * ldb + k : (long)(k - 1) * ldb + n;
                Check.That(a.Length >= needA, "Sgemm", "a", $"at least {needA} elements", $"{a.Length}");
                Check.That(b.Length >= needB, "Sgemm", "b", $"at least {needB} elements", $"{b.Length}");
            }
        }
        fixed (float* pa = a) fixed (float* pb = b) fixed (float* pc = c)
            Sgemm(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, parallel);
    }

    /// <summary>
    /// C[m×n] = alpha·op(A)·B + beta·C where the k×n operand B is produced block by block by
    /// <paramref name="packer"/> (see <see cref="IGemmBPacker"/> for the exact panel layout). This is the
    /// entry point of implicit-GEMM convolution: A holds the weights (M = output channels,
    /// K = Cin·kh·kw) and the packer gathers input pixels (N = output pixels) straight into panels.
    /// </summary>
    /// <remarks>
    /// Same blocking, micro-kernel and threading as <see cref="Sgemm(bool,bool,int,int,int,float,float*,int,float*,int,float,float*,int,bool)"/>,
    /// which itself runs through this path with <see cref="MatrixBPacker"/>. The packer is called with
    /// kc ≤ <see cref="KC"/>, nc ≤ <see cref="NC"/>, possibly from several threads at once for disjoint
    /// NR-aligned column ranges or disjoint k slices. beta = 0 overwrites C without reading it.
    /// </remarks>
    /// <param name="a">op(A) is m×k: A row-major m×k (row stride lda), or k×m when <paramref name="transA"/>.</param>
    /// <param name="packer">Writes op(B) panels; copied (by value) to worker threads.</param>
    /// <param name="rowBias">Optional fused epilogue: m floats added to every element of their row of C
    /// (C ← alpha·op(A)·B + beta·C + rowBias[i]), e.g. a convolution's per-output-channel bias; null for none.</param>
    public static void SgemmPackedB<TPacker>(int m, int n, int k, float* a, int lda, bool transA, ref TPacker packer,
        float* c, int ldc, float beta = 0f, bool parallel = true, float alpha = 1f, float* rowBias = null)
        where TPacker : struct, IGemmBPacker
    {
        CheckSizes("SgemmPackedB", transA, false, m, n, k, lda, n, ldc);
        if (m == 0 || n == 0) return;
        if (k == 0 || alpha == 0f)
        {
            ScaleC(m, n, beta, c, ldc);
            if (rowBias != null)
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++) c[(long)i * ldc + j] += rowBias[i];
            return;
        }
        Driver(m, n, k, alpha, a, lda, transA, ref packer, beta, c, ldc, parallel, GemmMicroKernels.Default, rowBias);
    }

    private static void CheckSizes(string op, bool transA, bool transB, int m, int n, int k, int lda, int ldb, int ldc)
    {
        Check.AtLeast(op, "m", m, 0);
        Check.AtLeast(op, "n", n, 0);
        Check.AtLeast(op, "k", k, 0);
        Check.AtLeast(op, "lda", lda, Math.Max(1, transA ? m : k));
        Check.AtLeast(op, "ldb", ldb, Math.Max(1, transB ? k : n));
        Check.AtLeast(op, "ldc", ldc, Math.Max(1, n));
    }

    private static void ScaleC(int m, int n, float beta, float* c, int ldc)
    {
        for (int i = 0; i < m; i++)
        {
            var row = new Span<float>(c + (long)i * ldc, n);
            if (beta == 0f) row.Clear();
            else if (beta != 1f)
                for (int j = 0; j < row.Length; j++) row[j] *= beta;
        }
    }

    /// <summary>The packed driver (also called directly by tests to force a micro-kernel kind).</summary>
    internal static void Driver<TPacker>(int m, int n, int k, float alpha, float* a, int lda, bool transA, ref TPacker packer,
        float beta, float* c, int ldc, bool parallel, GemmKernelKind kind, float* rowBias = null)
        where TPacker : struct, IGemmBPacker
    {
        int threads = parallel && (long)m * n * k >= ParallelThreshold ? Math.Max(1, Work.Threads) : 1;
        if (threads > 1 && (long)m * n <= SplitKMaxOutput && k >= threads * 2 * KC)
        {
            SplitK(m, n, k, alpha, a, lda, transA, ref packer, beta, c, ldc, threads, kind, rowBias);
            return;
        }
        int height = TileHeight(m);
        // op(B) of a whole block (up to NC columns × up to kDepth rows) is packed once into a shared buffer;
        // very long k is cut into several blocks of kDepth (a multiple of KC) so that buffer stays bounded.
        int ncBlock = Math.Min(NC, n);
        int ncPad = RoundUp(ncBlock, NR);
        int kDepth = (int)Math.Min(k, Math.Max(KC, PackedBBudget / ncPad / KC * KC));
        using var bBuf = GemmBuffer.Rent(forA: false, (long)kDepth * ncPad);
        for (int jc = 0; jc < n; jc += ncBlock)
        {
            int nc = Math.Min(ncBlock, n - jc);
            for (int k0 = 0; k0 < k; k0 += kDepth)
            {
                int kb = Math.Min(kDepth, k - k0);
                float* ak = a + (transA ? (long)k0 * lda : k0);
                var block = new GemmColumnBlock<TPacker>(in packer, ak, lda, transA, c, ldc, bBuf.Pointer, k0, kb, jc, nc, height,
                    alpha, k0 == 0 ? beta : 1f, kind, k0 == 0 ? rowBias : null);
                if (threads == 1)
                {
                    for (int slice = 0; slice < block.Slices; slice++) block.Run(slice, 0, m, 0, block.Panels, 0);
                    continue;
                }
                var grid = new ChunkGrid(m, block.Panels, threads, height, block.Slices);
                Work.For(threads, 1, (t0, t1) =>
                {
                    // Tasks are taken dynamically so a core slowed by other work does not hold the other back.
                    for (int t = t0; t < t1; t++)
                        while (grid.TryTake(out int task, out int slice, out int r0, out int r1, out int q0, out int q1))
                        {
                            try
                            {
                                grid.WaitForPreviousSlice(task);
                                block.Run(slice, r0, r1, q0, q1, task);
                            }
                            finally
                            {
                                grid.MarkDone(task); // also on failure, so no other task waits forever
                            }
                        }
                });
            }
        }
    }

    /// <summary>Floats of packed op(B) per block at most (16 MiB, unless one KC slice of NC columns is larger).</summary>
    internal const long PackedBBudget = 1L << 22;

    /// <summary>
    /// The work of one column block as tasks (k slice, chunk of C), handed out slice by slice. Chunks are
    /// at least 4 per thread: row chunks of <see cref="MC"/> rows (or all of m when smaller), each cut into
    /// column chunks of B panels as needed. A task must wait for the same chunk's previous slice (C
    /// accumulates in k order); that task has a smaller index, so it is already taken and the wait ends.
    /// </summary>
    internal sealed class ChunkGrid
    {
        private readonly int _m, _panels, _rowsPer, _rowChunks, _colChunks, _perSlice, _count;
        private readonly int[] _done;
        private int _next = -1;

        public ChunkGrid(int m, int panels, int threads, int height, int slices)
        {
            _m = m;
            _panels = panels;
            // Tall chunks first (each packed B panel is then reused by up to MC rows from L2), then columns.
            int target = 4 * threads;
            _rowsPer = Math.Min(MC, RoundUp(m, height));
            _rowChunks = (m + _rowsPer - 1) / _rowsPer;
            _colChunks = Math.Clamp((target + _rowChunks - 1) / _rowChunks, 1, panels);
            _perSlice = _rowChunks * _colChunks;
            _count = _perSlice * slices;
            _done = new int[_count];
        }

        public bool TryTake(out int task, out int slice, out int r0, out int r1, out int q0, out int q1)
        {
            task = Interlocked.Increment(ref _next);
            slice = r0 = r1 = q0 = q1 = 0;
            if (task >= _count) return false;
            slice = task / _perSlice;
            int chunk = task % _perSlice;
            int r = chunk / _colChunks, q = chunk % _colChunks;
            r0 = r * _rowsPer;
            r1 = Math.Min(_m, r0 + _rowsPer);
            q0 = (int)((long)_panels * q / _colChunks);
            q1 = (int)((long)_panels * (q + 1) / _colChunks);
            return true;
        }

        public void WaitForPreviousSlice(int task)
        {
            if (task < _perSlice) return;
            ref int prev = ref _done[task - _perSlice];
            if (Volatile.Read(ref prev) != 0) return;
            var spin = new SpinWait();
            while (Volatile.Read(ref prev) == 0) spin.SpinOnce(sleep1Threshold: -1);
        }

        public void MarkDone(int task) => Volatile.Write(ref _done[task], 1);
    }

    /// <summary>Above this m·n the driver never splits k across threads (the partial products would not stay cache-resident).</summary>
    internal const long SplitKMaxOutput = 1 << 16;

    /// <summary>
    /// Small C, long k (e.g. a convolution's weight gradient): each thread multiplies one contiguous
    /// slice of k on its own; the first slice goes straight into C (with beta), the others into
    /// scratch matrices that are then added to C.
    /// </summary>
    private static void SplitK<TPacker>(int m, int n, int k, float alpha, float* a, int lda, bool transA, ref TPacker packer,
        float beta, float* c, int ldc, int parts, GemmKernelKind kind, float* rowBias)
        where TPacker : struct, IGemmBPacker
    {
        int mn = m * n;
        var scratch = System.Buffers.ArrayPool<float>.Shared.Rent((parts - 1) * mn);
        try
        {
            fixed (float* ps = scratch)
            {
                nint pScratch = (nint)ps, pa = (nint)a, pc = (nint)c, pBias = (nint)rowBias;
                var inner = packer;
                Work.For(parts, 1, (t0, t1) =>
                {
                    for (int t = t0; t < t1; t++)
                    {
                        int k0 = (int)((long)k * t / parts), k1 = (int)((long)k * (t + 1) / parts);
                        float* at = (float*)pa + (transA ? (long)k0 * lda : k0);
                        var slice = new KOffsetPacker<TPacker>(inner, k0);
                        if (t == 0) Driver(m, n, k1 - k0, alpha, at, lda, transA, ref slice, beta, (float*)pc, ldc, false, kind, (float*)pBias);
                        else Driver(m, n, k1 - k0, alpha, at, lda, transA, ref slice, 0f, (float*)pScratch + (long)(t - 1) * mn, n, false, kind);
                    }
                });
                for (int t = 1; t < parts; t++)
                    for (int i = 0; i < m; i++)
                    {
                        float* dst = c + (long)i * ldc;
                        float* src = ps + (long)(t - 1) * mn + (long)i * n;
                        int j = 0;
                        for (; j + 8 <= n; j += 8)
                            System.Runtime.Intrinsics.Vector256.Store(System.Runtime.Intrinsics.Vector256.Load(dst + j) + System.Runtime.Intrinsics.Vector256.Load(src + j), dst + j);
                        for (; j < n; j++) dst[j] += src[j];
                    }
            }
        }
        finally
        {
            System.Buffers.ArrayPool<float>.Shared.Return(scratch);
        }
    }

    /// <summary>Presents rows [dk, …) of another packer's op(B) as rows [0, …).</summary>
    private readonly struct KOffsetPacker<TPacker>(TPacker inner, int dk) : IGemmBPacker where TPacker : struct, IGemmBPacker
    {
        private readonly TPacker _inner = inner;

        public void Pack(int k0, int kc, int n0, int nc, float* dest) => _inner.Pack(k0 + dk, kc, n0, nc, dest);
    }

    private static int RoundUp(int x, int to) => (x + to - 1) / to * to;
}
