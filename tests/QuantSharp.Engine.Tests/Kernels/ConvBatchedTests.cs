using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;

namespace QuantSharp.Engine.Tests.Kernels;

public class ConvBatchedTests
{
    /// <summary>Float tolerance against the double-accumulating reference, relative to the largest reference magnitude.</summary>
    private const double Tolerance = 1e-4;

    public sealed record Case(int[] X, int[] W, ConvParams P);

    private static ConvParams Params(int[] strides, int[] padsBegin, int[] padsEnd, int[] dilations) => new(strides, padsBegin, padsEnd, dilations);

    public static readonly Dictionary<string, Case> Cases = new()
    {
        ["quickstart_conv2_small"] = new([5, 6, 14, 14], [8, 6, 3, 3], ConvParams.Uniform(2, stride: 2, pad: 1)),
        ["quickstart_conv1_c1"] = new([7, 1, 28, 28], [6, 1, 3, 3], ConvParams.Uniform(2, stride: 2, pad: 1)),
        ["odd_7x7_pad1"] = new([3, 5, 7, 7], [9, 5, 3, 3], ConvParams.Uniform(2, pad: 1)),
        ["asym_pads_stride2"] = new([4, 3, 9, 8], [5, 3, 3, 3], Params([2, 2], [1, 0], [2, 1], [1, 1])),
        ["dilation2"] = new([3, 2, 9, 11], [4, 2, 3, 3], ConvParams.Uniform(2, pad: 2, dilation: 2)),
        ["stride3_kernel2x3"] = new([5, 3, 10, 13], [7, 3, 2, 3], Params([3, 2], [0, 1], [1, 0], [1, 1])),
        ["one_dimensional"] = new([6, 4, 19], [5, 4, 3], ConvParams.Uniform(1, stride: 2, pad: 1)),
        ["three_dimensional"] = new([3, 2, 5, 6, 4], [4, 2, 3, 3, 2], ConvParams.Uniform(3, pad: 1)),
        ["batch_one"] = new([1, 4, 6, 6], [3, 4, 3, 3], ConvParams.Uniform(2, pad: 1)),
        ["many_images_per_chunk"] = new([37, 3, 4, 4], [5, 3, 3, 3], ConvParams.Uniform(2, pad: 1)),
        ["skinny_batch1_2x2"] = new([1, 64, 4, 4], [128, 64, 3, 3], ConvParams.Uniform(2, stride: 2, pad: 1)),
        ["skinny_pointwise_batch1"] = new([1, 320, 2, 2], [256, 320, 1, 1], ConvParams.Uniform(2)),
    };

    public static TheoryData<string, int> CaseNamesAndCores()
    {
        var data = new TheoryData<string, int>();
        foreach (var name in Cases.Keys)
            foreach (int cores in new[] { 1, 2, 3 }) data.Add(name, cores);
        return data;
    }

    private static Tensor<float> Rand(int seed, params int[] shape) => Tensor.RandomNormal(new Random(seed), 0, 1, shape);

