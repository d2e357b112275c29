using QuantSharp.Engine;
using QuantSharp.Engine.Autograd;
using QuantSharp.Engine.Kernels;
using QuantSharp.Engine.Runtime;
using QuantSharp.Engine.Runtime.Quantizers;
using QuantSharp.Quantization.Calibration;

namespace QuantSharp.Quantization.Quantizers;

/// <summary>
/// pytorch-quantization's <c>TensorQuantizer</c>: quantizes tensors as its <see cref="QuantDescriptor"/> says, collects
/// calibration statistics, clips with learnable bounds, and learns amax. It is also an <see cref="IEdgeQuantizer"/>, so the
/// same object runs eagerly (<see cref="Forward(Tensor{float})"/>, <see cref="Forward(Variable)"/>) and as a graph node
/// (<see cref="QuantizerNode"/>).
/// </summary>
/// <remarks>
/// <para>Forward, as pytorch-quantization's: disabled → x unchanged; otherwise, when calibrating, x is collected into
/// <see cref="Calibrator"/> (a <see cref="MaxCalibrator"/> over the descriptor's axes, or a
/// <see cref="HistogramCalibrator"/>); when clipping, <c>y = min(max(x, ClipMin), ClipMax)</c>; when quantizing,
/// <c>y = TensorQuant.FakeQuantize(y, amax·scaleAmax)</c> (or the integer levels for a real quantizer, with
/// <see cref="Scale"/> recorded). With quantization disabled the (clipped) input passes through, so calibration runs
/// with <see cref="DisableQuant"/> see float activations.</para>
/// <para>amax: a learned amax (<see cref="LearnedAmax"/>) when the descriptor learns it; else <see cref="Amax"/> (from the
/// descriptor, <see cref="LoadCalibAmax"/> or set directly); else, while clipping, <c>max(−ClipMin, ClipMax)</c> (the amax
/// pytorch-quantization derives from its learned clip); else, as pytorch-quantization's dynamic quantization, the
/// absolute maximum of each input (per tensor, or along the descriptor's axes), recomputed on every forward.</para>
/// <para>Gradients: STE through quantization (<see cref="TensorQuant.FakeQuantizeBackward"/>); PACT-style clip bounds get
/// <c>Σ dy</c> over the elements clipped at them (the engine's Max/Min rules, ties split); a learned amax gets the LSQ
/// gradient times <c>maxBound·√(maxBound/N)</c> (N elements): LSQ's step-size factor <c>1/√(N·maxBound)</c> carried
/// over to <c>amax = maxBound·s</c>, so an SGD step changes amax/maxBound exactly as LSQ changes its step size s.
/// (pytorch-quantization instead learns amax as PACT clip bounds ±amax; see <see cref="ClipRange"/> for that form.)</para>
/// </remarks>
public sealed partial class TensorQuantizer : IEdgeQuantizer
{
    private Tensor<float>? _amax;

    /// <summary>Creates a quantizer.</summary>
    /// <param name="descriptor">How to quantize (default <see cref="QuantDescriptor.Default"/>).</param>
    /// <param name="name">Name used in messages and graph lookups (default: the descriptor's name, else "TensorQuantizer").</param>
    /// <param name="disabled">Start disabled (pass-through).</param>
    /// <param name="quant">Start with quantization enabled.</param>
    /// <param name="calib">Start with calibration enabled.</param>
    /// <exception cref="ArgumentException">Histogram calibration with an axis (the histogram calibrator is per tensor).</exception>
    public TensorQuantizer(QuantDescriptor? descriptor = null, string? name = null, bool disabled = false, bool quant = true, bool calib = false)
    {
        Descriptor = descriptor ?? QuantDescriptor.Default;
        Name = name ?? Descriptor.Name ?? "TensorQuantizer";
        if (Descriptor.CalibMethod == "histogram" && !Descriptor.PerTensor)
            throw new ArgumentException($"TensorQuantizer '{Name}': histogram calibration is per tensor only, got axis {QuantDescriptor.FormatAxis(Descriptor.Axis)}", nameof(descriptor));
        Calibrator = Descriptor.CalibMethod == "histogram" ? new HistogramCalibrator() : new MaxCalibrator(Descriptor.Axis.ToArray());
        IsEnabled = !disabled;
        IsQuantEnabled = quant;
        IsCalibEnabled = calib;
        if (Descriptor.Amax is { } a)
            _amax = a.Count == 1 ? Tensor.Scalar(a[0]) : Tensor.FromArray(a.ToArray(), a.Count);
        if (Descriptor.LearnAmax)
            LearnedAmax = new Variable(Tensor.Scalar(_amax is null ? 1f : _amax.Data.Max()), requiresGrad: true, name: Name + ".amax");
    }

