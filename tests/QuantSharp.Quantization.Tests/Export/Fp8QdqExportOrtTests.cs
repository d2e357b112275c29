using GraphOptimizationLevel = Microsoft.ML.OnnxRuntime.GraphOptimizationLevel;
using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;
using QuantSharp.Engine.Runtime;
using QuantSharp.Onnx.Tests.Support;
using QuantSharp.Quantization.Export;
using QuantSharp.Quantization.Modules;
using QuantSharp.Quantization.Quantizers;
using Xunit.Abstractions;
using static QuantSharp.Quantization.Tests.Modules.ModuleGraphs;

namespace QuantSharp.Quantization.Tests.Export;

/// <summary>
/// FP8 E4M3 / E5M2 quant-module graphs exported as FLOAT8E4M3FN / FLOAT8E5M2 QuantizeLinear/DequantizeLinear (opset 19) and
/// run by ONNX Runtime's CPU provider: the quantized input against the quantizer's fake-quant forward of the same input, within
/// one FP8 step (ONNX divides by amax/max, the quantizer multiplies by max/amax: the two products can differ in the last float bit,
/// which moves a value sitting on a rounding boundary by one step), and the graph output against the module graph's.
/// Fails when ONNX Runtime's native library cannot be loaded.
/// </summary>
[Trait("Category", OrtRunner.Category)]
public sealed class Fp8QdqExportOrtTests(ITestOutputHelper output)
{
    /// <summary>One FP8 step at <paramref name="v"/> (in x's units, scale = max/amax), the subnormal quantum below the smallest normal.</summary>
    private static double Step(float v, float scale, FloatFormat format)
    {
        int mantissa = FloatQuantizeReference.MantissaBits(format), minExponent = FloatQuantizeReference.MinNormalExponent(format);
        double a = Math.Abs((double)v * scale);
        int e = a < Math.ScaleB(1.0, minExponent) ? minExponent : (int)Math.Floor(Math.Log2(a));
        return Math.ScaleB(1.0, e - mantissa) / scale;
    }

