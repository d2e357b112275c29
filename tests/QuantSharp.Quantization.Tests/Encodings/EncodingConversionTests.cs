using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;
using QuantSharp.Quantization.Encodings;

namespace QuantSharp.Quantization.Tests.Encodings;

/// <summary>Encoding → ONNX scale/zero point, → engine QuantParams (through the shared kernel), ↔ pytorch-quantization amax.</summary>
public class EncodingConversionTests
{
    [Fact]
    public void ToOnnx_Symmetric8Bit_ZeroPoint128Unsigned_0Signed()
    {
        var e = Encoding.FromMinMax(-1.984375, 1.0, 8, symmetric: true);
        var u = e.ToOnnx(signed: false);
        var s = e.ToOnnx(signed: true);
        Assert.Equal([0.015625f], u.Scale);
        Assert.Equal([128], u.ZeroPoint);
        Assert.Equal([0], s.ZeroPoint);
        Assert.True(s.Signed);
        Assert.Null(s.Axis);
    }

    [Fact]
    public void ToOnnx_AsymmetricAndStrict_ZeroPointIsMinusOffset_ShiftedForSignedTypes()
    {
        var asym = Encoding.FromMinMax(-1.0, 2.984375, 8); // offset −64
        Assert.Equal([64], asym.ToOnnx(false).ZeroPoint);
        Assert.Equal([-64], asym.ToOnnx(true).ZeroPoint);
        var strict = Encoding.FromMinMax(-1.0, 1.984375, 8, symmetric: true, strictSymmetric: true); // offset −127
        Assert.Equal([127], strict.ToOnnx(false).ZeroPoint);
        Assert.Equal([-1], strict.ToOnnx(true).ZeroPoint);
        var tie4 = Encoding.FromMinMax(-0.75, 6.75, 4); // offset −2
        Assert.Equal([2], tie4.ToOnnx(false).ZeroPoint);
        Assert.Equal([-6], tie4.ToOnnx(true).ZeroPoint);
    }

    [Fact]
    public void ToOnnx_PerChannel_KeepsAxisAndOneEntryPerChannel()
    {
        var e = Encoding.FromMinMaxPerChannel([-0.875, -0.25], [0.5, 1.75], axis: 1, bitWidth: 4, symmetric: true);
        var o = e.ToOnnx(signed: true);
        Assert.Equal([0.125f, 0.25f], o.Scale);
        Assert.Equal([0, 0], o.ZeroPoint);
        Assert.Equal(1, o.Axis);
        Assert.Equal([8, 8], e.ToOnnx(signed: false).ZeroPoint);
    }

    [Fact]
    public void ToQuantParams_MapsOffsetToZeroPoint_AndRangeToSteps()
    {
        var p = Encoding.FromMinMax(-1.0, 2.984375, 8).ToQuantParams();
        Assert.Equal([0.015625f], p.Scale);
        Assert.Equal([64], p.ZeroPoint);
        Assert.Equal((0, 255), (p.QMin, p.QMax));
        var strict = Encoding.FromMinMax(-1.0, 1.984375, 8, symmetric: true, strictSymmetric: true).ToQuantParams();
        Assert.Equal((127, 0, 254), (strict.ZeroPoint[0], strict.QMin, strict.QMax));
    }

    [Fact]
    public void SharedKernel_ComputesAimetQuantization_WithHalfToEvenTies()
    {
        // scale 1/64, offset −64: q = clamp(round(64x) + 64, 0, 255); 0.0078125·64 = 0.5 → 0, 0.0234375·64 = 1.5 → 2.
        var p = Encoding.FromMinMax(-1.0, 2.984375, 8).ToQuantParams();
        var x = Tensor.FromArray(new[] { -1.5f, -1.0f, 0.0f, 0.0078125f, 0.0234375f, 1.0f, 3.0f, 10.0f }, 8);
        var q = QuantizeKernels.Quantize<byte>(x, p);
        Assert.Equal(new byte[] { 0, 0, 64, 64, 66, 128, 255, 255 }, q.Data);
        var fake = QuantizeKernels.FakeQuantize(x, p);
        Assert.Equal(new[] { -1.0f, -1.0f, 0.0f, 0.0f, 0.03125f, 1.0f, 2.984375f, 2.984375f }, fake.Data);
    }

    [Fact]
    public void SharedKernel_StrictSymmetric_ClipsToPlusMinus127Steps()
    {
        var p = Encoding.FromMinMax(-1.0, 1.984375, 8, symmetric: true, strictSymmetric: true).ToQuantParams();
        var fake = QuantizeKernels.FakeQuantize(Tensor.FromArray(new[] { -10f, -1.984375f, 0.5f, 10f }, 4), p);
        Assert.Equal(new[] { -1.984375f, -1.984375f, 0.5f, 1.984375f }, fake.Data);
    }

    [Fact]
    public void SharedKernel_PerChannelEncoding_UsesEachChannelsScale()
    {
        // Channels along axis 1 of a [2, 2] tensor: scales 0.125 and 0.25, offset −8 (4-bit symmetric).
        var p = Encoding.FromMinMaxPerChannel([-0.875, -0.25], [0.5, 1.75], axis: 1, bitWidth: 4, symmetric: true).ToQuantParams();
        var fake = QuantizeKernels.FakeQuantize(Tensor.FromArray(new[] { 0.3f, 0.3f, 5f, -5f }, 2, 2), p);
        // 0.3/0.125 = 2.4 → 2 → 0.25; 0.3/0.25 = 1.2 → 1 → 0.25; 5 → max 0.875; −5 → min −2.
        Assert.Equal(new[] { 0.25f, 0.25f, 0.875f, -2.0f }, fake.Data);
    }

