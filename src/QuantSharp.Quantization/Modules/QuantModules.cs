using QuantSharp.Engine;
using QuantSharp.Engine.Runtime.Quantizers;
using QuantSharp.Quantization.Quantizers;

namespace QuantSharp.Quantization.Modules;

/// <summary>Descriptors <see cref="QuantModules"/> gives the quantizers it creates (pytorch-quantization's per-module defaults).</summary>
/// <remarks>
/// A weight descriptor sets bits, format, calibration method and signedness. When it is per channel, its axis is replaced by
/// the output-channel axis of the weight's ONNX layout (see <see cref="QuantModules"/>), so one descriptor serves every
/// layout; a per-tensor descriptor stays per tensor. ConvTranspose therefore gets one amax per output channel (axis 1),
/// where pytorch-quantization's <c>QUANT_DESC_8BIT_CONVTRANSPOSE2D_WEIGHT_PER_CHANNEL</c> keeps axis 0 (its input channels).
/// </remarks>
public sealed record QuantModuleOptions
{
    /// <summary>Quantizer of every wrapped node's activation input(s): 8-bit per tensor, max calibration.</summary>
    public QuantDescriptor Input { get; init; } = QuantDescriptor.Default;

    /// <summary>Weight quantizer of Conv (per output channel: weight axis 0 of [C_out, C_in/group, k…]).</summary>
    public QuantDescriptor ConvWeight { get; init; } = QuantDescriptor.ConvWeightPerChannel;

    /// <summary>Weight quantizer of ConvTranspose (per output channel: weight axis 1 of [C_in, C_out/group, k…]).</summary>
    public QuantDescriptor ConvTransposeWeight { get; init; } = QuantDescriptor.ConvTransposeWeightPerChannel;

    /// <summary>Weight quantizer of Gemm, MatMul and LSTM (per output feature; the axis follows the weight's layout).</summary>
    public QuantDescriptor LinearWeight { get; init; } = QuantDescriptor.LinearWeightPerChannel;

    /// <summary>Op types wrapped by <see cref="QuantModules.Initialize"/>.</summary>
    public IReadOnlySet<string> OpTypes { get; init; } = QuantModules.SupportedOpTypes;
}

/// <summary>
/// Quantized op wrappers on graph nodes — the <c>quant_modules.initialize()</c> of pytorch-quantization in graph form:
/// each Conv, ConvTranspose, Gemm, MatMul, pooling and LSTM node gets a <see cref="TensorQuantizer"/> on its activation
/// input and one on its weight, as <see cref="QuantizerNode"/>s named <c>{node}.input_quantizer</c> and
/// <c>{node}.weight_quantizer</c> (MatMul or Gemm of two activations: <c>{node}.input_quantizer</c> and
/// <c>{node}.other_quantizer</c>; pooling, including <see cref="GraphBuilder.AdaptiveAvgPool"/>'s constructions: the input
/// only; LSTM: <c>{node}.input_quantizer</c> and <c>{node}.weight_quantizer</c>, each on two edges, see below).
/// </summary>
/// <remarks>
/// Per-channel weight axes follow ONNX layouts: Conv W [M, C/g, k…] → 0; ConvTranspose W [C, M/g, k…] → 1; Gemm B
/// [N, K] with transB = 1 → 0, [K, N] → 1; MatMul constant B [.., K, N] → last (1-D B: per tensor); LSTM W/R
/// [dirs, 4·hidden, …] → 1. A per-tensor weight descriptor stays per tensor. A Conv, ConvTranspose or LSTM weight that is
/// not an initializer (computed in the graph) gets no weight quantizer (an LSTM's W and R share one, so both must be
/// initializers); biases are never quantized.
/// <para>LSTM, as pytorch-quantization's QuantLSTM and QuantLSTMCell (which quantize <c>cat([x, h])</c> with one input
/// quantizer and <c>cat([W_ih, W_hh])</c> with one per-row weight quantizer): <c>{node}.input_quantizer</c> runs on X and
/// on initial_h (one amax for both), <c>{node}.weight_quantizer</c> on W and R (one amax per gate row for both; the gate
/// order i, o, f, c of ONNX versus i, f, g, o of PyTorch permutes rows, which per-row amax does not see); initial_c is not
/// quantized, as there. For an LSTM cell step (<see cref="GraphBuilder.LstmCell"/>: a sequence of one) this is
/// QuantLSTMCell exactly. What one ONNX LSTM node over a sequence cannot express: pytorch-quantization also quantizes
/// every intermediate hidden state h_1 … h_{T−1} with the input quantizer (the cell runs per step); the node keeps them
/// inside, so they stay unquantized here (and the input quantizer's calibration sees X and initial_h only). Unroll the
/// sequence into <see cref="GraphBuilder.LstmCell"/> steps where that matters (each step then has its own quantizers).
/// A bidirectional node's two directions share each gate row's weight amax (ONNX QuantizeLinear quantizes along one axis);
/// pytorch-quantization keeps one quantizer per direction. A weight quantizer with no amax (dynamic) computes W's and R's
/// amax separately, not over their concatenation. The engine runs LSTM forward and backward, so a wrapped LSTM
/// calibrates, trains and exports.</para>
/// </remarks>
public static class QuantModules
{
    /// <summary>Op types that get quantizers by default.</summary>
    public static IReadOnlySet<string> SupportedOpTypes { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        "Conv", "ConvTranspose", "Gemm", "MatMul", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "LSTM", AdaptiveAvgPool,
    };