    /// <summary>The descriptor (replaced when <see cref="NumBits"/>, <see cref="Unsigned"/> or <see cref="NarrowRange"/> is set).</summary>
    public QuantDescriptor Descriptor { get; private set; }

    /// <summary>
    /// Bit width, settable as pytorch-quantization's <c>num_bits</c>: later forwards quantize with the new width; amax is
    /// kept (it is a range, not a scale).
    /// </summary>
    /// <exception cref="ArgumentException">A width the descriptor does not allow (2..16; 8 with FP8).</exception>
    public int NumBits
    {
        get => Descriptor.NumBits;
        set => Descriptor = Descriptor.With(numBits: value);
    }

    /// <summary>Unsigned range, settable as pytorch-quantization's <c>unsigned</c>.</summary>
    /// <exception cref="ArgumentException">Unsigned with an FP8 format.</exception>
    public bool Unsigned
    {
        get => Descriptor.Unsigned;
        set => Descriptor = Descriptor.With(unsigned: value);
    }

    /// <summary>Narrow signed range (−maxBound..maxBound), settable as pytorch-quantization's <c>narrow_range</c>.</summary>
    public bool NarrowRange
    {
        get => Descriptor.NarrowRange;
        set => Descriptor = Descriptor.With(narrowRange: value);
    }

    /// <summary>
    /// pytorch-quantization's <c>step_size</c>: the quantization step <c>amax / maxBound</c> (per slice for a per-axis amax,
    /// with scaleAmax applied), or null when amax is computed from each input (dynamic) or the format is FP8.
    /// </summary>
    /// <exception cref="InvalidOperationException">amax is NaN.</exception>
    public Tensor<float>? StepSize
    {
        get
        {
            if (Descriptor.FloatFormat is not null || StaticAmax() is not { } amax) return null;
            float maxBound = TensorQuant.Bounds(NumBits, Unsigned, NarrowRange).MaxBound;
            var shape = StoredAmax()!.Shape;
            return new Tensor<float>(amax.Select(a => a / maxBound).ToArray(), amax.Length == 1 ? [] : shape);
        }
    }

    /// <summary>The quantizer's name.</summary>
    public string Name { get; }

    /// <summary>The calibrator statistics are collected into while calibrating.</summary>
    public ICalibrator Calibrator { get; }

    /// <summary>False when disabled (the whole quantizer passes x through).</summary>
    public bool IsEnabled { get; private set; }

    /// <summary>Whether quantization runs.</summary>
    public bool IsQuantEnabled { get; private set; }

    /// <summary>Whether calibration statistics are collected.</summary>
    public bool IsCalibEnabled { get; private set; }

    /// <summary>Whether x is clipped to [<see cref="ClipMin"/>, <see cref="ClipMax"/>] before quantization.</summary>
    public bool IsClipEnabled { get; private set; }

    /// <summary>The learnable amax (a rank-0 Variable) when the descriptor learns amax, else null. Give it to an optimizer.</summary>
    public Variable? LearnedAmax { get; }

    /// <summary>Lower clip bound (rank 0), set by <see cref="ClipRange"/>.</summary>
    public Variable? ClipMin { get; private set; }

    /// <summary>Upper clip bound (rank 0), set by <see cref="ClipRange"/>.</summary>
    public Variable? ClipMax { get; private set; }

    /// <summary>The scale of the last real (integer) quantization, <c>maxBound / amax</c>; null in fake mode.</summary>
    public Tensor<float>? Scale { get; private set; }

    /// <summary>
    /// The fixed amax: rank 0 per tensor; per axis, the calibrator's keepdims shape (or a 1-D list from the descriptor,
    /// laid out over the kept axes when a tensor arrives). Null until set or calibrated.
    /// </summary>
    /// <remarks>With a learned amax, setting a value also starts the learned amax from it (<see cref="InitLearnAmax"/>).</remarks>
    /// <exception cref="ArgumentException">Setting NaN or negative values.</exception>
    public Tensor<float>? Amax
    {
        get => _amax;
        set
        {
            if (value is not null)
                foreach (float a in value.AsSpan())
                    if (!(a >= 0))
                        throw new ArgumentException($"TensorQuantizer '{Name}': argument 'Amax' expected values >= 0, got {a}", nameof(value));
            _amax = value;
            if (value is not null && LearnedAmax is not null) InitLearnAmax();
        }
    }