    [Fact]
    public void Amax_OfSymmetricEncoding_IsMax_AndRoundTrips()
    {
        var e = Encoding.FromMinMax(-1.984375, 1.0, 8, symmetric: true);
        Assert.Equal([1.984375], e.ToAmax());
        // pytorch-quantization scale = 127/amax = 64 = 1/scale.
        Assert.Equal(64.0, 127 / e.ToAmax()[0]);
        Assert.Equal(e, Encoding.FromAmax(1.984375, 8, narrowRange: false));
        var strict = Encoding.FromMinMax(-1.0, 1.984375, 8, symmetric: true, strictSymmetric: true);
        Assert.Equal(strict, Encoding.FromAmax(strict.ToAmax()[0], 8));
    }

    [Fact]
    public void FromAmax_SignedNarrow_Unsigned_AndPerChannel()
    {
        var narrow = Encoding.FromAmax(1.984375, 8);
        Assert.Equal((0.015625, -127L, -1.984375, 1.984375, true), (narrow.Scale, narrow.Offset, narrow.Min, narrow.Max, narrow.StrictSymmetric));
        var unsigned = Encoding.FromAmax(3.984375, 8, unsigned: true);
        Assert.Equal((0.015625, 0L, 0.0, 3.984375, 255L), (unsigned.Scale, unsigned.Offset, unsigned.Min, unsigned.Max, unsigned.Steps));
        Assert.Equal([3.984375], unsigned.ToAmax());
        var pc = Encoding.FromAmaxPerChannel([0.875, 1.75], axis: 0, numBits: 4, narrowRange: false);
        Assert.Equal([0.125, 0.25], pc.Scales.ToArray());
        Assert.Equal([-8L, -8L], pc.Offsets.ToArray());
        Assert.Equal([0.875, 1.75], pc.ToAmax());
    }

    [Fact]
    public void FromAmax_ThroughSharedKernel_ReproducesPytorchQuantizationDocExample()
    {
        float[] x = [0.9817f, 0.8796f, 0.9921f, 0.4611f, 0.0832f, 0.1784f, 0.3674f, 0.5676f, 0.3376f, 0.2119f];
        float[] expected = [0.9843f, 0.8828f, 0.9921f, 0.4609f, 0.0859f, 0.1797f, 0.3672f, 0.5703f, 0.3359f, 0.2109f];
        var e = Encoding.FromAmax(0.9921f, 8); // amax = max|x|, narrow range
        Assert.Equal(128.0, 1 / e.Scale, 1); // pytorch-quantization scale = 127/amax = 1/scale ≈ 128.0
        var fake = QuantizeKernels.FakeQuantize(Tensor.FromArray(x, x.Length), e.ToQuantParams());
        for (int i = 0; i < x.Length; i++) Assert.Equal(expected[i], fake.Data[i], 1e-4f); // the doc prints 4 decimals
        var q = QuantizeKernels.Quantize<byte>(Tensor.FromArray(x, x.Length), e.ToQuantParams());
        // AIMET grid: q = pytorch-quantization integer − offset (−127).
        Assert.Equal(new[] { 126, 113, 127, 59, 11, 23, 47, 73, 43, 27 }, q.Data.Select(v => v - 127).ToArray());
    }

    [Fact]
    public void ToAmax_Asymmetric_Throws()
    {
        var ex = Assert.Throws<InvalidOperationException>(() => Encoding.FromMinMax(-1, 2, 8).ToAmax());
        Assert.Contains("symmetric", ex.Message);
    }

    [Fact]
    public void KernelConversions_RejectBitWidthAbove16()
    {
        var e = Encoding.FromMinMax(-1, 1, 32);
        Assert.Contains("bit-width", Assert.Throws<InvalidOperationException>(() => e.ToQuantParams()).Message);
        Assert.Contains("bit-width", Assert.Throws<InvalidOperationException>(() => e.ToOnnx(false)).Message);
    }

    [Fact]
    public void ToQuantParamsSigned_ShiftsGridBy2PowBwMinus1_SameDequantizedValues()
    {
        var sym = Encoding.FromMinMax(-1.984375, 1.0, 8, symmetric: true).ToQuantParams(signed: true);
        Assert.Equal((0, -128, 127), (sym.ZeroPoint[0], sym.QMin, sym.QMax));
        var strictEnc = Encoding.FromMinMax(-1.0, 1.984375, 8, symmetric: true, strictSymmetric: true);
        var strict = strictEnc.ToQuantParams(signed: true);
        Assert.Equal((-1, -128, 126), (strict.ZeroPoint[0], strict.QMin, strict.QMax));
        var x = Tensor.FromArray(new[] { -10f, -0.5f, 0.0234375f, 10f }, 4);
        var q = QuantizeKernels.Quantize<sbyte>(x, strict);
        Assert.Equal(new sbyte[] { -128, -33, 1, 126 }, q.Data); // round(64x) − 1: −640→−128, −33, 1.5→2 → 1, 640→126
        Assert.Equal(QuantizeKernels.FakeQuantize(x, strictEnc.ToQuantParams()).Data, QuantizeKernels.FakeQuantize(x, strict).Data);
    }
}
