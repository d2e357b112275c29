using QuantSharp.Engine.Kernels;
using static QuantSharp.Engine.Tests.Kernels.GemmTestUtil;

namespace QuantSharp.Engine.Tests.Kernels;

public unsafe class GemmTests
{
    private static readonly bool[] Bools = [false, true];

    /// <summary>Few columns and a large A: the streaming path (<see cref="GemmSkinny"/>, which convolutions of one image call), every column count up to its limit.</summary>
    [Theory]
    [InlineData(512, 4608)]  // ResNet-18 layer4 conv at batch 1, 2×2 output
    [InlineData(300, 257)]   // k not a multiple of the vector width
    [InlineData(1, 70_000)]  // one row
    public void Sgemm_FewColumns_MatchReference(int m, int k)
    {
        var rng = new Random(m + k);
        for (int n = 1; n <= GemmSkinny.MaxColumns; n++)
            foreach (var tb in Bools)
            {
                Assert.True(GemmSkinny.Takes(false, m, n, k));
                AssertMatchesReference(Make(rng, false, tb, m, n, k, alpha: 0.75f, beta: 0.5f, padC: 1), (t, c) => RunSkinny(t, c), $"skinny n={n}");
                AssertMatchesReference(Make(rng, false, tb, m, n, k), (t, c) => RunSkinny(t, c), $"skinny n={n} beta 0");
            }
    }

