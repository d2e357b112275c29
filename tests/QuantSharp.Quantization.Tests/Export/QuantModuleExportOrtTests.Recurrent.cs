using GraphOptimizationLevel = Microsoft.ML.OnnxRuntime.GraphOptimizationLevel;
using QuantSharp.Engine;
using QuantSharp.Engine.Autograd.Optimizers;
using QuantSharp.Engine.Runtime.Quantizers;
using QuantSharp.Engine.Training;
using QuantSharp.Quantization.Export;
using QuantSharp.Quantization.Modules;
using QuantSharp.Quantization.Quantizers;
using static QuantSharp.Quantization.Tests.Modules.RecurrentGraphs;

namespace QuantSharp.Quantization.Tests.Export;

// The quant-module export of LSTM models (QuantLSTM on an LSTM node, QuantLSTMCell on cell steps) and of adaptive average
// pooling in each form GraphBuilder.AdaptiveAvgPool emits, run by ONNX Runtime against the fake-quant forward.
public sealed partial class QuantModuleExportOrtTests
{
    private static QuantizedGraph CalibratedWith(Graph g, QuantModuleOptions options, string method, params Dictionary<string, Tensor>[] batches)
    {
        var q = QuantModules.Initialize(g, options);
        q.StartCalibration();
        foreach (var feeds in batches) q.Session.Run(feeds);
        Assert.Empty(q.FinishCalibration(method, percentile: 99.9));
        return q;
    }

    private static void TrainSteps(QuantizedGraph q, string inputName, int steps, Func<int, (Dictionary<string, Tensor> Feeds, int[] Labels)> batch)
    {
        var ranges = q.Parameters();
        Assert.NotEmpty(ranges);
        var trainer = new GraphTrainer(q.Session, new AdamOptimizer(GraphTrainer.Parameters(q.Graph, ranges), 0.02f), inputName: inputName, externalParameters: ranges);
        for (int s = 0; s < steps; s++)
        {
            var (feeds, labels) = batch(s);
            trainer.Step(feeds, y => Losses.CrossEntropy(y, labels));
        }
    }

    // Every quantizer is checked within one step of its own ORT input; y differs by float rounding of the two LSTM
    // kernels and, where that flips a level of the head's input quantizer, by one step times the head's weights
    // (measured with ORT 1.32: see the test output).
    private const double RecurrentYRelative = 2e-3;

    [Theory]
    [InlineData("max")]
    [InlineData("entropy")]
    public void Lstm_Calibrated_OrtMatchesFakeQuantForward(string method)
    {
        var options = new QuantModuleOptions { Input = method == "max" ? QuantDescriptor.Default : QuantDescriptor.InputHistogram };
        var q = CalibratedWith(SequenceClassifier(), options, method, SequenceFeeds(Batch(16, 1).X, Batch(16, 1).H0), SequenceFeeds(Batch(16, 2).X, Batch(16, 2).H0));
        var lowered = QuantModuleExport.Lower(q);
        var lstm = lowered.Nodes.Single(n => n.OpType == "LSTM");
        // X, W, R and initial_h each come out of a DequantizeLinear; W and R share their scales' values (one amax per gate row).
        foreach (int input in new[] { 0, 1, 2, 5 }) Assert.Equal("DequantizeLinear", lowered.Producer(lstm.Inputs[input])!.OpType);
        var (x, h0, _) = Batch(8, 9);
        CheckAgainstFakeQuant(q, SequenceFeeds(x, h0), RecurrentYRelative, GraphOptimizationLevel.ORT_DISABLE_ALL);
    }

    [Fact]
    public void Lstm_AfterQatWithLearnedAmax_OrtMatchesFakeQuantForward()
    {
        var q = CalibratedWith(SequenceClassifier(), new QuantModuleOptions { Input = new QuantDescriptor(learnAmax: true) }, "max",
            SequenceFeeds(Batch(16, 1).X, Batch(16, 1).H0));
        float calibrated = q.Quantizers["lstm.input_quantizer"].LearnedAmax!.Data.Data[0];
        TrainSteps(q, "x", 15, s => { var (x, h0, y) = Batch(32, 50 + s); return (SequenceFeeds(x, h0), y); });
        Assert.NotEqual(calibrated, q.Quantizers["lstm.input_quantizer"].LearnedAmax!.Data.Data[0]);
        var (x, h0, _) = Batch(8, 9);
        CheckAgainstFakeQuant(q, SequenceFeeds(x, h0), RecurrentYRelative, GraphOptimizationLevel.ORT_DISABLE_ALL);
        CheckAgainstFakeQuant(q, SequenceFeeds(x, h0), RecurrentYRelative, GraphOptimizationLevel.ORT_ENABLE_ALL);
    }

    [Fact]
    public void LstmCells_CalibratedAndAfterOneQatStep_OrtMatchesFakeQuantForward()
    {
        var (x, h0, _) = Batch(16, 1);
        var q = CalibratedWith(UnrolledCells(), new QuantModuleOptions { Input = new QuantDescriptor(learnAmax: true) }, "max", CellFeeds(x, h0));
        var test = CellFeeds(Batch(8, 9).X, Batch(8, 9).H0);
        CheckAgainstFakeQuant(q, test, RecurrentYRelative, GraphOptimizationLevel.ORT_DISABLE_ALL);
        TrainSteps(q, "x0", 1, _ => { var (bx, bh, by) = Batch(32, 60); return (CellFeeds(bx, bh), by); });
        CheckAgainstFakeQuant(q, test, RecurrentYRelative, GraphOptimizationLevel.ORT_DISABLE_ALL);
    }

