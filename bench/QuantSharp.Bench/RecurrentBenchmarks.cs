using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;
using QuantSharp.Engine.Runtime;

namespace QuantSharp.Bench;

/// <summary>
/// A two-layer bidirectional LSTM (input 128, hidden 128, seq 100, batch 8) as torch.onnx.export lays it out
/// (LSTM → Transpose → Reshape → LSTM) run through <see cref="Session"/>: forward time, and forward + BPTT of one layer
/// through the kernel (the gradient rule recomputes the forward pass).
/// </summary>
public sealed class RecurrentBenchmarks : IBenchmarkSuite
{
    public IEnumerable<Benchmark> Benchmarks()
    {
        yield return new Benchmark("lstm", "2-layer bidirectional LSTM, hidden 128, seq 100, batch 8: Session forward and one layer's backward", Run);
    }

    private const int Seq = 100, Batch = 8, Input = 128, Hidden = 128;

    private static void Run(BenchContext ctx)
    {
        var rng = new Random(1);
        var b = new GraphBuilder("lstm2", opset: 14);
        var x = b.Input("x", DataType.Float32, Dim.Fixed(Seq), Dim.Fixed(Batch), Dim.Fixed(Input));
        Value layerInput = x;
        for (int layer = 0; layer < 2; layer++)
        {
            int inSize = layer == 0 ? Input : 2 * Hidden;
            var w = b.Initializer($"W{layer}", Tensor.RandomUniform(rng, -0.1f, 0.1f, 2, 4 * Hidden, inSize));
            var r = b.Initializer($"R{layer}", Tensor.RandomUniform(rng, -0.1f, 0.1f, 2, 4 * Hidden, Hidden));
            var bias = b.Initializer($"B{layer}", Tensor.RandomUniform(rng, -0.1f, 0.1f, 2, 8 * Hidden));
            var outs = b.Op("LSTM", [layerInput, w, r, bias], 3, $"lstm{layer}", "",
                ("hidden_size", AttributeValue.FromInt(Hidden)), ("direction", AttributeValue.FromString("bidirectional")));
            // Y [seq, 2, batch, hidden] → [seq, batch, 2·hidden] for the next layer.
            var t = b.Op1("Transpose", [outs[0]], null, ("perm", AttributeValue.FromInts(0L, 2L, 1L, 3L)));
            var shape = b.Initializer($"shape{layer}", Tensor.FromArray(new long[] { Seq, Batch, 2 * Hidden }, 3));
            layerInput = b.Op1("Reshape", [t, shape]);
        }
        b.Output(layerInput);
        var session = new Session(b.Build());
        var feed = new Dictionary<string, Tensor> { ["x"] = Tensor.RandomUniform(rng, -1f, 1f, Seq, Batch, Input) };
        double forward = ctx.SteadyMedianSeconds(() => session.Run(feed));
        ctx.Report("lstm.2layer-bidir.h128-seq100-b8.forward", forward * 1e3, "ms");
        // On a shared machine wall time includes waiting for a core; process CPU time per run shows the work itself.
        var process = System.Diagnostics.Process.GetCurrentProcess();
        var cpu0 = process.TotalProcessorTime;
        for (int i = 0; i < ctx.Runs; i++) session.Run(feed);
        process.Refresh();
        ctx.Report("lstm.2layer-bidir.h128-seq100-b8.forward-cpu", (process.TotalProcessorTime - cpu0).TotalMilliseconds / ctx.Runs, "ms");

        var attributes = new RecurrentAttributes { Cell = RecurrentCell.Lstm, Direction = RecurrentDirection.Bidirectional, HiddenSize = Hidden };
        var inputs = new RecurrentInputs((Tensor<float>)feed["x"], (Tensor<float>)session.Graph.Initializers["W0"], (Tensor<float>)session.Graph.Initializers["R0"],
            (Tensor<float>)session.Graph.Initializers["B0"]);
        var gy = Tensor.RandomUniform(rng, -1f, 1f, Seq, 2, Batch, Hidden);
        double backward = ctx.MedianSeconds(() => Recurrent.Backward(attributes, inputs, gy, null, null), warmup: 1, runs: 3);
        ctx.Report("lstm.1layer-bidir.h128-seq100-b8.backward", backward * 1e3, "ms");
        double layerForward = ctx.SteadyMedianSeconds(() => Recurrent.Forward(attributes, inputs));
        ctx.Report("lstm.1layer-bidir.h128-seq100-b8.forward", layerForward * 1e3, "ms");
        double flops = 2.0 * Seq * Batch * 2 * 4 * Hidden * (Input + Hidden);
        ctx.Note($"one layer: {flops / 1e9:F2} GFLOP of GEMM → {flops / layerForward / 1e9:F1} GFLOP/s forward; backward (recompute + BPTT) {backward / layerForward:F1}x forward");
    }
}
