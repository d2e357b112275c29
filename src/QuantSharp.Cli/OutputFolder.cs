namespace QuantSharp.Cli;

/// <summary>
/// An output folder written all-or-nothing: files go into a hidden temporary sibling (<c>.NAME.tmp-XXXXXXXX</c>) that is
/// renamed to the target by <see cref="Commit"/>; disposing without committing deletes it, so a failed or interrupted
/// command never leaves a half-written folder. An existing target is refused unless <c>force</c> is set, and is then
/// replaced only once the new folder is complete.
/// </summary>
internal sealed class OutputFolder : IDisposable
{
    private readonly string _target;
    private readonly string _display;
    private readonly bool _force;
    private bool _committed;

    private OutputFolder(string target, string display, string temp, bool force)
    {
        _target = target;
        _display = display;
        Temp = temp;
        _force = force;
    }

    /// <summary>The temporary folder to write into.</summary>
    public string Temp { get; }

    /// <summary>The folder the files end up in.</summary>
    public string Target => _target;

    /// <summary>Checks the target and creates the temporary folder.</summary>
    /// <param name="folder">The target folder, as given on the command line.</param>
    /// <param name="force">Replace an existing target.</param>
    /// <param name="option">The option that named it (for the error message).</param>
    /// <exception cref="UsageException">The target exists and <paramref name="force"/> is false.</exception>
    public static OutputFolder Begin(string folder, bool force, string option = "--output")
    {
        string target = Path.GetFullPath(folder.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar));
        if (File.Exists(target)) throw new UsageException($"{option} '{folder}' is a file; name a folder");
        if (Directory.Exists(target) && !force) throw new UsageException($"{option} '{folder}' already exists; pass --force to replace it");
        string parent = Path.GetDirectoryName(target) ?? ".";
        Directory.CreateDirectory(parent);
        string temp = Path.Combine(parent, $".{Path.GetFileName(target)}.tmp-{Guid.NewGuid().ToString("N")[..8]}");
        Directory.CreateDirectory(temp);
        return new OutputFolder(target, folder.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar), temp, force);
    }

    /// <summary>The final path of a file written at <paramref name="tempPath"/> inside the temporary folder, spelled from the folder as given.</summary>
    public string Final(string tempPath) => Path.Combine(_display, Path.GetRelativePath(Temp, tempPath));

    /// <summary>Moves the complete temporary folder to the target (replacing an old one when forced).</summary>
    public void Commit()
    {
        if (Directory.Exists(_target))
        {
            if (!_force) throw new UsageException($"--output '{_target}' appeared while the command ran; nothing was replaced");
            string old = Path.Combine(Path.GetDirectoryName(_target) ?? ".", $".{Path.GetFileName(_target)}.old-{Guid.NewGuid().ToString("N")[..8]}");
            Directory.Move(_target, old);
            Directory.Move(Temp, _target);
            TryDelete(old);
        }
        else Directory.Move(Temp, _target);
        _committed = true;
    }

    /// <summary>Deletes the temporary folder unless it was committed.</summary>
    public void Dispose()
    {
        if (!_committed) TryDelete(Temp);
    }

    private static void TryDelete(string dir)
    {
        try { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
