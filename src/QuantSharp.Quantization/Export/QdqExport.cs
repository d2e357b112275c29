using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;
using QuantSharp.Engine.Runtime.Quantizers;
using QuantSharp.Onnx.Export;
using QuantSharp.Quantization.Encodings;

namespace QuantSharp.Quantization.Export;

/// <summary>
/// Lowers a simulation graph (quantizers as <see cref="QuantizerNode"/>s) to a standard ONNX QDQ graph that ONNX Runtime
/// and other runtimes execute: each quantizer with an encoding becomes <c>QuantizeLinear</c>→<c>DequantizeLinear</c>.
/// </summary>
/// <remarks>
/// <para>An integer encoding with offset <c>o</c>, scale <c>s</c> and <c>steps</c> levels represents <c>x̂ = k·s</c> for the
/// levels <c>k = o .. o + steps</c>. It is stored in an ONNX integer type as <c>c = k + zp</c>
/// (ONNX: <c>c = saturate(round(x/s) + zp)</c>, <c>x̂ = (c − zp)·s</c>):</para>
/// <list type="bullet">
/// <item>symmetric with the same negative offset in every channel: a signed type with <c>zp = 0</c> (int8 for 8-bit:
/// levels −128..127, or −127..127 when strict);</item>
/// <item>otherwise (asymmetric, or unsigned symmetric): an unsigned type with <c>zp = −o</c> (levels 0..steps).</item>
/// </list>
/// <para>The type has the encoding's bit-width when ONNX has one: 8 → int8/uint8, 16 → int16/uint16 and 4 → int4/uint4
/// (both raising the opset to 21). Other widths use the next container (2–7 bits → 8, 9–15 → 16) and, since ONNX
/// saturates to the container's range rather than the encoding's, a <c>Clip</c> to the encoding's [min, max] goes before
/// <c>QuantizeLinear</c> (likewise for strict symmetric encodings, whose lowest signed level is unused) so the result equals
/// the simulation. Per-channel encodings quantize along their axis (<c>axis</c> attribute, opset ≥ 13); per-block encodings
/// become opset-21 blocked <c>DequantizeLinear</c> (<see cref="BlockedQdq"/>), or with <see cref="QdqOptions.MatMulNBits"/>
/// a 4-bit MatMul weight becomes <c>com.microsoft.MatMulNBits</c> (<see cref="MatMulNBitsLowering"/>).</para>
/// <para>A quantizer reading an initializer is, by default (<see cref="QdqOptions.QuantizeWeights"/>), folded: the
/// initializer is stored as integers <c>c = clamp(round(w/s) + zp, o + zp, o + steps + zp)</c> followed by
/// <c>DequantizeLinear</c> alone, and the float initializer is dropped when nothing else reads it; a 17–32-bit signed
/// symmetric parameter encoding (a quantized bias) is stored the same way as int32 with no zero point. A 16-bit float encoding
/// becomes <c>Cast</c> to float16 and back; a 32-bit float encoding and a quantizer whose encoding is null (disabled) are
/// removed. Every quantizer's output keeps its name, so graph inputs, outputs and every other tensor keep theirs — except
/// the output of a Relu/Clip that the quantizer after it makes exactly redundant: with <see cref="QdqOptions.FusionFriendly"/>
/// (the default) it is dropped so ONNX Runtime fuses the op before it into an integer kernel, and the dequantized input of a
/// Flatten feeding a Gemm/MatMul, which becomes Flatten on the integer levels followed by DequantizeLinear (<see cref="QdqPlacement"/>).</para>
/// </remarks>
public static class QdqExport
{
    private const int Float16Code = 10, FloatCode = 1;

    /// <summary>
    /// A new graph in which every quantizer node of <paramref name="simGraph"/> is lowered with the encoding
    /// <paramref name="encodingOf"/> gives for its quantizer name (see the type's remarks); <paramref name="simGraph"/> is not modified.
    /// </summary>
    /// <exception cref="NotSupportedException">An encoding has no ONNX form (integer bit-width above 16, or a per-channel
    /// activation encoding that needs a clip on a tensor of unknown rank); the message names the quantizer.</exception>
    public static Graph Lower(Graph simGraph, Func<string, Encoding?> encodingOf, QdqOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(simGraph);
        ArgumentNullException.ThrowIfNull(encodingOf);
        options ??= new QdqOptions();
        var g = simGraph.Clone();
        if (options.MatMulNBits) MatMulNBitsLowering.Apply(g, encodingOf);
        long required = LowerQuantizers(g, encodingOf, options);
        // Quantizers inside If branches and Loop/Scan bodies are lowered where they sit.
        foreach (var (_, _, sub) in g.Subgraphs().ToList()) required = Math.Max(required, LowerQuantizers(sub, encodingOf, options));
        if (required > 0) OpsetUpgrade.Raise(g, required);
        if (options.FusionFriendly)
        {
            QdqPlacement.Apply(g, options.Int32Biases);
            foreach (var (_, _, sub) in g.Subgraphs().ToList()) QdqPlacement.Apply(sub, options.Int32Biases);
        }
        // ONNX Runtime refuses a model in which two nodes share a name (some exporters leave repeats).
        g.EnsureUniqueNodeNames();
        foreach (var (_, _, sub) in g.Subgraphs().ToList()) sub.EnsureUniqueNodeNames();
        if (!g.Nodes.Any(n => n.Domain == QuantizerNode.Domain)) g.Opsets.Remove(QuantizerNode.Domain);
        return g;
    }

