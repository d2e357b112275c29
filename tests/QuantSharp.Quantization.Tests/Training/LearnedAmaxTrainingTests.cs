using QuantSharp.Engine;
using QuantSharp.Engine.Autograd;
using QuantSharp.Engine.Autograd.Optimizers;
using QuantSharp.Engine.Runtime;
using QuantSharp.Engine.Training;
using QuantSharp.Quantization.Modules;
using QuantSharp.Quantization.Quantizers;
using Xunit.Abstractions;
using static QuantSharp.Quantization.Tests.Modules.ModuleGraphs;

namespace QuantSharp.Quantization.Tests.Training;

/// <summary>
/// pytorch-quantization's QAT with learned amax: assigning amax starts the learned value (<c>init_learn_amax</c>), and
/// training a quantized graph with <see cref="GraphTrainer"/> — or eagerly with the autograd optimizers — updates the
/// learned ranges, including one on the graph input (where no weight lies upstream).
/// </summary>
public class LearnedAmaxTrainingTests(ITestOutputHelper output)
{
    private static readonly QuantDescriptor Learned = new(learnAmax: true);

    // x [N,4] → fc1 (Gemm, W [6,4]) → Relu → fc2 (Gemm, W [3,6]) → logits [N,3]; every Gemm input has a learned amax.
    private static QuantizedGraph Mlp()
    {
        var b = new GraphBuilder("mlp");
        var x = b.Input("x", DataType.Float32, Dim.Symbolic("N"), Dim.Fixed(4));
        var h = b.Gemm(x, b.Initializer("fc1.w", Uniform(1, -0.8f, 0.8f, 6, 4)), b.Initializer("fc1.b", Uniform(2, -0.1f, 0.1f, 6)),
            transB: true, name: "fc1");
        h = b.Relu(h, name: "relu1");
        h = b.Gemm(h, b.Initializer("fc2.w", Uniform(3, -0.8f, 0.8f, 3, 6)), b.Initializer("fc2.b", Uniform(4, -0.1f, 0.1f, 3)),
            transB: true, name: "fc2");
        b.Output(h, name: "logits");
        return QuantModules.Initialize(b.Build(), new QuantModuleOptions { Input = Learned });
    }

    // Three blobs in 4-D, label = blob.
    private static (Tensor<float> X, int[] Y) Blobs(int n, int seed)
    {
        var rng = new Random(seed);
        var x = new Tensor<float>(n, 4);
        var y = new int[n];
        for (int i = 0; i < n; i++)
        {
            y[i] = rng.Next(3);
            for (int j = 0; j < 4; j++) x[i, j] = (j == y[i] ? 2f : 0f) + (float)(rng.NextDouble() - 0.5);
        }
        return (x, y);
    }

    private static QuantizedGraph CalibratedMlp()
    {
        var q = Mlp();
        q.StartCalibration();
        q.Session.Run(new Dictionary<string, Tensor> { ["x"] = Blobs(64, 1).X });
        Assert.Empty(q.FinishCalibration());
        return q;
    }

    [Fact]
    public void AssigningAmax_StartsTheLearnedAmax_AsInitLearnAmax()
    {
        var q = new TensorQuantizer(Learned, "act");
        Assert.Equal(1f, q.LearnedAmax!.Data.Data[0]);
        q.Amax = Tensor.Scalar(2.5f);
        Assert.Equal(2.5f, q.LearnedAmax.Data.Data[0]);
        // The quantizer now quantizes with it.
        var x = Tensor.FromArray([0.3f, -3f, 1.7f], 3);
        Assert.Equal(TensorQuant.FakeQuantize(x, 2.5f, narrowRange: false).Data, q.Forward(x).Data);
        // A per-channel value starts the (single) learned amax at its maximum, as pytorch-quantization does.
        q.Amax = Tensor.FromArray([0.5f, 4f, 1f], 3);
        Assert.Equal(4f, q.LearnedAmax.Data.Data[0]);
        // Learning moves the learned amax only; InitLearnAmax restarts it from Amax.
        q.LearnedAmax.Data.Data[0] = 3f;
        q.InitLearnAmax();
        Assert.Equal(4f, q.LearnedAmax.Data.Data[0]);
    }

    [Fact]
    public void InitLearnAmax_WithoutLearnAmaxOrAmax_IsAClearError()
    {
        var fixedAmax = new TensorQuantizer(name: "fixed");
        Assert.Contains("learnAmax", Assert.Throws<InvalidOperationException>(fixedAmax.InitLearnAmax).Message);
        var noAmax = new TensorQuantizer(Learned, "fresh");
        Assert.Contains("'fresh'", Assert.Throws<InvalidOperationException>(noAmax.InitLearnAmax).Message);
    }

