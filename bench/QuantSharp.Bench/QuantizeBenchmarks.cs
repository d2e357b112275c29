using System.Globalization;
using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;

namespace QuantSharp.Bench;

/// <summary>
/// Affine quantization kernels: fake quantization per tensor (16M floats) and per channel (a 512×512×3×3 weight),
/// quantize to int8 and dequantize, against a plain copy of the same bytes in the same run, and with --compare
/// PyTorch's fake_quantize_per_tensor_affine / fake_quantize_per_channel_affine (2 threads) with ratio lines.
/// Bandwidth counts bytes read + written (fake quantization: 8 bytes per element; GB = 1e9 bytes).
/// </summary>
public sealed class QuantizeBenchmarks : IBenchmarkSuite
{
    private const int N = 16 << 20;

    public IEnumerable<Benchmark> Benchmarks()
    {
        yield return new Benchmark("fakequant_per_tensor_16M", "FakeQuantize of 16M floats, one scale, int8 range; quantize/dequantize int8; copy of the same bytes", PerTensor);
        yield return new Benchmark("fakequant_per_channel_512x512x3x3", "FakeQuantize of a [512,512,3,3] weight with one scale per output channel", PerChannel);
    }

    private static double GBps(double bytes, double seconds) => bytes / seconds / 1e9;

    private static void PerTensor(BenchContext ctx)
    {
        var x = Tensor.RandomUniform(new Random(1), -4, 4, N);
        var y = new Tensor<float>(N);
        var q = new Tensor<sbyte>(N);
        var p = QuantParams.PerTensor(0.05f, 3, -128, 127);
        var src = new float[N];
        var dst = new float[N];
        double tCopy1 = ctx.MedianSeconds(() => src.AsSpan().CopyTo(dst));
        double t = ctx.MedianSeconds(() => QuantizeKernels.FakeQuantize(x, p, y));
        double tAlloc = ctx.MedianSeconds(() => QuantizeKernels.FakeQuantize(x, p));
        double tQ = ctx.MedianSeconds(() => QuantizeKernels.Quantize(x, p, q));
        double tD = ctx.MedianSeconds(() => QuantizeKernels.Dequantize(q, p, y));
        double tCopy2 = ctx.MedianSeconds(() => src.AsSpan().CopyTo(dst));
        // What a fresh output costs by itself: allocate 16M floats and write them once (first-touch page faults).
        double tFresh = ctx.MedianSeconds(() => GC.AllocateUninitializedArray<float>(N).AsSpan().Fill(1f));
        double tCopy = Math.Min(tCopy1, tCopy2);
        double ours = GBps(8.0 * N, t);
        ctx.Report("fakequant_per_tensor_16M", ours, "GB/s");
        ctx.Report("fakequant_per_tensor_16M_alloc", GBps(8.0 * N, tAlloc), "GB/s");
        ctx.Report("quantize_int8_16M", GBps(5.0 * N, tQ), "GB/s");
        ctx.Report("dequantize_int8_16M", GBps(5.0 * N, tD), "GB/s");
        ctx.Report("copy_16M", GBps(8.0 * N, tCopy), "GB/s");
        ctx.Report("fakequant_per_tensor_16M_vs_copy", tCopy / t, "ratio");
        ctx.Note($"fake quantization writes into a preallocated output; '_alloc' allocates it per call (as torch does); {QuantSharp.Engine.Threading.Work.Threads} threads, copy one");
        ctx.Note($"allocating and filling a fresh 16M-float array alone takes {tFresh * 1e3:F1} ms ({GBps(4.0 * N, tFresh):F2} GB/s written): fresh outputs fault their pages in (cost varies a lot run to run with the GC's decommits in this VM), which the '_alloc' figures include");
        if (ctx.Compare && RunReference(ctx, "per_tensor") is { } r)
        {
            if (r.TryGetValue("fakequant_per_tensor_16M", out double torch))
            {
                ctx.Report("fakequant_per_tensor_16M_vs_torch", ours / torch, "ratio");
                ctx.Report("fakequant_per_tensor_16M_alloc_vs_torch", GBps(8.0 * N, tAlloc) / torch, "ratio");
            }
        }
    }

    private static void PerChannel(BenchContext ctx)
    {
        int[] shape = [512, 512, 3, 3];
        var rng = new Random(2);
        var x = Tensor.RandomNormal(rng, 0, 0.1f, shape);
        var y = new Tensor<float>(shape);
        var scale = Enumerable.Range(0, 512).Select(_ => (float)rng.NextDouble() * 0.01f + 0.001f).ToArray();
        var p = QuantParams.PerAxis(scale, new int[512], 0, -127, 127);
        double bytes = 8.0 * x.Length;
        double t = ctx.MedianSeconds(() => QuantizeKernels.FakeQuantize(x, p, y), warmup: 3, runs: ctx.Runs * 3);
        double tAlloc = ctx.MedianSeconds(() => QuantizeKernels.FakeQuantize(x, p), warmup: 3, runs: ctx.Runs * 3);
        double ours = GBps(bytes, t);
        ctx.Report("fakequant_per_channel_512x512x3x3", ours, "GB/s");
        ctx.Report("fakequant_per_channel_512x512x3x3_alloc", GBps(bytes, tAlloc), "GB/s");
        ctx.Note($"{x.Length} floats = {bytes / 1e6:F1} MB moved per call (fits in L3)");
        // Per channel along the last axis of a [K, N] MatMul weight (ONNX QDQ's axis 1): the repeating-pattern path.
        var wt = Tensor.RandomNormal(rng, 0, 0.1f, 4608, 512);
        var yt = new Tensor<float>(4608, 512);
        var pt = QuantParams.PerAxis(scale, new int[512], 1, -127, 127);
        double tLast = ctx.MedianSeconds(() => QuantizeKernels.FakeQuantize(wt, pt, yt), warmup: 3, runs: ctx.Runs * 3);
        ctx.Report("fakequant_per_channel_lastaxis_4608x512", GBps(8.0 * wt.Length, tLast), "GB/s");
        if (ctx.Compare && RunReference(ctx, "per_channel") is { } r && r.TryGetValue("fakequant_per_channel_512x512x3x3", out double torch))
        {
            ctx.Report("fakequant_per_channel_512x512x3x3_vs_torch", ours / torch, "ratio");
            ctx.Report("fakequant_per_channel_512x512x3x3_alloc_vs_torch", GBps(bytes, tAlloc) / torch, "ratio");
        }
    }

    /// <summary>Runs bench/reference/torch_quantize.py (PyTorch, 2 threads, OPENBLAS_CORETYPE unset), prints its lines as notes and returns its figures.</summary>
    private static Dictionary<string, double>? RunReference(BenchContext ctx, string which)
    {
        var figures = PythonReference.Run(ctx, "torch_quantize.py", which);
        if (figures is null) return null;
        foreach (var f in figures) ctx.Note($"torch {f.Name} {f.Value.ToString("G6", CultureInfo.InvariantCulture)} {f.Unit}");
        return figures.ToDictionary(f => f.Name, f => f.Value, StringComparer.Ordinal);
    }
}
