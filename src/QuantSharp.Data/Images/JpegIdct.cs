using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace QuantSharp.Data.Images;

/// <summary>
/// The accurate integer 8×8 inverse DCT with dequantization ("islow", the default of libjpeg / libjpeg-turbo), so a
/// decoded block matches libjpeg-turbo's default output bit for bit.
/// </summary>
/// <remarks>
/// The separable 1-D IDCT follows the Loeffler–Ligtenberg–Moschytz factorisation with 13-bit fixed-point constants
/// (c = round(cos-based factor · 2^13)): columns first, scaled up by 2^2 (PASS1_BITS) and rounded by 2^11; then rows,
/// rounded by 2^18 (13 + 2 + 3, the 3 being the 1/8 of the 2-D transform); then +128 and clamped to [0, 255].
/// Columns or rows whose AC terms are all zero take the DC-only shortcut, which gives the same result.
/// <see cref="Transform"/> runs eight columns (then eight rows) at once in 32-bit lanes with AVX2 — the arithmetic of
/// libjpeg-turbo's SIMD islow — and falls back to <see cref="TransformScalar"/>, the reference, without AVX2; the two
/// agree bit for bit (tested on random blocks).
/// </remarks>
internal static class JpegIdct
{
    /// <summary>
    /// Transforms the 64 coefficients at <paramref name="coef"/> (natural order, quantized) with quantization table
    /// <paramref name="quant"/> (natural order) and writes 8 rows of 8 bytes at <paramref name="output"/>, rows
    /// <paramref name="stride"/> bytes apart.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Transform(short* coef, ushort* quant, byte* output, int stride)
    {
        if (!Avx2.IsSupported)
        {
            TransformScalar(coef, quant, output, stride);
            return;
        }
        // Pass 1: lanes are columns; v_k is row k of the dequantized block.
        var v0 = Avx2.ConvertToVector256Int32(coef) * Avx2.ConvertToVector256Int32(quant);
        var v1 = Avx2.ConvertToVector256Int32(coef + 8) * Avx2.ConvertToVector256Int32(quant + 8);
        var v2 = Avx2.ConvertToVector256Int32(coef + 16) * Avx2.ConvertToVector256Int32(quant + 16);
        var v3 = Avx2.ConvertToVector256Int32(coef + 24) * Avx2.ConvertToVector256Int32(quant + 24);
        var v4 = Avx2.ConvertToVector256Int32(coef + 32) * Avx2.ConvertToVector256Int32(quant + 32);
        var v5 = Avx2.ConvertToVector256Int32(coef + 40) * Avx2.ConvertToVector256Int32(quant + 40);
        var v6 = Avx2.ConvertToVector256Int32(coef + 48) * Avx2.ConvertToVector256Int32(quant + 48);
        var v7 = Avx2.ConvertToVector256Int32(coef + 56) * Avx2.ConvertToVector256Int32(quant + 56);
        Idct1D(ref v0, ref v1, ref v2, ref v3, ref v4, ref v5, ref v6, ref v7, ConstBits - Pass1Bits);
        Transpose(ref v0, ref v1, ref v2, ref v3, ref v4, ref v5, ref v6, ref v7);
        // Pass 2: lanes are rows; v_j is column j of the work array.
        Idct1D(ref v0, ref v1, ref v2, ref v3, ref v4, ref v5, ref v6, ref v7, ConstBits + Pass1Bits + 3);
        Transpose(ref v0, ref v1, ref v2, ref v3, ref v4, ref v5, ref v6, ref v7);
        var bias = Vector256.Create(128);
        var lo = Vector256<int>.Zero;
        var hi = Vector256.Create(255);
        v0 = Vector256.Min(Vector256.Max(v0 + bias, lo), hi);
        v1 = Vector256.Min(Vector256.Max(v1 + bias, lo), hi);
        v2 = Vector256.Min(Vector256.Max(v2 + bias, lo), hi);
        v3 = Vector256.Min(Vector256.Max(v3 + bias, lo), hi);
        v4 = Vector256.Min(Vector256.Max(v4 + bias, lo), hi);
        v5 = Vector256.Min(Vector256.Max(v5 + bias, lo), hi);
        v6 = Vector256.Min(Vector256.Max(v6 + bias, lo), hi);
        v7 = Vector256.Min(Vector256.Max(v7 + bias, lo), hi);
        var b03 = Vector256.Narrow(Vector256.Narrow(v0, v1).AsUInt16(), Vector256.Narrow(v2, v3).AsUInt16()).AsUInt64();
        var b47 = Vector256.Narrow(Vector256.Narrow(v4, v5).AsUInt16(), Vector256.Narrow(v6, v7).AsUInt16()).AsUInt64();
        *(ulong*)output = b03.GetElement(0);
        *(ulong*)(output + stride) = b03.GetElement(1);
        *(ulong*)(output + 2 * stride) = b03.GetElement(2);
        *(ulong*)(output + 3 * stride) = b03.GetElement(3);
        *(ulong*)(output + 4 * stride) = b47.GetElement(0);
        *(ulong*)(output + 5 * stride) = b47.GetElement(1);
        *(ulong*)(output + 6 * stride) = b47.GetElement(2);
        *(ulong*)(output + 7 * stride) = b47.GetElement(3);
    }

