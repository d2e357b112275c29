using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace QuantSharp.Engine.Kernels;

/// <summary>
/// Writes blocks of the right-hand GEMM operand op(B) (k×n) into the packed layout the micro-kernel reads.
/// Implement it as a struct to feed <see cref="Gemm.SgemmPackedB{TPacker}"/> from any source (a plain
/// matrix, or a padded image for an implicit-GEMM convolution) without materializing op(B).
/// </summary>
/// <remarks>
/// <para>Layout of one call <c>Pack(k0, kc, n0, nc, dest)</c>: the columns n0 … n0+nc−1 of rows
/// k0 … k0+kc−1 of op(B) are cut into ⌈nc / <see cref="Gemm.NR"/>⌉ panels of <see cref="Gemm.NR"/> (= 32)
/// columns, in column order. Panel p starts at <c>dest + p·NR·kc</c> and is k-major:
/// <c>dest[p·NR·kc + kk·NR + j] = op(B)[k0 + kk, n0 + p·NR + j]</c> for kk &lt; kc, j &lt; NR.
/// In the last panel the columns past n0+nc−1 must be written as 0 (the kernel computes them and
/// discards them; non-finite garbage there is harmless to C but zero keeps the arithmetic clean).</para>
/// <para>Calls may come concurrently from several threads for disjoint column ranges of one block
/// (n0 then differs from the block start by a multiple of NR), so <c>Pack</c> must only read shared state.
/// dest is always 64-byte aligned. The driver currently asks for one panel per call (nc ≤ NR), but a packer
/// must handle any nc ≤ <see cref="Gemm.NC"/>. The row blocks (k0, kc) of one product tile [0, k) with
/// kc ≤ <see cref="Gemm.KC"/> (k is cut into near-equal slices, so k0 need not be a multiple of KC).</para>
/// </remarks>
public unsafe interface IGemmBPacker
{
    /// <summary>Packs rows [k0, k0+kc) × columns [n0, n0+nc) of op(B) into NR-wide k-major panels at <paramref name="dest"/>.</summary>
    void Pack(int k0, int kc, int n0, int nc, float* dest);
}

