using QuantSharp.Cli;

namespace QuantSharp.Cli.Tests;

/// <summary><see cref="OutputFolder"/>: all-or-nothing output folders.</summary>
public sealed class OutputFolderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("qs-cli-outdir-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void NotCommitted_LeavesNeitherTargetNorTemporaryFolder()
    {
        string target = Path.Combine(_dir, "out");
        using (var o = OutputFolder.Begin(target, force: false))
            File.WriteAllText(Path.Combine(o.Temp, "half.txt"), "half");
        Assert.False(Directory.Exists(target));
        Assert.Empty(Directory.GetFileSystemEntries(_dir));
    }

    [Fact]
    public void Committed_MovesEveryFileAndReportsFinalPathsAsGiven()
    {
        string target = Path.Combine(_dir, "out");
        string final;
        using (var o = OutputFolder.Begin(target + "/", force: false))
        {
            string f = Path.Combine(o.Temp, "a.txt");
            File.WriteAllText(f, "a");
            Assert.False(Directory.Exists(target));
            o.Commit();
            final = o.Final(f);
        }
        Assert.Equal(Path.Combine(target, "a.txt"), final);
        Assert.Equal("a", File.ReadAllText(final));
        Assert.Equal([target], Directory.GetFileSystemEntries(_dir));
    }

    [Fact]
    public void ExistingTarget_RefusedWithoutForce_ReplacedOnlyOnCommitWithForce()
    {
        string target = Directory.CreateDirectory(Path.Combine(_dir, "out")).FullName;
        File.WriteAllText(Path.Combine(target, "old.txt"), "old");
        var e = Assert.Throws<UsageException>(() => OutputFolder.Begin(target, force: false));
        Assert.Contains("--force", e.Message);
        using (var o = OutputFolder.Begin(target, force: true))
        {
            File.WriteAllText(Path.Combine(o.Temp, "new.txt"), "new");
            Assert.True(File.Exists(Path.Combine(target, "old.txt")));
            o.Commit();
        }
        Assert.False(File.Exists(Path.Combine(target, "old.txt")));
        Assert.True(File.Exists(Path.Combine(target, "new.txt")));
        Assert.Equal([target], Directory.GetFileSystemEntries(_dir));
    }

    [Fact]
    public void TargetIsAFile_IsAUsageError()
    {
        string file = Path.Combine(_dir, "f");
        File.WriteAllText(file, "x");
        Assert.Contains("is a file", Assert.Throws<UsageException>(() => OutputFolder.Begin(file, force: true)).Message);
    }

    /// <summary>The id of a process that has just exited (not running any more).</summary>
    private static int DeadProcessId()
    {
        using var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("true") { UseShellExecute = false })!;
        p.WaitForExit();
        return p.Id;
    }

    [Fact]
    public void Begin_SweepsTemporaryFoldersOfProcessesThatNoLongerRun_KeepsLiveOnes()
    {
        string target = Path.Combine(_dir, "out");
        string dead = Path.Combine(_dir, $".out.tmp-{DeadProcessId()}-deadbeef");
        string live = Path.Combine(_dir, $".out.tmp-{Environment.ProcessId}-0000abcd");
        Directory.CreateDirectory(dead);
        Directory.CreateDirectory(live);
        using (OutputFolder.Begin(target, force: false)) { }
        Assert.False(Directory.Exists(dead), "a killed command's temporary folder was left");
        Assert.True(Directory.Exists(live), "a running command's temporary folder was removed");
    }

    [Fact]
    public void Begin_PutsBackATargetSetAsideByAForcedReplaceThatWasKilledBetweenItsRenames()
    {
        string target = Path.Combine(_dir, "out");
        string aside = Path.Combine(_dir, $".out.old-{DeadProcessId()}-deadbeef");
        Directory.CreateDirectory(aside);
        File.WriteAllText(Path.Combine(aside, "model.qsim"), "the user's checkpoint");
        var e = Assert.Throws<UsageException>(() => OutputFolder.Begin(target, force: false));
        Assert.Contains("already exists", e.Message);
        Assert.Equal("the user's checkpoint", File.ReadAllText(Path.Combine(target, "model.qsim")));
        Assert.False(Directory.Exists(aside));
    }

    [Fact]
    public void SecondCommandWritingTheSameTarget_IsRefusedWhileTheFirstRuns()
    {
        string target = Path.Combine(_dir, "out");
        using (var first = OutputFolder.Begin(target, force: true))
        {
            var e = Assert.Throws<UsageException>(() => OutputFolder.Begin(target, force: true));
            Assert.Contains("being written by another quantsharp command", e.Message);
        }
        using (OutputFolder.Begin(target, force: true)) { }   // released when the first ended
        Assert.Empty(Directory.GetFileSystemEntries(_dir));
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void Sigterm_WhileACommandWrites_LeavesNoTemporaryFolder()
    {
        if (!QuantSharp.Data.FashionMnist.IsAvailable()) Assert.Fail("Fashion-MNIST is not installed (dataset-fashion-mnist; test.sh installs it)");
        string cli = Path.Combine(AppContext.BaseDirectory, "quantsharp.dll");
        string target = Path.Combine(_dir, "q"), model = Path.Combine(_dir, "m.onnx");
        QuantSharp.Onnx.Export.OnnxExporter.Save(QuantSharp.Quantization.Zoo.MobileNetV2Small.Build(1), model);
        var start = new System.Diagnostics.ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        // calib over all 60,000 training images: its output folder exists from the start and calibration takes a while.
        foreach (var a in new[] { cli, "calib", "--model", model, "--data", QuantSharp.Data.FashionMnist.DefaultDirectory, "--output", target }) start.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(start)!;
        p.StandardOutput.ReadToEndAsync();
        p.StandardError.ReadToEndAsync();
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (Directory.GetDirectories(_dir, ".q.tmp-*").Length == 0 && !p.HasExited && DateTime.UtcNow < deadline) Thread.Sleep(20);
        Assert.False(p.HasExited, "the command ended before it could be interrupted");
        Assert.NotEmpty(Directory.GetDirectories(_dir, ".q.tmp-*"));
        using (var kill = System.Diagnostics.Process.Start("kill", ["-TERM", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) kill.WaitForExit();
        Assert.True(p.WaitForExit(60_000), "the command did not end after SIGTERM");
        Assert.Empty(Directory.GetDirectories(_dir, ".q.tmp-*"));
        Assert.False(Directory.Exists(target));
    }
}
