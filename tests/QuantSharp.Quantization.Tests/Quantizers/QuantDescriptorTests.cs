using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;
using QuantSharp.Quantization.Quantizers;

namespace QuantSharp.Quantization.Tests.Quantizers;

public class QuantDescriptorTests
{
    [Fact]
    public void Default_Is8BitFakePerTensorMaxSignedFullRange()
    {
        var d = QuantDescriptor.Default;
        Assert.Equal(8, d.NumBits);
        Assert.True(d.FakeQuant);
        Assert.True(d.PerTensor);
        Assert.Empty(d.Axis);
        Assert.Null(d.Amax);
        Assert.Equal("max", d.CalibMethod);
        Assert.False(d.Unsigned);
        Assert.False(d.NarrowRange);
        Assert.Null(d.FloatFormat);
        Assert.Equal("QuantDescriptor(8bit fake per-tensor)", d.ToString());
    }

    [Fact]
    public void Predefined_WeightDescriptorsKeepAxis0_InputUsesHistogram()
    {
        Assert.Equal(new[] { 0 }, QuantDescriptor.ConvWeightPerChannel.Axis);
        Assert.Equal(new[] { 0 }, QuantDescriptor.LinearWeightPerChannel.Axis);
        Assert.Equal(new[] { 0 }, QuantDescriptor.ConvTransposeWeightPerChannel.Axis);
        Assert.Equal("histogram", QuantDescriptor.InputHistogram.CalibMethod);
        Assert.True(QuantDescriptor.Unsigned8BitPerTensor.Unsigned);
        Assert.Equal("QuantDescriptor(8bit fake axis=(0))", QuantDescriptor.ConvWeightPerChannel.ToString());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(17)]
    [InlineData(33)]
    public void Constructor_BitsOutOfRange_NamesFieldExpectedAndGot(int bits)
    {
        var e = Assert.Throws<ArgumentException>(() => new QuantDescriptor(numBits: bits));
        Assert.Contains("'numBits'", e.Message);
        Assert.Contains("2..16", e.Message);
        Assert.Contains($"got {bits}", e.Message);
    }

    [Fact]
    public void Constructor_UnknownCalibMethod_NamesIt()
    {
        var e = Assert.Throws<ArgumentException>(() => new QuantDescriptor(calibMethod: "foo"));
        Assert.Contains("'calibMethod'", e.Message);
        Assert.Contains("\"max\" or \"histogram\"", e.Message);
        Assert.Contains("\"foo\"", e.Message);
    }

    [Fact]
    public void Constructor_NegativeAmax_NamesIndex()
    {
        var e = Assert.Throws<ArgumentException>(() => new QuantDescriptor(axis: [0], amax: [1f, -0.5f]));
        Assert.Contains("'amax'", e.Message);
        Assert.Contains("-0.5 at index 1", e.Message);
        Assert.Throws<ArgumentException>(() => new QuantDescriptor(amax: [float.NaN]));
    }

    [Fact]
    public void Constructor_DuplicateAxes_IsAnError()
    {
        var e = Assert.Throws<ArgumentException>(() => new QuantDescriptor(axis: [1, 1]));
        Assert.Contains("'axis'", e.Message);
        Assert.Contains("(1, 1)", e.Message);
    }

    [Fact]
    public void Constructor_LearnAmaxWithAxis_OrFp8WithBadFields_IsAnError()
    {
        Assert.Contains("'learnAmax'", Assert.Throws<ArgumentException>(() => new QuantDescriptor(axis: [0], learnAmax: true)).Message);
        Assert.Contains("'axis'", Assert.Throws<ArgumentException>(() => new QuantDescriptor(axis: [0, 1], floatFormat: FloatFormat.E4M3)).Message);
        Assert.Contains("'floatFormat'", Assert.Throws<ArgumentException>(() => new QuantDescriptor(floatFormat: FloatFormat.Float16)).Message);
        Assert.Contains("'numBits'", Assert.Throws<ArgumentException>(() => new QuantDescriptor(numBits: 4, floatFormat: FloatFormat.E5M2)).Message);
        Assert.Contains("'scaleAmax'", Assert.Throws<ArgumentException>(() => new QuantDescriptor(scaleAmax: 0f)).Message);
        Assert.Contains("'amax'", Assert.Throws<ArgumentException>(() => new QuantDescriptor(amax: [1f, 2f])).Message);
    }

    [Fact]
    public void Validate_AxisOutOfRangeForRank_IsAShapeError()
    {
        var d = new QuantDescriptor(axis: [0, -1]);
        Assert.Equal(new[] { 0, 3 }, d.Validate(4));
        var e = Assert.Throws<ShapeException>(() => new QuantDescriptor(axis: [4]).Validate(4));
        Assert.Contains("[-4, 3]", e.Message);
        Assert.Contains("got (4)", e.Message);
        Assert.Contains("both name axis 1", Assert.Throws<ShapeException>(() => new QuantDescriptor(axis: [1, -1]).Validate(2)).Message);
    }

