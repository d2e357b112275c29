using System.Runtime.CompilerServices;

namespace QuantSharp.Data.Images;

/// <summary>
/// Antialiased bilinear resampling (PIL's / torchvision's <c>antialias=True</c> triangle filter, see
/// <see cref="ImagePreprocessing"/>) and channel conversion, on 8-bit interleaved images.
/// </summary>
public static class ImageResize
{
    /// <summary>
    /// The filter taps of one axis: output pixel i reads <c>Count[i]</c> source pixels from <c>Start[i]</c> with weights
    /// <c>Weights[i·KernelSize + k]</c> (normalised to sum 1).
    /// </summary>
    public sealed record Taps(int[] Start, int[] Count, float[] Weights, int KernelSize);

    /// <summary>Taps for resampling <paramref name="inSize"/> pixels to <paramref name="outSize"/> (PIL's antialiased bilinear).</summary>
    public static Taps Coefficients(int inSize, int outSize)
    {
        double scale = (double)inSize / outSize, filterScale = Math.Max(scale, 1.0);
        double support = filterScale; // bilinear support 1, widened by the downscale factor
        int ksize = (int)Math.Ceiling(support) * 2 + 1;
        var start = new int[outSize];
        var count = new int[outSize];
        var weights = new float[outSize * ksize];
        var w = new double[ksize];
        for (int i = 0; i < outSize; i++)
        {
            double center = (i + 0.5) * scale, inv = 1.0 / filterScale;
            int lo = Math.Max((int)(center - support + 0.5), 0);
            int hi = Math.Min((int)(center + support + 0.5), inSize);
            int n = hi - lo;
            double sum = 0;
            for (int k = 0; k < n; k++)
            {
                double t = Math.Abs((k + lo - center + 0.5) * inv);
                w[k] = t < 1 ? 1 - t : 0;
                sum += w[k];
            }
            for (int k = 0; k < n; k++) weights[i * ksize + k] = (float)(sum == 0 ? 0 : w[k] / sum);
            start[i] = lo;
            count[i] = n;
        }
        return new Taps(start, count, weights, ksize);
    }

    /// <summary>
    /// Interleaved bytes with <paramref name="channels"/> channels: gray replicated to RGB, or RGB to gray by ITU-R 601
    /// luma with PIL's fixed-point rounding ((19595·R + 38470·G + 7471·B + 2^15) &gt;&gt; 16); the same array when the
    /// count already matches.
    /// </summary>
    public static byte[] ConvertChannels(DecodedImage image, int channels) => ConvertChannels(image, channels, null);

    /// <summary>As above, writing into <paramref name="buffer"/> when it is large enough.</summary>
    internal static byte[] ConvertChannels(DecodedImage image, int channels, byte[]? buffer)
    {
        if (image.Channels == channels) return image.Pixels;
        int n = image.Width * image.Height;
        var p = image.Pixels;
        var o = buffer is not null && buffer.Length >= n * channels ? buffer : new byte[n * channels];
        if (channels == 3)
            for (int i = 0; i < n; i++) o[3 * i] = o[3 * i + 1] = o[3 * i + 2] = p[i];
        else
            for (int i = 0; i < n; i++) o[i] = (byte)((19595 * p[3 * i] + 38470 * p[3 * i + 1] + 7471 * p[3 * i + 2] + 0x8000) >> 16);
        return o;
    }

    /// <summary>
    /// Resizes <paramref name="pixels"/> (<paramref name="width"/>×<paramref name="height"/>×<paramref name="channels"/>)
    /// to <paramref name="outWidth"/>×<paramref name="outHeight"/> and returns the <paramref name="cropWidth"/>×<paramref name="cropHeight"/>
    /// window at (<paramref name="top"/>, <paramref name="left"/>) as interleaved floats in [0, 255]; positions outside
    /// the resized image are NaN. Only the rows and columns of the window are computed.
    /// </summary>
    public static float[] ResizeWindow(byte[] pixels, int width, int height, int channels, int outWidth, int outHeight,
        int top, int left, int cropWidth, int cropHeight)
    {
        var result = new float[cropWidth * cropHeight * channels];
        float[]? tmp = null;
        ResizeWindow(pixels, width, height, channels, outWidth, outHeight, top, left, cropWidth, cropHeight, result, ref tmp);
        return result;
    }

    /// <summary>As above, into <paramref name="result"/> (at least cropWidth·cropHeight·channels), with a reusable scratch buffer.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void ResizeWindow(byte[] pixels, int width, int height, int channels, int outWidth, int outHeight,
        int top, int left, int cropWidth, int cropHeight, float[] result, ref float[]? scratch)
    {
        int c = channels;
        result.AsSpan(0, cropWidth * cropHeight * c).Fill(float.NaN);
        int x0 = Math.Max(left, 0), x1 = Math.Min(left + cropWidth, outWidth);
        int y0 = Math.Max(top, 0), y1 = Math.Min(top + cropHeight, outHeight);
        if (x1 <= x0 || y1 <= y0) return;
        int nx = x1 - x0;
        bool resizeX = outWidth != width, resizeY = outHeight != height;
        var tx = resizeX ? Coefficients(width, outWidth) : null;
        var ty = resizeY ? Coefficients(height, outHeight) : null;
        // Source rows the window needs.
        int r0 = resizeY ? ty!.Start[y0] : y0, r1 = resizeY ? ty!.Start[y1 - 1] + ty.Count[y1 - 1] : y1;
        // Horizontal pass: rows r0..r1 of the source, window columns only → tmp [rows, nx, c].
        int tmpLen = (r1 - r0) * nx * c;
        if (scratch is null || scratch.Length < tmpLen) scratch = new float[tmpLen];
        var tmp = scratch;
        for (int r = r0; r < r1; r++)
        {
            int srcRow = r * width * c, dstRow = (r - r0) * nx * c;
            for (int x = 0; x < nx; x++)
            {
                int ox = x + x0;
                if (!resizeX)
                {
                    for (int ch = 0; ch < c; ch++) tmp[dstRow + x * c + ch] = pixels[srcRow + ox * c + ch];
                    continue;
                }
                int s = tx!.Start[ox], n = tx.Count[ox], wo = ox * tx.KernelSize;
                for (int ch = 0; ch < c; ch++)
                {
                    float acc = 0;
                    for (int k = 0; k < n; k++) acc += tx.Weights[wo + k] * pixels[srcRow + (s + k) * c + ch];
                    tmp[dstRow + x * c + ch] = acc;
                }
            }
        }
        // Vertical pass into the window.
        for (int y = y0; y < y1; y++)
        {
            int dst = ((y - top) * cropWidth + (x0 - left)) * c;
            if (!resizeY)
            {
                Array.Copy(tmp, (y - r0) * nx * c, result, dst, nx * c);
                continue;
            }
            int s = ty!.Start[y], n = ty.Count[y], wo = y * ty.KernelSize, len = nx * c;
            var row = result.AsSpan(dst, len);
            row.Clear();
            for (int k = 0; k < n; k++)
            {
                float wk = ty.Weights[wo + k];
                var srcRow = tmp.AsSpan((s + k - r0) * len, len);
                for (int i = 0; i < len; i++) row[i] += wk * srcRow[i];
            }
        }
    }
}