    [Fact]
    public void Lstm_SharedWeightQuantizerWithDynamicAmax_IsRefusedByName_UntilCalibrated()
    {
        var q = QuantModules.Initialize(SequenceClassifier(), new QuantModuleOptions { OpTypes = new HashSet<string> { "LSTM" } });
        q.Quantizers["lstm.input_quantizer"].Amax = Tensor.Scalar(1f);
        var e = Assert.Throws<NotSupportedException>(() => QuantModuleExport.Lower(q));
        Assert.Contains("'lstm.weight_quantizer'", e.Message);
        Assert.Contains("dynamic", e.Message);
        q.StartCalibration();
        q.Session.Run(SequenceFeeds(Batch(4, 1).X, Batch(4, 1).H0));
        Assert.Empty(q.FinishCalibration());
        var lowered = QuantModuleExport.Lower(q);
        Assert.Equal(2, lowered.Nodes.Count(n => n.OpType == "DequantizeLinear" && lowered.Initializers.ContainsKey(n.Inputs[0]))); // W and R
    }

    [Fact]
    public void BidirectionalLstm_DirectionsShareEachGateRowsAmax_OrtMatchesFakeQuantForward()
    {
        const int hidden = 3, input = 2, steps = 5;
        var b = new GraphBuilder("bilstm");
        var x = b.Input("x", DataType.Float32, Dim.Fixed(steps), Dim.Fixed(4), Dim.Fixed(input));
        var h0 = b.Input("h0", DataType.Float32, Dim.Fixed(2), Dim.Fixed(4), Dim.Fixed(hidden));
        var w = Tensor.RandomUniform(new Random(1), -0.6f, 0.6f, 2, 4 * hidden, input);
        var r = Tensor.RandomUniform(new Random(2), -0.6f, 0.6f, 2, 4 * hidden, hidden);
        var outs = b.Op("LSTM", [x, b.Initializer("W", w), b.Initializer("R", r), null, null, h0], 2, "lstm", "",
            ("hidden_size", AttributeValue.FromInt(hidden)), ("direction", AttributeValue.FromString("bidirectional")));
        b.Output(outs[0], name: "y");
        Dictionary<string, Tensor> Feeds(int seed) => new()
        {
            ["x"] = Tensor.RandomUniform(new Random(seed), -1f, 1f, steps, 4, input),
            ["h0"] = Tensor.RandomUniform(new Random(seed + 50), -0.5f, 0.5f, 2, 4, hidden),
        };
        var q = CalibratedWith(b.Build(), new QuantModuleOptions(), "max", Feeds(1));
        // One amax per gate row, the largest over both directions and over W and R.
        var amax = q.Quantizers["lstm.weight_quantizer"].Amax!;
        Assert.Equal([1, 4 * hidden, 1], amax.Shape);
        for (int row = 0; row < 4 * hidden; row++)
        {
            float expected = 0;
            for (int d = 0; d < 2; d++)
            {
                for (int k = 0; k < input; k++) expected = MathF.Max(expected, MathF.Abs(w[d, row, k]));
                for (int k = 0; k < hidden; k++) expected = MathF.Max(expected, MathF.Abs(r[d, row, k]));
            }
            Assert.Equal(expected, amax.Data[row]);
        }
        CheckAgainstFakeQuant(q, Feeds(9), RecurrentYRelative, GraphOptimizationLevel.ORT_DISABLE_ALL);
    }

    [Theory]
    [InlineData(new[] { 2, 3, 10 }, new[] { 3 }, "MatMul")]
    [InlineData(new[] { 2, 3, 5, 7 }, new[] { 3, 4 }, "MatMul")]
    [InlineData(new[] { 1, 2, 10, 5, 7 }, new[] { 3, 3, 4 }, "MatMul")]
    [InlineData(new[] { 1, 2, 10, 5, 7 }, new[] { 3, 5, 7 }, "Reshape")]  // the depth axis alone: merged, pooled, unmerged
    [InlineData(new[] { 2, 3, 6, 8 }, new[] { 3, 2 }, "AveragePool")]
    [InlineData(new[] { 2, 3, 6, 8 }, new[] { 1, 1 }, "GlobalAveragePool")]
    public void AdaptiveAvgPool_EveryForm_QuantizedInput_OrtMatchesFakeQuantForward(int[] inputShape, int[] outputSize, string firstNode)
    {
        var b = new GraphBuilder("adaptive");
        var x = b.Input("x", DataType.Float32, inputShape.Select(Dim.Fixed).ToArray());
        b.Output(b.AdaptiveAvgPool(x, outputSize, name: "pool"), name: "y");
        var g = b.Build();
        Assert.Equal(firstNode, g.Nodes[0].OpType);
        Dictionary<string, Tensor> Feeds(int seed) => new() { ["x"] = Tensor.RandomUniform(new Random(seed), -2f, 2f, inputShape) };
        var q = CalibratedWith(g, new QuantModuleOptions(), "max", Feeds(1), Feeds(2));
        // The pooled input alone is quantized: the averaging matrices are not weights.
        Assert.Equal(["pool.input_quantizer"], q.Quantizers.Keys);
        CheckAgainstFakeQuant(q, Feeds(7), 1e-5, GraphOptimizationLevel.ORT_DISABLE_ALL);
        var lowered = QuantModuleExport.Lower(q);
        Assert.Single(lowered.Nodes, n => n.OpType == "QuantizeLinear");
        Assert.All(lowered.Nodes.Where(n => n.OpType == "MatMul"), n => Assert.Contains(n.Inputs, i => lowered.Initializers.GetValueOrDefault(i) is Tensor<float>));
    }
}
