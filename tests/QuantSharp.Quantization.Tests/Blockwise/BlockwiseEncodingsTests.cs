using System.Text.Json;
using QuantSharp.Quantization.Config;
using QuantSharp.Quantization.Export;
using QuantSharp.Quantization.Sim;

namespace QuantSharp.Quantization.Tests.Blockwise;

/// <summary>Per-block encodings in AIMET encodings 1.0.0 (PER_BLOCK) and 2.0.0 (QuantizeLinear form), written and loaded back into a sim.</summary>
public sealed class BlockwiseEncodingsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("qs-blockenc-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static QuantizationSimModel Sim(bool symmetric)
    {
        var sim = new QuantizationSimModel(BlockwiseModels.EmbedMatMulGemm(),
            new QuantSimOptions { DefaultParamBw = 4, ParamBlockSize = 32, WeightOnly = true, ParamSymmetric = symmetric });
        return sim;
    }

    [Theory]
    [InlineData(EncodingsFormat.V1_0_0, true)]
    [InlineData(EncodingsFormat.V1_0_0, false)]
    [InlineData(EncodingsFormat.V2_0_0, true)]
    [InlineData(EncodingsFormat.V2_0_0, false)]
    public void PerBlockEncodings_WrittenAndLoadedBack_AreTheSameEncodings(EncodingsFormat format, bool symmetric)
    {
        var sim = Sim(symmetric);
        sim.ComputeEncodings(s => s.Run(BlockwiseModels.Ids(4)));
        string path = Path.Combine(_dir, "model.encodings");
        EncodingsJson.Save(sim.ToEncodingsFile(), path, format);

        var fresh = Sim(symmetric);
        fresh.LoadEncodings(path);
        foreach (var name in new[] { "table", "w1", "w2" })
        {
            var expected = sim.Quantizer(name).Encoding!;
            var loaded = fresh.Quantizer(name).Encoding!;
            Assert.Equal(expected, loaded);
            Assert.Equal(expected.ScaleShape.ToArray(), loaded.ScaleShape.ToArray());
        }
        var feeds = BlockwiseModels.Ids(3, seed: 9);
        Assert.Equal(sim.Run(feeds).Output("y").Data, fresh.Run(feeds).Output("y").Data);
    }

    [Fact]
    public void Version1_WritesPerBlockEntries_AsAimetDoes()
    {
        var sim = Sim(symmetric: true);
        sim.ComputeEncodings(s => s.Run(BlockwiseModels.Ids(4)));
        using var doc = JsonDocument.Parse(EncodingsJson.Write(sim.ToEncodingsFile(), EncodingsFormat.V1_0_0));
        var w1 = doc.RootElement.GetProperty("param_encodings").EnumerateArray().Single(e => e.GetProperty("name").GetString() == "w1");
        Assert.Equal("PER_BLOCK", w1.GetProperty("enc_type").GetString());
        Assert.Equal(32, w1.GetProperty("block_size").GetInt32());
        Assert.Equal(0, w1.GetProperty("axis").GetInt32());
        Assert.Equal(2 * BlockwiseModels.Hidden, w1.GetProperty("scale").GetArrayLength());
        Assert.All(w1.GetProperty("offset").EnumerateArray(), o => Assert.Equal(-8, o.GetInt32()));
    }

    [Fact]
    public void Version2_WritesTheQuantizeLinearForm_WithScalesNestedInTheBlockGrid()
    {
        var sim = Sim(symmetric: false);
        sim.ComputeEncodings(s => s.Run(BlockwiseModels.Ids(4)));
        using var doc = JsonDocument.Parse(EncodingsJson.Write(sim.ToEncodingsFile(), EncodingsFormat.V2_0_0));
        Assert.Equal("2.0.0", doc.RootElement.GetProperty("version").GetString());
        var w2 = doc.RootElement.GetProperty("param_encodings").EnumerateArray().Single(e => e.GetProperty("name").GetString() == "w2");
        Assert.Equal("uint4", w2.GetProperty("output_dtype").GetString());
        Assert.Equal(1, w2.GetProperty("axis").GetInt32());
        Assert.Equal(32, w2.GetProperty("block_size").GetInt32());
        var scale = w2.GetProperty("y_scale");
        Assert.Equal(BlockwiseModels.Out, scale.GetArrayLength());
        Assert.Equal(2, scale[0].GetArrayLength());
        Assert.All(w2.GetProperty("y_zero_point").EnumerateArray().SelectMany(r => r.EnumerateArray()), z => Assert.InRange(z.GetInt32(), 0, 15));
    }

    [Fact]
    public void LoadingAPerBlockEncodingIntoAPerChannelQuantizer_IsRefusedNamingBothGranularities()
    {
        var sim = Sim(symmetric: true);
        sim.ComputeEncodings(s => s.Run(BlockwiseModels.Ids(4)));
        string path = Path.Combine(_dir, "blocked.encodings");
        EncodingsJson.Save(sim.ToEncodingsFile(), path);
        var perChannel = new QuantizationSimModel(BlockwiseModels.EmbedMatMulGemm(), new QuantSimOptions { DefaultParamBw = 4, WeightOnly = true, Config = QuantizerConfig.Named("per_channel") });
        var ex = Assert.Throws<InvalidDataException>(() => perChannel.LoadEncodings(path));
        Assert.Contains("per-block(axis=", ex.Message);
    }
}
