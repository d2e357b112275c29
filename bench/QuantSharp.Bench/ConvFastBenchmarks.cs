using System.Diagnostics;
using System.Globalization;
using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;

namespace QuantSharp.Bench;

/// <summary>
/// Implicit-GEMM convolution figures (<see cref="ConvImplicitGemm"/>): forward GFLOPS and backward (input + weight
/// gradients) time, with PyTorch 1.13 (bench/reference/torch_convfast.py, 2 threads) measured afterwards in a separate
/// block under --compare, and the ratios (above 1 = QuantSharp faster): against NCHW tensors (the same layout and call)
/// and, as the stricter reference, against channels_last tensors (oneDNN's own layout, no reorders).
/// </summary>
public sealed class ConvFastBenchmarks : IBenchmarkSuite
{
    public IEnumerable<Benchmark> Benchmarks()
    {
        yield return new("convfast_fwd_32x64x56x56_k3", "Implicit-GEMM conv [32,64,56,56]x[64,64,3,3] pad 1 forward",
            ctx => Forward(ctx, "convfast_fwd_32x64x56x56_k3", "convfast_fwd_vs_torch", new Shape(32, 64, 64, 1)));
        yield return new("convfast_bwd_32x64x56x56_k3", "Implicit-GEMM conv [32,64,56,56]x[64,64,3,3] pad 1 input + weight gradients",
            ctx => Backward(ctx, "convfast_bwd", "_32x64x56x56_k3", new Shape(32, 64, 64, 1)));
        yield return new("convfast_batch1_fwd_1x64x56x56_k3", "Implicit-GEMM conv [1,64,56,56]x[64,64,3,3] pad 1 forward (parallel GEMM)",
            ctx => Forward(ctx, "convfast_batch1_fwd_1x64x56x56_k3", "convfast_batch1_fwd_vs_torch", new Shape(1, 64, 64, 1)));
        yield return new("convfast_stride2_fwd_32x64x56x56_k3s2", "Implicit-GEMM conv [32,64,56,56]x[128,64,3,3] stride 2 pad 1 forward",
            ctx => Forward(ctx, "convfast_stride2_fwd_32x64x56x56_k3s2", "convfast_stride2_fwd_vs_torch", new Shape(32, 64, 128, 2)));
        yield return new("convfast_stride2_bwd_32x64x56x56_k3s2", "Implicit-GEMM conv [32,64,56,56]x[128,64,3,3] stride 2 pad 1 input + weight gradients",
            ctx => Backward(ctx, "convfast_stride2_bwd", "_32x64x56x56_k3s2", new Shape(32, 64, 128, 2)));
    }

    private const int H = 56, W = 56, K = 3;

    /// <summary>Suffix of the torch figures on channels_last tensors (oneDNN's native layout: no NCHW reorders around the conv).</summary>
    private const string ChannelsLast = "_channels_last";

