using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;

namespace QuantSharp.Onnx.Tests.Conformance;

/// <summary>The op-table fixes and additions the conformance suite asked for, each pinned by a small graph run through <see cref="Session"/>.</summary>
public class OpTableTests
{
    private static Tensor[] Run(string op, long opset, (string, AttributeValue)[] attributes, int outputs, params Tensor?[] inputs)
    {
        var g = new Graph { Name = op };
        g.Opsets[""] = opset;
        var names = new List<string>();
        for (int i = 0; i < inputs.Length; i++)
        {
            if (inputs[i] is not { } t) { names.Add(""); continue; }
            g.Inputs.Add(new ValueInfo($"in{i}", t.DataType, t.Shape));
            names.Add($"in{i}");
        }
        var outNames = Enumerable.Range(0, outputs).Select(i => $"out{i}").ToList();
        var node = new Node(op, names, outNames, "n1");
        foreach (var (k, v) in attributes) node.Attributes[k] = v;
        g.Nodes.Add(node);
        foreach (var o in outNames) g.Outputs.Add(new ValueInfo(o, DataType.Float32, (IEnumerable<Dim>?)null));
        var feeds = new Dictionary<string, Tensor>();
        for (int i = 0; i < inputs.Length; i++) if (inputs[i] is { } t) feeds[$"in{i}"] = t;
        var result = new Session(g).Run(feeds);
        return outNames.Select(o => result.Outputs[o]).ToArray();
    }

    private static Tensor Run1(string op, long opset, params Tensor?[] inputs) => Run(op, opset, [], 1, inputs)[0];

    private static (string, AttributeValue) A(string name, long v) => (name, AttributeValue.FromInt(v));

    private static T[] Data<T>(Tensor t) where T : unmanaged => ((Tensor<T>)t).Data;

    [Fact]
    public void Round_HalvesGoToEven()
    {
        var y = Run1("Round", 11, Tensor.FromArray(new float[] { 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 2.4f, -2.6f }, 7));
        Assert.Equal(new float[] { 0, 2, 2, -0f, -2, 2, -3 }, Data<float>(y));
    }

    [Fact]
    public void FloorCeilSign_MatchMathF()
    {
        var x = Tensor.FromArray(new float[] { -1.5f, -0f, 0.2f, 3f }, 4);
        Assert.Equal(new float[] { -2, -0f, 0, 3 }, Data<float>(Run1("Floor", 13, x)));
        Assert.Equal(new float[] { -1, -0f, 1, 3 }, Data<float>(Run1("Ceil", 13, x)));
        Assert.Equal(new float[] { -1, 0, 1, 1 }, Data<float>(Run1("Sign", 13, x)));
    }

    [Fact]
    public void Add_UInt8_WrapsAround()
    {
        var y = Run1("Add", 14, Tensor.FromArray(new byte[] { 250, 1 }, 2), Tensor.FromArray(new byte[] { 10 }, 1));
        Assert.Equal(new byte[] { 4, 11 }, Data<byte>(y));
    }

    [Fact]
    public void Mod_IntegerAndFloat_FollowDivisorSignUnlessFmod()
    {
        var a = Tensor.FromArray(new int[] { -4, 7, 5, -5 }, 4);
        var b = Tensor.FromArray(new int[] { 3, -3, 3, -3 }, 4);
        Assert.Equal(new int[] { 2, -2, 2, -2 }, Data<int>(Run(("Mod"), 13, [], 1, a, b)[0]));
        Assert.Equal(new int[] { -1, 1, 2, -2 }, Data<int>(Run("Mod", 13, [A("fmod", 1)], 1, a, b)[0]));
        var fa = Tensor.FromArray(new float[] { -4.5f, 7.5f }, 2);
        var fb = Tensor.FromArray(new float[] { 2f, -2f }, 2);
        Assert.Equal(new float[] { -0.5f, 1.5f }, Data<float>(Run("Mod", 13, [A("fmod", 1)], 1, fa, fb)[0]));
        Assert.Equal(new float[] { 1.5f, -0.5f }, Data<float>(Run("Mod", 13, [], 1, fa, fb)[0]));
    }

