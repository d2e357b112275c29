using QuantSharp.Engine;

namespace QuantSharp.Quantization.Export;

/// <summary>
/// Lowers a QDQ graph to the integer operators ONNX Runtime's CPU provider fuses it into at <c>ORT_ENABLE_ALL</c>, so that
/// running the result in QuantSharp's engine computes what ONNX Runtime computes, bit for bit on every quantized tensor
/// (the integer contract, DESIGN.md). A node group DQ inputs → op → QuantizeLinear becomes:
/// <list type="bullet">
/// <item>Conv → <c>QLinearConv</c> (input per tensor, weight per tensor or per output channel; a bias as its int32 levels,
/// or a float bias quantized as ONNX Runtime's bias pass does, see <see cref="QdqPlacement"/>);</item>
/// <item>MatMul → <c>QLinearMatMul</c>, or <c>com.microsoft.MatMulIntegerToFloat</c> when its output stays float;</item>
/// <item>Softmax → <c>com.microsoft.QLinearSoftmax</c>;</item>
/// <item>Gemm → <c>com.microsoft.QGemm</c> (quantized or float output);</item>
/// <item>Add, Mul → <c>com.microsoft.QLinearAdd</c> / <c>QLinearMul</c>;</item>
/// <item>GlobalAveragePool, Sigmoid, LeakyRelu → <c>com.microsoft.QLinearGlobalAveragePool</c> / <c>QLinearSigmoid</c> /
/// <c>QLinearLeakyRelu</c>.</item>
/// </list>
/// A group qualifies as ONNX Runtime's selectors require: every data input comes from a DequantizeLinear with constant 8-bit
/// parameters (per tensor, except the weight), the op's output is read only by one QuantizeLinear of the same 8-bit type as
/// the input and is not a graph output. Everything else stays as written (the float path ONNX Runtime runs too).
/// Quantize/Dequantize nodes left without readers are removed. Before matching, the quantization of a DequantizeLinear
/// feeding a data-movement op or MaxPool is repeated after it (as ONNX Runtime's QDQ propagation does).
/// </summary>
public static class IntegerLowering
{
    /// <summary>The contrib domain of ONNX Runtime's quantized operators.</summary>
    public const string ContribDomain = "com.microsoft";

    /// <summary>A lowered copy of <paramref name="qdq"/> (which is not modified); subgraphs are lowered too.</summary>
    public static Graph Lower(Graph qdq)
    {
        ArgumentNullException.ThrowIfNull(qdq);
        var g = qdq.Clone();
        AsEightBit(g);
        foreach (var (_, _, sub) in g.Subgraphs().ToList()) AsEightBit(sub);
        // ONNX Runtime removes a Relu/Clip before a QuantizeLinear that saturates where it clamps (exactly for Relu; for
        // Clip within 1.2e-7, which the export's exact rule covers) before it fuses.
        QdqPlacement.DropRedundantClamps(g);
        foreach (var (_, _, sub) in g.Subgraphs().ToList()) QdqPlacement.DropRedundantClamps(sub);
        PropagateThroughDataMovement(g);
        foreach (var (_, _, sub) in g.Subgraphs().ToList()) PropagateThroughDataMovement(sub);
        int fused = LowerIn(g);
        foreach (var (_, _, sub) in g.Subgraphs().ToList()) fused += LowerIn(sub);
        if (fused > 0) g.Opsets[ContribDomain] = 1;
        return g;
    }

    /// <summary>
    /// 4-bit initializers read as the 8-bit levels they hold, as the lowering has always matched them: ONNX Runtime's fused
    /// kernels compute 4-bit weights with the 8-bit ones (the values are the same), and the selectors here are 8-bit.
    /// </summary>
    private static void AsEightBit(Graph g)
    {
        foreach (var (name, t) in g.Initializers.ToList())
            g.Initializers[name] = t switch
            {
                Tensor<sbyte> { DataType: DataType.Int4 } s => s.AsElementType(DataType.Int8),
                Tensor<byte> { DataType: DataType.UInt4 } u => u.AsElementType(DataType.UInt8),
                _ => t,
            };
    }

