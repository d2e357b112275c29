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
}
