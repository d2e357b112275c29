using System.Diagnostics;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace QuantSharp.Cli.Tests;

/// <summary>
/// The <c>analyze</c> report in headless Chromium (Debian package <c>chromium</c>, installed by test.sh): it renders
/// (a non-empty PNG screenshot, kept as <c>TestResults/analyze-report.png</c> next to a copy of the page,
/// <c>TestResults/analyze-report.html</c>), the DOM holds one histogram plot per
/// layer, and the console logs no error. Skips with a message when Chromium is not installed.
/// </summary>
public sealed class AnalyzeReportChromiumTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("qs-cli-analyze-chromium-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string? Chromium() =>
        new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome" }.FirstOrDefault(File.Exists);

    [Fact]
    public void Report_RendersInHeadlessChromium_WithOnePlotPerLayer_AndNoConsoleErrors()
    {
        if (Chromium() is not { } chromium) { Assert.Fail("chromium is not installed (apt-get install chromium; test.sh installs it)"); return; }
        var (model, images, labels, quant) = AnalyzeCommandTests.CalibratedSetup(_dir);
        string report = Path.Combine(_dir, "report");
        var r = AnalyzeCommandTests.Cli("analyze", "--model", model, "--quant", quant, "--data", images, "--labels", labels, "--output", report);
        Assert.True(r.Code == 0, r.Err);
        int layers;
        using (var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(report, "analysis.json"))))
            layers = doc.RootElement.GetProperty("layers").GetArrayLength();
        string url = new Uri(Path.Combine(report, "index.html")).AbsoluteUri;

        string screenshot = Path.Combine(ArtifactsDirectory(), "analyze-report.png");
        File.Delete(screenshot);
        var shot = Run(chromium, $"--screenshot={screenshot}", "--window-size=1280,2000", url);
        Assert.True(File.Exists(screenshot), $"chromium wrote no screenshot; exit {shot.Code}; stderr: {Tail(shot.Err)}");
        var png = File.ReadAllBytes(screenshot);
        Assert.True(png.Length > 10_000, $"screenshot is only {png.Length} bytes");
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
        output.WriteLine($"screenshot: {screenshot} ({png.Length} bytes)");
        File.Copy(Path.Combine(report, "index.html"), Path.Combine(ArtifactsDirectory(), "analyze-report.html"), overwrite: true);

        var dom = Run(chromium, "--dump-dom", "--enable-logging=stderr", "--v=0", url);
        Assert.True(dom.Code == 0, $"chromium --dump-dom exit {dom.Code}: {Tail(dom.Err)}");
        Assert.Equal(layers, Regex.Matches(dom.Out, "<svg class=\"layer-hist\"").Count);
        Assert.Contains("sensitivity-chart", dom.Out);
        Assert.DoesNotContain("Uncaught", dom.Err);
        Assert.DoesNotContain("ERROR:CONSOLE", dom.Err);
        Assert.DoesNotMatch(new Regex(@"CONSOLE\(\d+\)"), dom.Err);
    }

    [Fact]
    public void ConsoleErrorCheck_SeesAScriptError()
    {
        // The check above is only worth something if a page with an error does show up in the log.
        if (Chromium() is not { } chromium) { Assert.Fail("chromium is not installed"); return; }
        string page = Path.Combine(_dir, "broken.html");
        File.WriteAllText(page, "<!DOCTYPE html><html><body><p>x</p><script>undefinedFunction();</script></body></html>");
        var dom = Run(chromium, "--dump-dom", "--enable-logging=stderr", "--v=0", new Uri(page).AbsoluteUri);
        Assert.Contains("Uncaught", dom.Err);
    }

    private (int Code, string Out, string Err) Run(string chromium, params string[] args)
    {
        var psi = new ProcessStartInfo(chromium)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--disable-extensions",
                     $"--user-data-dir={Path.Combine(_dir, "profile")}" }.Concat(args))
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(90_000))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"chromium {string.Join(' ', args)} did not finish in 90 s");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>TestResults/ at the repository root (next to QuantSharp.slnx), else the temp folder.</summary>
    private static string ArtifactsDirectory()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "QuantSharp.slnx")))
                return Directory.CreateDirectory(Path.Combine(d.FullName, "TestResults")).FullName;
        return Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "TestResults")).FullName;
    }

    private static string Tail(string s) => s.Length > 600 ? s[^600..] : s;
}
