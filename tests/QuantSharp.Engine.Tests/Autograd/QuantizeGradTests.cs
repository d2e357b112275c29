using QuantSharp.Engine.Autograd;
using QuantSharp.Engine.Kernels;

namespace QuantSharp.Engine.Tests.Autograd;

/// <summary>
/// Gradients of fake quantization: straight-through (x), LSQ (learnable scale and zero point) and AIMET range learning
/// (learnable min/max). Rounding's true derivative is 0, so these estimators are checked two ways: against hand-computed
/// values of their formulas, and against central differences of the "frozen" surrogate in which every round(u) is
/// replaced by u + (round(u₀) − u₀) and every clip decision is fixed at the base point — the function whose exact
/// derivative the straight-through estimator defines.
/// </summary>
public class QuantizeGradTests
{
    private static Tensor<float> T(params float[] v) => Tensor.FromArray(v, v.Length);

    [Fact]
    public void FakeQuantize_StraightThrough_PassesGradientWhereNotClipped()
    {
        var x = new Variable(T(-6f, -5.25f, 0f, 0.75f, 122.5f, 123f), requiresGrad: true);
        var y = Ops.FakeQuantize(x, 0.5f, 10, 0, 255);
        Assert.Equal([-5f, -5f, 0f, 1f, 122.5f, 122.5f], y.Data.Data);
        y.Backward(T(1f, 2f, 3f, 4f, 5f, 6f));
        Assert.Equal([0f, 2f, 3f, 4f, 5f, 0f], x.Grad!.Data);
    }

    [Fact]
    public void FakeQuantize_PerAxis_StraightThroughUsesEachChannelsRange()
    {
        var x = new Variable(Tensor.FromArray([1.25f, -0.75f, 100f, 3f, -5f, 7f], 2, 3), requiresGrad: true);
        var y = Ops.FakeQuantize(x, [0.5f, 2f], [0, -1], -128, 127, axis: 0);
        y.Backward(Tensor.Ones(2, 3));
        Assert.Equal([1f, 1f, 0f, 1f, 1f, 1f], x.Grad!.Data);
    }

    [Fact]
    public void FakeQuantize_Stochastic_GradientFollowsForwardClipMask()
    {
        var x = new Variable(T(0.3f, 126.9f, -200f), requiresGrad: true);
        var p = QuantParams.PerTensor(1f, 0, -128, 127) with { Rounding = QuantRounding.Stochastic, Seed = 1 };
        var y = Ops.FakeQuantize(x, p);
        y.Backward(T(1f, 1f, 1f));
        var mask = new Tensor<bool>(3);
        QuantizeKernels.FakeQuantize(x.Data, p, mask);
        Assert.Equal(mask.Data.Select(m => m ? 1f : 0f).ToArray(), x.Grad!.Data);
        Assert.Equal(0f, x.Grad.Data[2]);
    }

    [Fact]
    public void Lsq_HandComputedValues()
    {
        // s = 0.25, z = 1.2 → 1 in the forward, range −8..7. u = x/s: 1.2 (in), 4 (in), −8 (in), 20 (above), −12 (below).
        var x = T(0.3f, 1.0f, -2.0f, 5.0f, -3.0f);
        var gy = T(1f, 2f, 3f, 4f, 5f);
        var (gx, gs, gz) = QuantizeGradients.Lsq(x, gy, [0.25f], [1.2f], -8, 7, null);
        Assert.Equal([1f, 2f, 3f, 0f, 0f], gx.Data);
        // ds = 1·(1 − 1.2) + 4·(7 − 1) + 5·(−8 − 1); dz = −(4 + 5)·0.25.
        Assert.Equal(-21.2, gs[0], 5);
        Assert.Equal(-2.25, gz[0], 5);
        var (_, gs2, gz2) = QuantizeGradients.Lsq(x, gy, [0.25f], [1.2f], -8, 7, null, gradFactor: 0.5f);
        Assert.Equal(-10.6, gs2[0], 5);
        Assert.Equal(-1.125, gz2[0], 5);
    }

