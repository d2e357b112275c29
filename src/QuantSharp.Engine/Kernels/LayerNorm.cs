using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using QuantSharp.Engine.Threading;

namespace QuantSharp.Engine.Kernels;

/// <summary>Outputs of LayerNormalization (ONNX opset 17): Y, and the Mean and InvStdDev outputs of shape [d0, …, d(axis−1), 1, …, 1].</summary>
/// <param name="Y">Normalized output, shape of the input.</param>
/// <param name="Mean">Row means.</param>
/// <param name="InvStdDev">Row <c>1/sqrt(var + ε)</c> (biased variance).</param>
public sealed record LayerNormResult(Tensor<float> Y, Tensor<float> Mean, Tensor<float> InvStdDev);

/// <summary>
/// ONNX LayerNormalization (opset 17) forward and backward: every "row" — the elements of axes [axis, rank) for fixed
/// leading indices — is normalized by its own mean and variance, then scaled and shifted. Vectorized, parallel over rows.
/// </summary>
/// <remarks>
/// Per row of L elements: <c>μ = Σx/L</c>, <c>σ² = Σ(x − μ)²/L</c>, <c>r = 1/sqrt(σ² + ε)</c>, <c>y = (x − μ)·r·scale + bias</c>.
/// scale (and bias, same shape) broadcast over the normalized axes: their shape must equal a trailing part of the
/// normalized shape x.shape[axis:] (leading axes missing; size-1 stretching inside is not supported).
/// </remarks>
public static unsafe class LayerNorm
{
    /// <summary>Validates the arguments; returns rows, row length and the Mean/InvStdDev shape.</summary>
    internal static (int Rows, int Len, int[] StatShape) Layout(Tensor<float> x, Tensor<float> scale, Tensor<float>? bias, int axis, string op)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(scale);
        Check.That(x.Rank >= 1, op, "X", "rank >= 1", $"shape {Shapes.Format(x.Dims)} (rank 0)");
        int a = Check.Axis(op, "axis", axis, x.Rank);
        var norm = x.Dims[a..];
        bool ok = scale.Rank <= norm.Length && norm[(norm.Length - scale.Rank)..].SequenceEqual(scale.Dims) && scale.Length > 0;
        Check.That(ok, op, "scale", $"a shape equal to a trailing part of the normalized shape {Shapes.Format(norm)}", Shapes.Format(scale.Dims));
        if (bias is not null) Check.SameShape(op, "B", scale.Dims, bias.Dims);
        int rows = 1;
        for (int i = 0; i < a; i++) rows *= x.Dims[i];
        var stat = new int[x.Rank];
        for (int i = 0; i < x.Rank; i++) stat[i] = i < a ? x.Dims[i] : 1;
        return (rows, Shapes.Size(norm), stat);
    }

    /// <summary>LayerNormalization forward (see the type remarks). <paramref name="bias"/> may be null (no shift).</summary>
    public static LayerNormResult Forward(Tensor<float> x, Tensor<float> scale, Tensor<float>? bias, int axis = -1, float epsilon = 1e-5f)
    {
        var (rows, len, statShape) = Layout(x, scale, bias, axis, "LayerNormalization");
        var y = new Tensor<float>(x.Dims);
        var mean = new Tensor<float>(statShape);
        var inv = new Tensor<float>(statShape);
        int l = scale.Length;
        var zeros = bias is null ? new float[l] : null;
        Work.For(rows, Math.Max(1, 16384 / Math.Max(len, 1)), (start, end) =>
        {
            fixed (float* px = x.Data, py = y.Data, ps = scale.Data, pb = bias is null ? zeros : bias.Data)
                for (int r = start; r < end; r++)
                {
                    float* xr = px + (long)r * len, yr = py + (long)r * len;
                    double mu = len == 0 ? 0 : BatchNorm.SumSpan(xr, len) / len;
                    double v = len == 0 ? 0 : BatchNorm.SquaredDeviation(xr, len, (float)mu) / len;
                    float fmu = (float)mu, finv = (float)(1.0 / Math.Sqrt(v + epsilon));
                    mean.Data[r] = fmu;
                    inv.Data[r] = finv;
                    for (int off = 0; off < len; off += l) NormChunk(xr + off, yr + off, ps, pb, l, fmu, finv);
                }
        });
        return new LayerNormResult(y, mean, inv);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void NormChunk(float* x, float* y, float* s, float* b, int n, float mu, float inv)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var vm = Vector512.Create(mu); var vi = Vector512.Create(inv);
            for (; i + 16 <= n; i += 16)
                Vector512.FusedMultiplyAdd((Vector512.Load(x + i) - vm) * vi, Vector512.Load(s + i), Vector512.Load(b + i)).Store(y + i);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var vm = Vector256.Create(mu); var vi = Vector256.Create(inv);
            for (; i + 8 <= n; i += 8)
                Vector256.FusedMultiplyAdd((Vector256.Load(x + i) - vm) * vi, Vector256.Load(s + i), Vector256.Load(b + i)).Store(y + i);
        }
        for (; i < n; i++) y[i] = MathF.FusedMultiplyAdd((x[i] - mu) * inv, s[i], b[i]);
    }

    /// <summary>
    /// LayerNormalization backward for x, scale and bias, given the forward's Mean and InvStdDev.
    /// </summary>
    /// <remarks>
    /// Per row with <c>x̂ = (x − μ)·r</c> and <c>g = dy·scale</c>: <c>dx = r·(g − mean(g) − x̂·mean(g·x̂))</c>;
    /// over all rows: <c>dscale = Σ dy·x̂</c>, <c>dbias = Σ dy</c> (folded onto the scale's shape).
    /// </remarks>
    public static (Tensor<float> GradX, Tensor<float> GradScale, Tensor<float> GradBias) Backward(Tensor<float> x, Tensor<float> gradY,
        Tensor<float> scale, Tensor<float> mean, Tensor<float> invStdDev, int axis = -1)
    {
        const string op = "LayerNormalizationBackward";
        var (rows, len, statShape) = Layout(x, scale, null, axis, op);
        ArgumentNullException.ThrowIfNull(gradY);
        Check.SameShape(op, "gradY", x.Dims, gradY.Dims);
        Check.SameShape(op, "mean", statShape, mean.Dims);
        Check.SameShape(op, "invStdDev", statShape, invStdDev.Dims);
        int l = scale.Length;
        var gx = new Tensor<float>(x.Dims);
        var gs = new double[l];
        var gb = new double[l];
        var gate = new object();
        Work.For(rows, Math.Max(1, 8192 / Math.Max(len, 1)), (start, end) =>
        {
            var accS = new float[l];
            var accB = new float[l];
            fixed (float* px = x.Data, pg = gradY.Data, pgx = gx.Data, ps = scale.Data, pas = accS, pab = accB)
                for (int r = start; r < end; r++)
                {
                    float* xr = px + (long)r * len, gr = pg + (long)r * len, dr = pgx + (long)r * len;
                    float mu = mean.Data[r], inv = invStdDev.Data[r];
                    double sg = 0, sgxc = 0;
                    for (int off = 0; off < len; off += l)
                    {
                        var (a, b) = SumsChunk(xr + off, gr + off, ps, pas, pab, l, mu, inv);
                        sg += a;
                        sgxc += b;
                    }
                    // dx = r·dy·scale − r·mean(g) − (x − μ)·r²·mean(g·(x − μ)).
                    float cConst = (float)(-inv * sg / len), cX = (float)(-(double)inv * inv * inv * sgxc / len);
                    for (int off = 0; off < len; off += l) GradXChunk(xr + off, gr + off, dr + off, ps, l, mu, inv, cConst, cX);
                }
            lock (gate)
                for (int j = 0; j < l; j++) { gs[j] += accS[j]; gb[j] += accB[j]; }
        });
        var gScale = new Tensor<float>(scale.Dims);
        var gBias = new Tensor<float>(scale.Dims);
        for (int j = 0; j < l; j++) { gScale.Data[j] = (float)gs[j]; gBias.Data[j] = (float)gb[j]; }
        return (gx, gScale, gBias);
    }

    /// <summary>Returns (Σ dy·s, Σ dy·s·(x − μ)) over the chunk and adds dy·(x − μ)·r to accS, dy to accB.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static (double, double) SumsChunk(float* x, float* dy, float* s, float* accS, float* accB, int n, float mu, float inv)
    {
        int i = 0;
        float sg = 0, sgx = 0;
        if (Vector512.IsHardwareAccelerated && n >= 16)
        {
            var vm = Vector512.Create(mu); var vi = Vector512.Create(inv);
            Vector512<float> a = default, b = default;
            for (; i + 16 <= n; i += 16)
            {
                var d = Vector512.Load(dy + i);
                var xc = Vector512.Load(x + i) - vm;
                var g = d * Vector512.Load(s + i);
                a += g;
                b = Vector512.FusedMultiplyAdd(g, xc, b);
                Vector512.FusedMultiplyAdd(d, xc * vi, Vector512.Load(accS + i)).Store(accS + i);
                (Vector512.Load(accB + i) + d).Store(accB + i);
            }
            sg = Vector512.Sum(a); sgx = Vector512.Sum(b);
        }
        else if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            var vm = Vector256.Create(mu); var vi = Vector256.Create(inv);
            Vector256<float> a = default, b = default;
            for (; i + 8 <= n; i += 8)
            {
                var d = Vector256.Load(dy + i);
                var xc = Vector256.Load(x + i) - vm;
                var g = d * Vector256.Load(s + i);
                a += g;
                b = Vector256.FusedMultiplyAdd(g, xc, b);
                Vector256.FusedMultiplyAdd(d, xc * vi, Vector256.Load(accS + i)).Store(accS + i);
                (Vector256.Load(accB + i) + d).Store(accB + i);
            }
            sg = Vector256.Sum(a); sgx = Vector256.Sum(b);
        }
        for (; i < n; i++)
        {
            float xc = x[i] - mu, g = dy[i] * s[i];
            sg += g;
            sgx += g * xc;
            accS[i] += dy[i] * (xc * inv);
            accB[i] += dy[i];
        }
        return (sg, sgx);
    }

    /// <summary>dx = r·dy·s + cConst + cX·(x − μ) over the chunk.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void GradXChunk(float* x, float* dy, float* dx, float* s, int n, float mu, float inv, float cConst, float cX)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var vm = Vector512.Create(mu); var vi = Vector512.Create(inv); var vc = Vector512.Create(cConst); var vx = Vector512.Create(cX);
            for (; i + 16 <= n; i += 16)
                Vector512.FusedMultiplyAdd(Vector512.Load(dy + i) * Vector512.Load(s + i), vi,
                    Vector512.FusedMultiplyAdd(Vector512.Load(x + i) - vm, vx, vc)).Store(dx + i);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var vm = Vector256.Create(mu); var vi = Vector256.Create(inv); var vc = Vector256.Create(cConst); var vx = Vector256.Create(cX);
            for (; i + 8 <= n; i += 8)
                Vector256.FusedMultiplyAdd(Vector256.Load(dy + i) * Vector256.Load(s + i), vi,
                    Vector256.FusedMultiplyAdd(Vector256.Load(x + i) - vm, vx, vc)).Store(dx + i);
        }
        for (; i < n; i++) dx[i] = MathF.FusedMultiplyAdd(dy[i] * s[i], inv, MathF.FusedMultiplyAdd(x[i] - mu, cX, cConst));
    }
}