    private static int LowerIn(Graph g)
    {
        int fused = 0;
        foreach (var node in g.Nodes.Where(n => n.Domain.Length == 0).ToList())
        {
            Node? replacement = node.OpType switch
            {
                "Conv" => Conv(g, node),
                "MatMul" => Binary(g, node, "QLinearMatMul", "", weightAxisAllowed: true) ?? MatMulToFloat(g, node),
                "Softmax" => Softmax(g, node),
                "Gemm" => Gemm(g, node),
                "Add" => Binary(g, node, "QLinearAdd", ContribDomain, weightAxisAllowed: false),
                "Mul" => Binary(g, node, "QLinearMul", ContribDomain, weightAxisAllowed: false),
                "GlobalAveragePool" => Unary(g, node, "QLinearGlobalAveragePool"),
                "Sigmoid" => Unary(g, node, "QLinearSigmoid"),
                "LeakyRelu" => Unary(g, node, "QLinearLeakyRelu"),
                _ => null,
            };
            if (replacement is null) continue;
            // The fused operator produces the QuantizeLinear's output itself: the quantizer goes.
            var readers = g.Consumers(node.Outputs[0]);
            if (readers.Count == 1 && readers[0].Node.OpType == "QuantizeLinear" && readers[0].Node.Outputs[0] == replacement.Outputs[0])
                g.Nodes.Remove(readers[0].Node);
            g.Nodes[g.Nodes.IndexOf(node)] = replacement;
            fused++;
        }
        if (fused > 0) RemoveDeadQdq(g);
        return fused;
    }

    /// <summary>The QuantizeLinear that alone reads the op's output, with 8-bit per-tensor parameters; null otherwise.</summary>
    private static (Node Q, QdqParams P)? OutputQuantizer(Graph g, Node node)
    {
        if (node.Outputs.Count != 1 || g.IsOutput(node.Outputs[0])) return null;
        var readers = g.Consumers(node.Outputs[0]);
        if (readers.Count != 1 || readers[0].Node.OpType != "QuantizeLinear" || readers[0].Node.Domain.Length != 0) return null;
        var q = readers[0].Node;
        var p = QdqParams.Of(g, q, quantize: true);
        return p is { PerTensor: true } && Is8Bit(p.Type) ? (q, p) : null;
    }

    /// <summary>The DequantizeLinear producing input <paramref name="index"/>, with 8-bit constant parameters; null otherwise.</summary>
    private static (Node Dq, QdqParams P)? InputDequantizer(Graph g, Node node, int index, bool perTensor)
    {
        if (index >= node.Inputs.Count || node.Inputs[index].Length == 0) return null;
        var dq = g.Producer(node.Inputs[index]);
        if (dq is not { OpType: "DequantizeLinear" } || dq.Domain.Length != 0 || g.IsOutput(dq.Outputs[0])) return null;
        var p = QdqParams.Of(g, dq, quantize: false);
        if (p is null || !Is8Bit(p.Type) || perTensor && !p.PerTensor) return null;
        if (!g.Initializers.ContainsKey(dq.Inputs[0]) && TypeOf(g, dq.Inputs[0]) is { } t && t != p.Type) return null;
        return (dq, p);
    }

    private static DataType? TypeOf(Graph g, string value)
    {
        var producer = g.Producer(value);
        return producer is { OpType: "QuantizeLinear" } ? QdqParams.Of(g, producer, quantize: true)?.Type : null;
    }

    private static bool Is8Bit(DataType t) => t is DataType.UInt8 or DataType.Int8;

