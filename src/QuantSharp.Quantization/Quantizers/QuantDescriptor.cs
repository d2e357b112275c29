using System.Globalization;
using System.Text;
using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;

namespace QuantSharp.Quantization.Quantizers;

/// <summary>
/// How a tensor is quantized (pytorch-quantization's <c>QuantDescriptor</c>): bit width or FP8 format, fake or real
/// output, the axes that keep their own amax, an optional fixed amax, amax learning and scaling, the calibration method,
/// signedness and range. Immutable and validated on construction.
/// </summary>
/// <remarks>
/// <para>Integer quantization uses <c>scale = maxBound / amax</c> with <c>maxBound = 2^(NumBits−1) − 1</c> (signed) or
/// <c>2^NumBits − 1</c> (unsigned); see <see cref="TensorQuant"/>. An FP8 descriptor (<see cref="FloatFormat"/> E4M3 or
/// E5M2) scales x by <c>formatMax / amax</c> before casting: one amax per tensor (pytorch-quantization's E4M3), or one per
/// slice along a single axis (per channel, as ONNX QuantizeLinear's <c>axis</c> takes one).</para>
/// <para>Defaults follow pytorch-quantization's descriptor: 8 bits, fake quantization, per tensor, calibration "max",
/// signed, <see cref="NarrowRange"/> false (the functional <see cref="TensorQuant"/> API defaults to narrow, like
/// <c>tensor_quant</c>). Differences: bit widths are limited to 2..16 (the shared kernels' range; 0 or 33 are errors),
/// and axes are validated against a tensor with <see cref="Validate(int)"/>.</para>
/// </remarks>
public sealed partial record QuantDescriptor
{
    private readonly int[]? _axis;
    private readonly float[]? _amax;

    /// <summary>Creates a validated descriptor.</summary>
    /// <param name="numBits">Integer bit width 2..16 (8 for an FP8 format).</param>
    /// <param name="name">Optional name (used in messages).</param>
    /// <param name="fakeQuant">True: quantize-dequantize (float output); false: integer levels (held as float).</param>
    /// <param name="axis">The axes that keep their own amax (null or empty: per tensor); no duplicates.</param>
    /// <param name="amax">A fixed amax: one value, or one per slice along <paramref name="axis"/>; each ≥ 0.</param>
    /// <param name="learnAmax">Learn amax in training (per tensor only, as in pytorch-quantization).</param>
    /// <param name="scaleAmax">Multiply amax by this (> 0) before quantizing.</param>
    /// <param name="calibMethod"><c>"max"</c> or <c>"histogram"</c>.</param>
    /// <param name="unsigned">Unsigned range 0..2^bits − 1.</param>
    /// <param name="narrowRange">Signed range −maxBound..maxBound instead of −maxBound − 1..maxBound.</param>
    /// <param name="floatFormat">FP8 format (E4M3 or E5M2) instead of integers.</param>
    /// <exception cref="ArgumentException">A field is invalid; the message names the field, what is expected and what was got.</exception>
    public QuantDescriptor(int numBits = 8, string? name = null, bool fakeQuant = true, int[]? axis = null, float[]? amax = null,
        bool learnAmax = false, float? scaleAmax = null, string calibMethod = "max", bool unsigned = false, bool narrowRange = false,
        FloatFormat? floatFormat = null)
    {
        string who = name is null ? "QuantDescriptor" : $"QuantDescriptor '{name}'";
        if (floatFormat is { } f)
        {
            Require(f is Engine.Kernels.FloatFormat.E4M3 or Engine.Kernels.FloatFormat.E5M2, who, "floatFormat", "E4M3 or E5M2 (FP8)", f.ToString());
            Require(numBits == 8, who, "numBits", "8 with an FP8 format", Inv(numBits));
            Require(!unsigned, who, "unsigned", "false with an FP8 format", "true");
            Require(axis is null || axis.Length <= 1, who, "axis", "per tensor (no axis) or one axis with an FP8 format", FormatAxis(axis!));
        }
        else
        {
            Require(numBits is >= 2 and <= 16, who, "numBits", "2..16", Inv(numBits));
        }
        if (axis is { Length: > 0 })
        {
            var seen = new HashSet<int>();
            foreach (int a in axis) Require(seen.Add(a), who, "axis", "distinct axes", $"{FormatAxis(axis)} (axis {a} repeated)");
        }
        if (amax is not null)
        {
            Require(amax.Length >= 1, who, "amax", "at least one value", "an empty list");
            for (int i = 0; i < amax.Length; i++)
            {
                string at = amax.Length > 1 ? $" at index {i}" : "";
                Require(!float.IsNaN(amax[i]), who, "amax", "numbers", "NaN" + at);
                Require(amax[i] >= 0, who, "amax", "values >= 0", Inv(amax[i]) + at);
                Require(float.IsFinite(amax[i]), who, "amax", "finite values", Inv(amax[i]) + at);
            }
            Require(amax.Length == 1 || axis is { Length: > 0 }, who, "amax", "one value for per-tensor quantization (axis is null)",
                $"{amax.Length} values");
        }
        Require(!learnAmax || axis is null || axis.Length == 0, who, "learnAmax", "per-tensor quantization (axis null) when amax is learned",
            "axis " + FormatAxis(axis!));
        if (scaleAmax is { } sa) Require(float.IsFinite(sa) && sa > 0, who, "scaleAmax", "a finite value > 0", Inv(sa));
        Require(calibMethod is "max" or "histogram", who, "calibMethod", "\"max\" or \"histogram\"", $"\"{calibMethod}\"");

        NumBits = numBits;
        Name = name;
        FakeQuant = fakeQuant;
        _axis = axis is { Length: > 0 } ? (int[])axis.Clone() : null;
        _amax = amax is null ? null : (float[])amax.Clone();
        LearnAmax = learnAmax;
        ScaleAmax = scaleAmax;
        CalibMethod = calibMethod;
        Unsigned = unsigned;
        NarrowRange = narrowRange;
        FloatFormat = floatFormat;
    }