/// <summary>
/// The <see cref="IGemmBPacker"/> of an ordinary row-major matrix: op(B) = B (k×n, row stride ldb)
/// or, when transposed, op(B) = Bᵀ with B stored n×k (row stride ldb).
/// </summary>
public readonly unsafe struct MatrixBPacker : IGemmBPacker
{
    private readonly float* _b;
    private readonly int _ldb;
    private readonly bool _trans;

    /// <summary>Packer over <paramref name="b"/> with row stride <paramref name="ldb"/>; <paramref name="transB"/> reads it as Bᵀ.</summary>
    public MatrixBPacker(float* b, int ldb, bool transB)
    {
        _b = b;
        _ldb = ldb;
        _trans = transB;
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Pack(int k0, int kc, int n0, int nc, float* dest)
    {
        const int nr = Gemm.NR;
        for (int j0 = 0; j0 < nc; j0 += nr)
        {
            int w = Math.Min(nr, nc - j0);
            float* d = dest + (long)j0 * kc;
            if (!_trans)
            {
                float* src = _b + (long)k0 * _ldb + n0 + j0;
                if (w == nr)
                {
                    for (int kk = 0; kk < kc; kk++, src += _ldb, d += nr)
                    {
                        Vector256.Store(Vector256.Load(src), d);
                        Vector256.Store(Vector256.Load(src + 8), d + 8);
                        Vector256.Store(Vector256.Load(src + 16), d + 16);
                        Vector256.Store(Vector256.Load(src + 24), d + 24);
                    }
                }
                else
                {
                    for (int kk = 0; kk < kc; kk++, src += _ldb, d += nr)
                    {
                        int j = 0;
                        for (; j < w; j++) d[j] = src[j];
                        for (; j < nr; j++) d[j] = 0f;
                    }
                }
            }
            else
            {
                // op(B)[kk, j] = B[j, kk]: each stored row of B becomes one column of the panel.
                float* src = _b + (long)(n0 + j0) * _ldb + k0;
                int j = 0;
                for (; j + 4 <= w; j += 4)
                    Transpose4Rows(src + (long)j * _ldb, _ldb, kc, d + j);
                for (; j < w; j++)
                {
                    float* s = src + (long)j * _ldb;
                    for (int kk = 0; kk < kc; kk++) d[kk * nr + j] = s[kk];
                }
                for (; j < nr; j++)
                    for (int kk = 0; kk < kc; kk++) d[kk * nr + j] = 0f;
            }
        }
    }

    /// <summary>Writes 4 source rows (each kc long) as 4 adjacent columns of an NR-wide k-major panel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose4Rows(float* s, int ld, int kc, float* d) =>
        GemmPackA.Transpose4(s, ld, kc, d, Gemm.NR);
}

/// <summary>Packing of the left operand op(A) into MR-row k-major panels (internal layout of the driver).</summary>
internal static unsafe class GemmPackA
{
    /// <summary>
    /// Packs rows [i0, i0+mc) × columns [k0, k0+kc) of op(A) into ⌈mc/mr⌉ panels of height mr (12 or 8):
    /// panel p at <c>dest + p·mr·kc</c> holds <c>dest[p·mr·kc + kk·mr + i] = op(A)[i0 + p·mr + i, k0 + kk]</c>,
    /// rows past the end zero.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Pack(float* a, int lda, bool transA, int i0, int mc, int k0, int kc, float* dest, int mr)
    {
        for (int p0 = 0; p0 < mc; p0 += mr)
        {
            int h = Math.Min(mr, mc - p0);
            float* d = dest + (long)p0 * kc;
            if (transA)
            {
                // op(A)[i, kk] = A[kk, i]: rows of the panel are contiguous in A.
                float* src = a + (long)k0 * lda + i0 + p0;
                if (h == 12 && mr == 12)
                {
                    for (int kk = 0; kk < kc; kk++, src += lda, d += mr)
                    {
                        Vector256.Store(Vector256.Load(src), d);
                        Vector128.Store(Vector128.Load(src + 8), d + 8);
                    }
                }
                else if (h == 8 && mr == 8)
                {
                    for (int kk = 0; kk < kc; kk++, src += lda, d += mr)
                        Vector256.Store(Vector256.Load(src), d);
                }
                else
                {
                    for (int kk = 0; kk < kc; kk++, src += lda, d += mr)
                    {
                        int i = 0;
                        for (; i < h; i++) d[i] = src[i];
                        for (; i < mr; i++) d[i] = 0f;
                    }
                }
            }
            else
            {
                float* src = a + (long)(i0 + p0) * lda + k0;
                int i = 0;
                for (; i + 4 <= h; i += 4) Transpose4(src + (long)i * lda, lda, kc, d + i, mr);
                for (; i < h; i++)
                {
                    float* s = src + (long)i * lda;
                    for (int kk = 0; kk < kc; kk++) d[kk * mr + i] = s[kk];
                }
                for (; i < mr; i++)
                    for (int kk = 0; kk < kc; kk++) d[kk * mr + i] = 0f;
            }
        }
    }

    /// <summary>
    /// Transposes 4 rows of length kc (stride ld) into 4 adjacent columns of a k-major panel of width
    /// <paramref name="width"/>: <c>d[kk·width + r] = s[r·ld + kk]</c> for r &lt; 4.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Transpose4(float* s, int ld, int kc, float* d, int width)
    {
        float* s0 = s, s1 = s + ld, s2 = s + 2L * ld, s3 = s + 3L * ld;
        int kk = 0;
        for (; kk + 4 <= kc; kk += 4)
        {
            var r0 = Vector128.Load(s0 + kk);
            var r1 = Vector128.Load(s1 + kk);
            var r2 = Vector128.Load(s2 + kk);
            var r3 = Vector128.Load(s3 + kk);
            // 4×4 transpose by interleaving: t0 = (r0[0], r1[0], r0[1], r1[1]) …
            var lo01 = UnpackLo(r0, r1); // r0[0] r1[0] r0[1] r1[1]
            var hi01 = UnpackHi(r0, r1); // r0[2] r1[2] r0[3] r1[3]
            var lo23 = UnpackLo(r2, r3);
            var hi23 = UnpackHi(r2, r3);
            Vector128.Store(MoveLo(lo01, lo23), d + (long)kk * width);
            Vector128.Store(MoveHi(lo01, lo23), d + (long)(kk + 1) * width);
            Vector128.Store(MoveLo(hi01, hi23), d + (long)(kk + 2) * width);
            Vector128.Store(MoveHi(hi01, hi23), d + (long)(kk + 3) * width);
        }
        for (; kk < kc; kk++)
        {
            float* dd = d + (long)kk * width;
            dd[0] = s0[kk]; dd[1] = s1[kk]; dd[2] = s2[kk]; dd[3] = s3[kk];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> UnpackLo(Vector128<float> a, Vector128<float> b) =>
        System.Runtime.Intrinsics.X86.Sse.IsSupported ? System.Runtime.Intrinsics.X86.Sse.UnpackLow(a, b)
        : Vector128.Create(a[0], b[0], a[1], b[1]);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> UnpackHi(Vector128<float> a, Vector128<float> b) =>
        System.Runtime.Intrinsics.X86.Sse.IsSupported ? System.Runtime.Intrinsics.X86.Sse.UnpackHigh(a, b)
        : Vector128.Create(a[2], b[2], a[3], b[3]);

    // (a0 a1 b0 b1)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> MoveLo(Vector128<float> a, Vector128<float> b) =>
        System.Runtime.Intrinsics.X86.Sse.IsSupported ? System.Runtime.Intrinsics.X86.Sse.MoveLowToHigh(a, b)
        : Vector128.Create(a[0], a[1], b[0], b[1]);

    // (a2 a3 b2 b3)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> MoveHi(Vector128<float> a, Vector128<float> b) =>
        System.Runtime.Intrinsics.X86.Sse.IsSupported ? System.Runtime.Intrinsics.X86.Sse.MoveHighToLow(b, a)
        : Vector128.Create(a[2], a[3], b[2], b[3]);
}
