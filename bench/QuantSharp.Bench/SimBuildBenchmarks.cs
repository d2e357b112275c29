using System.Diagnostics;
using System.Globalization;
using QuantSharp.Engine;
using QuantSharp.Quantization;
using QuantSharp.Quantization.Export;
using QuantSharp.Quantization.Sim;

namespace QuantSharp.Bench;

/// <summary>
/// Graph-pass cost on a large graph: <c>sim_build_5k_nodes</c> = seconds to build a <see cref="QuantizationSimModel"/>
/// (quantizer placement and insertion, session compile) plus lowering it to a QDQ graph, for a 5,000-node residual
/// network of small convolutions (1,250 blocks of Conv → Relu → Conv → Add). Calibration (one tiny forward pass) is
/// not timed. Target: under 2 s; graph passes must stay linear in the graph size.
/// </summary>
public sealed class SimBuildBenchmarks : IBenchmarkSuite
{
    public IEnumerable<Benchmark> Benchmarks()
    {
        yield return new Benchmark("sim_build_5k_nodes", "build QuantizationSimModel + QDQ lowering, 5,000-node graph", c => Run(c, 1250));
    }

    /// <summary>A residual chain of <paramref name="blocks"/> blocks of 4 nodes each on [1, 8, 8, 8].</summary>
    internal static Graph ResidualChain(int blocks)
    {
        var rng = new Random(7);
        var b = new GraphBuilder("chain");
        var x = b.Input("x", DataType.Float32, Dim.Fixed(1), Dim.Fixed(8), Dim.Fixed(8), Dim.Fixed(8));
        for (int i = 0; i < blocks; i++)
        {
            var h = b.Relu(b.ConvLayer(x, 8, 8, 3, rng, $"block{i}.conv1", padding: 1), name: $"block{i}.relu");
            x = b.Add(b.ConvLayer(h, 8, 8, 3, rng, $"block{i}.conv2", padding: 1), x, name: $"block{i}.add");
        }
        b.Output(x);
        return b.Build();
    }

    private static void Run(BenchContext ctx, int blocks)
    {
        var graph = ResidualChain(blocks);
        var input = new Dictionary<string, Tensor> { ["x"] = Tensor.RandomUniform(new Random(1), 0f, 1f, 1, 8, 8, 8) };
        double build = 0, lower = 0;
        int runs = ctx.Quick ? 2 : 5;
        var builds = new List<double>();
        var lowers = new List<double>();
        for (int r = 0; r < runs + 1; r++)
        {
            var sw = Stopwatch.StartNew();
            var sim = new QuantizationSimModel(graph, new QuantSimOptions { QuantScheme = QuantScheme.PostTrainingTf });
            double tb = sw.Elapsed.TotalSeconds;
            sim.ComputeEncodings(s => s.Run(input));
            sw.Restart();
            var qdq = QdqExport.Lower(sim.Model, sim.ActiveEncoding);
            double tl = sw.Elapsed.TotalSeconds;
            if (r == 0) continue; // warm-up (JIT)
            builds.Add(tb);
            lowers.Add(tl);
            if (qdq.Nodes.Count < graph.Nodes.Count) throw new InvalidOperationException("the QDQ graph lost nodes");
        }
        build = builds.Order().ElementAt(builds.Count / 2);
        lower = lowers.Order().ElementAt(lowers.Count / 2);
        ctx.Report("sim_build_5k_nodes", build + lower, "s");
        ctx.Note(string.Create(CultureInfo.InvariantCulture,
            $"{graph.Nodes.Count} nodes: sim build {build:F3} s, QDQ lowering {lower:F3} s (medians of {runs}; target total < 2 s)"));
    }
}
