using QuantSharp.Engine;
using QuantSharp.Engine.Autograd.Optimizers;
using QuantSharp.Engine.Runtime;
using QuantSharp.Engine.Runtime.Quantizers;
using QuantSharp.Engine.Training;
using QuantSharp.Quantization.Modules;
using QuantSharp.Quantization.Quantizers;
using Xunit.Abstractions;
using static QuantSharp.Quantization.Tests.Modules.RecurrentGraphs;

namespace QuantSharp.Quantization.Tests.Modules;

/// <summary>
/// pytorch-quantization's flow on LSTM models (QuantLSTM on an LSTM node, QuantLSTMCell on <see cref="GraphBuilder.LstmCell"/>
/// steps): wrap, calibrate with max and histogram calibrators, forward — which must equal the float model on the
/// fake-quantized <c>cat([x, h])</c> and <c>cat([W, R])</c>, as the modules compute — and QAT with <see cref="GraphTrainer"/>.
/// The QDQ export is checked in ONNX Runtime by <c>QuantModuleExportOrtTests</c>.
/// </summary>
public class LstmQuantFlowTests(ITestOutputHelper output)
{
    private static readonly QuantModuleOptions LstmOnly = new() { OpTypes = new HashSet<string> { "LSTM" } };

    private static float AbsMax(params Tensor<float>[] ts) => ts.SelectMany(t => t.Data).Max(MathF.Abs);

    private static QuantizedGraph Calibrated(Graph g, QuantModuleOptions options, string method, IEnumerable<Dictionary<string, Tensor>> batches)
    {
        var q = QuantModules.Initialize(g, options);
        q.StartCalibration();
        foreach (var feeds in batches) q.Session.Run(feeds);
        Assert.Empty(q.FinishCalibration(method, percentile: 99.9));
        return q;
    }

    /// <summary>The float graph with <paramref name="weights"/> in place of its initializers.</summary>
    private static Tensor<float> RunFloat(Graph g, Dictionary<string, Tensor> feeds, params (string Name, Tensor<float> Value)[] weights)
    {
        var copy = g.Clone();
        foreach (var (name, value) in weights) copy.Initializers[name] = value;
        return new Session(copy).Run(feeds).Output("y");
    }

    [Theory]
    [InlineData("max")]
    [InlineData("entropy")]
    [InlineData("percentile")]
    [InlineData("mse")]
    public void QuantLstm_Calibrated_ForwardIsTheFloatLstmOnFakeQuantizedInputsAndWeights(string method)
    {
        var g = SequenceClassifier();
        var batches = new[] { Batch(16, 1), Batch(16, 2) };
        var options = method == "max" ? LstmOnly : LstmOnly with { Input = QuantDescriptor.InputHistogram };
        var q = Calibrated(g, options, method, batches.Select(b => SequenceFeeds(b.X, b.H0)));
        var input = q.Quantizers["lstm.input_quantizer"];
        var weight = q.Quantizers["lstm.weight_quantizer"];
        // One amax over x and h0 (pytorch-quantization's cat([x, h])); h0's range (0.5) is inside x's (1).
        float allMax = AbsMax(batches.SelectMany(b => new[] { b.X, b.H0 }).ToArray());
        float amax = input.Amax!.Data[0];
        output.WriteLine($"{method}: input amax {amax:F4} (max |x|, |h0| {allMax:F4})");
        if (method == "max") Assert.Equal(allMax, amax);
        else Assert.InRange(amax, 0.3f, allMax * 1.01f);
        var w = (Tensor<float>)g.Initializers["W"];
        var r = (Tensor<float>)g.Initializers["R"];
        Assert.Equal(ModuleGraphs.AbsMaxAlong(w, 1).Zip(ModuleGraphs.AbsMaxAlong(r, 1), MathF.Max), weight.Amax!.Data);

        var (x, h0, _) = Batch(8, 3);
        var quantized = q.Session.Run(SequenceFeeds(x, h0)).Output("y");
        var expected = RunFloat(g, SequenceFeeds(input.Forward(x), input.Forward(h0)), ("W", weight.Forward(w)), ("R", weight.Forward(r)));
        ModuleGraphs.AssertClose(expected, quantized, 1e-5f);
        // And quantization does something: the float model differs by well over the tolerance above.
        float floatDiff = RunFloat(g, SequenceFeeds(x, h0)).Data.Zip(quantized.Data).Max(p => MathF.Abs(p.First - p.Second));
        output.WriteLine($"{method}: max |float − quantized| = {floatDiff:E3}");
        Assert.True(floatDiff > 5e-5f, $"{floatDiff}");
    }