    /// <summary>Lowers the quantizer nodes of <paramref name="g"/> (not of its subgraphs) in place; returns the opset they need.</summary>
    private static long LowerQuantizers(Graph g, Func<string, Encoding?> encodingOf, QdqOptions options)
    {
        long required = 0;
        // Replacements are spliced in with one pass over the node list at the end (linear in the graph size).
        var replacements = new Dictionary<Node, List<Node>>(ReferenceEqualityComparer.Instance);
        var replacedInputs = new List<string>();
        foreach (var q in g.Nodes.Where(QuantizerNode.Is).ToList())
        {
            string name = QuantizerNode.QuantizerName(q);
            var enc = encodingOf(name);
            if (enc is null || enc is { DataType: EncodingDataType.Float, BitWidth: 32 })
            {
                g.Bypass(q);
                continue;
            }
            List<Node> replacement;
            if (enc.DataType == EncodingDataType.Float)
                replacement = CastThroughFloat16(g, q, name);
            else if (enc.IsPerBlock)
            {
                replacement = BlockedQdq.Lower(g, q, name, enc, options);
                required = Math.Max(required, BlockedQdq.Opset);
            }
            else if (enc.BitWidth > 16 && options.QuantizeWeights && g.Initializers.TryGetValue(q.Inputs[0], out var p32)
                && p32 is Tensor<float> param32 && IsSignedSymmetric(enc))
                replacement = StoreInt32(g, q, name, enc, param32);
            else
            {
                var c = Container.For(name, enc);
                required = Math.Max(required, c.Opset);
                string input = q.Inputs[0];
                replacement = options.QuantizeWeights && g.Initializers.TryGetValue(input, out var w) && w is Tensor<float> weight
                    ? StoreQuantized(g, q, name, enc, c, weight)
                    : QuantizeDequantize(g, q, name, enc, c);
            }
            replacements[q] = replacement;
            replacedInputs.Add(q.Inputs[0]);
        }
        var order = new List<Node>(g.Nodes.Count + 2 * replacements.Count);
        foreach (var n in g.Nodes)
            if (replacements.TryGetValue(n, out var r)) order.AddRange(r);
            else order.Add(n);
        g.Nodes.Clear();
        g.Nodes.AddRange(order);
        foreach (var v in replacedInputs) RemoveIfUnused(g, v);
        return required;
    }

    /// <summary>Lowers <paramref name="simGraph"/> (<see cref="Lower"/>) and writes it to <paramref name="path"/> as ONNX, atomically.</summary>
    public static void Save(Graph simGraph, Func<string, Encoding?> encodingOf, string path, QdqOptions? options = null)
    {
        var lowered = Lower(simGraph, encodingOf, options);
        OnnxExporter.FromGraph(lowered).Save(path); // OnnxModel.Save writes atomically
    }

    /// <summary>The integer type an encoding is stored in, its zero points and whether a clip must precede QuantizeLinear.</summary>
    private sealed record Container(DataType Type, int Bits, bool Signed, int[] ZeroPoint, int Lowest, int Highest, bool NeedsClip, long Opset)
    {
        public static Container For(string name, Encoding e)
        {
            int bw = e.BitWidth;
            if (bw > 16)
                throw new NotSupportedException($"QdqExport: quantizer '{name}': a {bw}-bit integer encoding has no ONNX QuantizeLinear type "
                    + "(expected 2..16 bits; 17..32-bit signed symmetric parameters are stored as int32 when weights are stored quantized)");
            int bits = bw == 4 ? 4 : bw <= 8 ? 8 : 16;
            long o0 = e.Offsets[0];
            bool signed = e.Symmetric && o0 < 0 && e.Offsets.All(o => o == o0);
            var zp = new int[e.Channels];
            if (!signed) for (int c = 0; c < zp.Length; c++) zp[c] = (int)-e.Offsets[c];
            // Container levels c = k + zp of the encoding's levels k = offset .. offset + steps (the same for every channel).
            int lowest = signed ? (int)o0 : 0;
            int highest = lowest + (int)e.Steps;
            int typeLo = signed ? -(1 << (bits - 1)) : 0, typeHi = signed ? (1 << (bits - 1)) - 1 : (1 << bits) - 1;
            var type = (bits, signed) switch
            {
                (4, true) => DataType.Int4, (4, false) => DataType.UInt4,
                (8, true) => DataType.Int8, (8, false) => DataType.UInt8,
                (16, true) => DataType.Int16, _ => DataType.UInt16,
            };
            long opset = bits is 4 or 16 ? 21 : e.IsPerChannel ? 13 : 10;
            return new Container(type, bits, signed, zp, lowest, highest, lowest > typeLo || highest < typeHi, opset);
        }

