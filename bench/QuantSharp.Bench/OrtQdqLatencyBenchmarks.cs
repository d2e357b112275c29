using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using QuantSharp.Cli;
using QuantSharp.Engine;
using QuantSharp.Onnx.Export;
using QuantSharp.Onnx;
using QuantSharp.Quantization;
using QuantSharp.Quantization.Preparation;
using QuantSharp.Quantization.Sim;
using QuantSharp.Quantization.Zoo;

namespace QuantSharp.Bench;

/// <summary>
/// What QuantSharp's QDQ export buys in ONNX Runtime (issue 14): torchvision-architecture ResNet-18 and MobileNetV2
/// (<see cref="ResNet18"/>, <see cref="MobileNetV2"/>; random weights, 1000 classes, 3×224×224) are prepared (BN folded),
/// quantized W8A8 by the sim (tf scheme, default config, calibrated on 4 random images), exported as FP32 + QDQ ONNX, and
/// timed in ONNX Runtime (all optimizations) at batch 1 and 32 with <see cref="OrtLatency"/> — both in the same run, turn
/// by turn, three rounds. Prints the median round's <c>ort_qdq_latency_{net}_b{N}_{fp32|qdq} ms</c> and <c>…_speedup ×</c>,
/// <c>…_speedup_fastest_runs ×</c> (fastest FP32 run over fastest QDQ run, the figure least moved by other processes on a
/// shared machine) and the rounds' spread, then as notes the op types of the
/// graph ONNX Runtime actually runs (its optimized model, <c>SessionOptions.OptimizedModelFilePath</c>) for both models — whether
/// QDQ pairs became QLinearConv/QLinearMatMul or stayed DequantizeLinear → Conv — and the QDQ model's costliest nodes at
/// batch 1 (<see cref="OrtProfile"/>). The models (also the FP32 one before BN folding) and 32 random images (images.npy) stay
/// in /tmp/quantsharp-bench-models/ort_qdq_{net}/ for trying the CLI on them.
/// </summary>
public sealed class OrtQdqLatencyBenchmarks : IBenchmarkSuite
{
    public IEnumerable<Benchmark> Benchmarks()
    {
        yield return new Benchmark("ort_qdq_latency", "ONNX Runtime FP32 vs QDQ latency, torchvision ResNet-18 and MobileNetV2, 224×224, batch 1 and 32",
            c =>
            {
                Run(c, "resnet18", () => ResNet18.Build(seed: 1));
                Run(c, "mobilenetv2", () => MobileNetV2.Build(seed: 1));
            });
    }