    // One 1-D islow IDCT across 8 lanes: inputs x0..x7 (frequency index), outputs in place (spatial index), each
    // rounded and shifted right by `shift`.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Idct1D(ref Vector256<int> x0, ref Vector256<int> x1, ref Vector256<int> x2, ref Vector256<int> x3,
        ref Vector256<int> x4, ref Vector256<int> x5, ref Vector256<int> x6, ref Vector256<int> x7, int shift)
    {
        var z1 = (x2 + x6) * F0541;
        var tmp2 = z1 - x6 * F1847;
        var tmp3 = z1 + x2 * F0765;
        var tmp0 = Vector256.ShiftLeft(x0 + x4, ConstBits);
        var tmp1 = Vector256.ShiftLeft(x0 - x4, ConstBits);
        var t10 = tmp0 + tmp3;
        var t13 = tmp0 - tmp3;
        var t11 = tmp1 + tmp2;
        var t12 = tmp1 - tmp2;
        // Odd part from x7, x5, x3, x1.
        var za = x7 + x1;
        var zb = x5 + x3;
        var zc = x7 + x3;
        var zd = x5 + x1;
        var z5 = (zc + zd) * F1175;
        var o0 = x7 * F0298;
        var o1 = x5 * F2053;
        var o2 = x3 * F3072;
        var o3 = x1 * F1501;
        za *= -F0899;
        zb *= -F2562;
        zc = zc * -F1961 + z5;
        zd = zd * -F0390 + z5;
        o0 += za + zc;
        o1 += zb + zd;
        o2 += zb + zc;
        o3 += za + zd;
        var r = Vector256.Create(1 << (shift - 1));
        x0 = Vector256.ShiftRightArithmetic(t10 + o3 + r, shift);
        x7 = Vector256.ShiftRightArithmetic(t10 - o3 + r, shift);
        x1 = Vector256.ShiftRightArithmetic(t11 + o2 + r, shift);
        x6 = Vector256.ShiftRightArithmetic(t11 - o2 + r, shift);
        x2 = Vector256.ShiftRightArithmetic(t12 + o1 + r, shift);
        x5 = Vector256.ShiftRightArithmetic(t12 - o1 + r, shift);
        x3 = Vector256.ShiftRightArithmetic(t13 + o0 + r, shift);
        x4 = Vector256.ShiftRightArithmetic(t13 - o0 + r, shift);
    }

    // 8×8 transpose of 32-bit lanes (rows ↔ columns).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose(ref Vector256<int> r0, ref Vector256<int> r1, ref Vector256<int> r2, ref Vector256<int> r3,
        ref Vector256<int> r4, ref Vector256<int> r5, ref Vector256<int> r6, ref Vector256<int> r7)
    {
        var t0 = Avx2.UnpackLow(r0, r1); var t1 = Avx2.UnpackHigh(r0, r1);
        var t2 = Avx2.UnpackLow(r2, r3); var t3 = Avx2.UnpackHigh(r2, r3);
        var t4 = Avx2.UnpackLow(r4, r5); var t5 = Avx2.UnpackHigh(r4, r5);
        var t6 = Avx2.UnpackLow(r6, r7); var t7 = Avx2.UnpackHigh(r6, r7);
        var u0 = Avx2.UnpackLow(t0.AsInt64(), t2.AsInt64()).AsInt32(); var u1 = Avx2.UnpackHigh(t0.AsInt64(), t2.AsInt64()).AsInt32();
        var u2 = Avx2.UnpackLow(t1.AsInt64(), t3.AsInt64()).AsInt32(); var u3 = Avx2.UnpackHigh(t1.AsInt64(), t3.AsInt64()).AsInt32();
        var u4 = Avx2.UnpackLow(t4.AsInt64(), t6.AsInt64()).AsInt32(); var u5 = Avx2.UnpackHigh(t4.AsInt64(), t6.AsInt64()).AsInt32();
        var u6 = Avx2.UnpackLow(t5.AsInt64(), t7.AsInt64()).AsInt32(); var u7 = Avx2.UnpackHigh(t5.AsInt64(), t7.AsInt64()).AsInt32();
        r0 = Avx2.Permute2x128(u0, u4, 0x20); r4 = Avx2.Permute2x128(u0, u4, 0x31);
        r1 = Avx2.Permute2x128(u1, u5, 0x20); r5 = Avx2.Permute2x128(u1, u5, 0x31);
        r2 = Avx2.Permute2x128(u2, u6, 0x20); r6 = Avx2.Permute2x128(u2, u6, 0x31);
        r3 = Avx2.Permute2x128(u3, u7, 0x20); r7 = Avx2.Permute2x128(u3, u7, 0x31);
    }

    private const int ConstBits = 13, Pass1Bits = 2;
    private const int F0298 = 2446, F0390 = 3196, F0541 = 4433, F0765 = 6270, F0899 = 7373, F1175 = 9633,
        F1501 = 12299, F1847 = 15137, F1961 = 16069, F2053 = 16819, F2562 = 20995, F3072 = 25172;

    /// <summary>The scalar reference of <see cref="Transform"/> (64-bit intermediates, as libjpeg's C code).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void TransformScalar(short* coef, ushort* quant, byte* output, int stride)
    {
        int* ws = stackalloc int[64];
        for (int c = 0; c < 8; c++)
        {
            short* inp = coef + c;
            ushort* q = quant + c;
            int* w = ws + c;
            if (inp[8] == 0 && inp[16] == 0 && inp[24] == 0 && inp[32] == 0 && inp[40] == 0 && inp[48] == 0 && inp[56] == 0)
            {
                int dc = (inp[0] * q[0]) << Pass1Bits;
                w[0] = dc; w[8] = dc; w[16] = dc; w[24] = dc; w[32] = dc; w[40] = dc; w[48] = dc; w[56] = dc;
                continue;
            }
            long z2 = inp[16] * q[16], z3 = inp[48] * q[48];
            long z1 = (z2 + z3) * F0541;
            long tmp2 = z1 - z3 * F1847, tmp3 = z1 + z2 * F0765;
            z2 = inp[0] * q[0];
            z3 = inp[32] * q[32];
            long tmp0 = (z2 + z3) << ConstBits, tmp1 = (z2 - z3) << ConstBits;
            long t10 = tmp0 + tmp3, t13 = tmp0 - tmp3, t11 = tmp1 + tmp2, t12 = tmp1 - tmp2;
            Odd(inp[56] * q[56], inp[40] * q[40], inp[24] * q[24], inp[8] * q[8], out long o0, out long o1, out long o2, out long o3);
            const int s = ConstBits - Pass1Bits;
            const long r = 1L << (s - 1);
            w[0] = (int)((t10 + o3 + r) >> s);
            w[56] = (int)((t10 - o3 + r) >> s);
            w[8] = (int)((t11 + o2 + r) >> s);
            w[48] = (int)((t11 - o2 + r) >> s);
            w[16] = (int)((t12 + o1 + r) >> s);
            w[40] = (int)((t12 - o1 + r) >> s);
            w[24] = (int)((t13 + o0 + r) >> s);
            w[32] = (int)((t13 - o0 + r) >> s);
        }
        for (int row = 0; row < 8; row++)
        {
            int* w = ws + row * 8;
            byte* o = output + row * stride;
            if (w[1] == 0 && w[2] == 0 && w[3] == 0 && w[4] == 0 && w[5] == 0 && w[6] == 0 && w[7] == 0)
            {
                byte v = Clamp((w[0] + (1 << (Pass1Bits + 2))) >> (Pass1Bits + 3));
                o[0] = v; o[1] = v; o[2] = v; o[3] = v; o[4] = v; o[5] = v; o[6] = v; o[7] = v;
                continue;
            }
            long z2 = w[2], z3 = w[6];
            long z1 = (z2 + z3) * F0541;
            long tmp2 = z1 - z3 * F1847, tmp3 = z1 + z2 * F0765;
            long tmp0 = ((long)w[0] + w[4]) << ConstBits, tmp1 = ((long)w[0] - w[4]) << ConstBits;
            long t10 = tmp0 + tmp3, t13 = tmp0 - tmp3, t11 = tmp1 + tmp2, t12 = tmp1 - tmp2;
            Odd(w[7], w[5], w[3], w[1], out long o0, out long o1, out long o2, out long o3);
            const int s = ConstBits + Pass1Bits + 3;
            const long r = 1L << (s - 1);
            o[0] = Clamp((int)((t10 + o3 + r) >> s));
            o[7] = Clamp((int)((t10 - o3 + r) >> s));
            o[1] = Clamp((int)((t11 + o2 + r) >> s));
            o[6] = Clamp((int)((t11 - o2 + r) >> s));
            o[2] = Clamp((int)((t12 + o1 + r) >> s));
            o[5] = Clamp((int)((t12 - o1 + r) >> s));
            o[3] = Clamp((int)((t13 + o0 + r) >> s));
            o[4] = Clamp((int)((t13 - o0 + r) >> s));
        }
    }

    // Odd part of the 1-D IDCT from inputs x7, x5, x3, x1.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Odd(long t0, long t1, long t2, long t3, out long o0, out long o1, out long o2, out long o3)
    {
        long z1 = t0 + t3, z2 = t1 + t2, z3 = t0 + t2, z4 = t1 + t3;
        long z5 = (z3 + z4) * F1175;
        t0 *= F0298;
        t1 *= F2053;
        t2 *= F3072;
        t3 *= F1501;
        z1 *= -F0899;
        z2 *= -F2562;
        z3 = z3 * -F1961 + z5;
        z4 = z4 * -F0390 + z5;
        o0 = t0 + z1 + z3;
        o1 = t1 + z2 + z4;
        o2 = t2 + z2 + z3;
        o3 = t3 + z1 + z4;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static byte Clamp(int v)
    {
        v += 128;
        return (byte)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
}
