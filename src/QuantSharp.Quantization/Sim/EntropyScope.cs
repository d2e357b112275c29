using QuantSharp.Engine;
using QuantSharp.Engine.Runtime.Quantizers;
using QuantSharp.Quantization.Calibration;

namespace QuantSharp.Quantization.Sim;

/// <summary>A quantizer that <see cref="QuantScheme.PostTrainingEntropy"/> calibrated with min/max (tf) instead, and why.</summary>
/// <param name="Quantizer">The quantizer's name.</param>
/// <param name="Reason">Why the entropy search does not hold there (one of the <see cref="EntropyScope"/> reasons).</param>
public sealed record SchemeFallback(string Quantizer, string Reason);

/// <summary>
/// Where <see cref="QuantScheme.PostTrainingEntropy"/> uses the KL search, and where min/max (tf) instead: the search
/// assumes non-negative activations with mass near zero and a sparse tail — the outputs of Relu, Clip (Relu6), Sigmoid,
/// HardSigmoid, Softplus or Softmax, possibly through pooling or reshaping — and only where the data agrees (no
/// negative values; the KL range no worse than min/max in expected squared error). Weights (TensorRT calibrates them by max),
/// model outputs (logits: the largest values decide), tensors from other ops and tensors that turn out signed on the
/// calibration data get min/max, which never clips and so cannot collapse.
/// </summary>
public static class EntropyScope
{
    /// <summary>Reason of weights and other parameters.</summary>
    public const string Parameter = "parameter (weights are calibrated by max, as TensorRT does)";

    /// <summary>Reason of a quantizer on a model (or subgraph) output.</summary>
    public const string ModelOutput = "model output (logits: the largest values decide)";

    /// <summary>Reason of a tensor not produced by a non-negative activation.</summary>
    public const string NotAfterActivation = "not after Relu/Clip/Sigmoid/Softmax";

    /// <summary>Reason of a tensor that held negative values on the calibration data.</summary>
    public const string Signed = "signed values";

    /// <summary>Reason of a tensor whose KL range clipped so much that its expected squared error exceeded min/max's.</summary>
    public const string ClipsTooMuch = "KL range clips a mode of the data (more error than min/max)";

    /// <summary>The reason for a data-driven choice of <see cref="NonNegativeEntropyEncodingAnalyzer"/> (null for <see cref="EntropyChoice.Entropy"/>).</summary>
    public static string? Reason(EntropyChoice choice) => choice switch
    {
        EntropyChoice.SignedData => Signed,
        EntropyChoice.ClipsTooMuch => ClipsTooMuch,
        _ => null,
    };

    private static readonly HashSet<string> s_nonNegativeActivations = ["Relu", "Clip", "Sigmoid", "HardSigmoid", "Softplus", "Softmax"];

    // Ops that move, select or average values: a Relu output stays non-negative and keeps its shape of distribution.
    private static readonly HashSet<string> s_preserving = ["MaxPool", "GlobalMaxPool", "AveragePool", "GlobalAveragePool", "Flatten", "Reshape",
        "Transpose", "Identity", "Squeeze", "Unsqueeze", "Dropout"];

    /// <summary>
    /// The analyzer of an activation quantizer under the entropy scheme: a <see cref="NonNegativeEntropyEncodingAnalyzer"/>
    /// where the graph says the search can hold (it checks the data itself), else a <see cref="MinMaxEncodingAnalyzer"/> with the reason.
    /// </summary>
    /// <param name="sim">The simulation graph (with its quantizer nodes).</param>
    /// <param name="quantizer">The activation quantizer's name.</param>
    public static (IEncodingAnalyzer Analyzer, string? Reason) ActivationAnalyzer(Graph sim, string quantizer)
    {
        string? reason = StructuralReason(sim, quantizer);
        return reason is null ? (new NonNegativeEntropyEncodingAnalyzer(), null) : (new MinMaxEncodingAnalyzer(), reason);
    }

    /// <summary>Why the graph rules out the KL search for <paramref name="quantizer"/>, or null when it may hold.</summary>
    internal static string? StructuralReason(Graph sim, string quantizer)
    {
        var (graph, node) = Find(sim, quantizer);
        if (graph is null || node is null) return NotAfterActivation;
        if (graph.IsOutput(node.Outputs[0]) || graph.IsOutput(node.Inputs[0])) return ModelOutput;
        string value = node.Inputs[0];
        for (int hops = 0; hops < graph.Nodes.Count; hops++)
        {
            var producer = graph.Producer(value);
            if (producer is null) return NotAfterActivation;
            bool passThrough = QuantizerNode.Is(producer) || (producer.Domain.Length == 0 && s_preserving.Contains(producer.OpType));
            if (!passThrough)
                return producer.Domain.Length == 0 && s_nonNegativeActivations.Contains(producer.OpType) ? null : NotAfterActivation;
            value = producer.Inputs[0];
        }
        return NotAfterActivation;
    }

    private static (Graph? Graph, Node? Node) Find(Graph sim, string quantizer)
    {
        foreach (var g in sim.Subgraphs().Select(s => s.Subgraph).Prepend(sim))
            foreach (var n in g.Nodes)
                if (QuantizerNode.Is(n) && QuantizerNode.QuantizerName(n) == quantizer) return (g, n);
        return (null, null);
    }
}
