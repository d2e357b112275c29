using System.Diagnostics;
using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using QuantSharp.Engine;
using QuantSharp.Quantization.Analysis;
using QuantSharp.Engine.Runtime;
using QuantSharp.Onnx.Import;
using QuantSharp.Quantization.Export;

namespace QuantSharp.Cli;

/// <summary>
/// <c>quantsharp deploy --quant OUT/ --output DEP/</c>: writes <c>model.onnx</c> (FP32), <c>model.encodings</c> (AIMET
/// 1.0.0), <c>model_0.6.1.encodings</c> and <c>model_qdq.onnx</c> (QuantizeLinear/DequantizeLinear), then runs the QDQ
/// model and the simulation on the calibration samples kept by <c>calib</c> — in QuantSharp's engine, in ONNX Runtime as
/// written (against the float simulation) and with all graph optimizations (its integer fusions, against the integer-exact
/// simulation, <see cref="Quantization.Sim.IntegerSimulation"/>) — and fails unless every output agrees within one quantization step in all
/// (ONNX Runtime rejecting the model fails too, naming ONNX Runtime's message). The folder appears only when everything was written and checked (<see cref="OutputFolder"/>).
/// Then (unless <c>--no-latency</c>) it times both models in ONNX Runtime at batch 1 and at calib's batch size
/// (<see cref="OrtLatency"/>) and prints the speedup; where the QDQ model is slower it says so and names the QDQ model's
/// costliest nodes from an ONNX Runtime profile (<see cref="OrtProfile"/>).
/// QuantSharp targets ONNX runtimes (ONNX Runtime, TensorRT); it writes no vendor binary (Vitis AI's xmodel).
/// </summary>
public static class DeployCommand
{
    /// <summary>Nodes named when the QDQ model is slower than FP32.</summary>
    public const int SlowNodesShown = 5;

