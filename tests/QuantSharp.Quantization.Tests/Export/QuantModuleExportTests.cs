using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;
using QuantSharp.Quantization.Export;
using QuantSharp.Quantization.Modules;
using QuantSharp.Quantization.Quantizers;
using static QuantSharp.Quantization.Tests.Modules.ModuleGraphs;

namespace QuantSharp.Quantization.Tests.Export;

/// <summary>The QDQ form of quant-module graphs (<see cref="QuantModuleExport"/>), checked on the written nodes.</summary>
public class QuantModuleExportTests
{
    private static QuantizedGraph CalibratedConv(QuantModuleOptions? options = null)
    {
        var q = QuantModules.Initialize(ConvGraph(), options);
        q.StartCalibration();
        q.Session.Run(new Dictionary<string, Tensor> { ["x"] = Uniform(1, -1.5f, 1.5f, 2, 3, 5, 5) });
        Assert.Empty(q.FinishCalibration());
        return q;
    }

    private static Node Single(Graph g, string opType, string input) => g.Nodes.Single(n => n.OpType == opType && n.Inputs[0] == input);

    [Fact]
    public void Conv_InputPerTensorAndWeightPerChannel_ScaleIsAmaxOver127_ZeroPointInt8Zero_AxisZero()
    {
        var q = CalibratedConv();
        var g = QuantModuleExport.Lower(q);
        float amaxIn = q.Quantizers["conv.input_quantizer"].Amax!.Data[0];
        var quantize = Single(g, "QuantizeLinear", "x");
        Assert.Equal((float)(amaxIn / 127.0), ((Tensor<float>)g.Initializers[quantize.Inputs[1]]).Data.Single());
        var zp = Assert.IsType<Tensor<sbyte>>(g.Initializers[quantize.Inputs[2]]);
        Assert.Equal(DataType.Int8, zp.DataType);
        Assert.Equal([(sbyte)0], zp.Data);
        Assert.False(quantize.Attributes.ContainsKey("axis"));

        // The weight is stored as int8 levels with one scale per output channel along axis 0.
        var dq = g.Nodes.Single(n => n.OpType == "DequantizeLinear" && g.Initializers.ContainsKey(n.Inputs[0]));
        Assert.Equal(0, dq.GetInt("axis", 1));
        var w = (Tensor<float>)ConvGraph().Initializers["w"];
        var amaxW = AbsMaxAlong(w, 0);
        Assert.Equal(amaxW.Select(a => (float)(a / 127.0)), ((Tensor<float>)g.Initializers[dq.Inputs[1]]).Data);
        Assert.All(((Tensor<sbyte>)g.Initializers[dq.Inputs[2]]).Data, z => Assert.Equal(0, z));
        var levels = Assert.IsType<Tensor<sbyte>>(g.Initializers[dq.Inputs[0]]);
        // The channel's largest weight is level ±127.
        for (int c = 0; c < 4; c++) Assert.Equal(127, levels.Data.Skip(c * 27).Take(27).Max(v => Math.Abs((int)v)));
        Assert.DoesNotContain("w", g.Initializers.Keys); // the float weight is dropped
        Assert.False(g.Opsets.ContainsKey(Engine.Runtime.Quantizers.QuantizerNode.Domain));
    }

    [Fact]
    public void UnsignedQuantizer_ScaleIsAmaxOver255_ZeroPointUint8Zero()
    {
        var q = QuantModules.Initialize(ConvGraph(relu: true));
        var relu = q.AddQuantizer("y", QuantDescriptor.Unsigned8BitPerTensor, "relu.output_quantizer");
        relu.Amax = Tensor.Scalar(3f);
        q.Quantizers["conv.input_quantizer"].Amax = Tensor.Scalar(1f);
        q.Quantizers["conv.weight_quantizer"].Amax = Tensor.Scalar(1f);
        var g = QuantModuleExport.Lower(q, new QdqOptions { FusionFriendly = false });
        var quantize = g.Nodes.Single(n => n.OpType == "QuantizeLinear" && n.Name.StartsWith("relu.output_quantizer", StringComparison.Ordinal));
        Assert.Equal((float)(3.0 / 255), ((Tensor<float>)g.Initializers[quantize.Inputs[1]]).Data.Single());
        var zp = Assert.IsType<Tensor<byte>>(g.Initializers[quantize.Inputs[2]]);
        Assert.Equal([(byte)0], zp.Data);
    }

