using System.Text.Json;
using QuantSharp.Engine;

namespace QuantSharp.Cli;

/// <summary>Time one node of a model took in ONNX Runtime, summed over the profiled runs.</summary>
/// <param name="Node">The node's name in the graph ONNX Runtime ran (after its fusions, so possibly a fused node).</param>
/// <param name="OpType">Its op type as ONNX Runtime reports it (e.g. QLinearConv).</param>
/// <param name="Microseconds">Total kernel time.</param>
/// <param name="Share">Its fraction of all nodes' time.</param>
public sealed record NodeCost(string Node, string OpType, double Microseconds, double Share);

/// <summary>
/// Where ONNX Runtime spends a model's time: it profiles a few runs (<c>SessionOptions.EnableProfiling</c>, a Chrome trace
/// JSON in a temporary folder that is deleted) and sums the <c>dur</c> of the trace's "Node" events per node.
/// </summary>
public static class OrtProfile
{
    // ORT writes up to three events per node run: "<node>_fence_before", "<node>_kernel_time", "<node>_fence_after".
    private static readonly string[] EventSuffixes = ["_kernel_time", "_fence_before", "_fence_after"];

    /// <summary>Profiles <paramref name="runs"/> runs of <paramref name="modelPath"/> on <paramref name="batch"/>; nodes by decreasing time.</summary>
    /// <exception cref="InvalidOperationException">ONNX Runtime cannot load or run the model (named), or its trace cannot be read.</exception>
    public static IReadOnlyList<NodeCost> Measure(string modelPath, string input, Tensor<float> batch, int runs = 5)
    {
        var dir = Directory.CreateTempSubdirectory("quantsharp-ort-profile-");
        try
        {
            string trace;
            using (var options = OrtCheck.Options())
            {
                // The prefix is handed to ONNX Runtime when profiling is switched on, so it must be set first.
                options.ProfileOutputPathPrefix = Path.Combine(dir.FullName, "ort");
                options.EnableProfiling = true;
                using var session = OrtCheck.Open(modelPath, options);
                using var x = Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(batch.Data, Array.ConvertAll(batch.Shape, d => (long)d));
                using var runOptions = new Microsoft.ML.OnnxRuntime.RunOptions();
                var run = OrtLatency.Runner(session, modelPath, input, x, runOptions);
                for (int i = 0; i < runs; i++) run();
                trace = session.EndProfiling();
            }
            string path = Path.IsPathRooted(trace) ? trace : Path.Combine(dir.FullName, Path.GetFileName(trace));
            if (!File.Exists(path)) path = Directory.EnumerateFiles(dir.FullName, "*.json").FirstOrDefault() ?? path;
            return Parse(File.ReadAllText(path));
        }
        catch (Exception e) when (e is IOException or JsonException)
        {
            throw new InvalidOperationException($"ONNX Runtime's profile of {Path.GetFileName(modelPath)} could not be read: {e.Message}");
        }
        finally { dir.Delete(recursive: true); }
    }

    /// <summary>
    /// The nodes of an ONNX Runtime profile trace (a JSON array of events, or an object with "traceEvents") by decreasing
    /// total time: the <c>dur</c> of every event with <c>cat</c> "Node", grouped by node name (the event name without ORT's
    /// suffix), the op type from <c>args.op_name</c>.
    /// </summary>
    /// <exception cref="JsonException">The text is not such a trace.</exception>
    public static IReadOnlyList<NodeCost> Parse(string traceJson)
    {
        using var doc = JsonDocument.Parse(traceJson);
        var events = doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("traceEvents", out var te) ? te : doc.RootElement;
        if (events.ValueKind != JsonValueKind.Array) throw new JsonException("expected a JSON array of trace events (or an object with \"traceEvents\")");
        var totals = new Dictionary<string, (string Op, double Us)>(StringComparer.Ordinal);
        foreach (var e in events.EnumerateArray())
        {
            if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty("cat", out var cat) || cat.GetString() != "Node") continue;
            string name = e.TryGetProperty("name", out var n) ? n.GetString() ?? "" : "";
            foreach (var suffix in EventSuffixes)
                if (name.EndsWith(suffix, StringComparison.Ordinal)) { name = name[..^suffix.Length]; break; }
            double dur = e.TryGetProperty("dur", out var d) && d.ValueKind == JsonValueKind.Number ? d.GetDouble() : 0;
            string op = e.TryGetProperty("args", out var args) && args.ValueKind == JsonValueKind.Object && args.TryGetProperty("op_name", out var o) ? o.GetString() ?? "" : "";
            var (knownOp, us) = totals.GetValueOrDefault(name, ("", 0));
            totals[name] = (knownOp.Length > 0 ? knownOp : op, us + dur);
        }
        double all = totals.Values.Sum(t => t.Us);
        return totals.Select(kv => new NodeCost(kv.Key, kv.Value.Op, kv.Value.Us, all > 0 ? kv.Value.Us / all : 0))
            .OrderByDescending(c => c.Microseconds).ThenBy(c => c.Node, StringComparer.Ordinal).ToList();
    }
}
