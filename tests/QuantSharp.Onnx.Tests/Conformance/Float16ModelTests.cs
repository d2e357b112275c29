using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Onnx.Export;
using QuantSharp.Onnx.Import;
using QuantSharp.Onnx.Tests.Support;
using Xunit.Abstractions;

namespace QuantSharp.Onnx.Tests.Conformance;

/// <summary>
/// A half-precision model (FLOAT16 weights and activations between a cast in and a cast out, as mixed-precision
/// converters write them) runs through <see cref="Session"/>: by default in float32 between the explicit casts, which is
/// what ONNX Runtime's CPU provider does (it wraps ops lacking half kernels in casts and drops the back-to-back casts), and
/// with <see cref="OnnxImportOptions.RoundFloat16Values"/> rounding every FLOAT16 value to half, within one half step.
/// </summary>
public sealed class Float16ModelTests(ITestOutputHelper output)
{
    private static (string, AttributeValue) To(long code) => ("to", AttributeValue.FromInt(code));

    /// <summary>x (float) → Cast(FLOAT16) → Conv → Relu → Mul → Add → Sigmoid → GlobalAveragePool → Flatten → MatMul → Softmax → Cast(FLOAT).</summary>
    private static OnnxModel HalfModel()
    {
        var rng = new Random(16);
        var b = new GraphBuilder("half", opset: 17);
        var x = b.Input("x", DataType.Float32, Dim.Fixed(2), Dim.Fixed(3), Dim.Fixed(8), Dim.Fixed(8));
        var h = b.Op1("Cast", [x], "to_half", To(10));
        var w = b.Initializer("w", Tensor.RandomNormal(rng, 0f, 0.6f, [6, 3, 3, 3]));
        var bias = b.Initializer("bias", Tensor.RandomUniform(rng, -0.5f, 0.5f, [6]));
        h = b.Relu(b.Conv(h, w, bias, pads: [1, 1, 1, 1]));
        h = b.Mul(h, b.Initializer("scale", Tensor.RandomUniform(rng, 0.5f, 3f, [1, 6, 1, 1])));
        h = b.Add(h, b.Initializer("shift", Tensor.RandomUniform(rng, -2f, 0f, [1, 6, 1, 1])));
        h = b.Flatten(b.GlobalAveragePool(b.Sigmoid(h)));
        h = b.Softmax(b.MatMul(h, b.Initializer("fc", Tensor.RandomNormal(rng, 0f, 2f, [6, 5]))), axis: 1);
        b.Output(b.Op1("Cast", [h], "to_float", To(1)), name: "y");
        var model = OnnxExporter.FromGraph(b.Build());
        var og = model.Graph;
        for (int i = 0; i < og.Initializers.Count; i++)
        {
            var t = og.Initializers[i];
            og.Initializers[i] = OnnxTensorConverter.FromTensor(OnnxTensorConverter.ToTensor(t), OnnxDataType.Float16, t.Name);
        }
        og.ValueInfo.Clear();
        return model;
    }

    private static double MaxDiff(Tensor<float> a, Tensor<float> b) => a.Data.Zip(b.Data, (p, q) => Math.Abs((double)p - q)).Max();

    [Fact]
    public void CastToFloat16_RoundsToHalfPrecision_TiesToEven()
    {
        var g = new Graph { Name = "cast" };
        g.Inputs.Add(new ValueInfo("x", DataType.Float32, 6));
        g.Nodes.Add(new Node("Cast", ["x"], ["h"], "c").With("to", AttributeValue.FromInt(10)));
        g.Nodes.Add(new Node("Cast", ["x"], ["bf"], "cb").With("to", AttributeValue.FromInt(16)));
        g.Outputs.Add(new ValueInfo("h", DataType.Float32, 6));
        g.Outputs.Add(new ValueInfo("bf", DataType.Float32, 6));
        // 1 + 2⁻¹¹ is halfway between halves 1 and 1 + 2⁻¹⁰: ties to even gives 1; 1 + 3·2⁻¹¹ gives 1 + 2·2⁻¹⁰.
        var x = Tensor.FromArray(new float[] { 1 + 1f / 2048, 1 + 3f / 2048, 70000f, 0.1f, -65504f, 1 + 1f / 256 }, 6);
        var r = new Session(g).Run(new Dictionary<string, Tensor> { ["x"] = x });
        Assert.Equal(new float[] { 1f, 1 + 2f / 1024, float.PositiveInfinity, 0.0999755859375f, -65504f, 1 + 1f / 256 }, r.Output("h").Data);
        // bfloat16 keeps 8 significant bits: 1 + 2⁻⁸ is a tie between 1 and 1 + 2⁻⁷, to even → 1.
        Assert.Equal(new float[] { 1f, 1f, 70144f, 0.10009765625f, -65536f, 1f }, r.Output("bf").Data);
    }

    [Fact]
    [Trait("Category", OrtRunner.Category)]
    public void HalfPrecisionModel_MatchesOnnxRuntime_AndPerOpRoundingStaysWithinAHalfStep()
    {
        var model = HalfModel();
        var x = Tensor.RandomNormal(new Random(3), 0f, 1f, [2, 3, 8, 8]);
        var feeds = new Dictionary<string, Tensor> { ["x"] = x };
        var expected = (Tensor<float>)OrtRunner.Run(model.ToBytes(), "half", feeds, ["y"])["y"];
        var wide = new Session(OnnxImporter.ToGraph(model)).Run(feeds).Output("y");
        var rounded = new Session(OnnxImporter.ToGraph(model, new OnnxImportOptions { RoundFloat16Values = true })).Run(feeds).Output("y");
        double wideDiff = MaxDiff(expected, wide), roundedDiff = MaxDiff(expected, rounded);
        output.WriteLine($"max|diff| vs ONNX Runtime: default {wideDiff:E2}, rounded per op {roundedDiff:E2}; max|y| {expected.Data.Max():E2}");
        Assert.True(wideDiff <= 1e-5, $"default import: max|diff| {wideDiff:E3}");
        // Rounding per op moves each value by at most half a half-step; at the output (probabilities below 1) the
        // accumulated difference stays within one step, 2⁻¹¹, and is visible (the pass does round).
        Assert.True(roundedDiff <= 1.0 / 2048 && roundedDiff > 1e-5, $"rounded per op: max|diff| {roundedDiff:E3}");
    }
}
