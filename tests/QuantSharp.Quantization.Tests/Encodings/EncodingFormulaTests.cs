using QuantSharp.Quantization.Encodings;

namespace QuantSharp.Quantization.Tests.Encodings;

/// <summary>AIMET's encoding formulas, pinned with hand-computed numbers chosen to be exact in binary.</summary>
public class EncodingFormulaTests
{
    [Fact]
    public void Asymmetric8Bit_ScaleIsRangeOver255_OffsetIsRoundedMinOverScale()
    {
        // (2.984375 − (−1)) / 255 = (255/64) / 255 = 1/64; offset = round(−1 · 64) = −64.
        var e = Encoding.FromMinMax(-1.0, 2.984375, 8);
        Assert.Equal(0.015625, e.Scale);
        Assert.Equal(-64L, e.Offset);
        Assert.Equal(-1.0, e.Min);
        Assert.Equal(2.984375, e.Max);
        Assert.Equal(255L, e.Steps);
        Assert.False(e.Symmetric);
        Assert.False(e.IsPerChannel);
        Assert.Equal(EncodingDataType.Int, e.DataType);
    }

    [Fact]
    public void MinMax_AreWidenedToContainZero()
    {
        var positive = Encoding.FromMinMax(0.5, 3.984375, 8);
        Assert.Equal((0.0, 3.984375, 0.015625, 0L), (positive.Min, positive.Max, positive.Scale, positive.Offset));
        var negative = Encoding.FromMinMax(-3.984375, -1.0, 8);
        Assert.Equal((-3.984375, 0.0, 0.015625, -255L), (negative.Min, negative.Max, negative.Scale, negative.Offset));
    }

    [Fact]
    public void EmptyRange_IsGivenTheMinimumRange()
    {
        var e = Encoding.FromMinMax(0.0, 0.0, 8);
        Assert.Equal(0.0, e.Min);
        Assert.Equal(Encoding.MinRange / 255, e.Scale);
        Assert.Equal(0L, e.Offset);
        Assert.Equal(1e-5, e.Max, 15);
    }

    [Theory]
    [InlineData(-0.75, 6.75)] // min/scale = −1.5 → −2 (half to even)
    [InlineData(-1.25, 6.25)] // min/scale = −2.5 → −2 (half to even; away from zero would give −3)
    public void Asymmetric4Bit_TieInOffset_RoundsHalfToEven_AndGridIsRederived(double min, double max)
    {
        // scale = 7.5 / 15 = 0.5.
        var e = Encoding.FromMinMax(min, max, 4);
        Assert.Equal(0.5, e.Scale);
        Assert.Equal(-2L, e.Offset);
        Assert.Equal(-1.0, e.Min);
        Assert.Equal(6.5, e.Max);
        Assert.Equal(15L, e.Steps);
    }

    [Fact]
    public void Symmetric8Bit_ScaleIsAbsMaxOver127_OffsetMinus128()
    {
        // absmax = 1.984375 = 127/64 → scale = 1/64; min = −128/64 = −2, max = 127/64.
        var e = Encoding.FromMinMax(-1.984375, 1.0, 8, symmetric: true);
        Assert.Equal(0.015625, e.Scale);
        Assert.Equal(-128L, e.Offset);
        Assert.Equal(-2.0, e.Min);
        Assert.Equal(1.984375, e.Max);
        Assert.Equal(255L, e.Steps);
        Assert.True(e.Symmetric);
        Assert.False(e.StrictSymmetric);
    }

    [Fact]
    public void StrictSymmetric8Bit_OffsetMinus127_DropsLowestLevel()
    {
        var e = Encoding.FromMinMax(-1.0, 1.984375, 8, symmetric: true, strictSymmetric: true);
        Assert.Equal(0.015625, e.Scale);
        Assert.Equal(-127L, e.Offset);
        Assert.Equal(-1.984375, e.Min);
        Assert.Equal(1.984375, e.Max);
        Assert.Equal(254L, e.Steps);
        Assert.True(e.StrictSymmetric);
    }

    [Fact]
    public void Symmetric4Bit_ScaleIsAbsMaxOver7_OffsetMinus8_StrictMinus7()
    {
        var e = Encoding.FromMinMax(-0.5, 0.875, 4, symmetric: true);
        Assert.Equal((0.125, -8L, -1.0, 0.875, 15L), (e.Scale, e.Offset, e.Min, e.Max, e.Steps));
        var s = Encoding.FromMinMax(-0.5, 0.875, 4, symmetric: true, strictSymmetric: true);
        Assert.Equal((0.125, -7L, -0.875, 0.875, 14L), (s.Scale, s.Offset, s.Min, s.Max, s.Steps));
    }