    /// <summary>
    /// The kind <see cref="SupportedOpTypes"/> lists for the MatMul form of <see cref="GraphBuilder.AdaptiveAvgPool"/> (its
    /// GlobalAveragePool and AveragePool forms are those op types): the pooled input is quantized, the averaging matrices never.
    /// </summary>
    public const string AdaptiveAvgPool = "AdaptiveAvgPool";

    // What a node is to the wrappers: an adaptive pooling construction is one kind, named by its first node; its other nodes are nothing.
    private static string? KindOf(Node n) => GraphBuilder.AdaptiveAvgPoolOf(n) is { } pool ? (n.Name == pool ? AdaptiveAvgPool : null) : n.OpType;

    /// <summary>
    /// Wraps every node (default domain) whose op type — or <see cref="AdaptiveAvgPool"/> for the first node of that
    /// construction — is in <see cref="QuantModuleOptions.OpTypes"/> (a copy of
    /// <paramref name="graph"/> unless <paramref name="inPlace"/>). Unnamed nodes are named first (<c>OpType_k</c>), so
    /// every quantizer name is unique.
    /// </summary>
    /// <exception cref="NotSupportedException"><see cref="QuantModuleOptions.OpTypes"/> lists an op type that has no quantized wrapper.</exception>
    public static QuantizedGraph Initialize(Graph graph, QuantModuleOptions? options = null, bool inPlace = false)
    {
        ArgumentNullException.ThrowIfNull(graph);
        options ??= new QuantModuleOptions();
        var unsupported = options.OpTypes.Where(t => !SupportedOpTypes.Contains(t)).Order(StringComparer.Ordinal).ToList();
        if (unsupported.Count > 0)
            throw new NotSupportedException($"QuantModules: argument 'OpTypes' expected op types among {string.Join(", ", SupportedOpTypes)}; " +
                $"got {string.Join(", ", unsupported)}, which have no quantized wrapper");
        var g = inPlace ? graph : graph.Clone();
        g.EnsureNodeNames();
        var result = new QuantizedGraph(g);
        foreach (var node in g.Nodes.Where(n => n.Domain.Length == 0 && KindOf(n) is { } kind && options.OpTypes.Contains(kind)).ToList())
            Wrap(result, node, options);
        return result;
    }

