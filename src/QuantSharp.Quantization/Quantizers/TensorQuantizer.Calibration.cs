using System.Globalization;
using System.Text;
using QuantSharp.Engine;
using QuantSharp.Quantization.Calibration;

namespace QuantSharp.Quantization.Quantizers;

public sealed partial class TensorQuantizer
{
    /// <summary>True when the calibrator has collected data since it was made or reset.</summary>
    public bool HasCalibrationData => Calibrator switch
    {
        MaxCalibrator m => m.HasData,
        HistogramCalibrator h => h.TotalCount > 0,
        _ => false,
    };

    /// <summary>
    /// Sets <see cref="Amax"/> from the calibrator (pytorch-quantization's <c>load_calib_amax</c>): with a
    /// <see cref="MaxCalibrator"/>, method <c>"max"</c> gives the running absolute maximum (a keepdims per-channel tensor
    /// with an axis); with a <see cref="HistogramCalibrator"/>, <c>"entropy"</c>, <c>"mse"</c> or <c>"percentile"</c>
    /// (with <paramref name="stride"/>, <paramref name="startBin"/>, <paramref name="percentile"/>, and the descriptor's bits
    /// and signedness). A learned amax is initialized from the result (its maximum).
    /// </summary>
    /// <param name="strict">When the calibrator has seen no data: true → error; false → amax is set to NaN (quantizing then
    /// fails with a message saying so), as pytorch-quantization does.</param>
    /// <exception cref="ArgumentException">A method the calibrator does not provide (the message lists the ones it does).</exception>
    /// <exception cref="InvalidOperationException">No data was collected and <paramref name="strict"/> is true.</exception>
    public void LoadCalibAmax(string method = "max", int stride = 1, int startBin = 128, double percentile = 99.99, bool strict = true)
    {
        ArgumentNullException.ThrowIfNull(method);
        switch (Calibrator)
        {
            case MaxCalibrator:
                if (method != "max")
                    throw new ArgumentException($"TensorQuantizer '{Name}': argument 'method' expected \"max\" for a MaxCalibrator, got \"{method}\"", nameof(method));
                break;
            case HistogramCalibrator:
                if (method is not ("entropy" or "mse" or "percentile"))
                    throw new ArgumentException($"TensorQuantizer '{Name}': argument 'method' expected \"entropy\", \"mse\" or \"percentile\" for a HistogramCalibrator, got \"{method}\"", nameof(method));
                break;
            default:
                throw new InvalidOperationException($"TensorQuantizer '{Name}': unknown calibrator {Calibrator.GetType().Name}");
        }
        bool hasData = HasCalibrationData;
        Tensor<float> amax;
        if (!hasData)
        {
            if (strict)
                throw new InvalidOperationException($"TensorQuantizer '{Name}': {Calibrator.GetType().Name} has not collected any data; " +
                    "run calibration data through the quantizer with EnableCalib() first, or pass strict: false to set amax to NaN");
            amax = Tensor.Scalar(float.NaN);
        }
        else if (Calibrator is MaxCalibrator max)
        {
            amax = max.ComputeAmax();
        }
        else
        {
            var h = (HistogramCalibrator)Calibrator;
            amax = Tensor.Scalar(h.ComputeAmax(method, stride, startBin, percentile, Descriptor.NumBits, Descriptor.Unsigned));
        }
        _amax = amax;
        if (LearnedAmax is not null && hasData) InitLearnAmax();
    }

    /// <summary>
    /// pytorch-quantization's quantizer string, e.g. <c>TensorQuantizer(8bit fake axis=(0) amax=[0.0000, 0.7817](64) calibrator=MaxCalibrator quant)</c>,
    /// <c>TensorQuantizer(8bit fake per-tensor amax=0.7817 calibrator=HistogramCalibrator quant calib)</c> or <c>TensorQuantizer(disabled)</c>.
    /// </summary>
    /// <remarks>
    /// Fields in pytorch-quantization's order: <c>unsigned</c>, bits (or the FP8 format), <c>narrow</c>, <c>fake</c>,
    /// <c>axis=(…)</c> or <c>per-tensor</c>, <c>amax=</c> (one value, <c>[min, max](count)</c>, or <c>none</c> before
    /// calibration), <c>*scaleAmax</c>, <c>learned</c>, <c>calibrator=</c>, <c>scale=</c> (real mode, after a forward),
    /// then the enabled stages <c>quant</c>, <c>clip</c>, <c>calib</c>.
    /// </remarks>
    public override string ToString()
    {
        if (!IsEnabled) return "TensorQuantizer(disabled)";
        var d = Descriptor;
        var s = new StringBuilder("TensorQuantizer(");
        if (d.Unsigned) s.Append("unsigned ");
        s.Append(d.FloatFormat is { } f ? f.ToString() : d.NumBits.ToString(CultureInfo.InvariantCulture) + "bit");
        if (d.NarrowRange) s.Append(" narrow");
        if (d.FakeQuant) s.Append(" fake");
        s.Append(d.PerTensor ? " per-tensor" : " axis=" + QuantDescriptor.FormatAxis(d.Axis));
        s.Append(" amax=").Append(Short(LearnedAmax?.Data ?? _amax));
        if (d.ScaleAmax is { } sa) s.Append(" *").Append(sa.ToString(CultureInfo.InvariantCulture));
        if (LearnedAmax is not null) s.Append(" learned");
        s.Append(" calibrator=").Append(Calibrator.GetType().Name);
        if (Scale is not null) s.Append(" scale=").Append(Short(Scale));
        if (IsQuantEnabled) s.Append(" quant");
        if (IsClipEnabled) s.Append(" clip");
        if (IsCalibEnabled) s.Append(" calib");
        return s.Append(')').ToString();
    }

    private static string Short(Tensor<float>? t)
    {
        if (t is null) return "none";
        static string F(float v) => v.ToString("F4", CultureInfo.InvariantCulture);
        if (t.Length == 1) return F(t.Data[0]);
        return $"[{F(t.Data.Min())}, {F(t.Data.Max())}]({t.Length})";
    }
}