    [Fact]
    public void Mod_MixedTypes_ThrowsNamingNodeAndInput()
    {
        var e = Assert.Throws<GraphException>(() => Run1("Mod", 13, Tensor.FromArray(new int[] { 1 }, 1), Tensor.FromArray(new long[] { 1 }, 1)));
        Assert.Contains("Mod 'n1'", e.Message);
        Assert.Contains("input 1 expected element type Int32, got Int64", e.Message);
    }

    [Fact]
    public void Clip_Int8_DefaultBoundsAndMinAboveMax()
    {
        var x = Tensor.FromArray(new sbyte[] { -128, 0, 127 }, 3);
        Assert.Equal(new sbyte[] { -128, 0, 127 }, Data<sbyte>(Run1("Clip", 13, x)));
        var lo = Tensor.FromArray(new sbyte[] { 5 }, 1);
        var hi = Tensor.FromArray(new sbyte[] { 2 }, 1);
        Assert.Equal(new sbyte[] { 2, 2, 2 }, Data<sbyte>(Run1("Clip", 13, x, lo, hi)));
    }

    [Fact]
    public void Clip_Int8_NonScalarMin_ThrowsNamingNode()
    {
        var e = Assert.Throws<GraphException>(() => Run1("Clip", 13, Tensor.FromArray(new sbyte[] { 1, 2 }, 2), Tensor.FromArray(new sbyte[] { 1, 2 }, 2)));
        Assert.Contains("Clip 'n1'", e.Message);
        Assert.Contains("'min' expected a scalar", e.Message);
    }

    [Fact]
    public void MaxMin_Int64_Variadic()
    {
        var a = Tensor.FromArray(new long[] { 1, 9, long.MaxValue }, 3);
        var b = Tensor.FromArray(new long[] { 4 }, 1);
        Assert.Equal(new long[] { 4, 9, long.MaxValue }, Data<long>(Run1("Max", 13, a, b)));
        Assert.Equal(new long[] { 1, 4, 4 }, Data<long>(Run1("Min", 13, a, b)));
    }

    [Fact]
    public void Where_Int64_Broadcasts()
    {
        var c = Tensor.FromArray(new bool[] { true, false }, 2);
        var y = Run1("Where", 16, c, Tensor.FromArray(new long[] { 7 }, 1), Tensor.FromArray(new long[] { 1, 2, 3, 4 }, 2, 2));
        Assert.Equal(new long[] { 7, 2, 7, 4 }, Data<long>(y));
    }

    [Fact]
    public void Pow_FloatBaseIntegerExponent_AndIntegerBase()
    {
        Assert.Equal(new float[] { 8, 0.25f }, Data<float>(Run1("Pow", 15, Tensor.FromArray(new float[] { 2, 0.5f }, 2), Tensor.FromArray(new long[] { 3, 2 }, 2))));
        Assert.Equal(new long[] { 9, 1 }, Data<long>(Run1("Pow", 15, Tensor.FromArray(new long[] { 3, 1 }, 2), Tensor.FromArray(new long[] { 2, 5 }, 2))));
    }

    [Fact]
    public void Neg_Int64()
    {
        Assert.Equal(new long[] { -3, 4 }, Data<long>(Run1("Neg", 13, Tensor.FromArray(new long[] { 3, -4 }, 2))));
    }

    [Fact]
    public void LegacyAdd_BroadcastAtAxis()
    {
        var x = new Tensor<float>(2, 3, 2);
        var b = Tensor.FromArray(new float[] { 10, 20, 30 }, 3);
        var y = (Tensor<float>)Run("Add", 6, [A("broadcast", 1), A("axis", 1)], 1, x, b)[0];
        Assert.Equal(new float[] { 10, 10, 20, 20, 30, 30, 10, 10, 20, 20, 30, 30 }, y.Data);
    }

