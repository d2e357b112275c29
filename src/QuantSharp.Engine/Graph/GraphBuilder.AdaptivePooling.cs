using QuantSharp.Engine.Runtime;

namespace QuantSharp.Engine;

// PyTorch's adaptive average pooling in ONNX ops. ONNX has none; PyTorch's exporter writes GlobalAveragePool for an output
// of 1, AveragePool with kernel = stride = in/out when every size divides, and refuses the rest. Here the rest is built
// exactly too: adaptive average pooling is linear and separable (output bin i of an axis averages inputs
// floor(i·In/Out) … ceil((i+1)·In/Out) − 1, independently per axis), so each pooled axis is one MatMul with a constant
// averaging matrix. The MatMuls were chosen over Slice + ReduceMean per bin (Out nodes per axis, Concat) and over a strided
// AveragePool (bins of unequal width and overlapping bins have no kernel/stride form): one node per axis, any sizes,
// gradients and ONNX Runtime for free.
public sealed partial class GraphBuilder
{
    private const string AdaptiveMarker = "AdaptiveAvgPool:";

    /// <summary>
    /// PyTorch's <c>adaptive_avg_pool1d/2d/3d</c> over the trailing 1–3 axes of <paramref name="x"/> [N, C, spatial…] to
    /// <paramref name="outputSize"/> (one entry per spatial axis): GlobalAveragePool when every output size is 1,
    /// AveragePool with kernel = stride = in/out when every input size divides by its output size, otherwise per pooled
    /// axis a MatMul with a constant averaging matrix (exactly PyTorch's bins, start = ⌊i·In/Out⌋, end = ⌈(i+1)·In/Out⌉),
    /// with a Reshape around it for an axis that is neither of the last two. The first node is named <paramref name="name"/>;
    /// the nodes of the MatMul form also carry its name in their doc string, so <see cref="AdaptiveAvgPoolOf"/> (and the
    /// quant modules, which quantize the pooled input once) tell them from other MatMuls.
    /// </summary>
    /// <param name="x">The input, [N, C, spatial…].</param>
    /// <param name="outputSize">Output size per spatial axis (1 to 3 axes), each positive.</param>
    /// <param name="inputSize">Input size per spatial axis; null = inferred from the graph built so far (its inputs' declared shapes).</param>
    /// <param name="name">Name of the (first) node; default <c>AdaptiveAvgPool_k</c>.</param>
    /// <exception cref="ArgumentException">Sizes of the wrong count or not positive, or an input size that cannot be inferred.</exception>
    public Value AdaptiveAvgPool(Value x, int[] outputSize, int[]? inputSize = null, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(outputSize);
        if (outputSize.Length is < 1 or > 3 || outputSize.Any(s => s <= 0))
            throw new ArgumentException($"GraphBuilder.AdaptiveAvgPool: argument 'outputSize' expected 1 to 3 positive sizes, got [{string.Join(", ", outputSize)}]", nameof(outputSize));
        name ??= $"AdaptiveAvgPool_{NextIndex("AdaptiveAvgPool")}";
        var input = inputSize ?? InferSpatialSize(x, outputSize.Length, name);
        if (input.Length != outputSize.Length || input.Any(s => s <= 0))
            throw new ArgumentException($"GraphBuilder.AdaptiveAvgPool '{name}': argument 'inputSize' expected {outputSize.Length} positive sizes, got [{string.Join(", ", input)}]", nameof(inputSize));
        if (outputSize.All(s => s == 1)) return GlobalAveragePool(x, name);
        if (input.Zip(outputSize).All(p => p.First % p.Second == 0))
        {
            var kernel = input.Zip(outputSize, (i, o) => i / o).ToArray();
            return AveragePool(x, kernel, strides: kernel, name: name);
        }
        // Pool the last axis first, so each earlier axis sees the later ones already at their output sizes.
        int rank = 2 + input.Length;
        var current = (int[])input.Clone();
        bool first = true;
        for (int a = input.Length - 1; a >= 0; a--)
        {
            if (input[a] == outputSize[a]) continue;
            string nodeName = first ? name : $"{name}.axis{a + 2}";
            int axis = 2 + a;
            if (axis == rank - 1)
                x = Marked(name, MatMul(x, Initializer(_graph.UniqueName(nodeName + ".matrix"), AveragingMatrix(input[a], outputSize[a], transposed: true)), nodeName));
            else
            {
                // [.., In, rest] with the axes after this one merged, so a left MatMul [Out, In] pools it (broadcast over the batch axes).
                bool merge = axis < rank - 2;
                if (merge) x = Marked(name, Reshape(x, [.. Enumerable.Repeat(0L, axis), input[a], -1L], nodeName));
                x = Marked(name, MatMul(Initializer(_graph.UniqueName(nodeName + ".matrix"), AveragingMatrix(input[a], outputSize[a], transposed: false)), x,
                    merge ? nodeName + ".pool" : nodeName));
                current[a] = outputSize[a];
                if (merge) x = Marked(name, Reshape(x, [.. Enumerable.Repeat(0L, axis), .. current[a..].Select(v => (long)v)], nodeName + ".unmerge"));
            }
            current[a] = outputSize[a];
            first = false;
        }
        return x;
    }

    /// <summary>The name of the <see cref="AdaptiveAvgPool"/> whose MatMul form <paramref name="node"/> belongs to, or null.</summary>
    public static string? AdaptiveAvgPoolOf(Node node)
    {
        ArgumentNullException.ThrowIfNull(node);
        return node.DocString.StartsWith(AdaptiveMarker, StringComparison.Ordinal) ? node.DocString[AdaptiveMarker.Length..] : null;
    }

    /// <summary>
    /// The averaging matrix of one axis: entry (input k, output i) is 1/(end_i − start_i) when start_i ≤ k &lt; end_i;
    /// [In, Out] when <paramref name="transposed"/> (for x·A), else [Out, In] (for A·x).
    /// </summary>
    internal static Tensor<float> AveragingMatrix(int inSize, int outSize, bool transposed)
    {
        var m = transposed ? new Tensor<float>(inSize, outSize) : new Tensor<float>(outSize, inSize);
        for (int i = 0; i < outSize; i++)
        {
            int start = (int)((long)i * inSize / outSize), end = (int)(((long)(i + 1) * inSize + outSize - 1) / outSize);
            float weight = 1f / (end - start);
            for (int k = start; k < end; k++) m.Data[transposed ? k * outSize + i : i * inSize + k] = weight;
        }
        return m;
    }

    private Value Marked(string pool, Value v)
    {
        _graph.Nodes[^1].DocString = AdaptiveMarker + pool;
        return v;
    }

    private int[] InferSpatialSize(Value x, int axes, string name)
    {
        int[]? shape;
        try { shape = ShapeInference.Infer(_graph, OpRegistry.Default).GetValueOrDefault(x.Name); }
        catch (GraphException e) { throw new ArgumentException($"GraphBuilder.AdaptiveAvgPool '{name}': the shape of '{x.Name}' cannot be inferred ({e.Message}); pass 'inputSize'", nameof(x)); }
        if (shape is null || shape.Length != 2 + axes || shape[2..].Any(d => d <= 0))
            throw new ArgumentException($"GraphBuilder.AdaptiveAvgPool '{name}': expected '{x.Name}' of rank {2 + axes} with known spatial sizes, got " +
                (shape is null ? "an unknown shape" : $"[{string.Join(", ", shape.Select(d => d < 0 ? "?" : d.ToString(System.Globalization.CultureInfo.InvariantCulture)))}]") +
                "; pass 'inputSize'", nameof(x));
        return shape[2..];
    }
}