        public QuantParams Params(Encoding e) =>
            new(e.Scales.Select(s => (float)s).ToArray(), ZeroPoint, Lowest, Highest, e.Axis);

        public Tensor ZeroPointTensor(bool perAxis)
        {
            int[] shape = perAxis ? [ZeroPoint.Length] : [];
            return Type switch
            {
                DataType.Int8 or DataType.Int4 => Typed(new Tensor<sbyte>(ZeroPoint.Select(z => (sbyte)z).ToArray(), shape)),
                DataType.UInt8 or DataType.UInt4 => Typed(new Tensor<byte>(ZeroPoint.Select(z => (byte)z).ToArray(), shape)),
                DataType.Int16 => new Tensor<short>(ZeroPoint.Select(z => (short)z).ToArray(), shape),
                _ => new Tensor<ushort>(ZeroPoint.Select(z => (ushort)z).ToArray(), shape),
            };
        }

        public Tensor Quantize(Tensor<float> w, QuantParams p) => Type switch
        {
            DataType.Int8 or DataType.Int4 => Typed(QuantizeKernels.Quantize<sbyte>(w, p)),
            DataType.UInt8 or DataType.UInt4 => Typed(QuantizeKernels.Quantize<byte>(w, p)),
            DataType.Int16 => QuantizeKernels.Quantize<short>(w, p),
            _ => QuantizeKernels.Quantize<ushort>(w, p),
        };

        private Tensor Typed<T>(Tensor<T> t) where T : unmanaged => Bits == 4 ? t.AsElementType(Type) : t;
    }

    /// <summary>Scale and zero-point initializers of a quantizer (scalars per tensor, 1-D per channel).</summary>
    private static (string Scale, string ZeroPoint) AddParams(Graph g, string baseName, Encoding e, Container c)
    {
        string scale = g.UniqueName(baseName + "_scale");
        var scales = e.Scales.Select(s => (float)s).ToArray();
        g.Initializers[scale] = e.IsPerChannel ? Tensor.FromArray(scales, scales.Length) : Tensor.Scalar(scales[0]);
        string zp = g.UniqueName(baseName + "_zero_point");
        g.Initializers[zp] = c.ZeroPointTensor(e.IsPerChannel);
        return (scale, zp);
    }

    private static Node Dequantize(string name, string q, string scale, string zp, string output, Encoding e)
    {
        var n = new Node("DequantizeLinear", [q, scale, zp], [output], name + "_DequantizeLinear");
        return e.Axis is int axis ? n.With("axis", AttributeValue.FromInt(axis)) : n;
    }

    private static List<Node> StoreQuantized(Graph g, Node q, string name, Encoding e, Container c, Tensor<float> weight)
    {
        string wq = g.UniqueName(q.Inputs[0] + "_int" + c.Bits);
        g.Initializers[wq] = c.Quantize(weight, c.Params(e));
        var (scale, zp) = AddParams(g, q.Inputs[0], e, c);
        return [Dequantize(name, wq, scale, zp, q.Outputs[0], e)];
    }

    private static bool IsSignedSymmetric(Encoding e) => e.Symmetric && e.Offsets[0] < 0 && e.Offsets.All(o => o == e.Offsets[0]);

