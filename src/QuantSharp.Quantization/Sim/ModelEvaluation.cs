using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;

namespace QuantSharp.Quantization.Sim;

/// <summary>Top-1/top-k accuracy of a model over labelled batches.</summary>
/// <param name="Top1">Fraction of samples whose highest score is the label.</param>
/// <param name="Top5">Fraction whose label is among the five highest scores (all of them when there are fewer classes).</param>
/// <param name="Samples">Number of samples evaluated.</param>
/// <param name="NonFinite">Samples with a NaN or infinite score: counted as misses, since no ranking of them means anything.</param>
/// <param name="Loss">Mean cross-entropy of the label over the samples with finite scores (see <see cref="ModelEvaluation.CrossEntropy"/>);
/// NaN when no sample had finite scores.</param>
public sealed record Accuracy(double Top1, double Top5, int Samples, int NonFinite = 0, double Loss = double.NaN)
{
    /// <summary>
    /// What to warn about when samples of <paramref name="what"/> ("FP32", "quantized") had NaN/Inf outputs, or null when none did.
    /// </summary>
    public string? NonFiniteWarning(string what) => NonFinite == 0 ? null
        : $"{NonFinite} of {Samples} samples had NaN/Inf {what} outputs (counted as misses)";
}

/// <summary>What a classifier's scores are, which decides how its cross-entropy is computed.</summary>
public enum ScoreKind
{
    /// <summary>Unnormalized logits: the loss is −log softmax(scores)[label].</summary>
    Logits,
    /// <summary>Probabilities (the model ends in Softmax): the loss is −log max(p[label], 1e−7).</summary>
    Probabilities,
    /// <summary>Log-probabilities (the model ends in LogSoftmax): the loss is −scores[label].</summary>
    LogProbabilities,
}

/// <summary>How far one output of a quantized model is from the floating-point one.</summary>
/// <param name="Name">The output's name.</param>
/// <param name="SqnrDb">Signal-to-quantization-noise ratio, 10·log10(Σ ref² / Σ (ref − q)²) in dB (∞ when identical).</param>
/// <param name="MaxAbsError">max |ref − q|.</param>
/// <param name="MeanAbsError">mean |ref − q|.</param>
public sealed record OutputComparison(string Name, double SqnrDb, double MaxAbsError, double MeanAbsError);

/// <summary>Evaluation helpers for a sim or a floating-point graph (accuracy over a dataset, sim-vs-FP32 error per output).</summary>
public static class ModelEvaluation
{
    /// <summary>Top-1 and top-5 accuracy of <paramref name="forward"/> (batch of inputs → [batch, classes] logits) over <paramref name="batches"/>.</summary>
    /// <exception cref="ArgumentException">Scores of the wrong shape, or a label outside the class range (named batch and sample).</exception>
    public static Accuracy Evaluate(Func<Tensor<float>, Tensor<float>> forward, IEnumerable<(Tensor<float> Inputs, int[] Labels)> batches) =>
        Evaluate(forward, batches, ScoreKind.Logits);

    /// <summary>
    /// Top-1 and top-5 accuracy and mean cross-entropy of <paramref name="forward"/> (batch of inputs → [batch, classes]
    /// scores of kind <paramref name="kind"/>) over <paramref name="batches"/>.
    /// </summary>
    /// <exception cref="ArgumentException">Scores of the wrong shape, or a label outside the class range (named batch and sample).</exception>
    public static Accuracy Evaluate(Func<Tensor<float>, Tensor<float>> forward, IEnumerable<(Tensor<float> Inputs, int[] Labels)> batches, ScoreKind kind) =>
        Evaluate<Tensor<float>>(forward, batches, kind);

    /// <summary>
    /// As <see cref="Evaluate(Func{Tensor{float}, Tensor{float}}, IEnumerable{ValueTuple{Tensor{float}, int[]}}, ScoreKind)"/>
    /// for batches of any input form (e.g. named feeds of a multi-input model).
    /// </summary>
    /// <exception cref="ArgumentException">Scores of the wrong shape, or a label outside the class range (named batch and sample).</exception>
    public static Accuracy Evaluate<TInput>(Func<TInput, Tensor<float>> forward, IEnumerable<(TInput Inputs, int[] Labels)> batches, ScoreKind kind)
    {
        long top1 = 0, top5 = 0;
        int samples = 0, batchIndex = 0, nonFinite = 0;
        double lossSum = 0;
        foreach (var (inputs, labels) in batches)
        {
            var scores = forward(inputs);
            if (scores.Rank != 2 || scores.Dims[0] != labels.Length)
                throw new ArgumentException($"Evaluate: batch {batchIndex}: expected scores of shape [{labels.Length}, classes], got {Shapes.Format(scores.Dims)}");
            int classes = scores.Dims[1];
            for (int i = 0; i < labels.Length; i++)
            {
                int label = labels[i];
                if (label < 0 || label >= classes)
                    throw new ArgumentException($"Evaluate: batch {batchIndex}, sample {i}: label {label} is outside 0..{classes - 1}");
                var row = scores.AsSpan().Slice(i * classes, classes);
                // NaN compares false with everything, so without this check an all-NaN row would rank its label first.
                if (!AllFinite(row))
                {
                    nonFinite++;
                    continue;
                }
                // Rank of the label = number of classes scoring strictly higher (ties resolved in the label's favour, like argmax picks the first).
                int higher = 0;
                for (int c = 0; c < classes; c++) if (row[c] > row[label] || (row[c] == row[label] && c < label)) higher++;
                if (higher == 0) top1++;
                if (higher < 5) top5++;
                lossSum += CrossEntropy(row, label, kind);
            }
            samples += labels.Length;
            batchIndex++;
        }
        int scored = samples - nonFinite;
        return samples == 0 ? new Accuracy(0, 0, 0)
            : new Accuracy((double)top1 / samples, (double)top5 / samples, samples, nonFinite, scored == 0 ? double.NaN : lossSum / scored);
    }