    [Theory]
    [InlineData("sgd")]
    [InlineData("adam")]
    public void QuantLstm_QatWithGraphTrainer_MovesWeightsAndLearnedRanges_AndLowersTheLoss(string optimizerName)
    {
        var g = SequenceClassifier();
        var options = new QuantModuleOptions { Input = new QuantDescriptor(learnAmax: true) };
        var q = Calibrated(g, options, "max", [SequenceFeeds(Batch(32, 1).X, Batch(32, 1).H0)]);
        var ranges = q.Parameters();
        Assert.Equal(["head.input_quantizer.amax", "lstm.input_quantizer.amax"], ranges.Keys.Order(StringComparer.Ordinal));
        var parameters = GraphTrainer.Parameters(q.Graph, ranges);
        ParameterOptimizer optimizer = optimizerName == "sgd" ? new SgdOptimizer(parameters, 0.1f, momentum: 0.9f) : new AdamOptimizer(parameters, 0.02f);
        var trainer = new GraphTrainer(q.Session, optimizer, inputName: "x", externalParameters: ranges);
        var before = parameters.ToDictionary(p => p.Key, p => p.Value.Data.ToArray());

        var losses = new List<float>();
        for (int step = 0; step < 60; step++)
        {
            var (x, h0, labels) = Batch(32, 100 + step);
            losses.Add(trainer.Step(SequenceFeeds(x, h0), y => Losses.CrossEntropy(y, labels)));
        }
        float first = losses.Take(10).Average(), last = losses.TakeLast(10).Average();
        output.WriteLine($"{optimizerName}: loss {first:F4} → {last:F4}; " +
            string.Join(", ", ranges.Select(p => $"{p.Key} {before[p.Key][0]:F4} → {p.Value.Data.Data[0]:F4}")));
        // Seeded and deterministic; measured: sgd 0.691 → 0.611, adam 0.686 → 0.425 (mean of the first and last 10 steps).
        Assert.True(last < first - 0.05f, $"loss {first} → {last}");
        foreach (var name in new[] { "W", "R", "B", "head.w" })
            Assert.True(parameters[name].Data.Zip(before[name]).Max(p => MathF.Abs(p.First - p.Second)) > 1e-3f, $"{name} did not move");
        foreach (var (name, v) in ranges)
            Assert.True(Math.Abs(v.Data.Data[0] - before[name][0]) > 1e-3f, $"{name} stayed at {before[name][0]}");
    }

