namespace QuantSharp.Data.Images;

/// <summary>
/// Turns decoded JPEG component planes into an interleaved 8-bit image: chroma upsampling the way libjpeg-turbo does by
/// default ("fancy": triangular filters for 2:1 horizontal, 2:1 vertical and 2×2, replication for other integer
/// ratios) and JFIF YCbCr → RGB with libjpeg's 16-bit fixed-point tables, so results match <c>djpeg</c> exactly.
/// </summary>
/// <remarks>
/// Upsampling (input samples s, the nearer neighbour n, edges replicate): 2:1 horizontal gives (3s + n + 1) &gt;&gt; 2
/// for the left output and (3s + n + 2) &gt;&gt; 2 for the right; 2×2 first forms column sums 3·s + s_vertical-neighbour,
/// then (3·this + nearer + 8) &gt;&gt; 4 and (3·this + nearer + 7) &gt;&gt; 4. Colour: R = Y + 1.402·(Cr−128),
/// G = Y − 0.34414·(Cb−128) − 0.71414·(Cr−128), B = Y + 1.772·(Cb−128), each product in 16-bit fixed point, rounded, clamped.
/// </remarks>
internal static class JpegColor
{
    private static readonly int[] CrR = new int[256], CbB = new int[256], CrG = new int[256], CbG = new int[256];

    static JpegColor()
    {
        static int Fix(double x) => (int)(x * (1 << 16) + 0.5);
        const int half = 1 << 15;
        for (int i = 0; i < 256; i++)
        {
            int x = i - 128;
            CrR[i] = (Fix(1.40200) * x + half) >> 16;
            CbB[i] = (Fix(1.77200) * x + half) >> 16;
            CrG[i] = -Fix(0.71414) * x;
            CbG[i] = -Fix(0.34414) * x + half;
        }
    }

    /// <summary>Builds the output image from the component planes (each <c>BlocksPerLine·8</c> bytes per row).</summary>
    public static DecodedImage Convert(JpegFrame frame, byte[][] planes, bool rgbTransform, string name)
    {
        int w = frame.Width, h = frame.Height;
        var comps = frame.Components;
        if (comps.Length == 1)
        {
            var c = comps[0];
            var gray = new byte[w * h];
            int stride = c.BlocksPerLine * 8;
            if (c.H == frame.Hmax && c.V == frame.Vmax)
                for (int y = 0; y < h; y++) planes[0].AsSpan(y * stride, w).CopyTo(gray.AsSpan(y * w));
            else throw ImageFormatException.NotSupported(name, "JPEG", "single-component frame with subsampling");
            return new DecodedImage(w, h, 1, gray);
        }
        var full = new byte[3][];
        for (int i = 0; i < 3; i++) full[i] = Upsample(frame, comps[i], planes[i], name);
        var rgb = new byte[w * h * 3];
        byte[] p0 = full[0], p1 = full[1], p2 = full[2];
        if (rgbTransform)
        {
            for (int i = 0; i < w * h; i++) { rgb[3 * i] = p0[i]; rgb[3 * i + 1] = p1[i]; rgb[3 * i + 2] = p2[i]; }
        }
        else
        {
            for (int i = 0; i < w * h; i++)
            {
                int y = p0[i], cb = p1[i], cr = p2[i];
                rgb[3 * i] = Clamp(y + CrR[cr]);
                rgb[3 * i + 1] = Clamp(y + ((CbG[cb] + CrG[cr]) >> 16));
                rgb[3 * i + 2] = Clamp(y + CbB[cb]);
            }
        }
        return new DecodedImage(w, h, 3, rgb);
    }

    private static byte Clamp(int v) => (byte)(v < 0 ? 0 : v > 255 ? 255 : v);

    // Upsamples one component plane to a tight width×height plane.
    private static byte[] Upsample(JpegFrame frame, JpegComponent c, byte[] plane, string name)
    {
        int w = frame.Width, h = frame.Height, stride = c.BlocksPerLine * 8;
        int cw = c.Width, ch = c.Height;
        var outp = new byte[w * h];
        if (frame.Hmax % c.H != 0 || frame.Vmax % c.V != 0)
            throw ImageFormatException.NotSupported(name, "JPEG", $"sampling factors {c.H}x{c.V} against maximum {frame.Hmax}x{frame.Vmax} (non-integer ratio)");
        int hs = frame.Hmax / c.H, vs = frame.Vmax / c.V;
        if (hs == 1 && vs == 1)
        {
            for (int y = 0; y < h; y++) plane.AsSpan(y * stride, w).CopyTo(outp.AsSpan(y * w));
            return outp;
        }
        bool fancy = cw > 2; // libjpeg-turbo's condition for the 2:1-horizontal filters
        // A row of the upsampled (2·cw wide or cw wide) plane, cropped to w.
        var row = new byte[Math.Max(cw * hs, w) + 2];
        if (fancy && hs == 2 && vs == 1)
        {
            for (int y = 0; y < h; y++)
            {
                H2Row(plane.AsSpan(y * stride, cw), row);
                row.AsSpan(0, w).CopyTo(outp.AsSpan(y * w));
            }
            return outp;
        }
        if (fancy && hs == 2 && vs == 2)
        {
            for (int y = 0; y < h; y++)
            {
                int iy = y >> 1;
                int ny = (y & 1) == 0 ? Math.Max(iy - 1, 0) : Math.Min(iy + 1, ch - 1);
                H2V2Row(plane.AsSpan(iy * stride, cw), plane.AsSpan(ny * stride, cw), row);
                row.AsSpan(0, w).CopyTo(outp.AsSpan(y * w));
            }
            return outp;
        }
        if (hs == 1 && vs == 2) // libjpeg-turbo uses this filter whatever the width
        {
            for (int y = 0; y < h; y++)
            {
                int iy = y >> 1, bias = (y & 1) == 0 ? 1 : 2;
                int ny = (y & 1) == 0 ? Math.Max(iy - 1, 0) : Math.Min(iy + 1, ch - 1);
                var a = plane.AsSpan(iy * stride, cw);
                var b = plane.AsSpan(ny * stride, cw);
                for (int x = 0; x < w; x++) outp[y * w + x] = (byte)((a[x] * 3 + b[x] + bias) >> 2);
            }
            return outp;
        }
        // Replication for any other integer ratio (and for very narrow planes).
        for (int y = 0; y < h; y++)
        {
            int iy = y / vs;
            for (int x = 0; x < w; x++) outp[y * w + x] = plane[iy * stride + x / hs];
        }
        return outp;
    }

    private static void H2Row(ReadOnlySpan<byte> s, byte[] o)
    {
        int n = s.Length;
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

    private static void H2V2Row(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, byte[] o)
    {
        int n = a.Length;
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
