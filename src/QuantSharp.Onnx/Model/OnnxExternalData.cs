using QuantSharp.Engine.IO;
using System.Globalization;

namespace QuantSharp.Onnx;

/// <summary>Reads tensors whose bytes ONNX stores outside the model file (<c>data_location = EXTERNAL</c>).</summary>
/// <remarks>
/// <c>external_data</c> keys: <c>location</c> (required; a path relative to the model file's folder),
/// <c>offset</c> (optional, default 0) and <c>length</c> (optional, default: the size the tensor's type and shape
/// declare; for types without a fixed size, to the end of the file), both decimal byte counts. Absolute locations,
/// locations that resolve outside the folder (<c>../</c>, or a symbolic link leading out), and anything that is not a
/// regular file (a directory, FIFO, device or socket) are rejected.
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
    /// <exception cref="InvalidDataException">A location escapes the folder, a file is missing or not a regular file, <c>length</c> differs from the declared size, or the file is shorter than offset + length; the message names the model, the tensor and the file.</exception>
    public static void LoadAll(OnnxModel model, string folder, string? modelPath = null)
    {
        foreach (var t in AllTensors(model.Graph))
            if (t.DataLocation == OnnxDataLocation.External)
                Load(t, folder, modelPath);
    }

    /// <summary>Reads one external tensor's bytes into <see cref="OnnxTensor.RawData"/> (see <see cref="LoadAll"/>).</summary>
    /// <remarks>
    /// Without a <c>length</c> key the tensor's declared size is read (as ONNX Runtime does), so a small tensor in a
    /// large shared file reads only its slice. The file must be a regular file whose real path (symbolic links
    /// resolved) is inside <paramref name="folder"/>; its type is checked before it is opened, so a FIFO cannot block.
    /// Nothing is allocated before the declared size, the <c>length</c> key and the file size agree.
    /// </remarks>
    public static void Load(OnnxTensor tensor, string folder, string? modelPath = null)
    {
        string who = $"{modelPath ?? "<model>"}: external data of tensor '{tensor.Name}' ({OnnxDataTypes.Name(tensor.DataType)} [{string.Join(",", tensor.Dims)}])";
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
        if (location.Any(char.IsControl))
            throw new InvalidDataException($"{who}: location '{Printable(location)}' contains control characters; expected a relative file path");
        try { Read(tensor, folder, location, offset, length, who); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new InvalidDataException($"{who}: location '{location}' cannot be read: {e.Message}", e);
        }
    }

    private static void Read(OnnxTensor tensor, string folder, string location, long offset, long length, string who)
    {
        string file = Resolve(folder, location, who);
        switch (FileKind.Of(file))
        {
            case FileKind.Kind.Missing:
                throw new InvalidDataException($"{who}: file '{file}' (location '{location}') does not exist");
            case FileKind.Kind.Directory:
                throw new InvalidDataException($"{who}: location '{location}' is a directory; expected a regular file");
            case FileKind.Kind.Other:
                throw new InvalidDataException($"{who}: location '{location}' is not a regular file (a FIFO, device or socket); expected a regular file");
        }
        long declared = OnnxDataSizes.DeclaredBytes(tensor);
        if (length >= 0 && declared >= 0 && length != declared)
            throw new InvalidDataException($"{who}: 'length' is {length} bytes; the declared shape needs {declared}");
        long size = new FileInfo(file).Length;
        if (length < 0) length = declared >= 0 ? declared : Math.Max(0, size - offset);
        if (offset > size || length > size - offset)
            throw new InvalidDataException($"{who}: file '{file}' has {size} bytes; needs offset {offset} + length {length}");
        if (length > Array.MaxLength) throw new InvalidDataException($"{who}: length {length} is larger than a single array can hold");
        using var handle = File.OpenHandle(file, FileMode.Open, FileAccess.Read, FileShare.Read);
        var bytes = GC.AllocateUninitializedArray<byte>((int)length);
        int read = 0;
        while (read < bytes.Length)
        {
            int n = RandomAccess.Read(handle, bytes.AsSpan(read), offset + read);
            if (n == 0) throw new InvalidDataException($"{who}: file '{file}' ended after {offset + read} bytes; needs offset {offset} + length {length}");
            read += n;
        }
        tensor.RawData = bytes;
        tensor.ExternalData.Clear();
        tensor.DataLocation = OnnxDataLocation.Default;
    }

    /// <summary>
    /// The full path of <paramref name="location"/> inside <paramref name="folder"/>; rejects rooted paths, paths
    /// escaping the folder, and symbolic links (of the file or of any folder on the way) that lead outside it.
    /// </summary>
    private static string Resolve(string folder, string location, string who)
    {
        if (Path.IsPathRooted(location) || location.Contains(':'))
            throw new InvalidDataException($"{who}: location '{location}' must be a relative path inside the model folder");
        string root = Path.GetFullPath(folder);
        string full = Path.GetFullPath(Path.Combine(root, location));
        if (!IsInside(full, root))
            throw new InvalidDataException($"{who}: location '{location}' resolves to '{full}', outside the model folder '{root}'");
        string realRoot = RealPath(root, who);
        string real = RealPath(full, who);
        if (!IsInside(real, realRoot))
            throw new InvalidDataException($"{who}: location '{location}' is a symbolic link to '{real}', outside the model folder '{root}'");
        return real;
    }

    private static string Printable(string text) =>
        string.Concat(text.Select(c => char.IsControl(c) ? $"\\u{(int)c:X4}" : c.ToString()));

    private static bool IsInside(string path, string root)
    {
        string rootWithSep = root.EndsWith(Path.DirectorySeparatorChar) ? root : root + Path.DirectorySeparatorChar;
        return path.StartsWith(rootWithSep, StringComparison.Ordinal);
    }

    /// <summary><paramref name="path"/> with every symbolic link along it replaced by its target.</summary>
    private static string RealPath(string path, string who, int depth = 0)
    {
        // Linux gives up after 40 links as well (ELOOP).
        if (depth > 40) throw new InvalidDataException($"{who}: too many levels of symbolic links at '{path}'");
        string full = Path.GetFullPath(path);
        string current = Path.GetPathRoot(full) ?? "";
        foreach (string part in full[current.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
        {
            string next = Path.Combine(current, part);
            string? target = new FileInfo(next).LinkTarget;
            current = target is null ? next : RealPath(Path.GetFullPath(target, current), who, depth + 1);
        }
        return current;
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