    /// <summary>
    /// Median seconds after a warm-up of at least 12 calls and 0.5 s. Calls that return a fresh large result keep
    /// landing on never-touched memory (a page fault per 4 KiB) until the GC has collected a few times and reuses its
    /// large-object space; the steady state of repeated inference comes only after that.
    /// </summary>
    private static double Steady(BenchContext ctx, Action action)
    {
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < 12 || clock.Elapsed.TotalSeconds < 0.5; i++) action();
        return ctx.MedianSeconds(action, warmup: 0);
    }

    private sealed record Shape(int N, int C, int M, int Stride);

    private static (Tensor<float> X, Tensor<float> Wt, ConvParams P) Case(Shape s)
    {
        var rng = new Random(1);
        return (Tensor.RandomNormal(rng, 0, 1, s.N, s.C, H, W), Tensor.RandomNormal(rng, 0, 1, s.M, s.C, K, K),
            ConvParams.Uniform(2, stride: s.Stride, pad: 1));
    }

    private static void Forward(BenchContext ctx, string name, string ratioName, Shape s)
    {
        var (x, w, p) = Case(s);
        int[] outShape = p.OutputShape(x.Dims, w.Dims);
        double flops = 2.0 * s.N * s.M * s.C * K * K * outShape[2] * outShape[3];
        double ours = flops / Steady(ctx, () => ConvImplicitGemm.Forward(x, w, null, p)) / 1e9;
        ctx.Report(name, ours, "GFLOPS");
        // The same kernel writing into a preallocated output (no fresh result tensor, page faults or GC).
        var dest = new Tensor<float>(outShape);
        ctx.Report(name + "_into", flops / Steady(ctx, () => ConvImplicitGemm.Forward(x, w, null, p, dest)) / 1e9, "GFLOPS");
        if (!ctx.Compare) return;
        var torch = RunTorch(ctx, [name, name + ChannelsLast]);
        if (torch.TryGetValue(name, out double t))
        {
            ctx.Note($"torch {name} {Format(t)} GFLOPS (NCHW, the layout of these kernels)");
            ctx.Report(ratioName, ours / t, "ratio");
        }
        if (torch.TryGetValue(name + ChannelsLast, out double tc))
        {
            ctx.Note($"torch {name}{ChannelsLast} {Format(tc)} GFLOPS (oneDNN without layout reorders)");
            ctx.Report(ratioName + ChannelsLast, ours / tc, "ratio");
        }
    }

    private static void Backward(BenchContext ctx, string prefix, string suffix, Shape s)
    {
        var (x, w, p) = Case(s);
        var gy = Tensor.RandomNormal(new Random(2), 0, 1, p.OutputShape(x.Dims, w.Dims));
        double both = 1e3 * Steady(ctx, () =>
        {
            ConvImplicitGemm.BackwardData(gy, w, x.Dims, p);
            ConvImplicitGemm.BackwardWeight(x, gy, w.Dims, p);
        });
        ctx.Report(prefix + suffix, both, "ms");
        double data = 1e3 * Steady(ctx, () => ConvImplicitGemm.BackwardData(gy, w, x.Dims, p));
        ctx.Report(prefix + "_data" + suffix, data, "ms");
        double weight = 1e3 * Steady(ctx, () => ConvImplicitGemm.BackwardWeight(x, gy, w.Dims, p));
        ctx.Report(prefix + "_weight" + suffix, weight, "ms");
        if (!ctx.Compare) return;
        string[] names = [prefix + suffix, prefix + "_data" + suffix, prefix + "_weight" + suffix];
        double[] ours = [both, data, weight];
        string[] ratios = [prefix + "_vs_torch", prefix + "_data_vs_torch", prefix + "_weight_vs_torch"];
        var torch = RunTorch(ctx, [.. names, .. names.Select(n => n + ChannelsLast)]);
        foreach (string layout in new[] { "", ChannelsLast })
            for (int i = 0; i < names.Length; i++)
            {
                if (!torch.TryGetValue(names[i] + layout, out double t)) continue;
                ctx.Note($"torch {names[i]}{layout} {Format(t)} ms{(layout.Length == 0 ? " (NCHW)" : " (oneDNN without layout reorders)")}");
                ctx.Report(ratios[i] + layout, t / ours[i], "ratio");
            }
    }

    private static string Format(double v) => v.ToString("F3", CultureInfo.InvariantCulture);

    /// <summary>Runs bench/reference/torch_convfast.py for the given figures in one subprocess (after our own timings).</summary>
    private static Dictionary<string, double> RunTorch(BenchContext ctx, string[] names)
    {
        var result = new Dictionary<string, double>();
        string script = FindScript();
        if (!File.Exists("/usr/bin/python3") || script.Length == 0)
        {
            ctx.Note("torch reference skipped: /usr/bin/python3 or bench/reference/torch_convfast.py not found");
            return result;
        }
        var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(script);
        if (ctx.Quick) psi.ArgumentList.Add("--quick");
        foreach (var n in names) psi.ArgumentList.Add(n);
        psi.Environment.Remove("OPENBLAS_CORETYPE"); // the environment's Haswell setting halves the reference
        using var proc = Process.Start(psi)!;
        var stderrTask = proc.StandardError.ReadToEndAsync();
        string stdout = proc.StandardOutput.ReadToEnd();
        proc.WaitForExit();
        foreach (var line in stdout.Split('\n'))
        {
            var parts = line.Trim().Split(' ');
            if (parts.Length == 3 && double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double v))
                result[parts[0]] = v;
        }
        if (result.Count < names.Length)
            ctx.Note($"torch reference incomplete (exit {proc.ExitCode}: {stderrTask.Result.Trim().Split('\n').LastOrDefault()})");
        return result;
    }

    private static string FindScript()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string path = Path.Combine(dir.FullName, "bench", "reference", "torch_convfast.py");
            if (File.Exists(path)) return path;
        }
        return "";
    }
}