    /// <summary>Wraps the nodes named <paramref name="nodeNames"/> only.</summary>
    /// <exception cref="KeyNotFoundException">A name that is not a node of the graph.</exception>
    /// <exception cref="NotSupportedException">A node whose op type has no quantized wrapper.</exception>
    /// <exception cref="ArgumentException">A node named twice.</exception>
    public static QuantizedGraph Wrap(Graph graph, IEnumerable<string> nodeNames, QuantModuleOptions? options = null, bool inPlace = false)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(nodeNames);
        options ??= new QuantModuleOptions();
        var names = nodeNames.ToList();
        // Check every name before touching the graph, so a bad name leaves an in-place graph unchanged.
        var nodes = new List<Node>();
        foreach (var name in names)
        {
            var node = graph.Nodes.FirstOrDefault(n => n.Name == name)
                ?? throw new KeyNotFoundException($"QuantModules: no node named '{name}' in graph '{graph.Name}'");
            if (GraphBuilder.AdaptiveAvgPoolOf(node) is { } pool && pool != name)
                throw new NotSupportedException($"QuantModules: node '{name}' is part of the adaptive average pooling '{pool}'; wrap '{pool}'");
            if (node.Domain.Length > 0 || KindOf(node) is not { } kind || !SupportedOpTypes.Contains(kind))
                throw new NotSupportedException($"QuantModules: node '{name}' is a {(node.Domain.Length > 0 ? node.Domain + "." : "")}{node.OpType}; " +
                    $"quantized wrappers exist for {string.Join(", ", SupportedOpTypes)}");
            if (nodes.Contains(node)) throw new ArgumentException($"QuantModules: node '{name}' is listed twice", nameof(nodeNames));
            nodes.Add(node);
        }
        var g = inPlace ? graph : graph.Clone();
        // Map to the copy's nodes before wrapping: wrapping inserts quantizer nodes and shifts indices.
        var targets = inPlace ? nodes : nodes.Select(n => g.Nodes[graph.Nodes.IndexOf(n)]).ToList();
        var result = new QuantizedGraph(g);
        foreach (var node in targets) Wrap(result, node, options);
        return result;
    }

    private static void Wrap(QuantizedGraph q, Node node, QuantModuleOptions o)
    {
        var g = q.Graph;
        string name = node.Name;
        bool Constant(int i) => i < node.Inputs.Count && g.Initializers.ContainsKey(node.Inputs[i]);
        switch (KindOf(node))
        {
            case AdaptiveAvgPool:
                // The construction's first node reads the pooled value and one constant (matrix or shape).
                q.AddOnInput(node, Enumerable.Range(0, node.Inputs.Count).First(i => !Constant(i)), $"{name}.input_quantizer", o.Input);
                break;
            case "Conv":
                q.AddOnInput(node, 0, $"{name}.input_quantizer", o.Input);
                if (Constant(1)) q.AddOnInput(node, 1, $"{name}.weight_quantizer", PerChannelAxis(o.ConvWeight, 0));
                break;
            case "ConvTranspose":
                q.AddOnInput(node, 0, $"{name}.input_quantizer", o.Input);
                if (Constant(1)) q.AddOnInput(node, 1, $"{name}.weight_quantizer", PerChannelAxis(o.ConvTransposeWeight, 1));
                break;
            case "Gemm":
                q.AddOnInput(node, 0, $"{name}.input_quantizer", o.Input);
                if (Constant(1))
                    q.AddOnInput(node, 1, $"{name}.weight_quantizer", PerChannelAxis(o.LinearWeight, node.GetInt("transB", 0) != 0 ? 0 : 1));
                else q.AddOnInput(node, 1, $"{name}.other_quantizer", o.Input);
                break;
            case "MatMul":
                q.AddOnInput(node, 0, $"{name}.input_quantizer", o.Input);
                if (Constant(1))
                {
                    // B [.., K, N]: one amax per output column N; a 1-D B [K] has no output axis, so it is per tensor.
                    int rank = g.Initializers[node.Inputs[1]].Rank;
                    q.AddOnInput(node, 1, $"{name}.weight_quantizer", rank >= 2 ? PerChannelAxis(o.LinearWeight, rank - 1) : o.LinearWeight.WithAxis([]));
                }
                else q.AddOnInput(node, 1, $"{name}.other_quantizer", o.Input);
                break;
            case "LSTM":
                WrapLstm(q, node, o, Constant(1) && Constant(2));
                break;
            default: // pooling: the input only
                q.AddOnInput(node, 0, $"{name}.input_quantizer", o.Input);
                break;
        }
    }

    /// <summary>
    /// pytorch-quantization's QuantLSTM / QuantLSTMCell quantize <c>cat([x, h], 1)</c> with one input quantizer and
    /// <c>cat([W_ih, W_hh], 1)</c> with one weight quantizer (per row); the graph form shares one quantizer between X and
    /// initial_h, and one between W and R (whose rows hold the same gate units in the same order).
    /// </summary>
    private static void WrapLstm(QuantizedGraph q, Node node, QuantModuleOptions o, bool constantWeights)
    {
        string input = $"{node.Name}.input_quantizer", weight = $"{node.Name}.weight_quantizer";
        q.AddOnInput(node, 0, input, o.Input);
        q.ShareOnInput(node, 5, input);
        if (!constantWeights) return;
        q.AddOnInput(node, 1, weight, PerChannelAxis(o.LinearWeight, 1));
        q.ShareOnInput(node, 2, weight);
    }

    /// <summary>The descriptor with its per-channel axis moved to <paramref name="axis"/> (per-tensor descriptors are unchanged).</summary>
    internal static QuantDescriptor PerChannelAxis(QuantDescriptor d, int axis) =>
        d.PerTensor || (d.Axis.Count == 1 && d.Axis[0] == axis) ? d : d.WithAxis([axis]);
}