    /// <summary>Runs the command; returns the largest sim-vs-QDQ difference seen.</summary>
    /// <exception cref="InvalidOperationException">The QDQ model disagrees with the simulation (nothing is written).</exception>
    public static double Execute(string quantDir, string outputDir, string? json, TextWriter stdout, bool force = false, bool latency = true)
    {
        var total = Stopwatch.StartNew();
        CliPaths.CheckFileToWrite("--json", json);
        var sim = CalibRecord.LoadSim(quantDir, stdout);
        CliPaths.CheckSeparate("--output", outputDir, "--quant", quantDir);
        using var output = OutputFolder.Begin(outputDir, force);
        // An image model's samples are one .npy; a model fed named inputs has an .npz of them.
        string namedSamplesPath = Path.Combine(quantDir, CalibCommand.NamedSamplesFile);
        bool namedSamples = File.Exists(namedSamplesPath);
        string samplesPath = namedSamples ? namedSamplesPath : Path.Combine(quantDir, CalibCommand.SamplesFile);
        List<string> files = [];
        var checks = new List<Dictionary<string, object?>>();
        var ortChecks = new List<Dictionary<string, object?>>();
        double worst = 0;
        int checkedSamples = 0;
        IReadOnlyList<LatencyRow> latencyRows = [];
        IReadOnlyList<NodeCost> slowNodes = [];
        LatencyRow? slowest = null;
        string? latencySkipped = latency ? null : "--no-latency", latencyFailure = null;
        var seconds = CliProgress.Run(stdout, p =>
        {
            p.Step("export", "export FP32 ONNX + encodings + QDQ ONNX", () =>
            {
                files = sim.Export(output.Temp, "model").ToList();
                string legacy = Path.Combine(output.Temp, "model_0.6.1.encodings");
                EncodingsJson.Save(sim.ToEncodingsFile(), legacy, EncodingsFormat.V0_6_1);
                files.Add(legacy);
            });
            string qdqFile = files.Single(f => f.EndsWith("_qdq.onnx", StringComparison.Ordinal));
            if (!File.Exists(samplesPath))
            {
                p.Step("ort", "load the QDQ model in ONNX Runtime (all optimizations)", () => OrtCheck.Load(qdqFile));
                latencySkipped ??= $"no {CalibCommand.SamplesFile} in '{quantDir}' to time the models on";
                return;
            }
            // The samples and the simulation's outputs on them, shared by both checks.
            Dictionary<string, Tensor> sampleFeeds;
            string input = "";
            if (namedSamples)
            {
                sampleFeeds = QuantSharp.Data.Npz.Read(samplesPath).ToDictionary(a => a.Name, a => a.Value, StringComparer.Ordinal);
                input = sampleFeeds.Keys.First();
            }
            else
            {
                var samples = Npy.Read<float>(samplesPath);
                input = CalibCommand.SingleInput(sim.Model, quantDir);
                sampleFeeds = new Dictionary<string, Tensor> { [input] = samples };
            }
            checkedSamples = sampleFeeds.Values.First().Dims[0];
            // Padded positions of a sequence model's outputs are read by nothing: the checks skip them (PaddingMask).
            string? maskInput = PaddingMask.InputOf(sim.Model);
            RunResult? expected = null, integerExpected = null;
            Quantization.Sim.IntegerSimulation? integer = null;
            p.Step("check", "check QDQ model against the simulation (float and integer-exact)", () =>
            {
                var qdq = new Session(OnnxImporter.Load(qdqFile));
                var feeds = sampleFeeds;
                expected = sim.Run(feeds);
                // What ONNX Runtime's fused integer kernels compute, for the check at all optimizations.
                integer = sim.ToIntegerSimulation();
                integerExpected = integer.Run(feeds);
                var actual = qdq.Run(feeds);
                foreach (var o in qdq.Graph.Outputs)
                {
                    var e = expected.Output(o.Name);
                    var a = actual.Output(o.Name);
                    double diff = MaxAbsDiff(e, a, PaddingMask.Valid(maskInput, feeds, e.Dims));
                    double step = OutputStep(sim, o.Name, e);
                    worst = Math.Max(worst, diff);
                    checks.Add(new() { ["output"] = o.Name, ["max_abs_diff"] = diff, ["step"] = step, ["ok"] = diff <= step * 1.0001 });
                    if (diff > step * 1.0001)
                        throw new InvalidOperationException($"deploy check failed: QDQ model output '{o.Name}' differs from the simulation by {diff:G4} (more than one quantization step, {step:G4}); nothing was written to '{outputDir}'");
                }
            });
            p.Step("ort", "run the QDQ model in ONNX Runtime (as written, then all optimizations) against the simulation", () =>
            {
                var feeds = sampleFeeds;
                foreach (var level in new[] { GraphOptimizationLevel.ORT_DISABLE_ALL, GraphOptimizationLevel.ORT_ENABLE_ALL })
                {
                    Dictionary<string, Tensor<float>> ort;
                    try { ort = OrtCheck.RunFeeds(qdqFile, feeds, level); }
                    catch (InvalidOperationException e) { throw new InvalidOperationException($"deploy check failed: {e.Message.TrimEnd(';', ' ')}; nothing was written to '{outputDir}'"); }
                    bool optimized = level == GraphOptimizationLevel.ORT_ENABLE_ALL;
                    foreach (var (name, a) in ort)
                    {
                        // As written, ONNX Runtime computes what the float simulation computes; with its fusions it runs
                        // integer kernels, which the integer-exact simulation reproduces bit for bit on quantized tensors.
                        var e = (optimized ? integerExpected! : expected!).Output(name);
                        bool quantized = IsQuantized(sim, name);
                        double step = OutputStep(sim, name, e), diff = MaxAbsDiff(e, a, PaddingMask.Valid(maskInput, feeds, e.Dims));
                        double? agreement = e.Rank == 2 && e.Dims[1] > 1 ? ArgMaxAgreement(e, a) : null;
                        // Held: the quantized outputs of the fused model, within one step of the integer-exact sim (which
                        // equals ONNX Runtime bit for bit where both fuse alike). Reported only: the model as written against
                        // the float sim, and float outputs — float accumulation in another order flips a level near a tie,
                        // and a deep network carries that on by several steps (measured: 2–5 steps on ResNet-18/MobileNetV2).
                        // A float op before it (e.g. an unfused Gemm) rounds in ONNX Runtime's own order: reported only, naming it.
                        var floatOps = optimized ? integer!.FloatComputeUpstreamOf(name).Select(n => $"{n.OpType} '{n.Name}'").ToList() : [];
                        bool held = optimized && quantized && floatOps.Count == 0;
                        bool ok = !held || diff <= step * 1.0001;
                        ortChecks.Add(new() { ["output"] = name, ["level"] = optimized ? "all" : "none", ["reference"] = optimized ? "integer-exact sim" : "sim",
                            ["max_abs_diff"] = diff, ["steps"] = quantized ? diff / step : null, ["bit_exact"] = diff == 0,
                            ["argmax_agreement"] = agreement, ["held"] = held, ["float_ops_upstream"] = floatOps, ["ok"] = ok });
                        if (!ok)
                            throw new InvalidOperationException($"deploy check failed: in ONNX Runtime ({(optimized ? "all optimizations" : "no optimizations")}) the QDQ model's output '{name}' differs from the {(optimized ? "integer-exact " : "")}simulation by {diff:G4}, more than one quantization step ({step:G4}); nothing was written to '{outputDir}'");
                    }
                }
            });
            if (latencySkipped is not null) return;
            p.Step("latency", "time the FP32 and QDQ models in ONNX Runtime", () =>
            {
                string fp32File = files.Single(f => Path.GetFileName(f) == CalibCommand.ModelFile);
                // Timing is a report, not a check: a model ONNX Runtime cannot time leaves the deployment as it is.
                try
                {
                    latencyRows = OrtLatency.Compare(fp32File, qdqFile, sampleFeeds, LatencyBatches(sim.Model, input, quantDir));
                    slowest = latencyRows.Where(r => r.QdqSlower).OrderBy(r => r.Speedup).FirstOrDefault();
                    // A few runs are enough to rank the nodes; slow models get fewer (about two seconds in all).
                    if (slowest is not null)
                        slowNodes = OrtProfile.Measure(qdqFile, OrtLatency.Tile(sampleFeeds, slowest.Batch), Math.Clamp((int)(2000 / slowest.QdqMs), 3, 8))
                            .Take(SlowNodesShown).ToList();
                }
                catch (InvalidOperationException e) { latencyFailure = e.Message; }
            });
        });
        output.Commit();
        var final = files.Select(output.Final).ToList();
        var ci = CultureInfo.InvariantCulture;
        if (checks.Count == 0) stdout.WriteLine($"warning: {samplesPath} is missing; the QDQ model was not checked against the simulation");
        foreach (var c in checks)
            stdout.WriteLine(string.Create(ci, $"check {c["output"]}: max |QDQ − sim| = {c["max_abs_diff"]:G4} (step {c["step"]:G4}) on {checkedSamples} samples: ok"));
        foreach (var c in ortChecks)
            stdout.WriteLine(string.Create(ci, $"ONNX Runtime ({c["level"]} optimizations) {c["output"]}: max |ORT − {c["reference"]}| = {c["max_abs_diff"]:G4}{(c["steps"] is double st ? $" ({st:F2} steps)" : "")}{(c["bit_exact"] is true ? ", bit for bit" : "")}{(c["argmax_agreement"] is double g ? $", argmax agreement {g:P1}" : "")} on {checkedSamples} samples: {(c["held"] is true ? "ok" : c["float_ops_upstream"] is List<string> { Count: > 0 } f ? $"reported (ONNX Runtime computes {string.Join(", ", f.Take(3))}{(f.Count > 3 ? ", …" : "")} in float before it)" : "reported")}"));
        if (checks.Count == 0) stdout.WriteLine("ONNX Runtime loads model_qdq.onnx with all optimizations: ok");
        WriteLatency(stdout, latencyRows, slowest, slowNodes, latencySkipped, latencyFailure);
        foreach (var f in final) stdout.WriteLine($"wrote {f}");
        stdout.WriteLine("target: ONNX runtimes (ONNX Runtime, TensorRT, …) — model_qdq.onnx runs as is; model.onnx + model.encodings is AIMET's export");
        if (json is not null)
        {
            CalibCommand.WriteJson(json, new Dictionary<string, object?>
            {
                ["command"] = "deploy", ["quant"] = quantDir, ["output"] = output.Target, ["files"] = final,
                ["checked"] = checks.Count > 0, ["checked_samples"] = checkedSamples, ["checks"] = checks, ["max_abs_diff_vs_sim"] = worst, ["ort_checks"] = ortChecks,
                ["latency"] = latencyRows.Select(r => new Dictionary<string, object?>
                {
                    ["batch"] = r.Batch, ["fp32_ms"] = r.Fp32Ms, ["qdq_ms"] = r.QdqMs, ["speedup"] = r.Speedup, ["runs"] = r.Runs,
                    ["fp32_min_ms"] = r.Fp32MinMs, ["qdq_min_ms"] = r.QdqMinMs,
                }).ToList(),
                ["latency_threads"] = latencyRows.Count > 0 ? OrtCheck.Threads : null, ["latency_skipped"] = latencySkipped, ["latency_error"] = latencyFailure,
                ["qdq_slower"] = latencyRows.Count > 0 ? slowest is not null : null, ["slow_batch"] = slowest?.Batch,
                ["slow_nodes"] = slowNodes.Select(n => new Dictionary<string, object?>
                {
                    ["node"] = n.Node, ["op_type"] = n.OpType, ["share"] = n.Share, ["ms"] = n.Microseconds / 1000,
                }).ToList(),
                ["export_seconds"] = seconds.GetValueOrDefault("export"), ["check_seconds"] = seconds.GetValueOrDefault("check"),
                ["latency_seconds"] = seconds.GetValueOrDefault("latency"),
                ["total_seconds"] = total.Elapsed.TotalSeconds,
            });
            stdout.WriteLine($"wrote {json}");
        }
        return worst;
    }