    private static void AssertClose(Tensor<float> expected, Tensor<float> actual, string what)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        double scale = 0;
        foreach (float v in expected.Data) scale = Math.Max(scale, Math.Abs(v));
        double tol = Tolerance * Math.Max(scale, 1e-3);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected.Data[i] - actual.Data[i]) <= tol,
                $"{what}: element {i} = {actual.Data[i]}, reference {expected.Data[i]} (tolerance {tol:G3})");
    }

    /// <summary>Without forcing: a conv whose output is a few pixels takes the skinny GEMM (pointwise ones too) and matches the reference.</summary>
    [Theory]
    [InlineData("skinny_batch1_2x2")]
    [InlineData("skinny_pointwise_batch1")]
    public void SkinnyForward_ByDefault_MatchesReference(string name)
    {
        var c = Cases[name];
        var x = Rand(1, c.X);
        var w = Rand(2, c.W);
        var b = Rand(3, c.W[0]);
        Assert.True(ConvBatched.PreferForward(ConvGeometry.ForConv("test", c.X, c.W, c.P)));
        AssertClose(ConvReference.Forward(x, w, b, c.P), Conv.Forward(x, w, b, c.P), name + " forward");
    }

    [Theory]
    [MemberData(nameof(CaseNamesAndCores))]
    public void BatchedPath_MatchesReference_ForAnyCorePartition(string name, int cores)
    {
        var c = Cases[name];
        var x = Rand(1, c.X);
        var w = Rand(2, c.W);
        var b = Rand(3, c.W[0]);
        var yShape = ConvGeometry.ForConv("test", c.X, c.W, c.P).OutputShape;
        var gy = Rand(4, yShape);
        Tensor<float> y, yNoBias, gx, gw;
        try
        {
            ConvBatched.Force = true;
            ConvImplicitGemm.CoresOverride = cores;
            y = Conv.Forward(x, w, b, c.P);
            yNoBias = Conv.Forward(x, w, null, c.P);
            gx = Conv.BackwardData(gy, w, c.X, c.P);
            gw = Conv.BackwardWeight(x, gy, c.W, c.P);
        }
        finally
        {
            ConvBatched.Force = null;
            ConvImplicitGemm.CoresOverride = 0;
        }
        AssertClose(ConvReference.Forward(x, w, b, c.P), y, name + " forward");
        AssertClose(ConvReference.Forward(x, w, null, c.P), yNoBias, name + " forward without bias");
        AssertClose(ConvReference.BackwardData(gy, w, c.X, c.P), gx, name + " backward-data");
        AssertClose(ConvReference.BackwardWeight(x, gy, c.W, c.P), gw, name + " backward-weight");
    }

    [Fact]
    public void BatchedPath_WritesEveryElementOfAGarbageDestination()
    {
        var c = Cases["odd_7x7_pad1"];
        var x = Rand(5, c.X);
        var w = Rand(6, c.W);
        var yShape = ConvGeometry.ForConv("test", c.X, c.W, c.P).OutputShape;
        var gy = Rand(7, yShape);
        var y = Tensor.Full(float.NaN, yShape);
        var gx = Tensor.Full(float.NaN, c.X);
        var gw = Tensor.Full(float.NaN, c.W);
        try
        {
            ConvBatched.Force = true;
            Conv.Forward(x, w, null, c.P, y);
            Conv.BackwardData(gy, w, c.X, c.P, gx);
            Conv.BackwardWeight(x, gy, c.W, c.P, gw);
        }
        finally
        {
            ConvBatched.Force = null;
        }
        AssertClose(ConvReference.Forward(x, w, null, c.P), y, "forward into destination");
        AssertClose(ConvReference.BackwardData(gy, w, c.X, c.P), gx, "backward-data into destination");
        AssertClose(ConvReference.BackwardWeight(x, gy, c.W, c.P), gw, "backward-weight into destination");
    }

    public static TheoryData<int[], int[], int> PointwiseCases()
    {
        var data = new TheoryData<int[], int[], int>();
        foreach (int cores in new[] { 1, 2, 3 })
        {
            data.Add([32, 96, 2, 2], [80, 96, 1, 1], cores); // MobileNetV2's last stage at 64×64: 4 pixels, 8 images per panel
            data.Add([5, 7, 3, 3], [9, 7, 1, 1], cores); // 9 pixels: images cut by panel edges
            data.Add([37, 16, 4, 4], [24, 16, 1, 1], cores); // several chunks
            data.Add([3, 5, 8, 8], [6, 5, 1, 1], cores); // 64 pixels, the largest plane taken
            data.Add([6, 4, 7], [5, 4, 1], cores); // one spatial axis
        }
        return data;
    }

    /// <summary>1×1 convolutions of several images with small planes go side by side into one GEMM packed straight from x.</summary>
    [Theory]
    [MemberData(nameof(PointwiseCases))]
    public void PointwiseOnSmallPlanes_ByDefault_MatchesReference_ForAnyCorePartition(int[] xShape, int[] wShape, int cores)
    {
        var p = ConvParams.Uniform(xShape.Length - 2);
        Assert.True(ConvBatched.PreferForward(ConvGeometry.ForConv("test", xShape, wShape, p)));
        var x = Rand(11, xShape);
        var w = Rand(12, wShape);
        var b = Rand(13, wShape[0]);
        var y = Tensor.Full(float.NaN, ConvGeometry.ForConv("test", xShape, wShape, p).OutputShape);
        Tensor<float> yNoBias;
        try
        {
            ConvImplicitGemm.CoresOverride = cores;
            Conv.Forward(x, w, b, p, y);
            yNoBias = Conv.Forward(x, w, null, p);
        }
        finally { ConvImplicitGemm.CoresOverride = 0; }
        AssertClose(ConvReference.Forward(x, w, b, p), y, "pointwise forward");
        AssertClose(ConvReference.Forward(x, w, null, p), yNoBias, "pointwise forward without bias");
    }

    /// <summary>
    /// An image's output does not depend on the images beside it (evaluation runs a batch in chunks and relies on it): the
    /// first images of a batch of 12 equal, bit for bit, the same images run as a batch of 2 and of 6.
    /// </summary>
    [Fact]
    public void PointwiseOnSmallPlanes_AnImagesBitsDoNotDependOnTheBatch()
    {
        var p = ConvParams.Uniform(2);
        var x = Rand(21, 12, 40, 3, 3);
        var w = Rand(22, 56, 40, 1, 1);
        var b = Rand(23, 56);
        var whole = Conv.Forward(x, w, b, p);
        foreach (int n in new[] { 2, 6 })
        {
            var part = Conv.Forward(new Tensor<float>(x.Data[..(n * 40 * 9)], n, 40, 3, 3), w, b, p);
            Assert.Equal(whole.Data[..part.Length], part.Data);
        }
    }

    /// <summary>The direct packer of 2-D convolutions over several images writes exactly the panels of the im2col matrix it replaces.</summary>
    [Theory]
    [InlineData("quickstart_conv2_small")]
    [InlineData("odd_7x7_pad1")]
    [InlineData("asym_pads_stride2")]
    [InlineData("dilation2")]
    [InlineData("stride3_kernel2x3")]
    [InlineData("many_images_per_chunk")]
    public unsafe void SmallPlanePacker_WritesTheIm2ColPanels(string name)
    {
        var c = Cases[name];
        var g = ConvGeometry.ForConv("test", c.X, c.W, c.P);
        Assert.True(ConvSmallPlaneBatchPacker.Takes(g));
        var x = Rand(31, c.X);
        int k = g.ColRows, cols = g.N * g.OutSize, nr = Gemm.NR;
        var col = new float[(long)k * cols];
        var panels = new float[(long)k * ((cols + nr - 1) / nr * nr)];
        var offsets = ConvSmallPlaneBatchPacker.TapOffsets(g);
        fixed (float* px = x.Data, pc = col, pp = panels)
        fixed (int* po = offsets)
        {
            for (int b = 0; b < g.N; b++) ConvIm2Col.Im2Col(g, px + (long)b * g.C * g.InSize, pc + (long)b * g.OutSize, 0, g.OD * g.OH, cols);
            // Two k slices and a column range that starts past 0, as the GEMM driver asks for them.
            var packer = new ConvSmallPlaneBatchPacker(g, px, po);
            int half = k / 2;
            packer.Pack(0, half, 0, cols, pp);
            packer.Pack(half, k - half, 0, cols, pp + (long)half * ((cols + nr - 1) / nr * nr));
            for (int kk = 0; kk < k; kk++)
                for (int j = 0; j < cols; j++)
                {
                    bool first = kk < half;
                    int kc = first ? half : k - half, row = first ? kk : kk - half;
                    float packed = pp[(first ? 0 : (long)half * ((cols + nr - 1) / nr * nr)) + (long)(j / nr * nr) * kc + row * nr + j % nr];
                    Assert.Equal(pc[(long)kk * cols + j], packed);
                }
        }
    }

    [Fact]
    public void SmallPlanes3x3_AnImagesBitsDoNotDependOnTheBatch()
    {
        var p = ConvParams.Uniform(2, pad: 1);
        var x = Rand(41, 10, 24, 4, 4);
        var w = Rand(42, 32, 24, 3, 3);
        var b = Rand(43, 32);
        var whole = Conv.Forward(x, w, b, p);
        foreach (int n in new[] { 2, 4 })
        {
            var part = Conv.Forward(new Tensor<float>(x.Data[..(n * 24 * 16)], n, 24, 4, 4), w, b, p);
            Assert.Equal(whole.Data[..part.Length], part.Data);
        }
    }

    [Fact]
    public void Prefer_SmallPlanesBatched_LargePlanesAndGroupsNot()
    {
        var p = ConvParams.Uniform(2, stride: 2, pad: 1);
        Assert.True(ConvBatched.Prefer(ConvGeometry.ForConv("t", [128, 128, 14, 14], [256, 128, 3, 3], p)));
        Assert.False(ConvBatched.Prefer(ConvGeometry.ForConv("t", [128, 1, 28, 28], [128, 1, 3, 3], p)));
        Assert.True(ConvBatched.PreferBackwardData(ConvGeometry.ForConv("t", [128, 1, 28, 28], [128, 1, 3, 3], p)));
        Assert.False(ConvBatched.PreferBackwardWeight(ConvGeometry.ForConv("t", [128, 128, 14, 14], [256, 128, 3, 3], p), implicitGemm: true));
        Assert.True(ConvBatched.PreferBackwardWeight(ConvGeometry.ForConv("t", [8, 4, 15], [6, 4, 3], ConvParams.Uniform(1, stride: 2)), implicitGemm: false));
        Assert.False(ConvBatched.Prefer(ConvGeometry.ForConv("t", [4, 8, 14, 14], [8, 4, 3, 3], new ConvParams([2, 2], [1, 1], [1, 1], [1, 1], groups: 2))));
        Assert.False(ConvBatched.Prefer(ConvGeometry.ForConv("t", [4, 8, 7, 7], [8, 8, 1, 1], ConvParams.Uniform(2))));
        Assert.True(ConvBatched.PreferForward(ConvGeometry.ForConv("t", [4, 8, 7, 7], [8, 8, 1, 1], ConvParams.Uniform(2))));
        Assert.False(ConvBatched.PointwiseOnSmallPlanes(ConvGeometry.ForConv("t", [4, 8, 16, 16], [8, 8, 1, 1], ConvParams.Uniform(2))));
        Assert.False(ConvBatched.PointwiseOnSmallPlanes(ConvGeometry.ForConv("t", [1, 8, 7, 7], [8, 8, 1, 1], ConvParams.Uniform(2))));
    }
}
