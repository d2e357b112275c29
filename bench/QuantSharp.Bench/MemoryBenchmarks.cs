using System.Globalization;
using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Quantization.Sim;

namespace QuantSharp.Bench;

/// <summary>
/// Peak memory of repeated forward passes (issue 18: <c>quantsharp test</c> of MobileNetV2 224×224 at batch 100 peaked at
/// 13.7 GB): <c>memory_mobilenetv2_224_b{N}_{fp32|w8a8}_peak_rss MB</c> is the process's high-water mark over four runs of
/// the FP32 session, then of the W8A8 sim, on the same random batch, each measured after a full collection with the mark
/// reset (/proc/self/clear_refs); the notes add the buffer pool's counters and the size of the batch itself.
/// </summary>
public sealed class MemoryBenchmarks : IBenchmarkSuite
{
    public IEnumerable<Benchmark> Benchmarks()
    {
        foreach (int batch in new[] { 32, 100 })
            yield return new Benchmark($"memory_mobilenetv2_224_b{batch}", $"peak RSS of MobileNetV2 224×224 forward passes at batch {batch}", c => Run(c, batch));
    }

    private static void Run(BenchContext ctx, int batch)
    {
        var graph = CompareModels.Build("mobilenetv2", 224);
        var fp32 = new Session(graph);
        var sim = new QuantizationSimModel(CompareModels.Build("mobilenetv2", 224), new QuantSimOptions());
        sim.ComputeEncodings(s => s.Run(new Dictionary<string, Tensor> { ["input"] = Tensor.RandomNormal(new Random(2), 0f, 1f, 2, 3, 224, 224) }));
        var feeds = new Dictionary<string, Tensor> { ["input"] = Tensor.RandomNormal(new Random(3), 0f, 1f, batch, 3, 224, 224) };
        ctx.Note(string.Create(CultureInfo.InvariantCulture, $"batch {batch}: the input alone is {batch * 3 * 224 * 224 * 4 / 1048576.0:F0} MB; baseline RSS {Rss.CurrentMb():F0} MB"));
        foreach (var (name, run, session) in new (string, Action, Session)[]
                 { ("fp32", () => fp32.Run(feeds), fp32), ("w8a8", () => sim.Run(feeds), sim.Session) })
        {
            double peak = Rss.PeakMb(() => { for (int i = 0; i < 4; i++) run(); });
            ctx.Report($"memory_mobilenetv2_224_b{batch}_{name}_peak_rss", peak, "MB");
            var (reused, allocated, retained) = session.BufferStatistics;
            var (live, held) = session.BufferPeaks;
            ctx.Note(string.Create(CultureInfo.InvariantCulture, $"{name}: pool reused {reused}, allocated {allocated}, retained {retained / 1048576.0:F0} MB between runs; largest live set {live / 1048576.0:F0} MB, pool held at most {held / 1048576.0:F0} MB; GC heap {GC.GetTotalMemory(false) / 1048576.0:F0} MB"));
            session.ClearBuffers(); // the next engine's runs are measured on their own
        }
    }
}

/// <summary>Resident-set figures of this process from /proc (Linux); NaN elsewhere.</summary>
internal static class Rss
{
    /// <summary>The peak resident set over <paramref name="run"/>, in MB, measured after a full collection with the mark reset.</summary>
    public static double PeakMb(Action run)
    {
        try
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            File.WriteAllText("/proc/self/clear_refs", "5");
            run();
            return StatusMb("VmHWM:");
        }
        catch (IOException) { return double.NaN; }
        catch (UnauthorizedAccessException) { return double.NaN; }
    }

    /// <summary>The current resident set in MB.</summary>
    public static double CurrentMb()
    {
        try { return StatusMb("VmRSS:"); }
        catch (IOException) { return double.NaN; }
    }

    private static double StatusMb(string field)
    {
        var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith(field, StringComparison.Ordinal));
        return double.Parse(line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
    }
}
