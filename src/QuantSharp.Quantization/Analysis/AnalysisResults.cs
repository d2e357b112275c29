using QuantSharp.Quantization.Sim;

namespace QuantSharp.Quantization.Analysis;

/// <summary>How one quantizer configuration of the sim scores.</summary>
/// <param name="Score">The evaluator's score (higher is better: accuracy in %, or SQNR in dB).</param>
/// <param name="OutputSqnrDb">SQNR of the model outputs against the FP32 configuration on the analysis data,
/// <c>10·log10(Σ ref² / Σ (ref − q)²)</c> over every output (+∞ when identical).</param>
public sealed record ConfigurationScore(double Score, double OutputSqnrDb);

/// <summary>Sensitivity of the whole model to weight and activation quantization (AIMET <c>check_model_sensitivity_to_quantization</c>).</summary>
/// <param name="Fp32">Every quantizer disabled.</param>
/// <param name="WeightsOnly">Only the parameter quantizers enabled.</param>
/// <param name="ActivationsOnly">Only the activation quantizers enabled.</param>
/// <param name="Quantized">Every quantizer of the calibrated sim enabled.</param>
public sealed record SensitivityAnalysis(ConfigurationScore Fp32, ConfigurationScore WeightsOnly, ConfigurationScore ActivationsOnly, ConfigurationScore Quantized);

/// <summary>One layer's sensitivity (AIMET <c>perform_per_layer_analysis_by_enabling/disabling_quant_wrappers</c>).</summary>
/// <param name="Layer">The layer's name.</param>
/// <param name="OpType">Its op type.</param>
/// <param name="OnlyThisQuantized">Only this layer's quantizers enabled, the rest of the model in float.</param>
/// <param name="OnlyThisFloat">Every quantizer enabled except this layer's.</param>
public sealed record LayerSensitivity(string Layer, string OpType, ConfigurationScore OnlyThisQuantized, ConfigurationScore OnlyThisFloat);

/// <summary>The encoding range of one quantizer (AIMET <c>export_per_layer_encoding_min_max_range</c>).</summary>
/// <param name="Layer">The owning layer.</param>
/// <param name="Quantizer">The quantizer's name.</param>
/// <param name="Role">Parameter or activation.</param>
/// <param name="BitWidth">Bit-width of the encoding.</param>
/// <param name="Channels">Number of per-channel encodings (1 for per-tensor).</param>
/// <param name="EncodingMin">Encoding minimum (per channel: the lowest channel minimum).</param>
/// <param name="EncodingMax">Encoding maximum (per channel: the highest channel maximum).</param>
/// <param name="Scale">Scale (per channel: the largest channel scale).</param>
/// <param name="NarrowestChannelRange">Per channel: the smallest <c>max − min</c> of a channel; null per tensor.</param>
/// <param name="WidestChannelRange">Per channel: the largest <c>max − min</c> of a channel; null per tensor.</param>
/// <param name="ObservedMin">Smallest value the quantizer saw in FP32 on the analysis data (weights: the tensor's minimum).</param>
/// <param name="ObservedMax">Largest value seen.</param>
public sealed record QuantizerRange(string Layer, string Quantizer, QuantizerRole Role, int BitWidth, int Channels, double EncodingMin,
    double EncodingMax, double Scale, double? NarrowestChannelRange, double? WidestChannelRange, double? ObservedMin, double? ObservedMax);

