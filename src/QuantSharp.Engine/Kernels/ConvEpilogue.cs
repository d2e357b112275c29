using QuantSharp.Engine.Kernels.Operators;
using QuantSharp.Engine.Threading;

namespace QuantSharp.Engine.Kernels;

/// <summary>
/// What follows a convolution that its kernels apply to each output plane while it is still in cache, instead of the
/// graph making two more passes over memory: an inference batch normalization (<c>y ← a[c]·y + b[c]</c>, computed by
/// <see cref="BatchNorm.AffineSpan"/> from the statistics exactly as <see cref="BatchNorm.Inference(Tensor{float}, Tensor{float}, Tensor{float}, Tensor{float}, Tensor{float}, float, Tensor{float})"/>
/// does) and then a Relu, Clip or HardSwish (their operators, whose vector and scalar forms agree bit for bit). Each element goes through the same operations as in the separate
/// kernels, so a fused convolution gives the unfused graph's bits.
/// </summary>
public sealed unsafe class ConvEpilogue
{
    private readonly float[]? _scale, _shift;
    private readonly bool _relu, _clip, _hardSwish;
    private readonly float _lo, _hi;

    private readonly QuantParams? _quantize;

    private ConvEpilogue(float[]? scale, float[]? shift, bool relu, bool clip, float lo, float hi, bool hardSwish = false, QuantParams? quantize = null)
    {
        _hardSwish = hardSwish;
        _quantize = quantize;
        _scale = scale;
        _shift = shift;
        _relu = relu;
        _clip = clip;
        _lo = lo;
        _hi = hi;
    }

    /// <summary>No normalization (a convolution followed by its activation only).</summary>
    public static ConvEpilogue None { get; } = new(null, null, false, false, 0, 0);

    /// <summary>An inference BatchNormalization of <paramref name="channels"/> channels, its coefficients computed as the kernel computes them.</summary>
    /// <exception cref="ShapeException">A statistic does not hold one value per channel (named).</exception>
    public static ConvEpilogue Normalization(int channels, Tensor<float> scale, Tensor<float> bias, Tensor<float> mean, Tensor<float> variance, float epsilon)
    {
        foreach (var (arg, t) in new[] { ("scale", scale), ("B", bias), ("input_mean", mean), ("input_var", variance) })
            Check.That(t.Rank == 1 && t.Length == channels, "BatchNormalization", arg, $"shape [{channels}] (one value per channel)", Shapes.Format(t.Dims));
        var (a, b) = BatchNorm.InferenceCoefficients(scale, bias, mean, variance, epsilon);
        return new ConvEpilogue(a, b, false, false, 0, 0);
    }

    /// <summary>This epilogue followed by Relu.</summary>
    public ConvEpilogue ThenRelu() => new(_scale, _shift, true, false, 0, 0);

    /// <summary>
    /// This epilogue followed by per-tensor fake quantization with <paramref name="p"/> (a sim's output quantizer), computed by
    /// the kernel <see cref="QuantizeKernels.FakeQuantize(Tensor{float}, QuantParams, Tensor{float}, Tensor{bool}?)"/> runs,
    /// whose vector and scalar paths agree bit for bit.
    /// </summary>
    /// <exception cref="ArgumentException">Parameters per channel, or stochastic rounding.</exception>
    public ConvEpilogue ThenFakeQuantize(QuantParams p)
    {
        if (p.Scale.Length != 1 || p.Axis is not null || p.Rounding == QuantRounding.Stochastic)
            throw new ArgumentException("ConvEpilogue: only per-tensor, round-to-nearest fake quantization is applied elementwise", nameof(p));
        return new(_scale, _shift, _relu, _clip, _lo, _hi, _hardSwish, p);
    }

    /// <summary>This epilogue followed by HardSwish.</summary>
    public ConvEpilogue ThenHardSwish() => new(_scale, _shift, false, false, 0, 0, hardSwish: true);

    /// <summary>This epilogue followed by Clip(<paramref name="min"/>, <paramref name="max"/>).</summary>
    /// <exception cref="ShapeException">min &gt; max, as Clip says it.</exception>
    public ConvEpilogue ThenClip(float min, float max)
    {
        Check.That(!(min > max), "Clip", "max", $">= min ({min})", max.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return new(_scale, _shift, false, true, min, max);
    }

    /// <summary>
    /// Applies the epilogue in place to <paramref name="count"/> consecutive planes of <paramref name="p"/> values starting
    /// at plane <paramref name="first"/> of an output [N, M, P] (plane index n·M + channel): the normalization plane by
    /// plane, then the activation over the whole run at once, so planes of a few pixels still fill vectors.
    /// </summary>
    public void ApplyPlanes(float* y, long first, int count, int m, int p)
    {
        float* start = y + first * p;
        if (_scale is not null)
            for (int k = 0; k < count; k++)
            {
                int c = (int)((first + k) % m);
                BatchNorm.AffineSpan(start + (long)k * p, start + (long)k * p, p, _scale[c], _shift![c]);
            }
        nint length = (nint)count * p;
        if (_relu) ElementwiseDriver.UnaryBlock(new ReluOperator(), start, start, length, ElementwiseDriver.BestWidth);
        else if (_clip) ElementwiseDriver.UnaryBlock(new ClipOperator(_lo, _hi), start, start, length, ElementwiseDriver.BestWidth);
        else if (_hardSwish) ElementwiseDriver.UnaryBlock(new HardSwishOperator(), start, start, length, ElementwiseDriver.BestWidth);
        if (_quantize is { } q)
            QuantizeRuns.FakeQuantize(QuantizeRuns.Best, start, start, null, checked((int)length), new UniformParams(q.Scale[0], q.ZeroPoint[0]),
                q.QMin, q.QMax, false, q.Seed, 0);
    }

    /// <summary>Applies the epilogue to images [<paramref name="first"/>, first + count) of an output [N, M, P] on this thread.</summary>
    public void ApplyImages(float* y, int first, int count, int m, int p) => ApplyPlanes(y, (long)first * m, count * m, m, p);

    /// <summary>Applies the epilogue to every plane of an output [N, M, P], spread over the cores.</summary>
    public void ApplyAll(float* y, int n, int m, int p)
    {
        nint ay = (nint)y;
        Work.For(n * m, Math.Max(1, 32768 / Math.Max(p, 1)), (start, end) => ApplyPlanes((float*)ay, start, end - start, m, p));
    }
}
