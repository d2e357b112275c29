using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using QuantSharp.Engine.Threading;

namespace QuantSharp.Engine.Kernels;

/// <summary>Outputs of a training-mode batch normalization.</summary>
/// <param name="Y">Normalized output, same shape as the input.</param>
/// <param name="SavedMean">Batch mean per channel, [C].</param>
/// <param name="SavedInvStd">Batch <c>1/sqrt(var + ε)</c> per channel (biased variance), [C]; what backward needs.</param>
/// <param name="BatchVariance">Biased batch variance per channel, [C].</param>
public sealed record BatchNormTrainingResult(Tensor<float> Y, Tensor<float> SavedMean, Tensor<float> SavedInvStd, Tensor<float> BatchVariance);

/// <summary>
/// ONNX BatchNormalization on [N, C, spatial…] float tensors (rank ≥ 2), inference and training mode, and its backward
/// kernel. Vectorized; parallel over (n, c) planes (inference) or channels (statistics and backward).
/// </summary>
/// <remarks>
/// Inference: <c>y = scale·(x − mean)/sqrt(var + ε) + bias</c>, computed as <c>y = a·x + b</c> with
/// <c>a = scale/sqrt(var + ε)</c>, <c>b = bias − a·mean</c>.
/// Training: mean <c>μ</c> and biased variance <c>σ²</c> over N and the spatial axes (M elements per channel);
/// <c>y = scale·(x − μ)/sqrt(σ² + ε) + bias</c>; running statistics (ONNX momentum, i.e. weight of the old value):
/// <c>running_mean ← running_mean·momentum + μ·(1 − momentum)</c>,
/// <c>running_var ← running_var·momentum + v·(1 − momentum)</c> where <c>v</c> is the unbiased variance <c>σ²·M/(M−1)</c>
/// (PyTorch's rule) or, with <c>unbiasedRunningVariance: false</c>, the biased <c>σ²</c> — which is what ONNX's
/// reference implementation and backend test data for opset 14/15 training_mode use (numpy's <c>x.var()</c>; checked against
/// libonnx-testdata's test_batchnorm_example_training_mode, where the unbiased rule is off by 3e-3).
/// An ONNX importer should therefore pass <c>false</c>; models trained here default to PyTorch's rule.
/// </remarks>
public static unsafe partial class BatchNorm
{
    /// <summary>(N, C, spatial size) of a rank ≥ 2 input, named in errors as argument 'X' of <paramref name="op"/>.</summary>
    internal static (int N, int C, int S) Layout(Tensor<float> x, string op)
    {
        ArgumentNullException.ThrowIfNull(x);
        Check.That(x.Rank >= 2, op, "X", "rank >= 2 (N, C, spatial…)", $"shape {Shapes.Format(x.Dims)} (rank {x.Rank})");
        int s = 1;
        for (int i = 2; i < x.Rank; i++) s *= x.Dims[i];
        return (x.Dims[0], x.Dims[1], s);
    }

    private static void PerChannel(string op, string arg, Tensor<float>? t, int c)
    {
        if (t is null) return;
        Check.That(t.Rank == 1 && t.Length == c, op, arg, $"shape [{c}] (one value per channel)", Shapes.Format(t.Dims));
    }

    /// <summary>Inference-mode BatchNormalization (ONNX training_mode = 0). See the type remarks for the math.</summary>
    public static Tensor<float> Inference(Tensor<float> x, Tensor<float> scale, Tensor<float> bias, Tensor<float> mean, Tensor<float> variance, float epsilon = 1e-5f)
    {
        ArgumentNullException.ThrowIfNull(x);
        var y = new Tensor<float>(x.Dims);
        Inference(x, scale, bias, mean, variance, epsilon, y);
        return y;
    }

