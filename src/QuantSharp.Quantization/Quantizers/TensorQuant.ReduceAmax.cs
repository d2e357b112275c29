using QuantSharp.Engine;
using QuantSharp.Quantization.Calibration;

namespace QuantSharp.Quantization.Quantizers;

public static partial class TensorQuant
{
    /// <summary>
    /// pytorch-quantization's <c>reduce_amax</c>: the maximum of |x| over <paramref name="axis"/> (the axes reduced; null:
    /// all of them), keeping them as size-1 dimensions when <paramref name="keepDims"/> — the amax shape
    /// <see cref="Quantize(Tensor{float}, Tensor{float}, int, bool, bool)"/> takes.
    /// </summary>
    /// <exception cref="ShapeException">An axis out of range, or given twice.</exception>
    /// <exception cref="ArgumentException">x holds NaN or Inf.</exception>
    public static Tensor<float> ReduceAmax(Tensor<float> x, int[]? axis = null, bool keepDims = true)
    {
        ArgumentNullException.ThrowIfNull(x);
        const string op = "TensorQuant.ReduceAmax";
        var reduced = new bool[x.Rank];
        foreach (int a in axis ?? Enumerable.Range(0, x.Rank))
        {
            int n = Check.Axis(op, "axis", a, x.Rank);
            Check.That(!reduced[n], op, "axis", "distinct axes", $"axis {a} given twice");
            reduced[n] = true;
        }
        var kept = Enumerable.Range(0, x.Rank).Where(d => !reduced[d]).ToArray();
        float[] amax;
        int[] shape;
        try
        {
            (amax, shape) = MaxCalibrator.BatchAbsMax(x, kept, op);
        }
        catch (CalibrationException)
        {
            throw new ArgumentException($"{op}: argument 'x' expected finite values, got NaN or Inf", nameof(x));
        }
        if (kept.Length == 0) shape = keepDims ? Enumerable.Repeat(1, x.Rank).ToArray() : [];
        else if (!keepDims) shape = kept.Select(d => x.Dims[d]).ToArray();
        return new Tensor<float>(amax, shape);
    }
}
