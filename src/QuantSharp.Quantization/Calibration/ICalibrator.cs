using QuantSharp.Engine;

namespace QuantSharp.Quantization.Calibration;

/// <summary>
/// Collects statistics of the tensors that flow through a quantizer during calibration, so that an amax
/// (the clipping range <c>[-amax, amax]</c>) can be computed afterwards (pytorch-quantization's calibrator contract).
/// </summary>
/// <remarks>
/// Calibration can be split across workers: each worker collects into its own calibrator, then the calibrators
/// are combined with <see cref="Merge"/>. Non-finite values (NaN, ±Inf) in calibration data are reported with an
/// exception, never silently absorbed; the calibrator state is left unchanged when a batch is rejected.
/// </remarks>
public interface ICalibrator
{
    /// <summary>Adds the statistics of one batch of data.</summary>
    /// <param name="x">The batch; must contain only finite values.</param>
    void Collect(Tensor<float> x);

    /// <summary>Adds the statistics collected by <paramref name="other"/> (a calibrator of the same kind and configuration) to this one.</summary>
    /// <param name="other">The calibrator to merge in; it is not modified.</param>
    void Merge(ICalibrator other);

    /// <summary>Forgets everything collected so far.</summary>
    void Reset();
}
