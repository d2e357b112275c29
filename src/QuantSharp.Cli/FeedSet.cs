using QuantSharp.Engine;

namespace QuantSharp.Cli;

/// <summary>
/// A command's data as the model is fed: one tensor per graph input, of the element type the input declares, whose first
/// axis is the sample; sample i is row i of every input. Labels, when given, are one integer per sample.
/// </summary>
internal sealed class FeedSet
{
    /// <summary>Creates a feed set; every input must have the same first dimension (checked by the loader, which names files).</summary>
    public FeedSet(IReadOnlyList<(string Name, Tensor Values)> inputs, int[]? labels)
    {
        if (inputs.Count == 0) throw new ArgumentException("FeedSet: no inputs", nameof(inputs));
        Inputs = inputs;
        Labels = labels;
    }

    /// <summary>The inputs in the model's input order.</summary>
    public IReadOnlyList<(string Name, Tensor Values)> Inputs { get; }

    /// <summary>One label per sample, or null.</summary>
    public int[]? Labels { get; }

    /// <summary>Number of samples.</summary>
    public int Count => Inputs[0].Values.Dims[0];

    /// <summary>The one float input of an image model, or null when the model is fed otherwise.</summary>
    public Tensor<float>? SingleFloat => Inputs is [(_, Tensor<float> x)] ? x : null;

    /// <summary>Samples [start, start + count) of every input.</summary>
    public Dictionary<string, Tensor> Take(int start, int count) =>
        Inputs.ToDictionary(i => i.Name, i => Rows(i.Values, start, count), StringComparer.Ordinal);

    /// <summary>Consecutive batches of at most <paramref name="batchSize"/> samples, with their labels (empty without labels).</summary>
    public IEnumerable<(Dictionary<string, Tensor> Feeds, int[] Labels)> Batches(int batchSize)
    {
        if (batchSize <= 0) throw new UsageException($"--batch-size expected a positive number, got {batchSize}");
        for (int start = 0; start < Count; start += batchSize)
        {
            int n = Math.Min(batchSize, Count - start);
            yield return (Take(start, n), Labels?[start..(start + n)] ?? []);
        }
    }

    /// <summary>
    /// Batches of the one float input, for the techniques that feed a single image tensor (they refuse other models).
    /// </summary>
    /// <exception cref="UsageException">The model is fed more than one input, or a non-float one (naming <paramref name="option"/>).</exception>
    public IEnumerable<(Tensor<float> Inputs, int[] Labels)> FloatBatches(int batchSize, string option)
    {
        RequireSingleFloat(option);
        return Batches(batchSize).Select(b => ((Tensor<float>)b.Feeds.Values.Single(), b.Labels));
    }

    /// <summary>Refuses <paramref name="option"/> unless the model is fed one float input.</summary>
    /// <exception cref="UsageException">Naming the option and the inputs.</exception>
    public void RequireSingleFloat(string option)
    {
        if (SingleFloat is null)
            throw new UsageException($"{option} supports models with one float32 input only; this model is fed {Describe()}");
    }

    /// <summary>The inputs as "name (type[shape of one sample])", comma-separated.</summary>
    public string Describe() => string.Join(", ", Inputs.Select(i => $"{i.Name} ({i.Values.DataType}{Shapes.Format(i.Values.Dims[1..])})"));

    /// <summary>The same samples selected by <paramref name="keep"/> (indices into the samples), with their labels.</summary>
    public FeedSet Select(int[] keep) => keep.Length == Count ? this
        : new FeedSet(Inputs.Select(i => (i.Name, Gather(i.Values, keep))).ToList(), Labels is { } l ? keep.Select(k => l[k]).ToArray() : null);

    /// <summary>Rows [start, start + count) of <paramref name="t"/> along its first axis, keeping its element type.</summary>
    public static Tensor Rows(Tensor t, int start, int count) => Gather(t, Enumerable.Range(start, count).ToArray());

    private static Tensor Gather(Tensor t, int[] rows)
    {
        try
        {
            return Quantization.Techniques.Feeds.Gather(t, rows);
        }
        catch (ArgumentException) { throw new UsageException($"inputs of element type {t.DataType} cannot be fed from data files"); }
    }
}