    /// <summary>
    /// A 17–32-bit signed symmetric parameter (typically a bias) as an int32 initializer and <c>DequantizeLinear</c> with no
    /// zero point: <c>c = clamp(round(w/s), offset, offset + steps)</c> in double, <c>ŵ = c·s</c>.
    /// </summary>
    private static List<Node> StoreInt32(Graph g, Node q, string name, Encoding e, Tensor<float> weight)
    {
        var scales = e.Scales.Select(s => (float)s).ToArray();
        int channels = scales.Length, axis = e.Axis ?? 0;
        if (axis < 0) axis += weight.Rank;
        int inner = 1;
        for (int d = axis + 1; d < weight.Rank; d++) inner *= weight.Dims[d];
        long lo = e.Offsets[0], hi = lo + e.Steps;
        var data = new int[weight.Length];
        for (int i = 0; i < data.Length; i++)
        {
            int c = channels == 1 ? 0 : i / inner % channels;
            double level = Math.Round(weight.Data[i] / (double)scales[c], MidpointRounding.ToEven);
            data[i] = (int)Math.Clamp(level, lo, hi);
        }
        string wq = g.UniqueName(q.Inputs[0] + "_int32");
        g.Initializers[wq] = new Tensor<int>(data, weight.Shape);
        string scale = g.UniqueName(q.Inputs[0] + "_scale");
        g.Initializers[scale] = e.IsPerChannel ? Tensor.FromArray(scales, channels) : Tensor.Scalar(scales[0]);
        var dq = new Node("DequantizeLinear", [wq, scale], [q.Outputs[0]], name + "_DequantizeLinear");
        if (e.Axis is int a) dq.With("axis", AttributeValue.FromInt(a));
        return [dq];
    }

    private static List<Node> QuantizeDequantize(Graph g, Node q, string name, Encoding e, Container c)
    {
        var nodes = new List<Node>();
        string x = q.Inputs[0];
        if (c.NeedsClip) x = AddClip(g, q, name, e, nodes);
        var (scale, zp) = AddParams(g, name, e, c);
        string quantized = g.UniqueName(q.Outputs[0] + "_" + c.Type.ToString().ToLowerInvariant());
        var quantize = new Node("QuantizeLinear", [x, scale, zp], [quantized], name + "_QuantizeLinear");
        if (e.Axis is int axis) quantize.With("axis", AttributeValue.FromInt(axis));
        nodes.Add(quantize);
        nodes.Add(Dequantize(name, quantized, scale, zp, q.Outputs[0], e));
        return nodes;
    }

    /// <summary>
    /// Clips the input to the encoding's [min, max]: <c>Clip</c> with scalar bounds per tensor; per channel,
    /// <c>Max(Min(x, max), min)</c> with bounds shaped to broadcast along the axis (needs the input's rank).
    /// </summary>
    private static string AddClip(Graph g, Node q, string name, Encoding e, List<Node> nodes)
    {
        string x = q.Inputs[0];
        string clipped = g.UniqueName(x + "_clipped");
        string lo = g.UniqueName(name + "_clip_min"), hi = g.UniqueName(name + "_clip_max");
        if (!e.IsPerChannel)
        {
            g.Initializers[lo] = Tensor.Scalar((float)e.Min);
            g.Initializers[hi] = Tensor.Scalar((float)e.Max);
            nodes.Add(new Node("Clip", [x, lo, hi], [clipped], name + "_Clip"));
            return clipped;
        }
        int rank = RankOf(g, x) ?? throw new NotSupportedException(
            $"QdqExport: quantizer '{name}': a per-channel {e.BitWidth}-bit encoding needs a clip along axis {e.Axis}, but the rank of '{x}' is unknown (declare its shape in the graph's value infos)");
        int axis = e.Axis!.Value < 0 ? e.Axis.Value + rank : e.Axis.Value;
        var shape = Enumerable.Repeat(1, rank).ToArray();
        shape[axis] = e.Channels;
        g.Initializers[lo] = new Tensor<float>(e.Mins.Select(v => (float)v).ToArray(), shape);
        g.Initializers[hi] = new Tensor<float>(e.Maxs.Select(v => (float)v).ToArray(), shape);
        string upper = g.UniqueName(x + "_clipped_max");
        nodes.Add(new Node("Min", [x, hi], [upper], name + "_ClipMax"));
        nodes.Add(new Node("Max", [upper, lo], [clipped], name + "_ClipMin"));
        return clipped;
    }

    private static int? RankOf(Graph g, string value)
    {
        if (g.Initializers.TryGetValue(value, out var t)) return t.Rank;
        var info = g.Inputs.Concat(g.ValueInfos).Concat(g.Outputs).FirstOrDefault(v => v.Name == value);
        return info?.Shape?.Length;
    }

    private static List<Node> CastThroughFloat16(Graph g, Node q, string name)
    {
        string half = g.UniqueName(q.Outputs[0] + "_float16");
        return
        [
            new Node("Cast", [q.Inputs[0]], [half], name + "_CastToFloat16").With("to", AttributeValue.FromInt(Float16Code)),
            new Node("Cast", [half], [q.Outputs[0]], name + "_CastToFloat").With("to", AttributeValue.FromInt(FloatCode)),
        ];
    }

    private static void RemoveIfUnused(Graph g, string value)
    {
        if (!g.Initializers.ContainsKey(value) || g.IsOutput(value) || g.IsInput(value)) return;
        if (g.Consumers(value).Count > 0) return;
        g.Initializers.Remove(value);
    }
}
