using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace QuantSharp.Cli;

/// <summary>
/// An output folder written all-or-nothing: files go into a hidden temporary sibling (<c>.NAME.tmp-PID-XXXXXXXX</c>) that is
/// renamed to the target by <see cref="Commit"/>; disposing without committing deletes it, so a failed or interrupted
/// command never leaves a half-written folder. An existing target is refused unless <c>force</c> is set, and is then
/// replaced only once the new folder is complete.
/// </summary>
/// <remarks>
/// <para>Interruptions: SIGINT, SIGTERM and SIGQUIT delete the temporary folders of the running command before it exits.
/// What a SIGKILL leaves is swept by the next command writing next to it: temporary folders of processes that no longer run
/// are deleted, and a target set aside by a forced replace that was killed between its two renames
/// (<c>.NAME.old-PID-XXXXXXXX</c>) is put back when the target is missing — the user's previous output is never lost.</para>
/// <para>Two commands writing the same target at once: the second is refused while the first holds <c>.NAME.lock</c>
/// (an exclusive lock, released and removed when the first ends).</para>
/// </remarks>
internal sealed class OutputFolder : IDisposable
{
    private static readonly ConcurrentDictionary<string, byte> Live = new(StringComparer.Ordinal);
    private static readonly List<PosixSignalRegistration> Signals = [];
    private static readonly object SignalsLock = new();
    private FileStream? _lock;

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
        string name = Path.GetFileName(target);
        var held = Lock(parent, name, option, folder);
        try
        {
            Sweep(parent, name, target);
            if (Directory.Exists(target) && !force) throw new UsageException($"{option} '{folder}' already exists; pass --force to replace it");
            string temp = Path.Combine(parent, $".{name}.tmp-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}");
            ListenForSignals();
            Live[temp] = 0;
            Directory.CreateDirectory(temp);
            return new OutputFolder(target, folder.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar), temp, force) { _lock = held };
        }
        catch
        {
            held.Dispose();
            throw;
        }
    }

    /// <summary>The exclusive lock on <c>.NAME.lock</c> for the life of the command; refused while another command holds it.</summary>
    private static FileStream Lock(string parent, string name, string option, string folder)
    {
        string path = Path.Combine(parent, $".{name}.lock");
        try
        {
            return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose);
        }
        catch (IOException)
        {
            throw new UsageException($"{option} '{folder}' is being written by another quantsharp command (it holds '{path}'); wait for it to finish");
        }
    }

    /// <summary>
    /// Removes what killed commands left next to <paramref name="target"/>: temporary folders of processes that no longer
    /// run; a target set aside by a forced replace is put back when the target is missing, else removed.
    /// </summary>
    private static void Sweep(string parent, string name, string target)
    {
        foreach (var dir in Directory.EnumerateDirectories(parent, $".{name}.*-*"))
        {
            string rest = Path.GetFileName(dir)[(name.Length + 2)..];
            bool isTemp = rest.StartsWith("tmp-", StringComparison.Ordinal), isOld = rest.StartsWith("old-", StringComparison.Ordinal);
            if (!isTemp && !isOld) continue;
            var parts = rest[4..].Split('-');
            if (parts.Length != 2 || !int.TryParse(parts[0], out int pid) || Alive(pid)) continue;
            if (isOld && !Directory.Exists(target))
            {
                try { Directory.Move(dir, target); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            }
            else TryDelete(dir);
        }
    }

    private static bool Alive(int pid)
    {
        if (pid == Environment.ProcessId) return true;
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException) { return false; }
        catch (InvalidOperationException) { return false; }
    }

    /// <summary>On SIGINT/SIGTERM/SIGQUIT the live temporary folders are deleted; the signal then ends the process as usual.</summary>
    private static void ListenForSignals()
    {
        lock (SignalsLock)
        {
            if (Signals.Count > 0) return;
            foreach (var signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGQUIT })
            {
                try { Signals.Add(PosixSignalRegistration.Create(signal, _ => { foreach (var t in Live.Keys) TryDelete(t); })); }
                catch (PlatformNotSupportedException) { }
            }
        }
    }

    /// <summary>The final path of a file written at <paramref name="tempPath"/> inside the temporary folder, spelled from the folder as given.</summary>
    public string Final(string tempPath) => Path.Combine(_display, Path.GetRelativePath(Temp, tempPath));

    /// <summary>Moves the complete temporary folder to the target (replacing an old one when forced).</summary>
    public void Commit()
    {
        if (Directory.Exists(_target))
        {
            if (!_force) throw new UsageException($"--output '{_target}' appeared while the command ran; nothing was replaced");
            // Named with this process's id: a kill between the two renames is repaired by the next command's sweep.
            string old = Path.Combine(Path.GetDirectoryName(_target) ?? ".", $".{Path.GetFileName(_target)}.old-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}");
            Directory.Move(_target, old);
            Directory.Move(Temp, _target);
            TryDelete(old);
        }
        else Directory.Move(Temp, _target);
        _committed = true;
        Live.TryRemove(Temp, out _);
    }

    /// <summary>Deletes the temporary folder unless it was committed, and releases the lock.</summary>
    public void Dispose()
    {
        if (!_committed) TryDelete(Temp);
        Live.TryRemove(Temp, out _);
        _lock?.Dispose();
        _lock = null;
    }

    private static void TryDelete(string dir)
    {
        try { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
