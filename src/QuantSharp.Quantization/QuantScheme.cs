namespace QuantSharp.Quantization;

/// <summary>
/// How the encodings (ranges) of a quantization-simulation model are initialized and trained (AIMET's <c>QuantScheme</c>).
/// Each post-training scheme names the encoding analyzer that turns calibration statistics into an encoding;
/// see <see cref="Calibration.EncodingAnalyzers.Create"/>.
/// </summary>
/// <remarks>
/// The values are AIMET's (<c>aimet_common.defs.QuantScheme</c>: post_training_tf = 1, post_training_tf_enhanced = 2,
/// training_range_learning_with_tf_init = 3, training_range_learning_with_tf_enhanced_init = 4,
/// post_training_percentile = 6), so a number written by AIMET means the same scheme here; AIMET's 5
/// (training_range_learning) has no counterpart. QuantSharp's own schemes are numbered from 101, clear of AIMET's range.
/// Names: <see cref="QuantSchemeNames"/>.
/// </remarks>
public enum QuantScheme
{
    /// <summary><c>post_training_tf</c>: the observed minimum and maximum (widened to contain 0) give the range
    /// (<see cref="Calibration.MinMaxEncodingAnalyzer"/>). No clipping; sensitive to outliers.</summary>
    PostTrainingTf = 1,

    /// <summary><c>post_training_tf_enhanced</c>: a histogram of the data and a search over (scale, offset) candidates that
    /// minimizes the expected quantization noise plus gamma times the clipping noise
    /// (<see cref="Calibration.SqnrEncodingAnalyzer"/>). Clips heavy tails.</summary>
    PostTrainingTfEnhanced = 2,

    /// <summary><c>post_training_percentile</c>: the range between the (100 − p) and p percentiles of the data, both tails
    /// clipped (<see cref="Calibration.PercentileEncodingAnalyzer"/>, p = 99.99 by default).</summary>
    PostTrainingPercentile = 6,

    /// <summary>The candidate range with the smallest expected squared error of fake quantization over the histogram
    /// (<see cref="Calibration.MseEncodingAnalyzer"/>).</summary>
    PostTrainingMse = 101,

    /// <summary>TensorRT's KL-divergence (entropy) calibration of <c>|x|</c>
    /// (<see cref="Calibration.EntropyEncodingAnalyzer"/>).</summary>
    PostTrainingEntropy = 102,

    /// <summary><c>training_range_learning_with_tf_init</c>: encodings initialized like <see cref="PostTrainingTf"/>, then
    /// min/max learned during quantization-aware training.</summary>
    TrainingRangeLearningWithTfInit = 3,

    /// <summary><c>training_range_learning_with_tf_enhanced_init</c>: encodings initialized like
    /// <see cref="PostTrainingTfEnhanced"/>, then min/max learned during quantization-aware training.</summary>
    TrainingRangeLearningWithTfEnhancedInit = 4,
}
