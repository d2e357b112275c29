using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Quantization.Config;
using QuantSharp.Quantization.Encodings;
using QuantSharp.Quantization.Sim;

namespace QuantSharp.Quantization.Tests.Blockwise;

/// <summary>Per-block weight quantization in the sim: layout, round-to-nearest encodings, weight-only placement, fake quantization.</summary>
public sealed class BlockwiseSimTests
{
    [Fact]
    public void MinMaxEncoding_GivesEachBlockItsOwnRange_AlongTheBlockAxis()
    {
        // W [4, 2] blocked along axis 0 with size 2: blocks {rows 0-1} and {rows 2-3} per column.
        var w = Tensor.FromArray(new[] { 1f, -0.5f, 0.5f, 0.3f, -4f, 2f, 3f, 1f }, 4, 2);
        var e = BlockQuantization.MinMaxEncoding(w, axis: 0, blockSize: 2, bitWidth: 4, symmetric: true);
        Assert.Equal(new QuantGranularity.PerBlock(0, 2), e.Granularity);
        Assert.Equal([2, 2], e.ScaleShape.ToArray());
        // Symmetric 4-bit: scale = absmax / 7, offset −8; entries row-major over [blocks, columns].
        Assert.Equal([1.0 / 7, 0.5 / 7, 4.0 / 7, 2.0 / 7], e.Scales.ToArray(), new ToleranceComparer(1e-12));
        Assert.All(e.Offsets, o => Assert.Equal(-8, o));
        var fq = BlockQuantization.FakeQuantize(w, e);
        // 0.3 in block (0, col 1) with scale 0.5/7: round(4.2) = 4 → 4·0.5/7; −4 is its block's absmax, on the grid (−7·4/7).
        Assert.Equal((float)(4 * (0.5 / 7)), fq.Data[3], 6);
        Assert.Equal(-4f, fq.Data[4], 5);
    }

    [Fact]
    public void WeightOnlySim_BlocksMatMulGemmAndGatherWeights_AlongTheirInputAxes_AndLeavesEverythingElseFloat()
    {
        var sim = new QuantizationSimModel(BlockwiseModels.EmbedMatMulGemm(),
            new QuantSimOptions { DefaultParamBw = 4, ParamBlockSize = 32, WeightOnly = true });
        Assert.Equal(new QuantGranularity.PerBlock(1, 32), sim.Quantizer("table").Granularity);
        Assert.Equal(new QuantGranularity.PerBlock(0, 32), sim.Quantizer("w1").Granularity);
        Assert.Equal(new QuantGranularity.PerBlock(1, 32), sim.Quantizer("w2").Granularity);
        Assert.All(sim.Quantizers.Values.Where(q => q.Enabled), q => Assert.True(q.IsPerBlock, q.ToString()));
        Assert.Equal(3, sim.Quantizers.Values.Count(q => q.Enabled));
        sim.ComputeEncodings(s => s.Run(BlockwiseModels.Ids(4)));
        Assert.Equal(2 * BlockwiseModels.Hidden, sim.Quantizer("w1").Encoding!.Channels);
        Assert.Equal([BlockwiseModels.Vocab, 2], sim.Quantizer("table").Encoding!.ScaleShape.ToArray());
    }

    [Fact]
    public void PerBlockSim_FakeQuantizesWeightsPerBlock_SoItIsCloserToFloatThanPerChannel()
    {
        var graph = BlockwiseModels.EmbedMatMulGemm();
        var feeds = BlockwiseModels.Ids(16);
        var reference = new Session(graph).Run(feeds).Output("y");
        double Error(QuantSimOptions o)
        {
            var sim = new QuantizationSimModel(graph, o);
            sim.ComputeEncodings(s => s.Run(feeds));
            var y = sim.Run(feeds).Output("y");
            return y.Data.Zip(reference.Data, (a, b) => (double)(a - b) * (a - b)).Sum();
        }
        double blocked = Error(new QuantSimOptions { DefaultParamBw = 4, ParamBlockSize = 16, WeightOnly = true });
        double perChannel = Error(new QuantSimOptions { DefaultParamBw = 4, WeightOnly = true, Config = QuantizerConfig.Named("per_channel") });
        Assert.True(blocked > 0, "a 4-bit sim must differ from float");
        Assert.True(blocked < perChannel, $"per-block error {blocked} expected below per-channel error {perChannel}");
    }

    [Fact]
    public void PerBlockQuantizer_RefusesAnEncodingOfAnotherGranularity_NamingBoth()
    {
        var q = new SimQuantizer("w", QuantizerRole.Param, "w", 4, true) { Granularity = new QuantGranularity.PerBlock(0, 32) };
        var ex = Assert.Throws<ArgumentException>(() => q.Encoding = Encoding.FromMinMax(-1, 1, 4, true));
        Assert.Contains("per-block(axis=0, size=32)", ex.Message);
    }

    [Fact]
    public void Options_RefuseABlockSizeBelowOne()
    {
        var ex = Assert.Throws<ArgumentException>(() => new QuantizationSimModel(BlockwiseModels.EmbedMatMulGemm(), new QuantSimOptions { ParamBlockSize = 0 }));
        Assert.Contains("ParamBlockSize", ex.Message);
    }

    private sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double a, double b) => Math.Abs(a - b) <= tolerance;
        public int GetHashCode(double v) => 0;
    }
}
