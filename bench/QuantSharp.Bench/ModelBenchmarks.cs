using System.Diagnostics;
using System.Globalization;
using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Onnx.Import;

namespace QuantSharp.Bench;

/// <summary>
/// Whole-model forward throughput through <see cref="Session"/>: torchvision ResNet-18 and MobileNetV2 at 3×224×224,
/// batch 32, in images/s. The ONNX files are exported (random weights, opset 13, dynamic batch) by
/// bench/reference/torchvision_models.py into a temporary folder; with --compare the same script measures PyTorch 1.13
/// (2 threads, eval, no_grad) in this run. Skipped with a note when /usr/bin/python3 or torchvision is missing.
/// </summary>
public sealed class ModelBenchmarks : IBenchmarkSuite
{
    private const int Batch = 32;

    public IEnumerable<Benchmark> Benchmarks()
    {
        yield return new Benchmark("resnet18_fwd_b32", "torchvision ResNet-18 forward, batch 32, images/s", c => Model(c, "resnet18"));
        yield return new Benchmark("mobilenetv2_fwd_b32", "torchvision MobileNetV2 forward, batch 32, images/s", c => Model(c, "mobilenetv2"));
    }

    private static void Model(BenchContext ctx, string name)
    {
        string? script = Script();
        if (script is null || !File.Exists("/usr/bin/python3")) { ctx.Note($"{name}_fwd_b{Batch} skipped: /usr/bin/python3 or bench/reference/torchvision_models.py not found"); return; }
        string dir = Path.Combine(Path.GetTempPath(), "quantsharp-bench-models");
        string path = Path.Combine(dir, name + ".onnx");
        if (!File.Exists(path))
        {
            var (code, _, err) = Python(script, "export", dir, "--batch", "1");
            if (code != 0 || !File.Exists(path)) { ctx.Note($"{name}_fwd_b{Batch} skipped: export failed (exit {code}): {err.Trim().Split('\n').LastOrDefault()} (is python3-torchvision installed?)"); return; }
        }
        var session = new Session(OnnxImporter.Load(path));
        var x = Tensor.RandomUniform(new Random(1), -1f, 1f, Batch, 3, 224, 224);
        var feeds = new Dictionary<string, Tensor> { [session.RequiredInputs.Single()] = x };
        double t = ctx.MedianSeconds(() => session.Run(feeds), warmup: 2, runs: ctx.Quick ? 3 : 7);
        double ours = Batch / t;
        ctx.Report($"{name}_fwd_b{Batch}", ours, "images/s");
        ctx.Note(string.Create(CultureInfo.InvariantCulture, $"{name}: {t * 1e3:F0} ms per batch of {Batch}"));
        if (!ctx.Quick)
        {
            session.ReuseBuffers = false;
            GC.Collect();
            double tn = ctx.MedianSeconds(() => session.Run(feeds), warmup: 1, runs: 5);
            ctx.Note(string.Create(CultureInfo.InvariantCulture, $"{name}: without the session's buffer pool {Batch / tn:F1} images/s"));
            session.ReuseBuffers = true;
        }
        if (!ctx.Compare) return;
        Thread.Sleep(500);
        var (rc, stdout, stderr) = Python(script, "bench", "--batch", Batch.ToString(CultureInfo.InvariantCulture), "--runs", ctx.Quick ? "3" : "7", "--only", name);
        var line = stdout.Split('\n').FirstOrDefault(l => l.StartsWith($"{name}_fwd_b{Batch} ", StringComparison.Ordinal));
        if (rc != 0 || line is null) { ctx.Note($"torch reference skipped (exit {rc}): {stderr.Trim().Split('\n').LastOrDefault()}"); return; }
        double torch = double.Parse(line.Split(' ')[1], CultureInfo.InvariantCulture);
        ctx.Note(string.Create(CultureInfo.InvariantCulture, $"torch {name}_fwd_b{Batch} {torch:F2} images/s; QuantSharp/PyTorch = {ours / torch:F2}x"));
    }

    private static (int Code, string Stdout, string Stderr) Python(params string[] args)
    {
        var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment.Remove("OPENBLAS_CORETYPE"); // the environment's Haswell setting slows the reference
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output, err.Result);
    }

    private static string? Script()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "QuantSharp.slnx"))) dir = dir.Parent;
        string? path = dir is null ? null : Path.Combine(dir.FullName, "bench", "reference", "torchvision_models.py");
        return path is not null && File.Exists(path) ? path : null;
    }
}
