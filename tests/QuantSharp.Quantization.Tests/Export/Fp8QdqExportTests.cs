using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;
using QuantSharp.Engine.Runtime;
using QuantSharp.Engine.Runtime.Quantizers;
using QuantSharp.Onnx;
using QuantSharp.Onnx.Export;
using QuantSharp.Onnx.Import;
using QuantSharp.Quantization.Export;
using QuantSharp.Quantization.Modules;
using QuantSharp.Quantization.Quantizers;
using static QuantSharp.Quantization.Tests.Modules.ModuleGraphs;

namespace QuantSharp.Quantization.Tests.Export;

/// <summary>
/// FP8 E4M3 / E5M2 quant-module graphs exported as opset-19 QuantizeLinear/DequantizeLinear over FLOAT8E4M3FN / FLOAT8E5M2
/// (<see cref="QuantModuleExport"/>), checked on the written nodes and run by QuantSharp's own engine.
/// </summary>
public class Fp8QdqExportTests
{
    internal static QuantModuleOptions OptionsFor(FloatFormat format) => new()
    {
        Input = new QuantDescriptor(floatFormat: format),
        ConvWeight = new QuantDescriptor(floatFormat: format, axis: [0]),
    };

    internal static QuantModuleOptions Fp8Options { get; } = OptionsFor(FloatFormat.E4M3);

    internal static QuantizedGraph CalibratedConv(FloatFormat format = FloatFormat.E4M3)
    {
        var q = QuantModules.Initialize(ConvGraph(), OptionsFor(format));
        q.StartCalibration();
        q.Session.Run(new Dictionary<string, Tensor> { ["x"] = Uniform(1, -1.5f, 1.5f, 2, 3, 5, 5) });
        Assert.Empty(q.FinishCalibration());
        return q;
    }

    private static void AssertFloat8Zeros(Tensor t, int count, DataType type = DataType.Float8E4M3FN)
    {
        var zp = Assert.IsType<Tensor<byte>>(t);
        Assert.Equal(type, zp.DataType);
        Assert.Equal(new byte[count], zp.Data);
    }

    [Fact]
    public void Conv_Fp8InputAndPerChannelWeight_IsOpset19QdqWithFloat8ZeroPoints_ScaleAmaxOver448()
    {
        var q = CalibratedConv();
        var g = QuantModuleExport.Lower(q);
        Assert.Equal(19, g.Opsets[""]);
        Assert.DoesNotContain(g.Nodes, QuantizerNode.Is);

        float amaxIn = q.Quantizers["conv.input_quantizer"].Amax!.Data[0];
        var quantize = g.Nodes.Single(n => n.OpType == "QuantizeLinear");
        Assert.Equal("x", quantize.Inputs[0]);
        Assert.Equal(amaxIn / 448f, ((Tensor<float>)g.Initializers[quantize.Inputs[1]]).Data.Single());
        Assert.Empty(g.Initializers[quantize.Inputs[2]].Shape);
        AssertFloat8Zeros(g.Initializers[quantize.Inputs[2]], 1);
        Assert.False(quantize.Attributes.ContainsKey("axis"));

        // The weight is stored as FLOAT8E4M3FN followed by DequantizeLinear along axis 0, one scale per output channel.
        var dq = g.Nodes.Single(n => n.OpType == "DequantizeLinear" && g.Initializers.ContainsKey(n.Inputs[0]));
        Assert.Equal(0, dq.GetInt("axis", 1));
        var amaxW = q.Quantizers["conv.weight_quantizer"].Amax!.Data;
        Assert.Equal(amaxW.Select(a => a / 448f), ((Tensor<float>)g.Initializers[dq.Inputs[1]]).Data);
        AssertFloat8Zeros(g.Initializers[dq.Inputs[2]], 4);
        var bits = Assert.IsType<Tensor<byte>>(g.Initializers[dq.Inputs[0]]);
        Assert.Equal(DataType.Float8E4M3FN, bits.DataType);
        Assert.DoesNotContain("w", g.Initializers.Keys);

        // The stored patterns are the quantizer's own levels: value/(448/amax) is its fake-quant weight, bit for bit.
        var w = (Tensor<float>)ConvGraph().Initializers["w"];
        var fakeQuant = q.Quantizers["conv.weight_quantizer"].Forward(w);
        for (int i = 0; i < w.Length; i++)
            Assert.Equal(fakeQuant.Data[i], Float8E4M3FN.Decode(bits.Data[i]) / (448f / amaxW[i / 27]));
        // Each channel's largest weight is its amax, i.e. 448 (0x7E / 0xFE).
        for (int c = 0; c < 4; c++) Assert.Contains(bits.Data.Skip(c * 27).Take(27), b => (b & 0x7F) == 0x7E);
    }

