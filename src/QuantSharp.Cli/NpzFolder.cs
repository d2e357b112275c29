using QuantSharp.Data;
using QuantSharp.Engine;

namespace QuantSharp.Cli;

/// <summary>
/// A folder of .npz files, each one sample (one array per model input, with or without a sample axis of 1): what
/// tokenizing pipelines write when sequence lengths vary. Samples are read in file-name order and grouped by shape, so
/// each group batches like a tensor file while different lengths are never padded or mixed.
/// </summary>
internal static class NpzFolder
{
    /// <summary>Whether <paramref name="path"/> is a folder holding .npz files.</summary>
    public static bool Holds(string path) =>
        Directory.Exists(path) && Directory.EnumerateFiles(path, "*.npz", SearchOption.TopDirectoryOnly).Any();

    /// <summary>The files of the folder, in ordinal name order (the sample order labels follow).</summary>
    public static string[] Files(string dir) =>
        Directory.GetFiles(dir, "*.npz", SearchOption.TopDirectoryOnly).Order(StringComparer.Ordinal).ToArray();

    /// <summary>
    /// Reads every sample; <paramref name="check"/> validates one file's arrays (named "'file' array 'name'") and
    /// returns how many samples it holds. Returns the shape groups (inputs in <paramref name="inputs"/> order) and, for each
    /// group, the indices of its samples in file order (what labels are indexed by).
    /// </summary>
    public static List<(List<(string Name, string From, Tensor Values)> Inputs, List<int> Samples)> Read(string dir, IReadOnlyList<ValueInfo> inputs,
        Func<List<(string Name, string From, Tensor Values)>, int> check)
    {
        var files = Files(dir);
        var groups = new Dictionary<string, (List<List<Tensor>> Parts, List<int> Files, string From)>(StringComparer.Ordinal);
        var order = new List<string>();
        int sample = 0;
        for (int f = 0; f < files.Length; f++)
        {
            var arrays = Npz.Read(files[f]).Select(a =>
            {
                // A sample saved without its batch axis (ids of shape [L] for an input [batch, L]) is a batch of one.
                var declared = inputs.FirstOrDefault(i => i.Name == a.Name);
                var value = declared?.Shape is { } dims && a.Value.Rank == dims.Length - 1 ? FeedSet.AddSampleAxis(a.Value) : a.Value;
                return (a.Name, From: $"'{files[f]}' array '{a.Name}'", Values: value);
            }).ToList();
            check(arrays);
            var ordered = inputs.Select(i => arrays.First(a => a.Name == i.Name).Values).ToList();
            string key = string.Join(";", ordered.Select(t => Shapes.Format(t.Dims[1..])));
            if (!groups.TryGetValue(key, out var g))
            {
                g = (inputs.Select(_ => new List<Tensor>()).ToList(), [], $"'{dir}' ({string.Join(", ", inputs.Select((i, k) => $"{i.Name}{Shapes.Format(ordered[k].Dims[1..])}"))})");
                groups[key] = g;
                order.Add(key);
            }
            for (int k = 0; k < ordered.Count; k++) g.Parts[k].Add(ordered[k]);
            for (int n = 0; n < ordered[0].Dims[0]; n++) g.Files.Add(sample++);
        }
        return order.Select(key =>
        {
            var g = groups[key];
            return (inputs.Select((i, k) => (i.Name, g.From, FeedSet.Concat(g.Parts[k]))).ToList(), g.Files);
        }).ToList();
    }
}