    private void CheckQuantizer(string what, Tensor<float> x, Tensor<float> expected, Tensor<float> actual, Func<int, float> scaleAt,
        FloatFormat format = FloatFormat.E4M3)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        int differing = 0, stepped = 0;
        for (int i = 0; i < x.Length; i++)
        {
            float e = expected.Data[i], a = actual.Data[i];
            double d = Math.Abs((double)e - a);
            if (d == 0) continue;
            differing++;
            double ulps = 4 * Math.Max(Math.Abs(e), Math.Abs(a)) / (1 << 24);
            double step = Step(MathF.Max(MathF.Abs(e), MathF.Abs(a)), scaleAt(i), format);
            Assert.True(d <= step + ulps, $"{what}[{i}]: x = {x.Data[i]:R}, fake quant {e:R}, ONNX Runtime {a:R} (more than one FP8 step {step:E3} apart)");
            if (d > ulps) stepped++;
        }
        output.WriteLine($"{what}: {differing}/{x.Length} values differ; {stepped} by one FP8 step, the rest by float rounding");
    }

    private Dictionary<string, Tensor> RunOrt(QuantizedGraph q, Dictionary<string, Tensor> feeds, GraphOptimizationLevel level)
    {
        var lowered = QuantModuleExport.Lower(q);
        Assert.Equal(19, lowered.Opsets[""]);
        // The dequantized input (QuantizeLinear→DequantizeLinear of x) as an extra output, to check the quantizer itself.
        string xq = lowered.Nodes.Single(n => n.OpType == "DequantizeLinear" && !lowered.Initializers.ContainsKey(n.Inputs[0])).Outputs[0];
        lowered.Outputs.Add(new ValueInfo(xq, DataType.Float32, (IEnumerable<Dim>?)null));
        var ort = OrtRunner.Run(lowered, feeds, level);
        ort["xq"] = ort[xq];
        return ort;
    }

    private void CheckGraphOutput(string what, QuantizedGraph q, Dictionary<string, Tensor> feeds, Tensor<float> actual)
    {
        var expected = q.Session.Run(feeds).Output("y");
        double max = expected.Data.Max(MathF.Abs), diff = 0;
        for (int i = 0; i < expected.Length; i++) diff = Math.Max(diff, Math.Abs((double)expected.Data[i] - actual.Data[i]));
        output.WriteLine($"{what} y: max|diff| {diff:E3} of max|y| {max:E3}");
        Assert.True(diff <= 1e-3 * max, $"{what} y: max|diff| {diff:E3} > 1e-3·{max:E3}");
    }

    [Theory]
    [InlineData(GraphOptimizationLevel.ORT_DISABLE_ALL, FloatFormat.E4M3)]
    [InlineData(GraphOptimizationLevel.ORT_ENABLE_ALL, FloatFormat.E4M3)]
    [InlineData(GraphOptimizationLevel.ORT_DISABLE_ALL, FloatFormat.E5M2)]
    [InlineData(GraphOptimizationLevel.ORT_ENABLE_ALL, FloatFormat.E5M2)]
    public void Conv_Fp8InputPerTensor_WeightPerChannel_OrtMatchesFakeQuantWithinOneStep(GraphOptimizationLevel level, FloatFormat format)
    {
        var q = Fp8QdqExportTests.CalibratedConv(format);
        var x = Uniform(5, -1.8f, 1.8f, 2, 3, 5, 5);
        var feeds = new Dictionary<string, Tensor> { ["x"] = x };
        var ort = RunOrt(q, feeds, level);
        var input = q.Quantizers["conv.input_quantizer"];
        float scale = FloatQuantize.MaxValue(format) / input.Amax!.Data[0];
        CheckQuantizer($"{level} {format} conv.input_quantizer", x, input.Forward(x), (Tensor<float>)ort["xq"], _ => scale, format);
        CheckGraphOutput($"{level} {format}", q, feeds, (Tensor<float>)ort["y"]);
    }

    /// <summary>
    /// Our engine's FP8 QuantizeLinear/DequantizeLinear (the <see cref="Float8"/> codec) against ONNX Runtime's, bit for bit:
    /// every finite value of the format, the midpoints between neighbours (ties to even), values beyond the range and ±Inf
    /// (saturate=1), and zeros of both signs.
    /// </summary>
    [Theory]
    [InlineData(FloatFormat.E4M3)]
    [InlineData(FloatFormat.E5M2)]
    public void Float8QuantizeDequantize_EngineEqualsOrt_OnEveryValueMidpointAndSpecial(FloatFormat format)
    {
        var finite = Enumerable.Range(0, 256).Select(b => Float8.Decode((byte)b, format)).Where(float.IsFinite).Distinct().Order().ToArray();
        var values = finite.Concat(finite.Zip(finite.Skip(1), (a, b) => (a + b) / 2))
            .Concat([FloatQuantize.MaxValue(format) * 1.5f, -FloatQuantize.MaxValue(format) * 3f, float.PositiveInfinity, float.NegativeInfinity, 0f, -0f])
            .ToArray();
        var type = Float8.DataTypeOf(format);
        var g = new Graph { Name = "fp8_qdq" };
        g.Opsets[""] = 19;
        g.Inputs.Add(new ValueInfo("x", DataType.Float32, values.Length));
        g.Initializers["s"] = Tensor.Scalar(1f);
        g.Initializers["z"] = Tensor.Scalar((byte)0).AsElementType(type);
        g.Nodes.Add(new Node("QuantizeLinear", ["x", "s", "z"], ["q"], "quant"));
        g.Nodes.Add(new Node("DequantizeLinear", ["q", "s", "z"], ["y"], "dequant"));
        g.Outputs.Add(new ValueInfo("y", DataType.Float32, values.Length));
        var feeds = new Dictionary<string, Tensor> { ["x"] = Tensor.FromArray(values, values.Length) };
        var ours = new Session(g).Run(feeds).Output("y");
        var ort = (Tensor<float>)OrtRunner.Run(g, feeds, GraphOptimizationLevel.ORT_DISABLE_ALL)["y"];
        for (int i = 0; i < values.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(ours.Data[i]) == BitConverter.SingleToInt32Bits(ort.Data[i]),
                $"{format} x = {values[i]:R}: ours {ours.Data[i]:R}, ONNX Runtime {ort.Data[i]:R}");
        output.WriteLine($"{format}: {values.Length} values equal bit for bit");
    }

    [Theory]
    [InlineData(FloatFormat.E4M3)]
    [InlineData(FloatFormat.E5M2)]
    public void Fp8InputPerChannel_QuantizeLinearWithAxis_OrtMatchesFakeQuantWithinOneStep(FloatFormat format)
    {
        var q = QuantModules.Initialize(ConvGraph(), Fp8QdqExportTests.OptionsFor(format) with
        {
            Input = new QuantDescriptor(floatFormat: format, axis: [1]),
        });
        var input = q.Quantizers["conv.input_quantizer"];
        input.Amax = new Tensor<float>([0.5f, 1f, 3f], [1, 3, 1, 1]);
        q.Quantizers["conv.weight_quantizer"].Amax = Tensor.FromArray([0.5f, 1f, 1.5f, 2f], 4);
        // Channel 0 saturates beyond 0.5; channel 2 uses little of its range.
        var x = Uniform(6, -1.2f, 1.2f, 2, 3, 5, 5);
        var feeds = new Dictionary<string, Tensor> { ["x"] = x };
        var ort = RunOrt(q, feeds, GraphOptimizationLevel.ORT_DISABLE_ALL);
        float max = FloatQuantize.MaxValue(format);
        float[] scales = [max / 0.5f, max, max / 3f];
        CheckQuantizer($"per-channel {format} conv.input_quantizer", x, input.Forward(x), (Tensor<float>)ort["xq"], i => scales[i / 25 % 3], format);
        CheckGraphOutput($"per-channel {format}", q, feeds, (Tensor<float>)ort["y"]);
    }
}
