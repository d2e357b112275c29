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
/// FP8 E4M3 quant-module graphs exported as FLOAT8E4M3FN QuantizeLinear/DequantizeLinear (opset 19) and run by ONNX
/// Runtime's CPU provider: the quantized input against the quantizer's fake-quant forward of the same input, within one FP8
/// step (ONNX divides by amax/448, the quantizer multiplies by 448/amax: the two products can differ in the last float bit,
/// which moves a value sitting on a rounding boundary by one step), and the graph output against the module graph's.
/// Fails when ONNX Runtime's native library cannot be loaded.
/// </summary>
[Trait("Category", OrtRunner.Category)]
public sealed class Fp8QdqExportOrtTests(ITestOutputHelper output)
{
    /// <summary>One E4M3 step at <paramref name="v"/> (in x's units, scale = 448/amax), 2^−9/scale in the subnormal range.</summary>
    private static double Step(float v, float scale)
    {
        double a = Math.Abs((double)v * scale);
        int e = a < 1.0 / 64 ? -6 : (int)Math.Floor(Math.Log2(a));
        return Math.ScaleB(1.0, e - 3) / scale;
    }

    private void CheckQuantizer(string what, Tensor<float> x, Tensor<float> expected, Tensor<float> actual, Func<int, float> scaleAt)
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
            double step = Step(MathF.Max(MathF.Abs(e), MathF.Abs(a)), scaleAt(i));
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
    [InlineData(GraphOptimizationLevel.ORT_DISABLE_ALL)]
    [InlineData(GraphOptimizationLevel.ORT_ENABLE_ALL)]
    public void Conv_Fp8InputPerTensor_WeightPerChannel_OrtMatchesFakeQuantWithinOneStep(GraphOptimizationLevel level)
    {
        var q = Fp8QdqExportTests.CalibratedConv();
        var x = Uniform(5, -1.8f, 1.8f, 2, 3, 5, 5);
        var feeds = new Dictionary<string, Tensor> { ["x"] = x };
        var ort = RunOrt(q, feeds, level);
        var input = q.Quantizers["conv.input_quantizer"];
        float scale = 448f / input.Amax!.Data[0];
        CheckQuantizer($"{level} conv.input_quantizer", x, input.Forward(x), (Tensor<float>)ort["xq"], _ => scale);
        CheckGraphOutput(level.ToString(), q, feeds, (Tensor<float>)ort["y"]);
    }

    [Fact]
    public void Fp8InputPerChannel_QuantizeLinearWithAxis_OrtMatchesFakeQuantWithinOneStep()
    {
        var q = QuantModules.Initialize(ConvGraph(), Fp8QdqExportTests.Fp8Options with
        {
            Input = new QuantDescriptor(floatFormat: FloatFormat.E4M3, axis: [1]),
        });
        var input = q.Quantizers["conv.input_quantizer"];
        input.Amax = new Tensor<float>([0.5f, 1f, 3f], [1, 3, 1, 1]);
        q.Quantizers["conv.weight_quantizer"].Amax = Tensor.FromArray([0.5f, 1f, 1.5f, 2f], 4);
        // Channel 0 saturates beyond 0.5; channel 2 uses little of its range.
        var x = Uniform(6, -1.2f, 1.2f, 2, 3, 5, 5);
        var feeds = new Dictionary<string, Tensor> { ["x"] = x };
        var ort = RunOrt(q, feeds, GraphOptimizationLevel.ORT_DISABLE_ALL);
        float[] scales = [448f / 0.5f, 448f, 448f / 3f];
        CheckQuantizer("per-channel conv.input_quantizer", x, input.Forward(x), (Tensor<float>)ort["xq"], i => scales[i / 25 % 3]);
        CheckGraphOutput("per-channel", q, feeds, (Tensor<float>)ort["y"]);
    }
}
