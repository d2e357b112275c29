using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using QuantSharp.Engine.Threading;

namespace QuantSharp.Engine.Kernels;

/// <summary>
/// Sgemm for a product with few columns (n ≤ <see cref="MaxColumns"/>) and a large A: a layer at batch 1 on a small plane
/// (ResNet-18's last convolutions at 64×64 input: 512 × 4608 weights, 4 output pixels). The packed driver would copy A into
/// panels and fill 4 of a micro-kernel's 16 or 32 columns; here each row of A is streamed once against op(B)'s columns,
/// so the product runs at the speed A is read.
/// </summary>
/// <remarks>Called by <see cref="ConvBatched"/> for one image only (see <see cref="ConvBatched.Skinny"/>), not by
/// <see cref="Gemm.Sgemm(bool,bool,int,int,int,float,float*,int,float*,int,float,float*,int,bool)"/>: whether a product is
/// skinny depends on the batch, and a row of results must not change its bits with the batch it is computed in.
/// op(B) is laid out as n contiguous rows of k (transposed once when B is not); each row of C is four dot
/// products at a time over k, in vectors of 16 (AVX-512) or 8 floats, then a scalar tail.</remarks>
internal static unsafe class GemmSkinny
{
    /// <summary>Widest op(B) this path takes.</summary>
    public const int MaxColumns = 8;

    /// <summary>Smallest m·k worth it (below, the plain loops of <see cref="GemmSmall"/> or the driver do as well).</summary>
    public const long MinWork = 64 * 1024;

    /// <summary>True when C = op(A)·op(B) should take this path.</summary>
    public static bool Takes(bool transA, int m, int n, int k) => !transA && n <= MaxColumns && (long)m * k >= MinWork;

    /// <summary>Same contract as <see cref="Gemm.Sgemm(bool,bool,int,int,int,float,float*,int,float*,int,float,float*,int,bool)"/> with transA = false, m, n, k &gt; 0 and n ≤ <see cref="MaxColumns"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Sgemm(bool transB, int m, int n, int k, float alpha, float* a, int lda, float* b, int ldb, float beta, float* c, int ldc, bool parallel)
    {
        // Column j of op(B) as a contiguous row of k: B's own row when transposed, else a copy; padded to a multiple of 4 rows of zeros.
        int rows = (n + 3) / 4 * 4;
        // Rented: a batch-1 network calls this once per deep conv per run.
        var columns = System.Buffers.ArrayPool<float>.Shared.Rent(rows * k);
        try
        {
            fixed (float* bt = columns)
            {
                for (int j = 0; j < n; j++)
                {
                    float* dst = bt + (long)j * k;
                    if (transB) new ReadOnlySpan<float>(b + (long)j * ldb, k).CopyTo(new Span<float>(dst, k));
                    else for (int p = 0; p < k; p++) dst[p] = b[(long)p * ldb + j];
                }
                new Span<float>(bt + (long)n * k, (rows - n) * k).Clear();
                nint ab = (nint)bt, aa = (nint)a, ac = (nint)c;
                // Rows per block: a block streams at least 256K weights (1 MB); smaller blocks cost more to start than they run.
                int grain = (int)Math.Max(1, 262144 / k);
                Action<int, int> body = (r0, r1) =>
                {
                    float* sums = stackalloc float[4];
                    for (int i = r0; i < r1; i++)
                    {
                        float* ar = (float*)aa + (long)i * lda, cr = (float*)ac + (long)i * ldc;
                        for (int j0 = 0; j0 < n; j0 += 4)
                        {
                            float* b0 = (float*)ab + (long)j0 * k;
                            Dot4(ar, b0, b0 + k, b0 + 2L * k, b0 + 3L * k, k, sums);
                            for (int j = j0; j < Math.Min(n, j0 + 4); j++)
                                cr[j] = beta == 0f ? alpha * sums[j - j0] : alpha * sums[j - j0] + beta * cr[j];
                        }
                    }
                };
                if (parallel) Work.For(m, grain, body);
                else body(0, m);
            }
        }
        finally { System.Buffers.ArrayPool<float>.Shared.Return(columns); }
    }

    /// <summary>sums[0..3] = a·b₀ … a·b₃ over k elements.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Dot4(float* a, float* b0, float* b1, float* b2, float* b3, int k, float* sums)
    {
        int p = 0;
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        if (Vector512.IsHardwareAccelerated && k >= 16)
        {
            Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
            for (; p + 16 <= k; p += 16)
            {
                var av = Vector512.Load(a + p);
                c0 = Vector512.FusedMultiplyAdd(av, Vector512.Load(b0 + p), c0);
                c1 = Vector512.FusedMultiplyAdd(av, Vector512.Load(b1 + p), c1);
                c2 = Vector512.FusedMultiplyAdd(av, Vector512.Load(b2 + p), c2);
                c3 = Vector512.FusedMultiplyAdd(av, Vector512.Load(b3 + p), c3);
            }
            (s0, s1, s2, s3) = (Vector512.Sum(c0), Vector512.Sum(c1), Vector512.Sum(c2), Vector512.Sum(c3));
        }
        else if (Vector256.IsHardwareAccelerated && k >= 8)
        {
            Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default;
            for (; p + 8 <= k; p += 8)
            {
                var av = Vector256.Load(a + p);
                c0 = Vector256.FusedMultiplyAdd(av, Vector256.Load(b0 + p), c0);
                c1 = Vector256.FusedMultiplyAdd(av, Vector256.Load(b1 + p), c1);
                c2 = Vector256.FusedMultiplyAdd(av, Vector256.Load(b2 + p), c2);
                c3 = Vector256.FusedMultiplyAdd(av, Vector256.Load(b3 + p), c3);
            }
            (s0, s1, s2, s3) = (Vector256.Sum(c0), Vector256.Sum(c1), Vector256.Sum(c2), Vector256.Sum(c3));
        }
        for (; p < k; p++)
        {
            float av = a[p];
            s0 = MathF.FusedMultiplyAdd(av, b0[p], s0);
            s1 = MathF.FusedMultiplyAdd(av, b1[p], s1);
            s2 = MathF.FusedMultiplyAdd(av, b2[p], s2);
            s3 = MathF.FusedMultiplyAdd(av, b3[p], s3);
        }
        sums[0] = s0;
        sums[1] = s1;
        sums[2] = s2;
        sums[3] = s3;
    }
}
