using System.Globalization;
using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;

namespace QuantSharp.Bench;

/// <summary>
/// Pooling and normalization throughput in GB/s of bytes read + written (these kernels are memory-bound), next to a
/// plain copy of the same bytes measured in the same run; with --compare also PyTorch's figures (bench/reference/torch_poolnorm.py).
/// </summary>
public sealed class PoolNormBenchmarks : IBenchmarkSuite
{
    public IEnumerable<Benchmark> Benchmarks()
    {
        yield return new Benchmark("maxpool_3x3s2_32x64x112x112", "MaxPool 3x3 stride 2 pad 1 (ResNet stem), GB/s", MaxPool3x3);
        yield return new Benchmark("maxpool_2x2s2_32x64x112x112", "MaxPool 2x2 stride 2, GB/s", MaxPool2x2);
        yield return new Benchmark("global_avgpool_32x1280x7x7", "GlobalAveragePool (MobileNetV2 head), GB/s", GlobalAvg);
        yield return new Benchmark("batchnorm_inference_32x64x56x56", "BatchNormalization inference, GB/s", BatchNormInference);
        yield return new Benchmark("maxpool_indices_3x3s2_32x64x112x112", "MaxPool 3x3/s2 with Indices (training forward), GB/s", MaxPoolIndices);
        yield return new Benchmark("batchnorm_training_32x64x56x56", "BatchNormalization training forward and backward, ms", BatchNormTraining);
        yield return new Benchmark("layernorm_64x197x768", "LayerNormalization forward (ViT-B shape), GB/s", LayerNormForward);
        yield return new Benchmark("poolnorm_torch", "PyTorch reference figures for the pool/norm benchmarks (--compare; the others note them too)", Torch);
    }

    private static double GBs(long floats, double seconds) => floats * 4.0 / seconds / 1e9;

    private static Dictionary<string, double>? _torch;

    /// <summary>Under --compare: runs the PyTorch script once per process (after our own timings of the first benchmark) and notes its figure and the ratio.</summary>
    private static void CompareWithTorch(BenchContext ctx, string name, double ours, bool higherIsBetter = true)
    {
        if (!ctx.Compare) return;
        _torch ??= RunTorch(ctx);
        if (_torch.TryGetValue("torch_" + name, out double theirs) && theirs > 0)
            ctx.Note($"{name}: PyTorch {theirs.ToString("F3", CultureInfo.InvariantCulture)} in the same run; ours/PyTorch = {(higherIsBetter ? ours / theirs : theirs / ours):F2}x (speed ratio)");
    }

    /// <summary>Reports a plain Array.Copy of <paramref name="readFloats"/> + <paramref name="writeFloats"/> floats' worth of traffic, as the ceiling.</summary>
    private static void CopyCeiling(BenchContext ctx, string name, long readFloats, long writeFloats)
    {
        var src = new float[(readFloats + writeFloats) / 2];
        var dst = new float[src.Length];
        double t = ctx.MedianSeconds(() => Array.Copy(src, dst, src.Length));
        ctx.Note($"{name}: a copy of the same bytes runs at {GBs(2L * src.Length, t).ToString("F1", CultureInfo.InvariantCulture)} GB/s (one thread)");
    }

    private static void MaxPool3x3(BenchContext ctx)
    {
        var x = Tensor.RandomUniform(new Random(1), -1f, 1f, 32, 64, 112, 112);
        var p = new PoolParams([3, 3], [2, 2], [1, 1, 1, 1]);
        var y = Pool.MaxPool(x, p);
        double t = ctx.MedianSeconds(() => Pool.MaxPool(x, p, y));
        ctx.Report("maxpool_3x3s2_32x64x112x112", GBs(x.Length + y.Length, t), "GB/s");
        CompareWithTorch(ctx, "maxpool_3x3s2_32x64x112x112", GBs(x.Length + y.Length, t));
        double ta = ctx.MedianSeconds(() => Pool.MaxPool(x, p));
        ctx.Note($"maxpool_3x3s2: {t * 1e3:F2} ms into a reused output; {ta * 1e3:F2} ms allocating the output each call");
        CopyCeiling(ctx, "maxpool_3x3s2", x.Length, y.Length);
        if (!ctx.Quick)
        {
            var tr = ctx.MedianSeconds(() => PoolReference.MaxPool(x, p), warmup: 0, runs: 1);
            ctx.Note($"maxpool_3x3s2: scalar reference {tr * 1e3:F0} ms ({tr / t:F1}x slower)");
        }
    }

    private static void MaxPool2x2(BenchContext ctx)
    {
        var x = Tensor.RandomUniform(new Random(2), -1f, 1f, 32, 64, 112, 112);
        var p = new PoolParams([2, 2], [2, 2]);
        var y = Pool.MaxPool(x, p);
        double t = ctx.MedianSeconds(() => Pool.MaxPool(x, p, y));
        ctx.Report("maxpool_2x2s2_32x64x112x112", GBs(x.Length + y.Length, t), "GB/s");
        ctx.Note($"maxpool_2x2s2: {t * 1e3:F2} ms");
    }

    private static void GlobalAvg(BenchContext ctx)
    {
        var x = Tensor.RandomUniform(new Random(3), -1f, 1f, 32, 1280, 7, 7);
        double t = ctx.MedianSeconds(() => Pool.GlobalAveragePool(x));
        ctx.Report("global_avgpool_32x1280x7x7", GBs(x.Length + 32 * 1280, t), "GB/s");
        CompareWithTorch(ctx, "global_avgpool_32x1280x7x7", GBs(x.Length + 32 * 1280, t));
        ctx.Note($"global_avgpool: {t * 1e6:F0} us");
        CopyCeiling(ctx, "global_avgpool", x.Length, 32 * 1280);
    }

