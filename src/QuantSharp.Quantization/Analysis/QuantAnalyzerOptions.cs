namespace QuantSharp.Quantization.Analysis;

/// <summary>What <see cref="QuantAnalyzer.Analyze"/> computes, and how progress is reported.</summary>
public sealed class QuantAnalyzerOptions
{
    /// <summary>Score every layer with only it quantized and with only it in float (2 evaluations per layer; default true).</summary>
    public bool PerLayer { get; init; } = true;

    /// <summary>Collect FP32 histograms of every layer's activations and weights (one pass over the data; default true).</summary>
    public bool Histograms { get; init; } = true;

    /// <summary>Measure each layer's output MSE between FP32 and quantized runs (two passes over the data; default true).</summary>
    public bool Mse { get; init; } = true;

    /// <summary>Bins of each reported histogram (default 64).</summary>
    public int HistogramBins { get; init; } = 64;

    /// <summary>The model's name in the report (default: the graph's name).</summary>
    public string? ModelName { get; init; }

    /// <summary>Remarks copied into <see cref="QuantAnalysis.Notes"/> (e.g. where the scores come from).</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];

    /// <summary>Called after each unit of work of a step (evaluations, batches).</summary>
    public Action<AnalysisProgress>? Progress { get; init; }

    internal void Validate()
    {
        if (HistogramBins < 1) throw new ArgumentException($"QuantAnalyzerOptions: HistogramBins expected ≥ 1, got {HistogramBins}", nameof(HistogramBins));
    }
}
