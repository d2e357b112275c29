using QuantSharp.Engine;
using QuantSharp.Quantization.Sim;

namespace QuantSharp.Quantization.Analysis;

/// <summary>
/// The score the analyzer compares configurations by (AIMET's <c>eval_callback</c>): a function of the sim in its
/// current quantizer configuration, higher is better.
/// </summary>
/// <param name="Name">What the score is, for reports ("top-1 accuracy").</param>
/// <param name="Unit">Its unit ("%", "dB").</param>
/// <param name="Evaluate">Runs the sim (quantizers as the analyzer set them) and returns the score.</param>
public sealed record AnalysisEvaluator(string Name, string Unit, Func<QuantizationSimModel, double> Evaluate)
{
    /// <summary>Top-1 accuracy in percent over labelled batches (a model with one input and one [batch, classes] output).</summary>
    /// <param name="batches">Labelled input batches.</param>
    /// <param name="observe">Sees every evaluation's full result (e.g. to report samples with NaN/Inf outputs).</param>
    public static AnalysisEvaluator Top1(IReadOnlyList<(Tensor<float> Inputs, int[] Labels)> batches, Action<Accuracy>? observe = null) =>
        new("top-1 accuracy", "%", sim =>
        {
            var accuracy = ModelEvaluation.Evaluate(x => sim.Run(x), batches);
            observe?.Invoke(accuracy);
            return 100 * accuracy.Top1;
        });

    /// <summary>
    /// SQNR in dB of the sim's output against a reference model's output on the same unlabelled inputs (a model with one
    /// input and one output): <c>10·log10(Σ ref² / Σ (ref − sim)²)</c> over every sample (+∞ when identical). The
    /// reference outputs are computed once, here.
    /// </summary>
    /// <param name="inputs">Input batches.</param>
    /// <param name="reference">The FP32 model (e.g. a session of the original graph).</param>
    public static AnalysisEvaluator OutputSqnr(IReadOnlyList<Tensor<float>> inputs, Func<Tensor<float>, Tensor<float>> reference)
    {
        var expected = inputs.Select(reference).ToList();
        return new AnalysisEvaluator("output SQNR vs FP32", "dB", sim =>
        {
            var sums = new SqnrSums();
            for (int i = 0; i < inputs.Count; i++) sums.Add(expected[i], sim.Run(inputs[i]), "OutputSqnr");
            return sums.Db;
        });
    }

    /// <summary>As <see cref="Top1(IReadOnlyList{ValueTuple{Tensor{float}, int[]}}, Action{Accuracy})"/> for named feeds (any number and type of inputs), scoring graph output <paramref name="output"/>.</summary>
    public static AnalysisEvaluator Top1(IReadOnlyList<(IReadOnlyDictionary<string, Tensor> Feeds, int[] Labels)> batches, string output, Action<Accuracy>? observe = null) =>
        new("top-1 accuracy", "%", sim =>
        {
            var accuracy = ModelEvaluation.Evaluate(x => sim.Run(x).Output(output), batches, ScoreKind.Logits);
            observe?.Invoke(accuracy);
            return 100 * accuracy.Top1;
        });

    /// <summary>
    /// As <see cref="OutputSqnr(IReadOnlyList{Tensor{float}}, Func{Tensor{float}, Tensor{float}})"/> for named feeds, comparing graph
    /// output <paramref name="output"/>; padded positions are skipped when the sim's model has an attention mask (<see cref="PaddingMask"/>).
    /// </summary>
    public static AnalysisEvaluator OutputSqnr(IReadOnlyList<IReadOnlyDictionary<string, Tensor>> feeds, string output, Func<IReadOnlyDictionary<string, Tensor>, Tensor<float>> reference)
    {
        var expected = feeds.Select(reference).ToList();
        return new AnalysisEvaluator("output SQNR vs FP32", "dB", sim =>
        {
            var sums = new SqnrSums();
            string? mask = PaddingMask.InputOf(sim.Model);
            for (int i = 0; i < feeds.Count; i++)
                sums.Add(expected[i], sim.Run(feeds[i]).Output(output), "OutputSqnr", PaddingMask.Valid(mask, feeds[i], expected[i].Dims));
            return sums.Db;
        });
    }
}

/// <summary>Running sums of signal and noise energy for an SQNR.</summary>
internal sealed class SqnrSums
{
    /// <summary>Σ ref².</summary>
    public double Signal { get; private set; }

    /// <summary>Σ (ref − actual)².</summary>
    public double Noise { get; private set; }

    /// <summary>Elements added.</summary>
    public long Count { get; private set; }

    /// <summary>10·log10(signal / noise); +∞ when the noise is zero.</summary>
    public double Db => Noise == 0 ? double.PositiveInfinity : 10 * Math.Log10(Signal / Noise);

    /// <summary>Mean squared error.</summary>
    public double Mse => Count == 0 ? 0 : Noise / Count;

    /// <summary>
    /// Adds a reference/actual pair of equal shape; with <paramref name="valid"/> (one flag per position of the leading
    /// dims, <see cref="PaddingMask"/>) only the positions flagged are counted.
    /// </summary>
    /// <exception cref="ShapeException">Different shapes.</exception>
    public void Add(Tensor<float> reference, Tensor<float> actual, string what, bool[]? valid = null)
    {
        Check.SameShape(what, "actual", reference.Dims, actual.Dims);
        var r = reference.AsSpan();
        var a = actual.AsSpan();
        int inner = valid is null ? r.Length : r.Length / valid.Length;
        double s = 0, n = 0;
        long count = 0;
        for (int p = 0, start = 0; start < r.Length; p++, start += inner)
        {
            if (valid is not null && !valid[p]) continue;
            for (int i = start; i < start + inner; i++)
            {
                double d = (double)r[i] - a[i];
                s += (double)r[i] * r[i];
                n += d * d;
            }
            count += inner;
        }
        Signal += s;
        Noise += n;
        Count += count;
    }
}
