using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace QuantSharp.Engine.Kernels;

/// <summary>
/// Unpacked sgemm for small products (m·n·k below <see cref="Gemm.SmallThreshold"/>, or m ≤ 2), where packing
/// would cost more than it saves: row-by-row vector axpy when op(B) rows are contiguous, dot products
/// when op(B) is transposed.
/// </summary>
internal static unsafe class GemmSmall
{
    /// <summary>Same contract as <see cref="Gemm.Sgemm(bool,bool,int,int,int,float,float*,int,float*,int,float,float*,int,bool)"/> with m, n, k &gt; 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
    {
        for (int i = 0; i < m; i++)
        {
            float* cr = c + (long)i * ldc;
            if (!transB)
            {
                // C row = beta·C row + Σₚ (alpha·a[i,p])·B row p
                if (beta == 0f) new Span<float>(cr, n).Clear();
                else if (beta != 1f) for (int j = 0; j < n; j++) cr[j] *= beta;
                for (int p = 0; p < k; p++)
                {
                    float av = alpha * (transA ? a[(long)p * lda + i] : a[(long)i * lda + p]);
                    Axpy(av, b + (long)p * ldb, cr, n);
                }
            }
            else
            {
                for (int j = 0; j < n; j++)
                {
                    float* br = b + (long)j * ldb;
                    float dot = transA ? StridedDot(a + i, lda, br, k) : Dot(a + (long)i * lda, br, k);
                    cr[j] = beta == 0f ? alpha * dot : alpha * dot + beta * cr[j];
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Axpy(float a, float* x, float* y, int n)
    {
        int j = 0;
        var va = Vector256.Create(a);
        for (; j + 8 <= n; j += 8)
            Vector256.Store(Vector256.FusedMultiplyAdd(va, Vector256.Load(x + j), Vector256.Load(y + j)), y + j);
        for (; j < n; j++) y[j] = MathF.FusedMultiplyAdd(a, x[j], y[j]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Dot(float* x, float* y, int n)
    {
        int j = 0;
        var acc = Vector256<float>.Zero;
        for (; j + 8 <= n; j += 8)
            acc = Vector256.FusedMultiplyAdd(Vector256.Load(x + j), Vector256.Load(y + j), acc);
        float s = Vector256.Sum(acc);
        for (; j < n; j++) s = MathF.FusedMultiplyAdd(x[j], y[j], s);
        return s;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float StridedDot(float* x, int stride, float* y, int n)
    {
        float s = 0f;
        for (int j = 0; j < n; j++) s = MathF.FusedMultiplyAdd(x[(long)j * stride], y[j], s);
        return s;
    }
}
