using QuantSharp.Engine;
using QuantSharp.Quantization.Sim;

namespace QuantSharp.Quantization.Tests.Techniques;

/// <summary>Shared helpers of the AdaQuant, sequential MSE and AutoQuant tests on the small Fashion-MNIST CNN.</summary>
internal static class AdaQuantTestData
{
    public const string Skip = "Fashion-MNIST is not installed (Debian package dataset-fashion-mnist; test.sh installs it)";

    public static Dictionary<string, Tensor> Feed(Tensor<float> x) => new() { ["image"] = x };

    /// <summary><paramref name="images"/> [N, 1, 28, 28] cut into batches of <paramref name="batch"/>.</summary>
    public static List<Tensor<float>> Batches(Tensor<float> images, int batch = 32)
    {
        var list = new List<Tensor<float>>();
        int per = images.Length / images.Dims[0];
        for (int s = 0; s < images.Dims[0]; s += batch)
        {
            int n = Math.Min(batch, images.Dims[0] - s);
            list.Add(new Tensor<float>(images.Data.AsSpan(s * per, n * per).ToArray(), n, 1, 28, 28));
        }
        return list;
    }

    /// <summary>An uncalibrated W{bits}A8 per-tensor sim (param quantizers narrowed below 4 bits directly).</summary>
    public static QuantizationSimModel Sim(Graph g, int bits)
    {
        var sim = new QuantizationSimModel(g, new QuantSimOptions { DefaultParamBw = Math.Max(4, bits), DefaultOutputBw = 8 });
        foreach (var q in sim.ParamQuantizers) q.BitWidth = bits;
        return sim;
    }

    /// <summary><see cref="Sim"/> with optional frozen param encodings, calibrated on <paramref name="calibration"/>.</summary>
    public static QuantizationSimModel Calibrated(Graph g, int bits, List<Tensor<float>> calibration, string? frozenEncodings = null)
    {
        var sim = Sim(g, bits);
        if (frozenEncodings is not null) sim.SetAndFreezeParamEncodings(frozenEncodings);
        sim.ComputeEncodings(s => { foreach (var b in calibration) s.Run(Feed(b)); });
        return sim;
    }

    /// <summary>Logits SQNR against FP32 and top-1 of a sim on the test images.</summary>
    public static (double Sqnr, double Top1) Measure(QuantizationSimModel sim, Tensor<float> fpLogits, Tensor<float> images, int[] labels)
    {
        var logits = sim.Run(images);
        return (ModelEvaluation.Compare("logits", fpLogits, logits).SqnrDb, ModelEvaluation.Evaluate(_ => logits, [(images, labels)]).Top1);
    }

    public static string TempDir(string name)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"{name}_{Environment.ProcessId}_{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }
}
