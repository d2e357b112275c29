namespace QuantSharp.Engine.Kernels;

/// <summary>Single-precision matrix multiplication (row-major BLAS sgemm semantics).</summary>
public static unsafe class Gemm
{
    /// <summary>
    /// C[m×n] = alpha·op(A)·op(B) + beta·C, row-major; op(A) is m×k (A is k×m with lda ≥ m when
    /// <paramref name="transA"/>), op(B) is k×n. beta = 0 overwrites C.
    /// </summary>
    /// <param name="parallel">Use all cores (false when the caller already runs in parallel).</param>
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc, bool parallel = true)
    {
        // Interim: the reference; the packed AVX-512 kernel replaces this.
        GemmReference.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }

    /// <summary>Span overload of <see cref="Sgemm(bool,bool,int,int,int,float,float*,int,float*,int,float,float*,int,bool)"/>.</summary>
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc, bool parallel = true)
    {
        fixed (float* pa = a) fixed (float* pb = b) fixed (float* pc = c)
            Sgemm(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, parallel);
    }
}