    private static Node? Conv(Graph g, Node conv)
    {
        var outQ = OutputQuantizer(g, conv);
        var x = InputDequantizer(g, conv, 0, perTensor: true);
        var w = InputDequantizer(g, conv, 1, perTensor: false);
        if (outQ is null || x is null || w is null || outQ.Value.P.Type != x.Value.P.Type) return null;
        if (!w.Value.P.PerTensor && (w.Value.P.Axis ?? 1) != 0) return null;
        string? bias = null;
        if (conv.Inputs.Count > 2 && conv.Inputs[2].Length > 0)
        {
            bias = BiasLevels(g, conv, x.Value.P, w.Value.P);
            if (bias is null) return null;
        }
        var (q, yp) = outQ.Value;
        List<string> inputs =
        [
            x.Value.Dq.Inputs[0], x.Value.Dq.Inputs[1], ZeroPoint(g, x.Value.Dq, x.Value.P),
            w.Value.Dq.Inputs[0], w.Value.Dq.Inputs[1], ZeroPoint(g, w.Value.Dq, w.Value.P),
            q.Inputs[1], ZeroPoint(g, q, yp),
        ];
        if (bias is not null) inputs.Add(bias);
        var fused = new Node("QLinearConv", inputs, [q.Outputs[0]], conv.Name);
        foreach (var (k, v) in conv.Attributes) fused.Attributes[k] = v;
        return fused;
    }

    /// <summary>
    /// The int32 bias a fused Conv reads: the levels of a DequantizeLinear(int32) as they are, or a float initializer quantized
    /// as ONNX Runtime's bias pass does (<c>round(b / (x_scale·w_scale))</c>, float32, half to even).
    /// </summary>
    private static string? BiasLevels(Graph g, Node conv, QdqParams x, QdqParams w)
    {
        string b = conv.Inputs[2];
        if (g.Producer(b) is { OpType: "DequantizeLinear" } dq)
            return g.Initializers.TryGetValue(dq.Inputs[0], out var t) && t is Tensor<int> { Rank: 1 } ? dq.Inputs[0] : null;
        if (!g.Initializers.TryGetValue(b, out var ft) || ft is not Tensor<float> { Rank: 1 } bias) return null;
        if (!w.PerTensor && w.Scales.Length != bias.Length) return null;
        var (_, levels) = OrtBiasQuantization.Quantize(bias.Data, x, w);
        string name = g.UniqueName(b + "_int32");
        g.Initializers[name] = new Tensor<int>(levels, [bias.Length]);
        return name;
    }

    private static Node? Binary(Graph g, Node node, string op, string domain, bool weightAxisAllowed)
    {
        if (node.Inputs.Count != 2) return null;
        var outQ = OutputQuantizer(g, node);
        var a = InputDequantizer(g, node, 0, perTensor: true);
        var b = InputDequantizer(g, node, 1, perTensor: !weightAxisAllowed);
        if (outQ is null || a is null || b is null) return null;
        var (q, yp) = outQ.Value;
        if (yp.Type != a.Value.P.Type) return null;
        if (domain.Length > 0 && b.Value.P.Type != a.Value.P.Type) return null;
        if (!b.Value.P.PerTensor)
        {
            // QLinearMatMul takes a per-column scale for a 2-D weight: one per output column (axis 1 or −1).
            if (!g.Initializers.TryGetValue(b.Value.Dq.Inputs[0], out var bw) || bw.Rank != 2 || b.Value.P.Axis is not (1 or -1)) return null;
        }
        var inputs = new List<string>
        {
            a.Value.Dq.Inputs[0], a.Value.Dq.Inputs[1], ZeroPoint(g, a.Value.Dq, a.Value.P),
            b.Value.Dq.Inputs[0], b.Value.Dq.Inputs[1], ZeroPoint(g, b.Value.Dq, b.Value.P),
            q.Inputs[1], ZeroPoint(g, q, yp),
        };
        return new Node(op, inputs, [q.Outputs[0]], node.Name, domain);
    }

    private static Node? Unary(Graph g, Node node, string op)
    {
        var outQ = OutputQuantizer(g, node);
        var x = InputDequantizer(g, node, 0, perTensor: true);
        if (outQ is null || x is null) return null;
        var (q, yp) = outQ.Value;
        if (yp.Type != x.Value.P.Type) return null;
        var fused = new Node(op, [x.Value.Dq.Inputs[0], x.Value.Dq.Inputs[1], ZeroPoint(g, x.Value.Dq, x.Value.P), q.Inputs[1], ZeroPoint(g, q, yp)],
            [q.Outputs[0]], node.Name, ContribDomain);
        if (node.Attributes.TryGetValue("alpha", out var alpha)) fused.Attributes["alpha"] = alpha;
        return fused;
    }