/// <summary>A histogram of the values one quantizer sees in FP32 (AIMET <c>export_per_layer_stats_histogram</c>), with its encoding range.</summary>
/// <param name="Layer">The owning layer.</param>
/// <param name="Quantizer">The quantizer's name.</param>
/// <param name="Role">Parameter (weights) or activation.</param>
/// <param name="Lower">Lower edge of the first bin (the smallest value seen).</param>
/// <param name="Upper">Upper edge of the last bin (the largest value seen).</param>
/// <param name="Counts">Counts of equal-width bins across [<paramref name="Lower"/>, <paramref name="Upper"/>].</param>
/// <param name="EncodingMin">The encoding's minimum (per channel: lowest channel minimum), null without an integer encoding.</param>
/// <param name="EncodingMax">The encoding's maximum (per channel: highest channel maximum).</param>
public sealed record LayerHistogram(string Layer, string Quantizer, QuantizerRole Role, double Lower, double Upper, IReadOnlyList<long> Counts,
    double? EncodingMin, double? EncodingMax)
{
    /// <summary>Width of one bin.</summary>
    public double BinWidth => Counts.Count == 0 ? 0 : (Upper - Lower) / Counts.Count;
}

/// <summary>Error of one layer's output in the quantized model against the FP32 model on the same inputs (AIMET <c>export_per_layer_mse_loss</c>).</summary>
/// <param name="Layer">The layer.</param>
/// <param name="Value">The compared value (<see cref="AnalysisLayer.OutputValue"/>).</param>
/// <param name="Mse">Mean of (fp32 − quantized)² over every element of every sample.</param>
/// <param name="SqnrDb">10·log10(Σ fp32² / Σ (fp32 − quantized)²) (+∞ when identical).</param>
public sealed record LayerMse(string Layer, string Value, double Mse, double SqnrDb);

/// <summary>Everything <see cref="QuantAnalyzer.Analyze"/> measured.</summary>
/// <param name="Model">The model's name.</param>
/// <param name="ScoreName">What the score is (e.g. "top-1 accuracy", "output SQNR").</param>
/// <param name="ScoreUnit">Its unit ("%" or "dB").</param>
/// <param name="Samples">Samples of analysis data (histograms, MSE, output SQNR).</param>
/// <param name="Sensitivity">Whole-model sensitivity to weights vs activations.</param>
/// <param name="Layers">The layers analysed, in graph order.</param>
/// <param name="PerLayer">Per-layer sensitivity, in layer order (empty when disabled by the options).</param>
/// <param name="Ranges">Encoding ranges of every layer's quantizers.</param>
/// <param name="Histograms">FP32 histograms of every layer's quantizers (empty when disabled).</param>
/// <param name="Mse">Per-layer output MSE, in layer order (empty when disabled).</param>
/// <param name="Notes">Remarks for the reader (e.g. how scores were computed).</param>
public sealed record QuantAnalysis(string Model, string ScoreName, string ScoreUnit, int Samples, SensitivityAnalysis Sensitivity,
    IReadOnlyList<AnalysisLayer> Layers, IReadOnlyList<LayerSensitivity> PerLayer, IReadOnlyList<QuantizerRange> Ranges,
    IReadOnlyList<LayerHistogram> Histograms, IReadOnlyList<LayerMse> Mse, IReadOnlyList<string> Notes)
{
    /// <summary>The layer whose quantization alone hurts most: lowest score with only it quantized (ties: lowest output SQNR); null without per-layer results.</summary>
    public LayerSensitivity? MostSensitiveLayer =>
        PerLayer.OrderBy(l => l.OnlyThisQuantized.Score).ThenBy(l => l.OnlyThisQuantized.OutputSqnrDb).FirstOrDefault();

    /// <summary>The layer whose staying in float helps most: highest score with only it in float (ties: highest output SQNR); null without per-layer results.</summary>
    public LayerSensitivity? BestLayerToKeepInFloat =>
        PerLayer.OrderByDescending(l => l.OnlyThisFloat.Score).ThenByDescending(l => l.OnlyThisFloat.OutputSqnrDb).FirstOrDefault();
}

/// <summary>Progress of a long analysis step.</summary>
/// <param name="Stage">The step ("sensitivity", "per-layer", "histograms", "mse").</param>
/// <param name="Done">Units finished.</param>
/// <param name="Total">Units in the step.</param>
public readonly record struct AnalysisProgress(string Stage, int Done, int Total);