    /// <summary>The same descriptor keeping its own amax along <paramref name="axis"/> instead (e.g. a weight whose output
    /// channels are on another axis); a fixed amax is dropped when the axes change, since it was laid out for the old ones.</summary>
    public QuantDescriptor WithAxis(int[] axis) =>
        new(NumBits, Name, FakeQuant, axis, Axis.SequenceEqual(axis) ? _amax : null, LearnAmax, ScaleAmax, CalibMethod, Unsigned, NarrowRange, FloatFormat);

    /// <summary>The same descriptor with other bits, signedness or range (validated like a new one; null keeps the field).</summary>
    /// <exception cref="ArgumentException">The combination is invalid (e.g. bits other than 8 with an FP8 format).</exception>
    public QuantDescriptor With(int? numBits = null, bool? unsigned = null, bool? narrowRange = null) =>
        new(numBits ?? NumBits, Name, FakeQuant, _axis, _amax, LearnAmax, ScaleAmax, CalibMethod, unsigned ?? Unsigned, narrowRange ?? NarrowRange, FloatFormat);

    /// <summary>8-bit, per tensor, max calibration (pytorch-quantization's <c>QUANT_DESC_8BIT_PER_TENSOR</c>).</summary>
    public static QuantDescriptor Default { get; } = new();

    /// <summary>Unsigned 8-bit, per tensor (<c>QUANT_DESC_UNSIGNED_8BIT_PER_TENSOR</c>), e.g. after ReLU.</summary>
    public static QuantDescriptor Unsigned8BitPerTensor { get; } = new(unsigned: true);

    /// <summary>8-bit per output channel (axis 0) for Conv1d/2d/3d weights (<c>QUANT_DESC_8BIT_CONV2D_WEIGHT_PER_CHANNEL</c>).</summary>
    public static QuantDescriptor ConvWeightPerChannel { get; } = new(axis: [0]);

    /// <summary>8-bit per channel along weight axis 0 for ConvTranspose weights, as pytorch-quantization's <c>QUANT_DESC_8BIT_CONVTRANSPOSE2D_WEIGHT_PER_CHANNEL</c> (axis 0 of an ONNX/PyTorch ConvTranspose weight [C_in, C_out/g, k…] is the input channel; <see cref="Modules.QuantModules"/> moves it to the output channels, axis 1).</summary>
    public static QuantDescriptor ConvTransposeWeightPerChannel { get; } = new(axis: [0]);

    /// <summary>8-bit per row (axis 0, one per output feature) for Linear weights (<c>QUANT_DESC_8BIT_LINEAR_WEIGHT_PER_ROW</c>).</summary>
    public static QuantDescriptor LinearWeightPerChannel { get; } = new(axis: [0]);

    /// <summary>8-bit per tensor with histogram calibration, the usual choice for activations (inputs) in pytorch-quantization's examples.</summary>
    public static QuantDescriptor InputHistogram { get; } = new(calibMethod: "histogram");

    /// <summary>Bit width (2..16; 8 for FP8).</summary>
    public int NumBits { get; }

    /// <summary>Optional name.</summary>
    public string? Name { get; }

    /// <summary>True: fake quantization (quantize-dequantize); false: integer levels.</summary>
    public bool FakeQuant { get; }

    /// <summary>The axes that keep their own amax (empty: per tensor).</summary>
    public IReadOnlyList<int> Axis => _axis ?? [];

    /// <summary>True when no axis keeps its own amax.</summary>
    public bool PerTensor => _axis is null;

