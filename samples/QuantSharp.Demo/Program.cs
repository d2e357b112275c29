// The engine demo run by ./run.sh: trains a small CNN on Fashion-MNIST with QuantSharp's eager autograd,
// then reports test accuracy and throughput. Usage: QuantSharp.Demo [--epochs N] [--train-limit N] [--batch N]
using System.Diagnostics;
using QuantSharp.Data;
using QuantSharp.Engine;
using QuantSharp.Engine.Autograd;
using QuantSharp.Engine.Autograd.Optimizers;
using QuantSharp.Engine.Kernels;
using QuantSharp.Samples;

int epochs = Arg("--epochs", 1), trainLimit = Arg("--train-limit", 60000), batch = Arg("--batch", 64);
if (!FashionMnist.IsAvailable())
{
    Console.Error.WriteLine($"error: Fashion-MNIST not found in {FashionMnist.DefaultDirectory}; install the Debian package 'dataset-fashion-mnist' (./run.sh does).");
    return 1;
}
var train = FashionMnist.Load(train: true).Take(trainLimit);
var test = FashionMnist.Load(train: false);
Console.WriteLine($"Fashion-MNIST: {train.Count} training and {test.Count} test images; {Environment.ProcessorCount} cores, AVX-512: {System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated}");

var net = new SmallCnn(new Random(42));
var optimizer = new Adam(net.Parameters, learningRate: 2e-3f);
var order = Enumerable.Range(0, train.Count).ToArray();
var rng = new Random(7);
var clock = Stopwatch.StartNew();
long seen = 0;
for (int epoch = 1; epoch <= epochs; epoch++)
{
    rng.Shuffle(order);
    double lossSum = 0; int steps = 0;
    for (int start = 0; start + batch <= train.Count; start += batch)
    {
        var (x, y) = Gather(train, order, start, batch);
        optimizer.ZeroGrad();
        var loss = Ops.CrossEntropy(net.Forward(new Variable(x)), y);
        loss.Backward();
        optimizer.Step();
        lossSum += loss.Data.Data[0];
        steps++;
        seen += batch;
        if (steps % 200 == 0)
            Console.WriteLine($"epoch {epoch} step {steps,4}: loss {lossSum / steps:F4}  ({seen / clock.Elapsed.TotalSeconds:F0} images/s training)");
    }
    Console.WriteLine($"epoch {epoch}: mean loss {lossSum / Math.Max(steps, 1):F4}");
}
double trainSeconds = clock.Elapsed.TotalSeconds;

clock.Restart();
int correct = 0;
using (Autograd.NoGrad())
    for (int start = 0; start < test.Count; start += 500)
    {
        var (x, y) = test.Batch(start, 500);
        var logits = net.Forward(new Variable(x)).Data;
        var predicted = Reduce.ArgMax(logits, axis: 1, keepDims: false);
        for (int i = 0; i < y.Length; i++) if (predicted.Data[i] == y[i]) correct++;
    }
double evalSeconds = clock.Elapsed.TotalSeconds;
Console.WriteLine($"test accuracy: {100.0 * correct / test.Count:F2}% ({correct}/{test.Count})");
Console.WriteLine($"training: {seen / trainSeconds:F0} images/s; inference: {test.Count / evalSeconds:F0} images/s");
return 0;

int Arg(string name, int fallback)
{
    int i = Array.IndexOf(args, name);
    if (i < 0) return fallback;
    if (i + 1 < args.Length && int.TryParse(args[i + 1], out int v) && v > 0) return v;
    Console.Error.WriteLine($"error: {name} expects a positive integer");
    Environment.Exit(2);
    return fallback;
}

static (Tensor<float>, int[]) Gather(LabeledImages data, int[] order, int start, int count)
{
    int per = data.Images.Length / data.Count;
    var x = new Tensor<float>(count, 1, 28, 28);
    var y = new int[count];
    for (int i = 0; i < count; i++)
    {
        int j = order[start + i];
        Array.Copy(data.Images.Data, j * per, x.Data, i * per, per);
        y[i] = data.Labels[j];
    }
    return (x, y);
}