    [Fact]
    public void Sgemm_AllTransposes_RandomOddSizes_MatchReference()
    {
        var rng = new Random(11);
        for (int trial = 0; trial < 40; trial++)
        {
            int m = rng.Next(1, 71), n = rng.Next(1, 71), k = rng.Next(1, 71);
            foreach (var ta in Bools) foreach (var tb in Bools)
                AssertMatchesReference(Make(rng, ta, tb, m, n, k), (t, c) => RunSgemm(t, c), "Sgemm");
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void PackedDriver_EdgeSizes_BothKernels_MatchReference(bool avx512)
    {
        var kind = avx512 ? GemmKernelKind.Avx512 : GemmKernelKind.Vector256;
        if (kind == GemmKernelKind.Avx512 && !System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated) return;
        var rng = new Random(12);
        int[] sizes = [1, 2, 11, 12, 13, 31, 32, 33, 70];
        int[] rows = [1, 2, 8, 11, 12, 13, 16, 31, 32, 33, 64, 70]; // 8, 16, 32, 64 take the 8-row tile
        foreach (int m in rows) foreach (int n in sizes)
        {
            int k = sizes[rng.Next(sizes.Length)];
            bool ta = rng.Next(2) == 1, tb = rng.Next(2) == 1;
            AssertMatchesReference(Make(rng, ta, tb, m, n, k, padA: 3, padB: 1, padC: 2),
                (t, c) => RunDriver(t, c, kind, parallel: false), $"Driver {kind}");
        }
    }

    [Theory]
    [InlineData(3, 40, 513)]    // k straddles KC
    [InlineData(2, 4097, 5)]    // n straddles NC on a thin m
    [InlineData(193, 33, 20)]   // m straddles MC
    [InlineData(150, 200, 520)] // large enough for the parallel split (rows), k straddles KC
    [InlineData(30, 700, 130)]  // few row panels: the parallel split goes over columns
    [InlineData(20, 30, 2100)]  // small C, long k: split along k across threads
    [InlineData(1, 500, 300)]   // one row: unpacked vector path
    [InlineData(2, 40, 600)]
    public void Sgemm_SizesStraddlingBlockBoundaries_MatchReference(int m, int n, int k)
    {
        var rng = new Random(m * 31 + n * 7 + k);
        foreach (var ta in Bools) foreach (var tb in Bools)
            AssertMatchesReference(Make(rng, ta, tb, m, n, k, alpha: 0.75f, beta: 0.5f, padC: 1), (t, c) => RunSgemm(t, c), "Sgemm");
    }

    [Theory]
    [InlineData(2, 3, 140_000, false, false)]  // k beyond one packed-B block: several k blocks on one thread
    [InlineData(4, 4096, 1100, true, false)]   // wide n, parallel column chunks, k beyond one packed-B block
    [InlineData(4, 4096, 1100, false, true)]
    public void Sgemm_KLongerThanOnePackedBlock_AccumulatesAcrossBlocks(int m, int n, int k, bool ta, bool tb)
    {
        var rng = new Random(17);
        AssertMatchesReference(Make(rng, ta, tb, m, n, k, alpha: 1f, beta: 0.5f), (t, c) => RunSgemm(t, c), "Sgemm long k");
    }

    [Theory]
    [InlineData(1f, 0f)]
    [InlineData(-0.5f, 1f)]
    [InlineData(2f, 0.25f)]
    [InlineData(1f, -1f)]
    public void Sgemm_AlphaBetaVariants_MatchReference(float alpha, float beta)
    {
        var rng = new Random(13);
        foreach (var (m, n, k) in new[] { (5, 6, 7), (37, 45, 29), (64, 64, 64) })
            foreach (var ta in Bools) foreach (var tb in Bools)
                AssertMatchesReference(Make(rng, ta, tb, m, n, k, alpha, beta), (t, c) => RunSgemm(t, c), "Sgemm");
    }

    [Theory]
    [InlineData(4, 5, 6)]     // small path
    [InlineData(50, 70, 40)]  // packed path, clipped tiles
    [InlineData(48, 64, 32)]  // packed path, full tiles
    public void Sgemm_BetaZero_OverwritesNaNInC(int m, int n, int k)
    {
        var rng = new Random(14);
        var t = Make(rng, false, false, m, n, k, beta: 0f, cFill: float.NaN);
        var c = (float[])t.C.Clone();
        RunSgemm(t, c);
        for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) Assert.False(float.IsNaN(c[i * t.Ldc + j]), $"C[{i},{j}] is NaN");
        AssertMatchesReference(t, (tt, cc) => RunSgemm(tt, cc), "Sgemm NaN C");
    }

    [Fact]
    public void Sgemm_SingleThreaded_MatchesReference()
    {
        var rng = new Random(15);
        AssertMatchesReference(Make(rng, true, false, 150, 170, 90, 1.5f, 0.5f), (t, c) => RunSgemm(t, c, parallel: false), "Sgemm 1 thread");
    }

    [Fact]
    public void Sgemm_LeadingDimensionsLargerThanWidth_UsesStridesAndKeepsPadding()
    {
        var rng = new Random(16);
        foreach (var ta in Bools) foreach (var tb in Bools)
        {
            AssertMatchesReference(Make(rng, ta, tb, 9, 10, 11, padA: 5, padB: 7, padC: 3), (t, c) => RunSgemm(t, c), "Sgemm small ld");
            AssertMatchesReference(Make(rng, ta, tb, 45, 66, 39, padA: 5, padB: 7, padC: 3), (t, c) => RunSgemm(t, c), "Sgemm packed ld");
        }
    }

    [Fact]
    public void Sgemm_KZero_ScalesCByBeta()
    {
        var c = new float[] { 1f, 2f, 3f, 4f, 5f, 6f };
        fixed (float* pc = c)
        {
            Gemm.Sgemm(false, false, 2, 3, 0, 1f, null, 1, null, 3, 0.5f, pc, 3);
            Assert.Equal([0.5f, 1f, 1.5f, 2f, 2.5f, 3f], c);
            c.AsSpan().Fill(float.NaN);
            Gemm.Sgemm(false, false, 2, 3, 0, 1f, null, 1, null, 3, 0f, pc, 3);
            Assert.All(c, v => Assert.Equal(0f, v));
        }
    }

    [Fact]
    public void Sgemm_MOrNZero_LeavesCUntouched()
    {
        var c = new float[] { 7f };
        var a = new float[] { 1f, 2f };
        Gemm.Sgemm(false, false, 0, 1, 2, 1f, a, 2, a, 1, 0f, c, 1);
        Gemm.Sgemm(false, false, 1, 0, 2, 1f, a, 2, a, 1, 0f, c, 1);
        Assert.Equal(7f, c[0]);
    }

    [Theory]
    [InlineData(-1, 2, 2, "'m' expected >= 0, got -1")]
    [InlineData(2, -3, 2, "'n' expected >= 0, got -3")]
    [InlineData(2, 2, -4, "'k' expected >= 0, got -4")]
    public void Sgemm_NegativeSize_ThrowsNamingArgument(int m, int n, int k, string expected)
    {
        var buf = new float[16];
        var ex = Assert.Throws<ShapeException>(() => Gemm.Sgemm(false, false, m, n, k, 1f, buf, 4, buf, 4, 0f, buf, 4));
        Assert.Contains("Sgemm", ex.Message);
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void Sgemm_LeadingDimensionTooSmall_Throws()
    {
        var buf = new float[64];
        var ex = Assert.Throws<ShapeException>(() => Gemm.Sgemm(false, false, 4, 4, 4, 1f, buf, 3, buf, 4, 0f, buf, 4));
        Assert.Contains("'lda' expected >= 4, got 3", ex.Message);
    }

    [Fact]
    public void Sgemm_SpanTooShort_ThrowsNamingArgument()
    {
        var ex = Assert.Throws<ShapeException>(() => Gemm.Sgemm(false, false, 4, 4, 4, 1f, new float[15], 4, new float[16], 4, 0f, new float[16], 4));
        Assert.Contains("'a' expected at least 16 elements, got 15", ex.Message);
    }
}

/// <summary>Operands with padded leading dimensions, and the float tolerance for comparing sgemm against the reference.</summary>
internal static unsafe class GemmTestUtil
{
    /// <summary>
    /// Named tolerance: |C − C_ref| ≤ GemmRelTol·(k + 8)·S per element, where S = |alpha|·Σₚ|op(A)[i,p]·op(B)[p,j]| + |beta·C[i,j]|
    /// (float summation error grows at most linearly in k, relative to the magnitude of the summands).
    /// </summary>
    public const double GemmRelTol = 1e-6;

    public sealed class Case
    {
        public required bool TransA, TransB;
        public required int M, N, K, Lda, Ldb, Ldc;
        public required float Alpha, Beta;
        public required float[] A, B, C;
    }

    public static Case Make(Random rng, bool transA, bool transB, int m, int n, int k, float alpha = 1f, float beta = 0f,
        int padA = 0, int padB = 0, int padC = 0, float cFill = float.NaN)
    {
        int lda = (transA ? m : k) + padA, ldb = (transB ? k : n) + padB, ldc = n + padC;
        int rowsA = transA ? k : m, rowsB = transB ? n : k;
        var a = new float[Math.Max(1, rowsA * lda)];
        var b = new float[Math.Max(1, rowsB * ldb)];
        var c = new float[Math.Max(1, m * ldc)];
        for (int i = 0; i < a.Length; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        for (int i = 0; i < b.Length; i++) b[i] = (float)(rng.NextDouble() * 2 - 1);
        for (int i = 0; i < c.Length; i++) c[i] = beta == 0f ? cFill : (float)(rng.NextDouble() * 2 - 1);
        // Padding columns of C are a sentinel the kernel must leave alone.
        for (int i = 0; i < m; i++) for (int j = n; j < ldc; j++) c[i * ldc + j] = -12345f;
        return new Case { TransA = transA, TransB = transB, M = m, N = n, K = k, Lda = lda, Ldb = ldb, Ldc = ldc, Alpha = alpha, Beta = beta, A = a, B = b, C = c };
    }

    /// <summary>Runs <paramref name="run"/> on a copy of C and asserts it matches <see cref="GemmReference"/> within <see cref="GemmRelTol"/>.</summary>
    public static void AssertMatchesReference(Case t, Action<Case, float[]> run, string label)
    {
        var expected = (float[])t.C.Clone();
        var actual = (float[])t.C.Clone();
        fixed (float* pa = t.A) fixed (float* pb = t.B) fixed (float* pe = expected)
            GemmReference.Sgemm(t.TransA, t.TransB, t.M, t.N, t.K, t.Alpha, pa, t.Lda, pb, t.Ldb, t.Beta, pe, t.Ldc);
        run(t, actual);
        for (int i = 0; i < t.M; i++)
        {
            for (int j = 0; j < t.N; j++)
            {
                double s = 0;
                for (int p = 0; p < t.K; p++)
                {
                    float av = t.TransA ? t.A[p * t.Lda + i] : t.A[i * t.Lda + p];
                    float bv = t.TransB ? t.B[j * t.Ldb + p] : t.B[p * t.Ldb + j];
                    s += Math.Abs((double)av * bv);
                }
                s = Math.Abs(t.Alpha) * s + (t.Beta == 0 ? 0 : Math.Abs(t.Beta * t.C[i * t.Ldc + j]));
                double tol = GemmRelTol * (t.K + 8) * s + 1e-30;
                float e = expected[i * t.Ldc + j], g = actual[i * t.Ldc + j];
                if (!(Math.Abs(e - g) <= tol))
                    Assert.Fail($"{label} transA={t.TransA} transB={t.TransB} m={t.M} n={t.N} k={t.K} alpha={t.Alpha} beta={t.Beta}: C[{i},{j}] = {g}, reference {e}, tolerance {tol:G3}");
            }
            for (int j = t.N; j < t.Ldc; j++)
                Assert.True(actual[i * t.Ldc + j] == -12345f, $"{label}: padding C[{i},{j}] was overwritten");
        }
    }

    /// <summary>The public entry point.</summary>
    public static void RunSgemm(Case t, float[] c, bool parallel = true)
    {
        fixed (float* pa = t.A) fixed (float* pb = t.B) fixed (float* pc = c)
            Gemm.Sgemm(t.TransA, t.TransB, t.M, t.N, t.K, t.Alpha, pa, t.Lda, pb, t.Ldb, t.Beta, pc, t.Ldc, parallel);
    }

    /// <summary>The skinny path (<see cref="GemmSkinny"/>) on a case with transA = false.</summary>
    public static void RunSkinny(Case t, float[] c)
    {
        fixed (float* pa = t.A) fixed (float* pb = t.B) fixed (float* pc = c)
            GemmSkinny.Sgemm(t.TransB, t.M, t.N, t.K, t.Alpha, pa, t.Lda, pb, t.Ldb, t.Beta, pc, t.Ldc, parallel: true);
    }

    /// <summary>The packed driver with a forced micro-kernel (bypasses the small-size path).</summary>
    public static void RunDriver(Case t, float[] c, GemmKernelKind kind, bool parallel = true)
    {
        fixed (float* pa = t.A) fixed (float* pb = t.B) fixed (float* pc = c)
        {
            var packer = new MatrixBPacker(pb, t.Ldb, t.TransB);
            Gemm.Driver(t.M, t.N, t.K, t.Alpha, pa, t.Lda, t.TransA, ref packer, t.Beta, pc, t.Ldc, parallel, kind);
        }
    }
}