    [Fact]
    public void ToString_ListsNonDefaultFields()
    {
        var d = new QuantDescriptor(numBits: 4, name: "w", fakeQuant: false, axis: [0], amax: [1f, 2f], scaleAmax: 2f, unsigned: true,
            narrowRange: true, calibMethod: "histogram");
        Assert.Equal("w: (unsigned 4bit real axis=(0) amax=[1.00e+00, 2.00e+00] scale_amax=2 narrow calib=histogram)", d.ToString());
        Assert.Equal("QuantDescriptor(E4M3 fake per-tensor)", new QuantDescriptor(floatFormat: FloatFormat.E4M3).ToString());
    }

    public static TheoryData<QuantDescriptor> RoundTripCases() =>
    [
        QuantDescriptor.Default,
        QuantDescriptor.ConvWeightPerChannel,
        QuantDescriptor.InputHistogram,
        new QuantDescriptor(numBits: 4, name: "w", fakeQuant: false, axis: [0, 1], amax: [0.7817f, 0.1f, 3f], scaleAmax: 1.5f, unsigned: true, narrowRange: true),
        new QuantDescriptor(amax: [0.7817f], learnAmax: true),
        new QuantDescriptor(floatFormat: FloatFormat.E4M3, amax: [448f]),
        new QuantDescriptor(floatFormat: FloatFormat.E5M2, name: "act"),
    ];

    [Theory]
    [MemberData(nameof(RoundTripCases))]
    public void Dictionary_RoundTrip_GivesAnEqualDescriptor(QuantDescriptor d) =>
        Assert.Equal(d, QuantDescriptor.FromDictionary(d.ToDictionary()));

    [Theory]
    [MemberData(nameof(RoundTripCases))]
    public void Yaml_RoundTrip_GivesAnEqualDescriptor(QuantDescriptor d) =>
        Assert.Equal(d, QuantDescriptor.FromYaml(d.ToYaml()));

    [Fact]
    public void ToDictionary_UsesPytorchKeysAndLeavesOutDefaults()
    {
        var d = new QuantDescriptor(axis: [0], fakeQuant: false).ToDictionary();
        Assert.Equal(new[] { "num_bits", "name", "fake_quant", "axis" }, d.Keys);
        Assert.Equal(8, d["num_bits"]);
        Assert.Null(d["name"]);
        Assert.Equal(new List<int> { 0 }, d["axis"]);
        Assert.Equal(new List<int> { 4, 3 }, new QuantDescriptor(floatFormat: FloatFormat.E4M3).ToDictionary()["num_bits"]);
    }

    [Fact]
    public void FromYaml_PytorchStyleDocument_Parses()
    {
        var d = QuantDescriptor.FromYaml("num_bits: 6\nname: conv1.weight\naxis: [0]\nunsigned: true\nscale_amax: 0.5\n");
        Assert.Equal(new QuantDescriptor(numBits: 6, name: "conv1.weight", axis: [0], unsigned: true, scaleAmax: 0.5f), d);
        // pytorch writes axis=(0) as the bare int 0 in a dictionary
        Assert.Equal(new[] { 0 }, QuantDescriptor.FromDictionary(new Dictionary<string, object?> { ["axis"] = 0 }).Axis);
    }

    [Fact]
    public void FromDictionary_UnknownKey_NamesItAndListsAllowedKeys()
    {
        var e = Assert.Throws<ArgumentException>(() => QuantDescriptor.FromDictionary(new Dictionary<string, object?> { ["num_bit"] = 8 }));
        Assert.Contains("'num_bit'", e.Message);
        Assert.Contains("num_bits, name, fake_quant, axis, amax, learn_amax, scale_amax, calib_method, unsigned, narrow_range", e.Message);
        Assert.Contains("'foo'", Assert.Throws<ArgumentException>(() => QuantDescriptor.FromYaml("foo: 1\n")).Message);
    }

    [Fact]
    public void FromDictionary_BadValues_AreErrorsNamingTheKey()
    {
        Assert.Contains("'num_bits'", Assert.Throws<ArgumentException>(() => QuantDescriptor.FromYaml("num_bits: eight\n")).Message);
        Assert.Contains("'num_bits'", Assert.Throws<ArgumentException>(() => QuantDescriptor.FromYaml("num_bits: 33\n")).Message);
        Assert.Contains("'fake_quant'", Assert.Throws<ArgumentException>(() => QuantDescriptor.FromYaml("fake_quant: maybe\n")).Message);
        Assert.Contains("[3, 4]", Assert.Throws<ArgumentException>(() => QuantDescriptor.FromYaml("num_bits: [3, 4]\n")).Message);
        Assert.Contains("'calibMethod'", Assert.Throws<ArgumentException>(() => QuantDescriptor.FromYaml("calib_method: foo\n")).Message);
        Assert.Contains("malformed YAML", Assert.Throws<ArgumentException>(() => QuantDescriptor.FromYaml("num_bits: [8\n")).Message);
    }
}
