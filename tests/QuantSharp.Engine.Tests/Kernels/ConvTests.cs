using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;
using static QuantSharp.Engine.Tests.Kernels.ConvTestCases;

namespace QuantSharp.Engine.Tests.Kernels;

public class ConvTests
{
    [Theory]
    [MemberData(nameof(ConvTestCases.ConvNames), MemberType = typeof(ConvTestCases))]
    public void Conv_ForwardAndGradients_MatchReference(string name)
    {
        var c = ConvCases[name];
        var x = Rand(1, c.X);
        var w = Rand(2, c.W);
        var b = Rand(3, c.W[0]);
        var y = Conv.Forward(x, w, b, c.P);
        AssertClose(ConvReference.Forward(x, w, b, c.P), y, name + " forward");
        AssertClose(ConvReference.Forward(x, w, null, c.P), Conv.Forward(x, w, null, c.P), name + " forward without bias");

        var gy = Rand(4, y.Shape);
        AssertClose(ConvReference.BackwardData(gy, w, c.X, c.P), Conv.BackwardData(gy, w, c.X, c.P), name + " backward-data");
        AssertClose(ConvReference.BackwardWeight(x, gy, c.W, c.P), Conv.BackwardWeight(x, gy, c.W, c.P), name + " backward-weight");
        AssertClose(ConvReference.BackwardBias(gy), Conv.BackwardBias(gy), name + " backward-bias");
    }

    [Theory]
    [MemberData(nameof(ConvTestCases.TransposeNames), MemberType = typeof(ConvTestCases))]
    public void ConvTranspose_ForwardAndGradients_MatchReference(string name)
    {
        var c = TransposeCases[name];
        var x = Rand(5, c.X);
        var w = Rand(6, c.W);
        var b = Rand(7, c.W[1] * c.P.Groups);
        var y = Conv.Transpose(x, w, b, c.P, c.OutputPadding);
        Assert.Equal(c.P.TransposeOutputShape(c.X, c.W, c.OutputPadding), y.Shape);
        AssertClose(ConvReference.Transpose(x, w, b, c.P, c.OutputPadding), y, name + " forward");

        var gy = Rand(8, y.Shape);
        AssertClose(ConvReference.TransposeBackwardData(gy, w, c.X, c.P, c.OutputPadding),
            Conv.TransposeBackwardData(gy, w, c.X, c.P, c.OutputPadding), name + " backward-data");
        AssertClose(ConvReference.TransposeBackwardWeight(x, gy, c.W, c.P, c.OutputPadding),
            Conv.TransposeBackwardWeight(x, gy, c.W, c.P, c.OutputPadding), name + " backward-weight");
    }

    [Fact]
    public void ConvTranspose_IsAdjointOfConv()
    {
        // <conv(x), y> = <x, convT(y)> when the ConvTranspose uses the Conv weight: the defining identity of backward-data.
        var p = new ConvParams([2, 1], [1, 0], [0, 2], [1, 2], 2);
        var x = Rand(11, 2, 4, 7, 6);
        var w = Rand(12, 6, 2, 3, 2);
        var y = Conv.Forward(x, w, null, p);
        var r = Rand(13, y.Shape);
        var xt = Conv.BackwardData(r, w, x.Dims, p);
        double lhs = 0, rhs = 0;
        for (int i = 0; i < y.Length; i++) lhs += (double)y.Data[i] * r.Data[i];
        for (int i = 0; i < x.Length; i++) rhs += (double)x.Data[i] * xt.Data[i];
        Assert.True(Math.Abs(lhs - rhs) <= 1e-4 * (1 + Math.Abs(lhs)), $"{lhs} vs {rhs}");
    }

