using System.Globalization;
using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;
using QuantSharp.Engine.Runtime;
using QuantSharp.Engine.Runtime.Quantizers;
using QuantSharp.Quantization.Calibration;
using QuantSharp.Quantization.Encodings;

namespace QuantSharp.Quantization.Sim;

/// <summary>Where a simulation quantizer sits: on an activation (a tensor computed by the graph, or a model input) or on a parameter.</summary>
public enum QuantizerRole
{
    /// <summary>A tensor computed at run time (op output, op input, model input).</summary>
    Activation,

    /// <summary>A parameter (initializer): weight, bias or another constant input.</summary>
    Param,
}

/// <summary>
/// One quantize-dequantize point of a <see cref="QuantizationSimModel"/> (AIMET's <c>QcQuantizeWrapper</c> quantizer /
/// <c>QcQuantizeOp</c>): its settings, its encoding, and its mode. It runs as the graph node
/// <see cref="QuantizerNode"/> named <see cref="Name"/>.
/// </summary>
/// <remarks>
/// <para>Modes: disabled → passes values through; calibrating → feeds its statistics collector and passes values
/// through; otherwise → <c>x̂ = (clamp(round(x/scale) − offset, 0, steps) + offset)·scale</c> with the shared engine
/// kernels (round half to even, or stochastic). A quantizer that is enabled but has no encoding refuses to run.</para>
/// <para>Backward is the straight-through estimator: the gradient passes where x lies inside the encoding's range
/// [min, max] and is zero where it was clipped.</para>
/// </remarks>
public sealed partial class SimQuantizer : IEdgeQuantizer
{
    private Encoding? _encoding;
    private QuantParams? _params;
    private uint _calls;

    /// <summary>Creates a quantizer; it has no encoding until calibrated, loaded or set.</summary>
    public SimQuantizer(string name, QuantizerRole role, string value, int bitWidth, bool symmetric,
        bool strictSymmetric = false, bool unsignedSymmetric = true, int? axis = null, EncodingDataType dataType = EncodingDataType.Int)
    {
        Name = name;
        Role = role;
        Value = value;
        BitWidth = bitWidth;
        Symmetric = symmetric;
        StrictSymmetric = strictSymmetric;
        UnsignedSymmetric = unsignedSymmetric;
        Granularity = axis is { } a ? new QuantGranularity.PerChannel(a) : QuantGranularity.PerTensor;
        DataType = dataType;
    }

    /// <summary>The quantizer's name: the tensor or parameter name it quantizes (the key in encodings files).</summary>
    public string Name { get; }

    /// <summary>Activation or parameter quantizer.</summary>
    public QuantizerRole Role { get; }

    /// <summary>The graph value it quantizes.</summary>
    public string Value { get; }

    /// <summary>Whether it quantizes (false: values pass through unchanged).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Bit-width of the integer grid (or 16/32 for a float type).</summary>
    public int BitWidth { get; set; }

    /// <summary>Symmetric grid (signed, offset −2^(bw−1), or −2^(bw−1)+1 when strict).</summary>
    public bool Symmetric { get; set; }

    /// <summary>Strict symmetric: the lowest level is dropped so the grid is −(2^(bw−1)−1)..2^(bw−1)−1.</summary>
    public bool StrictSymmetric { get; set; }

    /// <summary>Symmetric encodings of non-negative data use the unsigned grid 0..2^bw−1 (AIMET <c>unsigned_symmetric</c>).</summary>
    public bool UnsignedSymmetric { get; set; }

    /// <summary>Which elements share a scale: per tensor, per channel or per block (encodings must match it).</summary>
    public QuantGranularity Granularity { get; set; }

    /// <summary>
    /// The axis the encoding's entries run along (the channel axis, or the block axis of a per-block quantizer), or null
    /// per tensor; setting it makes the quantizer per-channel on that axis (null: per-tensor).
    /// </summary>
    public int? Axis
    {
        get => Granularity.Axis;
        set => Granularity = value is { } a ? new QuantGranularity.PerChannel(a) : QuantGranularity.PerTensor;
    }

    /// <summary>True when per-channel.</summary>
    public bool IsPerChannel => Granularity is QuantGranularity.PerChannel;

    /// <summary>True when per-block.</summary>
    public bool IsPerBlock => Granularity is QuantGranularity.PerBlock;

    /// <summary>Integer grid or float cast.</summary>
    public EncodingDataType DataType { get; set; }

    /// <summary>Rounding of the quantize step.</summary>
    public QuantRounding Rounding { get; set; } = QuantRounding.HalfToEven;

    /// <summary>Seed of stochastic rounding (each run draws fresh noise from it).</summary>
    public uint Seed { get; set; }

