using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;
using static QuantSharp.Engine.Tests.Kernels.ConvTestCases;

namespace QuantSharp.Engine.Tests.Kernels;

public class ConvDepthwiseTests
{
    private static void CheckAllWidths(int[] xShape, int k, ConvParams p, string what)
    {
        int c = xShape[1];
        int[] wShape = xShape.Length == 4 ? [c, 1, k, k] : [c, 1, k];
        var geo = ConvGeometry.ForConv("Conv", xShape, wShape, p);
        Assert.True(geo.IsDepthwise2D);
        var x = Rand(31, xShape);
        var w = Rand(32, wShape);
        var b = Rand(33, c);
        var yRef = new Tensor<float>(geo.OutputShape);
        ConvReference.ForwardCore(geo, x.Data, w.Data, b.Data, yRef.Data);
        var gy = Rand(34, geo.OutputShape);
        var gxRef = new Tensor<float>(geo.InputShape);
        ConvReference.BackwardDataCore(geo, gy.Data, w.Data, gxRef.Data);
        var gwRef = new Tensor<float>(wShape);
        ConvReference.BackwardWeightCore(geo, x.Data, gy.Data, gwRef.Data);
        foreach (int width in new[] { 16, 8, 1 })
        {
            var y = new Tensor<float>(geo.OutputShape);
            DepthwiseConv.Forward(geo, x.Data, w.Data, b.Data, y.Data, width);
            AssertClose(yRef, y, $"{what} forward width {width}");
            var gx = Tensor.Full(float.NaN, geo.InputShape);
            DepthwiseConv.BackwardData(geo, gy.Data, w.Data, gx.Data, width);
            AssertClose(gxRef, gx, $"{what} backward-data width {width}");
            var gw = Tensor.Full(float.NaN, wShape);
            DepthwiseConv.BackwardWeight(geo, x.Data, gy.Data, gw.Data, width);
            AssertClose(gwRef, gw, $"{what} backward-weight width {width}");
        }
    }

    [Fact]
    public void Depthwise_AllRowLengths1To80_AllWidthsMatchReference()
    {
        for (int iw = 1; iw <= 80; iw++)
            CheckAllWidths([1, 2, 3, iw], 3, ConvParams.Uniform(2, pad: 1, groups: 2), $"k3 pad1 width {iw}");
    }

    [Theory]
    [InlineData(1, 1, 0, 1)]
    [InlineData(3, 2, 1, 1)]
    [InlineData(3, 1, 2, 2)]
    [InlineData(5, 2, 2, 1)]
    [InlineData(3, 3, 1, 2)]
    [InlineData(7, 1, 3, 1)]
    public void Depthwise_KernelStrideDilationPad_AllWidthsMatchReference(int k, int stride, int pad, int dilation)
    {
        foreach (int iw in new[] { 9, 17, 33, 70 })
            CheckAllWidths([2, 3, 11, iw], k, ConvParams.Uniform(2, stride, pad, dilation, groups: 3), $"k{k} s{stride} p{pad} d{dilation} w{iw}");
    }

    [Fact]
    public void Depthwise_AsymmetricPadsAndMixedStrides_AllWidthsMatchReference()
    {
        CheckAllWidths([1, 4, 10, 23], 3, new ConvParams([2, 1], [0, 2], [2, 0], [1, 2], 4), "asym");
        CheckAllWidths([2, 3, 7, 29], 3, new ConvParams([1, 2], [1, 0], [0, 1], [2, 1], 3), "mixed");
    }

    [Fact]
    public void Depthwise_OneDimensional_AllWidthsMatchReference()
    {
        CheckAllWidths([2, 3, 45], 5, new ConvParams([2], [1], [3], [2], 3), "1-D");
        CheckAllWidths([1, 2, 16], 3, ConvParams.Uniform(1, pad: 1, groups: 2), "1-D exact vector");
    }

    [Fact]
    public void Depthwise_ManyPlanes_ParallelSplitMatchesReference()
    {
        var p = ConvParams.Uniform(2, pad: 1, groups: 24);
        var x = Rand(41, 3, 24, 12, 20);
        var w = Rand(42, 24, 1, 3, 3);
        var y = Conv.Forward(x, w, null, p);
        AssertClose(ConvReference.Forward(x, w, null, p), y, "forward");
        var gy = Rand(43, y.Shape);
        AssertClose(ConvReference.BackwardData(gy, w, x.Dims, p), Conv.BackwardData(gy, w, x.Dims, p), "backward-data");
        AssertClose(ConvReference.BackwardWeight(x, gy, w.Dims, p), Conv.BackwardWeight(x, gy, w.Dims, p), "backward-weight");
    }
}
