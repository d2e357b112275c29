using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;

namespace QuantSharp.Engine.Tests.Kernels;

public class ConvParamsTests
{
    private static void AssertMessage(Action act, params string[] parts)
    {
        var ex = Assert.Throws<ShapeException>(act);
        foreach (var part in parts) Assert.Contains(part, ex.Message);
    }

    private static Tensor<float> T(params int[] shape) => new(shape);

    [Fact]
    public void ConvParams_NegativePad_ThrowsNamingPads()
    {
        AssertMessage(() => new ConvParams([1, 1], [0, -1], [0, 0], [1, 1]), "ConvParams", "'padsBegin'", "every pad >= 0", "[0,-1]");
        AssertMessage(() => ConvParams.Uniform(2, pad: -2), "ConvParams", "'padsBegin'", "[-2,-2]");
    }

    [Fact]
    public void ConvParams_ZeroStrideOrDilation_Throws()
    {
        AssertMessage(() => ConvParams.Uniform(2, stride: 0), "ConvParams", "'strides'", "every stride >= 1", "[0,0]");
        AssertMessage(() => ConvParams.Uniform(1, dilation: 0), "ConvParams", "'dilations'", "every dilation >= 1", "[0]");
        AssertMessage(() => ConvParams.Uniform(2, groups: 0), "ConvParams", "'groups'", ">= 1", "got 0");
    }

    [Fact]
    public void ConvParams_MismatchedArrayLengths_Throws()
    {
        AssertMessage(() => new ConvParams([1, 1], [0], [0, 0], [1, 1]), "'padsBegin'", "2 entries", "got 1");
        AssertMessage(() => ConvParams.FromOnnx(2, null, [1, 1, 1], null), "'pads'", "4 entries", "[1,1,1]");
        AssertMessage(() => ConvParams.Uniform(4), "'spatialRank'", "1 to 3", "got 4");
    }

    [Fact]
    public void ConvParams_FromOnnx_SplitsBeginsThenEnds()
    {
        var p = ConvParams.FromOnnx(2, [2, 1], [1, 2, 3, 4], null, 2);
        Assert.Equal([1, 2], p.PadsBegin.ToArray());
        Assert.Equal([3, 4], p.PadsEnd.ToArray());
        Assert.Equal([1, 1], p.Dilations.ToArray());
        Assert.Equal(new ConvParams([2, 1], [1, 2], [3, 4], [1, 1], 2), p);
    }

    [Fact]
    public void Conv_ChannelsNotDivisibleByGroups_Throws()
    {
        AssertMessage(() => Conv.Forward(T(1, 6, 5, 5), T(4, 2, 3, 3), null, ConvParams.Uniform(2, groups: 4)),
            "Conv:", "'groups'", "a divisor of the input channel count 6", "got 4");
        AssertMessage(() => Conv.Forward(T(1, 6, 5, 5), T(4, 3, 3, 3), null, ConvParams.Uniform(2, groups: 3)),
            "Conv:", "'groups'", "output channel count 4", "got 3");
    }

    [Fact]
    public void Conv_WeightChannelMismatch_Throws()
    {
        AssertMessage(() => Conv.Forward(T(1, 4, 5, 5), T(2, 3, 3, 3), null, ConvParams.Uniform(2)),
            "Conv:", "'weight'", "dim 1 = input channels / groups = 4", "[2,3,3,3]");
    }

    [Fact]
    public void Conv_KernelLargerThanPaddedInput_Throws()
    {
        AssertMessage(() => Conv.Forward(T(1, 1, 3, 3), T(1, 1, 5, 5), null, ConvParams.Uniform(2)),
            "Conv:", "'weight'", "padded input 3 on spatial axis 0", "extent 5");
        AssertMessage(() => Conv.Forward(T(1, 1, 9), T(1, 1, 3), null, ConvParams.Uniform(1, dilation: 5)),
            "Conv:", "'weight'", "padded input 9", "extent 11");
    }

    [Fact]
    public void Conv_WrongRanks_Throw()
    {
        AssertMessage(() => Conv.Forward(T(1, 2, 5, 5), T(3, 4), null, ConvParams.Uniform(2)),
            "Conv: argument 'weight' expected rank 4, got shape [3,4] (rank 2)");
        AssertMessage(() => Conv.Forward(T(2, 5), T(3, 2, 3), null, ConvParams.Uniform(1)), "Conv:", "'input'", "rank 3..5", "[2,5]");
        AssertMessage(() => Conv.Forward(T(1, 2, 5, 5), T(3, 2, 3, 3), null, ConvParams.Uniform(1)), "Conv:", "'params'", "2 spatial axes", "got 1");
    }