    /// <summary>True when the encoding may no longer change (calibration and loading skip it).</summary>
    public bool IsFrozen { get; private set; }

    /// <summary>True while statistics are being collected (values pass through).</summary>
    public bool IsCalibrating => Analyzer is not null;

    /// <summary>The statistics collector during calibration, else null.</summary>
    internal IEncodingAnalyzer? Analyzer { get; set; }

    /// <summary>
    /// The smallest and largest value seen while calibrating (null before any data), kept apart from the analyzer
    /// because an encoding cannot tell constant data from a real range (asymmetric ranges are widened to contain 0).
    /// </summary>
    internal (float Min, float Max)? CalibrationSpread { get; set; }

    /// <summary>The encoding in use, or null before calibration.</summary>
    /// <exception cref="InvalidOperationException">Setting a frozen quantizer's encoding.</exception>
    /// <exception cref="ArgumentException">An encoding whose per-channel axis differs from <see cref="Axis"/>.</exception>
    public Encoding? Encoding
    {
        get => _encoding;
        set => AssignEncoding(value, keepLearnedRange: false);
    }

    /// <summary>
    /// Sets the encoding (validated against the quantizer's settings, which follow it). A new encoding ends range learning,
    /// unless <paramref name="keepLearnedRange"/> (the learned tensors are the source of the encoding being written back).
    /// </summary>
    private void AssignEncoding(Encoding? value, bool keepLearnedRange)
    {
        if (IsFrozen) throw new InvalidOperationException($"quantizer '{Name}': its encoding is frozen");
        if (value is not null && value.DataType == EncodingDataType.Int && value.Granularity != Granularity)
            throw new ArgumentException($"quantizer '{Name}': expected a {Granularity} encoding, got {value}");
        _encoding = value;
        _params = null;
        if (!keepLearnedRange) _learnedA = _learnedB = _gradA = _gradB = null;
        if (value is not null)
        {
            BitWidth = value.BitWidth;
            DataType = value.DataType;
            if (value.DataType == EncodingDataType.Int) { Symmetric = value.Symmetric; StrictSymmetric = value.StrictSymmetric; }
        }
    }

    /// <summary>Sets the encoding and freezes it (AIMET <c>set_and_freeze_param_encodings</c>).</summary>
    public void SetAndFreeze(Encoding encoding)
    {
        IsFrozen = false;
        Encoding = encoding;
        IsFrozen = true;
    }

    /// <summary>Lets the encoding change again.</summary>
    public void Unfreeze() => IsFrozen = false;

    /// <summary>The encoding a calibration statistic gives under this quantizer's settings.</summary>
    internal Encoding EncodingFrom(IEncodingAnalyzer analyzer) =>
        DataType == EncodingDataType.Float ? Encoding.FloatType(BitWidth) : analyzer.ComputeEncoding(BitWidth, Symmetric, StrictSymmetric, UnsignedSymmetric);

    /// <summary>
    /// Reuse the quantize-dequantize output while the input array, its shape, the encoding and every setting are unchanged
    /// (see <see cref="QuantizationSimModel.ReuseQuantizedWeights"/>): a weight is then quantized once, not on every run.
    /// Bypassed while training, calibrating, learning the range or rounding stochastically. Writing into the input's array
    /// in place is not seen.
    /// </summary>
    public bool ReuseOutput
    {
        get => _reuseOutput;
        set { _reuseOutput = value; _reused = null; }
    }

    private bool _reuseOutput;
    private ReusedOutput? _reused;

    /// <summary>What a reused output was computed from.</summary>
    private sealed record ReusedOutput(Array Source, int[] Shape, Encoding Encoding, (int, bool, bool, bool, EncodingDataType, QuantRounding) Settings, Tensor<float> Output);

    private (int, bool, bool, bool, EncodingDataType, QuantRounding) Settings => (BitWidth, Symmetric, StrictSymmetric, UnsignedSymmetric, DataType, Rounding);

    /// <inheritdoc />
    public bool PassesThrough => !Enabled;

    /// <inheritdoc />
    public QuantParams? ElementwiseFakeQuantize =>
        Enabled && Analyzer is null && !_reuseOutput && !LearnsRange && Rounding != QuantRounding.Stochastic
        && _encoding is { } e && e.DataType != EncodingDataType.Float && !e.IsPerBlock && e.BitWidth <= 16 && e.Axis is null
            ? Params(e) : null;

