using QuantSharp.Engine;

namespace QuantSharp.Quantization.Export;

/// <summary>
/// Rewrites of a lowered QDQ graph that let ONNX Runtime (and other QDQ runtimes) fuse every quantized Conv and Gemm into an
/// integer kernel, without changing any value the graph computes beyond what the fusion itself defines:
/// <list type="bullet">
/// <item>DQ → Flatten → Gemm/MatMul becomes Flatten on the integer levels → DQ (<see cref="MoveDequantizeAfterFlatten"/>);</item>
/// <item>a table quantized per tensor or per row and read by one Gather (an embedding) is gathered on its integer levels and
/// only the rows read are dequantized (<see cref="MoveDequantizeAfterGather"/>);</item>
/// <item>a <c>Relu</c> or constant-bound <c>Clip</c> whose only reader is a <c>QuantizeLinear</c> is removed when the
/// quantizer already saturates exactly where the clamp would (<c>Q(min) = qmin</c> and <c>Q(max) = qmax</c>) — the
/// result is identical for every input, so DQ → Conv → Q is left for the fusion (ONNX Runtime's own rule accepts only a
/// quantizer range inside the clip range up to 1.2e-7, which an encoding of a ReLU6 whose maximum rounds to 6.0000005 misses);</item>
/// <item>(optional) the float bias of a Conv whose input (per tensor) and weight are dequantized is stored as int32 with scale
/// <c>x_scale·w_scale</c> and no zero point: <c>round(b / (x_scale·w_scale))</c> with the product and the quotient
/// rounded to float32 and the rounding half to even — exactly what ONNX Runtime's bias-quantization pass computes at load
/// (so ONNX Runtime runs the same model either way), for runtimes without that pass. Off by default: the written model then
/// equals the simulation, which keeps float biases, exactly when run as written.</item>
/// </list>
/// </summary>
public static class QdqPlacement
{
    /// <summary>
    /// Applies the rewrites to <paramref name="g"/> in place: always the clamp removal; the int32 biases when
    /// <paramref name="int32Biases"/>. Returns how many clamps and biases changed.
    /// </summary>
    public static (int Clamps, int Biases) Apply(Graph g, bool int32Biases)
    {
        ArgumentNullException.ThrowIfNull(g);
        MoveDequantizeAfterFlatten(g);
        MoveDequantizeAfterGather(g);
        return (DropRedundantClamps(g), int32Biases ? QuantizeConvBiases(g) : 0);
    }

    /// <summary>
    /// A constant table dequantized per tensor, or per row (axis 0, the axis gathered), and read only as the data of one
    /// Gather (a transformer's embeddings) is gathered on its integer levels and only the rows read are dequantized —
    /// exactly equivalent, since dequantization works element by element. Per tensor: Gather → DequantizeLinear. Per row:
    /// the row scales and zero points are gathered with the rows and applied as <c>(float(q) − float(zp))·scale</c>, the
    /// same float operations DequantizeLinear performs (opset 13 and later, for Unsqueeze's axes input). ONNX Runtime does not
    /// fold a DequantizeLinear of an initializer, so as written it dequantizes the whole table on every run: 11.7 M values
    /// for all-MiniLM-L6-v2, 23 % of its batch-1 time. Returns how many Gathers changed.
    /// </summary>
    public static int MoveDequantizeAfterGather(Graph g)
    {
        int moved = 0;
        foreach (var dq in g.Nodes.Where(n => n.OpType == "DequantizeLinear" && n.Domain.Length == 0).ToList())
        {
            string table = dq.Outputs[0];
            if (!g.Initializers.ContainsKey(dq.Inputs[0]) || g.IsOutput(table)) continue;
            var readers = g.Nodes.Where(n => n.Inputs.Contains(table)).ToList();
            if (readers is not [{ OpType: "Gather", Domain: "" } gather] || gather.Inputs.IndexOf(table) != 0 || gather.Inputs.Count(i => i == table) != 1) continue;
            var p = QdqParams.Of(g, dq, quantize: false);
            if (p is null) continue;
            long gatherAxis = gather.Attributes.TryGetValue("axis", out var ga) ? ga.AsInt() : 0;
            bool perRow = !p.PerTensor && p.Axis == 0 && gatherAxis == 0 && g.Opsets.GetValueOrDefault("") >= 13;
            if (!p.PerTensor && !perRow) continue;
            string output = gather.Outputs[0], levels = g.UniqueName(output + "_levels");
            int at = g.Nodes.IndexOf(gather);
            var onLevels = new Node("Gather", [dq.Inputs[0], .. gather.Inputs.Skip(1)], [levels], gather.Name);
            foreach (var (k, v) in gather.Attributes) onLevels.Attributes[k] = v;
            g.Nodes[at] = onLevels;
            var after = perRow ? DequantizeGatheredRows(g, dq, gather, levels, output, p) : [new Node("DequantizeLinear", [levels, .. dq.Inputs.Skip(1)], [output], gather.Name + "_DequantizeLinear")];
            g.Nodes.InsertRange(at + 1, after);
            g.Nodes.Remove(dq);
            moved++;
        }
        return moved;
    }