    [Fact]
    public void AllZeroWeightChannel_ExportsAsZeroLevels_OthersUnchanged()
    {
        var g0 = ConvGraph();
        var w = (Tensor<float>)g0.Initializers["w"];
        for (int i = 27; i < 54; i++) w.Data[i] = 0; // output channel 1: amax 0, which the module quantizes to 0
        var q = QuantModules.Initialize(g0);
        q.Quantizers["conv.input_quantizer"].Amax = Tensor.Scalar(1f);
        var g = QuantModuleExport.Lower(q);
        var dq = g.Nodes.Single(n => n.OpType == "DequantizeLinear" && g.Initializers.ContainsKey(n.Inputs[0]));
        var levels = (Tensor<sbyte>)g.Initializers[dq.Inputs[0]];
        Assert.All(levels.Data.Skip(27).Take(27), v => Assert.Equal(0, v));
        var scales = ((Tensor<float>)g.Initializers[dq.Inputs[1]]).Data;
        Assert.True(scales[1] > 0);
        Assert.Equal(AbsMaxAlong(w, 0)[2] / 127f, scales[2]);
    }

    [Fact]
    public void DisabledQuantizer_IsRemoved_AndQuantDisabledQuantizerPassesThrough()
    {
        var q = CalibratedConv();
        q.Quantizers["conv.input_quantizer"].Disable();
        q.Quantizers["conv.weight_quantizer"].DisableQuant();
        var g = QuantModuleExport.Lower(q);
        Assert.DoesNotContain(g.Nodes, n => n.OpType is "QuantizeLinear" or "DequantizeLinear");
        var conv = g.Nodes.Single(n => n.OpType == "Conv");
        Assert.Equal("x", conv.Inputs[0]);
        Assert.Equal("w", conv.Inputs[1]);
    }

    [Fact]
    public void DynamicActivationQuantizer_HasNoStaticExport_ErrorNamesIt()
    {
        var q = QuantModules.Initialize(ConvGraph()); // never calibrated: amax would be computed from each input
        var e = Assert.Throws<NotSupportedException>(() => QuantModuleExport.Lower(q));
        Assert.Contains("quantizer 'conv.input_quantizer'", e.Message);
        Assert.Contains("dynamic", e.Message);
    }

    [Fact]
    public void RealQuantizer_Fp8_AndTwoAxes_AreRefusedNamingTheQuantizer()
    {
        var real = new TensorQuantizer(new QuantDescriptor(fakeQuant: false, amax: [1f]), "real_q");
        Assert.Contains("real_q", Assert.Throws<NotSupportedException>(() => QuantModuleExport.EncodingOf(real)).Message);
        var fp8 = new TensorQuantizer(new QuantDescriptor(floatFormat: FloatFormat.E4M3, amax: [1f]), "fp8_q");
        Assert.Contains("E4M3", Assert.Throws<NotSupportedException>(() => QuantModuleExport.EncodingOf(fp8)).Message);
        var twoAxes = new TensorQuantizer(new QuantDescriptor(axis: [0, 1], amax: [1f, 2f, 3f, 4f]), "two_axes_q");
        var e = Assert.Throws<NotSupportedException>(() => QuantModuleExport.EncodingOf(twoAxes));
        Assert.Contains("two_axes_q", e.Message);
        Assert.Contains("(0, 1)", e.Message);
    }

    [Fact]
    public void ClippedQuantizer_GetsAClipToItsBounds_AndAmaxFromThem()
    {
        var q = CalibratedConv();
        q.Quantizers["conv.input_quantizer"].Amax = null;
        q.Quantizers["conv.input_quantizer"].ClipRange(-0.5f, 0.75f, learnable: false);
        var g = QuantModuleExport.Lower(q);
        var clip = Single(g, "Clip", "x");
        Assert.Equal(-0.5f, ((Tensor<float>)g.Initializers[clip.Inputs[1]]).Data.Single());
        Assert.Equal(0.75f, ((Tensor<float>)g.Initializers[clip.Inputs[2]]).Data.Single());
        var quantize = Single(g, "QuantizeLinear", clip.Outputs[0]);
        Assert.Equal((float)(0.75 / 127), ((Tensor<float>)g.Initializers[quantize.Inputs[1]]).Data.Single());
    }
}
