using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;
using QuantSharp.Engine.Runtime;

namespace QuantSharp.Engine.Tests.Kernels;

/// <summary>The Resize/Upsample op-table entries run through a Session: input forms and attributes the ONNX 1.12 backend data lacks.</summary>
public class ResizeOpTests
{
    private static Tensor<float> Random(int seed, params int[] shape) => (Tensor<float>)Tensor.RandomUniform(new Random(seed), -1f, 1f, shape);

    private static Tensor<float> Run(long opset, Tensor<float> x, Tensor? roi, Tensor? scales, Tensor? sizes, params (string, AttributeValue)[] attributes)
    {
        var b = new GraphBuilder("resize", opset);
        var xi = b.Input("x", DataType.Float32, x.Dims.ToArray().Select(Dim.Fixed).ToArray());
        Value? Init(string name, Tensor? t) => t is null ? null : b.Initializer(name, t);
        var y = b.Op1("Resize", [xi, Init("roi", roi), Init("scales", scales), Init("sizes", sizes)], null, attributes);
        b.Output(y, name: "y");
        return new Session(b.Build()).Run(new Dictionary<string, Tensor> { ["x"] = x }).Output("y");
    }

    [Fact]
    public void Resize18_Axes_ScalesOnlyTheListedAxes()
    {
        var x = Random(1, 1, 2, 3, 4);
        var y = Run(18, x, null, Tensor.FromArray(new float[] { 2f, 0.5f }, 2), null,
            ("mode", AttributeValue.FromString("linear")), ("axes", AttributeValue.FromInts(2L, 3L)));
        var expected = Resize.Forward(x, [1, 2, 6, 2], [1, 1, 2, 0.5], new ResizeParams(ResizeMode.Linear));
        Assert.Equal(expected.Dims.ToArray(), y.Dims.ToArray());
        Assert.Equal(expected.Data, y.Data);
    }

    [Fact]
    public void Resize18_KeepAspectRatioNotLarger_UsesTheSmallerScale()
    {
        var x = Random(2, 1, 1, 4, 8);
        // sizes 8×8: scales 2 and 1 → not_larger keeps 1 on both axes, output 4×8.
        var y = Run(18, x, null, null, Tensor.FromArray(new long[] { 8, 8 }, 2),
            ("axes", AttributeValue.FromInts(2L, 3L)), ("keep_aspect_ratio_policy", AttributeValue.FromString("not_larger")));
        Assert.Equal(new[] { 1, 1, 4, 8 }, y.Dims.ToArray());
        Assert.Equal(x.Data, y.Data);
    }

    [Fact]
    public void Resize13_Sizes_PytorchHalfPixelBilinear_MatchesKernel()
    {
        var x = Random(3, 2, 3, 5, 7);
        var y = Run(13, x, null, null, Tensor.FromArray(new long[] { 2, 3, 10, 3 }, 4),
            ("mode", AttributeValue.FromString("linear")), ("coordinate_transformation_mode", AttributeValue.FromString("pytorch_half_pixel")));
        var expected = Resize.Forward(x, [2, 3, 10, 3], [1, 1, 2, 3 / 7.0], new ResizeParams(ResizeMode.Linear, ResizeCoordinateMode.PytorchHalfPixel));
        Assert.Equal(expected.Data, y.Data);
    }

    [Fact]
    public void Upsample7_ScalesAttribute_NearestRepeatsPixels()
    {
        var b = new GraphBuilder("upsample", 7);
        var xi = b.Input("x", DataType.Float32, Dim.Fixed(1), Dim.Fixed(1), Dim.Fixed(2), Dim.Fixed(2));
        b.Output(b.Op1("Upsample", [xi], null, ("scales", AttributeValue.FromFloats(1f, 1f, 2f, 3f))), name: "y");
        var y = new Session(b.Build()).Run(Tensor.FromArray(new float[] { 1, 2, 3, 4 }, 1, 1, 2, 2));
        Assert.Equal(new[] { 1, 1, 4, 6 }, y.Dims.ToArray());
        Assert.Equal(new float[] { 1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4 }, y.Data);
    }

    [Fact]
    public void Resize_BothScalesAndSizes_ThrowsNamingTheNode()
    {
        var x = Random(4, 1, 1, 2, 2);
        var e = Assert.Throws<GraphException>(() => Run(13, x, null, Tensor.FromArray(new float[] { 1, 1, 2, 2 }, 4), Tensor.FromArray(new long[] { 1, 1, 4, 4 }, 4)));
        Assert.Contains("Resize", e.Message);
        Assert.Contains("both", e.Message);
    }

    [Fact]
    public void Resize_ScalesOfWrongLength_ThrowsNamingTheArgument()
    {
        var x = Random(5, 1, 1, 2, 2);
        var e = Assert.Throws<GraphException>(() => Run(13, x, null, Tensor.FromArray(new float[] { 2, 2 }, 2), null));
        Assert.Contains("'scales'", e.Message);
    }

    [Fact]
    public void Resize_Antialias_IsRejectedClearly()
    {
        var x = Random(6, 1, 1, 4, 4);
        var e = Assert.ThrowsAny<Exception>(() => Run(18, x, null, Tensor.FromArray(new float[] { 1, 1, 0.5f, 0.5f }, 4), null,
            ("mode", AttributeValue.FromString("linear")), ("antialias", AttributeValue.FromInt(1))));
        Assert.Contains("antialias", e.Message);
    }

    [Fact]
    public void Resize_Gradient_ThroughSessionBackward_IsTheKernelAdjoint()
    {
        var b = new GraphBuilder("resize_grad", 13);
        var xi = b.Input("x", DataType.Float32, Dim.Fixed(1), Dim.Fixed(2), Dim.Fixed(3), Dim.Fixed(3));
        var y = b.Op1("Resize", [xi, null, b.Initializer("scales", Tensor.FromArray(new float[] { 1, 1, 2, 2 }, 4))], null,
            ("mode", AttributeValue.FromString("linear")));
        b.Output(y, name: "y");
        var s = new Session(b.Build());
        var x = Random(7, 1, 2, 3, 3);
        var run = s.Run(new Dictionary<string, Tensor> { ["x"] = x }, new RunOptions { KeepForBackward = true });
        var gy = Random(8, 1, 2, 6, 6);
        var gx = s.Backward(run, new Dictionary<string, Tensor<float>> { ["y"] = gy })["x"];
        Assert.Equal(Resize.Backward(gy, [1, 2, 3, 3], [1, 1, 2, 2], new ResizeParams(ResizeMode.Linear)).Data, gx.Data);
    }
}
