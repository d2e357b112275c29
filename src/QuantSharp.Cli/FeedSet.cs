using QuantSharp.Data;
using QuantSharp.Engine;

namespace QuantSharp.Cli;

/// <summary>
/// A command's data as the model is fed: one tensor per graph input, of the element type the input declares, whose first
/// axis is the sample; sample i is row i of every input. Samples of different shapes (a folder of variable-length .npz
/// samples) are held in shape groups, each such a set of tensors; a batch never mixes two groups. Labels, when given, are
/// one integer per sample, in group order. A streamed set (<see cref="Streamed"/>) holds no samples: it reads each batch
/// from its data set when asked (an image folder decoded, an .npy read by rows), so evaluating tens of thousands of
/// 224×224 images holds one batch of them.
/// </summary>
internal sealed class FeedSet
{
    private readonly IReadOnlyList<IReadOnlyList<(string Name, Tensor Values)>> _groups;
    private readonly StreamedSamples? _streamed;

    /// <summary>The samples of a streamed set: rows of <paramref name="Data"/>, fed to input <paramref name="Name"/>.</summary>
    private sealed record StreamedSamples(string Name, IDataset Data, int[] Rows);

    /// <summary>Creates a feed set; every input must have the same first dimension (checked by the loader, which names files).</summary>
    public FeedSet(IReadOnlyList<(string Name, Tensor Values)> inputs, int[]? labels) : this([inputs], labels) { }

    /// <summary>Creates a feed set of shape groups (the same inputs in the same order in each, each with equal first dimensions).</summary>
    public FeedSet(IReadOnlyList<IReadOnlyList<(string Name, Tensor Values)>> groups, int[]? labels)
    {
        if (groups.Count == 0 || groups[0].Count == 0) throw new ArgumentException("FeedSet: no inputs", nameof(groups));
        _groups = groups;
        Labels = labels;
    }

    private FeedSet(StreamedSamples streamed, int[]? labels)
    {
        _groups = [];
        _streamed = streamed;
        Labels = labels;
    }

    /// <summary>
    /// A set fed to the one float input <paramref name="name"/> from <paramref name="data"/>, read batch by batch;
    /// <paramref name="labels"/> (one per sample, or null) say whether it is labelled, and the labels of a batch are those
    /// its samples' reads return (an unreadable image skipped brings its replacement's label).
    /// </summary>
    public static FeedSet Streamed(string name, IDataset data, int[]? labels) =>
        new(new StreamedSamples(name, data, Enumerable.Range(0, data.Count).ToArray()), labels);

    /// <summary>The names of the inputs fed, in the model's input order.</summary>
    public IReadOnlyList<string> InputNames => _streamed is { } s ? [s.Name] : _groups[0].Select(i => i.Name).ToList();

    /// <summary>One label per sample, or null.</summary>
    public int[]? Labels { get; }

    /// <summary>Number of samples.</summary>
    public int Count => _streamed?.Rows.Length ?? _groups.Sum(g => g[0].Values.Dims[0]);

    /// <summary>Whether the set feeds the one float input of an image model (rather than named inputs of any type).</summary>
    public bool FeedsOneFloatInput => _streamed is not null || _groups is [[(_, Tensor<float>)]];

    /// <summary>Samples [start, start + count) of every input; a range is cut at the end of the shape group holding <paramref name="start"/>.</summary>
    public Dictionary<string, Tensor> Take(int start, int count)
    {
        if (_streamed is { } s)
        {
            if (start < 0 || start >= s.Rows.Length) throw new ArgumentOutOfRangeException(nameof(start), $"FeedSet: sample {start} past the end ({Count} samples)");
            return new(StringComparer.Ordinal) { [s.Name] = Read(s, start, Math.Min(count, s.Rows.Length - start), null) };
        }
        foreach (var g in _groups)
        {
            int n = g[0].Values.Dims[0];
            if (start < n) return g.ToDictionary(i => i.Name, i => Rows(i.Values, start, Math.Min(count, n - start)), StringComparer.Ordinal);
            start -= n;
        }
        throw new ArgumentOutOfRangeException(nameof(start), $"FeedSet: sample {start} past the end ({Count} samples)");
    }

    /// <summary>Consecutive batches of at most <paramref name="batchSize"/> samples, with their labels (empty without labels).</summary>
    public IEnumerable<(Dictionary<string, Tensor> Feeds, int[] Labels)> Batches(int batchSize)
    {
        if (batchSize <= 0) throw new UsageException($"--batch-size expected a positive number, got {batchSize}");
        if (_streamed is { } s)
        {
            for (int start = 0; start < s.Rows.Length; start += batchSize)
            {
                int n = Math.Min(batchSize, s.Rows.Length - start);
                var labels = Labels is null ? [] : new int[n];
                var x = Read(s, start, n, Labels is null ? null : labels);
                yield return (new(StringComparer.Ordinal) { [s.Name] = x }, labels);
            }
            yield break;
        }
        int offset = 0;
        foreach (var g in _groups)
        {
            int size = g[0].Values.Dims[0];
            for (int start = 0; start < size; start += batchSize)
            {
                int n = Math.Min(batchSize, size - start);
                yield return (g.ToDictionary(i => i.Name, i => Rows(i.Values, start, n), StringComparer.Ordinal), Labels?[(offset + start)..(offset + start + n)] ?? []);
            }
            offset += size;
        }
    }