    /// <summary>Inference-mode BatchNormalization into a preallocated <paramref name="y"/> of the input's shape (may be <paramref name="x"/> itself).</summary>
    public static void Inference(Tensor<float> x, Tensor<float> scale, Tensor<float> bias, Tensor<float> mean, Tensor<float> variance, float epsilon, Tensor<float> y)
    {
        const string op = "BatchNormalization";
        var (n, c, s) = Layout(x, op);
        PerChannel(op, "scale", scale, c);
        PerChannel(op, "B", bias, c);
        PerChannel(op, "input_mean", mean, c);
        PerChannel(op, "input_var", variance, c);
        var (a, b) = InferenceCoefficients(scale, bias, mean, variance, epsilon);
        ArgumentNullException.ThrowIfNull(y);
        Check.SameShape(op, "Y", x.Dims, y.Dims);
        Affine(x, y, a, b, n, c, s);
    }

    /// <summary>
    /// The inference coefficients <c>a = scale/sqrt(var + ε)</c>, <c>b = bias − a·mean</c> per channel (shapes checked by
    /// the caller): the one place they are computed, so a convolution's fused epilogue normalizes with the same bits.
    /// </summary>
    internal static (float[] A, float[] B) InferenceCoefficients(Tensor<float> scale, Tensor<float> bias, Tensor<float> mean, Tensor<float> variance, float epsilon)
    {
        int c = scale.Length;
        var a = new float[c];
        var b = new float[c];
        for (int ch = 0; ch < c; ch++)
        {
            a[ch] = scale.Data[ch] / MathF.Sqrt(variance.Data[ch] + epsilon);
            b[ch] = bias.Data[ch] - a[ch] * mean.Data[ch];
        }
        return (a, b);
    }