    /// <summary>ONNX's element type code of float32 (TensorProto.FLOAT), Cast's "to".</summary>
    private const long OnnxFloat = 1;

    /// <summary>The gathered rows' scales (and zero points, when not all zero) applied to the gathered levels.</summary>
    private static List<Node> DequantizeGatheredRows(Graph g, Node dq, Node gather, string levels, string output, QdqParams p)
    {
        string name = gather.Name, indices = gather.Inputs[1];
        string axes = g.UniqueName(name + "_last_axis");
        g.Initializers[axes] = Tensor.FromArray(new long[] { -1 }, 1);
        string Fresh(string suffix) => g.UniqueName(output + suffix);
        var nodes = new List<Node>();
        string values = Fresh("_levels_float");
        nodes.Add(new Node("Cast", [levels], [values], name + "_levels_cast").With("to", AttributeValue.FromInt(OnnxFloat)));
        if (p.ZeroPoints.Any(z => z != 0))
        {
            string zp = Fresh("_zero_points"), zpFloat = Fresh("_zero_points_float"), zpColumn = Fresh("_zero_points_column"), shifted = Fresh("_shifted");
            nodes.Add(new Node("Gather", [dq.Inputs[2], indices], [zp], name + "_zero_points"));
            nodes.Add(new Node("Cast", [zp], [zpFloat], name + "_zero_points_cast").With("to", AttributeValue.FromInt(OnnxFloat)));
            nodes.Add(new Node("Unsqueeze", [zpFloat, axes], [zpColumn], name + "_zero_points_unsqueeze"));
            nodes.Add(new Node("Sub", [values, zpColumn], [shifted], name + "_zero_points_sub"));
            values = shifted;
        }
        string scales = Fresh("_scales"), scaleColumn = Fresh("_scales_column");
        nodes.Add(new Node("Gather", [dq.Inputs[1], indices], [scales], name + "_scales"));
        nodes.Add(new Node("Unsqueeze", [scales, axes], [scaleColumn], name + "_scales_unsqueeze"));
        nodes.Add(new Node("Mul", [values, scaleColumn], [output], name + "_DequantizeRows"));
        return nodes;
    }

    /// <summary>
    /// DQ → Flatten → Gemm/MatMul becomes Flatten (of the integer levels) → DQ → Gemm/MatMul — exactly equivalent — so
    /// ONNX Runtime fuses the classifier into an integer QGemm instead of dequantizing its input and running it in float
    /// (its Gemm selector needs the DequantizeLinear right before the Gemm, and it does not move one past a Flatten).
    /// Returns how many Flattens moved.
    /// </summary>
    public static int MoveDequantizeAfterFlatten(Graph g)
    {
        int moved = 0;
        foreach (var flatten in g.Nodes.Where(n => n.OpType == "Flatten" && n.Domain.Length == 0).ToList())
        {
            string output = flatten.Outputs[0];
            if (g.IsOutput(output)) continue;
            var readers = g.Nodes.Where(n => n.Inputs.Contains(output)).ToList();
            if (readers.Count == 0 || readers.Any(r => r.OpType is not ("Gemm" or "MatMul") || r.Inputs.IndexOf(output) != 0)) continue;
            if (g.Producer(flatten.Inputs[0]) is not { OpType: "DequantizeLinear" } dq) continue;
            var p = QdqParams.Of(g, dq, quantize: false);
            if (p is not { PerTensor: true } || p.Type is not (DataType.UInt8 or DataType.Int8)) continue;
            string levels = g.UniqueName(output + "_levels");
            int at = g.Nodes.IndexOf(flatten);
            var onLevels = new Node("Flatten", [dq.Inputs[0]], [levels], flatten.Name);
            foreach (var (k, v) in flatten.Attributes) onLevels.Attributes[k] = v;
            g.Nodes[at] = onLevels;
            g.Nodes.Insert(at + 1, new Node("DequantizeLinear", [levels, .. dq.Inputs.Skip(1)], [output], flatten.Name + "_DequantizeLinear"));
            if (!g.IsOutput(dq.Outputs[0]) && !g.Nodes.Any(n => n.Inputs.Contains(dq.Outputs[0]))) g.Nodes.Remove(dq);
            moved++;
        }
        return moved;
    }

