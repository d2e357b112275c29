using QuantSharp.Engine;
using QuantSharp.Quantization.Encodings;
using QuantSharp.Quantization.Export;
using QuantSharp.Quantization.Sim;

namespace QuantSharp.Quantization.Tests.Sim;

/// <summary><c>LoadEncodings(strict: true)</c> refuses a file made for other quantizer settings (AIMET's strict load_encodings).</summary>
public sealed class StrictLoadEncodingsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("qs-strict-enc-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>An 8-bit sim of the small CNN calibrated on random images.</summary>
    private static QuantizationSimModel Calibrated(int bits = 8)
    {
        var sim = new QuantizationSimModel(SimTestModels.SmallCnn(1), new QuantSimOptions { DefaultParamBw = bits, DefaultOutputBw = bits, QuantScheme = QuantScheme.PostTrainingTf });
        var x = Tensor.RandomUniform(new Random(2), 0f, 1f, 8, 1, 28, 28);
        sim.ComputeEncodings(s => s.Run(new Dictionary<string, Tensor> { ["image"] = x }));
        return sim;
    }

    private string Save(EncodingsFile file, string name)
    {
        string path = Path.Combine(_dir, name);
        EncodingsJson.Save(file, path, EncodingsFormat.V1_0_0);
        return path;
    }

    [Fact]
    public void FourBitFile_IntoAnEightBitSim_IsRefused_NamingTheTensorAndBothBitWidths_AndLeavesTheSimUnchanged()
    {
        string file = Save(Calibrated(bits: 4).ToEncodingsFile(), "w4a4.encodings");
        var sim = Calibrated();
        var before = sim.Quantizer("conv1.weight").Encoding;
        var ex = Assert.Throws<InvalidDataException>(() => sim.LoadEncodings(file));
        Assert.Contains(file, ex.Message);
        Assert.Contains("bitwidth 4 in the file, 8 in the sim", ex.Message);
        Assert.Matches("encoding '[^']+' has bitwidth", ex.Message);
        Assert.Equal(before, sim.Quantizer("conv1.weight").Encoding);

        // Not strict: the file's settings are taken.
        sim.LoadEncodings(file, strict: false);
        Assert.Equal(4, sim.Quantizer("conv1.weight").BitWidth);
        Assert.Equal(4, sim.Quantizer("conv1.weight").Encoding!.BitWidth);
    }

    [Fact]
    public void AsymmetricFile_ForASymmetricWeightQuantizer_IsRefused_NamingTheTensorAndBothValues()
    {
        var sim = Calibrated();
        var file = sim.ToEncodingsFile();
        var parameters = new Dictionary<string, Encoding>(file.ParamEncodings) { ["conv2.weight"] = Encoding.FromMinMax(-0.3, 0.5, 8, symmetric: false) };
        string path = Save(file with { ParamEncodings = parameters }, "asym.encodings");
        var ex = Assert.Throws<InvalidDataException>(() => sim.LoadEncodings(path));
        Assert.Contains("'conv2.weight'", ex.Message);
        Assert.Contains("symmetric false in the file, true in the sim", ex.Message);
    }

    [Fact]
    public void FloatFile_ForAnIntegerQuantizer_IsRefused_NamingBothDtypes()
    {
        var sim = Calibrated();
        var file = sim.ToEncodingsFile();
        string name = file.ActivationEncodings.Keys.First();
        var activations = new Dictionary<string, Encoding>(file.ActivationEncodings) { [name] = Encoding.FloatType(16) };
        string path = Save(file with { ActivationEncodings = activations }, "fp16.encodings");
        var ex = Assert.Throws<InvalidDataException>(() => sim.LoadEncodings(path));
        Assert.Contains($"'{name}'", ex.Message);
        Assert.Contains("dtype Float in the file, Int in the sim", ex.Message);
    }

    [Fact]
    public void MatchingFile_LoadsStrictly_IntoAFreshSim()
    {
        string file = Save(Calibrated().ToEncodingsFile(), "same.encodings");
        var fresh = new QuantizationSimModel(SimTestModels.SmallCnn(1), new QuantSimOptions { QuantScheme = QuantScheme.PostTrainingTf });
        fresh.LoadEncodings(file);
        Assert.NotNull(fresh.Quantizer("conv1.weight").Encoding);
    }
}