    [Fact]
    public void LearnedAmaxDrivenToZeroOrBelow_IsAnErrorNamingTheQuantizerAndTheRemedy()
    {
        var q = new TensorQuantizer(Learned, "relu1.output_quantizer") { Amax = Tensor.Scalar(1f) };
        q.LearnedAmax!.Data.Data[0] = -0.01f;
        var x = Tensor.FromArray([0.5f, -0.2f], 2);
        foreach (var act in new Action[] { () => q.Forward(x), () => q.Forward(new Variable(x, requiresGrad: true)),
                     () => ((Engine.Runtime.Quantizers.IEdgeQuantizer)q).Backward(x, x) })
        {
            var e = Assert.Throws<InvalidOperationException>(act);
            Assert.Contains("'relu1.output_quantizer'", e.Message);
            Assert.Contains("learning rate", e.Message);
        }
    }

    public static TheoryData<string> OptimizerNames => ["sgd", "sgd-momentum-decay", "adam", "adamw"];

    private static ParameterOptimizer Optimizer(string name, Dictionary<string, Tensor<float>> p) => name switch
    {
        "sgd" => new SgdOptimizer(p, 0.05f),
        "sgd-momentum-decay" => new SgdOptimizer(p, 0.05f, momentum: 0.9f, weightDecay: 1e-3f, nesterov: true),
        "adam" => new AdamOptimizer(p, 0.01f),
        "adamw" => AdamOptimizer.AdamW(p, 0.01f),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(OptimizerNames))]
    public void GraphTrainer_ShortQat_MovesEveryLearnedRange(string optimizer)
    {
        var q = CalibratedMlp();
        var ranges = q.Parameters();
        Assert.Equal(["fc1.input_quantizer.amax", "fc2.input_quantizer.amax"], ranges.Keys.Order(StringComparer.Ordinal));
        var before = ranges.ToDictionary(p => p.Key, p => p.Value.Data.Data[0]);
        var trainer = new GraphTrainer(q.Session, Optimizer(optimizer, GraphTrainer.Parameters(q.Graph, ranges)), externalParameters: ranges);
        for (int s = 0; s < 5; s++)
        {
            var (x, y) = Blobs(32, 100 + s);
            trainer.Step(x, y);
        }
        foreach (var (name, v) in ranges) output.WriteLine($"{optimizer}: {name} {before[name]:F4} → {v.Data.Data[0]:F4} after 5 steps");
        foreach (var (name, v) in ranges)
            Assert.True(Math.Abs(v.Data.Data[0] - before[name]) > 1e-3f, $"{optimizer}: {name} stayed at {before[name]:R} (now {v.Data.Data[0]:R})");
        // Each step cleared what it used: no gradient left to leak into the next step.
        Assert.All(ranges.Values, v => Assert.Null(v.Grad));
    }

    [Fact]
    public void GraphTrainer_SgdStep_MovesTheLearnedAmaxByLearningRateTimesItsGradient()
    {
        var q = CalibratedMlp();
        var ranges = q.Parameters();
        var (x, y) = Blobs(32, 7);
        // The gradient of this batch's loss, by the session's backward.
        var run = q.Session.Run(new Dictionary<string, Tensor> { ["x"] = x }, new RunOptions { Training = true, KeepForBackward = true });
        var (_, dLogits) = Losses.CrossEntropy(run.Output("logits"), y);
        q.Session.Backward(run, new Dictionary<string, Tensor<float>> { ["logits"] = dLogits }, inputGradients: false);
        var grads = ranges.ToDictionary(p => p.Key, p => p.Value.Grad!.Data[0]);
        var before = ranges.ToDictionary(p => p.Key, p => p.Value.Data.Data[0]);
        const float lr = 0.1f;
        // Large enough a move that the comparison below can fail.
        Assert.All(grads.Values, g => Assert.True(Math.Abs(lr * g) > 1e-3f, $"gradient {g}"));

        var trainer = new GraphTrainer(q.Session, new SgdOptimizer(GraphTrainer.Parameters(q.Graph, ranges), lr), externalParameters: ranges);
        trainer.Step(x, y); // clears the gradients above first, so each counts once
        foreach (var (name, v) in ranges)
            Assert.Equal(before[name] - lr * grads[name], v.Data.Data[0], 1e-6f);
    }

    [Fact]
    public void FrozenLearnedAmax_StaysPut_OthersMove()
    {
        var q = CalibratedMlp();
        var ranges = q.Parameters();
        ParameterHelpers.Freeze(ranges, "^fc1\\.");
        float frozen = ranges["fc1.input_quantizer.amax"].Data.Data[0], other = ranges["fc2.input_quantizer.amax"].Data.Data[0];
        var trainer = new GraphTrainer(q.Session, new SgdOptimizer(GraphTrainer.Parameters(q.Graph, ranges), 0.05f), externalParameters: ranges);
        var (x, y) = Blobs(32, 3);
        trainer.Step(x, y);
        Assert.Equal(frozen, ranges["fc1.input_quantizer.amax"].Data.Data[0]);
        Assert.NotEqual(other, ranges["fc2.input_quantizer.amax"].Data.Data[0]);
    }

    [Fact]
    public void GraphTrainer_LearnedRangeMissingFromTheOptimizer_IsRefusedByName()
    {
        var q = CalibratedMlp();
        var ranges = q.Parameters();
        var e = Assert.Throws<ArgumentException>(() =>
            new GraphTrainer(q.Session, new SgdOptimizer(GraphTrainer.Parameters(q.Graph), 0.05f), externalParameters: ranges));
        Assert.Contains("fc1.input_quantizer.amax", e.Message);
    }

    /// <summary>
    /// Finite differences of the graph's loss in the learned amax of the input quantizer, on inputs that are all clipped
    /// or zero, where the loss is differentiable in amax (every output is ±amax or 0): the session's gradient is that
    /// derivative times the quantizer's LSQ factor maxBound·√(maxBound/N). (In range LSQ's gradient is a surrogate, round(x/s) − x/s per
    /// element, which finite differences of the rounded forward do not measure; <c>LearnAmax_GetsTheLsqGradient</c>
    /// checks that rule element by element.)
    /// </summary>
    [Fact]
    public void LearnedAmaxGradient_ThroughTheGraph_MatchesFiniteDifferencesTimesLsqFactor()
    {
        var q = Mlp();
        foreach (var t in q.Quantizers.Values) t.Disable();
        var input = q.Quantizers["fc1.input_quantizer"];
        input.Enable();
        input.Amax = Tensor.Scalar(0.5f);
        var amax = input.LearnedAmax!;
        var x = Uniform(5, 1f, 2f, 8, 4);
        for (int i = 0; i < x.Length; i++) x.Data[i] *= i % 3 == 0 ? -1 : i % 3 == 1 ? 1 : 0;
        int[] labels = [0, 1, 2, 0, 1, 2, 0, 1];
        var feeds = new Dictionary<string, Tensor> { ["x"] = x };
        double Loss(float a)
        {
            amax.Data.Data[0] = a;
            return Losses.CrossEntropy(q.Session.Run(feeds).Output("logits"), labels).Loss;
        }

        var run = q.Session.Run(feeds, new RunOptions { Training = true, KeepForBackward = true });
        var (_, dLogits) = Losses.CrossEntropy(run.Output("logits"), labels);
        q.Session.Backward(run, new Dictionary<string, Tensor<float>> { ["logits"] = dLogits }, inputGradients: false);
        float gradient = amax.Grad!.Data[0];

        const float h = 1e-2f;
        double fd = (Loss(0.5f + h) - Loss(0.5f - h)) / (2 * h);
        double lsqFactor = 127 * Math.Sqrt(127.0 / x.Length);
        Assert.True(Math.Abs(fd) > 1e-3, $"finite difference {fd} too small to compare");
        Assert.Equal(fd * lsqFactor, gradient, Math.Abs(fd * lsqFactor) * 2e-3);
    }

    [Theory]
    [InlineData("sgd")]
    [InlineData("adam")]
    public void EagerQat_AutogradOptimizers_MoveTheLearnedAmax(string optimizer)
    {
        var q = new TensorQuantizer(Learned, "act") { Amax = Tensor.Scalar(0.5f) };
        Optimizer opt = optimizer == "sgd" ? new Sgd(q.Parameters(), 0.1f) : new Adam(q.Parameters(), 0.01f);
        var target = Tensor.FromArray([0.9f, -0.7f, 0.2f, 0.05f], 4);
        for (int s = 0; s < 3; s++)
        {
            opt.ZeroGrad();
            var y = q.Forward(new Variable(target));
            // Squared error to the unquantized target: clipping at 0.5 costs, so amax grows.
            var diff = Ops.Sub(y, new Variable(target));
            Ops.Sum(Ops.Mul(diff, diff), keepDims: false).Backward();
            opt.Step();
        }
        Assert.True(q.LearnedAmax!.Data.Data[0] > 0.5f, $"{optimizer}: amax {q.LearnedAmax.Data.Data[0]}");
    }
}
