namespace QuantSharp.Quantization.Analysis;

/// <summary>
/// Writes a <see cref="QuantAnalysis"/> as a report folder: <c>index.html</c> (self-contained: inline CSS and SVG, no
/// script, nothing fetched from the network), <c>analysis.json</c> and the CSV tables of <see cref="AnalysisWriters.CsvFiles"/>.
/// </summary>
/// <remarks>
/// The folder appears whole or not at all: everything is written into a hidden sibling folder which is then renamed.
/// An existing folder is refused unless <c>force</c>; then it is replaced (moved aside, the new one renamed into place,
/// the old one deleted).
/// </remarks>
public static class AnalysisReport
{
    /// <summary>The page's file name.</summary>
    public const string IndexFile = "index.html";

    /// <summary>The JSON file's name.</summary>
    public const string JsonFile = "analysis.json";

    /// <summary>Writes the report folder; returns the paths of the files written.</summary>
    /// <exception cref="IOException"><paramref name="folder"/> exists and <paramref name="force"/> is false.</exception>
    public static IReadOnlyList<string> Write(QuantAnalysis analysis, string folder, bool force = false)
    {
        ArgumentNullException.ThrowIfNull(analysis);
        string target = Path.GetFullPath(folder.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar));
        if (!force && (Directory.Exists(target) || File.Exists(target)))
            throw new IOException($"report folder '{folder}' already exists (replace it with force)");
        string parent = Path.GetDirectoryName(target) ?? ".";
        Directory.CreateDirectory(parent);
        string name = Path.GetFileName(target), tag = Guid.NewGuid().ToString("N")[..8];
        string temp = Path.Combine(parent, $".{name}.tmp-{tag}");
        var files = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [IndexFile] = AnalysisHtml.Render(analysis),
            [JsonFile] = AnalysisWriters.Json(analysis),
        };
        foreach (var (file, text) in AnalysisWriters.Csv(analysis)) files[file] = text;
        try
        {
            Directory.CreateDirectory(temp);
            foreach (var (file, text) in files) File.WriteAllText(Path.Combine(temp, file), text, new System.Text.UTF8Encoding(false));
            if (File.Exists(target)) File.Delete(target);
            if (Directory.Exists(target))
            {
                string old = Path.Combine(parent, $".{name}.old-{tag}");
                Directory.Move(target, old);
                Directory.Move(temp, target);
                Directory.Delete(old, recursive: true);
            }
            else Directory.Move(temp, target);
        }
        catch
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
            throw;
        }
        return files.Keys.Select(f => Path.Combine(target, f)).ToList();
    }
}