    /// <summary>
    /// MatMul of two dequantized inputs whose output stays float → <c>com.microsoft.MatMulIntegerToFloat</c> (A per tensor,
    /// uint8; B per tensor or per column), as ONNX Runtime fuses it.
    /// </summary>
    private static Node? MatMulToFloat(Graph g, Node node)
    {
        if (node.Inputs.Count != 2 || OutputQuantizer(g, node) is not null) return null;
        var a = InputDequantizer(g, node, 0, perTensor: true);
        var b = InputDequantizer(g, node, 1, perTensor: false);
        if (a is null || b is null || a.Value.P.Type != DataType.UInt8) return null;
        if (!b.Value.P.PerTensor && (!g.Initializers.TryGetValue(b.Value.Dq.Inputs[0], out var bw) || bw.Rank != 2 || b.Value.P.Axis is not (1 or -1))) return null;
        return new Node("MatMulIntegerToFloat",
            [a.Value.Dq.Inputs[0], b.Value.Dq.Inputs[0], a.Value.Dq.Inputs[1], b.Value.Dq.Inputs[1], ZeroPoint(g, a.Value.Dq, a.Value.P), ZeroPoint(g, b.Value.Dq, b.Value.P)],
            [node.Outputs[0]], node.Name, ContribDomain);
    }

    /// <summary>
    /// Gemm of a dequantized A (per tensor) and B (per tensor or per output column), with an int32 or float (quantized as
    /// ONNX Runtime's bias pass does) bias → <c>com.microsoft.QGemm</c>, requantizing when one QuantizeLinear reads the output.
    /// </summary>
    private static Node? Gemm(Graph g, Node gemm)
    {
        if (gemm.Inputs.Count < 2 || gemm.GetFloat("beta", 1f) != 1f && gemm.Inputs.Count > 2) return null;
        var a = InputDequantizer(g, gemm, 0, perTensor: true);
        var b = InputDequantizer(g, gemm, 1, perTensor: false);
        if (a is null || b is null) return null;
        bool transB = gemm.GetInt("transB", 0) != 0;
        if (!b.Value.P.PerTensor && (b.Value.P.Axis ?? 1) != (transB ? 0 : 1)) return null;
        string? bias = null;
        if (gemm.Inputs.Count > 2 && gemm.Inputs[2].Length > 0)
        {
            bias = BiasLevels(g, gemm, a.Value.P, b.Value.P);
            if (bias is null) return null;
        }
        var outQ = OutputQuantizer(g, gemm);
        if (outQ is not null && outQ.Value.P.Type != a.Value.P.Type) return null;
        var inputs = new List<string>
        {
            a.Value.Dq.Inputs[0], a.Value.Dq.Inputs[1], ZeroPoint(g, a.Value.Dq, a.Value.P),
            b.Value.Dq.Inputs[0], b.Value.Dq.Inputs[1], ZeroPoint(g, b.Value.Dq, b.Value.P),
            bias ?? "",
        };
        string output = gemm.Outputs[0];
        if (outQ is { } q)
        {
            inputs.Add(q.Q.Inputs[1]);
            inputs.Add(ZeroPoint(g, q.Q, q.P));
            output = q.Q.Outputs[0];
        }
        var fused = new Node("QGemm", inputs, [output], gemm.Name, ContribDomain);
        foreach (var key in new[] { "transA", "transB", "alpha" })
            if (gemm.Attributes.TryGetValue(key, out var v)) fused.Attributes[key] = v;
        return fused;
    }

