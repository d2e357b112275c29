using QuantSharp.Engine;

namespace QuantSharp.Quantization.Config;

/// <summary>
/// Decides, from a <see cref="QuantizerConfig"/>, which quantizers a graph gets — the quantizers AIMET's ONNX
/// QuantizationSimModel would create, enabled or disabled as its config rules say.
/// </summary>
/// <remarks>
/// <para><b>Activations.</b> One quantizer per float tensor (however many readers), named by the tensor: each graph
/// input and each float output of a node. Non-float values (Shape, Size, ArgMax, NonZero, comparisons, integer Casts,
/// index outputs, …) get none, nor do sequences and optionals; types come from the graph's declared value infos and
/// initializers, else from the op schema's type rules, and unknown types count as float. A node output is enabled when its op type's <c>is_output_quantized</c> says so
/// (<c>op_type</c> beats <c>defaults.ops</c>). When the producer does not quantize it but readers' op types set
/// <c>is_input_quantized</c>, the tensor's quantizer is enabled for those readers (<see cref="PlannedQuantizer.Consumers"/>
/// lists them, or is null when every reader asked) — AIMET enables the shared tensor quantizer for every reader in
/// that case; restricting it to the asking readers is what a runtime with input quantizers (TensorRT) does, and is
/// the same thing whenever all readers ask.</para>
/// <para><b>Supergroups.</b> For each <c>op_list</c>, every chain of nodes of those op types in order, where each
/// node reads the previous node's first output, and each node's first output but the last is read only by nodes of the
/// chain and is not a graph output, is a match; the output quantizers of all but the last node are disabled (kept, so
/// they can be enabled by name). AIMET requires each output to feed only the next node; allowing readers later in the
/// chain lets one pattern describe a fused op whose internals branch (a decomposed LayerNorm reads x twice, GELU reads
/// its input twice), and is the same wherever AIMET's rule matches.</para>
/// <para><b>Model input / output.</b> Graph inputs (and Constant/ConstantOfShape outputs, as AIMET does) are enabled
/// per <c>model_input.is_input_quantized</c> when given, else per their readers' <c>is_input_quantized</c>. Graph
/// outputs are enabled per <c>model_output.is_output_quantized</c> when given (it beats every other rule).</para>
/// <para><b>Symmetry.</b> An activation quantizer is symmetric per its producer's <c>op_type.is_symmetric</c> when given,
/// else a reader's explicit <c>op_type.is_symmetric</c>, else <c>defaults.ops.is_symmetric</c> (false when absent).
/// <c>strict_symmetric</c> and <c>unsigned_symmetric</c> apply to every quantizer.</para>
/// <para><b>Parameters.</b> One quantizer per float initializer read as data by a node (see the kinds in
/// <c>ParamRoles</c>: weight, bias, running_mean, running_var, constant), owned by every node that reads it; the
/// first reader's op type and input position decide its kind and settings: enabled = <c>op_type.T.params.kind</c> ??
/// <c>params.kind</c> ?? <c>defaults.params</c>; per-channel = the op type's <c>per_channel_quantization</c> ?? the
/// default, when the parameter has a channel axis. Initializers that configure an op (Clip bounds, Pad, Resize scales,
/// shapes, indices) get none.</para>
/// </remarks>
public static class QuantizerPlacement
{
    /// <summary>Plans the quantizers <paramref name="config"/> puts on <paramref name="graph"/> (the graph is not changed).</summary>
    /// <exception cref="GraphException">When a node has no name (call <see cref="Graph.EnsureNodeNames"/> first).</exception>
    public static QuantizerPlan Plan(Graph graph, QuantizerConfig config) => PlanGraph(graph, config, subgraph: false);

    /// <summary>
    /// Plans the quantizers of a subgraph (an If branch, a Loop or Scan body) as for a graph, except that the body's own
    /// inputs (iteration count, condition, carried values) get none — their values are quantized where they are made —
    /// and the <c>model_input</c> / <c>model_output</c> rules do not apply.
    /// </summary>
    public static QuantizerPlan PlanSubgraph(Graph body, QuantizerConfig config) => PlanGraph(body, config, subgraph: true);

