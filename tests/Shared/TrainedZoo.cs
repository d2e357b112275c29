using QuantSharp.Data;
using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Engine.Training;
using QuantSharp.Quantization.Zoo;

namespace QuantSharp.Tests.Shared;

/// <summary>
/// The zoo's ResNet-, MobileNetV2- and EfficientNet-style nets with real weights: each trained once per test process on
/// Fashion-MNIST (seeded build, one pass over the first 6,000 training images, Adam 2e-3, batch 50; batch norms left in
/// place), so tests quantize what a user would. Linked as a source file into the test projects that use it.
/// </summary>
internal static class TrainedZoo
{
    /// <summary>The nets by name.</summary>
    public static IReadOnlyList<string> Names { get; } = ["resnet", "mobilenetv2", "efficientnet"];

    /// <summary>Training images used (the first ones of the training set; calibrate on others or on these, never on test images).</summary>
    public const int TrainingImages = 6000;

    private static readonly Dictionary<string, Lazy<Graph>> s_trained = Names.ToDictionary(n => n, n => new Lazy<Graph>(() => Train(Build(n))));

    /// <summary>Fails the calling test, naming the package, when Fashion-MNIST is not installed.</summary>
    public static void RequireData()
    {
        if (!FashionMnist.IsAvailable())
            Assert.Fail($"Fashion-MNIST is not in {FashionMnist.DefaultDirectory} (Debian package dataset-fashion-mnist; test.sh installs it)");
    }

    /// <summary>A copy of the trained net <paramref name="name"/> (one of <see cref="Names"/>).</summary>
    public static Graph Trained(string name) => s_trained[name].Value.Clone();

    private static Graph Build(string name) => name switch
    {
        "resnet" => ResNetSmall.Build(3),
        "mobilenetv2" => MobileNetV2Small.Build(3),
        "efficientnet" => EfficientNetSmall.Build(3),
        _ => throw new ArgumentException($"TrainedZoo: no net '{name}'; nets: {string.Join(", ", Names)}", nameof(name)),
    };

    private static Graph Train(Graph g)
    {
        var data = FashionMnist.Load(train: true).Take(TrainingImages);
        var trainer = new GraphTrainer(new Session(g), new AdamOptimizer(GraphTrainer.Parameters(g), 2e-3f));
        for (int start = 0; start + 50 <= TrainingImages; start += 50)
        {
            var (x, labels) = data.Batch(start, 50);
            trainer.Step(x, labels);
        }
        return g;
    }
}