    [Fact]
    public void Conv_HandComputed2x2_MatchesLiteralValues()
    {
        var x = Tensor.FromArray([1f, 2, 3, 4, 5, 6, 7, 8, 9], 1, 1, 3, 3);
        var w = Tensor.FromArray([1f, 2, 3, 4], 1, 1, 2, 2);
        var b = Tensor.FromArray([0.5f], 1);
        // y[i,j] = x[i,j] + 2x[i,j+1] + 3x[i+1,j] + 4x[i+1,j+1] + 0.5
        Assert.Equal([37.5f, 47.5f, 67.5f, 77.5f], Conv.Forward(x, w, b, ConvParams.Uniform(2)).Data);
        Assert.Equal([37.5f, 47.5f, 67.5f, 77.5f], ConvReference.Forward(x, w, b, ConvParams.Uniform(2)).Data);
        // Pad 1, stride 2: windows at padded (0,0),(0,2),(2,0),(2,2) → 4·1, 3·2+4·3, 2·4+4·7, 1·5+2·6+3·8+4·9.
        var y2 = Conv.Forward(x, w, null, ConvParams.Uniform(2, stride: 2, pad: 1));
        Assert.Equal([1, 1, 2, 2], y2.Shape);
        Assert.Equal([4f, 18f, 36f, 77f], y2.Data);
    }

    [Fact]
    public void Conv_HandComputedDepthwise_MatchesLiteralValues()
    {
        // Two channels, each with its own 1×3 kernel, pad 1 along width: [0+1+2, 1+2+3, 2+3+0] and [0·0+10−20, 0·10+20−30, 0·20+30−0].
        var x = Tensor.FromArray([1f, 2, 3, 10, 20, 30], 1, 2, 1, 3);
        var w = Tensor.FromArray([1f, 1, 1, 0, 1, -1], 2, 1, 1, 3);
        var y = Conv.Forward(x, w, null, new ConvParams([1, 1], [0, 1], [0, 1], [1, 1], 2));
        Assert.Equal([3f, 6, 5, -10, -10, 30], y.Data);
    }

    [Fact]
    public void ConvTranspose_HandComputedStride2_MatchesLiteralValues()
    {
        // x = [1, 2], kernel [1, 1, 1], stride 2: copies of the kernel scaled by x placed every 2 cells and summed.
        var x = Tensor.FromArray([1f, 2], 1, 1, 2);
        var w = Tensor.FromArray([1f, 1, 1], 1, 1, 3);
        Assert.Equal([1f, 1, 3, 2, 2], Conv.Transpose(x, w, null, ConvParams.Uniform(1, stride: 2)).Data);
        // output_padding 1 adds one more cell at the end that no input reaches.
        Assert.Equal([1f, 1, 3, 2, 2, 0], Conv.Transpose(x, w, null, ConvParams.Uniform(1, stride: 2), [1]).Data);
        // Pads crop the result: begin 1, end 1.
        Assert.Equal([1f, 3, 2], Conv.Transpose(x, w, null, ConvParams.Uniform(1, stride: 2, pad: 1)).Data);
    }

    [Fact]
    public void Conv_BackwardBias_SumsOverBatchAndSpace()
    {
        var gy = Tensor.FromArray([1f, 2, 3, 4, 5, 6, 7, 8], 2, 2, 2);
        Assert.Equal([1f + 2 + 5 + 6, 3f + 4 + 7 + 8], Conv.BackwardBias(gy).Data);
    }

    [Fact]
    public void Conv_Destination_IsOverwrittenAndReturned()
    {
        var p = ConvParams.Uniform(2, pad: 1);
        var x = Rand(51, 2, 3, 5, 4);
        var w = Rand(52, 4, 3, 3, 3);
        var dest = Tensor.Full(float.NaN, 2, 4, 5, 4);
        Assert.Same(dest, Conv.Forward(x, w, null, p, dest));
        AssertClose(ConvReference.Forward(x, w, null, p), dest, "forward into destination");
        var gy = Rand(53, dest.Shape);
        var gx = Tensor.Full(float.NaN, x.Shape);
        Assert.Same(gx, Conv.BackwardData(gy, w, x.Dims, p, gx));
        AssertClose(ConvReference.BackwardData(gy, w, x.Dims, p), gx, "backward-data into destination");
        var gw = Tensor.Full(float.NaN, w.Shape);
        Assert.Same(gw, Conv.BackwardWeight(x, gy, w.Dims, p, gw));
        AssertClose(ConvReference.BackwardWeight(x, gy, w.Dims, p), gw, "backward-weight into destination");
        var ex = Assert.Throws<ShapeException>(() => Conv.Forward(x, w, null, p, new Tensor<float>(2, 4, 5, 5)));
        Assert.Contains("Conv: argument 'destination' expected shape [2,4,5,4], got [2,4,5,5]", ex.Message);
    }

