using System.Text.Json;
using System.Text.RegularExpressions;
using QuantSharp.Quantization.Analysis;

namespace QuantSharp.Quantization.Tests.Analysis;

public sealed class AnalysisReportTests : IDisposable
{
    private static readonly Lazy<QuantAnalysis> Escaped = new(() =>
        AnalyzerTestModels.Analyzer(AnalyzerTestModels.Model(fcName: "fc<b>&\"'"), new QuantAnalyzerOptions { Notes = ["note <i>"] }).Analyze());

    private readonly string _dir = Directory.CreateTempSubdirectory("qs-analysis-report-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Html_IsSelfContained_EscapesNames_AndHasOneHistogramPlotPerLayer()
    {
        var a = Escaped.Value;
        string folder = Path.Combine(_dir, "report");
        AnalysisReport.Write(a, folder);
        string html = File.ReadAllText(Path.Combine(folder, AnalysisReport.IndexFile));
        Assert.Equal(a.Layers.Count, Regex.Matches(html, "<svg class=\"layer-hist\"").Count);
        Assert.DoesNotContain("<b>&", html);
        Assert.DoesNotContain("<i>", html);
        Assert.Contains("fc&lt;b&gt;&amp;&quot;&#39;", html);
        Assert.DoesNotContain("<script", html);
        // The FP32 configuration scores +∞ dB here: drawn at the top of the axis and labelled, never a NaN/Infinity coordinate.
        Assert.True(double.IsPositiveInfinity(a.Sensitivity.Fp32.Score));
        Assert.Contains(">∞<", html);
        Assert.DoesNotContain("NaN", html);
        Assert.DoesNotContain("Infinity", html);
        Assert.DoesNotContain("http://", html.Replace("http://www.w3.org/2000/svg", ""));
        Assert.DoesNotContain("https://", html);
        foreach (var cls in new[] { "sensitivity-chart", "per-layer-chart", "mse-chart", "class=\"ranges\"", "class=\"summary\"", "enc-range" })
            Assert.Contains(cls, html);
    }

    [Fact]
    public void JsonAndCsv_HoldTheSameFigures()
    {
        var a = Escaped.Value;
        using var doc = JsonDocument.Parse(AnalysisWriters.Json(a));
        var root = doc.RootElement;
        Assert.Equal(a.Layers.Count, root.GetProperty("layers").GetArrayLength());
        Assert.Equal(a.PerLayer.Count, root.GetProperty("per_layer").GetArrayLength());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("sensitivity").GetProperty("fp32").GetProperty("output_sqnr_db").ValueKind);
        Assert.Equal(a.Sensitivity.Quantized.Score, root.GetProperty("sensitivity").GetProperty("quantized").GetProperty("score").GetDouble());
        Assert.Equal(a.Histograms.Count, root.GetProperty("histograms").GetArrayLength());

        var csv = AnalysisWriters.Csv(a);
        Assert.Equal(AnalysisWriters.CsvFiles.Order(), csv.Keys.Order());
        var perLayer = csv["per_layer_sensitivity.csv"].TrimEnd('\n').Split('\n');
        Assert.Equal(a.PerLayer.Count + 1, perLayer.Length);
        Assert.Contains(perLayer, l => l.StartsWith("\"fc<b>&\"\"'\",Gemm,", StringComparison.Ordinal));
        Assert.Contains("fp32,", csv["sensitivity.csv"]);
        Assert.Contains(",inf", csv["sensitivity.csv"]);
        Assert.Equal(a.Histograms.Sum(h => h.Counts.Count) + 1, csv["histograms.csv"].TrimEnd('\n').Split('\n').Length);
    }

    [Fact]
    public void Write_RefusesAnExistingFolder_ReplacesItWithForce_AndLeavesNoTemporaryFolder()
    {
        var a = Escaped.Value;
        string folder = Path.Combine(_dir, "out");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "old.txt"), "old");
        var e = Assert.Throws<IOException>(() => AnalysisReport.Write(a, folder));
        Assert.Contains("already exists", e.Message);
        Assert.True(File.Exists(Path.Combine(folder, "old.txt")));

        var files = AnalysisReport.Write(a, folder, force: true);
        Assert.False(File.Exists(Path.Combine(folder, "old.txt")));
        Assert.All(files, f => Assert.True(File.Exists(f), f));
        Assert.Equal(2 + AnalysisWriters.CsvFiles.Count, Directory.GetFiles(folder).Length);
        Assert.Equal([folder], Directory.GetDirectories(_dir));
    }
}
