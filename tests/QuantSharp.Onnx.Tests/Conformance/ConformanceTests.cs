using System.Text;
using QuantSharp.Engine.Runtime;
using Xunit.Abstractions;

namespace QuantSharp.Onnx.Tests.Conformance;

/// <summary>
/// The ONNX backend conformance suite (Debian package <c>libonnx-testdata</c>) run through <see cref="Session"/>.
/// A folder is skipped when an op is not in <see cref="OpRegistry.Default"/> at the model's opset or when its
/// interface uses a data type the engine does not hold (strings, float16, maps). The summary also goes to
/// <c>TestResults/onnx-conformance.txt</c> at the repository root (<c>./test.sh</c> prints it).
/// </summary>
[Trait("Category", "OnnxConformance")]
public class ConformanceTests(ITestOutputHelper output)
{
    private const string Root = "/usr/share/libonnx-testdata/data";
    private static readonly string[] Suites = ["node", "simple", "pytorch-converted", "pytorch-operator"];

    [Fact]
    public void BackendTestData_SupportedOps_MatchExpectedOutputs()
    {
        if (!Directory.Exists(Root)) Assert.Fail($"{Root} is absent: the conformance suite cannot run (Debian package libonnx-testdata; test.sh installs it)");
        var results = new List<CaseResult>();
        foreach (var suite in Suites)
        {
            string dir = Path.Combine(Root, suite);
            if (!Directory.Exists(dir)) continue;
            foreach (var folder in Directory.GetDirectories(dir).Order(StringComparer.Ordinal))
                if (File.Exists(Path.Combine(folder, "model.onnx")))
                    results.Add(ConformanceRunner.Run(suite, folder, OpRegistry.Default));
        }
        Assert.True(results.Count > 0, $"{Root} holds no model.onnx under {string.Join(", ", Suites)}: the conformance suite ran nothing");

        var summary = new StringBuilder();
        foreach (var suite in Suites)
            summary.AppendLine(Line($"onnx-conformance[{suite}]", results.Where(r => r.Suite == suite).ToList()));
        summary.AppendLine(Line("onnx-conformance", results));
        var detail = new StringBuilder();
        foreach (var r in results.Where(r => r.Outcome != CaseOutcome.Passed))
            detail.AppendLine($"  {r.Outcome} {r.Suite}/{r.Name}: {r.Detail}{(KnownFailures.Entries.TryGetValue($"{r.Suite}/{r.Name}", out var why) ? $" [known: {why}]" : "")}");
        foreach (var r in results.OrderByDescending(r => r.Seconds).Take(5))
            detail.AppendLine($"  slowest: {r.Suite}/{r.Name} {r.Seconds:F2} s");
        output.WriteLine(summary.ToString());
        output.WriteLine(detail.ToString());
        WriteSummaryFile(summary + detail.ToString());

        var unexpected = results.Where(r => r.Outcome == CaseOutcome.Failed && !KnownFailures.Entries.ContainsKey($"{r.Suite}/{r.Name}")).ToList();
        Assert.True(unexpected.Count == 0, $"{unexpected.Count} conformance failures:\n" + string.Join("\n", unexpected.Select(r => $"{r.Suite}/{r.Name}: {r.Detail}")));
    }

    private static string Line(string label, List<CaseResult> rs) =>
        $"{label}: {rs.Count(r => r.Outcome == CaseOutcome.Passed)} passed, {rs.Count(r => r.Outcome == CaseOutcome.PassedRandom)} passed (random: shape/type/domain checked), {rs.Count(r => r.Outcome == CaseOutcome.Failed)} failed, "
        + $"{rs.Count(r => r.Outcome == CaseOutcome.SkippedUnsupportedOp)} skipped (unsupported op), {rs.Count(r => r.Outcome == CaseOutcome.SkippedUnsupportedType)} skipped (unsupported data type)";

    private static void WriteSummaryFile(string text)
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "QuantSharp.slnx"))) dir = dir.Parent;
        if (dir is null) return;
        string results = Path.Combine(dir.FullName, "TestResults");
        Directory.CreateDirectory(results);
        File.WriteAllText(Path.Combine(results, "onnx-conformance.txt"), text);
    }
}