    [Fact]
    public void Conv_BiasOrGradientOfWrongShape_Throws()
    {
        AssertMessage(() => Conv.Forward(T(1, 2, 5, 5), T(3, 2, 3, 3), T(2), ConvParams.Uniform(2)), "Conv:", "'bias'", "shape [3]", "[2]");
        AssertMessage(() => Conv.BackwardData(T(1, 3, 4, 4), T(3, 2, 3, 3), [1, 2, 5, 5], ConvParams.Uniform(2)),
            "Conv.BackwardData", "'gradOutput'", "[1,3,3,3]", "[1,3,4,4]");
        AssertMessage(() => Conv.BackwardWeight(T(1, 2, 5, 5), T(1, 3, 3, 2), [3, 2, 3, 3], ConvParams.Uniform(2)),
            "Conv.BackwardWeight", "'gradOutput'", "[1,3,3,3]", "[1,3,3,2]");
        AssertMessage(() => Conv.BackwardBias(T(3, 4)), "Conv.BackwardBias", "'gradOutput'", "rank 3..5");
    }

    [Fact]
    public void ConvTranspose_BadOutputPaddingOrWeight_Throws()
    {
        AssertMessage(() => Conv.Transpose(T(1, 2, 4), T(2, 3, 3), null, ConvParams.Uniform(1, stride: 2), [2]),
            "ConvTranspose:", "'outputPadding'", "max(stride, dilation) = 2", "[2]");
        AssertMessage(() => Conv.Transpose(T(1, 2, 4), T(3, 3, 3), null, ConvParams.Uniform(1)),
            "ConvTranspose:", "'weight'", "dim 0 = input channels 2", "[3,3,3]");
        AssertMessage(() => Conv.Transpose(T(1, 2, 2), T(2, 1, 1), null, ConvParams.Uniform(1, pad: 1)),
            "ConvTranspose:", "'params'", "output size >= 1", "size 0");
    }

    [Fact]
    public void AutoPad_SameUpperAndLower_PutOddCellAtEndOrBeginning()
    {
        var upper = ConvParams.AutoPad(AutoPadMode.SameUpper, [6, 5], [3, 3], [2, 2], [1, 1]);
        Assert.Equal([0, 1], upper.PadsBegin.ToArray());
        Assert.Equal([1, 1], upper.PadsEnd.ToArray());
        var lower = ConvParams.AutoPad(AutoPadMode.SameLower, [6, 5], [3, 3], [2, 2], [1, 1]);
        Assert.Equal([1, 1], lower.PadsBegin.ToArray());
        Assert.Equal([0, 1], lower.PadsEnd.ToArray());
        // SAME: out = ceil(in / stride).
        Assert.Equal([1, 1, 3, 3], upper.OutputShape([1, 1, 6, 5], [1, 1, 3, 3]));
        var valid = ConvParams.AutoPad(AutoPadMode.Valid, [6], [3], [1], [1]);
        Assert.Equal([0], valid.PadsBegin.ToArray());
        Assert.Equal([1, 1, 4], valid.OutputShape([1, 1, 6], [1, 1, 3]));
    }

    [Fact]
    public void ForTransposeOutputShape_ProducesRequestedShape()
    {
        // in 3, k 3, stride 2 → natural size 7; asking for 6 needs a total pad of 1 (end unless SAME_UPPER).
        var p = ConvParams.ForTransposeOutputShape([3], [3], [6], [2], [1]);
        Assert.Equal([0], p.PadsBegin.ToArray());
        Assert.Equal([1], p.PadsEnd.ToArray());
        Assert.Equal([1, 1, 6], p.TransposeOutputShape([1, 1, 3], [1, 1, 3]));
        var upper = ConvParams.ForTransposeOutputShape([3], [3], [6], [2], [1], sameUpper: true);
        Assert.Equal([1], upper.PadsBegin.ToArray());
        AssertMessage(() => ConvParams.ForTransposeOutputShape([3], [3], [9], [2], [1]), "ConvTranspose", "'output_shape'", "at most 7", "9");
    }
}