    [Theory]
    [InlineData(FloatFormat.E4M3)]
    [InlineData(FloatFormat.E5M2)]
    public void Conv_Fp8Export_WrittenAndReadBack_RunsInOurEngine_WithinFloatRoundingOfTheFakeQuantForward(FloatFormat format)
    {
        var q = CalibratedConv(format);
        var feeds = new Dictionary<string, Tensor> { ["x"] = Uniform(5, -1.8f, 1.8f, 2, 3, 5, 5) };
        var expected = q.Session.Run(feeds).Output("y");
        var bytes = OnnxExporter.FromGraph(QuantModuleExport.Lower(q)).ToBytes();
        var read = OnnxImporter.ToGraph(OnnxModel.Load(bytes));
        var actual = new Session(read).Run(feeds).Output("y");
        // QuantizeLinear divides by amax/448 where the quantizer multiplies by 448/amax; a product that lands on a rounding
        // boundary may move one FP8 step (measured: see the report of the ORT test, which checks the quantizer itself).
        double max = expected.Data.Max(MathF.Abs);
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected.Data[i] - actual.Data[i]) <= 1e-3 * max, $"y[{i}]: {expected.Data[i]} vs {actual.Data[i]}");
    }

    [Fact]
    public void PerChannelActivation_ExportsQuantizeLinearWithAxis()
    {
        var q = QuantModules.Initialize(ConvGraph(), Fp8Options with { Input = new QuantDescriptor(floatFormat: FloatFormat.E4M3, axis: [1]) });
        q.StartCalibration();
        q.Session.Run(new Dictionary<string, Tensor> { ["x"] = Uniform(1, -1.5f, 1.5f, 2, 3, 5, 5) });
        Assert.Empty(q.FinishCalibration());
        var g = QuantModuleExport.Lower(q);
        var quantize = g.Nodes.Single(n => n.OpType == "QuantizeLinear");
        Assert.Equal(1, quantize.GetInt("axis", 0));
        Assert.Equal(3, ((Tensor<float>)g.Initializers[quantize.Inputs[1]]).Length);
        AssertFloat8Zeros(g.Initializers[quantize.Inputs[2]], 3);
    }

    [Fact]
    public void Conv_E5M2InputAndPerChannelWeight_IsOpset19QdqOverFloat8E5M2_ScaleAmaxOver57344()
    {
        var q = CalibratedConv(FloatFormat.E5M2);
        var g = QuantModuleExport.Lower(q);
        Assert.Equal(19, g.Opsets[""]);
        float amaxIn = q.Quantizers["conv.input_quantizer"].Amax!.Data[0];
        var quantize = g.Nodes.Single(n => n.OpType == "QuantizeLinear");
        Assert.Equal(amaxIn / 57344f, ((Tensor<float>)g.Initializers[quantize.Inputs[1]]).Data.Single());
        AssertFloat8Zeros(g.Initializers[quantize.Inputs[2]], 1, DataType.Float8E5M2);

        var dq = g.Nodes.Single(n => n.OpType == "DequantizeLinear" && g.Initializers.ContainsKey(n.Inputs[0]));
        var amaxW = q.Quantizers["conv.weight_quantizer"].Amax!.Data;
        Assert.Equal(amaxW.Select(a => a / 57344f), ((Tensor<float>)g.Initializers[dq.Inputs[1]]).Data);
        AssertFloat8Zeros(g.Initializers[dq.Inputs[2]], 4, DataType.Float8E5M2);
        var bits = Assert.IsType<Tensor<byte>>(g.Initializers[dq.Inputs[0]]);
        Assert.Equal(DataType.Float8E5M2, bits.DataType);
        // The stored patterns are the E5M2 quantizer's own levels; each channel's largest weight is 57344 (0x7B / 0xFB).
        var w = (Tensor<float>)ConvGraph().Initializers["w"];
        var fakeQuant = q.Quantizers["conv.weight_quantizer"].Forward(w);
        for (int i = 0; i < w.Length; i++)
            Assert.Equal(fakeQuant.Data[i], Float8.Decode(bits.Data[i], FloatFormat.E5M2) / (57344f / amaxW[i / 27]));
        for (int c = 0; c < 4; c++) Assert.Contains(bits.Data.Skip(c * 27).Take(27), b => (b & 0x7F) == 0x7B);
    }

    [Fact]
    public void DynamicFp8Activation_IsNotExportable_ButADynamicFp8WeightUsesTheWeightsAmax()
    {
        var q = QuantModules.Initialize(ConvGraph(), Fp8Options);
        var e = Assert.Throws<NotSupportedException>(() => QuantModuleExport.Lower(q));
        Assert.Contains("'conv.input_quantizer'", e.Message);
        Assert.Contains("dynamic", e.Message);
        q.Quantizers["conv.input_quantizer"].Amax = Tensor.Scalar(2f);
        var g = QuantModuleExport.Lower(q);
        var dq = g.Nodes.Single(n => n.OpType == "DequantizeLinear" && g.Initializers.ContainsKey(n.Inputs[0]));
        var w = (Tensor<float>)ConvGraph().Initializers["w"];
        var expected = Enumerable.Range(0, 4).Select(c => w.Data.Skip(c * 27).Take(27).Max(MathF.Abs) / 448f);
        Assert.Equal(expected, ((Tensor<float>)g.Initializers[dq.Inputs[1]]).Data);
    }
}
