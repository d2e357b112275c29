using QuantSharp.Engine;

namespace QuantSharp.Quantization.Calibration;

/// <summary>
/// Running absolute-maximum calibrator (pytorch-quantization's <c>MaxCalibrator</c>): per tensor, or per axis where
/// <see cref="Axes"/> are the axes that keep their own amax and every other axis is reduced.
/// </summary>
/// <remarks>
/// After batches <c>x_1..x_n</c>, <c>amax[k] = max_b max_{i ∈ slice k} |x_b[i]|</c>, where slice k fixes the kept
/// axes to the multi-index k. <see cref="ComputeAmax"/> returns it with the kept dimensions in place and every reduced
/// dimension set to 1 (keepdims), or a rank-0 tensor per tensor. Merge takes the elementwise maximum, so merging
/// calibrators over split data gives exactly the amax of all data.
/// </remarks>
public sealed class MaxCalibrator : ICalibrator
{
    private readonly int[] _axes;
    private readonly bool _trackAmax;
    private readonly List<float[]> _batchAmax = [];
    private float[]? _amax;
    private int[]? _amaxShape;

    /// <summary>Creates a max calibrator.</summary>
    /// <param name="axes">The axes that keep their own amax (none or null: one amax for the whole tensor). Negative axes count from the end.</param>
    /// <param name="trackAmax">Also keep the amax of every batch (see <see cref="BatchAmax"/>).</param>
    public MaxCalibrator(int[]? axes = null, bool trackAmax = false)
    {
        _axes = axes is null ? [] : (int[])axes.Clone();
        _trackAmax = trackAmax;
    }

    /// <summary>The axes that keep their own amax, as given (empty: per tensor).</summary>
    public IReadOnlyList<int> Axes => _axes;

    /// <summary>Whether the amax of every batch is tracked.</summary>
    public bool TrackAmax => _trackAmax;

    /// <summary>The amax of every collected batch (flattened like <see cref="ComputeAmax"/>), when tracking is on; empty otherwise.</summary>
    public IReadOnlyList<float[]> BatchAmax => _batchAmax;

    /// <summary>Whether any batch has been collected.</summary>
    public bool HasData => _amax is not null;

    /// <summary>Adds the absolute maxima of one batch; an empty batch is ignored.</summary>
    /// <param name="x">The batch; must contain only finite values.</param>
    public void Collect(Tensor<float> x)
    {
        ArgumentNullException.ThrowIfNull(x);
        var (batch, shape) = BatchAbsMax(x, _axes, nameof(MaxCalibrator));
        if (x.Length == 0) return; // an empty batch carries no information (axes were still validated)
        if (_amax is null)
        {
            _amax = batch;
            _amaxShape = shape;
        }
        else
        {
            CheckShape(shape);
            for (int k = 0; k < _amax.Length; k++) _amax[k] = Math.Max(_amax[k], batch[k]);
        }
        if (_trackAmax) _batchAmax.Add((float[])batch.Clone());
    }

    /// <inheritdoc/>
    public void Merge(ICalibrator other)
    {
        if (other is not MaxCalibrator o)
            throw new CalibrationException($"MaxCalibrator: cannot merge a {other?.GetType().Name ?? "null"}, expected a MaxCalibrator.");
        if (!_axes.AsSpan().SequenceEqual(o._axes))
            throw new CalibrationException($"MaxCalibrator: cannot merge calibrators with different axes ({Fmt(_axes)} vs {Fmt(o._axes)}).");
        if (o._amax is null) return;
        if (_amax is null)
        {
            _amax = (float[])o._amax.Clone();
            _amaxShape = (int[])o._amaxShape!.Clone();
        }
        else
        {
            CheckShape(o._amaxShape!);
            for (int k = 0; k < _amax.Length; k++) _amax[k] = Math.Max(_amax[k], o._amax[k]);
        }
        if (_trackAmax) foreach (var b in o._batchAmax) _batchAmax.Add((float[])b.Clone());
    }

    /// <inheritdoc/>
    public void Reset()
    {
        _amax = null;
        _amaxShape = null;
        _batchAmax.Clear();
    }

    /// <summary>Returns the amax collected so far (keepdims shape per axis, rank 0 per tensor).</summary>
    /// <exception cref="CalibrationException">No data has been collected.</exception>
    public Tensor<float> ComputeAmax()
    {
        if (_amax is null)
            throw new CalibrationException("MaxCalibrator: ComputeAmax called before any data was collected (empty calibration).");
        return Tensor.FromArray((float[])_amax.Clone(), (int[])_amaxShape!.Clone());
    }

    /// <inheritdoc/>
    public override string ToString() => $"MaxCalibrator(axes={Fmt(_axes)}, trackAmax={_trackAmax})";

    private void CheckShape(int[] shape)
    {
        if (!_amaxShape.AsSpan().SequenceEqual(shape))
            throw new ShapeException($"MaxCalibrator: argument 'x' expected kept dims {Shapes.Format(_amaxShape!)}, got {Shapes.Format(shape)}.");
    }

    private static string Fmt(int[] axes) => "(" + string.Join(",", axes) + ")";

    /// <summary>
    /// Absolute maximum of <paramref name="x"/> over all axes except <paramref name="axes"/>; throws
    /// <see cref="CalibrationException"/> naming <paramref name="who"/> when the data holds NaN/Inf.
    /// </summary>
    internal static (float[] Amax, int[] Shape) BatchAbsMax(Tensor<float> x, int[] axes, string who)
    {
        int rank = x.Rank;
        var keep = new bool[rank];
        foreach (int a in axes)
        {
            int ax = Check.Axis(who, "axis", a, rank);
            keep[ax] = true;
        }
        var dims = x.Dims;
        var shape = new int[rank];
        int count = 1, last = -1;
        for (int d = 0; d < rank; d++)
        {
            shape[d] = keep[d] ? dims[d] : 1;
            count *= shape[d];
            if (keep[d]) last = d;
        }
        var amax = new float[count];
        var data = x.AsSpan();
        int bad = 0;
        if (last < 0)
        {
            amax[0] = AbsMax.Compute(data, out bad);
            shape = [];
        }
        else if (data.Length > 0)
        {
            int inner = 1;
            for (int d = last + 1; d < rank; d++) inner *= dims[d];
            int outer = data.Length / inner;
            var keptStride = new int[rank];
            for (int d = rank - 1, s = 1; d >= 0; d--) { keptStride[d] = keep[d] ? s : 0; s *= shape[d]; }
            for (int o = 0; o < outer; o++)
            {
                int rem = o, k = 0;
                for (int d = last; d >= 0; d--)
                {
                    int c = rem % dims[d];
                    rem /= dims[d];
                    k += c * keptStride[d];
                }
                float m = AbsMax.Compute(data.Slice(o * inner, inner), out int b);
                bad += b;
                if (m > amax[k]) amax[k] = m;
            }
        }
        if (bad > 0)
            throw new CalibrationException($"{who}: calibration data contains {bad} non-finite value(s) (NaN or Inf) out of {data.Length}; the batch was rejected.");
        return (amax, shape);
    }
}
