using System.Collections.Concurrent;
using QuantSharp.Engine.Kernels;

namespace QuantSharp.Engine.Tests.Kernels;

public unsafe class GemmPackedBTests
{
    /// <summary>A packer that synthesizes B[p, j] = sin(0.37·p + 0.11·j) and records its calls.</summary>
    private readonly struct ProceduralPacker : IGemmBPacker
    {
        public readonly ConcurrentBag<(int K0, int Kc, int N0, int Nc)> Calls;
        public readonly int N;

        public ProceduralPacker(int n)
        {
            N = n;
            Calls = new ConcurrentBag<(int, int, int, int)>();
        }

        public static float Value(int p, int j) => MathF.Sin(0.37f * p + 0.11f * j);

        public void Pack(int k0, int kc, int n0, int nc, float* dest)
        {
            Calls.Add((k0, kc, n0, nc));
            for (int j0 = 0; j0 < nc; j0 += Gemm.NR)
                for (int kk = 0; kk < kc; kk++)
                    for (int j = 0; j < Gemm.NR; j++)
                        dest[j0 * kc + kk * Gemm.NR + j] = j0 + j < nc ? Value(k0 + kk, n0 + j0 + j) : 0f;
        }
    }

    [Theory]
    [InlineData(64, 300, 27, false)]    // conv-like: 64 output channels (8-row tiles), K = Cin·3·3
    [InlineData(30, 4100, 20, false)]   // n straddles NC
    [InlineData(13, 70, 600, true)]     // k straddles KC, transposed A
    [InlineData(150, 200, 520, false)]  // parallel row chunks
    [InlineData(16, 40, 2500, true)]    // small C, long k: split along k across threads
    public void SgemmPackedB_ProceduralPacker_MatchesReferenceOnMaterializedB(int m, int n, int k, bool transA)
    {
        var rng = new Random(m + n + k);
        var a = new float[m * k];
        for (int i = 0; i < a.Length; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        var b = new float[k * n];
        for (int p = 0; p < k; p++) for (int j = 0; j < n; j++) b[p * n + j] = ProceduralPacker.Value(p, j);
        int lda = transA ? m : k;
        var expected = new float[m * n];
        var actual = new float[m * n];
        var packer = new ProceduralPacker(n);
        fixed (float* pa = a) fixed (float* pb = b) fixed (float* pe = expected) fixed (float* pc = actual)
        {
            GemmReference.Sgemm(transA, false, m, n, k, 1f, pa, lda, pb, n, 0f, pe, n);
            Gemm.SgemmPackedB(m, n, k, pa, lda, transA, ref packer, pc, n);
        }
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-6 * (k + 8) * k, $"C[{i / n},{i % n}] = {actual[i]}, reference {expected[i]}");

        // The packer contract: kc ≤ KC, nc ≤ NC, column ranges NR-aligned within a block, every element packed once.
        foreach (var (k0, kc, n0, nc) in packer.Calls)
        {
            Assert.True(k0 >= 0 && kc >= 1 && kc <= Gemm.KC && k0 + kc <= k, $"bad k range {k0}+{kc}");
            Assert.True(nc >= 1 && nc <= Gemm.NC && n0 % Gemm.NC % Gemm.NR == 0 && n0 + nc <= n, $"bad n range {n0}+{nc}");
        }
        long covered = packer.Calls.Sum(c => (long)c.Kc * c.Nc);
        Assert.Equal((long)k * n, covered);
    }

    [Fact]
    public void SgemmPackedB_BetaAndAlpha_AccumulateIntoC()
    {
        int m = 24, n = 40, k = 50;
        var rng = new Random(3);
        var a = new float[m * k];
        var b = new float[k * n];
        var c = new float[m * n];
        for (int i = 0; i < a.Length; i++) a[i] = (float)rng.NextDouble();
        for (int i = 0; i < b.Length; i++) b[i] = (float)rng.NextDouble();
        for (int i = 0; i < c.Length; i++) c[i] = (float)rng.NextDouble();
        var expected = (float[])c.Clone();
        fixed (float* pa = a) fixed (float* pb = b) fixed (float* pc = c) fixed (float* pe = expected)
        {
            GemmReference.Sgemm(false, false, m, n, k, 0.5f, pa, k, pb, n, 2f, pe, n);
            var packer = new MatrixBPacker(pb, n, transB: false);
            Gemm.SgemmPackedB(m, n, k, pa, k, false, ref packer, pc, n, beta: 2f, alpha: 0.5f);
        }
        for (int i = 0; i < c.Length; i++) Assert.True(Math.Abs(expected[i] - c[i]) <= 1e-4 * (1 + Math.Abs(expected[i])), $"C[{i}] {c[i]} vs {expected[i]}");
    }

    [Theory]
    [InlineData(64, 100, 27, 0f)]    // 8-row tiles, beta 0 over NaN-filled C
    [InlineData(30, 50, 600, 0.5f)]  // two k slices: bias enters once
    [InlineData(16, 40, 2500, 0f)]   // split along k: bias enters once
    [InlineData(5, 7, 0, 2f)]        // k = 0: C = beta·C + bias
    public void SgemmPackedB_RowBiasEpilogue_AddsBiasOncePerRow(int m, int n, int k, float beta)
    {
        var rng = new Random(m * n + k);
        var a = new float[Math.Max(1, m * k)];
        var b = new float[Math.Max(1, k * n)];
        var c = new float[m * n];
        var bias = new float[m];
        for (int i = 0; i < a.Length; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        for (int i = 0; i < b.Length; i++) b[i] = (float)(rng.NextDouble() * 2 - 1);
        for (int i = 0; i < c.Length; i++) c[i] = beta == 0f ? float.NaN : (float)rng.NextDouble();
        for (int i = 0; i < m; i++) bias[i] = i - 3.5f;
        var expected = (float[])c.Clone();
        fixed (float* pa = a) fixed (float* pb = b) fixed (float* pc = c) fixed (float* pe = expected) fixed (float* pbias = bias)
        {
            GemmReference.Sgemm(false, false, m, n, k, 1f, pa, Math.Max(1, k), pb, n, beta, pe, n);
            for (int i = 0; i < m * n; i++) expected[i] += bias[i / n];
            var packer = new MatrixBPacker(pb, n, transB: false);
            Gemm.SgemmPackedB(m, n, k, pa, Math.Max(1, k), false, ref packer, pc, n, beta: beta, rowBias: pbias);
        }
        for (int i = 0; i < c.Length; i++)
            Assert.True(Math.Abs(expected[i] - c[i]) <= 1e-5 * (k + 8) * (1 + Math.Abs(expected[i])), $"C[{i / n},{i % n}] = {c[i]}, expected {expected[i]}");
    }

    [Fact]
    public void SgemmPackedB_NegativeSize_ThrowsNamingOp()
    {
        var packer = new MatrixBPacker(null, 1, false);
        var ex = Assert.Throws<ShapeException>(() => Gemm.SgemmPackedB(2, -1, 2, null, 2, false, ref packer, null, 1));
        Assert.Contains("SgemmPackedB: argument 'n' expected >= 0, got -1", ex.Message);
    }
}
