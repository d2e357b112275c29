using QuantSharp.Engine.Threading;

namespace QuantSharp.Engine.Kernels;

/// <summary>Outputs of InstanceNormalization: Y, and per-(n, c) statistics (shape [N, C]) that backward needs.</summary>
/// <param name="Y">Normalized output, shape of the input.</param>
/// <param name="Mean">Plane means, [N, C].</param>
/// <param name="InvStd">Plane <c>1/sqrt(var + ε)</c> (biased variance), [N, C].</param>
public sealed record InstanceNormResult(Tensor<float> Y, Tensor<float> Mean, Tensor<float> InvStd);

/// <summary>
/// ONNX InstanceNormalization on [N, C, spatial…] (rank ≥ 3): every (n, c) plane is normalized by its own statistics,
/// then scaled and shifted per channel. Vectorized (shares BatchNorm's span kernels), parallel over planes.
/// </summary>
/// <remarks>
/// Per plane of S elements: <c>μ = Σx/S</c>, <c>σ² = Σ(x − μ)²/S</c>, <c>r = 1/sqrt(σ² + ε)</c>,
/// <c>y = scale[c]·(x − μ)·r + B[c]</c>. Backward per plane with <c>x̂ = (x − μ)·r</c>:
/// <c>dx = scale[c]·r·(dy − Σdy/S − x̂·Σ(dy·x̂)/S)</c>; <c>dscale[c] = Σₙ Σ dy·x̂</c>, <c>dB[c] = Σₙ Σ dy</c>.
/// </remarks>
public static unsafe class InstanceNorm
{
    private static (int N, int C, int S) Layout(Tensor<float> x, Tensor<float> scale, Tensor<float>? bias, string op)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(scale);
        Check.That(x.Rank >= 3, op, "input", "rank >= 3 (N, C, spatial…)", $"shape {Shapes.Format(x.Dims)} (rank {x.Rank})");
        var (n, c, s) = BatchNorm.Layout(x, op);
        Check.That(scale.Rank == 1 && scale.Length == c, op, "scale", $"shape [{c}] (one value per channel)", Shapes.Format(scale.Dims));
        if (bias is not null)
            Check.That(bias.Rank == 1 && bias.Length == c, op, "B", $"shape [{c}] (one value per channel)", Shapes.Format(bias.Dims));
        return (n, c, s);
    }

    /// <summary>InstanceNormalization forward (see the type remarks).</summary>
    public static InstanceNormResult Forward(Tensor<float> x, Tensor<float> scale, Tensor<float> bias, float epsilon = 1e-5f)
    {
        var (n, c, s) = Layout(x, scale, bias, "InstanceNormalization");
        var y = new Tensor<float>(x.Dims);
        var mean = new Tensor<float>(n, c);
        var inv = new Tensor<float>(n, c);
        Work.For(n * c, Math.Max(1, 16384 / Math.Max(s, 1)), (start, end) =>
        {
            fixed (float* px = x.Data, py = y.Data)
                for (int pl = start; pl < end; pl++)
                {
                    float* xp = px + (long)pl * s;
                    double mu = s == 0 ? 0 : BatchNorm.SumSpan(xp, s) / s;
                    double v = s == 0 ? 0 : BatchNorm.SquaredDeviation(xp, s, (float)mu) / s;
                    float fmu = (float)mu, finv = (float)(1.0 / Math.Sqrt(v + epsilon));
                    mean.Data[pl] = fmu;
                    inv.Data[pl] = finv;
                    float a = scale.Data[pl % c] * finv;
                    BatchNorm.AffineSpan(xp, py + (long)pl * s, s, a, bias.Data[pl % c] - a * fmu);
                }
        });
        return new InstanceNormResult(y, mean, inv);
    }

    /// <summary>InstanceNormalization backward for input, scale and B (see the type remarks).</summary>
    public static (Tensor<float> GradX, Tensor<float> GradScale, Tensor<float> GradBias) Backward(Tensor<float> x, Tensor<float> gradY,
        Tensor<float> scale, Tensor<float> mean, Tensor<float> invStd)
    {
        const string op = "InstanceNormalizationBackward";
        var (n, c, s) = Layout(x, scale, null, op);
        ArgumentNullException.ThrowIfNull(gradY);
        Check.SameShape(op, "gradY", x.Dims, gradY.Dims);
        Check.SameShape(op, "mean", [n, c], mean.Dims);
        Check.SameShape(op, "invStd", [n, c], invStd.Dims);
        var gx = new Tensor<float>(x.Dims);
        var planeS = new double[n * c];
        var planeB = new double[n * c];
        Work.For(n * c, Math.Max(1, 16384 / Math.Max(s, 1)), (start, end) =>
        {
            fixed (float* px = x.Data, pg = gradY.Data, pgx = gx.Data)
                for (int pl = start; pl < end; pl++)
                {
                    long off = (long)pl * s;
                    float mu = mean.Data[pl], r = invStd.Data[pl];
                    var (sumDy, sumDyXc) = BatchNorm.DySums(px + off, pg + off, s, mu);
                    double dscale = sumDyXc * r;
                    planeS[pl] = dscale;
                    planeB[pl] = sumDy;
                    float k = scale.Data[pl % c] * r;
                    float cConst = s == 0 ? 0f : (float)(-k * sumDy / s), cX = s == 0 ? 0f : (float)(-k * r * dscale / s);
                    BatchNorm.GradXSpan(px + off, pg + off, pgx + off, s, mu, k, cConst, cX);
                }
        });
        var gs = new Tensor<float>(c);
        var gb = new Tensor<float>(c);
        for (int ch = 0; ch < c; ch++)
        {
            double a = 0, b = 0;
            for (int i = 0; i < n; i++) { a += planeS[i * c + ch]; b += planeB[i * c + ch]; }
            gs.Data[ch] = (float)a;
            gb.Data[ch] = (float)b;
        }
        return (gx, gs, gb);
    }
}
