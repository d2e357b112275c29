using System.Collections.Immutable;
using System.Globalization;
using QuantSharp.Engine.Kernels;

namespace QuantSharp.Quantization.Encodings;

/// <summary>ONNX <c>QuantizeLinear</c>/<c>DequantizeLinear</c> parameters of an encoding.</summary>
/// <param name="Scale">One scale per tensor or per channel (float, as ONNX stores it).</param>
/// <param name="ZeroPoint">Zero points, as many as scales.</param>
/// <param name="Signed">Whether the zero points are for a signed integer type (int8, int16, int4) or unsigned.</param>
/// <param name="Axis">The per-channel axis, or null for per-tensor.</param>
public sealed record OnnxQuantParams(float[] Scale, int[] ZeroPoint, bool Signed, int? Axis);

public sealed partial record Encoding
{
    /// <summary>The ONNX scale and zero point of this encoding for an unsigned or signed integer type of <see cref="BitWidth"/> bits.</summary>
    /// <remarks>
    /// <para>ONNX computes <c>q = saturate(round(x/scale) + zero_point)</c>. Unsigned type: <c>zero_point = −offset</c>
    /// (8-bit symmetric: 128). Signed type: every level moves down by <c>2^(bw−1)</c>, so
    /// <c>zero_point = −offset − 2^(bw−1)</c> (8-bit symmetric: 0; asymmetric with offset −64: −64).</para>
    /// <para>ONNX saturates to the full type range; a strict symmetric encoding's top level (unsigned 2^bw − 1,
    /// signed 2^(bw−1) − 1 with zero point −1) is therefore reachable in ONNX but not in the encoding — clip the input to
    /// [min, max] first when that matters.</para>
    /// </remarks>
    /// <param name="signed">Target a signed integer type.</param>
    /// <exception cref="InvalidOperationException">A float encoding, or a bit-width above 16 (no ONNX integer type).</exception>
    public OnnxQuantParams ToOnnx(bool signed)
    {
        const string op = "Encoding.ToOnnx";
        RequireInt(op);
        if (IsPerBlock) throw new InvalidOperationException($"{op}: a per-block encoding's ONNX scale has the weight's rank; use QdqExport");
        RequireKernelBits(op);
        int shift = signed ? 1 << (BitWidth - 1) : 0;
        var zp = new int[Channels];
        for (int c = 0; c < zp.Length; c++) zp[c] = (int)(-Offsets[c] - shift);
        return new OnnxQuantParams(ToFloat(Scales), zp, signed, Axis);
    }

    /// <summary>The engine's <see cref="QuantParams"/> for this encoding, so the shared kernels compute
    /// <c>q = clamp(round(x/scale) − offset, 0, Steps)</c> and <c>x̂ = (q + offset)·scale</c>.</summary>
    /// <remarks>
    /// The kernel form is <c>clamp(round(x/scale) + zeroPoint, QMin, QMax)</c>; the mapping is <c>zeroPoint = −offset</c>,
    /// <c>QMin = 0</c>, <c>QMax = Steps</c> (2^bw − 1, or 2^bw − 2 when strict symmetric), scale rounded to float.
    /// With <paramref name="signed"/> every level moves down by <c>2^(bw−1)</c> (for a signed integer output such as sbyte):
    /// <c>zeroPoint = −offset − 2^(bw−1)</c>, <c>QMin = −2^(bw−1)</c>, <c>QMax = Steps − 2^(bw−1)</c>; the dequantized values
    /// are identical.
    /// </remarks>
    /// <param name="signed">Express the grid in signed integers.</param>
    /// <exception cref="InvalidOperationException">A float encoding, or a bit-width above 16 (the kernels' limit).</exception>
    public QuantParams ToQuantParams(bool signed = false)
    {
        const string op = "Encoding.ToQuantParams";
        RequireInt(op);
        if (IsPerBlock) throw new InvalidOperationException($"{op}: a per-block encoding has no per-axis kernel form; use BlockQuantization");
        RequireKernelBits(op);
        int shift = signed ? 1 << (BitWidth - 1) : 0;
        var zp = new int[Channels];
        for (int c = 0; c < zp.Length; c++) zp[c] = (int)(-Offsets[c] - shift);
        return new QuantParams(ToFloat(Scales), zp, -shift, (int)Steps - shift, Axis);
    }

