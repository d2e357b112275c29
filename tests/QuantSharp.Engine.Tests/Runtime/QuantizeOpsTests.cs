using QuantSharp.Engine.Kernels;
using QuantSharp.Engine.Runtime;

namespace QuantSharp.Engine.Tests.Runtime;

/// <summary>The ONNX quantization ops in the op table, run through <see cref="Session"/> (forward and the QDQ gradient rule).</summary>
public class QuantizeOpsTests
{
    private static Engine.Graph Qdq(Tensor scale, Tensor zeroPoint, int axis, long opset = 13)
    {
        var g = new Engine.Graph { Name = "qdq" };
        g.Opsets[""] = opset;
        g.Inputs.Add(new ValueInfo("x", DataType.Float32, 2, 3));
        g.Initializers["s"] = scale;
        g.Initializers["z"] = zeroPoint;
        g.Nodes.Add(new Node("QuantizeLinear", ["x", "s", "z"], ["q"], "quant").With("axis", AttributeValue.FromInt(axis)));
        g.Nodes.Add(new Node("DequantizeLinear", ["q", "s", "z"], ["y"], "dequant").With("axis", AttributeValue.FromInt(axis)));
        g.Outputs.Add(new ValueInfo("y", DataType.Float32, 2, 3));
        return g;
    }

    private static readonly Tensor<float> X = Tensor.FromArray([1.25f, -0.75f, 100f, 3f, -5f, 7f], 2, 3);

    [Fact]
    public void QuantizeDequantizeLinear_PerAxis_MatchesFakeQuantizeKernel()
    {
        var s = new Session(Qdq(Tensor.FromArray([0.5f, 2f], 2), Tensor.FromArray(new sbyte[] { 0, -1 }, 2), axis: 0));
        var r = s.Run(new Dictionary<string, Tensor> { ["x"] = X }, new RunOptions { Capture = ["q"] });
        Assert.Equal(new sbyte[] { 2, -2, 127, 1, -3, 3 }, ((Tensor<sbyte>)r.Captured["q"]).Data);
        var expected = QuantizeKernels.FakeQuantize(X, QuantParams.PerAxis([0.5f, 2f], [0, -1], 0, -128, 127));
        Assert.Equal(expected.Data, r.Output("y").Data);
    }

    [Fact]
    public void QuantizeDequantizeLinear_Float8E4M3FN_PerAxis_RoundsToNearestEvenAndSaturates()
    {
        var zeros = new Tensor<byte>([0, 0], [2]).AsElementType(DataType.Float8E4M3FN);
        var s = new Session(Qdq(Tensor.FromArray([0.5f, 0.0625f], 2), zeros, axis: 0, opset: 19));
        var r = s.Run(new Dictionary<string, Tensor> { ["x"] = X }, new RunOptions { Capture = ["q"] });
        var q = Assert.IsType<Tensor<byte>>(r.Captured["q"]);
        Assert.Equal(DataType.Float8E4M3FN, q.DataType);
        // Row 0 (x / 0.5): 2.5 → 0x42 (1.010·2^1), −1.5 → 0xBC (−1.100·2^0), 200 → 192 = 0x74 (step 16 in [128, 256):
        // 12.5 steps, a tie → the even 12).
        // Row 1 (x / 0.0625): 48 → 0x64 (1.100·2^5), −80 → 0xEA (−1.010·2^6), 112 → 0x6E (1.110·2^6).
        Assert.Equal(new byte[] { 0x42, 0xBC, 0x74, 0x64, 0xEA, 0x6E }, q.Data);
        Assert.Equal(new[] { 1.25f, -0.75f, 96f, 3f, -5f, 7f }, r.Output("y").Data);
        // Beyond 448·scale the value saturates at the largest finite pattern.
        var big = s.Run(new Dictionary<string, Tensor> { ["x"] = Tensor.FromArray([1000f, -1f, 0f, -100f, 0f, 0f], 2, 3) }).Output("y");
        Assert.Equal(new[] { 224f, -1f, 0f, -28f, 0f, 0f }, big.Data);
    }