    [Fact]
    public void QuantLstmCell_QuantizesCatOfXAndH_WithOneInputAndOneWeightQuantizerPerStep()
    {
        var g = UnrolledCells(steps: 1);
        var q = QuantModules.Initialize(g, LstmOnly);
        Assert.Equal(["cell0.input_quantizer", "cell0.weight_quantizer"], q.Quantizers.Keys.Order(StringComparer.Ordinal));
        var lstm = q.Graph.Nodes.Single(n => n.OpType == "LSTM");
        // X and initial_h read (their step-shaped Unsqueeze through) the input quantizer; initial_c does not.
        Assert.True(QuantizerNode.Is(q.Graph.Producer(lstm.Inputs[0])!));
        Assert.True(QuantizerNode.Is(q.Graph.Producer(lstm.Inputs[5])!));
        Assert.Equal("Unsqueeze", q.Graph.Producer(lstm.Inputs[6])!.OpType);

        var (x, h0, _) = Batch(8, 4);
        var feeds = CellFeeds(x, h0);
        foreach (var later in feeds.Keys.Where(k => k.StartsWith('x') && k != "x0").ToList()) feeds.Remove(later);
        feeds["h0"] = Tensor.RandomUniform(new Random(5), -2f, 2f, 8, Hidden); // h beyond x's range: the shared amax is h's
        feeds["c0"] = Tensor.RandomUniform(new Random(6), -3f, 3f, 8, Hidden); // c never quantized
        q.StartCalibration();
        q.Session.Run(feeds);
        Assert.Empty(q.FinishCalibration());
        var input = q.Quantizers["cell0.input_quantizer"];
        Assert.Equal(AbsMax((Tensor<float>)feeds["x0"], (Tensor<float>)feeds["h0"]), input.Amax!.Data[0]);

        var weight = q.Quantizers["cell0.weight_quantizer"];
        var quantized = q.Session.Run(feeds).Output("y");
        var floatFeeds = new Dictionary<string, Tensor>(feeds)
        {
            ["x0"] = input.Forward((Tensor<float>)feeds["x0"]), ["h0"] = input.Forward((Tensor<float>)feeds["h0"]),
        };
        var expected = RunFloat(g, floatFeeds, ("W", weight.Forward((Tensor<float>)g.Initializers["W"])), ("R", weight.Forward((Tensor<float>)g.Initializers["R"])));
        ModuleGraphs.AssertClose(expected, quantized, 1e-5f);
    }

    [Fact]
    public void QuantLstmCell_Unrolled_CalibratesEachStepOnItsOwnH_AndTrainsOneQatStep()
    {
        var g = UnrolledCells();
        var q = QuantModules.Initialize(g, new QuantModuleOptions { Input = new QuantDescriptor(learnAmax: true) });
        var (x, h0, labels) = Batch(16, 7);
        var feeds = CellFeeds(x, h0);
        // Step 2's input amax covers x2 and the h that step 1 produced (calibration runs the float model).
        var hValues = q.Graph.Nodes.Where(n => n.OpType == "Squeeze" && n.Name.EndsWith(".h_out", StringComparison.Ordinal)).Select(n => n.Outputs[0]).ToArray();
        q.StartCalibration();
        var run = q.Session.Run(feeds, new RunOptions { Capture = hValues });
        Assert.Empty(q.FinishCalibration());
        var h1 = (Tensor<float>)run.Captured[q.Graph.Nodes.Single(n => n.Name == "cell1.h_out").Outputs[0]];
        Assert.Equal(AbsMax((Tensor<float>)feeds["x2"], h1), q.Quantizers["cell2.input_quantizer"].Amax!.Data[0]);

        var ranges = q.Parameters();
        Assert.Contains("cell3.input_quantizer.amax", ranges.Keys);
        var parameters = GraphTrainer.Parameters(q.Graph, ranges);
        var before = parameters.ToDictionary(p => p.Key, p => p.Value.Data.ToArray());
        var trainer = new GraphTrainer(q.Session, new SgdOptimizer(parameters, 0.1f), inputName: "x0", externalParameters: ranges);
        float loss = trainer.Step(feeds, y => Losses.CrossEntropy(y, labels));
        Assert.True(float.IsFinite(loss) && loss > 0);
        foreach (var name in new[] { "W", "R", "head.w", "cell0.input_quantizer.amax", "cell3.input_quantizer.amax" })
            Assert.True(parameters[name].Data.Zip(before[name]).Max(p => MathF.Abs(p.First - p.Second)) > 1e-6f, $"{name} did not move");
        Assert.All(ranges.Values, v => Assert.Null(v.Grad));
    }
}