    /// <summary>
    /// Batch sizes to time: 1 and the batch size calib used (from its config.json), or only the batch the model's input
    /// fixes.
    /// </summary>
    private static IReadOnlyList<int> LatencyBatches(Graph graph, string input, string quantDir)
    {
        var shape = graph.Inputs.First(i => i.Name == input).Shape;
        if (shape is { Length: > 0 } && shape[0].Value is int fixedBatch) return [fixedBatch];
        return new[] { 1, CalibCommand.RecordedBatchSize(quantDir) ?? 1 }.Distinct().ToList();
    }

    /// <summary>
    /// The latency table; when the QDQ model is slower at some batch, a warning naming those batches and
    /// <paramref name="slowNodes"/>. <paramref name="skipped"/> says why nothing was timed; <paramref name="failure"/> is
    /// ONNX Runtime's error while timing or profiling.
    /// </summary>
    internal static void WriteLatency(TextWriter stdout, IReadOnlyList<LatencyRow> rows, LatencyRow? slowest, IReadOnlyList<NodeCost> slowNodes,
        string? skipped, string? failure = null)
    {
        var ci = CultureInfo.InvariantCulture;
        if (skipped is not null) stdout.WriteLine($"latency: not measured ({skipped})");
        if (failure is not null) stdout.WriteLine($"warning: ONNX Runtime latency {(rows.Count == 0 ? "not measured" : "profile not taken")}: {CommandLineApp.OneLine(failure)}");
        if (rows.Count == 0) return;
        stdout.WriteLine($"ONNX Runtime latency (all optimizations, {OrtCheck.Threads} threads, median of interleaved runs):");
        stdout.WriteLine("  batch    FP32 ms     QDQ ms   speedup");
        foreach (var r in rows)
            stdout.WriteLine(string.Create(ci, $"  {r.Batch,5} {r.Fp32Ms,10:F3} {r.QdqMs,10:F3} {r.Speedup,8:F2}×"));
        if (slowest is null) return;
        var slower = rows.Where(r => r.QdqSlower).Select(r => string.Create(ci, $"batch {r.Batch} ({r.Speedup:F2}×)"));
        stdout.WriteLine($"warning: the QDQ model is slower than FP32 in ONNX Runtime at {string.Join(", ", slower)}; " +
            $"its costliest nodes at batch {slowest.Batch} (ONNX Runtime profile):");
        foreach (var n in slowNodes)
            stdout.WriteLine(string.Create(ci, $"  {n.Share * 100,5:F1}%  {n.OpType,-20} {n.Node}"));
    }