    [Fact]
    public void QuantizeDequantizeLinear_Float8E5M2_PerAxis_RoundsToNearestEvenAndSaturates()
    {
        var zeros = new Tensor<byte>([0, 0], [2]).AsElementType(DataType.Float8E5M2);
        var s = new Session(Qdq(Tensor.FromArray([0.5f, 0.0625f], 2), zeros, axis: 0, opset: 19));
        var r = s.Run(new Dictionary<string, Tensor> { ["x"] = X }, new RunOptions { Capture = ["q"] });
        var q = Assert.IsType<Tensor<byte>>(r.Captured["q"]);
        Assert.Equal(DataType.Float8E5M2, q.DataType);
        // Row 0 (x / 0.5): 2.5 → 0x41 (1.01·2^1), −1.5 → 0xBE (−1.10·2^0), 200 → 192 = 0x5A (step 32 in [128, 256)).
        // Row 1 (x / 0.0625): 48 → 0x52 (1.10·2^5), −80 → 0xD5 (−1.01·2^6), 112 → 0x57 (1.11·2^6).
        Assert.Equal(new byte[] { 0x41, 0xBE, 0x5A, 0x52, 0xD5, 0x57 }, q.Data);
        Assert.Equal(new[] { 1.25f, -0.75f, 96f, 3f, -5f, 7f }, r.Output("y").Data);
        // Beyond 57344·scale (and at ±Inf) the value saturates at the largest finite pattern.
        var big = s.Run(new Dictionary<string, Tensor> { ["x"] = Tensor.FromArray([1e5f, float.PositiveInfinity, 0f, -1e4f, float.NegativeInfinity, 0f], 2, 3) }).Output("y");
        Assert.Equal(new[] { 28672f, 28672f, 0f, -3584f, -3584f, 0f }, big.Data);
    }

    [Fact]
    public void QuantizeLinear_Float8ZeroPointOfTheOtherFormat_IsAClearError()
    {
        var g = Qdq(Tensor.Scalar(1f), Tensor.Scalar((byte)0).AsElementType(DataType.Float8E5M2), axis: 1, opset: 19);
        g.Nodes[1].Inputs[2] = "z4";
        g.Initializers["z4"] = Tensor.Scalar((byte)0).AsElementType(DataType.Float8E4M3FN);
        var e = Assert.Throws<GraphException>(() => new Session(g).Run(new Dictionary<string, Tensor> { ["x"] = X }));
        Assert.Contains("'dequant'", e.Message);
        Assert.Contains("Float8E5M2", e.Message);
    }

    [Fact]
    public void QuantizeLinear_NoZeroPoint_DefaultsToUInt8()
    {
        var g = new Engine.Graph();
        g.Opsets[""] = 10;
        g.Inputs.Add(new ValueInfo("x", DataType.Float32, 4));
        g.Initializers["s"] = Tensor.Scalar(0.5f);
        g.Nodes.Add(new Node("QuantizeLinear", ["x", "s"], ["q"]));
        g.Outputs.Add(new ValueInfo("q", DataType.UInt8, 4));
        var q = new Session(g).Run(new Dictionary<string, Tensor> { ["x"] = Tensor.FromArray([-1f, 0.25f, 0.75f, 300f], 4) }).Outputs["q"];
        Assert.Equal(new byte[] { 0, 0, 2, 255 }, ((Tensor<byte>)q).Data);
    }

    [Fact]
    public void QuantizeDequantizeLinear_Int16ZeroPoint_UsesInt16Range()
    {
        var s = new Session(Qdq(Tensor.Scalar(0.125f), Tensor.Scalar((short)-5), axis: 1, opset: 21));
        var r = s.Run(new Dictionary<string, Tensor> { ["x"] = X }, new RunOptions { Capture = ["q"] });
        Assert.Equal(new short[] { 5, -11, 795, 19, -45, 51 }, ((Tensor<short>)r.Captured["q"]).Data);
    }

    [Fact]
    public void QdqGraph_Backward_IsStraightThroughEstimator()
    {
        var s = new Session(Qdq(Tensor.Scalar(0.5f), Tensor.Scalar((byte)10), axis: 1));
        var x = Tensor.FromArray([-6f, -5.25f, 0f, 0.75f, 122.5f, 123f], 2, 3);
        var run = s.Run(new Dictionary<string, Tensor> { ["x"] = x }, new RunOptions { KeepForBackward = true });
        var gy = Tensor.FromArray([1f, 2f, 3f, 4f, 5f, 6f], 2, 3);
        var grads = s.Backward(run, new Dictionary<string, Tensor<float>> { ["y"] = gy });
        Assert.Equal([0f, 2f, 3f, 4f, 5f, 0f], grads["x"].Data);
    }

