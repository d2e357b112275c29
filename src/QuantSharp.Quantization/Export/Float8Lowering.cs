using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;
using QuantSharp.Engine.Runtime.Quantizers;
using QuantSharp.Quantization.Quantizers;

namespace QuantSharp.Quantization.Export;

/// <summary>
/// The QDQ form of an FP8 <see cref="TensorQuantizer"/> (ONNX opset 19+; E4M3 as <c>FLOAT8E4M3FN</c>, E5M2 as
/// <c>FLOAT8E5M2</c>): <c>QuantizeLinear</c>→<c>DequantizeLinear</c> with <c>y_scale = amax / max</c> (max 448 for E4M3,
/// 57344 for E5M2) and a zero point of that type holding 0 (scalars per tensor; 1-D with <c>axis</c> per channel).
/// QuantizeLinear saturates (its default <c>saturate=1</c>) and rounds to nearest even, as the quantizer's fake
/// quantization does.
/// </summary>
/// <remarks>
/// <para>A weight (an initializer) is stored as FP8 bits followed by <c>DequantizeLinear</c> alone; the bits are
/// the quantizer's own rounding of <c>w·(max/amax)</c>, so the dequantized weight differs from the fake-quant one only by
/// the float rounding of <c>q·(amax/max)</c> against <c>q/(max/amax)</c>. An activation's QuantizeLinear computes
/// <c>x/(amax/max)</c> where the quantizer computes <c>x·(max/amax)</c>: the two can differ in the last float bit and so,
/// at a rounding boundary, by one FP8 step.</para>
/// <para>A slice whose amax is at most 2^−24 has the quantizer's scale 1 and is written with <c>y_scale = 1</c>.</para>
/// </remarks>
internal static class Float8Lowering
{
    /// <summary>The opset whose QuantizeLinear/DequantizeLinear accept FLOAT8E4M3FN and FLOAT8E5M2.</summary>
    public const long Opset = 19;

    /// <summary>
    /// Replaces <paramref name="node"/> (the quantizer node of <paramref name="quantizer"/>, an FP8 fake quantizer) in
    /// <paramref name="g"/> with its QDQ form; <paramref name="constant"/> is the weight it reads, if any.
    /// </summary>
    /// <exception cref="NotSupportedException">A format other than FP8, a real or learned-amax quantizer, or dynamic amax on an activation.</exception>
    public static void Replace(Graph g, Node node, TensorQuantizer quantizer, Tensor<float>? constant, bool storeWeight)
    {
        var d = quantizer.Descriptor;
        string who = $"QuantModuleExport: quantizer '{quantizer.Name}'";
        if (d.FloatFormat is not (FloatFormat.E4M3 or FloatFormat.E5M2))
            throw new NotSupportedException($"{who}: {d.FloatFormat} has no QDQ export here (expected E4M3 or E5M2, written as FLOAT8E4M3FN / FLOAT8E5M2)");
        var format = d.FloatFormat.Value;
        var type = Float8.DataTypeOf(format);
        if (!d.FakeQuant)
            throw new NotSupportedException($"{who}: a real quantizer (fakeQuant: false) outputs scaled FP8 values, which QuantizeLinear/DequantizeLinear do not; export fake quantizers");
        if (d.LearnAmax)
            throw new NotSupportedException($"{who}: a learned amax is supported for integer quantization only, not {format}");
        if (quantizer.StaticAmax() is null && constant is null)
            throw new NotSupportedException($"{who}: amax is computed from each input (dynamic); QDQ export needs a fixed amax (calibrate it or set Amax)");

        var sample = constant ?? SampleOf(g, node.Inputs[0], quantizer, who);
        var (scales, axis, _) = quantizer.FloatScales(format, sample);
        float max = FloatQuantize.MaxValue(format);
        // y_scale = amax/448 is pytorch-quantization's exported scale; a zero-amax slice keeps the quantizer's scale 1.
        var amax = quantizer.StaticAmax() ?? quantizer.AmaxFor(constant!);
        var yScale = new float[scales.Length];
        for (int c = 0; c < yScale.Length; c++) yScale[c] = amax[c] > TensorQuant.ZeroAmaxThreshold ? amax[c] / max : 1f;

        string x = node.Inputs[0], y = node.Outputs[0], name = quantizer.Name;
        string scale = g.UniqueName(name + "_scale"), zeroPoint = g.UniqueName(name + "_zero_point");
        bool perAxis = axis >= 0;
        g.Initializers[scale] = perAxis ? Tensor.FromArray(yScale, yScale.Length) : Tensor.Scalar(yScale[0]);
        g.Initializers[zeroPoint] = new Tensor<byte>(new byte[yScale.Length], perAxis ? [yScale.Length] : []).AsElementType(type);

        int at = g.Nodes.IndexOf(node);
        g.Nodes.RemoveAt(at);
        var replacement = new List<Node>();
        string levels;
        if (constant is not null && storeWeight)
        {
            levels = g.UniqueName(x + "_" + type.ToString().ToLowerInvariant());
            g.Initializers[levels] = Encode(constant, scales, axis, format);
            if (!g.IsOutput(x) && g.Consumers(x).Count == 0) g.Initializers.Remove(x);
        }
        else
        {
            levels = g.UniqueName(y + "_" + type.ToString().ToLowerInvariant());
            replacement.Add(WithAxis(new Node("QuantizeLinear", [x, scale, zeroPoint], [levels], name + "_QuantizeLinear"), axis));
        }
        replacement.Add(WithAxis(new Node("DequantizeLinear", [levels, scale, zeroPoint], [y], name + "_DequantizeLinear"), axis));
        g.Nodes.InsertRange(at, replacement);
    }

    private static Node WithAxis(Node n, int axis) => axis >= 0 ? n.With("axis", AttributeValue.FromInt(axis)) : n;

    /// <summary>The quantizer's rounding of <c>w·scale</c> (per slice along <paramref name="axis"/>) as FP8 bits of <paramref name="format"/>.</summary>
    private static Tensor<byte> Encode(Tensor<float> w, float[] scales, int axis, FloatFormat format)
    {
        int inner = 1;
        if (axis >= 0) for (int k = axis + 1; k < w.Rank; k++) inner *= w.Dims[k];
        var bits = new byte[w.Length];
        for (int i = 0; i < bits.Length; i++)
        {
            float s = axis < 0 ? scales[0] : scales[i / inner % scales.Length];
            bits[i] = Float8.Encode(w.Data[i] * s, format);
        }
        return new Tensor<byte>(bits, w.Shape).AsElementType(Float8.DataTypeOf(format));
    }

    /// <summary>
    /// A zero tensor of the activation's rank, so the quantizer lays its per-channel amax out and names the axis; per
    /// tensor any shape does. The activation's rank comes from the graph's inputs and value infos.
    /// </summary>
    private static Tensor<float> SampleOf(Graph g, string value, TensorQuantizer quantizer, string who)
    {
        if (quantizer.Descriptor.PerTensor) return Tensor.Scalar(0f);
        var info = g.Inputs.Concat(g.ValueInfos).Concat(g.Outputs).FirstOrDefault(v => v.Name == value);
        var dims = info?.Shape?.Select(dim => dim.Value ?? 1).ToArray()
            ?? throw new NotSupportedException($"{who}: a per-channel FP8 activation needs the rank of '{value}' (declare its shape in the graph's value infos)");
        int axis = quantizer.Descriptor.Validate(dims.Length)[0];
        dims[axis] = quantizer.StaticAmax()!.Length;
        return new Tensor<float>(dims);
    }
}
