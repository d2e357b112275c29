using QuantSharp.Engine;
using QuantSharp.Engine.Autograd;
using QuantSharp.Quantization.Quantizers;

namespace QuantSharp.Quantization.Tests.Quantizers;

public class TensorQuantTests
{
    private static Tensor<float> T(float[] data, params int[] shape) => Tensor.FromArray(data, shape.Length == 0 ? [data.Length] : shape);

    private static void Close(float[] expected, ReadOnlySpan<float> actual, float tol)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(MathF.Abs(expected[i] - actual[i]) <= tol, $"index {i}: expected {expected[i]}, got {actual[i]}");
    }

    [Fact]
    public void Golden_PytorchQuantizationDocumentedExample()
    {
        var x = T([0.9817f, 0.8796f, 0.9921f, 0.4611f, 0.0832f, 0.1784f, 0.3674f, 0.5676f, 0.3376f, 0.2119f]);
        float amax = x.Data.Max(MathF.Abs);
        var fake = TensorQuant.FakeQuantize(x, amax);
        // The documented inputs are printed to 4 decimals, so amax is known only to ±0.5e-4: 113·0.9921/127 = 0.88273 where
        // the documentation (with unrounded inputs) prints 0.8828. One unit of the 4th decimal is the honest tolerance.
        Close([0.9843f, 0.8828f, 0.9921f, 0.4609f, 0.0859f, 0.1797f, 0.3672f, 0.5703f, 0.3359f, 0.2109f], fake.AsSpan(), 1.0001e-4f);
        var (ints, scale) = TensorQuant.Quantize(x, amax);
        Assert.Equal(new float[] { 126, 113, 127, 59, 11, 23, 47, 73, 43, 27 }, ints.Data);
        Assert.Equal(0, scale.Rank);
        Assert.Equal(128.0, Math.Round(scale.Data[0], 1)); // 127 / 0.9921 = 128.01, printed "128.0"
    }

    [Fact]
    public void Quantize_4BitSignedNarrow_TiesToEvenAndClipsAtPlusMinus7()
    {
        var x = T([0.4f, 0.5f, 1.5f, 2.5f, -2.5f, 6.6f, 7.4f, 9f, -9f, -7.6f]);
        var (q, s) = TensorQuant.Quantize(x, 7f, numBits: 4);
        Assert.Equal(new float[] { 0, 0, 2, 2, -2, 7, 7, 7, -7, -7 }, q.Data);
        Assert.Equal(1f, s.Data[0]);
        Assert.Equal(new float[] { 0, 0, 2, 2, -2, 7, 7, 7, -7, -7 }, TensorQuant.FakeQuantize(x, 7f, numBits: 4).Data);
    }

    [Fact]
    public void Quantize_4BitSignedFullRange_ReachesMinus8()
    {
        var x = T([-9f, -7.6f, -7.4f, 7.6f, 3.5f]);
        var (q, _) = TensorQuant.Quantize(x, 7f, numBits: 4, narrowRange: false);
        Assert.Equal(new float[] { -8, -8, -7, 7, 4 }, q.Data);
    }

    [Fact]
    public void Quantize_4BitUnsigned_UsesZeroTo15()
    {
        var x = T([0f, 0.5f, 1.5f, 14.5f, 15.5f, 20f]);
        var (q, s) = TensorQuant.Quantize(x, 15f, numBits: 4, unsigned: true);
        Assert.Equal(new float[] { 0, 0, 2, 14, 15, 15 }, q.Data);
        Assert.Equal(1f, s.Data[0]);
        // narrow range does not apply to unsigned (pytorch-quantization's min bound is 0 either way)
        Assert.Equal(q.Data, TensorQuant.Quantize(x, 15f, numBits: 4, unsigned: true, narrowRange: false).Integers.Data);
    }

    [Fact]
    public void Quantize_8BitScaleTwo_ExactTiesRoundHalfToEven()
    {
        // amax = 63.5 → scale = 127 / 63.5 = 2 exactly; x·2 = 2.5, 3.5, −2.5, 0.5, 1.5
        var x = T([1.25f, 1.75f, -1.25f, 0.25f, 0.75f]);
        var (q, s) = TensorQuant.Quantize(x, 63.5f);
        Assert.Equal(new float[] { 2, 4, -2, 0, 2 }, q.Data);
        Assert.Equal(2f, s.Data[0]);
        Assert.Equal(new float[] { 1f, 2f, -1f, 0f, 1f }, TensorQuant.FakeQuantize(x, 63.5f).Data);
    }

    [Fact]
    public void Quantize_PerChannelAmaxOnAxis0_UsesEachRowsScale()
    {
        var x = T([0.5f, 1.5f, 8f, 0.25f, 0.75f, -5f], 2, 3);
        var amax = T([7f, 3.5f], 2, 1);
        var (q, s) = TensorQuant.Quantize(x, amax, numBits: 4);
        Assert.Equal(new float[] { 0, 2, 7, 0, 2, -7 }, q.Data);
        Assert.Equal(new[] { 2, 1 }, s.Shape);
        Assert.Equal(new float[] { 1, 2 }, s.Data);
        Assert.Equal(new float[] { 0, 2, 7, 0, 1, -3.5f }, TensorQuant.FakeQuantize(x, amax, numBits: 4).Data);
    }

    [Fact]
    public void Quantize_PerChannelAmaxOnLastAxis_BroadcastsFromTheRight()
    {
        var x = T([1.5f, 1.5f, 1.5f, -0.3f, -0.3f, -0.3f], 2, 3);
        var amax = T([7f, 3.5f, 1.75f]); // scales 1, 2, 4
        var (q, _) = TensorQuant.Quantize(x, amax, numBits: 4);
        Assert.Equal(new float[] { 2, 3, 6, 0, -1, -1 }, q.Data);
    }

    [Fact]
    public void FakeQuantize_ConsecutiveKeptAxes_MatchesElementwiseFormula()
    {
        var rng = new Random(3);
        var x = Tensor.RandomNormal(rng, 0f, 1f, 2, 3, 4, 5);
        var amax = Tensor.RandomUniform(rng, 0.2f, 2f, 1, 3, 4, 1);
        var y = TensorQuant.FakeQuantize(x, amax, numBits: 6, narrowRange: false);
        for (int a = 0; a < 2; a++)
            for (int b = 0; b < 3; b++)
                for (int c = 0; c < 4; c++)
                    for (int d = 0; d < 5; d++)
                    {
                        float step = amax[0, b, c, 0] / 31f; // the step QuantizeLinear gets from a QDQ export
                        float q = Math.Clamp(MathF.Round(x[a, b, c, d] / step), -32f, 31f);
                        Assert.Equal(q * step, y[a, b, c, d]);
                    }
    }

    [Fact]
    public void Quantize_ZeroAmaxChannel_GivesZerosAndScaleOne()
    {
        var x = T([0.5f, -3f, 0.5f, -3f], 2, 2);
        var amax = T([0f, 1f], 2, 1);
        var (q, s) = TensorQuant.Quantize(x, amax);
        Assert.Equal(new float[] { 0, 0, 64, -127 }, q.Data);
        Assert.Equal(new float[] { 1, 127 }, s.Data);
        var fake = TensorQuant.FakeQuantize(x, amax);
        Assert.Equal(0f, fake.Data[0]);
        Assert.Equal(0f, fake.Data[1]);
        Assert.Equal(new float[] { 0, 0, 0, 0 }, TensorQuant.FakeQuantize(x, 0f).Data);
    }

    [Fact]
    public void FakeQuantizeVariable_StraightThrough_ZeroGradientOutsideRange()
    {
        var x = new Variable(T([0.5f, 2f, -3f, -0.99f]), requiresGrad: true);
        var y = TensorQuant.FakeQuantize(x, 1f);
        Assert.Equal(TensorQuant.FakeQuantize(x.Data, 1f).Data, y.Data.Data);
        y.Backward(Tensor.Ones(4));
        Assert.Equal(new float[] { 1, 0, 0, 1 }, x.Grad!.Data);
    }

    [Fact]
    public void FakeQuantizeVariable_PerChannelWithZeroAmax_ZeroGradientInThatChannel()
    {
        var x = new Variable(T([0.5f, 0.2f, 0.5f, 3f], 2, 2), requiresGrad: true);
        var y = TensorQuant.FakeQuantize(x, T([0f, 1f], 2, 1));
        Assert.Equal(new[] { 2, 2 }, y.Data.Shape);
        y.Backward(Tensor.Ones(2, 2));
        Assert.Equal(new float[] { 0, 0, 1, 0 }, x.Grad!.Data);
    }

    [Fact]
    public void FakeQuantizeVariable_ConsecutiveKeptAxes_MatchesTensorPathAndBackwardKernel()
    {
        var rng = new Random(11);
        var xs = Tensor.RandomNormal(rng, 0f, 1f, 2, 3, 4);
        var amax = Tensor.RandomUniform(rng, 0.3f, 1.5f, 1, 3, 4);
        var x = new Variable(xs, requiresGrad: true);
        var y = TensorQuant.FakeQuantize(x, amax, numBits: 4);
        Assert.Equal(new[] { 2, 3, 4 }, y.Data.Shape);
        Assert.Equal(TensorQuant.FakeQuantize(xs, amax, numBits: 4).Data, y.Data.Data);
        var seed = Tensor.RandomNormal(rng, 0f, 1f, 2, 3, 4);
        y.Backward(seed);
        var expected = TensorQuant.FakeQuantizeBackward(xs, seed, amax, numBits: 4);
        Assert.Equal(expected.Data, x.Grad!.Data);
        Assert.Contains(0f, expected.Data); // some elements were clipped
    }

    [Fact]
    public void QuantizeVariable_IntegersWithUnscaledStraightThroughGradient()
    {
        var x = new Variable(T([0.5f, 2f, -0.25f]), requiresGrad: true);
        var (q, s) = TensorQuant.Quantize(x, Tensor.Scalar(1f));
        Assert.Equal(new float[] { 64, 127, -32 }, q.Data.Data);
        Assert.Equal(127f, s.Data[0]);
        q.Backward(T([3f, 3f, 3f]));
        Assert.Equal(new float[] { 3, 0, 3 }, x.Grad!.Data);
    }

    [Fact]
    public void FakeQuantizeLearnableAmax_LsqGradient_MatchesHandComputation()
    {
        var x = new Variable(T([0.3f, 2f]), requiresGrad: true);
        var amax = new Variable(Tensor.Scalar(1f), requiresGrad: true);
        var y = TensorQuant.FakeQuantize(x, amax);
        Assert.Equal(TensorQuant.FakeQuantize(x.Data, 1f).Data, y.Data.Data, new ToleranceComparer(1e-7f));
        y.Backward(Tensor.Ones(2));
        // in range: (round(38.1) − 38.1)/127 = −0.1/127; clipped above: 127/127 = 1
        Assert.Equal(1f - 0.1f / 127f, amax.Grad!.Data[0], 1e-4f);
        Assert.Equal(new float[] { 1, 0 }, x.Grad!.Data);
    }

    [Fact]
    public void Quantize_BadBits_NamesNumBits()
    {
        var x = T([1f]);
        Assert.Contains("numBits", Assert.Throws<ShapeException>(() => TensorQuant.Quantize(x, 1f, numBits: 1)).Message);
        Assert.Contains("got 17", Assert.Throws<ShapeException>(() => TensorQuant.FakeQuantize(x, 1f, numBits: 17)).Message);
    }

    [Fact]
    public void Quantize_NegativeOrNaNAmax_IsAnError()
    {
        var x = T([1f, 2f]);
        var e = Assert.Throws<ShapeException>(() => TensorQuant.Quantize(x, -1f));
        Assert.Contains("amax", e.Message);
        Assert.Contains("-1", e.Message);
        Assert.Contains("NaN", Assert.Throws<ShapeException>(() => TensorQuant.FakeQuantize(x, T([1f, float.NaN]))).Message);
    }

    [Fact]
    public void Quantize_NaNInputOrNegativeUnsigned_IsAnError()
    {
        Assert.Contains("NaN at index 1", Assert.Throws<ShapeException>(() => TensorQuant.FakeQuantize(T([1f, float.NaN]), 1f)).Message);
        var e = Assert.Throws<ShapeException>(() => TensorQuant.Quantize(T([1f, -0.5f]), 1f, unsigned: true));
        Assert.Contains("unsigned", e.Message);
        Assert.Contains("-0.5", e.Message);
    }

    [Fact]
    public void Quantize_AmaxNotBroadcastable_OrAxesNotConsecutive_IsAShapeError()
    {
        var x = Tensor.Zeros(2, 3, 4);
        Assert.Contains("broadcastable", Assert.Throws<ShapeException>(() => TensorQuant.Quantize(x, Tensor.Ones(5, 1))).Message);
        Assert.Contains("consecutive", Assert.Throws<ShapeException>(() => TensorQuant.Quantize(x, Tensor.Ones(2, 1, 4))).Message);
    }

    private sealed class ToleranceComparer(float tol) : IEqualityComparer<float>
    {
        public bool Equals(float a, float b) => MathF.Abs(a - b) <= tol;
        public int GetHashCode(float v) => 0;
    }
}