    private static QuantizerPlan PlanGraph(Graph graph, QuantizerConfig config, bool subgraph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(config);
        foreach (var n in graph.Nodes)
            if (n.Name.Length == 0)
                throw new GraphException($"QuantizerPlacement.Plan: node {n.Label} has no name; quantizers are bound to node names, call graph.EnsureNodeNames() first");

        var types = ValueTypes.Infer(graph);
        var nonTensor = ValueTypes.NonTensorValues(graph);
        var readers = new Dictionary<string, List<(Node Node, int Index)>>(StringComparer.Ordinal);
        foreach (var n in graph.Nodes)
            for (int i = 0; i < n.Inputs.Count; i++)
                if (n.Inputs[i].Length > 0)
                {
                    if (!readers.TryGetValue(n.Inputs[i], out var list)) readers[n.Inputs[i]] = list = new();
                    list.Add((n, i));
                }
        List<(Node Node, int Index)> Readers(string v) => readers.TryGetValue(v, out var l) ? l : [];
        var graphOutputs = new HashSet<string>(graph.Outputs.Select(o => o.Name), StringComparer.Ordinal);

        var (internalValues, groups) = MatchSupergroups(graph, config, Readers, graphOutputs);
        var plan = new List<PlannedQuantizer>();
        bool strict = config.StrictSymmetric, unsigned = config.UnsignedSymmetric;

        PlannedQuantizer Activation(string value, Node? producer, bool enabled, IReadOnlyList<(string, int)>? consumers) =>
            new(value, QuantizerKind.Activation, value, consumers, enabled, ActivationSymmetric(config, producer, Readers(value)),
                strict, unsigned, false, null, null, producer is null ? [] : [producer.Name]);

        // Enabled by readers' is_input_quantized: for every reader (null) or for the asking ones.
        (bool, IReadOnlyList<(string, int)>?) ByReaders(string value)
        {
            var all = Readers(value);
            var asking = all.Where(r => config.IsInputQuantized(r.Node.OpType)).ToList();
            if (asking.Count == 0) return (false, null);
            if (asking.Count == all.Count && !graphOutputs.Contains(value)) return (true, null);
            return (true, asking.Select(r => (r.Node.Name, r.Index)).ToList());
        }

        foreach (var input in subgraph ? [] : graph.Inputs)
        {
            if (graph.Initializers.ContainsKey(input.Name) || !ValueTypes.IsFloat(types, input.Name) || nonTensor.Contains(input.Name)) continue;
            var (enabled, consumers) = config.ModelInputQuantized is bool b ? (b, null) : ByReaders(input.Name);
            plan.Add(Activation(input.Name, null, enabled, consumers));
        }

        var paramsDone = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in graph.Nodes)
        {
            for (int i = 0; i < node.Inputs.Count; i++)
            {
                string name = node.Inputs[i];
                if (name.Length == 0 || paramsDone.Contains(name) || !graph.Initializers.TryGetValue(name, out var tensor)) continue;
                if (tensor.DataType is not (DataType.Float32 or DataType.Float64)) continue;
                string? kind = ParamRoles.Kind(graph, node, i);
                if (kind is null) continue;
                paramsDone.Add(name);
                int? axis = ParamRoles.Axis(node, i, kind, tensor.Rank);
                var owners = Readers(name).Where(r => ParamRoles.Kind(graph, r.Node, r.Index) is not null)
                    .Select(r => r.Node.Name).Distinct().ToList();
                plan.Add(new PlannedQuantizer(name, QuantizerKind.Param, name, null,
                    config.IsParamQuantized(node.OpType, kind), config.IsParamSymmetric(node.OpType, kind), strict, unsigned,
                    axis is not null && config.IsPerChannel(node.OpType), axis, kind, owners));
            }

            foreach (var output in node.Outputs)
            {
                if (output.Length == 0 || !ValueTypes.IsFloat(types, output) || nonTensor.Contains(output)) continue;
                bool enabled;
                IReadOnlyList<(string, int)>? consumers = null;
                if (internalValues.Contains(output)) enabled = false;
                else if (!subgraph && graphOutputs.Contains(output) && config.ModelOutputQuantized is bool mo) enabled = mo;
                else if (node.OpType is "Constant" or "ConstantOfShape")
                    (enabled, consumers) = !subgraph && config.ModelInputQuantized is bool mi ? (mi, null) : ByReaders(output);
                else if (config.IsOutputQuantized(node.OpType)) enabled = true;
                else (enabled, consumers) = ByReaders(output);
                plan.Add(Activation(output, node, enabled, consumers));
            }
        }
        return new QuantizerPlan(config, plan, groups);
    }

    private static bool ActivationSymmetric(QuantizerConfig config, Node? producer, List<(Node Node, int Index)> readers)
    {
        if (producer is not null && config.HasExplicitSymmetric(producer.OpType)) return config.IsSymmetric(producer.OpType);
        foreach (var (reader, _) in readers)
            if (config.HasExplicitSymmetric(reader.OpType)) return config.IsSymmetric(reader.OpType);
        return config.Defaults.Ops.IsSymmetric ?? false;
    }

    private static (HashSet<string> Internal, List<IReadOnlyList<string>> Groups) MatchSupergroups(Graph graph, QuantizerConfig config,
        Func<string, List<(Node Node, int Index)>> readers, HashSet<string> graphOutputs)
    {
        var internalValues = new HashSet<string>(StringComparer.Ordinal);
        var groups = new List<IReadOnlyList<string>>();
        foreach (var pattern in config.Supergroups)
            foreach (var start in graph.Nodes)
            {
                if (start.OpType != pattern[0]) continue;
                var chain = new List<Node> { start };
                if (!Extend(chain, pattern) || !Enclosed(chain)) continue;
                groups.Add(chain.Select(n => n.Name).ToList());
                for (int k = 0; k < chain.Count - 1; k++) internalValues.Add(chain[k].Outputs[0]);
            }
        return (internalValues, groups);

        // Depth-first: node k+1 is a reader of node k's first output with the pattern's k+1-th op type (a value can have
        // several readers of that type, e.g. LayerNorm's centred x is read by Pow and by Div; the first that completes wins).
        bool Extend(List<Node> chain, IReadOnlyList<string> pattern)
        {
            if (chain.Count == pattern.Count) return true;
            var cur = chain[^1];
            if (cur.Outputs.Count == 0 || cur.Outputs[0].Length == 0 || graphOutputs.Contains(cur.Outputs[0])) return false;
            foreach (var (reader, _) in readers(cur.Outputs[0]))
            {
                if (reader.OpType != pattern[chain.Count] || chain.Contains(reader)) continue;
                chain.Add(reader);
                if (Extend(chain, pattern)) return true;
                chain.RemoveAt(chain.Count - 1);
            }
            return false;
        }

        // A value may stay unquantized only when nothing outside the group reads it: a residual sum read by LayerNorm's
        // ReduceMean and Sub is internal to [Add, ReduceMean, Sub, …]; the same sum also read by a later residual is not.
        bool Enclosed(List<Node> chain)
        {
            for (int k = 0; k < chain.Count - 1; k++)
                if (readers(chain[k].Outputs[0]).Any(r => !chain.Contains(r.Node))) return false;
            return true;
        }
    }
}
