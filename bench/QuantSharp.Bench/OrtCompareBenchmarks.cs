using System.Diagnostics;
using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Onnx.Export;
using QuantSharp.Quantization.Sim;

namespace QuantSharp.Bench;

/// <summary>
/// QuantSharp's forward pass beside ONNX Runtime's (issue 18): every <see cref="CompareModels"/> network at batch 1 and 32,
/// CNNs at 64×64 and 224×224 (only 64×64 with --quick), BERT at sequence 128. ONNX Runtime is the NuGet package in this
/// process, all graph optimizations, 2 intra-op threads, spinning off, on the model as <see cref="OnnxExporter"/> writes it.
/// Three engines — ONNX Runtime FP32, our <see cref="Session"/> FP32, our W8A8 <see cref="QuantizationSimModel"/> (default
/// options and config, calibrated on two random samples, weights quantized once as the CLI's evaluations do) — run in alternating blocks (each block runs one engine for at
/// least 0.2 s, one run minimum) so load from other processes on a shared machine falls on all three alike; the median of
/// every engine's runs is kept. Peak RSS is the process's high-water mark (VmHWM, reset through /proc/self/clear_refs)
/// over one more run of each engine after a full garbage collection; it includes the runtime, the model's weights and
/// ONNX Runtime's sessions. Prints <c>compare_{model}_{size}_b{N}_{ort|fp32|w8a8} ms</c>, the ratios as figures and one
/// Markdown table row per configuration (<c># |</c> lines).
/// </summary>
public sealed class OrtCompareBenchmarks : IBenchmarkSuite
{
    public IEnumerable<Benchmark> Benchmarks()
    {
        foreach (var name in CompareModels.Cnns.Append("bert6"))
            yield return new Benchmark($"compare_{name}", $"{name} forward: ONNX Runtime vs QuantSharp FP32 vs W8A8 sim, batch 1 and 32, peak RSS", c => Model(c, name));
    }

    private static bool _headerPrinted;

    private static void Model(BenchContext ctx, string name)
    {
        if (!_headerPrinted)
        {
            _headerPrinted = true;
            ctx.Note($"CPU: {CpuModel()}, {Environment.ProcessorCount} logical cores; ORT {OrtThreads} intra-op threads, spinning off; medians of alternating blocks");
            ctx.Note("| model | input | batch | ORT ms | FP32 ms | ORT/FP32 | W8A8 ms | W8A8/FP32 | RSS ORT MB | RSS FP32 MB | RSS W8A8 MB |");
            ctx.Note("|---|---|---|---|---|---|---|---|---|---|---|");
        }
        bool bert = name == "bert6";
        int[] sizes = bert ? [0] : ctx.Quick ? [64] : [64, 224];
        foreach (int size in sizes)
        {
            string dir = Path.Combine(Path.GetTempPath(), "quantsharp-bench-models", "compare");
            Directory.CreateDirectory(dir);
            string path = Path.Combine(dir, $"{name}_{size}.onnx");
            OnnxExporter.Save(CompareModels.Build(name, size), path);
            var fp32 = new Session(CompareModels.Build(name, size));
            var sim = new QuantizationSimModel(CompareModels.Build(name, size), new QuantSimOptions());
            sim.ComputeEncodings(s => s.Run(Feeds(Input(bert, size, 2, seed: 2))));
            sim.ReuseQuantizedWeights = true; // as test, run and analyze evaluate a calibrated sim: each weight quantized once
            using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = OrtThreads, InterOpNumThreads = 1 };
            options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
            options.AddSessionConfigEntry("session.inter_op.allow_spinning", "0");
            using var ort = new InferenceSession(path, options);
            foreach (int batch in new[] { 1, 32 })
            {
                var x = Input(bert, size, batch, seed: 3);
                var feeds = Feeds(x);
                using var ortX = OrtValue.CreateTensorValueFromMemory(x.Data, Array.ConvertAll(x.Shape, d => (long)d));
                using var runOptions = new Microsoft.ML.OnnxRuntime.RunOptions();
                string[] inNames = ["input"];
                OrtValue[] inValues = [ortX];
                var outNames = ort.OutputNames;
                Action[] engines =
                [
                    () => { using var r = ort.Run(runOptions, inNames, inValues, outNames); },
                    () => fp32.Run(feeds),
                    () => sim.Run(feeds),
                ];
                var times = engines.Select(_ => new List<double>()).ToArray();
                foreach (var e in engines) e(); // warm-up: first-touch of buffers, JIT, ORT's allocator arena
                foreach (var e in engines) e();
                int blocks = ctx.Quick ? 3 : 5;
                for (int blk = 0; blk < blocks; blk++)
                    for (int e = 0; e < engines.Length; e++)
                    {
                        var clock = Stopwatch.StartNew();
                        do
                        {
                            long t0 = Stopwatch.GetTimestamp();
                            engines[e]();
                            times[e].Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                        } while (clock.Elapsed.TotalSeconds < 0.2);
                    }
                var ms = times.Select(Median).ToArray();
                var rss = engines.Select(Rss.PeakMb).ToArray();
                string key = $"compare_{name}_{(bert ? $"seq{CompareModels.Sequence}" : $"{size}")}_b{batch}";
                ctx.Report(key + "_ort", ms[0], "ms");
                ctx.Report(key + "_fp32", ms[1], "ms");
                ctx.Report(key + "_w8a8", ms[2], "ms");
                ctx.Report(key + "_ort_over_fp32", ms[0] / ms[1], "ratio");
                ctx.Report(key + "_w8a8_over_fp32", ms[2] / ms[1], "ratio");
                string input = bert ? $"seq {CompareModels.Sequence}" : $"{size}×{size}";
                ctx.Note(string.Create(CultureInfo.InvariantCulture,
                    $"| {name} | {input} | {batch} | {ms[0]:F2} | {ms[1]:F2} | {ms[0] / ms[1]:F2} | {ms[2]:F2} | {ms[2] / ms[1]:F2} | {rss[0]:F0} | {rss[1]:F0} | {rss[2]:F0} |"));
            }
        }
        GC.Collect();
    }

    private const int OrtThreads = 2;

    private static Tensor<float> Input(bool bert, int size, int batch, int seed) => bert
        ? Tensor.RandomNormal(new Random(seed), 0f, 1f, batch, CompareModels.Sequence, 768)
        : Tensor.RandomNormal(new Random(seed), 0f, 1f, batch, 3, size, size);

    private static Dictionary<string, Tensor> Feeds(Tensor<float> x) => new() { ["input"] = x };

    private static double Median(List<double> v)
    {
        v.Sort();
        return v.Count % 2 == 1 ? v[v.Count / 2] : (v[v.Count / 2 - 1] + v[v.Count / 2]) / 2;
    }

    private static string CpuModel()
    {
        try
        {
            var lines = File.ReadAllLines("/proc/cpuinfo");
            string Field(string f) => lines.FirstOrDefault(l => l.StartsWith(f, StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?";
            return $"{Field("model name")} (family {Field("cpu family")}, model {Field("model\t")})";
        }
        catch (IOException) { return "unknown CPU"; }
    }
}
