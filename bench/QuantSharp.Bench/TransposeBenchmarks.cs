using System.Diagnostics;
using QuantSharp.Engine;
using QuantSharp.Engine.Threading;

namespace QuantSharp.Bench;

/// <summary>
/// Transpose throughput (GB/s = bytes read + written per second) for the fast paths (matrix swap, batched swap,
/// NCHW↔NHWC) and a generic permutation, allocating the output (like PyTorch's contiguous()) and into a preallocated one, next to a plain parallel copy of the same bytes and, with
/// --compare, PyTorch's permute(...).contiguous() measured by bench/reference/transpose_ref.py.
/// </summary>
public sealed class TransposeBenchmarks : IBenchmarkSuite
{
    public IEnumerable<Benchmark> Benchmarks()
    {
        yield return new Benchmark("transpose", "Transpose fast paths vs copy bandwidth (and PyTorch with --compare)", Run);
        yield return new Benchmark("manip", "Slice, Concat, Pad, Gather, Expand, Tile, Cast throughput vs copy bandwidth", RunManip);
    }

    /// <summary>Moved-bytes throughput (output written + input read) of the other manipulation ops on [32,64,56,56]-sized data.</summary>
    private static void RunManip(BenchContext ctx)
    {
        var rng = new Random(2);
        var x = Tensor.RandomUniform(rng, -1, 1, 32, 64, 56, 56);
        var half = Tensor.RandomUniform(rng, -1, 1, 32, 32, 56, 56);
        var table = Tensor.RandomUniform(rng, -1, 1, 50000, 256);
        var ids = new Tensor<long>(65536);
        for (int i = 0; i < ids.Length; i++) ids.Data[i] = rng.Next(50000);
        var bias = Tensor.RandomUniform(rng, -1, 1, 64, 1, 1);
        var y = new float[x.Length];
        double copy = ctx.MedianSeconds(() => Work.For(x.Length, 1 << 18, (a, b) => x.Data.AsSpan(a, b - a).CopyTo(y.AsSpan(a, b - a))));
        double copyGbs = 2.0 * x.Length * 4 / copy / 1e9;
        ctx.Report("copy.32x64x56x56", copyGbs, "GB/s");
        void Case(string name, long bytes, Action op)
        {
            double s = ctx.MedianSeconds(op);
            double gbs = bytes / s / 1e9;
            ctx.Report(name, gbs, "GB/s");
            ctx.Note($"{name}: {s * 1e3:F2} ms, {gbs / copyGbs:F2}x copy bandwidth");
        }
        long n = x.Length;
        Case("slice.step2-hw", 2 * n / 4 * 4, () => TensorOps.Slice(x, [0, 0], [56, 56], [2, 3], [2, 2]));
        Case("concat.axis1", 4 * n * 2, () => TensorOps.Concat([half, half], 1));
        Case("split.axis1", 4 * n * 2, () => TensorOps.Split(x, 1, 2));
        Case("pad.reflect-hw1", 4 * (n + 32L * 64 * 58 * 58), () => TensorOps.Pad(x, [0, 0, 1, 1, 0, 0, 1, 1], PadMode.Reflect));
        Case("pad.backward-constant", 4 * (n + 32L * 64 * 58 * 58), () => TensorOps.PadBackward(TensorOps.Pad(x, [0, 0, 1, 1, 0, 0, 1, 1]), x.Dims, [0, 0, 1, 1, 0, 0, 1, 1]));
        Case("gather.rows-65536x256", 2 * 4L * 65536 * 256, () => TensorOps.Gather(table, ids));
        Case("expand.bias-to-64x56x56", 4L * 64 * 56 * 56, () => TensorOps.Expand(bias, [64, 56, 56]));
        Case("expand.backward-bias", 4 * n, () => TensorOps.ExpandBackward(x, [64, 1, 1]));
        Case("tile.2x", 4 * n * 2, () => TensorOps.Tile(half, [1, 2, 1, 1]));
        Case("cast.float-to-int", 8 * n, () => TensorOps.Cast<int>(x));
    }

    private static readonly (string Name, int[] Shape, int[] Perm)[] Cases =
    [
        ("transpose.swap2d.4096x4096", [4096, 4096], [1, 0]),
        ("transpose.batch-swap.64x256x256", [64, 256, 256], [0, 2, 1]),
        ("transpose.nchw-to-nhwc.32x64x56x56", [32, 64, 56, 56], [0, 2, 3, 1]),
        ("transpose.nhwc-to-nchw.32x56x56x64", [32, 56, 56, 64], [0, 3, 1, 2]),
        ("transpose.generic.32x64x56x56-perm3120", [32, 64, 56, 56], [3, 1, 2, 0]),
    ];

    private static void Run(BenchContext ctx)
    {
        var rng = new Random(1);
        double copyGbs = 0;
        {
            var x = Tensor.RandomUniform(rng, -1, 1, 32, 64, 56, 56);
            var y = new float[x.Length];
            double s = ctx.MedianSeconds(() => Work.For(x.Length, 1 << 18, (a, b) => x.Data.AsSpan(a, b - a).CopyTo(y.AsSpan(a, b - a))));
            copyGbs = 2.0 * x.Length * 4 / s / 1e9;
            ctx.Report("copy.32x64x56x56", copyGbs, "GB/s");
        }
        foreach (var (name, shape, perm) in Cases)
        {
            var x = Tensor.RandomUniform(rng, -1, 1, shape);
            var y = new Tensor<float>(TensorOps.TransposeShape(x.Dims, perm));
            double si = ctx.MedianSeconds(() => TensorOps.TransposeInto(x, y, perm));
            double s = ctx.MedianSeconds(() => TensorOps.Transpose(x, perm));
            double gbs = 2.0 * x.Length * 4 / s / 1e9, gbsi = 2.0 * x.Length * 4 / si / 1e9;
            ctx.Report(name, gbs, "GB/s");
            ctx.Report(name + ".into", gbsi, "GB/s");
            ctx.Note($"{name}: {s * 1e3:F2} ms allocating, {si * 1e3:F2} ms into a preallocated output = {gbsi / copyGbs:F2}x copy bandwidth");
        }
        if (ctx.Compare) PythonReference.Print(ctx, "transpose_ref.py");
    }
}