    /// <summary>The inputs as "name (type[shape of one sample])", comma-separated.</summary>
    public string Describe() => _streamed is { } s ? $"{s.Name} ({DataType.Float32}{Shapes.Format(s.Data.SampleShape)})"
        : string.Join(", ", _groups[0].Select(i => $"{i.Name} ({i.Values.DataType}{Shapes.Format(i.Values.Dims[1..])})"))
        + (_groups.Count > 1 ? $" and {_groups.Count - 1} other shape{(_groups.Count > 2 ? "s" : "")}" : "");

    /// <summary>The same samples selected by <paramref name="keep"/> (indices into the samples), with their labels.</summary>
    /// <remarks>With several shape groups the kept samples stay in their groups (in the order of <paramref name="keep"/> within each).</remarks>
    public FeedSet Select(int[] keep)
    {
        if (keep.Length == Count && keep.SequenceEqual(Enumerable.Range(0, Count))) return this;
        if (_streamed is { } streamed)
            return new FeedSet(streamed with { Rows = keep.Select(k => streamed.Rows[k]).ToArray() }, Labels is { } kept ? keep.Select(k => kept[k]).ToArray() : null);
        var groups = new List<IReadOnlyList<(string, Tensor)>>();
        var order = new List<int>();
        int offset = 0;
        foreach (var g in _groups)
        {
            int size = g[0].Values.Dims[0];
            var rows = keep.Where(k => k >= offset && k < offset + size).ToArray();
            if (rows.Length > 0)
            {
                groups.Add(g.Select(i => (i.Name, Gather(i.Values, rows.Select(r => r - offset).ToArray()))).ToList());
                order.AddRange(rows);
            }
            offset += size;
        }
        return new FeedSet(groups, Labels is { } l ? order.Select(k => l[k]).ToArray() : null);
    }

    /// <summary>
    /// Reads samples [start, start + count) of a streamed set into one tensor, in parallel (image decoding is the cost);
    /// their labels go to <paramref name="labels"/> when given. A file that cannot be read is one line naming it.
    /// </summary>
    private static Tensor<float> Read(StreamedSamples s, int start, int count, int[]? labels)
    {
        var x = new Tensor<float>([count, .. s.Data.SampleShape]);
        int per = x.Length / Math.Max(1, count);
        try
        {
            Parallel.For(0, count, i =>
            {
                int label = s.Data.Get(s.Rows[start + i], x.Data.AsSpan(i * per, per));
                if (labels is not null) labels[i] = label;
            });
        }
        catch (AggregateException e) when (e.InnerException is IOException or InvalidDataException or UnauthorizedAccessException or DataSourceException)
        {
            throw new UsageException(e.InnerException!.Message);
        }
        return x;
    }

    /// <summary>Samples concatenated along the first axis (all of one element type and one shape past the first axis).</summary>
    public static Tensor Concat(IReadOnlyList<Tensor> parts)
    {
        var dims = parts[0].Dims.ToArray();
        dims[0] = parts.Sum(p => p.Dims[0]);
        return Copy(parts, dims);
    }

    /// <summary>One sample given without the sample axis, as a batch of one.</summary>
    public static Tensor AddSampleAxis(Tensor t) => Copy([t], [1, .. t.Dims]);

    private static Tensor Copy(IReadOnlyList<Tensor> parts, int[] dims) =>
        parts[0] switch
        {
            Tensor<float> => Concat<float>(parts, dims),
            Tensor<double> => Concat<double>(parts, dims),
            Tensor<long> => Concat<long>(parts, dims),
            Tensor<int> => Concat<int>(parts, dims),
            Tensor<short> => Concat<short>(parts, dims),
            Tensor<ushort> => Concat<ushort>(parts, dims),
            Tensor<sbyte> => Concat<sbyte>(parts, dims),
            Tensor<byte> => Concat<byte>(parts, dims),
            Tensor<bool> => Concat<bool>(parts, dims),
            var t => throw new UsageException($"inputs of element type {t.DataType} cannot be fed from data files"),
        };

    private static Tensor Concat<T>(IReadOnlyList<Tensor> parts, int[] dims) where T : unmanaged
    {
        var y = new Tensor<T>(dims);
        long at = 0;
        foreach (var p in parts.Cast<Tensor<T>>())
        {
            Array.Copy(p.Data, 0, y.Data, at, p.Length);
            at += p.Length;
        }
        return y.DataType == parts[0].DataType ? y : y.AsElementType(parts[0].DataType);
    }

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
