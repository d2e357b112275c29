using QuantSharp.Engine;
using QuantSharp.Engine.Runtime.Quantizers;
using QuantSharp.Onnx.Export;
using QuantSharp.Quantization.Encodings;
using QuantSharp.Quantization.Modules;
using QuantSharp.Quantization.Quantizers;

namespace QuantSharp.Quantization.Export;

/// <summary>
/// Exports a graph quantized with pytorch-quantization's quant modules (<see cref="QuantModules.Initialize"/>,
/// <see cref="QuantizedGraph.AddQuantizer"/>) as standard ONNX <c>QuantizeLinear</c>/<c>DequantizeLinear</c>, as
/// pytorch-quantization's ONNX export does: <c>scale = amax / maxBound</c> (amax/127 at 8 bits signed,
/// amax/(2^n − 1) unsigned), zero point 0, and <c>axis</c> for a per-channel quantizer.
/// </summary>
/// <remarks>
/// <para>Each quantizer becomes the <see cref="Encoding"/> of <see cref="Encoding.FromAmax(double, int, bool, bool)"/>
/// (<see cref="EncodingOf(TensorQuantizer, int?)"/>) and is lowered by <see cref="QdqExport.Lower"/>: a weight is stored as integers followed by
/// <c>DequantizeLinear</c>; a narrow range (levels −127..127) or a bit width with no ONNX type of its own gets a clip to
/// the quantizer's levels first, so ONNX Runtime's result equals the fake-quant forward up to float rounding (both round
/// half to even). A quantizer with clipping enabled gets a <c>Clip</c> to its current bounds before quantization.</para>
/// <para>A disabled quantizer, or one with quantization disabled, is removed (pass-through). A slice whose amax is at most
/// <see cref="TensorQuant.ZeroAmaxThreshold"/> (quantized to 0 by the module) is written with that amax, so its values
/// come out within 2^−24 of 0 (exactly 0 for a weight that is all zero, the usual case).</para>
/// <para>An FP8 quantizer (per tensor or per channel) becomes QuantizeLinear/DequantizeLinear over FLOAT8E4M3FN (E4M3,
/// <c>y_scale = amax / 448</c>) or FLOAT8E5M2 (E5M2, <c>y_scale = amax / 57344</c>), raising the opset to 19
/// (<see cref="Float8Lowering"/>).</para>
/// <para>A weight quantizer with no amax (dynamic) gets the amax the module computes from the weight. Not exportable (an
/// error naming the quantizer): real (integer-output) quantizers, dynamic amax on an activation or on a quantizer shared by
/// several weights (an LSTM's W and R), and
/// per-channel amax over more than one axis (ONNX's <c>axis</c> is one axis).</para>
/// </remarks>
public static class QuantModuleExport
{
    /// <summary>The lowered ONNX graph (see the type's remarks); <paramref name="model"/> is not modified.</summary>
    /// <exception cref="NotSupportedException">A quantizer with no QDQ form; the message names it and says why.</exception>
    /// <exception cref="InvalidOperationException">A quantizer's amax is NaN (calibration saw no data).</exception>
    public static Graph Lower(QuantizedGraph model, QdqOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var graph = model.Graph.Clone();
        options ??= new QdqOptions();
        var encodings = new Dictionary<string, Encoding?>(StringComparer.Ordinal);
        bool float8 = false;
        foreach (var node in graph.Nodes.Where(QuantizerNode.Is).ToList())
        {
            string name = QuantizerNode.QuantizerName(node);
            if (!model.Quantizers.TryGetValue(name, out var q))
                throw new NotSupportedException($"QuantModuleExport: quantizer node '{node.Name}' names quantizer '{name}', which the QuantizedGraph does not hold");
            if (!q.IsEnabled) { encodings[name] = null; continue; }
            if (q.IsClipEnabled) InsertClip(graph, node, q);
            var constant = graph.Initializers.GetValueOrDefault(node.Inputs[0]) as Tensor<float>;
            if (q.IsQuantEnabled && q.Descriptor.FloatFormat is not null)
            {
                Float8Lowering.Replace(graph, node, q, constant, options.QuantizeWeights);
                float8 = true;
                continue;
            }
            // One encoding per quantizer: a dynamic amax shared by several weights (an LSTM's W and R) has one per weight.
            if (q.IsQuantEnabled && q.StaticAmax() is null && encodings.ContainsKey(name))
                throw new NotSupportedException($"QuantModuleExport: quantizer '{name}' quantizes several tensors with an amax computed from each " +
                    "(dynamic); QDQ export gives a quantizer one scale (calibrate it or set Amax)");
            encodings[name] = q.IsQuantEnabled ? EncodingOf(q, RankOf(graph, node.Inputs[0]), constant) : null;
        }
        if (float8) OpsetUpgrade.Raise(graph, Float8Lowering.Opset);
        return QdqExport.Lower(graph, n => encodings.GetValueOrDefault(n), options);
    }

