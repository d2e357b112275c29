using System.Diagnostics;
using QuantSharp.Engine;
using QuantSharp.Quantization.Config;
using QuantSharp.Quantization.MixedPrecision;
using QuantSharp.Quantization.Sim;

namespace QuantSharp.Bench;

/// <summary>
/// Post-training quantization of a 6-layer BERT (the compare suite's BERT-base layers, sequence 128, random weights):
/// calibration of the W8A8 per-channel sim on 256 samples, and automatic mixed precision on that sim (issue 15: the AMP
/// search with 256 samples takes at most 10 minutes on 2 cores). Each is timed once: these are minutes-long jobs, not
/// kernels. --quick uses 32 samples.
/// </summary>
public sealed class BertPtqBenchmarks : IBenchmarkSuite
{
    public IEnumerable<Benchmark> Benchmarks()
    {
        yield return new Benchmark("bert6_calib_256", "Calibrate the W8A8 per-channel sim of a 6-layer BERT (seq 128) on 256 samples, batch 16", Calibrate);
        yield return new Benchmark("amp_search_bert6", "Calibrate on 256 samples, then AutoMixedPrecision (16 measurement samples, 10 % limit)", AmpSearch);
    }

    private static (QuantizationSimModel Sim, List<IReadOnlyDictionary<string, Tensor>> Batches, double Seconds) Calibrated(BenchContext ctx)
    {
        var graph = CompareModels.Build("bert6", 0);
        int samples = ctx.Quick ? 32 : 256, batch = 16;
        var rng = new Random(3);
        var batches = Enumerable.Range(0, samples / batch)
            .Select(_ => (IReadOnlyDictionary<string, Tensor>)new Dictionary<string, Tensor> { ["input"] = Tensor.RandomNormal(rng, 0f, 1f, batch, CompareModels.Sequence, 768) })
            .ToList();
        var sim = new QuantizationSimModel(graph, new QuantSimOptions { Config = QuantizerConfig.PerChannel });
        var watch = Stopwatch.StartNew();
        sim.ComputeEncodings(s => { foreach (var b in batches) s.Run(b); });
        return (sim, batches, watch.Elapsed.TotalSeconds);
    }

    private static void Calibrate(BenchContext ctx)
    {
        var (sim, batches, seconds) = Calibrated(ctx);
        ctx.Report("bert6_calib_256", seconds, "s");
        ctx.Note($"{batches.Count * 16} samples of [128, 768], {sim.Quantizers.Values.Count(q => q.Enabled)} quantizers enabled");
    }

    private static void AmpSearch(BenchContext ctx)
    {
        var (sim, batches, calibSeconds) = Calibrated(ctx);
        var watch = Stopwatch.StartNew();
        var report = AutoMixedPrecision.Run(sim, [batches[0]], new AmpOptions());
        double seconds = watch.Elapsed.TotalSeconds;
        ctx.Report("amp_search_bert6", seconds, "s");
        ctx.Report("amp_search_bert6_with_calibration", seconds + calibSeconds, "s");
        ctx.Note(report.ToString());
    }
}
