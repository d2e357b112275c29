using QuantSharp.Engine;
using QuantSharp.Engine.Autograd;
using QuantSharp.Engine.Kernels;
using QuantSharp.Engine.Runtime;

namespace QuantSharp.Engine.Tests.Runtime;

/// <summary>
/// The graph path (op table + Session) and the eager path (Ops on Variables) share the tensor kernels and gradient
/// rules; these tests prove they compute the same outputs and the same parameter gradients on a small CNN.
/// </summary>
public class SessionVersusEagerTests
{
    private static (Engine.Graph Graph, Dictionary<string, Tensor<float>> Params) SmallNet()
    {
        var rng = new Random(3);
        var b = new GraphBuilder("small");
        var x = b.Input("x", DataType.Float32, Dim.Symbolic("n"), Dim.Fixed(2), Dim.Fixed(8), Dim.Fixed(8));
        var h = b.ConvLayer(x, 2, 4, 3, rng, "conv1", stride: 1, padding: 1);
        h = b.Relu(b.BatchNormLayer(h, 4, "bn1"));
        h = b.MaxPool(h, [2, 2], [2, 2]);
        h = b.ConvLayer(h, 4, 4, 3, rng, "dw", padding: 1, group: 4);
        h = b.Sigmoid(h);
        var logits = b.LinearLayer(b.Flatten(h), 4 * 4 * 4, 3, rng, "fc");
        b.Output(b.LogSoftmax(logits), name: "logp");
        var g = b.Build();
        // Non-trivial batch-norm statistics so the inference formula matters.
        var mean = (Tensor<float>)g.Initializers["bn1.running_mean"];
        var variance = (Tensor<float>)g.Initializers["bn1.running_var"];
        for (int c = 0; c < 4; c++) { mean.Data[c] = 0.1f * c - 0.1f; variance.Data[c] = 0.5f + 0.25f * c; }
        var ps = g.Initializers.Where(kv => kv.Value is Tensor<float>).ToDictionary(kv => kv.Key, kv => (Tensor<float>)kv.Value);
        return (g, ps);
    }

    private static Variable Eager(Dictionary<string, Variable> p, Tensor<float> input, Dictionary<string, Tensor<float>> raw)
    {
        var h = Ops.Conv(new Variable(input), p["conv1.weight"], p["conv1.bias"], ConvParams.Uniform(2, pad: 1));
        h = Ops.BatchNorm(h, p["bn1.weight"], p["bn1.bias"], raw["bn1.running_mean"], raw["bn1.running_var"], training: false, momentum: 0.9f, eps: 1e-5f);
        h = Ops.MaxPool(Ops.Relu(h), new PoolParams([2, 2], [2, 2]));
        h = Ops.Sigmoid(Ops.Conv(h, p["dw.weight"], p["dw.bias"], ConvParams.Uniform(2, pad: 1, groups: 4)));
        return Ops.LogSoftmax(Ops.Linear(Ops.Flatten(h), p["fc.weight"], p["fc.bias"]));
    }

    [Fact]
    public void ForwardAndGradients_MatchEagerAutograd()
    {
        var (graph, raw) = SmallNet();
        var input = Tensor.RandomNormal(new Random(5), 0, 1, 3, 2, 8, 8);
        var session = new Session(graph);
        var run = session.Run(new Dictionary<string, Tensor> { ["x"] = input }, new RunOptions { KeepForBackward = true });
        var seed = Tensor.RandomUniform(new Random(6), -1, 1, 3, 3);
        var graphGrads = session.Backward(run, new Dictionary<string, Tensor<float>> { ["logp"] = seed });

        var vars = raw.ToDictionary(kv => kv.Key, kv => new Variable(kv.Value.Clone(), requiresGrad: true, name: kv.Key));
        var eager = Eager(vars, input, raw);
        eager.Backward(seed);

        AssertClose(eager.Data, run.Output("logp"), 1e-5f);
        foreach (var name in new[] { "conv1.weight", "conv1.bias", "bn1.weight", "bn1.bias", "dw.weight", "dw.bias", "fc.weight", "fc.bias" })
            AssertClose(vars[name].Grad!, graphGrads[name], 1e-4f, name);
        Assert.Equal(input.Shape, graphGrads["x"].Shape);
    }

    [Fact]
    public void TrainingRun_UpdatesBatchNormRunningStatistics()
    {
        var (graph, raw) = SmallNet();
        var before = raw["bn1.running_mean"].Clone();
        var session = new Session(graph);
        session.Run(new Dictionary<string, Tensor> { ["x"] = Tensor.RandomNormal(new Random(1), 2, 1, 4, 2, 8, 8) }, new RunOptions { Training = true });
        Assert.NotEqual(before.Data, raw["bn1.running_mean"].Data);
    }

    private static void AssertClose(Tensor<float> expected, Tensor<float> actual, float tol, string what = "output")
    {
        Assert.Equal(expected.Shape, actual.Shape);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected.Data[i] - actual.Data[i]) <= tol * (1 + Math.Abs(expected.Data[i])),
                $"{what}[{i}]: eager {expected.Data[i]} vs graph {actual.Data[i]}");
    }
}