    /// <summary>y = a[c]·x + b[c] on every plane, parallel over planes.</summary>
    private static void Affine(Tensor<float> x, Tensor<float> y, float[] a, float[] b, int n, int c, int s)
    {
        Work.For(n * c, Math.Max(1, 32768 / Math.Max(s, 1)), (start, end) =>
        {
            fixed (float* px = x.Data, py = y.Data)
                for (int pl = start; pl < end; pl++)
                    AffineSpan(px + (long)pl * s, py + (long)pl * s, s, a[pl % c], b[pl % c]);
        });
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void AffineSpan(float* x, float* y, int n, float a, float b)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var va = Vector512.Create(a); var vb = Vector512.Create(b);
            for (; i + 32 <= n; i += 32)
            {
                Vector512.FusedMultiplyAdd(Vector512.Load(x + i), va, vb).Store(y + i);
                Vector512.FusedMultiplyAdd(Vector512.Load(x + i + 16), va, vb).Store(y + i + 16);
            }
            for (; i + 16 <= n; i += 16) Vector512.FusedMultiplyAdd(Vector512.Load(x + i), va, vb).Store(y + i);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var va = Vector256.Create(a); var vb = Vector256.Create(b);
            for (; i + 8 <= n; i += 8) Vector256.FusedMultiplyAdd(Vector256.Load(x + i), va, vb).Store(y + i);
        }
        for (; i < n; i++) y[i] = MathF.FusedMultiplyAdd(x[i], a, b);
    }

    /// <summary>
    /// Training-mode BatchNormalization (ONNX training_mode = 1): normalizes with batch statistics and updates
    /// <paramref name="runningMean"/> / <paramref name="runningVar"/> in place (either may be null). See the type remarks.
    /// </summary>
    /// <param name="momentum">ONNX momentum: the weight of the old running value (PyTorch's momentum is 1 − this).</param>
    /// <param name="unbiasedRunningVariance">True (PyTorch) updates running_var with the unbiased batch variance; false (ONNX) with the biased one.</param>
    /// <param name="destination">Optional output of the input's shape (every element overwritten; may be <paramref name="x"/> itself).</param>
    public static BatchNormTrainingResult Training(Tensor<float> x, Tensor<float> scale, Tensor<float> bias,
        Tensor<float>? runningMean, Tensor<float>? runningVar, float momentum = 0.9f, float epsilon = 1e-5f, bool unbiasedRunningVariance = true,
        Tensor<float>? destination = null)
    {
        const string op = "BatchNormalization";
        var (n, c, s) = Layout(x, op);
        PerChannel(op, "scale", scale, c);
        PerChannel(op, "B", bias, c);
        PerChannel(op, "input_mean", runningMean, c);
        PerChannel(op, "input_var", runningVar, c);
        long m = (long)n * s;
        Check.That(m > 0, op, "X", "at least one element per channel", Shapes.Format(x.Dims));
        var (savedMean, savedInv, batchVar, muD, varD) = Statistics(x, n, c, s, epsilon);
        var a = new float[c];
        var b = new float[c];
        for (int ch = 0; ch < c; ch++)
        {
            double mu = muD[ch], v = varD[ch];
            a[ch] = scale.Data[ch] * savedInv.Data[ch];
            b[ch] = bias.Data[ch] - a[ch] * (float)mu;
            double runVar = unbiasedRunningVariance && m > 1 ? v * m / (m - 1) : v;
            if (runningMean is not null) runningMean.Data[ch] = (float)(runningMean.Data[ch] * (double)momentum + mu * (1 - (double)momentum));
            if (runningVar is not null) runningVar.Data[ch] = (float)(runningVar.Data[ch] * (double)momentum + runVar * (1 - (double)momentum));
        }
        ArgumentNullException.ThrowIfNull(x);
        if (destination is not null) Check.SameShape(op, "Y", x.Dims, destination.Dims);
        var y = destination ?? Tensor<float>.Uninitialized(x.Dims);
        Affine(x, y, a, b, n, c, s);
        return new BatchNormTrainingResult(y, savedMean, savedInv, batchVar);
    }

    /// <summary>
    /// The batch statistics of training mode without normalizing: per channel the mean <c>μ</c> and <c>1/sqrt(σ² + ε)</c>
    /// (biased variance), exactly as <see cref="Training"/> computes them (what <see cref="Backward"/> needs in training mode).
    /// </summary>
    public static (Tensor<float> Mean, Tensor<float> InvStd) BatchStatistics(Tensor<float> x, float epsilon = 1e-5f)
    {
        var (n, c, s) = Layout(x, "BatchNormalization");
        Check.That((long)n * s > 0, "BatchNormalization", "X", "at least one element per channel", Shapes.Format(x.Dims));
        var (mean, inv, _, _, _) = Statistics(x, n, c, s, epsilon);
        return (mean, inv);
    }

    /// <summary>Two-pass (mean, then squared deviations) statistics per channel, accumulated in double across planes; parallel over channels.</summary>
    private static (Tensor<float> Mean, Tensor<float> InvStd, Tensor<float> Variance, double[] MeanD, double[] VarianceD) Statistics(
        Tensor<float> x, int n, int c, int s, float epsilon)
    {
        long m = (long)n * s;
        var meanD = new double[c];
        var varD = new double[c];
        var savedMean = new Tensor<float>(c);
        var savedInv = new Tensor<float>(c);
        var batchVar = new Tensor<float>(c);
        Work.For(c, Math.Max(1, (int)(65536 / m)), (start, end) =>
        {
            fixed (float* px = x.Data)
                for (int ch = start; ch < end; ch++)
                {
                    double sum = 0;
                    for (int i = 0; i < n; i++) sum += SumSpan(px + ((long)i * c + ch) * s, s);
                    double mu = sum / m;
                    double sq = 0;
                    for (int i = 0; i < n; i++) sq += SquaredDeviation(px + ((long)i * c + ch) * s, s, (float)mu);
                    double v = sq / m;
                    savedMean.Data[ch] = (float)mu;
                    savedInv.Data[ch] = (float)(1.0 / Math.Sqrt(v + epsilon));
                    batchVar.Data[ch] = (float)v;
                    meanD[ch] = mu;
                    varD[ch] = v;
                }
        });
        return (savedMean, savedInv, batchVar, meanD, varD);
    }

    /// <summary>Per-channel <c>1/sqrt(var + ε)</c>, the <c>invStd</c> argument of <see cref="Backward"/> in inference mode.</summary>
    public static Tensor<float> InverseStd(Tensor<float> variance, float epsilon = 1e-5f)
    {
        ArgumentNullException.ThrowIfNull(variance);
        var r = new Tensor<float>(variance.Dims);
        for (int i = 0; i < r.Length; i++) r.Data[i] = 1f / MathF.Sqrt(variance.Data[i] + epsilon);
        return r;
    }

    /// <summary>
    /// BatchNormalization backward for x, scale and bias, given the statistics used in the forward pass.
    /// </summary>
    /// <remarks>
    /// With <c>x̂ = (x − mean)·invStd</c>, per channel over its M elements: <c>dbias = Σ dy</c>, <c>dscale = Σ dy·x̂</c>.
    /// Training (batch statistics depend on x): <c>dx = scale·invStd·(dy − dbias/M − x̂·dscale/M)</c>.
    /// Inference (running statistics are constants): <c>dx = scale·invStd·dy</c>.
    /// </remarks>
    /// <param name="mean">Saved batch mean (training) or running mean (inference), [C].</param>
    /// <param name="invStd">Saved batch inverse std (training) or <see cref="InverseStd"/> of the running variance (inference), [C].</param>
    /// <param name="training">Which formula for dx (see remarks).</param>
    /// <param name="destination">Optional dx of the input's shape (every element overwritten; must not alias x or gradY).</param>
    public static (Tensor<float> GradX, Tensor<float> GradScale, Tensor<float> GradBias) Backward(Tensor<float> x, Tensor<float> gradY,
        Tensor<float> scale, Tensor<float> mean, Tensor<float> invStd, bool training, Tensor<float>? destination = null)
    {
        const string op = "BatchNormalizationBackward";
        var (n, c, s) = Layout(x, op);
        ArgumentNullException.ThrowIfNull(gradY);
        Check.SameShape(op, "gradY", x.Dims, gradY.Dims);
        PerChannel(op, "scale", scale, c);
        PerChannel(op, "mean", mean, c);
        PerChannel(op, "invStd", invStd, c);
        if (destination is not null) Check.SameShape(op, "destination", x.Dims, destination.Dims);
        var gx = destination ?? Tensor<float>.Uninitialized(x.Dims); // every element written below
        var gs = new Tensor<float>(c);
        var gb = new Tensor<float>(c);
        long m = (long)n * s;
        Work.For(c, Math.Max(1, (int)(32768 / Math.Max(m, 1))), (start, end) =>
        {
            fixed (float* px = x.Data, pg = gradY.Data, pgx = gx.Data)
                for (int ch = start; ch < end; ch++)
                {
                    float mu = mean.Data[ch], inv = invStd.Data[ch];
                    double sumDy = 0, sumDyXc = 0;
                    for (int i = 0; i < n; i++)
                    {
                        long off = ((long)i * c + ch) * s;
                        var (a, b) = DySums(px + off, pg + off, s, mu);
                        sumDy += a;
                        sumDyXc += b;
                    }
                    double dscale = sumDyXc * inv;
                    gb.Data[ch] = (float)sumDy;
                    gs.Data[ch] = (float)dscale;
                    float k = scale.Data[ch] * inv;
                    // dx = k·dy + (−k·dbias/M) + (x − mean)·(−k·inv·dscale/M): one FMA chain per element.
                    float cDy = k, cConst = training ? (float)(-k * sumDy / m) : 0f, cX = training ? (float)(-k * inv * dscale / m) : 0f;
                    for (int i = 0; i < n; i++)
                    {
                        long off = ((long)i * c + ch) * s;
                        GradXSpan(px + off, pg + off, pgx + off, s, mu, cDy, cConst, cX);
                    }
                }
        });
        return (gx, gs, gb);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static double SumSpan(float* p, int n)
    {
        int i = 0;
        float s = 0;
        if (Vector512.IsHardwareAccelerated && n >= 16)
        {
            Vector512<float> a0 = default, a1 = default;
            for (; i + 32 <= n; i += 32) { a0 += Vector512.Load(p + i); a1 += Vector512.Load(p + i + 16); }
            for (; i + 16 <= n; i += 16) a0 += Vector512.Load(p + i);
            s = Vector512.Sum(a0 + a1);
        }
        else if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            Vector256<float> a0 = default;
            for (; i + 8 <= n; i += 8) a0 += Vector256.Load(p + i);
            s = Vector256.Sum(a0);
        }
        for (; i < n; i++) s += p[i];
        return s;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static double SquaredDeviation(float* p, int n, float mu)
    {
        int i = 0;
        float s = 0;
        if (Vector512.IsHardwareAccelerated && n >= 16)
        {
            var vm = Vector512.Create(mu);
            Vector512<float> a0 = default, a1 = default;
            for (; i + 32 <= n; i += 32)
            {
                var d0 = Vector512.Load(p + i) - vm; var d1 = Vector512.Load(p + i + 16) - vm;
                a0 = Vector512.FusedMultiplyAdd(d0, d0, a0); a1 = Vector512.FusedMultiplyAdd(d1, d1, a1);
            }
            for (; i + 16 <= n; i += 16) { var d = Vector512.Load(p + i) - vm; a0 = Vector512.FusedMultiplyAdd(d, d, a0); }
            s = Vector512.Sum(a0 + a1);
        }
        else if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            var vm = Vector256.Create(mu);
            Vector256<float> a0 = default;
            for (; i + 8 <= n; i += 8) { var d = Vector256.Load(p + i) - vm; a0 = Vector256.FusedMultiplyAdd(d, d, a0); }
            s = Vector256.Sum(a0);
        }
        for (; i < n; i++) { float d = p[i] - mu; s += d * d; }
        return s;
    }

    /// <summary>(Σ dy, Σ dy·(x − mu)) over one span.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static (double SumDy, double SumDyXc) DySums(float* x, float* dy, int n, float mu)
    {
        int i = 0;
        float s0 = 0, s1 = 0;
        if (Vector512.IsHardwareAccelerated && n >= 16)
        {
            var vm = Vector512.Create(mu);
            Vector512<float> a = default, b = default;
            for (; i + 16 <= n; i += 16)
            {
                var g = Vector512.Load(dy + i);
                a += g;
                b = Vector512.FusedMultiplyAdd(g, Vector512.Load(x + i) - vm, b);
            }
            s0 = Vector512.Sum(a); s1 = Vector512.Sum(b);
        }
        else if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            var vm = Vector256.Create(mu);
            Vector256<float> a = default, b = default;
            for (; i + 8 <= n; i += 8)
            {
                var g = Vector256.Load(dy + i);
                a += g;
                b = Vector256.FusedMultiplyAdd(g, Vector256.Load(x + i) - vm, b);
            }
            s0 = Vector256.Sum(a); s1 = Vector256.Sum(b);
        }
        for (; i < n; i++) { s0 += dy[i]; s1 += dy[i] * (x[i] - mu); }
        return (s0, s1);
    }

    /// <summary>gx = cDy·dy + cConst + cX·(x − mu) over one span.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void GradXSpan(float* x, float* dy, float* gx, int n, float mu, float cDy, float cConst, float cX)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var vm = Vector512.Create(mu); var vd = Vector512.Create(cDy); var vc = Vector512.Create(cConst); var vx = Vector512.Create(cX);
            for (; i + 16 <= n; i += 16)
                Vector512.FusedMultiplyAdd(Vector512.Load(dy + i), vd, Vector512.FusedMultiplyAdd(Vector512.Load(x + i) - vm, vx, vc)).Store(gx + i);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var vm = Vector256.Create(mu); var vd = Vector256.Create(cDy); var vc = Vector256.Create(cConst); var vx = Vector256.Create(cX);
            for (; i + 8 <= n; i += 8)
                Vector256.FusedMultiplyAdd(Vector256.Load(dy + i), vd, Vector256.FusedMultiplyAdd(Vector256.Load(x + i) - vm, vx, vc)).Store(gx + i);
        }
        for (; i < n; i++) gx[i] = MathF.FusedMultiplyAdd(dy[i], cDy, MathF.FusedMultiplyAdd(x[i] - mu, cX, cConst));
    }
}
