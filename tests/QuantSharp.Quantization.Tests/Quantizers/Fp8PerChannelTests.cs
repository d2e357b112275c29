using QuantSharp.Engine;
using QuantSharp.Engine.Autograd;
using QuantSharp.Engine.Kernels;
using QuantSharp.Engine.Runtime.Quantizers;
using QuantSharp.Quantization.Quantizers;

namespace QuantSharp.Quantization.Tests.Quantizers;

/// <summary>
/// FP8 E4M3 quantizers with one amax per channel: each slice along the axis is scaled by <c>448 / amax[c]</c>, rounded to
/// the E4M3FN grid (3 mantissa bits, bias 7, subnormal quantum 2^−9, nearest with ties to even) saturating at ±448, and
/// scaled back. Expected values are worked out by hand in the comments.
/// </summary>
public class Fp8PerChannelTests
{
    private static QuantDescriptor PerRow(params float[] amax) => new(floatFormat: FloatFormat.E4M3, axis: [0], amax: amax);

    // Rows: channel 0 (amax 448, scale 1), channel 1 (amax 1, scale 448), channel 2 (amax 0: scale 1, tiny values).
    private static Tensor<float> Input() => new(
    [
        17f, 500f, -0.3f, 3f / 1024f,
        1f, 0.5f, 0.1f, -2f,
        1e-9f, -5.9604645e-8f, 0f, 0f,
    ], [3, 4]);

    [Fact]
    public void Forward_EachRowScaledByItsOwnAmax_RoundsOnTheE4M3FNGrid()
    {
        var q = new TensorQuantizer(PerRow(448f, 1f, 0f));
        var y = q.Forward(Input());
        float[] expected =
        [
            // scale 1. 17 lies halfway between 16 and 18 (step 2 in [16, 32)) → the even mantissa, 16; 500 saturates to 448;
            // 0.3 in [0.25, 0.5) has step 1/32: 9.6 steps → 10 → 0.3125; 3/1024 is 1.5 subnormal quanta (2^-9) → 2 → 1/256.
            16f, 448f, -0.3125f, 1f / 256f,
            // scale 448: 448 → 448 → 1; 224 is on the grid (step 16 in [128, 256)); 44.8 in [32, 64) (step 4) → 44 → 44/448;
            // −896 saturates to −448 → −1.
            1f, 0.5f, 44f / 448f, -1f,
            // amax 0 → scale 1: values far below half the smallest subnormal (2^-10) round to 0 (the sign of zero kept).
            0f, -0f, 0f, 0f,
        ];
        Assert.Equal(expected, y.Data);
    }

    [Fact]
    public void PerChannel_DiffersFromPerTensor_WhenChannelRangesDiffer()
    {
        // Per tensor the amax is 448 for every row, so channel 1's 0.1 (scale 1) becomes 0.1015625 (step 2^-7 in [2^-4, 2^-3)):
        // 0.1·128 = 12.8 → 13 → 13/128; per channel it is 44/448.
        var perTensor = new TensorQuantizer(new QuantDescriptor(floatFormat: FloatFormat.E4M3, amax: [448f]));
        var perRow = new TensorQuantizer(PerRow(448f, 1f, 0f));
        Assert.Equal(13f / 128f, perTensor.Forward(Input()).Data[6]);
        Assert.Equal(44f / 448f, perRow.Forward(Input()).Data[6]);
    }

    [Fact]
    public void Backward_PassesGradientOnlyWhereTheRowsScaledValueIsWithin448()
    {
        var q = new TensorQuantizer(PerRow(448f, 1f, 0f));
        var g = ((IEdgeQuantizer)q).Backward(Input(), Tensor.Ones(3, 4));
        // Saturated: 500 (row 0, scale 1) and −2 (row 1: −896). 1.0 in row 1 is exactly 448 and still passes.
        Assert.Equal(new float[] { 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1 }, g.Data);
        var v = new Variable(Input(), requiresGrad: true);
        var y = q.Forward(v);
        Assert.Equal(q.Forward(Input()).Data, y.Data.Data);
    }

    [Fact]
    public void Calibrated_PerChannelAmax_IsTheRowAbsMax_AndMapsItTo448()
    {
        var q = new TensorQuantizer(new QuantDescriptor(floatFormat: FloatFormat.E4M3, axis: [0]), calib: true, quant: false);
        var x = new Tensor<float>([0.1f, -0.7f, 3f, 2f], [2, 2]);
        q.Forward(x);
        q.DisableCalib();
        q.LoadCalibAmax();
        q.EnableQuant();
        Assert.Equal(new float[] { 0.7f, 3f }, q.Amax!.Data);
        // Each row's absolute maximum is scaled to 448 and back: unchanged up to float rounding of x·(448/amax)/(448/amax).
        var y = q.Forward(x);
        Assert.Equal(-0.7f, y.Data[1], 6);
        Assert.Equal(3f, y.Data[2], 6);
        // 0.1·(448/0.7) = 64 → on the grid; 2·(448/3) = 298.67 in [256, 448] (step 32) → 288 → 288·3/448.
        Assert.Equal(0.1f, y.Data[0], 6);
        Assert.Equal(288f * 3f / 448f, y.Data[3], 5);
    }

    [Fact]
    public void RealQuantizer_PerChannel_OutputsTheScaledFp8Values_AndRecordsOneScalePerRow()
    {
        var q = new TensorQuantizer(new QuantDescriptor(floatFormat: FloatFormat.E4M3, axis: [0], amax: [448f, 1f, 0f], fakeQuant: false));
        var y = q.Forward(Input());
        // Row 1 (scale 448): 0.1 → 44 and −2 → −448 on the FP8 grid itself.
        Assert.Equal([3, 1], q.Scale!.Shape);
        Assert.Equal(new float[] { 1f, 448f, 1f }, q.Scale.Data);
        Assert.Equal(new float[] { 448f, 224f, 44f, -448f }, y.Data.Skip(4).Take(4));
        Assert.Equal(new float[] { 16f, 448f, -0.3125f, 1f / 256f }, y.Data.Take(4));
    }

    [Fact]
    public void Descriptor_Fp8OverTwoAxes_IsAnErrorNamingAxis()
    {
        var e = Assert.Throws<ArgumentException>(() => new QuantDescriptor(floatFormat: FloatFormat.E4M3, axis: [0, 1]));
        Assert.Contains("'axis'", e.Message);
        Assert.Contains("one axis", e.Message);
    }
}
