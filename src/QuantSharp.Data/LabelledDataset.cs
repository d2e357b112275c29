namespace QuantSharp.Data;

/// <summary>A data set whose labels are given apart from its samples (an .npy of images and one of labels).</summary>
public sealed class LabelledDataset : IDataset
{
    private readonly IDataset _samples;
    private readonly int[] _labels;

    /// <summary>Labels <paramref name="samples"/> with <paramref name="labels"/>, one per sample in order.</summary>
    /// <exception cref="ArgumentException">The counts differ.</exception>
    public LabelledDataset(IDataset samples, int[] labels)
    {
        ArgumentNullException.ThrowIfNull(samples);
        ArgumentNullException.ThrowIfNull(labels);
        if (labels.Length != samples.Count)
            throw new ArgumentException($"{labels.Length} labels for {samples.Count} samples in '{samples.Source}' (expected one per sample)", nameof(labels));
        _samples = samples;
        _labels = labels;
    }

    /// <inheritdoc/>
    public int Count => _samples.Count;

    /// <inheritdoc/>
    public int[] SampleShape => _samples.SampleShape;

    /// <inheritdoc/>
    public string Source => _samples.Source;

    /// <summary>Reads sample <paramref name="index"/> and returns its given label.</summary>
    public int Get(int index, Span<float> destination)
    {
        _samples.Get(index, destination);
        return _labels[index];
    }
}