    /// <summary>
    /// Starts the learned amax from <see cref="Amax"/> (pytorch-quantization's <c>init_learn_amax</c>): its value, or the
    /// largest of a per-channel amax, since the learned amax is one value.
    /// </summary>
    /// <exception cref="InvalidOperationException">The descriptor does not learn amax, or <see cref="Amax"/> is not set.</exception>
    public void InitLearnAmax()
    {
        if (LearnedAmax is null)
            throw new InvalidOperationException($"TensorQuantizer '{Name}': InitLearnAmax needs a descriptor with learnAmax: true");
        if (_amax is null)
            throw new InvalidOperationException($"TensorQuantizer '{Name}': InitLearnAmax needs Amax; set or calibrate it first");
        LearnedAmax.Data.Data[0] = _amax.Data.Max();
    }

    /// <summary>True while a learned amax or learnable clip bound takes gradients (graph sessions then run this quantizer's backward).</summary>
    public bool HasParameters =>
        IsEnabled && (LearnedAmax is { RequiresGrad: true } && IsQuantEnabled && Descriptor.FakeQuant
            || IsClipEnabled && (ClipMin!.RequiresGrad || ClipMax!.RequiresGrad));

    /// <summary>The learnable Variables (learned amax, learnable clip bounds), for an optimizer.</summary>
    public IEnumerable<Variable> Parameters()
    {
        if (LearnedAmax is not null) yield return LearnedAmax;
        if (ClipMin is { RequiresGrad: true }) yield return ClipMin;
        if (ClipMax is { RequiresGrad: true }) yield return ClipMax;
    }

    /// <summary>Disables the quantizer (pass-through).</summary>
    public void Disable() => IsEnabled = false;

    /// <summary>Enables the quantizer.</summary>
    public void Enable() => IsEnabled = true;

    /// <summary>Enables quantization.</summary>
    public void EnableQuant() => IsQuantEnabled = true;

    /// <summary>Disables quantization (the input, clipped if clipping, passes through).</summary>
    public void DisableQuant() => IsQuantEnabled = false;

    /// <summary>Enables collecting calibration statistics.</summary>
    public void EnableCalib() => IsCalibEnabled = true;

    /// <summary>Disables collecting calibration statistics.</summary>
    public void DisableCalib() => IsCalibEnabled = false;

    /// <summary>Enables clipping (requires <see cref="ClipRange"/> first).</summary>
    /// <exception cref="InvalidOperationException">No clip range was set.</exception>
    public void EnableClip()
    {
        if (ClipMin is null) throw new InvalidOperationException($"TensorQuantizer '{Name}': EnableClip needs a clip range; call ClipRange(min, max) first");
        IsClipEnabled = true;
    }

    /// <summary>Disables clipping.</summary>
    public void DisableClip() => IsClipEnabled = false;

    /// <summary>
    /// Sets clip bounds and enables clipping (PACT-style when <paramref name="learnable"/>: the bounds are Variables that receive
    /// <c>Σ dy</c> over the elements clipped at them).
    /// </summary>
    /// <exception cref="ArgumentException">Bounds not finite or <paramref name="min"/> ≥ <paramref name="max"/>.</exception>
    public void ClipRange(float min, float max, bool learnable = true)
    {
        if (!float.IsFinite(min) || !float.IsFinite(max) || !(min < max))
            throw new ArgumentException($"TensorQuantizer '{Name}': argument 'min/max' expected finite bounds with min < max, got [{min}, {max}]");
        ClipMin = new Variable(Tensor.Scalar(min), learnable, Name + ".clip_min");
        ClipMax = new Variable(Tensor.Scalar(max), learnable, Name + ".clip_max");
        IsClipEnabled = true;
    }

