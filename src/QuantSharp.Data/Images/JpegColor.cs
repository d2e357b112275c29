using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace QuantSharp.Data.Images;

/// <summary>
/// Turns decoded JPEG component planes into an interleaved 8-bit image: chroma upsampling the way libjpeg-turbo does by
/// default ("fancy": triangular filters for 2:1 horizontal, 2:1 vertical and 2×2, replication for other integer
/// ratios) and JFIF YCbCr → RGB with libjpeg's 16-bit fixed-point tables, so results match <c>djpeg</c> exactly.
/// Works one output row at a time (no full-size intermediate planes).
/// </summary>
/// <remarks>
/// Upsampling (input samples s, the nearer neighbour n, edges replicate): 2:1 horizontal gives (3s + n + 1) &gt;&gt; 2
/// for the left output and (3s + n + 2) &gt;&gt; 2 for the right; 2×2 first forms column sums 3·s + s_vertical-neighbour,
/// then (3·this + nearer + 8) &gt;&gt; 4 and (3·this + nearer + 7) &gt;&gt; 4. Colour: R = Y + 1.402·(Cr−128),
/// G = Y − 0.34414·(Cb−128) − 0.71414·(Cr−128), B = Y + 1.772·(Cb−128), each product in 16-bit fixed point, rounded, clamped.
/// </remarks>
internal static unsafe class JpegColor
{
    // [0..255] CrR, [256..511] CbB, [512..767] CrG, [768..1023] CbG (libjpeg's jdcolor.c tables).
    private static readonly int[] Tables = BuildTables();

    private static int[] BuildTables()
    {
        const int half = 1 << 15;
        var t = new int[1024];
        for (int i = 0; i < 256; i++)
        {
            int x = i - 128;
            t[i] = (Fix(1.40200) * x + half) >> 16;
            t[256 + i] = (Fix(1.77200) * x + half) >> 16;
            t[512 + i] = -Fix(0.71414) * x;
            t[768 + i] = -Fix(0.34414) * x + half;
        }
        return t;
    }

    /// <summary>Builds the output image from the component planes (each <c>BlocksPerLine·8</c> bytes per row).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static DecodedImage Convert(JpegFrame frame, byte[][] planes, bool rgbTransform, string name, byte[]? buffer)
    {
        int w = frame.Width, h = frame.Height;
        var comps = frame.Components;
        foreach (var c in comps)
            if (frame.Hmax % c.H != 0 || frame.Vmax % c.V != 0)
                throw ImageFormatException.NotSupported(name, "JPEG", $"sampling factors {c.H}x{c.V} against maximum {frame.Hmax}x{frame.Vmax} (non-integer ratio)");
        if (comps.Length == 1)
        {
            var c = comps[0];
            if (c.H != frame.Hmax || c.V != frame.Vmax) throw ImageFormatException.NotSupported(name, "JPEG", "single-component frame with subsampling");
            var gray = buffer is not null && buffer.Length >= w * h ? buffer : GC.AllocateUninitializedArray<byte>(w * h);
            int stride = c.BlocksPerLine * 8;
            for (int y = 0; y < h; y++) planes[0].AsSpan(y * stride, w).CopyTo(gray.AsSpan(y * w));
            return new DecodedImage(w, h, 1, gray);
        }
        var rgb = buffer is not null && buffer.Length >= w * h * 3 ? buffer : GC.AllocateUninitializedArray<byte>(w * h * 3);
        int rowLen = w + 2 * 8 * frame.Hmax + 16, bufLen = rowLen + 2 * w + 64; // upsampled row, then 16-bit column sums
        var scratch = System.Buffers.ArrayPool<byte>.Shared.Rent(3 * bufLen); // pooled: a wide image would overflow the stack
        try
        {
            fixed (byte* sp = scratch, p0 = planes[0], p1 = planes[1], p2 = planes[2], o = rgb)
            fixed (int* t = Tables)
            {
                byte* b0 = sp, b1 = sp + bufLen, b2 = sp + 2 * bufLen;
                for (int y = 0; y < h; y++)
                {
                    byte* r0 = Row(frame, comps[0], p0, y, b0);
                    byte* r1 = Row(frame, comps[1], p1, y, b1);
                    byte* r2 = Row(frame, comps[2], p2, y, b2);
                    byte* d = o + (long)y * w * 3;
                    if (rgbTransform)
                    {
                        for (int i = 0; i < w; i++) { d[3 * i] = r0[i]; d[3 * i + 1] = r1[i]; d[3 * i + 2] = r2[i]; }
                        continue;
                    }
                    int x = 0;
                    if (Avx2.IsSupported && w >= 8)
                    {
                        YccRowAvx2(r0, r1, r2, d, w);
                        continue;
                    }
                    for (; x < w; x++)
                    {
                        int yy = r0[x], cb = r1[x], cr = r2[x];
                        d[0] = Clamp(yy + t[cr]);
                        d[1] = Clamp(yy + ((t[768 + cb] + t[512 + cr]) >> 16));
                        d[2] = Clamp(yy + t[256 + cb]);
                        d += 3;
                    }
                }
            }
        }
        finally { System.Buffers.ArrayPool<byte>.Shared.Return(scratch); }
        return new DecodedImage(w, h, 3, rgb);
    }

