using QuantSharp.Quantization.Encodings;

namespace QuantSharp.Quantization.Tests.Encodings;

/// <summary>Bad input to the encoding factories throws ArgumentException naming the argument, expected and actual.</summary>
public class EncodingBadInputTests
{
    private static void AssertNames(ArgumentException ex, string arg, string actual)
    {
        Assert.Equal(arg, ex.ParamName);
        Assert.Contains($"argument '{arg}'", ex.Message);
        Assert.Contains(actual, ex.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(33)]
    public void FromMinMax_BadBitWidth_NamesBitWidth(int bw) =>
        AssertNames(Assert.Throws<ArgumentException>(() => Encoding.FromMinMax(-1, 1, bw)), "bitWidth", $"got {bw}");

    [Fact]
    public void FromMinMax_MinAboveMax_NamesMin() =>
        AssertNames(Assert.Throws<ArgumentException>(() => Encoding.FromMinMax(2, 1, 8)), "min", "got 2");

    [Fact]
    public void FromMinMax_NaNOrInfinity_NamesTheArgument()
    {
        AssertNames(Assert.Throws<ArgumentException>(() => Encoding.FromMinMax(double.NaN, 1, 8)), "min", "NaN");
        AssertNames(Assert.Throws<ArgumentException>(() => Encoding.FromMinMax(-1, double.NaN, 8)), "max", "NaN");
        AssertNames(Assert.Throws<ArgumentException>(() => Encoding.FromMinMax(-1, double.PositiveInfinity, 8)), "max", "Infinity");
    }

    [Fact]
    public void FromMinMaxPerChannel_BadChannel_NamesArgumentAndChannel()
    {
        AssertNames(Assert.Throws<ArgumentException>(() => Encoding.FromMinMaxPerChannel([-1.0, 3.0], [1.0, 2.0], 0, 8)), "min", "at channel 1");
        AssertNames(Assert.Throws<ArgumentException>(() => Encoding.FromMinMaxPerChannel([-1.0, 0.0], [1.0, double.NaN], 0, 8)), "max", "NaN at channel 1");
        AssertNames(Assert.Throws<ArgumentException>(() => Encoding.FromMinMaxPerChannel([-1.0, 0.0], [1.0], 0, 8)), "max", "got 1");
        AssertNames(Assert.Throws<ArgumentException>(() => Encoding.FromMinMaxPerChannel([], [], 0, 8)), "min", "empty");
        AssertNames(Assert.Throws<ArgumentException>(() => Encoding.FromMinMaxPerChannel([-1.0], [1.0], 0, 0)), "bitWidth", "got 0");
    }

    [Fact]
    public void FromAmax_BadAmaxOrBits_NamesTheArgument()
    {
        AssertNames(Assert.Throws<ArgumentException>(() => Encoding.FromAmax(0.0)), "amax", "got 0");
        AssertNames(Assert.Throws<ArgumentException>(() => Encoding.FromAmax(double.NaN)), "amax", "NaN");
        AssertNames(Assert.Throws<ArgumentException>(() => Encoding.FromAmax(1.0, 33)), "numBits", "got 33");
        AssertNames(Assert.Throws<ArgumentException>(() => Encoding.FromAmaxPerChannel([1.0, -1.0], 0)), "amax", "-1 at channel 1");
    }

    [Fact]
    public void FloatType_BadBitWidth_NamesBitWidth() =>
        AssertNames(Assert.Throws<ArgumentException>(() => Encoding.FloatType(8)), "bitWidth", "got 8");

    [Fact]
    public void PerChannelEncoding_SingleValueAccessors_Throw()
    {
        var e = Encoding.FromMinMaxPerChannel([-1.0, 0.0], [1.0, 2.0], 0, 8);
        Assert.Contains("per-channel", Assert.Throws<InvalidOperationException>(() => e.Scale).Message);
        Assert.Throws<InvalidOperationException>(() => e.Offset);
    }

    [Fact]
    public void FromScaleOffset_BadScaleOrOffset_NamesTheArgument()
    {
        AssertNames(Assert.Throws<ArgumentException>(() => Encoding.FromScaleOffset(0.0, 0, 8)), "scale", "got 0");
        AssertNames(Assert.Throws<ArgumentException>(() => Encoding.FromScaleOffset(double.NaN, 0, 8)), "scale", "NaN");
        AssertNames(Assert.Throws<ArgumentException>(() => Encoding.FromScaleOffset(0.1, 1, 8)), "offset", "got 1");
        AssertNames(Assert.Throws<ArgumentException>(() => Encoding.FromScaleOffset(0.1, -256, 8)), "offset", "got -256");
        AssertNames(Assert.Throws<ArgumentException>(() => Encoding.FromScaleOffset(0.1, -100, 8, symmetric: true)), "offset", "expected -128");
        AssertNames(Assert.Throws<ArgumentException>(() => Encoding.FromScaleOffset(0.1, 0, 33)), "bitWidth", "got 33");
    }
}
