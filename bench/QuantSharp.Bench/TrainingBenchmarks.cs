using System.Diagnostics;
using System.Globalization;
using QuantSharp.Data;
using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Engine.Training;

namespace QuantSharp.Bench;

/// <summary>
/// Training speed of the quickstart network (issue 6): <c>train_epoch_quickstart s</c> = one epoch over Fashion-MNIST's
/// 60,000 training images (batch 128 shuffled through the quickstart's <see cref="DataLoader"/>, Adam lr 1e-4,
/// cross-entropy on the softmax output, <see cref="GraphTrainer"/>), and <c>eval_10k_quickstart s</c> = top-1 over the
/// 10,000 test images in batches of 500. With --compare, bench/reference/torch_quickstart.py does the same in PyTorch
/// (2 threads) in the same run and the ratios are noted (target ≤ 0.8 each). With --quick, 60 steps and 2,000 test
/// images, scaled to the full figures.
/// </summary>
public sealed class TrainingBenchmarks : IBenchmarkSuite
{
    public IEnumerable<Benchmark> Benchmarks()
    {
        yield return new Benchmark("train_epoch_quickstart", "one training epoch of the quickstart net on Fashion-MNIST, and evaluating 10k images", Quickstart);
    }

    private static void Quickstart(BenchContext ctx)
    {
        if (!FashionMnist.IsAvailable())
        {
            ctx.Note($"train_epoch_quickstart skipped: Fashion-MNIST not found in {FashionMnist.DefaultDirectory} (apt-get install dataset-fashion-mnist)");
            return;
        }
        var train = FashionMnist.Load(train: true);
        var test = FashionMnist.Load(train: false);
        var graph = QuantSharp.Cli.QuickstartCommand.Network(0);
        var session = new Session(graph);
        var trainer = new GraphTrainer(session, new AdamOptimizer(GraphTrainer.Parameters(graph), 1e-4f),
            (p, labels) => Losses.CrossEntropyFromProbabilities(p, labels));
        var loader = new DataLoader(train, 128, shuffle: true, seed: 0);

        // Warm-up: JIT, buffers, the GC's large-object space.
        foreach (var b in loader.Epoch(99).Take(5)) trainer.Step(b.Images, b.Labels);

        int stepsPerEpoch = loader.BatchCount;
        int steps = ctx.Quick ? 60 : stepsPerEpoch;
        var clock = Stopwatch.StartNew();
        if (ctx.Quick) foreach (var b in loader.Epoch(0).Take(steps)) trainer.Step(b.Images, b.Labels);
        else trainer.TrainEpoch(loader, 0);
        double seconds = clock.Elapsed.TotalSeconds;
        double stepMs = seconds / steps * 1e3;
        double epoch = seconds / steps * stepsPerEpoch;

        int images = ctx.Quick ? 2000 : test.Count;
        var testLoader = new DataLoader(ctx.Quick ? test.Take(images) : test, 500);
        TrainingLoops.Accuracy(session, new DataLoader(test.Take(500), 500)); // warm-up
        clock.Restart();
        double accuracy = TrainingLoops.Accuracy(session, testLoader);
        double eval = clock.Elapsed.TotalSeconds * test.Count / images;

        ctx.Report("train_epoch_quickstart", epoch, "s");
        ctx.Report("eval_10k_quickstart", eval, "s");
        ctx.Note(F($"train step {stepMs:F1} ms ({steps} steps timed{(ctx.Quick ? $", scaled to {stepsPerEpoch}" : "")}); eval {images} images (top-1 {accuracy * 100:F1} % after {steps + 5} steps){(ctx.Quick ? " scaled to 10k" : "")}"));
        if (!ctx.Compare) return;
        var figures = PythonReference.Run(ctx, "torch_quickstart.py");
        if (figures is null) return;
        double? Fig(string name) => figures.FirstOrDefault(f => f.Name == name)?.Value;
        if (Fig("train_epoch_quickstart") is double te && Fig("train_step_quickstart") is double ts)
            ctx.Note(F($"torch train_epoch_quickstart {te:F2} s ({ts:F1} ms/step); ratio {epoch / te:F2} (target <= 0.8)"));
        if (Fig("eval_10k_quickstart") is double tev)
            ctx.Note(F($"torch eval_10k_quickstart {tev:F2} s; ratio {eval / tev:F2} (target <= 0.8)"));
    }

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
