using static QuantSharp.Engine.Runtime.InputRole;
using static QuantSharp.Engine.Runtime.Ops.Table;

namespace QuantSharp.Engine.Runtime.Ops;

/// <summary>
/// Older normalization and pooling companions found in classic CNN exports: LRN (AlexNet, GoogLeNet),
/// MeanVarianceNormalization and MaxUnpool. Forward only, float32, plain loops.
/// </summary>
internal static class LocalNormalizationOps
{
    public static void Register(OpRegistry r)
    {
        // LRN: y = x / (bias + alpha/size · Σ x²)^beta, the sum over channels c − ⌊(size−1)/2⌋ … c + ⌈(size−1)/2⌉ (clipped).
        Add(r, "LRN", 1, n =>
        {
            int size = (int)n.GetInt("size", 0);
            if (size < 1) throw new GraphException($"node {n.Label}: attribute 'size' is required and must be at least 1, got {size}");
            float alpha = n.GetFloat("alpha", 1e-4f), beta = n.GetFloat("beta", 0.75f), bias = n.GetFloat("bias", 1f);
            return ((a, _) => [Lrn(a.Float(0), size, alpha, beta, bias, n)], null);
        });
        // MeanVarianceNormalization (the spec's function body): (x − E[x]) / (√(E[x²] − E[x]²) + 1e-9) over axes (default 0, 2, 3).
        foreach (long since in new long[] { 9, 13 })
            Add(r, "MeanVarianceNormalization", since, n =>
            {
                var axes = Ints(n, "axes", [0, 2, 3])!;
                return ((a, _) => [Mvn(a.Float(0), axes, n)], null);
            });
        // MaxUnpool: zeros of the unpooled shape with y.flat[I[i]] = x[i] (I as MaxPool's Indices output gives them).
        foreach (long since in new long[] { 9, 11 })
            Add(r, "MaxUnpool", since, n =>
            {
                var kernel = Ints(n, "kernel_shape") ?? throw new GraphException($"node {n.Label}: attribute 'kernel_shape' is required");
                return ((a, _) => [MaxUnpool(a.Float(0), a.Longs(1), a.Any(1).Shape, a.OptionalLongs(2), kernel, Ints(n, "strides"), Ints(n, "pads"), n)], null);
            });
        Describe(r);
    }

    /// <summary>Schema facts: MaxUnpool's indices and output shape are settings; LRN and MVN keep the input's shape.</summary>
    private static void Describe(OpRegistry r)
    {
        r.Describe("MaxUnpool").WithInputs(Data, Setting, Setting);
        foreach (var op in new[] { "LRN", "MeanVarianceNormalization" }) r.Describe(op).WithShape(ShapeRules.SameAsInput);
    }

    private static Tensor<float> Lrn(Tensor<float> x, int size, float alpha, float beta, float bias, Node n)
    {
        if (x.Rank < 3) throw new GraphException($"node {n.Label}: input 0 expected shape [N, C, D1, …], got {Shapes.Format(x.Dims)}");
        int batch = x.Dims[0], channels = x.Dims[1], spatial = x.Length / Math.Max(1, batch * channels);
        int before = (size - 1) / 2, after = size - 1 - before;
        var y = new Tensor<float>(x.Dims);
        for (int b = 0; b < batch; b++)
            for (int c = 0; c < channels; c++)
            {
                int lo = Math.Max(0, c - before), hi = Math.Min(channels - 1, c + after);
                for (int s = 0; s < spatial; s++)
                {
                    float sum = 0;
                    for (int k = lo; k <= hi; k++)
                    {
                        float v = x.Data[(b * channels + k) * spatial + s];
                        sum += v * v;
                    }
                    int i = (b * channels + c) * spatial + s;
                    y.Data[i] = x.Data[i] / MathF.Pow(bias + alpha / size * sum, beta);
                }
            }
        return y;
    }