    [Fact]
    public void LegacyPRelu_SlopePerChannel()
    {
        var x = Tensor.FromArray(new float[] { -1, -1, -1, -1, 2, 2, 2, 2 }, 1, 2, 2, 2);
        var slope = Tensor.FromArray(new float[] { 0.5f, 0.25f }, 2);
        var y = (Tensor<float>)Run1("PRelu", 6, x, slope);
        Assert.Equal(new float[] { -0.5f, -0.5f, -0.5f, -0.5f, 2, 2, 2, 2 }, y.Data);
    }

    [Fact]
    public void MaxPool_UInt8_AndColumnMajorIndices()
    {
        var data = Enumerable.Range(1, 16).Select(v => (byte)v).ToArray();
        var x = Tensor.FromArray(data, 1, 1, 4, 4);
        var outs = Run("MaxPool", 12, [("kernel_shape", AttributeValue.FromInts(2L, 2L)), ("strides", AttributeValue.FromInts(2L, 2L)), A("storage_order", 1)], 2, x);
        Assert.Equal(new byte[] { 6, 8, 14, 16 }, Data<byte>(outs[0]));
        // Row-major offsets 5, 7, 13, 15 (h·4 + w) become w·4 + h: 5, 13, 7, 15.
        Assert.Equal(new long[] { 5, 13, 7, 15 }, Data<long>(outs[1]));
    }

    [Fact]
    public void ConvTranspose_SameUpper_PutsOddPaddingAtTheEnd()
    {
        var x = Tensor.FromArray(new float[] { 1, 2, 3 }, 1, 1, 3);
        var w = Tensor.FromArray(new float[] { 1, 1, 1 }, 1, 1, 3);
        var y = (Tensor<float>)Run("ConvTranspose", 11, [("auto_pad", AttributeValue.FromString("SAME_UPPER")), ("strides", AttributeValue.FromInts(2L))], 1, x, w)[0];
        // Full output (7 long): 1 1 3 2 5 3 3; total padding 1, at the end → first 6.
        Assert.Equal(new float[] { 1, 1, 3, 2, 5, 3 }, y.Data);
    }

    [Fact]
    public void ConvTranspose_OutputShapeBeyondFullSize_AddsImplicitOutputPadding()
    {
        var x = new Tensor<float>(1, 1, 3, 3);
        var w = new Tensor<float>(1, 2, 3, 3);
        var y = Run("ConvTranspose", 11, [("strides", AttributeValue.FromInts(3L, 2L)), ("output_shape", AttributeValue.FromInts(10L, 8L))], 1, x, w)[0];
        Assert.Equal([1, 2, 10, 8], y.Shape);
    }

    [Fact]
    public void BatchNormalization_OnnxTrainingMode_UpdatesRunningVarianceWithBiasedVariance()
    {
        var x = Tensor.FromArray(new float[] { 1, 3 }, 2, 1);
        var outs = Run("BatchNormalization", 15, [A("training_mode", 1), ("momentum", AttributeValue.FromFloat(0f))], 3,
            x, Tensor.FromArray(new float[] { 1 }, 1), Tensor.FromArray(new float[] { 0 }, 1), Tensor.FromArray(new float[] { 0 }, 1), Tensor.FromArray(new float[] { 1 }, 1));
        Assert.Equal(2f, Data<float>(outs[1])[0], 5);
        Assert.Equal(1f, Data<float>(outs[2])[0], 5); // population variance of {1, 3}; the unbiased one would be 2
    }

    [Fact]
    public void GatherElements_NegativeIndices_AndOutOfRangeError()
    {
        var data = Tensor.FromArray(new float[] { 1, 2, 3, 4 }, 2, 2);
        var y = Run("GatherElements", 13, [A("axis", 1)], 1, data, Tensor.FromArray(new long[] { -1, 0, 1, 1 }, 2, 2))[0];
        Assert.Equal(new float[] { 2, 1, 4, 4 }, Data<float>(y));
        var e = Assert.Throws<GraphException>(() => Run("GatherElements", 13, [A("axis", 1)], 1, data, Tensor.FromArray(new long[] { 2 }, 1, 1)));
        Assert.Contains("GatherElements: argument 'indices' expected values in [-2, 1], got 2", e.Message);
    }