    [Theory]
    [InlineData("2d_odd_pad1")]
    [InlineData("2d_stride2_asym")]
    [InlineData("2d_groups2_stride12")]
    [InlineData("3d_groups_dil")]
    [InlineData("1d_groups2_stride2_dil2_asym")]
    public void Conv_ImageLoweredInBandsOfRows_MatchesReference(string name)
    {
        // A tiny im2col cap forces one band per output row (the path large images take); results must not change.
        var c = ConvCases[name];
        var x = Rand(71, c.X);
        var w = Rand(72, c.W);
        var b = Rand(73, c.W[0]);
        int saved = Conv.ColBufferCapFloats;
        Conv.ColBufferCapFloats = 1;
        try
        {
            var y = Conv.Forward(x, w, b, c.P);
            AssertClose(ConvReference.Forward(x, w, b, c.P), y, name + " banded forward");
            var gy = Rand(74, y.Shape);
            AssertClose(ConvReference.BackwardData(gy, w, c.X, c.P), Conv.BackwardData(gy, w, c.X, c.P), name + " banded backward-data");
            AssertClose(ConvReference.BackwardWeight(x, gy, c.W, c.P), Conv.BackwardWeight(x, gy, c.W, c.P), name + " banded backward-weight");
        }
        finally
        {
            Conv.ColBufferCapFloats = saved;
        }
    }

    [Fact]
    public void Conv_LargerBatch_ParallelPathMatchesReference()
    {
        // Enough images that the work is split over cores, each with its own im2col buffer and weight-gradient partial.
        var p = ConvParams.Uniform(2, pad: 1);
        var x = Rand(21, 9, 3, 6, 5);
        var w = Rand(22, 4, 3, 3, 3);
        var y = Conv.Forward(x, w, null, p);
        AssertClose(ConvReference.Forward(x, w, null, p), y, "forward");
        var gy = Rand(23, y.Shape);
        AssertClose(ConvReference.BackwardWeight(x, gy, w.Dims, p), Conv.BackwardWeight(x, gy, w.Dims, p), "backward-weight");
        AssertClose(ConvReference.BackwardData(gy, w, x.Dims, p), Conv.BackwardData(gy, w, x.Dims, p), "backward-data");
    }
}

/// <summary>Shared configuration tables and tolerance for the convolution tests.</summary>
internal static class ConvTestCases
{
    /// <summary>Fast float kernels vs the double-accumulating reference: |a − r| ≤ Tol·(1 + |r|).</summary>
    public const float Tol = 1e-4f;

    public sealed record Case(int[] X, int[] W, ConvParams P, int[]? OutputPadding = null);

    private static ConvParams P(int[] s, int[] pb, int[] pe, int[] d, int g = 1) => new(s, pb, pe, d, g);