    /// <summary>pytorch-quantization's <c>amax</c> of each channel of a symmetric encoding.</summary>
    /// <remarks>
    /// <para>pytorch-quantization quantizes with <c>s = (2^(bits−1) − 1)/amax</c> (signed) or <c>s = (2^bits − 1)/amax</c>
    /// (unsigned), <c>fake = round(x·s)/s</c>. So <c>scale = 1/s</c> and <c>amax = max</c> of the encoding: signed
    /// <c>amax = (2^(bw−1) − 1)·scale</c>, unsigned (offset 0) <c>amax = (2^bw − 1)·scale</c>. Its narrow range
    /// (−127..127) is the strict symmetric encoding; its full range (−128..127) the plain symmetric one.</para>
    /// </remarks>
    /// <exception cref="InvalidOperationException">A float or asymmetric encoding (pytorch-quantization has no offset).</exception>
    public double[] ToAmax()
    {
        RequireInt("Encoding.ToAmax");
        if (!Symmetric)
            throw new InvalidOperationException("Encoding.ToAmax: expected a symmetric encoding (pytorch-quantization amax has no offset), got an asymmetric one");
        return [.. Maxs];
    }

    /// <summary>The encoding of a pytorch-quantization per-tensor quantizer with <paramref name="amax"/>.</summary>
    /// <remarks>
    /// Signed: <c>scale = amax/(2^(bits−1) − 1)</c>, <c>offset = −(2^(bits−1) − 1)</c> when <paramref name="narrowRange"/>
    /// (strict symmetric), else <c>−2^(bits−1)</c>. Unsigned: <c>scale = amax/(2^bits − 1)</c>, <c>offset = 0</c>
    /// (pytorch-quantization ignores narrow range for unsigned). In both, <c>max = amax</c>.
    /// </remarks>
    /// <param name="amax">Finite and &gt; 0.</param>
    /// <param name="numBits">2..32.</param>
    /// <param name="unsigned">Unsigned grid 0..2^bits − 1.</param>
    /// <param name="narrowRange">Signed grid −(2^(bits−1) − 1)..2^(bits−1) − 1 instead of −2^(bits−1)..2^(bits−1) − 1.</param>
    /// <exception cref="ArgumentException">A bad <paramref name="numBits"/> or <paramref name="amax"/>.</exception>
    public static Encoding FromAmax(double amax, int numBits = 8, bool unsigned = false, bool narrowRange = true) =>
        FromAmax([amax], null, numBits, unsigned, narrowRange, "Encoding.FromAmax");

    /// <summary>The per-channel encoding of a pytorch-quantization quantizer with one <paramref name="amax"/> per channel along <paramref name="axis"/>.</summary>
    /// <inheritdoc cref="FromAmax(double, int, bool, bool)" path="/remarks"/>
    /// <param name="amax">One amax per channel, each finite and &gt; 0.</param>
    /// <param name="axis">The channel axis.</param>
    /// <param name="numBits">2..32.</param>
    /// <param name="unsigned">Unsigned grid 0..2^bits − 1.</param>
    /// <param name="narrowRange">Signed grid −(2^(bits−1) − 1)..2^(bits−1) − 1.</param>
    /// <exception cref="ArgumentException">An empty <paramref name="amax"/>, a bad value in it, or a bad <paramref name="numBits"/>.</exception>
    public static Encoding FromAmaxPerChannel(ReadOnlySpan<double> amax, int axis, int numBits = 8, bool unsigned = false, bool narrowRange = true) =>
        FromAmax(amax, axis, numBits, unsigned, narrowRange, "Encoding.FromAmaxPerChannel");

    private static Encoding FromAmax(ReadOnlySpan<double> amax, int? axis, int numBits, bool unsigned, bool narrowRange, string op)
    {
        if (numBits is < 2 or > 32) throw Bad(op, "numBits", "2..32", numBits.ToString(CultureInfo.InvariantCulture));
        if (amax.Length == 0) throw Bad(op, "amax", "at least one channel", "an empty array");
        bool strict = !unsigned && narrowRange;
        long positive = unsigned ? (1L << numBits) - 1 : (1L << (numBits - 1)) - 1;
        long offset = unsigned ? 0 : strict ? -positive : -positive - 1;
        var mins = new double[amax.Length];
        var maxs = new double[amax.Length];
        var scales = new double[amax.Length];
        var offsets = new long[amax.Length];
        for (int c = 0; c < amax.Length; c++)
        {
            double a = amax[c];
            if (!(double.IsFinite(a) && a > 0))
                throw Bad(op, "amax", "finite values > 0", Str(a) + (axis is null ? "" : $" at channel {c}"));
            double scale = a / positive;
            (mins[c], maxs[c], scales[c], offsets[c]) = (offset * scale, a, scale, offset);
        }
        return new Encoding(EncodingDataType.Int, numBits, true, strict, unsigned, axis,
            ImmutableArray.Create(mins), ImmutableArray.Create(maxs), ImmutableArray.Create(scales), ImmutableArray.Create(offsets));
    }

    private void RequireKernelBits(string op)
    {
        if (BitWidth > 16)
            throw new InvalidOperationException($"{op}: expected a bit-width of 2..16 (integer quantization types), got {BitWidth}");
    }

    private static float[] ToFloat(ImmutableArray<double> values)
    {
        var f = new float[values.Length];
        for (int i = 0; i < f.Length; i++) f[i] = (float)values[i];
        return f;
    }
}