    /// <summary>Quantizes (and/or calibrates, clips) a tensor per the current modes; see <see cref="TensorQuantizer"/>.</summary>
    /// <exception cref="InvalidOperationException">amax is NaN (LoadCalibAmax without data, strict: false).</exception>
    /// <exception cref="NotSupportedException">FP8 quantization with a learned amax.</exception>
    public Tensor<float> Forward(Tensor<float> x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (!IsEnabled) return x;
        if (!Descriptor.PerTensor) Descriptor.Validate(x.Rank);
        if (IsCalibEnabled) Calibrator.Collect(x);
        var y = x;
        if (IsClipEnabled) y = Activations.Clip(y, ClipMin!.Data.Data[0], ClipMax!.Data.Data[0]);
        if (!IsQuantEnabled) return y;
        var d = Descriptor;
        if (d.FloatFormat is { } format)
        {
            var fs = FloatScales(format, y);
            var fq = fs.Axis < 0 ? FloatQuantize.FakeQuantize(y, format, fs.Scales[0]) : FloatQuantize.FakeQuantize(y, format, fs.Scales, fs.Axis);
            if (d.FakeQuant) return fq;
            Scale = fs.Shaped;
            return Elementwise.Mul(fq, Scale);
        }
        var amax = CurrentAmax(y);
        if (d.FakeQuant) return TensorQuant.FakeQuantize(y, amax, d.NumBits, d.Unsigned, d.NarrowRange);
        var (q, s) = TensorQuant.Quantize(y, amax, d.NumBits, d.Unsigned, d.NarrowRange);
        Scale = s;
        return q;
    }

    /// <summary>Quantizes a Variable with gradients (STE, clip-bound gradients, LSQ for a learned amax); see <see cref="TensorQuantizer"/>.</summary>
    /// <exception cref="InvalidOperationException">amax is NaN (LoadCalibAmax without data, strict: false).</exception>
    /// <exception cref="NotSupportedException">FP8 quantization with a learned amax.</exception>
    public Variable Forward(Variable x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (!IsEnabled) return x;
        if (!Descriptor.PerTensor) Descriptor.Validate(x.Data.Rank);
        if (IsCalibEnabled) Calibrator.Collect(x.Data);
        var y = x;
        if (IsClipEnabled) y = Ops.Min(Ops.Max(y, ClipMin!), ClipMax!);
        if (!IsQuantEnabled) return y;
        var d = Descriptor;
        if (d.FloatFormat is { } format)
        {
            RequireFixedAmax(format);
            var fs = FloatScales(format, y.Data);
            var fq = fs.Axis < 0 ? Ops.FakeQuantizeFloat(y, format, fs.Scales[0]) : Ops.FakeQuantizeFloat(y, format, fs.Scales, fs.Axis);
            if (d.FakeQuant) return fq;
            Scale = fs.Shaped;
            return Ops.Mul(fq, new Variable(Scale));
        }
        if (LearnedAmax is not null && d.FakeQuant)
        {
            LearnedValue();
            var amax = d.ScaleAmax is { } sa ? Ops.Mul(LearnedAmax, new Variable(Tensor.Scalar(sa))) : LearnedAmax;
            return TensorQuant.FakeQuantize(y, amax, d.NumBits, d.Unsigned, d.NarrowRange, LsqFactor(y.Data));
        }
        var fixedAmax = CurrentAmax(y.Data);
        if (d.FakeQuant) return TensorQuant.FakeQuantize(y, fixedAmax, d.NumBits, d.Unsigned, d.NarrowRange);
        var (q, s) = TensorQuant.Quantize(y, fixedAmax, d.NumBits, d.Unsigned, d.NarrowRange);
        Scale = s;
        return q;
    }

    /// <summary>Graph form: the same as <see cref="Forward(Tensor{float})"/> (the result may be x itself).</summary>
    Tensor<float> IEdgeQuantizer.Forward(Tensor<float> x, bool training, ITensorAllocator allocator) => Forward(x);