    private static readonly int FixCrR = Fix(1.40200), FixCbB = Fix(1.77200), FixCrG = Fix(0.71414), FixCbG = Fix(0.34414);

    private static int Fix(double x) => (int)(x * (1 << 16) + 0.5);

    // Byte shuffles interleaving [r0..r7 g0..g7] and [b0..b7 …] into r0 g0 b0 r1 … (24 bytes: 16 + 8).
    private static readonly Vector128<byte> RgLo = Vector128.Create((byte)0, 8, 0x80, 1, 9, 0x80, 2, 10, 0x80, 3, 11, 0x80, 4, 12, 0x80, 5);
    private static readonly Vector128<byte> BLo = Vector128.Create((byte)0x80, 0x80, 0, 0x80, 0x80, 1, 0x80, 0x80, 2, 0x80, 0x80, 3, 0x80, 0x80, 4, 0x80);
    private static readonly Vector128<byte> RgHi = Vector128.Create((byte)13, 0x80, 6, 14, 0x80, 7, 15, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80);
    private static readonly Vector128<byte> BHi = Vector128.Create((byte)0x80, 5, 0x80, 0x80, 6, 0x80, 0x80, 7, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80);

    // YCbCr → interleaved RGB, eight pixels per step, computing exactly the tables' values:
    // R = Y + (FixCrR·(Cr−128) + 2^15) >> 16, G = Y + (−FixCbG·(Cb−128) − FixCrG·(Cr−128) + 2^15) >> 16,
    // B = Y + (FixCbB·(Cb−128) + 2^15) >> 16, clamped to [0, 255]. The last step overlaps the previous one (same values).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void YccRowAvx2(byte* y, byte* cb, byte* cr, byte* d, int w)
    {
        var c128 = Vector256.Create(128);
        var half = Vector256.Create(1 << 15);
        var lo = Vector256<int>.Zero;
        var hi = Vector256.Create(255);
        var kr = Vector256.Create(FixCrR);
        var kb = Vector256.Create(FixCbB);
        var kgb = Vector256.Create(-FixCbG);
        var kgr = Vector256.Create(-FixCrG);
        Vector128<byte> rgLo = RgLo, bLo = BLo, rgHi = RgHi, bHi = BHi;
        for (int x = 0; ; x += 8)
        {
            if (x > w - 8) x = w - 8;
            var vy = Avx2.ConvertToVector256Int32(y + x);
            var vb = Avx2.ConvertToVector256Int32(cb + x) - c128;
            var vr = Avx2.ConvertToVector256Int32(cr + x) - c128;
            var rv = vy + Vector256.ShiftRightArithmetic(vr * kr + half, 16);
            var gv = vy + Vector256.ShiftRightArithmetic(vb * kgb + vr * kgr + half, 16);
            var bv = vy + Vector256.ShiftRightArithmetic(vb * kb + half, 16);
            rv = Vector256.Min(Vector256.Max(rv, lo), hi);
            gv = Vector256.Min(Vector256.Max(gv, lo), hi);
            bv = Vector256.Min(Vector256.Max(bv, lo), hi);
            var rgb = Vector256.Narrow(Vector256.Narrow(rv, gv).AsUInt16(), Vector256.Narrow(bv, bv).AsUInt16());
            var rg = rgb.GetLower();
            var bb = rgb.GetUpper();
            byte* o = d + 3 * x;
            (Ssse3.Shuffle(rg, rgLo) | Ssse3.Shuffle(bb, bLo)).Store(o);
            *(ulong*)(o + 16) = (Ssse3.Shuffle(rg, rgHi) | Ssse3.Shuffle(bb, bHi)).AsUInt64().ToScalar();
            if (x == w - 8) break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static byte Clamp(int v) => (byte)((uint)v <= 255 ? v : v < 0 ? 0 : 255);

    // Output row y of component c at full resolution: a pointer into the plane (no upsampling) or into buf.
    private static byte* Row(JpegFrame frame, JpegComponent c, byte* plane, int y, byte* buf)
    {
        int stride = c.BlocksPerLine * 8, hs = frame.Hmax / c.H, vs = frame.Vmax / c.V, cw = c.Width, ch = c.Height;
        int w = frame.Width;
        if (hs == 1 && vs == 1) return plane + (long)y * stride;
        bool fancy = cw > 2; // libjpeg-turbo's condition for the 2:1-horizontal filters
        if (fancy && hs == 2 && vs == 1)
        {
            H2Row(plane + (long)y * stride, cw, buf);
            return buf;
        }
        if (fancy && hs == 2 && vs == 2)
        {
            int iy = y >> 1, ny = (y & 1) == 0 ? Math.Max(iy - 1, 0) : Math.Min(iy + 1, ch - 1);
            if (Avx2.IsSupported && cw >= 16)
                H2V2RowAvx2(plane + (long)iy * stride, plane + (long)ny * stride, cw, buf, (ushort*)(buf + ((w + 2 * 8 * frame.Hmax + 16 + 31) & ~31)));
            else H2V2Row(plane + (long)iy * stride, plane + (long)ny * stride, cw, buf);
            return buf;
        }
        if (hs == 1 && vs == 2) // libjpeg-turbo uses this filter whatever the width
        {
            int iy = y >> 1, bias = (y & 1) == 0 ? 1 : 2;
            int ny = (y & 1) == 0 ? Math.Max(iy - 1, 0) : Math.Min(iy + 1, ch - 1);
            byte* a = plane + (long)iy * stride, b = plane + (long)ny * stride;
            for (int x = 0; x < w; x++) buf[x] = (byte)((a[x] * 3 + b[x] + bias) >> 2);
            return buf;
        }
        // Replication for any other integer ratio (and for very narrow planes).
        byte* s = plane + (long)(y / vs) * stride;
        for (int x = 0; x < w; x++) buf[x] = s[x / hs];
        return buf;
    }

    private static void H2Row(byte* s, int n, byte* o)
    {
        o[0] = s[0];
        o[1] = (byte)((s[0] * 3 + s[1] + 2) >> 2);
        for (int i = 1; i < n - 1; i++)
        {
            int v = s[i] * 3;
            o[2 * i] = (byte)((v + s[i - 1] + 1) >> 2);
            o[2 * i + 1] = (byte)((v + s[i + 1] + 2) >> 2);
        }
        o[2 * n - 2] = (byte)((s[n - 1] * 3 + s[n - 2] + 1) >> 2);
        o[2 * n - 1] = s[n - 1];
    }

    // The same as H2V2Row, sixteen input samples per step: with column sums s[i] = 3a[i] + b[i] and the edges
    // replicated (s[−1] = s[0], s[n] = s[n−1], which reproduces libjpeg's first/last-column cases), output
    // 2i = (3s[i] + s[i−1] + 8) >> 4 and 2i+1 = (3s[i] + s[i+1] + 7) >> 4, stored as the 16-bit word even | odd << 8.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void H2V2RowAvx2(byte* a, byte* b, int n, byte* o, ushort* sums)
    {
        ushort* s = sums + 1;
        var three = Vector256.Create((ushort)3);
        for (int i = 0; ; i += 16)
        {
            if (i > n - 16) i = n - 16;
            (Avx2.ConvertToVector256Int16(a + i).AsUInt16() * three + Avx2.ConvertToVector256Int16(b + i).AsUInt16()).Store(s + i);
            if (i == n - 16) break;
        }
        s[-1] = s[0];
        s[n] = s[n - 1];
        var c8 = Vector256.Create((ushort)8);
        var c7 = Vector256.Create((ushort)7);
        for (int i = 0; ; i += 16)
        {
            if (i > n - 16) i = n - 16;
            var c = Vector256.Load(s + i) * three;
            var even = Vector256.ShiftRightLogical(c + Vector256.Load(s + i - 1) + c8, 4);
            var odd = Vector256.ShiftRightLogical(c + Vector256.Load(s + i + 1) + c7, 4);
            (even | Vector256.ShiftLeft(odd, 8)).AsByte().Store(o + 2 * i);
            if (i == n - 16) break;
        }
    }

    private static void H2V2Row(byte* a, byte* b, int n, byte* o)
    {
        int last = a[0] * 3 + b[0], cur = last, next = a[1] * 3 + b[1];
        o[0] = (byte)((cur * 4 + 8) >> 4);
        o[1] = (byte)((cur * 3 + next + 7) >> 4);
        last = cur; cur = next;
        for (int i = 1; i < n - 1; i++)
        {
            next = a[i + 1] * 3 + b[i + 1];
            o[2 * i] = (byte)((cur * 3 + last + 8) >> 4);
            o[2 * i + 1] = (byte)((cur * 3 + next + 7) >> 4);
            last = cur; cur = next;
        }
        o[2 * n - 2] = (byte)((cur * 3 + last + 8) >> 4);
        o[2 * n - 1] = (byte)((cur * 4 + 7) >> 4);
    }
}