    /// <summary>Removes Relu/Clip nodes that the QuantizeLinear reading them makes redundant (see the type's remarks).</summary>
    public static int DropRedundantClamps(Graph g)
    {
        int removed = 0;
        var readBySubgraphs = new HashSet<string>(g.Nodes.SelectMany(Graph.OuterValues), StringComparer.Ordinal);
        foreach (var clamp in g.Nodes.Where(n => n.Domain.Length == 0 && n.OpType is "Relu" or "Clip").ToList())
        {
            string output = clamp.Outputs[0];
            if (g.IsOutput(output) || readBySubgraphs.Contains(output)) continue;
            // Only a clamp after a computing op: removing one that reads a DequantizeLinear would leave Q → DQ → Q → DQ, which
            // ONNX Runtime collapses into one pair with new parameters (its DoubleQDQPairsRemover), changing the values.
            if (g.Producer(clamp.Inputs[0]) is not { } producer || producer.OpType is "DequantizeLinear" or "QuantizeLinear") continue;
            var readers = g.Nodes.Where(n => n.Inputs.Contains(output)).ToList();
            if (readers.Count != 1 || readers[0].OpType != "QuantizeLinear" || readers[0].Inputs.IndexOf(output) != 0) continue;
            var q = QdqParams.Of(g, readers[0], quantize: true);
            if (q is null || !q.PerTensor) continue;
            var bounds = ClampBounds(g, clamp);
            if (bounds is null) continue;
            var (lo, hi) = bounds.Value;
            bool lowOk = float.IsNegativeInfinity(lo) || q.Level(lo) == q.QMin;
            bool highOk = float.IsPositiveInfinity(hi) || q.Level(hi) == q.QMax;
            if (!lowOk || !highOk) continue;
            g.Bypass(clamp);
            removed++;
        }
        return removed;
    }

    /// <summary>The constant [min, max] of a Relu (0, +∞) or a Clip (attributes before opset 11, inputs after); null when not constant.</summary>
    private static (float Lo, float Hi)? ClampBounds(Graph g, Node n)
    {
        if (n.OpType == "Relu") return (0f, float.PositiveInfinity);
        if (n.Attributes.ContainsKey("min") || n.Attributes.ContainsKey("max"))
            return (n.GetFloat("min", float.NegativeInfinity), n.GetFloat("max", float.PositiveInfinity));
        float? Bound(int i) => i >= n.Inputs.Count || n.Inputs[i].Length == 0 ? null
            : g.Initializers.TryGetValue(n.Inputs[i], out var t) && t is Tensor<float> { Length: 1 } f ? f.Data[0] : float.NaN;
        float? lo = Bound(1), hi = Bound(2);
        if (lo is float l && float.IsNaN(l) || hi is float h && float.IsNaN(h)) return null;
        return (lo ?? float.NegativeInfinity, hi ?? float.PositiveInfinity);
    }

    /// <summary>Stores float Conv biases as int32 + DequantizeLinear (see the type's remarks); returns how many.</summary>
    public static int QuantizeConvBiases(Graph g)
    {
        int count = 0;
        foreach (var conv in g.Nodes.Where(n => n.OpType == "Conv" && n.Domain.Length == 0 && n.Inputs.Count > 2 && n.Inputs[2].Length > 0).ToList())
        {
            if (!g.Initializers.TryGetValue(conv.Inputs[2], out var bt) || bt is not Tensor<float> { Rank: 1 } bias) continue;
            var x = g.Producer(conv.Inputs[0]);
            var w = g.Producer(conv.Inputs[1]);
            if (x is not { OpType: "DequantizeLinear" } || w is not { OpType: "DequantizeLinear" }) continue;
            var xp = QdqParams.Of(g, x, quantize: false);
            var wp = QdqParams.Of(g, w, quantize: false);
            if (xp is null || wp is null || !xp.PerTensor) continue;
            if (!wp.PerTensor && (wp.Axis != 0 || wp.Scales.Length != bias.Length)) continue;
            var (scales, levels) = OrtBiasQuantization.Quantize(bias.Data, xp, wp);
            string baseName = conv.Inputs[2];
            // The dequantized bias keeps the float initializer's name (every tensor name survives the export).
            if (g.IsOutput(baseName) || g.Nodes.Count(n => n.Inputs.Contains(baseName)) != 1) continue;
            g.Initializers.Remove(baseName);
            string q = g.UniqueName(baseName + "_int32"), s = g.UniqueName(baseName + "_scale"), dq = baseName;
            g.Initializers[q] = new Tensor<int>(levels, [bias.Length]);
            g.Initializers[s] = wp.PerTensor ? Tensor.Scalar(scales[0]) : Tensor.FromArray(scales, scales.Length);
            var node = new Node("DequantizeLinear", [q, s], [dq], (conv.Name.Length > 0 ? conv.Name : baseName) + "_bias_DequantizeLinear");
            if (!wp.PerTensor) node.With("axis", AttributeValue.FromInt(0));
            g.Nodes.Insert(g.Nodes.IndexOf(conv), node);
            count++;
        }
        return count;
    }
}