    private static Tensor<float> Mvn(Tensor<float> x, int[] axes, Node n)
    {
        var reduced = new bool[x.Rank];
        foreach (int ax in axes) reduced[Check.Axis("MeanVarianceNormalization", "axes", ax, x.Rank)] = true;
        // Group element i by its coordinates on the kept axes; statistics accumulate in double per group.
        var strides = Shapes.Strides(x.Dims);
        var groupDims = Enumerable.Range(0, x.Rank).Select(d => reduced[d] ? 1 : x.Dims[d]).ToArray();
        var groupStrides = Shapes.Strides(groupDims);
        int groups = Shapes.Size(groupDims), perGroup = groups == 0 ? 0 : x.Length / groups;
        var group = new int[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            int rest = i, g = 0;
            for (int d = 0; d < x.Rank; d++)
            {
                int c = rest / strides[d];
                rest -= c * strides[d];
                if (!reduced[d]) g += c * groupStrides[d];
            }
            group[i] = g;
        }
        var sum = new double[groups];
        var sumSq = new double[groups];
        for (int i = 0; i < x.Length; i++) { sum[group[i]] += x.Data[i]; sumSq[group[i]] += (double)x.Data[i] * x.Data[i]; }
        var y = new Tensor<float>(x.Dims);
        for (int i = 0; i < x.Length; i++)
        {
            int g = group[i];
            double mean = sum[g] / perGroup, variance = Math.Max(0, sumSq[g] / perGroup - mean * mean);
            y.Data[i] = (float)((x.Data[i] - mean) / (Math.Sqrt(variance) + 1e-9));
        }
        return y;
    }

    private static Tensor<float> MaxUnpool(Tensor<float> x, long[] indices, int[] indexShape, long[]? outputShape, int[] kernel,
        int[]? strides, int[]? pads, Node n)
    {
        int spatial = kernel.Length;
        if (x.Rank != spatial + 2)
            throw new GraphException($"node {n.Label}: input 0 expected rank {spatial + 2} for a {spatial}-D kernel, got shape {Shapes.Format(x.Dims)}");
        if (!indexShape.AsSpan().SequenceEqual(x.Dims))
            throw new GraphException($"node {n.Label}: input 1 (I) expected shape {Shapes.Format(x.Dims)} (as X), got {Shapes.Format(indexShape)}");
        // Indices address the inferred unpooled shape; a given output_shape holds that result at its origin, zero elsewhere.
        var inferred = x.Dims.ToArray();
        for (int d = 0; d < spatial; d++)
        {
            int stride = strides?[d] ?? 1, padSum = pads is null ? 0 : pads[d] + pads[d + spatial];
            inferred[d + 2] = (x.Dims[d + 2] - 1) * stride - padSum + kernel[d];
        }
        var y = new Tensor<float>(inferred);
        for (int i = 0; i < x.Length; i++)
        {
            long at = indices[i];
            if (at < 0 || at >= y.Length)
                throw new GraphException($"node {n.Label}: input 1 (I) value {at} is outside the unpooled tensor of {y.Length} elements (shape {Shapes.Format(inferred)})");
            y.Data[at] = x.Data[i];
        }
        if (outputShape is null) return y;
        if (outputShape.Length != x.Rank)
            throw new GraphException($"node {n.Label}: input 2 (output_shape) expected {x.Rank} values, got {outputShape.Length}");
        var shape = outputShape.Select(v => checked((int)v)).ToArray();
        for (int d = 0; d < x.Rank; d++)
            if (shape[d] < inferred[d])
                throw new GraphException($"node {n.Label}: input 2 (output_shape) expected at least {Shapes.Format(inferred)} per dimension, got {Shapes.Format(shape)}");
        var result = new Tensor<float>(shape);
        var outStrides = Shapes.Strides(shape);
        var idx = new int[x.Rank];
        for (int i = 0; i < y.Length; i++)
        {
            int off = 0;
            for (int d = 0; d < x.Rank; d++) off += idx[d] * outStrides[d];
            result.Data[off] = y.Data[i];
            for (int d = x.Rank - 1; d >= 0 && ++idx[d] == inferred[d]; d--) idx[d] = 0;
        }
        return result;
    }
}