    [Fact]
    public void RangeLearning_HandComputedValues()
    {
        // 2 bits (N = 3), [−1.25, 1.75] → s = 1, offset round(−1.25) = −1 (zero point 1).
        var x = T(0.4f, 2.6f, -1.7f);
        var gy = T(1f, 2f, 3f);
        var (gx, gmin, gmax) = QuantizeGradients.RangeLearning(x, gy, [-1.25f], [1.75f], 2, null);
        Assert.Equal([1f, 0f, 0f], gx.Data);
        // in range: δ = −0.4; above: t = 3 − 1 + 1.25 = 3.25; below: t = −1 + 1.25 = 0.25.
        Assert.Equal(0.4 / 3 + 2 * (1 - 3.25 / 3) + 3 * (1 - 0.25 / 3), gmin[0], 5);
        Assert.Equal(-0.4 / 3 + 2 * 3.25 / 3 + 3 * 0.25 / 3, gmax[0], 5);
        var fake = QuantizeKernels.FakeQuantize(x, QuantizeGradients.FromMinMax([-1.25f], [1.75f], 2, null));
        Assert.Equal([0f, 2f, -1f], fake.Data);
    }

    [Fact]
    public void RangeLearning_WidenedBound_GetsNoGradient()
    {
        var (_, gmin, _) = QuantizeGradients.RangeLearning(T(-1f, 0.5f, 3f), T(1f, 1f, 1f), [0.5f], [2f], 4, null);
        Assert.Equal(0f, gmin[0]);
    }

    /// <summary>Per element: the frozen-surrogate output for LSQ parameters (continuous z), given the base-point rounding residual and region.</summary>
    private static double LsqSurrogate(double x, double s, double z, double delta, int region, int qmin, int qmax) => region switch
    {
        0 => (x / s + delta) * s,
        < 0 => (qmin - z) * s,
        _ => (qmax - z) * s,
    };

    [Fact]
    public void Lsq_PerChannel_MatchesFrozenSurrogateFiniteDifferences()
    {
        var rng = new Random(11);
        int c = 3, inner = 40;
        var x = Tensor.RandomUniform(rng, -3, 3, c, inner);
        var gy = Tensor.RandomUniform(rng, -1, 1, c, inner);
        float[] s = [0.05f, 0.1f, 0.3f];
        float[] z = [0.2f, -3.4f, 2f];
        int qmin = -16, qmax = 15;
        var (gx, gs, gz) = QuantizeGradients.Lsq(x, gy, s, z, qmin, qmax, 0);
        var p = QuantizeGradients.LsqParams(s, z, qmin, qmax, 0);
        for (int ch = 0; ch < c; ch++)
        {
            double zr = p.ZeroPoint[ch];
            var delta = new double[inner];
            var region = new int[inner];
            for (int i = 0; i < inner; i++)
            {
                float u = x[ch, i] / s[ch];
                float r = MathF.Round(u) + p.ZeroPoint[ch];
                region[i] = r < qmin ? -1 : r > qmax ? 1 : 0;
                delta[i] = MathF.Round(u) - (double)u;
                Assert.Equal(region[i] == 0 ? gy[ch, i] : 0f, gx[ch, i]);
            }
            double L(double sv, double zv)
            {
                double sum = 0;
                for (int i = 0; i < inner; i++) sum += gy[ch, i] * LsqSurrogate(x[ch, i], sv, zv, delta[i], region[i], qmin, qmax);
                return sum;
            }
            const double h = 1e-4;
            double ds = (L(s[ch] + h, zr) - L(s[ch] - h, zr)) / (2 * h);
            double dz = (L(s[ch], zr + h) - L(s[ch], zr - h)) / (2 * h);
            Assert.Equal(ds, gs[ch], 2);
            Assert.Equal(dz, gz[ch], 3);
        }
    }

    [Fact]
    public void RangeLearning_MatchesFrozenSurrogateFiniteDifferences()
    {
        var rng = new Random(12);
        var x = Tensor.RandomUniform(rng, -2.5f, 3.5f, 200);
        var gy = Tensor.RandomUniform(rng, -1, 1, 200);
        float min = -1.37f, max = 2.11f;
        const int bits = 3, n = 7;
        var (_, gmin, gmax) = QuantizeGradients.RangeLearning(x, gy, [min], [max], bits, null);
        var p = QuantizeGradients.FromMinMax([min], [max], bits, null);
        float s0 = p.Scale[0];
        double deltaO = MathF.Round(min / s0) - (double)(min / s0);
        var delta = new double[x.Length];
        var region = new int[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            float u = x.Data[i] / s0;
            float r = MathF.Round(u) + p.ZeroPoint[0];
            region[i] = r < 0 ? -1 : r > n ? 1 : 0;
            delta[i] = MathF.Round(u) - (double)u;
        }
        double L(double lo, double hi)
        {
            double s = (hi - lo) / n, o = lo / s + deltaO, sum = 0;
            for (int i = 0; i < x.Length; i++)
                sum += gy.Data[i] * (region[i] switch { 0 => (x.Data[i] / s + delta[i]) * s, < 0 => o * s, _ => (n + o) * s });
            return sum;
        }
        const double h = 1e-4;
        Assert.Equal((L(min + h, max) - L(min - h, max)) / (2 * h), gmin[0], 3);
        Assert.Equal((L(min, max + h) - L(min, max - h)) / (2 * h), gmax[0], 3);
    }

