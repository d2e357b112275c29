using System.Text.Json;
using QuantSharp.Cli;
using QuantSharp.Data;

namespace QuantSharp.Cli.Tests;

/// <summary><c>quantsharp quickstart</c> on a small slice of Fashion-MNIST (the full run is in the note and in run.sh's README line).</summary>
public sealed class QuickstartCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("qs-quickstart-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Quickstart_SmallRun_TrainsQuantizesFineTunesAndExports()
    {
        if (!FashionMnist.IsAvailable()) Assert.Fail("Fashion-MNIST is not installed (Debian package dataset-fashion-mnist; test.sh installs it)");
        var o = new StringWriter();
        var e = new StringWriter();
        string json = Path.Combine(_dir, "quickstart.json");
        int code = CommandLineApp.Run(["quickstart", "--epochs", "1", "--qat-epochs", "1", "--subset", "1024", "--test-subset", "500",
            "--output", Path.Combine(_dir, "out"), "--json", json], o, e);
        Assert.True(code == 0, e.ToString());
        Assert.Contains("W4A8 after 1 QAT epoch(s)", o.ToString());
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        double fp32 = doc.RootElement.GetProperty("fp32_top1").GetDouble(), w4a8 = doc.RootElement.GetProperty("w4a8_top1").GetDouble();
        Assert.True(fp32 > 0.5, $"FP32 top-1 {fp32} after 8 batches at lr 1e-4 should already beat chance clearly");
        Assert.True(w4a8 > fp32 - 0.1, $"W4A8 {w4a8} vs FP32 {fp32}");
        Assert.True(doc.RootElement.GetProperty("seconds_train_fp32").GetDouble() > 0);
        Assert.True(File.Exists(Path.Combine(_dir, "out", "quickstart_qdq.onnx")));
    }

    [Fact]
    public void Quickstart_MissingData_SaysHowToInstallIt()
    {
        var ex = Assert.Throws<FileNotFoundException>(() => QuickstartCommand.Execute(new QuickstartRequest(DataDirectory: Path.Combine(_dir, "none")), new StringWriter()));
        Assert.Contains("apt-get install dataset-fashion-mnist", ex.Message);
        Assert.Contains("none", ex.Message);
    }
}
