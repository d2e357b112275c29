namespace QuantSharp.Data;

/// <summary>What kind of data a <c>--data</c> path holds.</summary>
public enum DataSourceKind
{
    /// <summary>A folder with one sub-folder of images per class (labels from the folder names).</summary>
    ImageFolder,

    /// <summary>A flat folder of images (unlabelled unless a labels file is given).</summary>
    ImageList,

    /// <summary>A folder holding (Fashion-)MNIST IDX files.</summary>
    Idx,

    /// <summary>A <c>.npy</c> array of images, optionally with a labels <c>.npy</c>.</summary>
    Npy,
}

/// <summary>An opened data source: the data set to load from and what is known about it.</summary>
/// <param name="Kind">What was detected.</param>
/// <param name="Path">The <c>--data</c> path.</param>
/// <param name="Dataset">The samples (already subset), read through a <see cref="DataLoader"/>.</param>
/// <param name="HasLabels">False when the samples carry no labels (every label is −1).</param>
/// <param name="ClassNames">Class names in label order (image folders only), else null.</param>
/// <param name="Files">The files read (images, labels), for reports.</param>
public sealed record DataSource(DataSourceKind Kind, string Path, IDataset Dataset, bool HasLabels, IReadOnlyList<string>? ClassNames, IReadOnlyList<string> Files)
{
    /// <summary>One line for people, e.g. <c>"image folder /data/val: 500 images, 10 classes, samples [3,224,224]"</c>.</summary>
    public string Describe()
    {
        string kind = Kind switch
        {
            DataSourceKind.ImageFolder => "image folder",
            DataSourceKind.ImageList => "image list",
            DataSourceKind.Idx => "IDX files in",
            _ => ".npy",
        };
        string labels = ClassNames is not null ? $"{ClassNames.Count} classes" : HasLabels ? "labelled" : "unlabelled";
        return $"{kind} {Path}: {Dataset.Count} samples, {labels}, samples [{string.Join(",", Dataset.SampleShape)}]";
    }
}
