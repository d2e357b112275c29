namespace QuantSharp.Quantization.Calibration;

/// <summary>
/// Thrown when calibration cannot proceed: non-finite values in the data, no data collected, or calibrators that
/// cannot be merged. The message names the calibrator and the problem.
/// </summary>
public sealed class CalibrationException : Exception
{
    /// <summary>Creates the exception with its message.</summary>
    /// <param name="message">What went wrong, starting with the calibrator's name.</param>
    public CalibrationException(string message) : base(message) { }
}