public class InputCheckTests
{
    [Fact]
    public void FirstBad_VectorPathEqualsScalarReference_Lengths0To256()
    {
        var rng = new Random(5);
        for (int n = 0; n <= 256; n++)
            foreach (bool unsigned in new[] { false, true })
            {
                var x = new float[n];
                for (int i = 0; i < n; i++) x[i] = (float)rng.NextDouble() * 4;
                Assert.Equal(-1, InputCheck.FirstBad(x, unsigned));
                if (n == 0) continue;
                int at = rng.Next(n);
                x[at] = rng.Next(3) switch { 0 => float.NaN, 1 => -0.5f, _ => -0f };
                if (at + 1 < n && rng.Next(2) == 0) x[n - 1] = float.NaN;
                Assert.Equal(InputCheck.FirstBadReference(x, unsigned), InputCheck.FirstBad(x, unsigned));
            }
    }

    [Fact]
    public void FirstBadParallel_FindsTheLowestBadIndexAcrossBlocks()
    {
        var x = new float[1 << 18];
        Assert.Equal(-1, InputCheck.FirstBadParallel(x, unsigned: true));
        x[200_000] = float.NaN;
        x[150_001] = -1f;
        Assert.Equal(200_000, InputCheck.FirstBadParallel(x, unsigned: false));
        Assert.Equal(150_001, InputCheck.FirstBadParallel(x, unsigned: true));
    }
}