    [Fact]
    public void Trilu_LowerWithK()
    {
        var x = Tensor.FromArray(Enumerable.Range(1, 9).Select(v => (float)v).ToArray(), 3, 3);
        var y = Run("Trilu", 14, [A("upper", 0)], 1, x, Tensor.FromArray(new long[] { -1 }, 1))[0];
        Assert.Equal(new float[] { 0, 0, 0, 4, 0, 0, 7, 8, 0 }, Data<float>(y));
    }

    [Fact]
    public void Trilu_Rank1_ThrowsNamingOp()
    {
        var e = Assert.Throws<GraphException>(() => Run1("Trilu", 14, Tensor.FromArray(new float[] { 1 }, 1)));
        Assert.Contains("Trilu", e.Message);
        Assert.Contains("input rank", e.Message);
    }

    [Fact]
    public void CumSum_ExclusiveReverse()
    {
        var y = Run("CumSum", 14, [A("exclusive", 1), A("reverse", 1)], 1, Tensor.FromArray(new int[] { 1, 2, 3 }, 3), Tensor.FromArray(new long[] { 0 }, 1))[0];
        Assert.Equal(new int[] { 5, 3, 0 }, Data<int>(y));
    }

    [Fact]
    public void Hardmax_FirstMaximumWinsTies()
    {
        var y = Run1("Hardmax", 13, Tensor.FromArray(new float[] { 3, 1, 3, 0, 0, 2 }, 2, 3));
        Assert.Equal(new float[] { 1, 0, 0, 0, 0, 1 }, Data<float>(y));
    }

    [Fact]
    public void ReduceLogSumExp_LargeValues_DoNotOverflow()
    {
        var y = Run("ReduceLogSumExp", 13, [A("keepdims", 0)], 1, Tensor.FromArray(new float[] { 1000, 1000 }, 2))[0];
        Assert.Equal(1000 + MathF.Log(2), Data<float>(y)[0], 3);
    }

    [Fact]
    public void Mean_ForwardAndGradientMatchFiniteDifferences()
    {
        var g = new Graph();
        g.Inputs.Add(new ValueInfo("a", DataType.Float32, 2, 2));
        g.Inputs.Add(new ValueInfo("b", DataType.Float32, 2));
        g.Outputs.Add(new ValueInfo("y", DataType.Float32, 2, 2));
        g.Nodes.Add(new Node("Mean", ["a", "b"], ["y"]));
        var session = new Session(g);
        var a = Tensor.FromArray(new float[] { 1, 2, 3, 4 }, 2, 2);
        var b = Tensor.FromArray(new float[] { 10, 20 }, 2);
        var run = session.Run(new Dictionary<string, Tensor> { ["a"] = a, ["b"] = b }, new RunOptions { KeepForBackward = true });
        Assert.Equal(new float[] { 5.5f, 11, 6.5f, 12 }, run.Output("y").Data);
        var seed = Tensor.FromArray(new float[] { 1, 2, 3, 4 }, 2, 2);
        var grads = session.Backward(run, new Dictionary<string, Tensor<float>> { ["y"] = seed });
        Assert.Equal(new float[] { 0.5f, 1, 1.5f, 2 }, grads["a"].Data);
        Assert.Equal(new float[] { 2, 3 }, grads["b"].Data); // (1 + 3) / 2, (2 + 4) / 2
    }

    [Fact]
    public void NegativeLogLikelihoodLoss_WeightedMean_SkipsIgnoredIndex()
    {
        var x = Tensor.FromArray(new float[] { -1, -2, -3, -4, -5, -6 }, 3, 2);
        var target = Tensor.FromArray(new long[] { 0, 1, 1 }, 3);
        var weight = Tensor.FromArray(new float[] { 2, 0.5f }, 2);
        var y = Run("NegativeLogLikelihoodLoss", 13, [("ignore_index", AttributeValue.FromInt(1)), ("reduction", AttributeValue.FromString("mean"))], 1, x, target, weight)[0];
        Assert.Equal(1f, Data<float>(y)[0], 6); // only sample 0: 2·1 / 2
        var none = Run("NegativeLogLikelihoodLoss", 13, [("reduction", AttributeValue.FromString("none"))], 1, x, target, weight)[0];
        Assert.Equal(new float[] { 2, 2, 3 }, Data<float>(none));
    }

