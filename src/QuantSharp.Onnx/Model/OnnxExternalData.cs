using System.Globalization;

namespace QuantSharp.Onnx;

/// <summary>Reads tensors whose bytes ONNX stores outside the model file (<c>data_location = EXTERNAL</c>).</summary>
/// <remarks>
/// <c>external_data</c> keys: <c>location</c> (required; a path relative to the model file's folder),
/// <c>offset</c> (optional, default 0) and <c>length</c> (optional, default: to the end of the file), both decimal
/// byte counts. Absolute locations and locations that resolve outside the folder (<c>../</c>) are rejected.
/// </remarks>
public static class OnnxExternalData
{
    /// <summary>
    /// Reads every external tensor of <paramref name="model"/> (initializers and tensors in attributes, subgraphs
    /// included) from <paramref name="folder"/> into <see cref="OnnxTensor.RawData"/>; each becomes an ordinary inline
    /// tensor (external-data entries cleared, location DEFAULT).
    /// </summary>
    /// <param name="model">The model to complete.</param>
    /// <param name="folder">Folder the locations are relative to (the model file's folder).</param>
    /// <param name="modelPath">Model file name used in error messages.</param>
    /// <exception cref="InvalidDataException">A location escapes the folder, a file is missing, or it is shorter than offset + length; the message names the tensor and the file.</exception>
    public static void LoadAll(OnnxModel model, string folder, string? modelPath = null)
    {
        foreach (var t in AllTensors(model.Graph))
            if (t.DataLocation == OnnxDataLocation.External)
                Load(t, folder, modelPath);
    }

    /// <summary>Reads one external tensor's bytes into <see cref="OnnxTensor.RawData"/> (see <see cref="LoadAll"/>).</summary>
    public static void Load(OnnxTensor tensor, string folder, string? modelPath = null)
    {
        string who = $"{modelPath ?? "<model>"}: external data of tensor '{tensor.Name}'";
        string? location = null;
        long offset = 0, length = -1;
        foreach (var e in tensor.ExternalData)
        {
            switch (e.Key)
            {
                case "location": location = e.Value; break;
                case "offset": offset = ParseCount(e.Value, "offset", who); break;
                case "length": length = ParseCount(e.Value, "length", who); break;
            }
        }
        if (string.IsNullOrEmpty(location)) throw new InvalidDataException($"{who}: no 'location' key in external_data");
        string file = Resolve(folder, location, who);
        if (!File.Exists(file)) throw new InvalidDataException($"{who}: file '{file}' (location '{location}') does not exist");
        using var fs = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        long available = fs.Length - offset;
        if (available < 0 || (length >= 0 && available < length))
            throw new InvalidDataException($"{who}: file '{file}' has {fs.Length} bytes; needs offset {offset} + length {(length < 0 ? 0 : length)}");
        if (length < 0) length = available;
        if (length > Array.MaxLength) throw new InvalidDataException($"{who}: length {length} is larger than a single array can hold");
        var bytes = new byte[length];
        fs.Seek(offset, SeekOrigin.Begin);
        fs.ReadExactly(bytes);
        tensor.RawData = bytes;
        tensor.ExternalData.Clear();
        tensor.DataLocation = OnnxDataLocation.Default;
    }

    /// <summary>The full path of <paramref name="location"/> inside <paramref name="folder"/>; rejects rooted paths and paths escaping the folder.</summary>
    private static string Resolve(string folder, string location, string who)
    {
        if (Path.IsPathRooted(location) || location.Contains(':'))
            throw new InvalidDataException($"{who}: location '{location}' must be a relative path inside the model folder");
        string root = Path.GetFullPath(folder);
        string rootWithSep = root.EndsWith(Path.DirectorySeparatorChar) ? root : root + Path.DirectorySeparatorChar;
        string full = Path.GetFullPath(Path.Combine(root, location));
        if (!full.StartsWith(rootWithSep, StringComparison.Ordinal))
            throw new InvalidDataException($"{who}: location '{location}' resolves to '{full}', outside the model folder '{root}'");
        return full;
    }

    private static long ParseCount(string text, string key, string who)
    {
        if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long v))
            throw new InvalidDataException($"{who}: '{key}' expected a non-negative decimal integer, got '{text}'");
        return v;
    }

    /// <summary>Every tensor stored in <paramref name="graph"/>: initializers and attribute tensors, recursing into subgraphs.</summary>
    public static IEnumerable<OnnxTensor> AllTensors(OnnxGraph graph)
    {
        foreach (var t in graph.Initializers) yield return t;
        foreach (var n in graph.Nodes)
        {
            foreach (var a in n.Attributes)
            {
                if (a.T is not null) yield return a.T;
                foreach (var t in a.Tensors) yield return t;
                var subgraphs = a.G is null ? a.Graphs : a.Graphs.Prepend(a.G);
                foreach (var g in subgraphs)
                    foreach (var t in AllTensors(g)) yield return t;
            }
        }
    }
}
