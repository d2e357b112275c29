namespace QuantSharp.Cli;

/// <summary>Path checks shared by the commands, each failing with one line that names the option.</summary>
internal static class CliPaths
{
    /// <summary>
    /// The error for a file that is not there: a folder given where a file was expected says so, rather than "does not exist".
    /// </summary>
    /// <param name="named">The file as the message names it, e.g. "--labels: file 'l.npy'".</param>
    /// <param name="path">The path.</param>
    public static Exception MissingFile(string named, string path) => Directory.Exists(path)
        ? new InvalidDataException($"{named} is a directory; expected a file")
        : new FileNotFoundException($"{named} does not exist", path);

    /// <summary>Refuses, before any work is done, a file to write (e.g. <c>--json</c>) that names an existing folder.</summary>
    /// <exception cref="UsageException"><paramref name="path"/> is a directory.</exception>
    public static void CheckFileToWrite(string option, string? path)
    {
        if (path is not null && Directory.Exists(path))
            throw new UsageException($"{option} '{path}' is a directory; expected a file to write");
    }

    private static readonly StringComparison PathComparison =
        OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;

    /// <summary>
    /// Refuses an output folder that is, lies inside, or contains an input the command reads: replacing it (--force) or
    /// writing into it would destroy that input.
    /// </summary>
    /// <param name="outputOption">The output's option, e.g. "--output".</param>
    /// <param name="output">The output folder as given.</param>
    /// <param name="inputOption">The input's option, e.g. "--quant".</param>
    /// <param name="input">The input file or folder as given.</param>
    /// <param name="mayBeInside">The output may lie inside the input folder (writing there leaves the input's own files alone).</param>
    /// <exception cref="UsageException">The two overlap.</exception>
    public static void CheckSeparate(string outputOption, string output, string inputOption, string input, bool mayBeInside = false)
    {
        string o = Full(output), i = Full(input);
        string relation = string.Equals(o, i, PathComparison) ? "is"
            : Inside(i, o) ? "contains"
            : !mayBeInside && Inside(o, i) ? "is inside"
            : "";
        if (relation.Length > 0)
            throw new UsageException($"{outputOption} '{output}' {relation} {inputOption} '{input}'; writing it would destroy what {inputOption} names — choose another {outputOption}");
    }

    /// <summary>
    /// The absolute path with every symbolic link along it resolved (as far as the path exists), so a link to the
    /// input folder, or an output reached through one, is seen for what it is.
    /// </summary>
    internal static string Full(string path) => Full(path, 0);

    private static string Full(string path, int depth)
    {
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        string root = Path.GetPathRoot(full) ?? "";
        string resolved = root;
        var parts = full[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries);
        for (int i = 0; i < parts.Length; i++)
        {
            string next = Path.Combine(resolved, parts[i]);
            FileSystemInfo? target = null;
            try
            {
                var info = new FileInfo(next);
                if (info.LinkTarget is not null && depth < 40) target = info.ResolveLinkTarget(returnFinalTarget: true);
            }
            catch (IOException) { } // a link loop or an unreadable link: compare the path as written from here on
            catch (UnauthorizedAccessException) { }
            resolved = target is null ? next : Full(target.FullName, depth + 1);
        }
        return resolved;
    }

    /// <summary>Whether <paramref name="inner"/> lies strictly inside the folder <paramref name="outer"/> (both full, no trailing separator).</summary>
    private static bool Inside(string inner, string outer)
    {
        string prefix = outer.EndsWith(Path.DirectorySeparatorChar) ? outer : outer + Path.DirectorySeparatorChar;
        return inner.Length > prefix.Length && inner.StartsWith(prefix, PathComparison);
    }
}