    /// <summary>The fixed amax (one value, or one per slice along <see cref="Axis"/>), or null (calibrated later).</summary>
    public IReadOnlyList<float>? Amax => _amax;

    /// <summary>Whether amax is learned.</summary>
    public bool LearnAmax { get; }

    /// <summary>Factor amax is multiplied by, or null.</summary>
    public float? ScaleAmax { get; }

    /// <summary>Calibration method: <c>"max"</c> or <c>"histogram"</c>.</summary>
    public string CalibMethod { get; }

    /// <summary>Unsigned range.</summary>
    public bool Unsigned { get; }

    /// <summary>Narrow (symmetric) signed range.</summary>
    public bool NarrowRange { get; }

    /// <summary>FP8 format, or null for integer quantization.</summary>
    public FloatFormat? FloatFormat { get; }

    /// <summary>
    /// Checks the axes against a tensor of rank <paramref name="rank"/> and returns them normalized to [0, rank), sorted.
    /// </summary>
    /// <exception cref="ShapeException">An axis out of [−rank, rank), or two axes naming the same dimension.</exception>
    public int[] Validate(int rank)
    {
        string who = Name is null ? "QuantDescriptor" : $"QuantDescriptor '{Name}'";
        if (_axis is null) return [];
        var norm = new int[_axis.Length];
        for (int i = 0; i < norm.Length; i++)
        {
            int a = _axis[i];
            if (a < -rank || a >= rank)
                throw new ShapeException($"{who}: argument 'axis' expected axes in [{-rank}, {rank - 1}] for a tensor of rank {rank}, got {FormatAxis(_axis)}");
            norm[i] = a < 0 ? a + rank : a;
        }
        Array.Sort(norm);
        for (int i = 1; i < norm.Length; i++)
            if (norm[i] == norm[i - 1])
                throw new ShapeException($"{who}: argument 'axis' expected distinct axes for a tensor of rank {rank}, got {FormatAxis(_axis)} (both name axis {norm[i]})");
        return norm;
    }

    /// <summary>Value equality (axes and amax compared element by element).</summary>
    public bool Equals(QuantDescriptor? other) =>
        other is not null && NumBits == other.NumBits && Name == other.Name && FakeQuant == other.FakeQuant &&
        Axis.SequenceEqual(other.Axis) && (_amax is null ? other._amax is null : other._amax is not null && _amax.SequenceEqual(other._amax)) &&
        LearnAmax == other.LearnAmax && ScaleAmax == other.ScaleAmax && CalibMethod == other.CalibMethod &&
        Unsigned == other.Unsigned && NarrowRange == other.NarrowRange && FloatFormat == other.FloatFormat;

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(NumBits, Name, FakeQuant, Axis.Count, LearnAmax, CalibMethod, Unsigned, HashCode.Combine(NarrowRange, FloatFormat));

    /// <summary>
    /// pytorch-quantization's descriptor string, e.g. <c>QuantDescriptor(8bit fake per-tensor)</c>,
    /// <c>w: (unsigned 4bit real axis=(0) amax=[1.00e+00, 2.00e+00] learn_amax scale_amax=2 narrow calib=histogram)</c>.
    /// </summary>
    public override string ToString()
    {
        var s = new StringBuilder(Name is null ? "QuantDescriptor(" : Name + ": (");
        if (Unsigned) s.Append("unsigned ");
        s.Append(FloatFormat is { } f ? f.ToString() : NumBits.ToString(CultureInfo.InvariantCulture) + "bit");
        s.Append(FakeQuant ? " fake" : " real");
        s.Append(_axis is null ? " per-tensor" : " axis=" + FormatAxis(_axis));
        if (_amax is not null) s.Append(" amax=[").Append(string.Join(", ", _amax.Select(a => a.ToString("0.00e+00", CultureInfo.InvariantCulture)))).Append(']');
        if (LearnAmax) s.Append(" learn_amax");
        if (ScaleAmax is { } sa) s.Append(" scale_amax=").Append(Inv(sa));
        if (NarrowRange) s.Append(" narrow");
        if (CalibMethod != "max") s.Append(" calib=").Append(CalibMethod);
        return s.Append(')').ToString();
    }

    /// <summary>Formats axes as pytorch-quantization prints them: <c>(0)</c>, <c>(0, 1)</c>.</summary>
    internal static string FormatAxis(IReadOnlyList<int>? axis) => axis is null || axis.Count == 0 ? "()" : "(" + string.Join(", ", axis) + ")";

    private static string Inv(float v) => v.ToString("R", CultureInfo.InvariantCulture);

    private static string Inv(int v) => v.ToString(CultureInfo.InvariantCulture);

    private static void Require(bool condition, string who, string field, string expected, string got)
    {
        if (!condition) throw new ArgumentException($"{who}: field '{field}' expected {expected}, got {got}", field);
    }
}
