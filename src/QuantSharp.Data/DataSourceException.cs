namespace QuantSharp.Data;

/// <summary>
/// The data given on the command line cannot be used: missing, empty, unknown format, or labels missing. The message
/// is one line: the path, what is wrong and what was expected.
/// </summary>
public sealed class DataSourceException : Exception
{
    /// <summary>Creates the error <c>"{path}: {problem}"</c>.</summary>
    public DataSourceException(string path, string problem, Exception? inner = null) : base($"{path}: {problem}", inner) => Path = path;

    /// <summary>The path the error is about.</summary>
    public string Path { get; }
}
