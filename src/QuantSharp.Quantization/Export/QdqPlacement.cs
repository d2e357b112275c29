using QuantSharp.Engine;

namespace QuantSharp.Quantization.Export;

/// <summary>
/// Rewrites of a lowered QDQ graph that let ONNX Runtime (and other QDQ runtimes) fuse every quantized Conv and Gemm into an
/// integer kernel, without changing any value the graph computes beyond what the fusion itself defines:
/// <list type="bullet">
/// <item>DQ → Flatten → Gemm/MatMul becomes Flatten on the integer levels → DQ (<see cref="MoveDequantizeAfterFlatten"/>);</item>
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
        return (DropRedundantClamps(g), int32Biases ? QuantizeConvBiases(g) : 0);
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