    private static void Run(BenchContext c, string net, Func<Graph> build)
    {
        string dir = Path.Combine(Path.GetTempPath(), "quantsharp-bench-models", $"ort_qdq_{net}");
        Directory.CreateDirectory(dir);
        var graph = build();
        OnnxExporter.Save(graph, Path.Combine(dir, $"{net}_fp32_bn.onnx"));
        Npy.Write(Path.Combine(dir, "images.npy"), Tensor.RandomNormal(new Random(3), 0f, 1f, 32, 3, 224, 224));
        ModelPreparer.Prepare(graph);
        var sim = new QuantizationSimModel(graph, new QuantSimOptions { QuantScheme = QuantScheme.PostTrainingTf });
        var calibration = Tensor.RandomNormal(new Random(2), 0f, 1f, 4, 3, 224, 224);
        sim.ComputeEncodings(s => s.Run(new Dictionary<string, Tensor> { ["input"] = calibration }));
        var files = sim.Export(dir, net);
        string fp32 = files.Single(f => f.EndsWith(net + ".onnx", StringComparison.Ordinal));
        string qdq = files.Single(f => f.EndsWith("_qdq.onnx", StringComparison.Ordinal));

        // Several rounds: on a shared machine one round's medians can be far off; the median round and the spread are reported.
        int[] batches = c.Quick ? [1] : [1, 32];
        var rounds = Enumerable.Range(0, c.Quick ? 1 : 3).Select(_ => OrtLatency.Compare(fp32, qdq, "input", calibration, batches)).ToList();
        for (int i = 0; i < batches.Length; i++)
        {
            var rs = rounds.Select(r => r[i]).OrderBy(r => r.Speedup).ToList();
            var r = rs[rs.Count / 2];
            c.Report($"ort_qdq_latency_{net}_b{r.Batch}_fp32", r.Fp32Ms, "ms");
            c.Report($"ort_qdq_latency_{net}_b{r.Batch}_qdq", r.QdqMs, "ms");
            c.Report($"ort_qdq_latency_{net}_b{r.Batch}_speedup", r.Speedup, "×");
            c.Report($"ort_qdq_latency_{net}_b{r.Batch}_speedup_fastest_runs", rs.Min(x => x.Fp32MinMs) / rs.Min(x => x.QdqMinMs), "×");
            c.Note(string.Create(CultureInfo.InvariantCulture, $"{net} batch {r.Batch}: {rounds.Count} rounds of {string.Join("/", rs.Select(x => x.Runs))} runs of each, {OrtCheck.Threads} threads; " +
                $"speedup of the rounds {string.Join(", ", rs.Select(x => x.Speedup.ToString("F2", CultureInfo.InvariantCulture)))}; fastest runs FP32 {rs.Min(x => x.Fp32MinMs):F3} ms, QDQ {rs.Min(x => x.QdqMinMs):F3} ms"));
        }
        var written = OnnxModel.Load(qdq);
        c.Note($"{net} QDQ model as written: {OpCounts(written)}");
        foreach (var n in new[] { written.Graph.Nodes.First(n => n.OpType == "Conv"), written.Graph.Nodes.First(n => n.OpType == "Gemm") })
            c.Note($"{net} QDQ as written: {n.OpType} '{n.Name}' ({string.Join(", ", n.Inputs)})");
        c.Note($"{net} FP32 as ONNX Runtime runs it: {OpCounts(Optimized(fp32, dir))}");
        var optimizedQdq = Optimized(qdq, dir);
        c.Note($"{net} QDQ as ONNX Runtime runs it: {OpCounts(optimizedQdq)}");
        foreach (var n in optimizedQdq.Graph.Nodes.Where(n => n.OpType is "DequantizeLinear" or "QuantizeLinear" or "Gemm" or "Conv" or "MatMul"))
            c.Note($"{net} QDQ left unfused: {n.OpType} '{n.Name}' ({string.Join(", ", n.Inputs)}) → {string.Join(", ", n.Outputs)}");
        var nodes = OrtProfile.Measure(qdq, "input", OrtLatency.Tile(calibration, 1));
        foreach (var n in nodes.Take(8))
            c.Note(string.Create(CultureInfo.InvariantCulture, $"{net} QDQ batch 1 costliest: {n.Share * 100,5:F1}%  {n.OpType,-22} {n.Node}"));
        foreach (var (op, share) in nodes.GroupBy(n => n.OpType).Select(g => (g.Key, g.Sum(n => n.Share))).OrderByDescending(g => g.Item2))
            c.Note(string.Create(CultureInfo.InvariantCulture, $"{net} QDQ batch 1 time by op: {op} {share * 100:F1}%"));
    }

    /// <summary>The model ONNX Runtime builds from <paramref name="model"/> with all optimizations, as it saves it.</summary>
    private static OnnxModel Optimized(string model, string dir)
    {
        string path = Path.Combine(dir, Path.GetFileNameWithoutExtension(model) + ".ort_optimized.onnx");
        using var options = OrtCheck.Options();
        options.OptimizedModelFilePath = path;
        using (OrtCheck.Open(model, options)) { }
        var optimized = OnnxModel.Load(path);
        File.Delete(path);
        return optimized;
    }

    private static string OpCounts(OnnxModel model) =>
        string.Join(", ", model.Graph.Nodes.GroupBy(n => n.Domain.Length > 0 && n.Domain != "ai.onnx" ? $"{n.Domain}.{n.OpType}" : n.OpType)
            .OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key} {g.Count()}"));
}
