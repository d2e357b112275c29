using System.Diagnostics;
using QuantSharp.Data;
using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Engine.Training;
using Xunit.Abstractions;

namespace QuantSharp.Data.Tests;

public class FashionMnistTrainingTests(ITestOutputHelper output)
{
    // Conv(1→8,3,s2,p1) → Relu → Conv(8→16,3,s2,p1) → Relu → Flatten → Gemm(784→10): logits.
    private static Graph SmallCnn(int seed)
    {
        var rng = new Random(seed);
        var b = new GraphBuilder("small_cnn");
        var x = b.Input("image", DataType.Float32, Dim.Symbolic("N"), Dim.Fixed(1), Dim.Fixed(28), Dim.Fixed(28));
        var h = b.Relu(b.ConvLayer(x, 1, 8, 3, rng, "conv1", stride: 2, padding: 1));
        h = b.Relu(b.ConvLayer(h, 8, 16, 3, rng, "conv2", stride: 2, padding: 1));
        b.Output(b.LinearLayer(b.Flatten(h), 16 * 7 * 7, 10, rng, "fc"));
        return b.Build();
    }

    private static (Graph Graph, GraphTrainer Trainer, double Seconds) TrainOnePass(LabeledImages train, int seed)
    {
        var graph = SmallCnn(seed);
        var trainer = new GraphTrainer(new Session(graph), new AdamOptimizer(GraphTrainer.Parameters(graph), 4e-3f));
        var loader = new DataLoader(train, 32, shuffle: true, seed: seed);
        var sw = Stopwatch.StartNew();
        int steps = 0;
        double meanLoss = trainer.TrainEpoch(loader, 0, (_, _) => steps++);
        Assert.Equal(loader.BatchCount, steps);
        Assert.InRange(meanLoss, 0.1, 2.3);
        return (graph, trainer, sw.Elapsed.TotalSeconds);
    }

    [Fact]
    public void SmallCnn_OnePassOver6000Images_Reaches75PercentOnTestImages()
    {
        if (!FashionMnist.IsAvailable())
        {
            Assert.Fail($"Fashion-MNIST not found in {FashionMnist.DefaultDirectory} (Debian package dataset-fashion-mnist)");
        }
        var train = FashionMnist.Load(train: true).Take(6000);
        var test = FashionMnist.Load(train: false).Take(1000);
        var (_, trainer, seconds) = TrainOnePass(train, 0);
        double accuracy = TrainingLoops.Accuracy(trainer.Session, new DataLoader(test, 250));
        int correct = 0;
        foreach (var batch in new DataLoader(test, 250).Epoch()) correct += Metrics.CountCorrect(trainer.Predict(batch.Images), batch.Labels);
        Assert.Equal(correct / 1000.0, accuracy);
        output.WriteLine($"one pass over 6000 images in {seconds:F2} s; test accuracy {accuracy:P1} on 1000 images");
        Assert.True(accuracy >= 0.75, $"{correct}/1000 correct");
    }

    [Fact]
    public void SmallCnn_TwoSeededRuns_GiveBitIdenticalWeights()
    {
        if (!FashionMnist.IsAvailable())
        {
            Assert.Fail($"Fashion-MNIST not found in {FashionMnist.DefaultDirectory}");
        }
        var train = FashionMnist.Load(train: false).Take(640);
        var a = GraphTrainer.Parameters(TrainOnePass(train, 5).Graph);
        var b = GraphTrainer.Parameters(TrainOnePass(train, 5).Graph);
        foreach (var (name, t) in a) Assert.Equal(t.Data, b[name].Data);
    }
}