    [Fact]
    public void SoftmaxCrossEntropyLoss_EqualsNllOfLogSoftmax()
    {
        var x = Tensor.FromArray(new float[] { 0, 0, 1, 1 }, 2, 2);
        var y = Run("SoftmaxCrossEntropyLoss", 13, [], 2, x, Tensor.FromArray(new long[] { 0, 1 }, 2));
        Assert.Equal(MathF.Log(2), Data<float>(y[0])[0], 5);
        Assert.Equal(-MathF.Log(2), Data<float>(y[1])[3], 5);
    }

    [Fact]
    public void NegativeLogLikelihoodLoss_TargetOutOfRange_ThrowsNamingArgument()
    {
        var e = Assert.Throws<GraphException>(() => Run1("NegativeLogLikelihoodLoss", 13, new Tensor<float>(1, 2), Tensor.FromArray(new long[] { 2 }, 1)));
        Assert.Contains("argument 'target' expected class indices in [0, 1], got 2", e.Message);
    }

    [Fact]
    public void NegativeLogLikelihoodLoss_TargetShapeMismatch_ThrowsNamingArgument()
    {
        var e = Assert.Throws<GraphException>(() => Run1("NegativeLogLikelihoodLoss", 13, new Tensor<float>(2, 2), Tensor.FromArray(new long[] { 0 }, 1)));
        Assert.Contains("'target'", e.Message);
    }

    [Fact]
    public void SpaceToDepth_ThenDepthToSpaceCrd_IsNotIdentity_ButDcrIs()
    {
        var x = Tensor.FromArray(Enumerable.Range(0, 32).Select(v => (float)v).ToArray(), 1, 2, 4, 4);
        var packed = Run("SpaceToDepth", 13, [A("blocksize", 2)], 1, x)[0];
        Assert.Equal([1, 8, 2, 2], packed.Shape);
        var back = Run("DepthToSpace", 13, [A("blocksize", 2)], 1, packed)[0];
        Assert.Equal(Data<float>(x), Data<float>(back));
        var crd = Run("DepthToSpace", 13, [A("blocksize", 2), ("mode", AttributeValue.FromString("CRD"))], 1, packed)[0];
        Assert.NotEqual(Data<float>(x), Data<float>(crd));
    }

    [Fact]
    public void DepthToSpace_ChannelsNotDivisible_ThrowsNamingArgument()
    {
        var e = Assert.Throws<GraphException>(() => Run("DepthToSpace", 13, [A("blocksize", 2)], 1, new Tensor<float>(1, 3, 2, 2)));
        Assert.Contains("DepthToSpace: argument 'input' expected channels divisible by blocksize² = 4, got 3", e.Message);
    }

    [Fact]
    public void OneHot_NegativeIndexCountsFromDepth_OutOfRangeIsAllOff()
    {
        var y = Run1("OneHot", 11, Tensor.FromArray(new long[] { 0, -1, 5 }, 3), Tensor.FromArray(new long[] { 3 }, 1), Tensor.FromArray(new float[] { 0, 9 }, 2));
        Assert.Equal([3, 3], y.Shape);
        Assert.Equal(new float[] { 9, 0, 0, 0, 0, 9, 0, 0, 0 }, Data<float>(y));
    }

    [Fact]
    public void ScatterElements_AddReduction_AccumulatesDuplicates()
    {
        var y = Run("ScatterElements", 16, [("reduction", AttributeValue.FromString("add"))], 1,
            Tensor.FromArray(new float[] { 1, 2, 3 }, 3), Tensor.FromArray(new long[] { 1, 1, -1 }, 3), Tensor.FromArray(new float[] { 10, 20, 30 }, 3))[0];
        Assert.Equal(new float[] { 1, 32, 33 }, Data<float>(y));
    }

