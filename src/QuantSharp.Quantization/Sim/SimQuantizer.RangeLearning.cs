using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;
using QuantSharp.Quantization.Encodings;

namespace QuantSharp.Quantization.Sim;

// Range learning (AIMET's TrainingRangeLearningWithTfInit / …WithTfEnhancedInit): after calibration the quantizer's range
// becomes trainable. Asymmetric grids learn min and max (AIMET's range-learning gradient); symmetric grids learn the scale
// with the offset fixed (the LSQ gradient, unscaled). The learned tensors are the truth while learning; the Encoding is
// refreshed from them by SyncLearnedEncoding (export, checkpoints).
public sealed partial class SimQuantizer
{
    private Tensor<float>? _learnedA, _learnedB, _gradA, _gradB;

    /// <summary>True when the range is being learned.</summary>
    public bool LearnsRange => _learnedA is not null;

    /// <summary>True while enabled and learning its range: a graph session's backward then reaches this quantizer even
    /// on the graph input, where no weight lies upstream.</summary>
    public bool HasParameters => Enabled && LearnsRange;

    /// <summary>
    /// Makes the range trainable, starting from the current encoding: asymmetric → <c>encoding_min</c> and
    /// <c>encoding_max</c> (one value per channel); symmetric → <c>encoding_scale</c>.
    /// </summary>
    /// <exception cref="InvalidOperationException">No encoding, a float or wider-than-16-bit encoding, or a frozen quantizer.</exception>
    public void EnableRangeLearning()
    {
        var e = RequireEncoding();
        if (e.DataType != EncodingDataType.Int || e.BitWidth > 16)
            throw new InvalidOperationException($"quantizer '{Name}': range learning needs an integer encoding of 2..16 bits, got {e}");
        if (IsFrozen) throw new InvalidOperationException($"quantizer '{Name}': its encoding is frozen");
        if (e.Symmetric) SetLearned(Floats(e.Scales), null);
        else SetLearned(Floats(e.Mins), Floats(e.Maxs));
    }

    /// <summary>The trainable range tensors (updated in place by an optimizer) with their accumulated gradients, by name.</summary>
    public IEnumerable<(string Name, Tensor<float> Value, Tensor<float> Gradient)> RangeParameters()
    {
        if (_learnedA is null) yield break;
        if (_learnedB is null) { yield return (Name + ".encoding_scale", _learnedA, _gradA!); yield break; }
        yield return (Name + ".encoding_min", _learnedA, _gradA!);
        yield return (Name + ".encoding_max", _learnedB, _gradB!);
    }

    /// <summary>Writes the learned range into <see cref="Encoding"/> (AIMET's formulas; learning continues from it).</summary>
    public void SyncLearnedEncoding()
    {
        if (_learnedA is null) return;
        var (a, b) = (_learnedA, _learnedB);
        var e = _encoding!;
        double[] A = a.Data.Select(v => (double)v).ToArray();
        var synced = b is null
            ? (Axis is { } ax ? Encoding.FromScaleOffsetPerChannel(A, e.Offsets.AsSpan(), ax, e.BitWidth, true, e.StrictSymmetric, e.UnsignedSymmetric)
                              : Encoding.FromScaleOffset(A[0], e.Offset, e.BitWidth, true, e.StrictSymmetric, e.UnsignedSymmetric))
            : (Axis is { } ax2 ? Encoding.FromMinMaxPerChannel(A, b.Data.Select(v => (double)v).ToArray(), ax2, e.BitWidth)
                               : Encoding.FromMinMax(A[0], b.Data[0], e.BitWidth));
        AssignEncoding(synced, keepLearnedRange: true);
    }

    /// <summary>Restores learned tensors saved by a checkpoint.</summary>
    internal void SetLearned(float[] a, float[]? b)
    {
        _learnedA = Tensor.FromArray(a, a.Length);
        _gradA = new Tensor<float>(a.Length);
        _learnedB = b is null ? null : Tensor.FromArray(b, b.Length);
        _gradB = b is null ? null : new Tensor<float>(b.Length);
        _params = null;
    }

    /// <summary>The learned tensors' values (checkpoints).</summary>
    internal (float[] A, float[]? B)? LearnedValues => _learnedA is null ? null : (_learnedA.Data.ToArray(), _learnedB?.Data.ToArray());

    private QuantParams LearnedParams()
    {
        var e = _encoding!;
        if (_learnedB is null) return Params(e) with { Scale = _learnedA!.Data.ToArray() };
        return QuantizeGradients.FromMinMax(_learnedA!.Data, _learnedB.Data, e.BitWidth, Axis) with { Rounding = Rounding, Seed = Seed };
    }

    private Tensor<float> RangeBackward(Tensor<float> x, Tensor<float> g)
    {
        if (_learnedB is null)
        {
            var p = LearnedParams();
            var (gx, gs, _) = QuantizeGradients.Lsq(x, g, p.Scale, p.ZeroPoint.Select(z => (float)z).ToArray(), p.QMin, p.QMax, Axis);
            Add(_gradA!, gs);
            return gx;
        }
        var (gxr, gmin, gmax) = QuantizeGradients.RangeLearning(x, g, _learnedA!.Data, _learnedB.Data, _encoding!.BitWidth, Axis);
        Add(_gradA!, gmin);
        Add(_gradB!, gmax);
        return gxr;
    }

    private static void Add(Tensor<float> acc, float[] g)
    {
        for (int i = 0; i < g.Length; i++) acc.Data[i] += g[i];
    }

    private static float[] Floats(System.Collections.Immutable.ImmutableArray<double> v) => v.Select(d => (float)d).ToArray();
}
