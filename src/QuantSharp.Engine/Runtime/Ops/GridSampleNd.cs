namespace QuantSharp.Engine.Runtime.Ops;

/// <summary>
/// GridSample-20 on any number of spatial dimensions (X [N, C, D₁…Dᵣ], grid [N, O₁…Oᵣ, r] whose last axis lists the
/// coordinates innermost dimension first: x, y, z…), for the 'linear' and 'nearest' modes ('cubic' is defined for
/// two spatial dimensions only). Each coordinate is handled as the 2-D kernel in <see cref="DetectionOps"/> handles
/// x and y: the same denormalization, padding and rounding rules, with linear interpolation over the 2ʳ corners.
/// </summary>
internal static class GridSampleNd
{
    public static Tensor<float> Sample(Node node, Tensor<float> x, Tensor<float> grid, bool nearest, string padding, bool alignCorners)
    {
        int r = x.Rank - 2;
        if (r < 1 || grid.Rank != r + 2 || grid.Dims[0] != x.Dims[0] || grid.Dims[^1] != r)
            throw new GraphException($"node {node.Label}: input 1 ('grid') expected shape [{x.Dims[0]}, {r} output dims…, {r}] for X of shape {Shapes.Format(x.Dims)}, got {Shapes.Format(grid.Dims)}");
        int batches = x.Dims[0], channels = x.Dims[1];
        var size = x.Dims[2..].ToArray();
        var outShape = new int[r + 2];
        outShape[0] = batches;
        outShape[1] = channels;
        for (int d = 0; d < r; d++) outShape[d + 2] = grid.Dims[d + 1];
        int points = 1, volume = 1;
        for (int d = 0; d < r; d++) { points *= outShape[d + 2]; volume *= size[d]; }
        var y = new Tensor<float>(outShape);
        var pos = new float[r];
        var lo = new float[r];
        var hi = new float[r];
        var floor = new int[r];
        var tap = new int[r];
        for (int d = 0; d < r; d++) { lo[d] = alignCorners ? 0 : -0.5f; hi[d] = alignCorners ? size[d] - 1 : size[d] - 0.5f; }
        for (int b = 0; b < batches; b++)
            for (int p = 0; p < points; p++)
            {
                int g = (b * points + p) * r;
                bool outside = false;
                for (int d = 0; d < r; d++)
                {
                    float n = grid.Data[g + r - 1 - d]; // grid lists x (innermost dimension) first
                    float v = alignCorners ? (n + 1) / 2 * (size[d] - 1) : ((n + 1) * size[d] - 1) / 2;
                    if (nearest) v = MathF.Round(v, MidpointRounding.ToEven);
                    pos[d] = v;
                    outside |= v < lo[d] || v > hi[d];
                }
                if (outside)
                    for (int d = 0; d < r; d++)
                        pos[d] = padding switch
                        {
                            "border" => Math.Clamp(pos[d], 0, size[d] - 1),
                            "reflection" => Reflect(pos[d], lo[d], hi[d]),
                            _ => pos[d],
                        };
                for (int c = 0; c < channels; c++)
                {
                    var volumeData = x.Data.AsSpan((b * channels + c) * volume, volume);
                    float v = 0;
                    if (nearest)
                    {
                        for (int d = 0; d < r; d++) tap[d] = (int)pos[d];
                        v = Tap(volumeData, size, tap, padding, lo, hi);
                    }
                    else
                    {
                        for (int d = 0; d < r; d++) floor[d] = (int)MathF.Floor(pos[d]);
                        for (int corner = 0; corner < 1 << r; corner++)
                        {
                            float weight = 1;
                            for (int d = 0; d < r; d++)
                            {
                                bool upper = (corner >> d & 1) != 0;
                                float frac = pos[d] - floor[d];
                                weight *= upper ? frac : 1 - frac;
                                tap[d] = floor[d] + (upper ? 1 : 0);
                            }
                            if (weight != 0) v += weight * Tap(volumeData, size, tap, padding, lo, hi);
                        }
                    }
                    y.Data[(b * channels + c) * points + p] = v;
                }
            }
        return y;
    }

    private static float Tap(ReadOnlySpan<float> data, int[] size, int[] tap, string padding, float[] lo, float[] hi)
    {
        int offset = 0;
        for (int d = 0; d < size.Length; d++)
        {
            int i = tap[d];
            if (i < 0 || i >= size[d])
            {
                if (padding == "zeros") return 0;
                i = padding == "border" ? Math.Clamp(i, 0, size[d] - 1) : Math.Clamp((int)Reflect(i, lo[d], hi[d]), 0, size[d] - 1);
            }
            offset = offset * size[d] + i;
        }
        return data[offset];
    }

    /// <summary>Mirrors <paramref name="v"/> into [lo, hi] as often as needed.</summary>
    private static float Reflect(float v, float lo, float hi)
    {
        float range = hi - lo;
        if (range <= 0) return lo;
        if (v >= lo && v <= hi) return v;
        float d = v < lo ? lo - v : v - hi;
        int k = (int)(d / range);
        float rest = d - k * range;
        bool fromLow = v < lo;
        return (k % 2 == 0) == fromLow ? lo + rest : hi - rest;
    }
}
