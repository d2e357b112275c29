namespace QuantSharp.Engine.Kernels;

/// <summary>Scalar reference GEMM: the specification the optimized <see cref="Gemm"/> is tested against.</summary>
public static unsafe class GemmReference
{
    /// <summary>
    /// C[m×n] = alpha·op(A)·op(B) + beta·C, row-major, with op(A) m×k and op(B) k×n; accumulates in double.
    /// When beta is 0, C is overwritten (NaNs in C do not propagate), as BLAS does.
    /// </summary>
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
    {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double acc = 0;
                for (int p = 0; p < k; p++)
                {
                    float av = transA ? a[p * lda + i] : a[i * lda + p];
                    float bv = transB ? b[j * ldb + p] : b[p * ldb + j];
                    acc += (double)av * bv;
                }
                float prev = beta == 0 ? 0 : beta * c[i * ldc + j];
                c[i * ldc + j] = (float)(alpha * acc) + prev;
            }
    }
}