    [Fact]
    public void DynamicQuantizeLinear_OnnxFormula_ScaleZeroPointAndValues()
    {
        var g = new Engine.Graph();
        g.Opsets[""] = 11;
        g.Inputs.Add(new ValueInfo("x", DataType.Float32, 6));
        g.Nodes.Add(new Node("DynamicQuantizeLinear", ["x"], ["y", "scale", "zp"]));
        g.Outputs.Add(new ValueInfo("y", DataType.UInt8, 6));
        g.Outputs.Add(new ValueInfo("scale", DataType.Float32, (IEnumerable<Dim>?)null));
        g.Outputs.Add(new ValueInfo("zp", DataType.UInt8, (IEnumerable<Dim>?)null));
        var r = new Session(g).Run(new Dictionary<string, Tensor> { ["x"] = Tensor.FromArray([0f, 2f, -3f, -2.5f, 1.34f, 0.5f], 6) });
        Assert.Equal(5f / 255f, ((Tensor<float>)r.Outputs["scale"]).Data[0]);
        Assert.Equal((byte)153, ((Tensor<byte>)r.Outputs["zp"]).Data[0]);
        Assert.Equal(new byte[] { 153, 255, 0, 26, 221, 179 }, ((Tensor<byte>)r.Outputs["y"]).Data);
    }

    [Fact]
    public void MatMulInteger_InSession_ReturnsInt32()
    {
        var g = new Engine.Graph();
        g.Opsets[""] = 10;
        g.Inputs.Add(new ValueInfo("a", DataType.UInt8, 4, 3));
        g.Initializers["b"] = Tensor.FromArray(new byte[] { 1, 4, 2, 5, 3, 6 }, 3, 2);
        g.Initializers["za"] = Tensor.Scalar((byte)12);
        g.Nodes.Add(new Node("MatMulInteger", ["a", "b", "za"], ["y"]));
        g.Outputs.Add(new ValueInfo("y", DataType.Int32, 4, 2));
        var y = new Session(g).Run(new Dictionary<string, Tensor> { ["a"] = Tensor.FromArray(new byte[] { 11, 7, 3, 10, 6, 2, 9, 5, 1, 8, 4, 0 }, 4, 3) }).Outputs["y"];
        Assert.Equal(new[] { -38, -83, -44, -98, -50, -113, -56, -128 }, ((Tensor<int>)y).Data);
    }

    [Fact]
    public void BlockedQuantizeDequantize_UsesOneScaleAndZeroPointPerBlockAlongTheAxis()
    {
        // x [2, 3] blocked along axis 1 with block_size 2: blocks {0, 1} and {2} per row; scale and zero point [2, 2].
        var g = Qdq(Tensor.FromArray([0.5f, 10f, 0.25f, 1f], 2, 2), Tensor.FromArray(new byte[] { 10, 0, 20, 5 }, 2, 2), axis: 1, opset: 21);
        foreach (var n in g.Nodes) n.With("block_size", AttributeValue.FromInt(2));
        var y = new Session(g).Run(new Dictionary<string, Tensor> { ["x"] = X }).Output("y");
        // Row 0: 1.25/0.5 = 2.5 → 2 (half to even), −0.75/0.5 = −1.5 → −2, 100/10 = 10. Row 1: 3/0.25 = 12, −5/0.25 = −20, 7/1 = 7.
        Assert.Equal([1f, -1f, 100f, 3f, -5f, 7f], y.Data);
    }

    [Fact]
    public void BlockedDequantizeLinear_ScaleOfTheWrongShape_IsRejectedNamingTheNodeAndTheExpectedShape()
    {
        var g = Qdq(Tensor.Scalar(0.5f), Tensor.Scalar((byte)0), axis: 1, opset: 21);
        g.Nodes[0].With("block_size", AttributeValue.FromInt(2));
        var e = Assert.Throws<GraphException>(() => new Session(g).Run(new Dictionary<string, Tensor> { ["x"] = X }));
        Assert.Contains("QuantizeLinear 'quant'", e.Message);
        Assert.Contains("blocked scale expected shape [2, 2]", e.Message);
    }

    [Fact]
    public void DequantizeLinear_PerAxisScaleCountMismatch_NamesNodeAndArgument()
    {
        var s = new Session(Qdq(Tensor.FromArray([0.5f, 2f, 1f], 3), Tensor.FromArray(new sbyte[] { 0, 0, 0 }, 3), axis: 0));
        var e = Assert.Throws<GraphException>(() => s.Run(new Dictionary<string, Tensor> { ["x"] = X }));
        Assert.Contains("QuantizeLinear 'quant'", e.Message);
        Assert.Contains("argument 'scale' expected 2 scales", e.Message);
    }
}
