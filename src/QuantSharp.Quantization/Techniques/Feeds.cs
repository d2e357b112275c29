using QuantSharp.Engine;

namespace QuantSharp.Quantization.Techniques;

/// <summary>
/// Samples as techniques take them: each batch is a set of named model inputs of any element type (float images, int64
/// token ids, masks, scalars), every input holding the batch's samples on its first axis.
/// </summary>
public static class Feeds
{
    /// <summary>Batches of a model with one input named <paramref name="input"/> (the image-model shorthand).</summary>
    public static IEnumerable<IReadOnlyDictionary<string, Tensor>> Single(string input, IEnumerable<Tensor> batches) =>
        batches.Select(b => (IReadOnlyDictionary<string, Tensor>)new Dictionary<string, Tensor>(StringComparer.Ordinal) { [input] = b });

    /// <summary>
    /// The batches of <paramref name="graph"/>'s one fed input; the tensor overloads of the techniques go through this.
    /// </summary>
    /// <exception cref="ArgumentException">The graph has not exactly one input to feed (naming <paramref name="op"/> and the inputs).</exception>
    public static IEnumerable<IReadOnlyDictionary<string, Tensor>> ForSingleInput(string op, Graph graph, IEnumerable<Tensor> batches)
    {
        var inputs = FedInputs(graph);
        if (inputs.Count != 1)
            throw new ArgumentException($"{op}: tensor batches feed a graph with one input, this one has {inputs.Count} ({string.Join(", ", inputs)}); pass named feeds instead", nameof(graph));
        return Single(inputs[0], batches);
    }

    /// <summary>The inputs of <paramref name="graph"/> that must be fed (not initializers).</summary>
    public static List<string> FedInputs(Graph graph) => graph.Inputs.Where(i => !graph.Initializers.ContainsKey(i.Name)).Select(i => i.Name).ToList();

    /// <summary>Number of samples in a batch (first axis of its inputs).</summary>
    /// <exception cref="ArgumentException">An empty batch, a scalar input, or inputs whose first axes differ.</exception>
    public static int Count(IReadOnlyDictionary<string, Tensor> batch)
    {
        if (batch.Count == 0) throw new ArgumentException("Feeds: a batch without inputs", nameof(batch));
        int? n = null;
        foreach (var (name, t) in batch)
        {
            if (t.Rank < 1) throw new ArgumentException($"Feeds: input '{name}' is a scalar; expected the samples on the first axis", nameof(batch));
            if (n is { } m && m != t.Dims[0])
                throw new ArgumentException($"Feeds: input '{name}' holds {t.Dims[0]} samples, another input of the batch {m}", nameof(batch));
            n = t.Dims[0];
        }
        return n!.Value;
    }

    /// <summary>
    /// Batches covering the first <paramref name="samples"/> samples of <paramref name="batches"/> (the last one cut to size),
    /// materialised so that a technique can run them several times.
    /// </summary>
    public static List<IReadOnlyDictionary<string, Tensor>> Take(IEnumerable<IReadOnlyDictionary<string, Tensor>> batches, int samples, out int taken)
    {
        var list = new List<IReadOnlyDictionary<string, Tensor>>();
        taken = 0;
        foreach (var b in batches)
        {
            if (taken >= samples) break;
            int n = Count(b), use = Math.Min(n, samples - taken);
            list.Add(use < n ? b.ToDictionary(kv => kv.Key, kv => Rows(kv.Value, 0, use), StringComparer.Ordinal) : b);
            taken += use;
        }
        return list;
    }

    /// <summary>
    /// <paramref name="batch"/> re-cut into runs of at most <paramref name="maxSamples"/> samples, of even sizes, in order; the batch as it
    /// is when it is no larger or when its inputs do not share a sample axis (a scalar, differing first axes).
    /// </summary>
    public static IEnumerable<IReadOnlyDictionary<string, Tensor>> Split(IReadOnlyDictionary<string, Tensor> batch, int maxSamples)
    {
        int n = batch.Values.FirstOrDefault() is { Rank: > 0 } first ? first.Dims[0] : 0;
        if (n <= maxSamples || batch.Values.Any(t => t.Rank == 0 || t.Dims[0] != n))
        {
            yield return batch;
            yield break;
        }
        // Runs of even size (13 → 7 + 6, not 8 + 5): no run of one sample out of a larger batch, which a kernel may compute
        // in another order than the same sample within a batch (ConvBatched.Skinny).
        int runs = (n + maxSamples - 1) / maxSamples;
        for (int r = 0, start = 0; r < runs; r++)
        {
            int count = n / runs + (r < n % runs ? 1 : 0);
            yield return batch.ToDictionary(kv => kv.Key, kv => Rows(kv.Value, start, count), StringComparer.Ordinal);
            start += count;
        }
    }

    /// <summary>Rows [start, start + count) of <paramref name="t"/> along its first axis, keeping its element type.</summary>
    public static Tensor Rows(Tensor t, int start, int count) => Gather(t, Enumerable.Range(start, count).ToArray());

    /// <summary>The rows <paramref name="rows"/> of <paramref name="t"/> along its first axis, keeping its element type.</summary>
    /// <exception cref="ArgumentException">An element type that data files cannot hold (strings, FP8).</exception>
    public static Tensor Gather(Tensor t, int[] rows) => t switch
    {
        Tensor<float> x => Gather(x, rows),
        Tensor<double> x => Gather(x, rows),
        Tensor<long> x => Gather(x, rows),
        Tensor<int> x => Gather(x, rows),
        Tensor<short> x => Gather(x, rows),
        Tensor<ushort> x => Gather(x, rows),
        Tensor<sbyte> x => Gather(x, rows),
        Tensor<byte> x => Gather(x, rows),
        Tensor<bool> x => Gather(x, rows),
        _ => throw new ArgumentException($"Feeds: inputs of element type {t.DataType} cannot be split into samples", nameof(t)),
    };

    private static Tensor<T> Gather<T>(Tensor<T> t, int[] rows) where T : unmanaged
    {
        var shape = t.Shape;
        int per = t.Length / Math.Max(1, shape[0]);
        shape[0] = rows.Length;
        var y = new Tensor<T>(shape);
        for (int i = 0; i < rows.Length; i++) Array.Copy(t.Data, (long)rows[i] * per, y.Data, (long)i * per, per);
        // Narrow types share a storage type (e.g. float16 in ushort): keep the declared one.
        return y.DataType == t.DataType ? y : y.AsElementType(t.DataType);
    }
}