    /// <summary>Conv configurations: 1-D/2-D/3-D, odd sizes, strides, dilation, asymmetric pads, groups, 1×1, depthwise.</summary>
    public static readonly Dictionary<string, Case> ConvCases = new()
    {
        ["1d_pad1"] = new([2, 3, 11], [4, 3, 3], ConvParams.Uniform(1, pad: 1)),
        ["1d_groups2_stride2_dil2_asym"] = new([1, 4, 13], [6, 2, 3], P([2], [1], [2], [2], 2)),
        ["1d_depthwise_k5_stride2"] = new([2, 4, 40], [4, 1, 5], ConvParams.Uniform(1, stride: 2, pad: 2, groups: 4)),
        ["2d_odd_pad1"] = new([2, 3, 7, 9], [5, 3, 3, 3], ConvParams.Uniform(2, pad: 1)),
        ["2d_stride2_asym"] = new([1, 3, 9, 8], [4, 3, 3, 2], P([2, 2], [1, 0], [2, 1], [1, 1])),
        ["2d_stride2_wide_rows"] = new([1, 2, 5, 70], [3, 2, 3, 3], ConvParams.Uniform(2, stride: 2, pad: 1)),
        ["2d_dil2"] = new([2, 2, 10, 9], [3, 2, 3, 3], P([1, 1], [2, 1], [2, 1], [2, 2])),
        ["2d_groups2_stride12"] = new([2, 4, 6, 7], [6, 2, 3, 3], P([1, 2], [1, 1], [1, 1], [1, 1], 2)),
        ["2d_pointwise"] = new([2, 5, 6, 7], [3, 5, 1, 1], ConvParams.Uniform(2)),
        ["2d_pointwise_groups"] = new([3, 4, 5, 3], [6, 2, 1, 1], ConvParams.Uniform(2, groups: 2)),
        ["2d_pointwise_stride2"] = new([1, 4, 7, 7], [3, 4, 1, 1], ConvParams.Uniform(2, stride: 2)),
        ["2d_depthwise_k3"] = new([2, 6, 9, 11], [6, 1, 3, 3], ConvParams.Uniform(2, pad: 1, groups: 6)),
        ["2d_depthwise_stride2_dil2_asym"] = new([1, 5, 13, 20], [5, 1, 3, 3], P([2, 2], [1, 2], [3, 0], [2, 2], 5)),
        ["2d_depthwise_k5_stride13_wide"] = new([1, 3, 5, 37], [3, 1, 5, 5], P([1, 3], [2, 2], [2, 2], [1, 1], 3)),
        ["2d_depthwise_multiplier2"] = new([1, 3, 6, 6], [6, 1, 3, 3], ConvParams.Uniform(2, pad: 1, groups: 3)),
        ["2d_kernel_equals_padded_input"] = new([1, 2, 3, 3], [2, 2, 5, 5], ConvParams.Uniform(2, pad: 1)),
        ["3d_asym_stride"] = new([1, 2, 5, 6, 7], [3, 2, 3, 2, 3], P([1, 2, 1], [1, 0, 1], [1, 1, 0], [1, 1, 1])),
        ["3d_groups_dil"] = new([2, 4, 6, 5, 5], [4, 2, 2, 3, 3], P([2, 1, 1], [0, 1, 1], [1, 1, 0], [2, 1, 2], 2)),
    };

    /// <summary>ConvTranspose configurations (weight [C, M/group, k…]), several with output_padding.</summary>
    public static readonly Dictionary<string, Case> TransposeCases = new()
    {
        ["1d_stride2_outpad1"] = new([2, 3, 5], [3, 2, 3], ConvParams.Uniform(1, stride: 2, pad: 1), [1]),
        ["2d_groups2_stride2_asym_outpad"] = new([1, 4, 4, 5], [4, 3, 3, 3], P([2, 2], [1, 0], [0, 1], [1, 1], 2), [1, 0]),
        ["2d_dil2_outpad_below_dilation"] = new([1, 2, 4, 4], [2, 3, 3, 3], P([1, 1], [0, 0], [0, 0], [2, 2]), [1, 1]),
        ["2d_depthwise_stride2_outpad1"] = new([2, 4, 5, 6], [4, 1, 3, 3], ConvParams.Uniform(2, stride: 2, pad: 1, groups: 4), [1, 1]),
        ["2d_pointwise"] = new([2, 3, 4, 5], [3, 2, 1, 1], ConvParams.Uniform(2)),
        ["2d_depthwise_dil2_stride3_outpad2"] = new([1, 3, 4, 5], [3, 1, 3, 2], P([3, 3], [1, 0], [0, 2], [2, 2], 3), [2, 1]),
        ["3d_stride212"] = new([1, 2, 3, 3, 4], [2, 2, 2, 3, 3], P([2, 1, 2], [0, 1, 0], [0, 0, 1], [1, 1, 1]), [1, 0, 0]),
    };

    public static IEnumerable<object[]> ConvNames => ConvCases.Keys.Select(k => new object[] { k });
    public static IEnumerable<object[]> TransposeNames => TransposeCases.Keys.Select(k => new object[] { k });

    public static Tensor<float> Rand(int seed, params int[] shape) => Tensor.RandomUniform(new Random(seed), -1f, 1f, shape);

    public static void AssertClose(Tensor<float> expected, Tensor<float> actual, string what)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        for (int i = 0; i < expected.Length; i++)
        {
            float e = expected.Data[i], a = actual.Data[i];
            Assert.True(Math.Abs(a - e) <= Tol * (1 + Math.Abs(e)), $"{what}: element {i} expected {e:G7}, got {a:G7}");
        }
    }
}
