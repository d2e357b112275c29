using System.Globalization;
using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;

namespace QuantSharp.Bench;

/// <summary>
/// Where a <see cref="CompareModels"/> network's forward time goes in <see cref="Session"/> (its <see cref="NodeProfile"/>):
/// <c>profile_{model}_b{N}</c> runs the FP32 model at 64×64 (BERT at sequence 128) a few times and prints the time per
/// op type and the costliest nodes, to pick what to speed up next against ONNX Runtime.
/// </summary>
public sealed class ProfileBenchmarks : IBenchmarkSuite
{
    public IEnumerable<Benchmark> Benchmarks()
    {
        foreach (var name in CompareModels.Cnns.Append("bert6"))
            foreach (int batch in new[] { 1, 32 })
                yield return new Benchmark($"profile_{name}_b{batch}", $"{name} FP32 per-op time, batch {batch}", c => Profile(c, name, batch));
    }

    private static void Profile(BenchContext ctx, string name, int batch)
    {
        bool bert = name == "bert6";
        int size = bert ? 0 : int.TryParse(Environment.GetEnvironmentVariable("QUANTSHARP_PROFILE_SIZE"), out int s) ? s : 64;
        var session = new Session(CompareModels.Build(name, size));
        var x = bert ? Tensor.RandomNormal(new Random(3), 0f, 1f, batch, CompareModels.Sequence, 768)
            : Tensor.RandomNormal(new Random(3), 0f, 1f, batch, 3, size, size);
        var feeds = new Dictionary<string, Tensor> { ["input"] = x };
        for (int i = 0; i < 3; i++) session.Run(feeds);
        var profile = new NodeProfile();
        session.Profile = profile;
        int runs = ctx.Quick ? 3 : 10;
        for (int i = 0; i < runs; i++) session.Run(feeds);
        session.Profile = null;
        var rows = profile.Entries;
        double total = rows.Sum(e => e.Seconds);
        ctx.Report($"profile_{name}_{size}_b{batch}_ms_per_run", 1e3 * total / runs, "ms");
        foreach (var g in rows.GroupBy(e => e.OpType).Select(g => (Op: g.Key, Sec: g.Sum(e => e.Seconds), Count: g.Count())).OrderByDescending(g => g.Sec))
            ctx.Note(string.Create(CultureInfo.InvariantCulture, $"{name} b{batch} by op: {g.Op,-20} {1e3 * g.Sec / runs,9:F2} ms {g.Sec / total,6:P1}  ({g.Count} nodes)"));
        foreach (var e in rows.Take(12))
            ctx.Note(string.Create(CultureInfo.InvariantCulture, $"{name} b{batch} node: {e.OpType,-20} {1e3 * e.Seconds / runs,9:F3} ms {e.Seconds / total,6:P1}  {e.Node}"));
    }
}