    private static void BatchNormInference(BenchContext ctx)
    {
        var rng = new Random(4);
        var x = Tensor.RandomUniform(rng, -1f, 1f, 32, 64, 56, 56);
        var scale = Tensor.RandomUniform(rng, 0.5f, 1.5f, 64);
        var bias = Tensor.RandomUniform(rng, -1f, 1f, 64);
        var mean = Tensor.RandomUniform(rng, -0.1f, 0.1f, 64);
        var variance = Tensor.RandomUniform(rng, 0.5f, 1.5f, 64);
        var y = new Tensor<float>(x.Dims);
        double t = ctx.MedianSeconds(() => BatchNorm.Inference(x, scale, bias, mean, variance, 1e-5f, y));
        ctx.Report("batchnorm_inference_32x64x56x56", GBs(2L * x.Length, t), "GB/s");
        CompareWithTorch(ctx, "batchnorm_inference_32x64x56x56", GBs(2L * x.Length, t));
        double ta = ctx.MedianSeconds(() => BatchNorm.Inference(x, scale, bias, mean, variance));
        ctx.Note($"batchnorm_inference: {t * 1e3:F2} ms into a reused output; {ta * 1e3:F2} ms allocating the output each call");
        CopyCeiling(ctx, "batchnorm_inference", x.Length, x.Length);
    }

    private static void MaxPoolIndices(BenchContext ctx)
    {
        var x = Tensor.RandomUniform(new Random(5), -1f, 1f, 32, 64, 112, 112);
        var p = new PoolParams([3, 3], [2, 2], [1, 1, 1, 1]);
        var (y, idx) = Pool.MaxPoolWithIndices(x, p);
        double t = ctx.MedianSeconds(() => Pool.MaxPoolWithIndices(x, p, y, idx));
        // Bytes: input read, float output and int64 indices written.
        ctx.Report("maxpool_indices_3x3s2_32x64x112x112", (x.Length * 4.0 + y.Length * 12.0) / t / 1e9, "GB/s");
        CompareWithTorch(ctx, "maxpool_indices_3x3s2_32x64x112x112", (x.Length * 4.0 + y.Length * 12.0) / t / 1e9);
        ctx.Note($"maxpool_indices_3x3s2: {t * 1e3:F2} ms into reused outputs");
    }

    private static void BatchNormTraining(BenchContext ctx)
    {
        var rng = new Random(6);
        var x = Tensor.RandomUniform(rng, -1f, 1f, 32, 64, 56, 56);
        var gy = Tensor.RandomUniform(rng, -1f, 1f, 32, 64, 56, 56);
        var scale = Tensor.RandomUniform(rng, 0.5f, 1.5f, 64);
        var bias = Tensor.RandomUniform(rng, -1f, 1f, 64);
        var rm = Tensor.Zeros(64);
        var rv = Tensor.Ones(64);
        var r = BatchNorm.Training(x, scale, bias, rm, rv);
        double tf = ctx.MedianSeconds(() => BatchNorm.Training(x, scale, bias, rm, rv));
        double tb = ctx.MedianSeconds(() => BatchNorm.Backward(x, gy, scale, r.SavedMean, r.SavedInvStd, training: true));
        ctx.Report("batchnorm_training_fwd_32x64x56x56", tf * 1e3, "ms");
        ctx.Report("batchnorm_training_bwd_32x64x56x56", tb * 1e3, "ms");
        CompareWithTorch(ctx, "batchnorm_training_fwd_32x64x56x56", tf * 1e3, higherIsBetter: false);
        CompareWithTorch(ctx, "batchnorm_training_bwd_32x64x56x56", tb * 1e3, higherIsBetter: false);
        ctx.Note($"batchnorm_training: forward reads x 3 times and writes y ({GBs(4L * x.Length, tf):F1} GB/s); backward reads x, dy twice and writes dx ({GBs(5L * x.Length, tb):F1} GB/s)");
    }

    private static void LayerNormForward(BenchContext ctx)
    {
        var rng = new Random(7);
        var x = Tensor.RandomUniform(rng, -1f, 1f, 64, 197, 768);
        var scale = Tensor.RandomUniform(rng, 0.5f, 1.5f, 768);
        var bias = Tensor.RandomUniform(rng, -1f, 1f, 768);
        double t = ctx.MedianSeconds(() => LayerNorm.Forward(x, scale, bias));
        ctx.Report("layernorm_64x197x768", GBs(2L * x.Length, t), "GB/s");
        CompareWithTorch(ctx, "layernorm_64x197x768", GBs(2L * x.Length, t));
        ctx.Note($"layernorm: {t * 1e3:F2} ms (allocating outputs)");
    }

    private static void Torch(BenchContext ctx)
    {
        if (!ctx.Compare) { ctx.Note("poolnorm_torch: run with --compare to measure PyTorch"); return; }
        _torch = RunTorch(ctx);
        foreach (var (k, v) in _torch) Console.WriteLine($"{k} {v.ToString("F3", CultureInfo.InvariantCulture)} {(k.Contains("training") ? "ms" : "GB/s")}");
    }

    private static Dictionary<string, double> RunTorch(BenchContext ctx) =>
        (PythonReference.Run(ctx, "torch_poolnorm.py") ?? []).ToDictionary(f => f.Name, f => f.Value);
}