    [Fact]
    public void UnsignedSymmetric_NonNegativeData_UsesUnsignedGrid()
    {
        // min widened to 0; scale = (255/128)/255 = 1/128, offset 0.
        var e = Encoding.FromMinMax(0.25, 1.9921875, 8, symmetric: true, unsignedSymmetric: true);
        Assert.Equal((0.0078125, 0L, 0.0, 1.9921875), (e.Scale, e.Offset, e.Min, e.Max));
        Assert.True(e.UnsignedSymmetric);
    }

    [Fact]
    public void UnsignedSymmetric_NegativeData_FallsBackToSignedGrid()
    {
        var e = Encoding.FromMinMax(-1.0, 1.984375, 8, symmetric: true, unsignedSymmetric: true);
        Assert.Equal((0.015625, -128L, -2.0, 1.984375), (e.Scale, e.Offset, e.Min, e.Max));
    }

    [Fact]
    public void PerChannel_EachChannelHasItsOwnEncoding()
    {
        var e = Encoding.FromMinMaxPerChannel([-0.875, -0.25], [0.5, 1.75], axis: 0, bitWidth: 4, symmetric: true);
        Assert.True(e.IsPerChannel);
        Assert.Equal(0, e.Axis);
        Assert.Equal(2, e.Channels);
        Assert.Equal([0.125, 0.25], e.Scales.ToArray());
        Assert.Equal([-8L, -8L], e.Offsets.ToArray());
        Assert.Equal([-1.0, -2.0], e.Mins.ToArray());
        Assert.Equal([0.875, 1.75], e.Maxs.ToArray());
    }

    [Fact]
    public void PerChannelAsymmetric_MatchesPerTensorFormulaPerChannel()
    {
        var e = Encoding.FromMinMaxPerChannel([-1.0, 0.5, -0.75], [2.984375, 3.984375, 6.75], axis: 1, bitWidth: 8);
        for (int c = 0; c < 3; c++)
        {
            var single = Encoding.FromMinMax(new[] { -1.0, 0.5, -0.75 }[c], new[] { 2.984375, 3.984375, 6.75 }[c], 8);
            Assert.Equal((single.Min, single.Max, single.Scale, single.Offset), (e.Mins[c], e.Maxs[c], e.Scales[c], e.Offsets[c]));
        }
        Assert.Equal([-64L, 0L], e.Offsets.Take(2).ToArray());
    }

    [Fact]
    public void Equality_ComparesAllFieldsAndChannels()
    {
        var a = Encoding.FromMinMaxPerChannel([-1.0, 0.5], [2.0, 3.0], 0, 8);
        var b = Encoding.FromMinMaxPerChannel([-1.0, 0.5], [2.0, 3.0], 0, 8);
        var c = Encoding.FromMinMaxPerChannel([-1.0, 0.5], [2.0, 3.5], 0, 8);
        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.NotEqual(a, c);
        Assert.NotEqual(Encoding.FromMinMax(-1, 1, 8, symmetric: true), Encoding.FromMinMax(-1, 1, 8, symmetric: true, strictSymmetric: true));
    }

    [Fact]
    public void FloatType_HasNoGrid()
    {
        var e = Encoding.FloatType(16);
        Assert.Equal(EncodingDataType.Float, e.DataType);
        Assert.Equal(16, e.BitWidth);
        Assert.Equal(0, e.Channels);
        Assert.Throws<InvalidOperationException>(() => e.Scale);
        Assert.Throws<InvalidOperationException>(() => e.ToQuantParams());
        Assert.Throws<InvalidOperationException>(() => e.ToOnnx(signed: true));
    }

    [Fact]
    public void UnsignedStrictSymmetric_Uses254Steps()
    {
        // 1.984375 = 254/128 → scale = 1/128.
        var e = Encoding.FromMinMax(0.5, 1.984375, 8, symmetric: true, strictSymmetric: true, unsignedSymmetric: true);
        Assert.Equal((0.0078125, 0L, 0.0, 1.984375, 254L), (e.Scale, e.Offset, e.Min, e.Max, e.Steps));
    }

    [Fact]
    public void FromScaleOffset_RederivesMinMax_AndEqualsFromMinMax()
    {
        var e = Encoding.FromScaleOffset(0.5, -2, 4);
        Assert.Equal((-1.0, 6.5), (e.Min, e.Max));
        Assert.Equal(Encoding.FromMinMax(-0.75, 6.75, 4), e);
        Assert.Equal(Encoding.FromMinMax(-1.984375, 1.0, 8, symmetric: true), Encoding.FromScaleOffset(0.015625, -128, 8, symmetric: true));
    }
}