    /// <summary>
    /// Graph backward: dx for dy through clip (Max/Min rules) and quantization (STE); accumulates the gradients of learnable
    /// clip bounds and of a learned amax into their Variables' <c>Grad</c>.
    /// </summary>
    public Tensor<float> Backward(Tensor<float> x, Tensor<float> gradOutput)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(gradOutput);
        if (!IsEnabled) return gradOutput;
        var y = x;
        Tensor<float>? raised = null;
        if (IsClipEnabled)
        {
            raised = Elementwise.Max(x, ClipMin!.Data);
            y = Elementwise.Min(raised, ClipMax!.Data);
        }
        var g = gradOutput;
        if (IsQuantEnabled)
        {
            var d = Descriptor;
            if (d.FloatFormat is { } format)
            {
                RequireFixedAmax(format);
                var fs = FloatScales(format, y);
                g = fs.Axis < 0 ? FloatQuantize.FakeQuantizeBackward(y, g, format, fs.Scales[0])
                    : FloatQuantize.FakeQuantizeBackward(y, g, format, fs.Scales, fs.Axis);
            }
            else if (LearnedAmax is not null && d.FakeQuant)
            {
                float factor = d.ScaleAmax ?? 1f;
                var (gx, ga) = TensorQuant.LearnableAmaxBackward(y, g, Tensor.Scalar(LearnedValue() * factor), d.NumBits, d.Unsigned,
                    d.NarrowRange, LsqFactor(y));
                if (LearnedAmax.RequiresGrad) Accumulate(LearnedAmax, ga[0] * factor);
                g = gx;
            }
            else
            {
                g = TensorQuant.FakeQuantizeBackward(y, g, CurrentAmax(y), d.NumBits, d.Unsigned, d.NarrowRange);
            }
        }
        if (raised is not null)
        {
            var (g1, gMax) = ElementwiseBackward.MinMax(raised, ClipMax!.Data, g, isMax: false);
            var (g0, gMin) = ElementwiseBackward.MinMax(x, ClipMin!.Data, g1, isMax: true);
            if (ClipMin.RequiresGrad) Accumulate(ClipMin, gMin.Data[0]);
            if (ClipMax.RequiresGrad) Accumulate(ClipMax, gMax.Data[0]);
            g = g0;
        }
        return g;
    }

    private static void Accumulate(Variable v, float g)
    {
        v.Grad ??= new Tensor<float>(v.Data.Dims);
        v.Grad.Data[0] += g;
    }

    // LSQ scales the step size's gradient by 1/√(N·maxBound); amax = maxBound·s has a gradient maxBound times smaller and
    // takes steps maxBound times larger for the same effect, hence maxBound² times LSQ's factor (1/√(N·maxBound) on amax
    // itself left 8-bit ranges ~16,000 times slower than LSQ: they barely moved in QAT).
    private float LsqFactor(Tensor<float> x)
    {
        float maxBound = TensorQuant.Bounds(Descriptor.NumBits, Descriptor.Unsigned, Descriptor.NarrowRange).MaxBound;
        return maxBound * MathF.Sqrt(maxBound / Math.Max(1, x.Length));
    }

    private void RequireFixedAmax(FloatFormat format)
    {
        if (LearnedAmax is not null)
            throw new NotSupportedException($"TensorQuantizer '{Name}': a learned amax is supported for integer quantization only, not {format}");
    }

    /// <summary>
    /// FP8 scales, the format's largest value over amax (pytorch-quantization / ModelOpt) so amax maps to the format's max:
    /// one per tensor (Axis −1), or one per slice along the descriptor's single axis; Shaped holds them in amax's
    /// (keepdims) shape. A slice whose amax is at most 2^−24 gets scale 1: its values (at most 2^−24 when the amax came from
    /// them) are far below E4M3's smallest subnormal 2^−9, so the slice comes out 0, as a zero-amax integer slice does —
    /// and an all-zero weight channel (pruned) does not stop the tensor from quantizing.
    /// </summary>
    internal (float[] Scales, int Axis, Tensor<float> Shaped) FloatScales(FloatFormat format, Tensor<float> x)
    {
        var amax = CurrentAmax(x);
        float max = FloatQuantize.MaxValue(format);
        if (Descriptor.PerTensor)
        {
            float a = amax.Data[0];
            if (!(a > TensorQuant.ZeroAmaxThreshold))
                throw new InvalidOperationException($"TensorQuantizer '{Name}': {format} quantization needs amax > 0, got {a}");
            return ([max / a], -1, Tensor.Scalar(max / a));
        }
        var scales = new float[amax.Length];
        for (int i = 0; i < scales.Length; i++)
            scales[i] = amax.Data[i] > TensorQuant.ZeroAmaxThreshold ? max / amax.Data[i] : 1f;
        return (scales, Descriptor.Validate(x.Rank)[0], new Tensor<float>((float[])scales.Clone(), amax.Shape));
    }

    /// <summary>The amax used to quantize <paramref name="x"/> (scaled by scaleAmax), laid out for x's rank.</summary>
    private Tensor<float> CurrentAmax(Tensor<float> x)
    {
        var amax = StoredAmax() is { } stored ? LayOut(stored, x) : DynamicAmax(x);
        CheckNotNaN(amax);
        return Scaled(amax);
    }

    /// <summary>
    /// The amax quantization uses when it does not depend on the input — learned, set or calibrated, or derived from the
    /// clip range — times scaleAmax, flattened (one value per slice along the descriptor's axes); null when amax is computed
    /// from each input (dynamic). What a static export (QDQ) writes.
    /// </summary>
    /// <exception cref="InvalidOperationException">amax is NaN (calibration saw no data).</exception>
    internal float[]? StaticAmax()
    {
        if (StoredAmax() is not { } amax) return null;
        CheckNotNaN(amax);
        return Scaled(amax).AsSpan().ToArray();
    }

    /// <summary>The amax (times scaleAmax, flattened) this quantizer uses for <paramref name="x"/>, dynamic included.</summary>
    internal float[] AmaxFor(Tensor<float> x) => CurrentAmax(x).AsSpan().ToArray();

    private Tensor<float>? StoredAmax()
    {
        if (LearnedAmax is not null) return Tensor.Scalar(LearnedValue());
        if (_amax is not null) return _amax;
        if (IsClipEnabled) return Tensor.Scalar(MathF.Max(-ClipMin!.Data.Data[0], ClipMax!.Data.Data[0]));
        return null;
    }

    // An optimizer step can drive the learned amax to zero or below, where quantization has no grid.
    private float LearnedValue()
    {
        float v = LearnedAmax!.Data.Data[0];
        if (!(v > TensorQuant.ZeroAmaxThreshold))
            throw new InvalidOperationException($"TensorQuantizer '{Name}': learned amax is {v} (expected > 2^-24); training drove it there — " +
                $"lower its learning rate (an optimizer group for '{Name}.amax') or start it from a calibrated amax");
        return v;
    }

    private void CheckNotNaN(Tensor<float> amax)
    {
        if (amax.Data.Any(float.IsNaN))
            throw new InvalidOperationException($"TensorQuantizer '{Name}': amax is NaN (calibration saw no data and LoadCalibAmax ran with strict: false)");
    }

    private Tensor<float> Scaled(Tensor<float> amax)
    {
        if (Descriptor.ScaleAmax is not { } sa) return amax;
        var scaled = new float[amax.Length];
        for (int i = 0; i < scaled.Length; i++) scaled[i] = amax.Data[i] * sa;
        return new Tensor<float>(scaled, amax.Shape);
    }

    /// <summary>
    /// pytorch-quantization's dynamic amax: with no amax set, the absolute maximum of this input, over the whole tensor or
    /// kept along the descriptor's axes (keepdims), treated as a constant (no gradient flows to it).
    /// </summary>
    private Tensor<float> DynamicAmax(Tensor<float> x)
    {
        float[] amax;
        int[] shape;
        try
        {
            (amax, shape) = MaxCalibrator.BatchAbsMax(x, Descriptor.Validate(x.Rank), $"TensorQuantizer '{Name}'");
        }
        catch (CalibrationException)
        {
            throw new InvalidOperationException($"TensorQuantizer '{Name}': dynamic amax (no amax set) needs finite inputs; " +
                $"the input {Shapes.Format(x.Dims)} holds NaN or Inf");
        }
        return Descriptor.PerTensor ? Tensor.Scalar(amax[0]) : new Tensor<float>(amax, shape);
    }

    /// <summary>A 1-D per-channel amax (from the descriptor) laid out in keepdims form over the kept axes of x.</summary>
    private Tensor<float> LayOut(Tensor<float> amax, Tensor<float> x)
    {
        if (amax.Length == 1 || amax.Rank == x.Rank) return amax;
        var kept = Descriptor.Validate(x.Rank);
        var shape = new int[x.Rank];
        for (int i = 0; i < shape.Length; i++) shape[i] = kept.Contains(i) ? x.Dim(i) : 1;
        Check.That(Shapes.Size(shape) == amax.Length, $"TensorQuantizer '{Name}'", "amax",
            $"{Shapes.Size(shape)} values (the kept axes {QuantDescriptor.FormatAxis(Descriptor.Axis)} of x {Shapes.Format(x.Dims)})", $"{amax.Length}");
        return new Tensor<float>(amax.Data, shape);
    }
}
