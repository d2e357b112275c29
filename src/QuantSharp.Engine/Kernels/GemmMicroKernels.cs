using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace QuantSharp.Engine.Kernels;

/// <summary>Which register-blocked micro-kernel the packed driver runs.</summary>
internal enum GemmKernelKind
{
    /// <summary>12×32 (or 8×32) tile in 24 (16) <see cref="Vector512{T}"/> accumulators.</summary>
    Avx512,
    /// <summary>The same tiles as 4×16 passes with 8 <see cref="Vector256{T}"/> accumulators (16-register ISAs).</summary>
    Vector256,
}

/// <summary>
/// Micro-kernels: C[h×NR] = alpha·(Ap·Bp) + beta·C over one packed A panel (h = 12 or 8 rows, k-major) and one
/// packed B panel (NR columns, k-major). beta = 0 writes C without reading it.
/// </summary>
internal static unsafe class GemmMicroKernels
{
    public static GemmKernelKind Default =>
        Vector512.IsHardwareAccelerated ? GemmKernelKind.Avx512 : GemmKernelKind.Vector256;

    /// <summary>
    /// One tile of <paramref name="height"/> (12 or 8) × NR; when the tile is clipped (mr &lt; height or
    /// nr &lt; NR) it is computed into <paramref name="tile"/> (12·NR floats) and the valid part is merged into C.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Tile(GemmKernelKind kind, int height, int kc, float* pa, float* pb, float* c, int ldc,
        int mr, int nr, float alpha, float beta, float* tile)
    {
        if (mr == height && nr == Gemm.NR)
        {
            Full(kind, height, kc, pa, pb, c, ldc, alpha, beta);
            return;
        }
        Full(kind, height, kc, pa, pb, tile, Gemm.NR, 1f, 0f);
        for (int i = 0; i < mr; i++)
        {
            float* cr = c + (long)i * ldc;
            float* tr = tile + i * Gemm.NR;
            if (beta == 0f) for (int j = 0; j < nr; j++) cr[j] = alpha * tr[j];
            else for (int j = 0; j < nr; j++) cr[j] = alpha * tr[j] + beta * cr[j];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Full(GemmKernelKind kind, int height, int kc, float* pa, float* pb, float* c, int ldc, float alpha, float beta)
    {
        if (kind == GemmKernelKind.Avx512)
        {
            if (height == 12) Kernel12x32Avx512(kc, pa, pb, c, ldc, alpha, beta);
            else Kernel8x32Avx512(kc, pa, pb, c, ldc, alpha, beta);
        }
        else
        {
            for (int r = 0; r < height; r += 4)
                for (int h = 0; h < 2; h++)
                    Kernel4x16Vector256(kc, height, pa + r, pb + h * 16, c + (long)r * ldc + h * 16, ldc, alpha, beta);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store512(float* cr, Vector512<float> x0, Vector512<float> x1, Vector512<float> va, Vector512<float> vb, bool readC)
    {
        if (readC)
        {
            Vector512.Store(Vector512.FusedMultiplyAdd(x0, va, Vector512.Load(cr) * vb), cr);
            Vector512.Store(Vector512.FusedMultiplyAdd(x1, va, Vector512.Load(cr + 16) * vb), cr + 16);
        }
        else
        {
            Vector512.Store(x0 * va, cr);
            Vector512.Store(x1 * va, cr + 16);
        }
    }

    /// <summary>12×32 AVX-512 kernel: two B vectors per k step, each A element broadcast into 2 FMAs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Kernel12x32Avx512(int kc, float* pa, float* pb, float* c, int ldc, float alpha, float beta)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        Vector512<float> c60 = default, c61 = default, c70 = default, c71 = default, c80 = default, c81 = default;
        Vector512<float> c90 = default, c91 = default, ca0 = default, ca1 = default, cb0 = default, cb1 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(pb);
            var b1 = Vector512.Load(pb + 16);
            Vector512<float> a;
            a = Vector512.Create(pa[0]); c00 = Vector512.FusedMultiplyAdd(a, b0, c00); c01 = Vector512.FusedMultiplyAdd(a, b1, c01);
            a = Vector512.Create(pa[1]); c10 = Vector512.FusedMultiplyAdd(a, b0, c10); c11 = Vector512.FusedMultiplyAdd(a, b1, c11);
            a = Vector512.Create(pa[2]); c20 = Vector512.FusedMultiplyAdd(a, b0, c20); c21 = Vector512.FusedMultiplyAdd(a, b1, c21);
            a = Vector512.Create(pa[3]); c30 = Vector512.FusedMultiplyAdd(a, b0, c30); c31 = Vector512.FusedMultiplyAdd(a, b1, c31);
            a = Vector512.Create(pa[4]); c40 = Vector512.FusedMultiplyAdd(a, b0, c40); c41 = Vector512.FusedMultiplyAdd(a, b1, c41);
            a = Vector512.Create(pa[5]); c50 = Vector512.FusedMultiplyAdd(a, b0, c50); c51 = Vector512.FusedMultiplyAdd(a, b1, c51);
            a = Vector512.Create(pa[6]); c60 = Vector512.FusedMultiplyAdd(a, b0, c60); c61 = Vector512.FusedMultiplyAdd(a, b1, c61);
            a = Vector512.Create(pa[7]); c70 = Vector512.FusedMultiplyAdd(a, b0, c70); c71 = Vector512.FusedMultiplyAdd(a, b1, c71);
            a = Vector512.Create(pa[8]); c80 = Vector512.FusedMultiplyAdd(a, b0, c80); c81 = Vector512.FusedMultiplyAdd(a, b1, c81);
            a = Vector512.Create(pa[9]); c90 = Vector512.FusedMultiplyAdd(a, b0, c90); c91 = Vector512.FusedMultiplyAdd(a, b1, c91);
            a = Vector512.Create(pa[10]); ca0 = Vector512.FusedMultiplyAdd(a, b0, ca0); ca1 = Vector512.FusedMultiplyAdd(a, b1, ca1);
            a = Vector512.Create(pa[11]); cb0 = Vector512.FusedMultiplyAdd(a, b0, cb0); cb1 = Vector512.FusedMultiplyAdd(a, b1, cb1);
            pa += 12;
            pb += Gemm.NR;
        }
        var va = Vector512.Create(alpha);
        var vb = Vector512.Create(beta);
        bool readC = beta != 0f;
        Store512(c, c00, c01, va, vb, readC); c += ldc;
        Store512(c, c10, c11, va, vb, readC); c += ldc;
        Store512(c, c20, c21, va, vb, readC); c += ldc;
        Store512(c, c30, c31, va, vb, readC); c += ldc;
        Store512(c, c40, c41, va, vb, readC); c += ldc;
        Store512(c, c50, c51, va, vb, readC); c += ldc;
        Store512(c, c60, c61, va, vb, readC); c += ldc;
        Store512(c, c70, c71, va, vb, readC); c += ldc;
        Store512(c, c80, c81, va, vb, readC); c += ldc;
        Store512(c, c90, c91, va, vb, readC); c += ldc;
        Store512(c, ca0, ca1, va, vb, readC); c += ldc;
        Store512(c, cb0, cb1, va, vb, readC);
    }

    /// <summary>8×32 AVX-512 kernel (for heights that are multiples of 8 but not of 12, e.g. 64 output channels).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Kernel8x32Avx512(int kc, float* pa, float* pb, float* c, int ldc, float alpha, float beta)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        Vector512<float> c60 = default, c61 = default, c70 = default, c71 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(pb);
            var b1 = Vector512.Load(pb + 16);
            Vector512<float> a;
            a = Vector512.Create(pa[0]); c00 = Vector512.FusedMultiplyAdd(a, b0, c00); c01 = Vector512.FusedMultiplyAdd(a, b1, c01);
            a = Vector512.Create(pa[1]); c10 = Vector512.FusedMultiplyAdd(a, b0, c10); c11 = Vector512.FusedMultiplyAdd(a, b1, c11);
            a = Vector512.Create(pa[2]); c20 = Vector512.FusedMultiplyAdd(a, b0, c20); c21 = Vector512.FusedMultiplyAdd(a, b1, c21);
            a = Vector512.Create(pa[3]); c30 = Vector512.FusedMultiplyAdd(a, b0, c30); c31 = Vector512.FusedMultiplyAdd(a, b1, c31);
            a = Vector512.Create(pa[4]); c40 = Vector512.FusedMultiplyAdd(a, b0, c40); c41 = Vector512.FusedMultiplyAdd(a, b1, c41);
            a = Vector512.Create(pa[5]); c50 = Vector512.FusedMultiplyAdd(a, b0, c50); c51 = Vector512.FusedMultiplyAdd(a, b1, c51);
            a = Vector512.Create(pa[6]); c60 = Vector512.FusedMultiplyAdd(a, b0, c60); c61 = Vector512.FusedMultiplyAdd(a, b1, c61);
            a = Vector512.Create(pa[7]); c70 = Vector512.FusedMultiplyAdd(a, b0, c70); c71 = Vector512.FusedMultiplyAdd(a, b1, c71);
            pa += 8;
            pb += Gemm.NR;
        }
        var va = Vector512.Create(alpha);
        var vb = Vector512.Create(beta);
        bool readC = beta != 0f;
        Store512(c, c00, c01, va, vb, readC); c += ldc;
        Store512(c, c10, c11, va, vb, readC); c += ldc;
        Store512(c, c20, c21, va, vb, readC); c += ldc;
        Store512(c, c30, c31, va, vb, readC); c += ldc;
        Store512(c, c40, c41, va, vb, readC); c += ldc;
        Store512(c, c50, c51, va, vb, readC); c += ldc;
        Store512(c, c60, c61, va, vb, readC); c += ldc;
        Store512(c, c70, c71, va, vb, readC);
    }

    /// <summary>
    /// 4×16 block of a packed tile with <see cref="Vector256{T}"/> FMAs (8 accumulators, fits 16-register ISAs);
    /// <paramref name="aStride"/> is the tile height (A panel row count).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Kernel4x16Vector256(int kc, int aStride, float* pa, float* pb, float* c, int ldc, float alpha, float beta)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector256<float> c20 = default, c21 = default, c30 = default, c31 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(pb);
            var b1 = Vector256.Load(pb + 8);
            Vector256<float> a;
            a = Vector256.Create(pa[0]); c00 = Vector256.FusedMultiplyAdd(a, b0, c00); c01 = Vector256.FusedMultiplyAdd(a, b1, c01);
            a = Vector256.Create(pa[1]); c10 = Vector256.FusedMultiplyAdd(a, b0, c10); c11 = Vector256.FusedMultiplyAdd(a, b1, c11);
            a = Vector256.Create(pa[2]); c20 = Vector256.FusedMultiplyAdd(a, b0, c20); c21 = Vector256.FusedMultiplyAdd(a, b1, c21);
            a = Vector256.Create(pa[3]); c30 = Vector256.FusedMultiplyAdd(a, b0, c30); c31 = Vector256.FusedMultiplyAdd(a, b1, c31);
            pa += aStride;
            pb += Gemm.NR;
        }
        var va = Vector256.Create(alpha);
        var vb = Vector256.Create(beta);
        bool readC = beta != 0f;
        Store256(c, c00, c01, va, vb, readC); c += ldc;
        Store256(c, c10, c11, va, vb, readC); c += ldc;
        Store256(c, c20, c21, va, vb, readC); c += ldc;
        Store256(c, c30, c31, va, vb, readC);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store256(float* cr, Vector256<float> x0, Vector256<float> x1, Vector256<float> va, Vector256<float> vb, bool readC)
    {
        if (readC)
        {
            Vector256.Store(Vector256.FusedMultiplyAdd(x0, va, Vector256.Load(cr) * vb), cr);
            Vector256.Store(Vector256.FusedMultiplyAdd(x1, va, Vector256.Load(cr + 8) * vb), cr + 8);
        }
        else
        {
            Vector256.Store(x0 * va, cr);
            Vector256.Store(x1 * va, cr + 8);
        }
    }
}