    [Fact]
    public void FakeQuantizeLearnable_ClippedInputs_MatchTrueFiniteDifferences()
    {
        // Where every element is clipped, y = (qclip − z)·s is smooth in x (derivative 0) and s: the LSQ gradient is then
        // the true derivative and the generic checker applies.
        var x = Tensor.FromArray([-9f, -5f, 4f, 8f, 6.5f, -7.25f], 2, 3);
        var zp = new Variable(T(1f, -2f));
        GradientChecker.AssertGradients(v => Ops.FakeQuantizeLearnable(v[0], v[1], zp, -8, 7, axis: 0),
            [x, T(0.2f, 0.3f)], eps: 1e-3);
    }

    [Fact]
    public void FakeQuantizeLearnable_AutogradGradients_EqualKernel()
    {
        var x = Tensor.RandomUniform(new Random(2), -2, 2, 4, 5);
        var xv = new Variable(x, requiresGrad: true);
        var s = new Variable(T(0.05f, 0.1f, 0.2f, 0.4f), requiresGrad: true);
        var z = new Variable(T(0f, 1f, -1f, 3f), requiresGrad: true);
        var y = Ops.FakeQuantizeLearnable(xv, s, z, -8, 7, axis: 0, gradFactor: 0.25f);
        var seed = Tensor.RandomUniform(new Random(3), -1, 1, 4, 5);
        y.Backward(seed);
        var (gx, gs, gz) = QuantizeGradients.Lsq(x, seed, s.Data.Data, z.Data.Data, -8, 7, 0, 0.25f);
        Assert.Equal(gx.Data, xv.Grad!.Data);
        Assert.Equal(gs, s.Grad!.Data);
        Assert.Equal(gz, z.Grad!.Data);
        Assert.Equal([4], s.Grad.Shape);
    }

    [Fact]
    public void FakeQuantizeMinMax_AutogradGradients_EqualKernel()
    {
        var x = Tensor.RandomUniform(new Random(4), -2, 3, 30);
        var xv = new Variable(x, requiresGrad: true);
        var lo = new Variable(Tensor.Scalar(-1.1f), requiresGrad: true);
        var hi = new Variable(Tensor.Scalar(2.3f), requiresGrad: true);
        var y = Ops.FakeQuantizeMinMax(xv, lo, hi, 4);
        var seed = Tensor.Ones(30);
        y.Backward(seed);
        var (gx, gmin, gmax) = QuantizeGradients.RangeLearning(x, seed, [-1.1f], [2.3f], 4, null);
        Assert.Equal(gx.Data, xv.Grad!.Data);
        Assert.Equal(gmin[0], lo.Grad!.Data[0]);
        Assert.Equal(gmax[0], hi.Grad!.Data[0]);
        Assert.Empty(lo.Grad.Shape);
    }

    [Fact]
    public void Errors_LearnableRangeInvalid_NameOpAndArgument()
    {
        var x = new Variable(T(1f));
        var bits = Assert.Throws<ShapeException>(() => Ops.FakeQuantizeMinMax(x, new Variable(Tensor.Scalar(-1f)), new Variable(Tensor.Scalar(1f)), 17));
        Assert.Contains("argument 'bits' expected 2..16, got 17", bits.Message);
        var empty = Assert.Throws<ShapeException>(() => Ops.FakeQuantizeMinMax(x, new Variable(Tensor.Scalar(0f)), new Variable(Tensor.Scalar(0f)), 8));
        Assert.Contains("FakeQuantizeMinMax: argument 'min/max' expected a range of width > 0", empty.Message);
        var scale = Assert.Throws<ShapeException>(() => Ops.FakeQuantizeLearnable(x, new Variable(T(-0.5f)), new Variable(T(0f)), -8, 7));
        Assert.Contains("FakeQuantize: argument 'scale' expected finite values > 0, got -0.5", scale.Message);
    }
}
