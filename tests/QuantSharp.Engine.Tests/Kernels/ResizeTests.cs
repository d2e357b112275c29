using QuantSharp.Engine.Autograd;
using QuantSharp.Engine.Kernels;
using QuantSharp.Engine.Tests.Autograd;
using AG = QuantSharp.Engine.Autograd.Autograd;

namespace QuantSharp.Engine.Tests.Kernels;

public class ResizeTests
{
    private const float LinearTolerance = 1e-5f;

    private static Tensor<float> Random(int seed, params int[] shape) => (Tensor<float>)Tensor.RandomUniform(new Random(seed), -1f, 1f, shape);

    public static TheoryData<ResizeMode, ResizeCoordinateMode, ResizeNearestMode> Modes()
    {
        var d = new TheoryData<ResizeMode, ResizeCoordinateMode, ResizeNearestMode>();
        foreach (var c in new[] { ResizeCoordinateMode.HalfPixel, ResizeCoordinateMode.PytorchHalfPixel, ResizeCoordinateMode.AlignCorners,
                     ResizeCoordinateMode.Asymmetric, ResizeCoordinateMode.HalfPixelSymmetric, ResizeCoordinateMode.TfHalfPixelForNn })
        {
            foreach (var nm in Enum.GetValues<ResizeNearestMode>()) d.Add(ResizeMode.Nearest, c, nm);
            d.Add(ResizeMode.Linear, c, ResizeNearestMode.RoundPreferFloor);
            d.Add(ResizeMode.Cubic, c, ResizeNearestMode.RoundPreferFloor);
        }
        return d;
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void Forward_FastPath_MatchesReference_UpAndDownOddShapes(ResizeMode mode, ResizeCoordinateMode coord, ResizeNearestMode nearest)
    {
        var p = new ResizeParams(mode, coord, nearest);
        foreach (var (inH, inW, outH, outW) in new[] { (5, 7, 11, 17), (9, 13, 4, 6), (1, 3, 3, 1), (4, 4, 4, 4), (3, 37, 7, 41) })
        {
            var x = Random(inH * 31 + inW, 2, 3, inH, inW);
            var outShape = new[] { 2, 3, outH, outW };
            double[] scales = [1, 1, (double)outH / inH, (double)outW / inW];
            var fast = Resize.Forward(x, outShape, scales, p);
            var reference = ResizeReference.Forward(x, outShape, scales, p);
            if (mode == ResizeMode.Nearest) Assert.Equal(reference.Data, fast.Data);
            else
                for (int i = 0; i < fast.Length; i++) Assert.True(Math.Abs(fast.Data[i] - reference.Data[i]) <= LinearTolerance, $"{mode} {coord} at {i}: {fast.Data[i]} vs {reference.Data[i]}");
        }
    }

    [Fact]
    public void Forward_AllRowLengths0To256_FastMatchesReference()
    {
        var nearest = new ResizeParams(ResizeMode.Nearest);
        var linear = new ResizeParams(ResizeMode.Linear);
        for (int w = 0; w <= 256; w += w < 40 ? 1 : 37)
        {
            var x = Random(w, 1, 2, 3, Math.Max(w / 2, 1));
            var shape = new[] { 1, 2, 5, w };
            double[] scales = [1, 1, 5 / 3.0, w == 0 ? 0.5 : (double)w / Math.Max(w / 2, 1)];
            Assert.Equal(ResizeReference.Forward(x, shape, scales, nearest).Data, Resize.Forward(x, shape, scales, nearest).Data);
            var a = Resize.Forward(x, shape, scales, linear); var b = ResizeReference.Forward(x, shape, scales, linear);
            for (int i = 0; i < a.Length; i++) Assert.True(Math.Abs(a.Data[i] - b.Data[i]) <= LinearTolerance);
        }
    }

    [Fact]
    public void Nearest_Asymmetric_Scale2_RepeatsEachPixel()
    {
        var x = Tensor.FromArray(new float[] { 1, 2, 3, 4 }, 1, 1, 2, 2);
        var y = Resize.Forward(x, [1, 1, 4, 4], [1, 1, 2, 2], new ResizeParams(ResizeMode.Nearest, ResizeCoordinateMode.Asymmetric, ResizeNearestMode.Floor));
        Assert.Equal(new float[] { 1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4 }, y.Data);
    }

    [Fact]
    public void Linear_AlignCorners_HandComputed()
    {
        var x = Tensor.FromArray(new float[] { 0, 3 }, 1, 2);
        var y = Resize.Forward(x, [1, 4], [1, 2], new ResizeParams(ResizeMode.Linear, ResizeCoordinateMode.AlignCorners));
        Assert.Equal(new float[] { 0, 1, 2, 3 }, y.Data);
    }

    [Fact]
    public void Linear_HalfPixel_ClampsAtTheEdges()
    {
        // half_pixel, scale 2: output 0 maps to −0.25 (edge → x[0]); output 1 maps to 0.25 → 0.75·x0 + 0.25·x1.
        var x = Tensor.FromArray(new float[] { 4, 8 }, 1, 2);
        var y = Resize.Forward(x, [1, 4], [1, 2], new ResizeParams(ResizeMode.Linear));
        Assert.Equal(new float[] { 4, 5, 7, 8 }, y.Data);
    }

    [Fact]
    public void TfCropAndResize_OutsideRoi_GetsExtrapolationValue()
    {
        var x = Tensor.FromArray(new float[] { 1, 2, 3, 4 }, 1, 4);
        var p = new ResizeParams(ResizeMode.Linear, ResizeCoordinateMode.TfCropAndResize, ExtrapolationValue: 10f);
        // roi on the last axis [0.5, 1.5]: coordinates 1.5, 3, 4.5 → 2.5, 4, extrapolated.
        var y = Resize.Forward(x, [1, 3], [1, 0.75], p, [0, 0.5, 1, 1.5]);
        Assert.Equal(new float[] { 2.5f, 4f, 10f }, y.Data);
        Assert.Equal(y.Data, ResizeReference.Forward(x, [1, 3], [1, 0.75], p, [0, 0.5, 1, 1.5]).Data);
    }

    [Fact]
    public void Forward_ThreeAxesResized_UsesReference()
    {
        var x = Random(3, 2, 3, 4);
        var p = new ResizeParams(ResizeMode.Linear);
        var y = Resize.Forward(x, [3, 5, 2], [1.5, 5 / 3.0, 0.5], p);
        Assert.Equal(ResizeReference.Forward(x, [3, 5, 2], [1.5, 5 / 3.0, 0.5], p).Data, y.Data);
    }

    [Theory]
    [InlineData(ResizeMode.Nearest)]
    [InlineData(ResizeMode.Linear)]
    [InlineData(ResizeMode.Cubic)]
    public void Backward_IsTheAdjointOfForward(ResizeMode mode)
    {
        // <Resize(x), g> = <x, Resize^T(g)> for every x and g, since Resize is linear in x.
        var p = new ResizeParams(mode, ResizeCoordinateMode.HalfPixel);
        int[] inShape = [2, 3, 5, 6], outShape = [2, 3, 8, 4];
        double[] scales = [1, 1, 8 / 5.0, 4 / 6.0];
        var x = Random(1, inShape); var g = Random(2, outShape);
        var y = Resize.Forward(x, outShape, scales, p);
        var gx = Resize.Backward(g, inShape, scales, p);
        double lhs = 0, rhs = 0;
        for (int i = 0; i < y.Length; i++) lhs += (double)y.Data[i] * g.Data[i];
        for (int i = 0; i < x.Length; i++) rhs += (double)x.Data[i] * gx.Data[i];
        Assert.True(Math.Abs(lhs - rhs) <= 1e-4 * Math.Max(1, Math.Abs(lhs)), $"{lhs} vs {rhs}");
        var reference = ResizeReference.Backward(g, inShape, scales, p);
        for (int i = 0; i < gx.Length; i++) Assert.True(Math.Abs(gx.Data[i] - reference.Data[i]) <= LinearTolerance);
    }

    [Theory]
    [InlineData(ResizeMode.Nearest)]
    [InlineData(ResizeMode.Linear)]
    public void Backward_MatchesFiniteDifferences(ResizeMode mode)
    {
        var p = new ResizeParams(mode, ResizeCoordinateMode.PytorchHalfPixel);
        int[] inShape = [1, 2, 3, 4], outShape = [1, 2, 5, 3];
        double[] scales = [1, 1, 5 / 3.0, 3 / 4.0];
        Variable F(Variable[] v) =>
            AG.Record("Resize", Resize.Forward(v[0].Data, outShape, scales, p), [v[0]], g => [Resize.Backward(g, inShape, scales, p)]);
        GradientChecker.AssertGradients(F, [Random(5, inShape)]);
    }

    [Fact]
    public void Forward_BadArguments_ThrowShapeExceptionNamingTheArgument()
    {
        var x = Random(1, 1, 1, 2, 2);
        var p = new ResizeParams(ResizeMode.Linear);
        Assert.Contains("'scales'", Assert.Throws<ShapeException>(() => Resize.Forward(x, [1, 1, 4, 4], [1, 2], p)).Message);
        Assert.Contains("'scales'", Assert.Throws<ShapeException>(() => Resize.Forward(x, [1, 1, 4, 4], [1, 1, -2, 2], p)).Message);
        Assert.Contains("'outputShape'", Assert.Throws<ShapeException>(() => Resize.Forward(x, [1, 4, 4], [1, 1, 2, 2], p)).Message);
        Assert.Contains("'roi'", Assert.Throws<ShapeException>(() => Resize.Forward(x, [1, 1, 4, 4], [1, 1, 2, 2], p, [0, 1])).Message);
        Assert.Contains("'destination'", Assert.Throws<ShapeException>(() => Resize.Forward(x, [1, 1, 4, 4], [1, 1, 2, 2], p, default, new Tensor<float>(1, 1, 3, 3))).Message);
    }
}
