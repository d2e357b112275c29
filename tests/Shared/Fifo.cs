using System.Diagnostics;

namespace QuantSharp.Tests.Shared;

/// <summary>Makes named pipes for the hostile-file tests (linked into the test projects that use it).</summary>
internal static class Fifo
{
    /// <summary>Creates a FIFO at <paramref name="path"/> with mkfifo (coreutils); fails the test, naming the cause, when it cannot.</summary>
    public static void Make(string path)
    {
        ProcessStartInfo start = new("mkfifo") { ArgumentList = { path }, RedirectStandardError = true };
        Process p;
        try { p = Process.Start(start)!; }
        catch (System.ComponentModel.Win32Exception ex) { Assert.Fail($"mkfifo is needed to build the FIFO case and could not be started: {ex.Message}"); return; }
        using (p)
        {
            string err = p.StandardError.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0) Assert.Fail($"mkfifo {path} failed (exit {p.ExitCode}): {err}");
        }
    }
}
