using QuantSharp.Engine;
using QuantSharp.Quantization.Preparation;
using QuantSharp.Quantization.Techniques;

namespace QuantSharp.Quantization.Zoo;

/// <summary>
/// The channel-range imbalance of issue 7: multiplies output channel i of a layer by s_i (log-uniform over
/// [1/spread, spread]) and input channel i of the next layer by 1/s_i. The network computes the same function, but
/// per-tensor weight quantization now loses the small channels — the pathology of ImageNet-trained MobileNets that
/// cross-layer equalization undoes.
/// </summary>
/// <remarks>
/// Exactness: for a positively homogeneous activation f (Relu, or none), f(s·x) = s·f(x) for s &gt; 0, so
/// W₂·diag(1/s)·f(diag(s)·(W₁x + b₁)) = W₂·f(W₁x + b₁). ReLU6 = clip(x, 0, 6) is not homogeneous, which is why
/// <see cref="Apply"/> accepts only Relu between the two layers and <see cref="ReplaceRelu6WithRelu"/> exists.
/// </remarks>
public static class Imbalance
{
    /// <summary><paramref name="count"/> factors s_i = exp(u_i · ln spread), u_i ~ U(−1, 1): log-uniform over [1/spread, spread].</summary>
    public static float[] LogUniformScales(int count, Random rng, float spread = 32f)
    {
        ArgumentNullException.ThrowIfNull(rng);
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), $"Imbalance.LogUniformScales: argument 'count' expected ≥ 0, got {count}");
        if (!(spread >= 1f)) throw new ArgumentOutOfRangeException(nameof(spread), $"Imbalance.LogUniformScales: argument 'spread' expected ≥ 1, got {spread}");
        var s = new float[count];
        double log = Math.Log(spread);
        for (int i = 0; i < count; i++) s[i] = (float)Math.Exp((rng.NextDouble() * 2 - 1) * log);
        return s;
    }

    /// <summary>
    /// Scales output channel i of <paramref name="producer"/> by s_i and input channel i of <paramref name="consumer"/> by 1/s_i,
    /// with s drawn by <see cref="LogUniformScales"/>; returns s.
    /// </summary>
    /// <param name="graph">The graph, changed in place.</param>
    /// <param name="producer">A BatchNormalization (its scale γ and bias β are scaled), Conv or Gemm (weight output channels and bias).</param>
    /// <param name="consumer">The Conv (any group count) or Gemm that reads the producer's output, directly or through Relu nodes only.</param>
    /// <param name="rng">Source of the factors.</param>
    /// <param name="spread">Factors lie in [1/spread, spread] (default 32).</param>
    /// <exception cref="ArgumentException">A node is missing or of another type, its parameters are not float initializers,
    /// the path between them has a node other than Relu or a branch, or the channel counts differ.</exception>
    public static float[] Apply(Graph graph, string producer, string consumer, Random rng, float spread = 32f)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var p = Find(graph, producer);
        var c = Find(graph, consumer);
        CheckPath(graph, p, c);
        var (w2, layout2, groups2) = ConsumerWeight(graph, c);
        int channels = ScaledChannels(graph, p, Array.Empty<float>());
        var s = LogUniformScales(channels, rng, spread);
        int inChannels = CrossLayerScaling.InputChannelRanges(w2.AsSpan(), w2.Dims, layout2, groups2).Length;
        if (inChannels != channels)
            throw new ArgumentException($"Imbalance.Apply: {p.Label} has {channels} output channels but {c.Label} has {inChannels} input channels", nameof(consumer));
        ScaledChannels(graph, p, s);
        CrossLayerScaling.ScaleInputChannels(w2.AsSpan(), w2.Dims, layout2, groups2, s.Select(v => 1f / v).ToArray());
        return s;
    }

    /// <summary>
    /// Replaces every Clip(0, 6) node by a Relu (dropping its bound inputs and any initializers left unused); returns how many
    /// were replaced. This changes the function where pre-activations exceed 6: measure the FP32 accuracy afterwards.
    /// </summary>
    public static int ReplaceRelu6WithRelu(Graph graph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        int count = 0;
        foreach (var n in graph.Nodes)
        {
            if (n.OpType != "Clip" || n.Domain.Length != 0) continue;
            float lo, hi;
            if (n.Inputs.Count >= 3)
            {
                if (Scalar(graph, n.Inputs[1]) is not float l || Scalar(graph, n.Inputs[2]) is not float h) continue;
                (lo, hi) = (l, h);
            }
            else (lo, hi) = (n.GetFloat("min", float.NegativeInfinity), n.GetFloat("max", float.PositiveInfinity));
            if (lo != 0f || hi != 6f) continue;
            n.OpType = "Relu";
            n.Inputs.RemoveRange(1, n.Inputs.Count - 1);
            n.Attributes.Clear();
            count++;
        }
        graph.RemoveUnusedInitializers();
        return count;
    }

    private static float? Scalar(Graph g, string name) =>
        name.Length > 0 && g.Initializers.TryGetValue(name, out var t) && t is Tensor<float> { Length: 1 } f ? f.Data[0] : null;

    private static Node Find(Graph g, string name) =>
        g.Nodes.FirstOrDefault(n => n.Name == name) ?? throw new ArgumentException($"Imbalance.Apply: no node named '{name}' in graph '{g.Name}'", nameof(name));

    private static Tensor<float> Float(Graph g, Node n, int input) =>
        input < n.Inputs.Count && g.Initializers.TryGetValue(n.Inputs[input], out var t) && t is Tensor<float> f
            ? f
            : throw new ArgumentException($"Imbalance.Apply: input {input} of {n.Label} is not a float initializer");

    /// <summary>Output channel count of the producer; scales its channels by <paramref name="s"/> unless it is empty.</summary>
    private static int ScaledChannels(Graph g, Node p, float[] s)
    {
        switch (p.OpType)
        {
            case "BatchNormalization":
            {
                var gamma = Float(g, p, 1);
                var beta = Float(g, p, 2);
                for (int i = 0; i < s.Length; i++) { gamma.Data[i] *= s[i]; beta.Data[i] *= s[i]; }
                return gamma.Length;
            }
            case "Conv" or "Gemm":
            {
                var w = Float(g, p, 1);
                var layer = LinearLayer.Of(p)!;
                var (layout, groups) = (layer.Layout, layer.Groups);
                int m = layer.OutputChannels(w.Dims);
                if (s.Length == 0) return m;
                CrossLayerScaling.ScaleOutputChannels(w.AsSpan(), w.Dims, layout, groups, s);
                if (p.Inputs.Count > 2 && p.Inputs[2].Length > 0)
                {
                    var bias = Float(g, p, 2);
                    for (int i = 0; i < s.Length; i++) bias.Data[i] *= s[i];
                }
                return m;
            }
            default:
                throw new ArgumentException($"Imbalance.Apply: producer {p.Label} expected BatchNormalization, Conv or Gemm");
        }
    }

    private static (Tensor<float> Weight, WeightLayout Layout, int Groups) ConsumerWeight(Graph g, Node c) =>
        LinearLayer.Of(c) is { Layout: not WeightLayout.ConvTranspose } layer ? (Float(g, c, 1), layer.Layout, layer.Groups)
            : throw new ArgumentException($"Imbalance.Apply: consumer {c.Label} expected Conv or Gemm");

    /// <summary>The producer's output must reach the consumer's data input through Relu nodes only, with no other reader on the way.</summary>
    private static void CheckPath(Graph g, Node p, Node c)
    {
        string v = p.Outputs[0];
        for (int hops = 0; hops <= g.Nodes.Count; hops++)
        {
            if (g.IsOutput(v)) throw new ArgumentException($"Imbalance.Apply: value '{v}' between {p.Label} and {c.Label} is a graph output");
            var readers = g.Consumers(v);
            if (readers.Count != 1)
                throw new ArgumentException($"Imbalance.Apply: value '{v}' between {p.Label} and {c.Label} has {readers.Count} readers; scaling it would change the others");
            var (n, index) = readers[0];
            if (ReferenceEquals(n, c))
            {
                if (index != 0) throw new ArgumentException($"Imbalance.Apply: {p.Label} feeds input {index} of {c.Label}, not its data input");
                return;
            }
            if (n.OpType != "Relu")
                throw new ArgumentException($"Imbalance.Apply: {n.Label} between {p.Label} and {c.Label} is not a Relu; scaling through it would change the function");
            v = n.Outputs[0];
        }
        throw new ArgumentException($"Imbalance.Apply: {p.Label} does not reach {c.Label}");
    }
}
