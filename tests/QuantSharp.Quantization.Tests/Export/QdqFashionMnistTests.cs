using QuantSharp.Data;
using QuantSharp.Engine;
using QuantSharp.Onnx.Tests.Support;
using QuantSharp.Quantization.Export;
using Xunit.Abstractions;

namespace QuantSharp.Quantization.Tests.Export;

/// <summary>
/// 1,000 Fashion-MNIST test images through a fixed-weight CNN simulated with per-channel 8-bit weights and 8-bit asymmetric
/// activations: the exported QDQ model run by ONNX Runtime agrees with the simulation within one output step on every logit,
/// and top-1 agrees on at least 99.9% of the images. Fails when the data set or ONNX Runtime is missing.
/// </summary>
[Trait("Category", "OrtCrossCheck")]
[Trait("Category", OrtRunner.Category)]
public sealed class QdqFashionMnistTests(ITestOutputHelper output)
{

    private static (Graph Graph, string[] Activations, string[] Params) Cnn()
    {
        var rng = new Random(7);
        var b = new GraphBuilder("fmnist_cnn");
        var x = b.Input("image", DataType.Float32, Dim.Symbolic("N"), Dim.Fixed(1), Dim.Fixed(28), Dim.Fixed(28));
        var w1 = b.Initializer("conv1.w", Tensor.RandomNormal(rng, 0f, MathF.Sqrt(2f / 9), [8, 1, 3, 3]));
        var b1 = b.Initializer("conv1.b", Tensor.RandomUniform(rng, -0.1f, 0.1f, [8]));
        var r1 = b.Relu(b.Conv(x, w1, b1, pads: [1, 1, 1, 1], name: "conv1"), name: "relu1");
        var p1 = b.MaxPool(r1, [2, 2], [2, 2]);
        var w2 = b.Initializer("conv2.w", Tensor.RandomNormal(rng, 0f, MathF.Sqrt(2f / 72), [16, 8, 3, 3]));
        var b2 = b.Initializer("conv2.b", Tensor.RandomUniform(rng, -0.1f, 0.1f, [16]));
        var r2 = b.Relu(b.Conv(p1, w2, b2, pads: [1, 1, 1, 1], name: "conv2"), name: "relu2");
        var p2 = b.MaxPool(r2, [2, 2], [2, 2]);
        var w3 = b.Initializer("fc.w", Tensor.RandomNormal(rng, 0f, MathF.Sqrt(2f / 784), [10, 784]));
        var b3 = b.Initializer("fc.b", Tensor.RandomUniform(rng, -0.1f, 0.1f, [10]));
        b.Output(b.Gemm(b.Flatten(p2), w3, b3, transB: true, name: "fc"), name: "y");
        return (b.Build(), ["image", r1.Name, r2.Name, "y"], ["conv1.w", "conv2.w", "fc.w"]);
    }

    [Fact]
    public void FashionMnist1000_PerChannel8Bit_OnnxRuntimeTop1AgreesWithSimulation()
    {
        if (!FashionMnist.IsAvailable()) Assert.Fail($"Fashion-MNIST is not in {FashionMnist.DefaultDirectory} (Debian package dataset-fashion-mnist; test.sh installs it)");
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var test = FashionMnist.Load(train: false);
        var images = test.Batch(0, 1000).Images;
        var (g, acts, pars) = Cnn();
        // Calibrate on other images than the 1,000 evaluated.
        var calibration = new Dictionary<string, Tensor> { ["image"] = test.Batch(5000, 200).Images };
        output.WriteLine($"load {sw.ElapsedMilliseconds} ms");
        var sim = QdqNetworks.Simulate(g, calibration, acts, pars, new QuantPlan(PerChannel: true));
        var feeds = new Dictionary<string, Tensor> { ["image"] = images };
        output.WriteLine($"calibrated {sw.ElapsedMilliseconds} ms");
        var expected = sim.Session().Run(feeds).Output("y");
        output.WriteLine($"simulated {sw.ElapsedMilliseconds} ms");
        var ort = (Tensor<float>)OrtRunner.Run(QdqExport.Lower(sim.Graph, sim.EncodingOf), feeds)["y"];

        output.WriteLine($"onnx runtime {sw.ElapsedMilliseconds} ms");
        double step = sim.EncodingOf("y")!.Scale, maxDiff = 0;
        int agree = 0;
        for (int n = 0; n < 1000; n++)
        {
            int a = 0, o = 0;
            for (int k = 0; k < 10; k++)
            {
                maxDiff = Math.Max(maxDiff, Math.Abs(expected[n, k] - ort[n, k]));
                if (expected[n, k] > expected[n, a]) a = k;
                if (ort[n, k] > ort[n, o]) o = k;
            }
            if (a == o) agree++;
        }
        output.WriteLine($"top-1 agreement {agree}/1000, max|diff| {maxDiff:E3} (output step {step:E3})");
        Assert.True(maxDiff <= step * (1 + 1e-4), $"max|diff| {maxDiff:E3} > one step {step:E3}");
        Assert.True(agree >= 999, $"top-1 agreement {agree}/1000 < 99.9%");
    }
}
