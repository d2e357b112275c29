using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace QuantSharp.Data.Images;

/// <summary>
/// The fast path of <see cref="ImagePreprocessing.Apply"/>: resize (antialiased bilinear, the taps of
/// <see cref="ImageResize.Coefficients"/>), crop, scale and normalize fused, one output row at a time, writing CHW
/// floats directly. Vertical pass first over a whole source row (vectorized, 8 samples per step), then the horizontal
/// taps for the crop's columns only; no image-sized intermediate. Agrees with the two-pass reference
/// (<see cref="ImageResize.ResizeWindow(byte[], int, int, int, int, int, int, int, int, int)"/>) to float rounding.
/// </summary>
internal static class ImageResizeFused
{
    /// <summary>Per-thread reusable buffers.</summary>
    internal sealed class Scratch
    {
        public float[] Row = [];
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Run(byte[] pixels, int width, int height, int c, int outWidth, int outHeight, int top, int left,
        int cropWidth, int cropHeight, float scale, float[] mean, float[] std, Span<float> destination, Scratch scratch)
    {
        bool resizeX = outWidth != width, resizeY = outHeight != height;
        var tx = resizeX ? ImageResize.Coefficients(width, outWidth) : null;
        var ty = resizeY ? ImageResize.Coefficients(height, outHeight) : null;
        int rowLen = width * c, plane = cropWidth * cropHeight;
        if (scratch.Row.Length < rowLen + 8) scratch.Row = new float[rowLen + 8];
        Span<float> mul = stackalloc float[3], add = stackalloc float[3];
        for (int ch = 0; ch < c; ch++)
        {
            float m = mean[mean.Length == 1 ? 0 : ch], inv = 1f / std[std.Length == 1 ? 0 : ch];
            mul[ch] = scale * inv;
            add[ch] = -m * inv;
        }
        fixed (byte* src = pixels)
        fixed (float* row = scratch.Row)
        fixed (float* dst = destination)
        {
            for (int yy = 0; yy < cropHeight; yy++)
            {
                int oy = top + yy;
                if (oy < 0 || oy >= outHeight)
                {
                    for (int ch = 0; ch < c; ch++) new Span<float>(dst + ch * plane + yy * cropWidth, cropWidth).Fill(add[ch]);
                    continue;
                }
                // Vertical: row[i] = Σ_k w_k · src[(s + k)·rowLen + i].
                if (resizeY) VerticalTaps(src, rowLen, ty!.Start[oy], ty.Count[oy], ty.Weights, oy * ty.KernelSize, row);
                else for (int i = 0; i < rowLen; i++) row[i] = src[(long)oy * rowLen + i];
                // Horizontal, then scale and normalize into each channel plane.
                for (int xx = 0; xx < cropWidth; xx++)
                {
                    int ox = left + xx;
                    if (ox < 0 || ox >= outWidth)
                    {
                        for (int ch = 0; ch < c; ch++) dst[ch * plane + yy * cropWidth + xx] = add[ch];
                        continue;
                    }
                    if (!resizeX)
                    {
                        for (int ch = 0; ch < c; ch++) dst[ch * plane + yy * cropWidth + xx] = row[ox * c + ch] * mul[ch] + add[ch];
                        continue;
                    }
                    int s = tx!.Start[ox], n = tx.Count[ox], wo = ox * tx.KernelSize;
                    for (int ch = 0; ch < c; ch++)
                    {
                        float acc = 0;
                        float* r = row + s * c + ch;
                        for (int k = 0; k < n; k++) acc += tx.Weights[wo + k] * r[k * c];
                        dst[ch * plane + yy * cropWidth + xx] = acc * mul[ch] + add[ch];
                    }
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void VerticalTaps(byte* src, int rowLen, int start, int count, float[] weights, int wo, float* row)
    {
        int i = 0;
        if (Avx2.IsSupported)
        {
            for (; i + 8 <= rowLen; i += 8)
            {
                var acc = Vector256<float>.Zero;
                for (int k = 0; k < count; k++)
                {
                    var v = Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(src + (long)(start + k) * rowLen + i));
                    acc += Vector256.Create(weights[wo + k]) * v;
                }
                acc.Store(row + i);
            }
        }
        for (; i < rowLen; i++)
        {
            float acc = 0;
            for (int k = 0; k < count; k++) acc += weights[wo + k] * src[(long)(start + k) * rowLen + i];
            row[i] = acc;
        }
    }
}