    /// <summary>
    /// Cross-entropy of <paramref name="label"/> under one row of scores of kind <paramref name="kind"/>. A probability
    /// is floored at 1e−7 (Keras's epsilon), so a quantized output that rounds the label's probability to 0 costs 16.1,
    /// not infinity.
    /// </summary>
    public static double CrossEntropy(ReadOnlySpan<float> scores, int label, ScoreKind kind = ScoreKind.Logits)
    {
        switch (kind)
        {
            case ScoreKind.Probabilities:
                return -Math.Log(Math.Max(scores[label], 1e-7));
            case ScoreKind.LogProbabilities:
                return -scores[label];
        }
        double max = double.NegativeInfinity, exp = 0;
        foreach (float v in scores) max = Math.Max(max, v);
        foreach (float v in scores) exp += Math.Exp(v - max);
        return max + Math.Log(exp) - scores[label];
    }

    /// <summary>
    /// What the scores of <paramref name="graph"/>'s first output are: probabilities when a Softmax produces it,
    /// log-probabilities when a LogSoftmax does (looking through Identity, Flatten, Reshape and Squeeze), logits otherwise.
    /// </summary>
    public static ScoreKind ScoreKindOf(Graph graph)
    {
        if (graph.Outputs.Count == 0) return ScoreKind.Logits;
        var node = graph.Producer(graph.Outputs[0].Name);
        while (node is { OpType: "Identity" or "Flatten" or "Reshape" or "Squeeze", Domain: "" } && node.Inputs.Count > 0) node = graph.Producer(node.Inputs[0]);
        return node switch
        {
            { OpType: "Softmax", Domain: "" } => ScoreKind.Probabilities,
            { OpType: "LogSoftmax", Domain: "" } => ScoreKind.LogProbabilities,
            _ => ScoreKind.Logits,
        };
    }

    private static bool AllFinite(ReadOnlySpan<float> row)
    {
        foreach (float v in row) if (!float.IsFinite(v)) return false;
        return true;
    }

    /// <summary>Accuracy of a session with one input and one output (its loss by <see cref="ScoreKindOf"/> of the session's graph).</summary>
    public static Accuracy Evaluate(Session session, IEnumerable<(Tensor<float> Inputs, int[] Labels)> batches) =>
        Evaluate(x => session.Run(x), batches, ScoreKindOf(session.Graph));

    /// <summary>Error of <paramref name="actual"/> against <paramref name="reference"/>.</summary>
    /// <exception cref="ShapeException">Different shapes.</exception>
    public static OutputComparison Compare(string name, Tensor<float> reference, Tensor<float> actual)
    {
        Check.SameShape("Compare", name, reference.Dims, actual.Dims);
        double signal = 0, noise = 0, maxAbs = 0, sumAbs = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            double r = reference.Data[i], d = r - actual.Data[i];
            signal += r * r;
            noise += d * d;
            maxAbs = Math.Max(maxAbs, Math.Abs(d));
            sumAbs += Math.Abs(d);
        }
        double sqnr = noise == 0 ? double.PositiveInfinity : 10 * Math.Log10(signal / noise);
        return new OutputComparison(name, sqnr, maxAbs, reference.Length == 0 ? 0 : sumAbs / reference.Length);
    }

    /// <summary>Per-output error of the sim against its floating-point graph on the same feeds (quantizers as they are now).</summary>
    public static IReadOnlyList<OutputComparison> CompareWithFloat(QuantizationSimModel sim, Session floatSession, IReadOnlyDictionary<string, Tensor> feeds)
    {
        var q = sim.Run(feeds);
        var f = floatSession.Run(feeds);
        return floatSession.Graph.Outputs.Select(o => Compare(o.Name, f.Output(o.Name), q.Output(o.Name))).ToList();
    }
}
