using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;

namespace QuantSharp.Quantization.Preparation;

public static partial class ModelPreparer
{
    /// <summary>
    /// Constant folding: every ai.onnx node whose inputs are all initializers (Constant nodes included) is evaluated
    /// once, by a <see cref="Session"/> on a one-node graph, and replaced by initializers holding its outputs; chains
    /// fold in one call because nodes are visited in topological order. Not folded: nodes with random output
    /// (the schema trait <see cref="OpTraits.Random"/>: RandomNormal, RandomUniform, …, Bernoulli, Dropout), nodes of other domains (quantizers carry state), nodes
    /// whose output is a graph output, and nodes the engine cannot run (reported with the engine's message); nodes
    /// with subgraph attributes (If, Loop) are left alone.
    /// Initializers that also appear as graph inputs are not constants (a caller may feed them).
    /// </summary>
    /// <param name="graph">Edited in place.</param>
    /// <param name="registry">Ops to evaluate with (default <see cref="OpRegistry.Default"/>).</param>
    public static SimplificationReport FoldConstants(Graph graph, OpRegistry? registry = null)
    {
        graph.EnsureNodeNames();
        graph.TopologicalSort();
        var removed = new List<RemovedNode>();
        var kept = new List<SkippedNode>();
        var released = new List<string>();
        foreach (var node in graph.Nodes.ToList())
        {
            if (!node.Inputs.All(i => i.Length == 0 || IsConstant(graph, i))) continue;
            if (SubgraphReads(node).Any()) continue;
            string? reason = null;
            if (node.Domain.Length != 0) reason = $"op of domain '{node.Domain}' is not evaluated at preparation";
            else if (OpRegistry.Default.Schema(node)?.Has(OpTraits.Random) == true) reason = "random output";
            else if (node.Outputs.FirstOrDefault(graph.IsOutput) is { } o) reason = $"output '{o}' is a graph output";
            Dictionary<string, Tensor>? values = null;
            if (reason is null)
                try { values = Evaluate(graph, node, registry); }
                catch (Exception e) when (e is GraphException or ShapeException or NotSupportedException) { reason = $"evaluation failed: {e.Message}"; }
            if (reason is not null) { kept.Add(new SkippedNode(node.Name, node.OpType, reason)); continue; }
            graph.Nodes.Remove(node);
            foreach (var (name, t) in values!)
            {
                graph.Initializers[name] = t;
                graph.ValueInfos.RemoveAll(v => v.Name == name);
            }
            released.AddRange(node.Inputs.Where(i => i.Length > 0));
            removed.Add(new RemovedNode(node.Name, node.OpType, "inputs are all constants"));
        }
        RemoveDeadInitializers(graph, released);
        return new SimplificationReport("fold constants", removed, kept);
    }

    /// <summary>Runs <paramref name="node"/> alone on its constant inputs; outputs are copies that share no storage with the inputs.</summary>
    private static Dictionary<string, Tensor> Evaluate(Graph graph, Node node, OpRegistry? registry)
    {
        var g = new Graph { Name = $"fold {node.Name}" };
        g.Opsets.Clear();
        foreach (var (k, v) in graph.Opsets) g.Opsets[k] = v;
        g.Nodes.Add(node.Clone());
        foreach (var i in node.Inputs.Where(i => i.Length > 0).Distinct()) g.Initializers[i] = graph.Initializers[i];
        foreach (var o in node.Outputs.Where(o => o.Length > 0)) g.Outputs.Add(new ValueInfo(o, DataType.Float32, (IEnumerable<Dim>?)null));
        var run = new Session(g, registry).Run(new Dictionary<string, Tensor>());
        return run.Outputs.ToDictionary(kv => kv.Key, kv => Copy(kv.Value), StringComparer.Ordinal);
    }

    /// <summary>A copy of <paramref name="t"/> with its own storage (same element type, declared type and shape).</summary>
    internal static Tensor Copy(Tensor t) => t switch
    {
        Tensor<float> x => x.Clone(),
        Tensor<double> x => x.Clone(),
        Tensor<sbyte> x => x.Clone(),
        Tensor<byte> x => x.Clone(),
        Tensor<short> x => x.Clone(),
        Tensor<ushort> x => x.Clone(),
        Tensor<int> x => x.Clone(),
        Tensor<long> x => x.Clone(),
        Tensor<bool> x => x.Clone(),
        _ => throw new NotSupportedException($"FoldConstants: tensor of element type {t.DataType} ({t.GetType().Name}) cannot be copied"),
    };
}