    /// <summary>Lowers <paramref name="model"/> (<see cref="Lower"/>) and writes it to <paramref name="path"/> as ONNX, atomically.</summary>
    /// <exception cref="NotSupportedException">A quantizer with no QDQ form.</exception>
    public static void Save(QuantizedGraph model, string path, QdqOptions? options = null) =>
        OnnxExporter.FromGraph(Lower(model, options)).Save(path); // OnnxModel.Save writes atomically

    /// <summary>
    /// The encoding pytorch-quantization's export gives <paramref name="quantizer"/> as it quantizes now (learned, set,
    /// calibrated or clip-derived amax, times scaleAmax): symmetric, zero point 0, scale <c>amax / maxBound</c>, strict
    /// (levels −maxBound..maxBound) when the descriptor's range is narrow.
    /// </summary>
    /// <param name="quantizer">An integer fake quantizer with a static amax (FP8 quantizers have no <see cref="Encoding"/>;
    /// <see cref="Lower"/> writes them as FLOAT8E4M3FN / FLOAT8E5M2 QDQ).</param>
    /// <param name="rank">Rank of the quantized tensor when known, used to make a negative axis non-negative.</param>
    /// <exception cref="NotSupportedException">A real quantizer, an FP8 format, no amax (dynamic), or amax over several axes.</exception>
    public static Encoding EncodingOf(TensorQuantizer quantizer, int? rank = null) => EncodingOf(quantizer, rank, null);

    /// <summary>As the public overload; a quantizer with dynamic amax reading <paramref name="constant"/> (a weight) gets
    /// the amax the module computes from it.</summary>
    private static Encoding EncodingOf(TensorQuantizer quantizer, int? rank, Tensor<float>? constant)
    {
        ArgumentNullException.ThrowIfNull(quantizer);
        var d = quantizer.Descriptor;
        string who = $"QuantModuleExport: quantizer '{quantizer.Name}'";
        if (d.FloatFormat is { } f)
            throw new NotSupportedException($"{who}: {f} quantization has no integer encoding (expected an integer descriptor; QuantModuleExport.Lower writes E4M3 and E5M2 as FLOAT8E4M3FN / FLOAT8E5M2 QDQ)");
        if (!d.FakeQuant)
            throw new NotSupportedException($"{who}: a real quantizer (fakeQuant: false) outputs integer levels, which QuantizeLinear/DequantizeLinear do not; export fake quantizers");
        var amax = quantizer.StaticAmax() ?? (constant is null ? null : quantizer.AmaxFor(constant))
            ?? throw new NotSupportedException($"{who}: amax is computed from each input (dynamic); QDQ export needs a fixed amax (calibrate it or set Amax)");
        var values = amax.Select(a => (double)MathF.Max(a, TensorQuant.ZeroAmaxThreshold)).ToArray();
        if (values.Length == 1) return Encoding.FromAmax(values[0], d.NumBits, d.Unsigned, d.NarrowRange);
        if (d.Axis.Count != 1)
            throw new NotSupportedException($"{who}: amax along axes {QuantDescriptor.FormatAxis(d.Axis)}; ONNX QuantizeLinear quantizes along one axis");
        int axis = d.Axis[0];
        if (axis < 0 && rank is int r) axis += r;
        return Encoding.FromAmaxPerChannel(values, axis, d.NumBits, d.Unsigned, d.NarrowRange);
    }

    /// <summary>Clip(x, clipMin, clipMax) in front of the quantizer node, which then reads the clipped value.</summary>
    private static void InsertClip(Graph g, Node quantizerNode, TensorQuantizer q)
    {
        string x = quantizerNode.Inputs[0];
        string lo = g.UniqueName(q.Name + "_clip_min"), hi = g.UniqueName(q.Name + "_clip_max");
        g.Initializers[lo] = Tensor.Scalar(q.ClipMin!.Data.Data[0]);
        g.Initializers[hi] = Tensor.Scalar(q.ClipMax!.Data.Data[0]);
        string clipped = g.UniqueName(x + "_clipped");
        g.Nodes.Insert(g.Nodes.IndexOf(quantizerNode), new Node("Clip", [x, lo, hi], [clipped], g.UniqueName(q.Name + "_Clip")));
        quantizerNode.Inputs[0] = clipped;
    }

    private static int? RankOf(Graph g, string value)
    {
        if (g.Initializers.TryGetValue(value, out var t)) return t.Rank;
        var info = g.Inputs.Concat(g.ValueInfos).Concat(g.Outputs).FirstOrDefault(v => v.Name == value);
        return info?.Shape?.Length;
    }
}
