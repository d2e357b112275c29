using QuantSharp.Engine;
using QuantSharp.Engine.Runtime.Quantizers;
using QuantSharp.Quantization.Sim;

namespace QuantSharp.Quantization.Analysis;

/// <summary>
/// One layer as the analyzer sees it: an op of the simulation graph together with the quantizers it owns (AIMET's
/// quantization wrapper: parameter quantizers on its weights, activation quantizers on its outputs, and on model inputs
/// it reads directly).
/// </summary>
/// <param name="Name">The node's name (its label when unnamed).</param>
/// <param name="OpType">The ONNX op type.</param>
/// <param name="ParamQuantizers">Names of the enabled parameter quantizers it owns.</param>
/// <param name="ActivationQuantizers">Names of the enabled activation quantizers it owns.</param>
/// <param name="OutputValue">The value holding the layer's output as the next layer reads it: the output of its output
/// quantizer when it has one, else its first output. Compared between the FP32 and quantized runs.</param>
public sealed record AnalysisLayer(string Name, string OpType, IReadOnlyList<string> ParamQuantizers,
    IReadOnlyList<string> ActivationQuantizers, string OutputValue)
{
    /// <summary>Every quantizer of the layer (parameters first).</summary>
    public IEnumerable<string> Quantizers => ParamQuantizers.Concat(ActivationQuantizers);

    /// <summary>
    /// The layers of <paramref name="sim"/> in graph order: every non-quantizer node that owns at least one enabled
    /// quantizer. A parameter quantizer belongs to the first op reading its output; an activation quantizer to the op
    /// producing its input, or, on a model input, to the first op reading its output.
    /// </summary>
    public static IReadOnlyList<AnalysisLayer> Find(QuantizationSimModel sim)
    {
        var graph = sim.Model;
        var owned = new Dictionary<Node, Owned>();
        foreach (var qn in graph.Nodes.Where(QuantizerNode.Is))
        {
            if (!sim.Quantizers.TryGetValue(QuantizerNode.QuantizerName(qn), out var q) || !q.Enabled) continue;
            var producer = graph.Producer(qn.Inputs[0]);
            Node? owner = q.Role == QuantizerRole.Activation && producer is not null && !QuantizerNode.Is(producer) ? producer : FirstReader(graph, qn.Outputs[0]);
            if (owner is null) continue;
            if (!owned.TryGetValue(owner, out var entry)) owned[owner] = entry = new Owned();
            if (q.Role == QuantizerRole.Param) entry.Params.Add(q.Name);
            else
            {
                entry.Acts.Add(q.Name);
                if (ReferenceEquals(owner, producer) && entry.Output is null && qn.Inputs[0] == owner.Outputs[0]) entry.Output = qn.Outputs[0];
            }
        }
        var layers = new List<AnalysisLayer>();
        foreach (var node in graph.Nodes)
        {
            if (!owned.TryGetValue(node, out var e)) continue;
            layers.Add(new AnalysisLayer(node.Name.Length > 0 ? node.Name : node.Label, node.OpType, e.Params, e.Acts, e.Output ?? node.Outputs[0]));
        }
        return layers;
    }

    private sealed class Owned
    {
        public List<string> Params { get; } = [];
        public List<string> Acts { get; } = [];
        public string? Output { get; set; }
    }

    private static Node? FirstReader(Graph graph, string value)
    {
        foreach (var (node, _) in graph.Consumers(value))
            if (!QuantizerNode.Is(node)) return node;
        return null;
    }
}
