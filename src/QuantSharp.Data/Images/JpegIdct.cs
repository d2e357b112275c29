using System.Runtime.CompilerServices;

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
/// </remarks>
internal static class JpegIdct
{
    private const int ConstBits = 13, Pass1Bits = 2;
    private const int F0298 = 2446, F0390 = 3196, F0541 = 4433, F0765 = 6270, F0899 = 7373, F1175 = 9633,
        F1501 = 12299, F1847 = 15137, F1961 = 16069, F2053 = 16819, F2562 = 20995, F3072 = 25172;

    /// <summary>
    /// Transforms the 64 coefficients at <paramref name="coef"/> (natural order, quantized) with quantization table
    /// <paramref name="quant"/> (natural order) and writes 8 rows of 8 bytes at <paramref name="output"/>, rows
    /// <paramref name="stride"/> bytes apart.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Transform(short* coef, ushort* quant, byte* output, int stride)
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
