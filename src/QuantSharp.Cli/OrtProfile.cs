using System.Text.Json;
using QuantSharp.Engine;

namespace QuantSharp.Cli;

/// <summary>Time one node of a model took in ONNX Runtime, summed over the profiled runs.</summary>
/// <param name="Node">The node's name in the graph ONNX Runtime ran (after its fusions, so possibly a fused node).</param>
/// <param name="OpType">Its op type as ONNX Runtime reports it (e.g. QLinearConv).</param>
/// <param name="Microseconds">Its time in a run: the median over the profiled runs.</param>
/// <param name="Share">Its fraction of the time of all nodes (each at its median).</param>
public sealed record NodeCost(string Node, string OpType, double Microseconds, double Share);

/// <summary>
/// Where ONNX Runtime spends a model's time: it profiles a few runs (<c>SessionOptions.EnableProfiling</c>, a Chrome trace
/// JSON in a temporary folder that is deleted) and sums the <c>dur</c> of the trace's "Node" events per node and run. A node's
/// time is its median over the runs: the trace starts with the session, so its first run (weights prepacked, threads woken)
/// and runs hit by other processes would otherwise dominate.
/// </summary>
public static class OrtProfile
{
    // ORT writes up to three events per node run: "<node>_fence_before", "<node>_kernel_time", "<node>_fence_after".
    private static readonly string[] EventSuffixes = ["_kernel_time", "_fence_before", "_fence_after"];

    /// <summary>Profiles <paramref name="runs"/> runs of <paramref name="modelPath"/> on <paramref name="batch"/>; nodes by decreasing time.</summary>
    /// <exception cref="InvalidOperationException">ONNX Runtime cannot load or run the model (named), or its trace cannot be read.</exception>
    public static IReadOnlyList<NodeCost> Measure(string modelPath, string input, Tensor<float> batch, int runs = 8) =>
        Measure(modelPath, new Dictionary<string, Tensor> { [input] = batch }, runs);

    /// <summary>As the one-input overload for a model fed named inputs of any element type.</summary>
    /// <exception cref="InvalidOperationException">ONNX Runtime cannot load or run the model (named), or its trace cannot be read.</exception>
    public static IReadOnlyList<NodeCost> Measure(string modelPath, IReadOnlyDictionary<string, Tensor> batch, int runs = 8)
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
                using var feeds = new OrtFeeds(batch);
                using var runOptions = new Microsoft.ML.OnnxRuntime.RunOptions();
                var run = OrtLatency.Runner(session, modelPath, feeds, runOptions);
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

    private static double Median(List<double> values)
    {
        values.Sort();
        int n = values.Count;
        return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
    }

    /// <summary>
    /// The nodes of an ONNX Runtime profile trace (a JSON array of events, or an object with "traceEvents") by decreasing
    /// median time per run. Events with <c>cat</c> "Node" are grouped by node name (the event name without ORT's suffix);
    /// the k-th event of a node with a given suffix belongs to run k, and a run's time is the sum of its events' <c>dur</c>.
    /// The op type is <c>args.op_name</c>.
    /// </summary>
    /// <exception cref="JsonException">The text is not such a trace.</exception>
    public static IReadOnlyList<NodeCost> Parse(string traceJson)
    {
        using var doc = JsonDocument.Parse(traceJson);
        var events = doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("traceEvents", out var te) ? te : doc.RootElement;
        if (events.ValueKind != JsonValueKind.Array) throw new JsonException("expected a JSON array of trace events (or an object with \"traceEvents\")");
        var ops = new Dictionary<string, string>(StringComparer.Ordinal);
        var runs = new Dictionary<string, List<double>>(StringComparer.Ordinal);
        var seen = new Dictionary<(string Node, string Suffix), int>();
        foreach (var e in events.EnumerateArray())
        {
            if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty("cat", out var cat) || cat.GetString() != "Node") continue;
            string name = e.TryGetProperty("name", out var n) ? n.GetString() ?? "" : "";
            string suffix = EventSuffixes.FirstOrDefault(sfx => name.EndsWith(sfx, StringComparison.Ordinal)) ?? "";
            name = name[..^suffix.Length];
            double dur = e.TryGetProperty("dur", out var d) && d.ValueKind == JsonValueKind.Number ? d.GetDouble() : 0;
            string op = e.TryGetProperty("args", out var args) && args.ValueKind == JsonValueKind.Object && args.TryGetProperty("op_name", out var o) ? o.GetString() ?? "" : "";
            if (!ops.TryGetValue(name, out var known) || known.Length == 0) ops[name] = op;
            int run = seen.GetValueOrDefault((name, suffix));
            seen[(name, suffix)] = run + 1;
            if (!runs.TryGetValue(name, out var times)) runs[name] = times = [];
            while (times.Count <= run) times.Add(0);
            times[run] += dur;
        }
        var medians = runs.ToDictionary(kv => kv.Key, kv => Median(kv.Value), StringComparer.Ordinal);
        double all = medians.Values.Sum();
        return medians.Select(kv => new NodeCost(kv.Key, ops[kv.Key], kv.Value, all > 0 ? kv.Value / all : 0))
            .OrderByDescending(c => c.Microseconds).ThenBy(c => c.Node, StringComparer.Ordinal).ToList();
    }
}