    private static bool IsQuantized(Quantization.Sim.QuantizationSimModel sim, string name) =>
        sim.Quantizers.TryGetValue(name, out var q) && q.Enabled && q.Encoding is { DataType: Quantization.Encodings.EncodingDataType.Int };

    /// <summary>One step of the quantizer on output <paramref name="name"/>, or 1e-5 of its range when it is not quantized.</summary>
    private static double OutputStep(Quantization.Sim.QuantizationSimModel sim, string name, Tensor<float> values) =>
        sim.Quantizers.TryGetValue(name, out var q) && q.Enabled && q.Encoding is { DataType: Quantization.Encodings.EncodingDataType.Int } enc
            ? enc.Scales.Max() : 1e-5 * Math.Max(1, values.Data.Max(v => Math.Abs((double)v)));

    /// <summary>max |e − a| over the positions <paramref name="valid"/> flags (every element when null).</summary>
    private static double MaxAbsDiff(Tensor<float> e, Tensor<float> a, bool[]? valid)
    {
        int inner = valid is null ? 1 : e.Length / valid.Length;
        double diff = 0;
        for (int i = 0; i < e.Length; i++)
            if (valid is null || valid[i / inner]) diff = Math.Max(diff, Math.Abs((double)e.Data[i] - a.Data[i]));
        return diff;
    }

    /// <summary>The share of rows of two [N, C] outputs whose largest entry sits in the same column.</summary>
    private static double ArgMaxAgreement(Tensor<float> a, Tensor<float> b)
    {
        int n = a.Dims[0], c = a.Dims[1], same = 0;
        for (int i = 0; i < n; i++)
        {
            int ia = 0, ib = 0;
            for (int k = 1; k < c; k++)
            {
                if (a.Data[i * c + k] > a.Data[i * c + ia]) ia = k;
                if (b.Data[i * c + k] > b.Data[i * c + ib]) ib = k;
            }
            if (ia == ib) same++;
        }
        return n == 0 ? 1 : (double)same / n;
    }
}