    /// <inheritdoc />
    public Tensor<float> Forward(Tensor<float> x, bool training, ITensorAllocator allocator)
    {
        if (!Enabled) return x;
        if (Analyzer is { } analyzer)
        {
            analyzer.Collect(x);
            if (x.Length > 0)
            {
                RangeKernel.MinMax(x.AsSpan(), out float lo, out float hi); // the analyzer has refused non-finite data
                CalibrationSpread = CalibrationSpread is { } s ? (Math.Min(s.Min, lo), Math.Max(s.Max, hi)) : (lo, hi);
            }
            return x;
        }
        var encoding = RequireEncoding();
        if (!_reuseOutput || training || LearnsRange || Rounding == QuantRounding.Stochastic) return Quantize(x, encoding, allocator);
        if (_reused is { } r && ReferenceEquals(r.Source, x.RawData) && ReferenceEquals(r.Encoding, encoding) && r.Settings == Settings
            && x.Dims.SequenceEqual(r.Shape))
            return r.Output;
        // Not from the session's pool: a pooled array would be recycled after this run.
        var output = Quantize(x, encoding, HeapAllocator.Instance);
        _reused = ReferenceEquals(output, x) ? null : new ReusedOutput(x.RawData, x.Shape, encoding, Settings, output);
        return output;
    }

    private Tensor<float> Quantize(Tensor<float> x, Encoding encoding, ITensorAllocator allocator)
    {
        if (encoding.DataType == EncodingDataType.Float) return FloatCast(x, encoding, allocator);
        if (encoding.IsPerBlock) return BlockQuantization.FakeQuantize(x, encoding);
        if (encoding.BitWidth > 16) return WideGrid.FakeQuantize(x, encoding, allocator);
        var p = LearnsRange ? LearnedParams() : Params(encoding);
        if (Rounding == QuantRounding.Stochastic) p = p with { Seed = unchecked(Seed + 0x9E3779B9u * ++_calls) };
        var y = allocator.AllocateOver(x, x.Dims);
        QuantizeKernels.FakeQuantize(x, p, y);
        return y;
    }

    /// <inheritdoc />
    public Tensor<float> Backward(Tensor<float> x, Tensor<float> gradOutput)
    {
        if (!Enabled || _encoding is null || _encoding.DataType == EncodingDataType.Float) return gradOutput;
        if (_encoding.BitWidth > 16) return WideGrid.Backward(x, gradOutput, _encoding);
        if (_encoding.IsPerBlock) return BlockQuantization.Backward(x, gradOutput, _encoding);
        if (LearnsRange) return RangeBackward(x, gradOutput);
        return QuantizeKernels.FakeQuantizeBackward(x, gradOutput, Params(_encoding));
    }

    /// <summary>One line: name, role, settings, mode and encoding.</summary>
    public override string ToString()
    {
        string grid = DataType == EncodingDataType.Float ? $"float{BitWidth}"
            : $"{BitWidth}bit {(Symmetric ? (StrictSymmetric ? "strict-symmetric" : "symmetric") : "asymmetric")}";
        string channel = Granularity is QuantGranularity.Tensor ? "" : $" {Granularity}";
        string state = !Enabled ? "disabled" : IsCalibrating ? "calibrating" : _encoding is null ? "no encoding" : Describe(_encoding);
        return $"{Name} [{Role.ToString().ToLowerInvariant()}] {grid}{channel}{(IsFrozen ? " frozen" : "")}{(LearnsRange ? " learned-range" : "")}: {state}";
    }

    private static string Describe(Encoding e)
    {
        var ic = CultureInfo.InvariantCulture;
        if (e.DataType == EncodingDataType.Float) return $"float{e.BitWidth}";
        if (e.Axis is not null)
            return string.Create(ic, $"{e.Channels} channels, min=[{e.Mins.Min():G5}..] max=[..{e.Maxs.Max():G5}], scale=[{e.Scales.Min():G5}, {e.Scales.Max():G5}]");
        return string.Create(ic, $"min={e.Min:G6}, max={e.Max:G6}, scale={e.Scale:G6}, offset={e.Offset}");
    }

    private Encoding RequireEncoding() => _encoding ?? throw new InvalidOperationException(
        $"quantizer '{Name}' has no encoding: call ComputeEncodings (or LoadEncodings / set its Encoding) first, or disable it");

    private QuantParams Params(Encoding encoding) => _params ??= encoding.ToQuantParams() with { Rounding = Rounding, Seed = Seed };

    private static Tensor<float> FloatCast(Tensor<float> x, Encoding encoding, ITensorAllocator allocator)
    {
        if (encoding.BitWidth == 32) return x;
        var y = allocator.Allocate<float>(x.Dims);
        FloatQuantize.FakeQuantize(x, FloatFormat.Float16, 1f, y);
        return y;
    }
}