    [Fact]
    public void GatherND_WithBatchDims()
    {
        var data = Tensor.FromArray(Enumerable.Range(0, 8).Select(v => (float)v).ToArray(), 2, 2, 2);
        var y = Run("GatherND", 13, [A("batch_dims", 1)], 1, data, Tensor.FromArray(new long[] { 1, 0 }, 2, 1))[0];
        Assert.Equal([2, 2], y.Shape);
        Assert.Equal(new float[] { 2, 3, 4, 5 }, Data<float>(y));
    }

    [Fact]
    public void IsInf_DetectNegativeOnly_AndIsNaN()
    {
        var x = Tensor.FromArray(new float[] { float.NegativeInfinity, float.PositiveInfinity, float.NaN, 1 }, 4);
        Assert.Equal(new bool[] { true, false, false, false }, Data<bool>(Run("IsInf", 10, [A("detect_positive", 0)], 1, x)[0]));
        Assert.Equal(new bool[] { false, false, true, false }, Data<bool>(Run1("IsNaN", 13, x)));
    }

    [Fact]
    public void Shrink_AndEyeLikeWithOffset()
    {
        var y = Run("Shrink", 9, [("lambd", AttributeValue.FromFloat(1f)), ("bias", AttributeValue.FromFloat(0.5f))], 1, Tensor.FromArray(new float[] { -2, 0.5f, 3 }, 3))[0];
        Assert.Equal(new float[] { -1.5f, 0, 2.5f }, Data<float>(y));
        var eye = Run("EyeLike", 9, [A("k", 1)], 1, new Tensor<int>(2, 3))[0];
        Assert.Equal(new int[] { 0, 1, 0, 0, 0, 1 }, Data<int>(eye));
    }

    [Fact]
    public void TopK_SmallestSorted_TiesByLowerIndex()
    {
        var outs = Run("TopK", 11, [A("largest", 0)], 2, Tensor.FromArray(new float[] { 3, 1, 2, 1 }, 4), Tensor.FromArray(new long[] { 3 }, 1));
        Assert.Equal(new float[] { 1, 1, 2 }, Data<float>(outs[0]));
        Assert.Equal(new long[] { 1, 3, 2 }, Data<long>(outs[1]));
    }

    [Fact]
    public void TopK_KAboveAxisLength_ThrowsNamingArgument()
    {
        var e = Assert.Throws<GraphException>(() => Run("TopK", 11, [], 2, Tensor.FromArray(new float[] { 1 }, 1), Tensor.FromArray(new long[] { 2 }, 1)));
        Assert.Contains("TopK: argument 'K' expected 0..1, got 2", e.Message);
    }

    [Fact]
    public void Compress_AlongAxis_AndFlattened()
    {
        var x = Tensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, 3, 2);
        var c = Tensor.FromArray(new bool[] { false, true }, 2);
        Assert.Equal(new float[] { 3, 4 }, Data<float>(Run("Compress", 11, [A("axis", 0)], 1, x, c)[0]));
        Assert.Equal(new float[] { 2 }, Data<float>(Run1("Compress", 11, x, c)));
    }

    [Fact]
    public void BitShift_UInt8_LeftDropsOverflow()
    {
        var y = Run("BitShift", 11, [("direction", AttributeValue.FromString("LEFT"))], 1, Tensor.FromArray(new byte[] { 0x81, 1 }, 2), Tensor.FromArray(new byte[] { 1, 8 }, 2))[0];
        Assert.Equal(new byte[] { 2, 0 }, Data<byte>(y));
        var e = Assert.Throws<GraphException>(() => Run("BitShift", 11, [("direction", AttributeValue.FromString("UP"))], 1, Tensor.FromArray(new byte[] { 1 }, 1), Tensor.FromArray(new byte[] { 1 }, 1)));
        Assert.Contains("attribute 'direction' expected LEFT or RIGHT, got 'UP'", e.Message);
    }
}