    /// <summary>Softmax between DQ and Q → <c>com.microsoft.QLinearSoftmax</c> with the Softmax's axis and opset.</summary>
    private static Node? Softmax(Graph g, Node node)
    {
        var fused = Unary(g, node, "QLinearSoftmax");
        if (fused is null) return null;
        fused.Attributes["opset"] = AttributeValue.FromInt(g.Opsets.TryGetValue("", out long v) ? v : 13);
        if (node.Attributes.TryGetValue("axis", out var axis)) fused.Attributes["axis"] = axis;
        return fused;
    }

    /// <summary>
    /// A data-movement op or MaxPool (Transpose, Reshape, Squeeze, Unsqueeze, MaxPool; not Flatten, which ONNX Runtime 1.32
    /// leaves alone — the export moves DequantizeLinear past it instead, see <see cref="QdqPlacement"/>) reading a per-tensor
    /// DequantizeLinear, whose output no QuantizeLinear reads, gets a copy of that quantization after it (Q → DQ with the
    /// same parameters) — exactly equivalent, since the op only picks dequantized values, and what ONNX Runtime's QDQ
    /// propagation does: the ops reading it then see a DequantizeLinear and fuse (ReLU → MaxPool → Conv, DQ → Transpose → MatMul).
    /// </summary>
    private static void PropagateThroughDataMovement(Graph g)
    {
        foreach (var node in g.Nodes.Where(n => n.Domain.Length == 0 && n.OpType is "Transpose" or "Reshape" or "Squeeze" or "Unsqueeze" or "MaxPool").ToList())
        {
            if (node.Outputs.Count != 1 || g.IsOutput(node.Outputs[0]) || node.Inputs.Count == 0) continue;
            var readers = g.Consumers(node.Outputs[0]);
            if (readers.Count == 0 || readers.Any(c => c.Node.OpType == "QuantizeLinear")) continue;
            if (g.Producer(node.Inputs[0]) is not { OpType: "DequantizeLinear" } dq || dq.Domain.Length != 0) continue;
            var p = QdqParams.Of(g, dq, quantize: false);
            if (p is null || !p.PerTensor || !Is8Bit(p.Type)) continue;
            string picked = g.UniqueName(node.Outputs[0] + "_picked"), levels = g.UniqueName(node.Outputs[0] + "_levels");
            string output = node.Outputs[0];
            node.Outputs[0] = picked;
            int at = g.Nodes.IndexOf(node);
            g.Nodes.Insert(at + 1, new Node("QuantizeLinear", [picked, .. dq.Inputs.Skip(1)], [levels], node.Name + "_propagated_QuantizeLinear"));
            g.Nodes.Insert(at + 2, new Node("DequantizeLinear", [levels, .. dq.Inputs.Skip(1)], [output], node.Name + "_propagated_DequantizeLinear"));
        }
    }

    /// <summary>The zero-point input of a Q/DQ node, or a new zero initializer of its type when it has none.</summary>
    private static string ZeroPoint(Graph g, Node qdq, QdqParams p)
    {
        if (qdq.Inputs.Count > 2 && qdq.Inputs[2].Length > 0) return qdq.Inputs[2];
        string name = g.UniqueName(qdq.Inputs[1] + "_zero_point");
        int[] shape = p.PerTensor ? [] : [p.Scales.Length];
        g.Initializers[name] = p.Type == DataType.Int8 ? new Tensor<sbyte>(shape) : new Tensor<byte>(shape);
        return name;
    }

    private static void RemoveDeadQdq(Graph g)
    {
        // Values read inside If/Loop/Scan bodies are not among the graph's own consumers.
        var readBySubgraphs = new HashSet<string>(g.Nodes.SelectMany(Graph.OuterValues), StringComparer.Ordinal);
        bool changed = true;
        while (changed)
        {
            changed = false;
            foreach (var n in g.Nodes.Where(n => n.OpType is "QuantizeLinear" or "DequantizeLinear" && n.Domain.Length == 0).ToList())
            {
                if (n.Outputs.Any(o => g.IsOutput(o) || g.Consumers(o).Count > 0 || readBySubgraphs.Contains(o))) continue;
                g.Nodes.Remove(n);
                changed = true;
            }
        }
        g.RemoveUnusedInitializers();
    }
}
