using QuantSharp.Engine;

namespace QuantSharp.Quantization.Sim;

/// <summary>One figure a metric reports: which metric, on which output (empty when it spans outputs), and its value.</summary>
public sealed record MetricValue(string Metric, string Output, double Value);

/// <summary>
/// A task metric over a model's FP32 and quantized outputs (retrieval agreement, detection overlap, word error rate, …),
/// accumulated batch by batch; <see cref="MetricEvaluation"/> feeds it, with the labels when there are any. The same
/// hook carries the built-in label-free agreement (SQNR, cosine, max error, argmax) of the command line.
/// </summary>
public interface IEvaluationMetric
{
    /// <summary>The metric's name (reports key its values by it).</summary>
    string Name { get; }

    /// <summary>Adds one batch: outputs by name of the FP32 model and of the quantized one on the same feeds, and the batch's labels (empty without labels).</summary>
    void Add(IReadOnlyDictionary<string, Tensor> reference, IReadOnlyDictionary<string, Tensor> quantized, ReadOnlySpan<int> labels);

    /// <summary>
    /// As the other overload, with the batch's inputs too (a metric that needs them, e.g. the attention mask to skip
    /// padding, overrides this); <see cref="MetricEvaluation"/> calls this one.
    /// </summary>
    void Add(IReadOnlyDictionary<string, Tensor> feeds, IReadOnlyDictionary<string, Tensor> reference, IReadOnlyDictionary<string, Tensor> quantized, ReadOnlySpan<int> labels) =>
        Add(reference, quantized, labels);

    /// <summary>The values over every batch added so far.</summary>
    IReadOnlyList<MetricValue> Results();
}

/// <summary>Runs FP32 and quantized models side by side over batches and feeds every <see cref="IEvaluationMetric"/>.</summary>
public static class MetricEvaluation
{
    /// <summary>
    /// Runs <paramref name="reference"/> and <paramref name="quantized"/> on each batch (one batch's outputs held at a time)
    /// and adds them to every metric; returns all their values, in metric order.
    /// </summary>
    public static IReadOnlyList<MetricValue> Run(Func<IReadOnlyDictionary<string, Tensor>, IReadOnlyDictionary<string, Tensor>> reference,
        Func<IReadOnlyDictionary<string, Tensor>, IReadOnlyDictionary<string, Tensor>> quantized,
        IEnumerable<(IReadOnlyDictionary<string, Tensor> Feeds, int[] Labels)> batches, IReadOnlyList<IEvaluationMetric> metrics)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(quantized);
        ArgumentNullException.ThrowIfNull(batches);
        ArgumentNullException.ThrowIfNull(metrics);
        foreach (var (feeds, labels) in batches)
        {
            var r = reference(feeds);
            var q = quantized(feeds);
            foreach (var m in metrics) m.Add(feeds, r, q, labels ?? []);
        }
        return metrics.SelectMany(m => m.Results()).ToList();
    }

    /// <summary>As the other overload, for a calibrated sim against the float session of its model.</summary>
    public static IReadOnlyList<MetricValue> Run(QuantizationSimModel sim, Engine.Runtime.Session floatSession,
        IEnumerable<(IReadOnlyDictionary<string, Tensor> Feeds, int[] Labels)> batches, params IEvaluationMetric[] metrics)
    {
        ArgumentNullException.ThrowIfNull(sim);
        ArgumentNullException.ThrowIfNull(floatSession);
        return Run(f => floatSession.Run(f).Outputs, f => sim.Run(f).Outputs, batches, metrics);
    }
}
