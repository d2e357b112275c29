namespace QuantSharp.Data.Images;

/// <summary>How a subset of a data set is drawn.</summary>
public enum SampleMethod
{
    /// <summary>The first N samples in the data set's order.</summary>
    Sequential,

    /// <summary>N samples drawn without replacement by a generator seeded with <see cref="ImageDatasetOptions.Seed"/>.</summary>
    Random,
}

/// <summary>Options shared by the image-file data sets: subset, sampling, and what to do with unreadable images.</summary>
public sealed record ImageDatasetOptions
{
    /// <summary>Use only this many samples (null or ≥ the count: all).</summary>
    public int? SubsetLength { get; init; }

    /// <summary>How the subset is drawn.</summary>
    public SampleMethod Sampling { get; init; } = SampleMethod.Sequential;

    /// <summary>Seed of <see cref="SampleMethod.Random"/>.</summary>
    public int Seed { get; init; }

    /// <summary>
    /// False (default): the first unreadable image fails with an error naming it. True: it is skipped with a warning
    /// naming it (see <see cref="ImageFileDataset.Get"/>).
    /// </summary>
    public bool SkipUnreadable { get; init; }

    /// <summary>Receives warnings (one line each); null writes them to standard error.</summary>
    public Action<string>? Warn { get; init; }

    /// <summary>
    /// The indices [0, <paramref name="count"/>) kept by the subset options, in increasing order: the first N
    /// (sequential) or a seeded draw of N without replacement (random, partial Fisher–Yates), sorted.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The subset length is below 1.</exception>
    public int[] SelectIndices(int count)
    {
        if (SubsetLength is < 1) throw new ArgumentOutOfRangeException(nameof(SubsetLength), $"subset length expected >= 1, got {SubsetLength}");
        int n = Math.Min(SubsetLength ?? count, count);
        if (n == count || Sampling == SampleMethod.Sequential) return Enumerable.Range(0, n).ToArray();
        var all = Enumerable.Range(0, count).ToArray();
        var rng = new Random(Seed);
        for (int i = 0; i < n; i++)
        {
            int j = i + rng.Next(count - i);
            (all[i], all[j]) = (all[j], all[i]);
        }
        var pick = all[..n];
        Array.Sort(pick);
        return pick;
    }
}
