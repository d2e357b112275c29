using QuantSharp.Engine;
using QuantSharp.Engine.Autograd;
using QuantSharp.Engine.Kernels;
using QuantSharp.Engine.Runtime;
using QuantSharp.Engine.Runtime.Quantizers;
using QuantSharp.Quantization.Calibration;
using QuantSharp.Quantization.Quantizers;

namespace QuantSharp.Quantization.Tests.Quantizers;

public class TensorQuantizerTests
{
    private static Tensor<float> T(float[] data, params int[] shape) => Tensor.FromArray(data, shape.Length == 0 ? [data.Length] : shape);

    /// <summary>64 output channels; channel 0 all zeros, channel c has absolute maximum 0.7817·c/63.</summary>
    private static Tensor<float> Weight64()
    {
        var w = new Tensor<float>(64, 2, 3, 3);
        var rng = new Random(1);
        for (int c = 1; c < 64; c++)
        {
            float m = 0.7817f * c / 63;
            for (int i = 0; i < 18; i++) w.Data[c * 18 + i] = (float)(rng.NextDouble() * 2 - 1) * m * 0.9f;
            w.Data[c * 18 + c % 18] = c % 2 == 0 ? m : -m;
        }
        return w;
    }

    [Fact]
    public void CalibrateMaxPerChannel_ThenLoadCalibAmax_PrintsLikePytorchQuantization()
    {
        var q = new TensorQuantizer(QuantDescriptor.ConvWeightPerChannel);
        q.DisableQuant();
        q.EnableCalib();
        var w = Weight64();
        Assert.Same(w, q.Forward(w)); // calibrating with quant disabled passes x through
        Assert.Equal("TensorQuantizer(8bit fake axis=(0) amax=none calibrator=MaxCalibrator calib)", q.ToString());
        q.LoadCalibAmax();
        q.DisableCalib();
        q.EnableQuant();
        Assert.Equal(new[] { 64, 1, 1, 1 }, q.Amax!.Shape);
        Assert.Equal("TensorQuantizer(8bit fake axis=(0) amax=[0.0000, 0.7817](64) calibrator=MaxCalibrator quant)", q.ToString());
        Assert.Equal(TensorQuant.FakeQuantize(w, q.Amax!, 8, false, false).Data, q.Forward(w).Data);
        q.Disable();
        Assert.Equal("TensorQuantizer(disabled)", q.ToString());
        Assert.Same(w, q.Forward(w));
    }

    [Fact]
    public void PerTensor_ToStringShowsOneAmax_AndFlags()
    {
        var q = new TensorQuantizer(new QuantDescriptor(amax: [0.78171f], unsigned: true, narrowRange: true, scaleAmax: 2f, numBits: 4));
        Assert.Equal("TensorQuantizer(unsigned 4bit narrow fake per-tensor amax=0.7817 *2 calibrator=MaxCalibrator quant)", q.ToString());
    }

    [Fact]
    public void HistogramCalibration_LoadsTheCalibratorsAmax()
    {
        var q = new TensorQuantizer(QuantDescriptor.InputHistogram, quant: false, calib: true);
        var rng = new Random(7);
        for (int b = 0; b < 3; b++) q.Forward(Tensor.RandomNormal(rng, 0f, 1f, 4096));
        var h = (HistogramCalibrator)q.Calibrator;
        q.LoadCalibAmax("percentile", percentile: 99.9);
        Assert.Equal(h.ComputeAmax("percentile", percentile: 99.9), q.Amax!.Data[0]);
        q.LoadCalibAmax("mse");
        Assert.Equal(h.ComputeAmax("mse"), q.Amax!.Data[0]);
        Assert.Equal(0, q.Amax.Rank);
        var e = Assert.Throws<ArgumentException>(() => q.LoadCalibAmax("max"));
        Assert.Contains("\"entropy\", \"mse\" or \"percentile\"", e.Message);
        Assert.Contains("calibrator=HistogramCalibrator calib", q.ToString());
    }

    [Fact]
    public void LoadCalibAmax_NoData_StrictThrows_NonStrictSetsNaNThatQuantizingReports()
    {
        var q = new TensorQuantizer(name: "fc");
        Assert.Contains("has not collected any data", Assert.Throws<InvalidOperationException>(() => q.LoadCalibAmax()).Message);
        q.LoadCalibAmax(strict: false);
        Assert.True(float.IsNaN(q.Amax!.Data[0]));
        Assert.Contains("NaN", Assert.Throws<InvalidOperationException>(() => q.Forward(Tensor.Ones(2))).Message);
        Assert.Contains("\"max\"", Assert.Throws<ArgumentException>(() => q.LoadCalibAmax("entropy")).Message);
    }

    [Fact]
    public void Calibrate_NaNData_IsReported()
    {
        var q = new TensorQuantizer(calib: true, quant: false);
        Assert.Throws<CalibrationException>(() => q.Forward(T([1f, float.NaN])));
    }

    [Fact]
    public void RealQuant_ReturnsIntegersAndRecordsScale()
    {
        var q = new TensorQuantizer(new QuantDescriptor(fakeQuant: false, amax: [63.5f]));
        Assert.Equal(new float[] { 2, 4, -2, 127, -128 }, q.Forward(T([1.25f, 1.75f, -1.25f, 100f, -100f])).Data);
        Assert.Equal(2f, q.Scale!.Data[0]);
        Assert.EndsWith("calibrator=MaxCalibrator scale=2.0000 quant)", q.ToString());
    }

    [Fact]
    public void DescriptorAmaxList_IsLaidOutOverTheKeptAxis()
    {
        var q = new TensorQuantizer(new QuantDescriptor(axis: [0], amax: [1f, 2f], numBits: 4));
        var x = T([0.3f, 0.6f, -0.9f, 0.3f, 0.6f, -3f], 2, 3);
        Assert.Equal(TensorQuant.FakeQuantize(x, T([1f, 2f], 2, 1), 4, false, false).Data, q.Forward(x).Data);
    }

    [Fact]
    public void ScaleAmax_MultipliesAmax()
    {
        var x = T([0.3f, 0.6f, -0.9f, 1.5f]);
        var q = new TensorQuantizer(new QuantDescriptor(amax: [2f], scaleAmax: 0.5f));
        Assert.Equal(TensorQuant.FakeQuantize(x, 1f, narrowRange: false).Data, q.Forward(x).Data);
    }

    [Fact]
    public void ClipRange_Pact_BoundsGetTheGradientOfClippedElements()
    {
        var q = new TensorQuantizer(quant: false);
        q.ClipRange(-1f, 1f);
        var x = new Variable(T([-2f, -0.5f, 0.5f, 3f, 4f]), requiresGrad: true);
        var y = q.Forward(x);
        Assert.Equal(new float[] { -1, -0.5f, 0.5f, 1, 1 }, y.Data.Data);
        y.Backward(T([1f, 1f, 1f, 1f, 2f]));
        Assert.Equal(new float[] { 0, 1, 1, 0, 0 }, x.Grad!.Data);
        Assert.Equal(1f, q.ClipMin!.Grad!.Data[0]);
        Assert.Equal(3f, q.ClipMax!.Grad!.Data[0]);
        Assert.EndsWith("clip)", q.ToString());
        Assert.Equal(new[] { q.ClipMin, q.ClipMax }, q.Parameters());
        q.ClipRange(-1f, 1f, learnable: false);
        Assert.Empty(q.Parameters());
    }

    [Fact]
    public void ClipRange_WithoutAmax_QuantizesWithTheClipBound_AndGraphBackwardMatchesAutograd()
    {
        var q = new TensorQuantizer();
        q.ClipRange(-0.5f, 2f);
        var xs = T([-2f, -0.3f, 0.7f, 1.9f, 3f]);
        var x = new Variable(xs, requiresGrad: true);
        var y = q.Forward(x);
        Assert.Equal(TensorQuant.FakeQuantize(Activations.Clip(xs, -0.5f, 2f), 2f, narrowRange: false).Data, y.Data.Data);
        var seed = T([1f, 2f, 3f, 4f, 5f]);
        y.Backward(seed);
        float gMin = q.ClipMin!.Grad!.Data[0], gMax = q.ClipMax!.Grad!.Data[0];
        q.ClipMin.ZeroGrad();
        q.ClipMax.ZeroGrad();
        var gx = ((IEdgeQuantizer)q).Backward(xs, seed);
        Assert.Equal(x.Grad!.Data, gx.Data);
        Assert.Equal(gMin, q.ClipMin.Grad!.Data[0]);
        Assert.Equal(gMax, q.ClipMax.Grad!.Data[0]);
    }

    [Fact]
    public void LearnAmax_GetsTheLsqGradient_InAutogradAndGraphBackward()
    {
        var q = new TensorQuantizer(new QuantDescriptor(amax: [1f], learnAmax: true));
        Assert.Contains(" learned ", q.ToString());
        var xs = T([0.3f, -0.7f, 2f, 0.01f]);
        var x = new Variable(xs, requiresGrad: true);
        var seed = T([1f, -1f, 0.5f, 2f]);
        q.Forward(x).Backward(seed);
        float factor = 127f * MathF.Sqrt(127f / 4); // LSQ's 1/√(N·maxBound) for s = amax/127, carried over to amax
        var (gx, ga) = TensorQuant.LearnableAmaxBackward(xs, seed, Tensor.Scalar(1f), 8, false, false, factor);
        Assert.Equal(ga[0], q.LearnedAmax!.Grad!.Data[0], 1e-6f);
        Assert.Equal(gx.Data, x.Grad!.Data);
        q.LearnedAmax.ZeroGrad();
        Assert.Equal(gx.Data, ((IEdgeQuantizer)q).Backward(xs, seed).Data);
        Assert.Equal(ga[0], q.LearnedAmax.Grad!.Data[0], 1e-6f);
    }

    [Fact]
    public void LoadCalibAmax_InitializesTheLearnedAmax()
    {
        var q = new TensorQuantizer(new QuantDescriptor(learnAmax: true), calib: true, quant: false);
        Assert.Equal(1f, q.LearnedAmax!.Data.Data[0]); // pytorch-quantization's initial value without amax
        q.Forward(T([0.5f, -3f, 2f]));
        q.LoadCalibAmax();
        Assert.Equal(3f, q.LearnedAmax.Data.Data[0]);
    }

    [Fact]
    public void EdgeBackward_IsTheStraightThroughEstimator()
    {
        var q = new TensorQuantizer(new QuantDescriptor(amax: [1f]));
        var xs = T([0.5f, 1.5f, -1.2f, -0.2f]);
        var g = ((IEdgeQuantizer)q).Backward(xs, T([1f, 1f, 1f, 1f]));
        Assert.Equal(new float[] { 1, 0, 0, 1 }, g.Data);
        q.Disable();
        Assert.Equal(new float[] { 2, 2 }, ((IEdgeQuantizer)q).Backward(T([5f, 5f]), T([2f, 2f])).Data);
    }

    [Fact]
    public void Fp8Quantizer_ScalesAmaxToTheFormatMax_AndRoundsOnTheE4M3Grid()
    {
        // amax 448 → scale 1: values land on the E4M3 grid (17 is a tie between 16 and 18 → 16; 500 saturates to 448).
        var q = new TensorQuantizer(new QuantDescriptor(floatFormat: FloatFormat.E4M3, amax: [448f]));
        Assert.Equal("TensorQuantizer(E4M3 fake per-tensor amax=448.0000 calibrator=MaxCalibrator quant)", q.ToString());
        Assert.Equal(new float[] { 16f, 448f, -0.5f }, q.Forward(T([17f, 500f, -0.5f])).Data);
        // amax 1 → scale 448: 0.1·448 = 44.8 → 44 (step 4 in [32, 64)) → 44/448.
        var q1 = new TensorQuantizer(new QuantDescriptor(floatFormat: FloatFormat.E4M3, amax: [1f]));
        Assert.Equal(44f / 448f, q1.Forward(T([0.1f])).Data[0]);
        // STE: gradient only where |x·scale| ≤ 448.
        Assert.Equal(new float[] { 1, 0 }, ((IEdgeQuantizer)q1).Backward(T([0.5f, 1.5f]), T([1f, 1f])).Data);
    }

    [Fact]
    public void Forward_DescriptorAxisOutOfRangeForTheTensor_IsAShapeErrorNamingTheDescriptor()
    {
        var q = new TensorQuantizer(new QuantDescriptor(name: "w", axis: [2]), calib: true, quant: false);
        var e = Assert.Throws<ShapeException>(() => q.Forward(Tensor.Ones(3, 4)));
        Assert.Contains("QuantDescriptor 'w'", e.Message);
        Assert.Contains("[-2, 1]", e.Message);
    }

    [Fact]
    public void HistogramWithAxis_IsRejected() =>
        Assert.Contains("per tensor only", Assert.Throws<ArgumentException>(() =>
            new TensorQuantizer(new QuantDescriptor(axis: [0], calibMethod: "histogram"))).Message);

    [Fact]
    public void InGraph_QuantizerNodeRunsInSession_EqualsEagerResult_AndCalibratesThroughTheGraph()
    {
        var b = new GraphBuilder("g");
        var x = b.Input("x", DataType.Float32, Dim.Fixed(2), Dim.Fixed(4));
        b.Output(b.Op1("Relu", [x], name: "relu"));
        var g = b.Build();
        QuantizerNode.Insert(g, "x", "x_quantizer");
        var q = new TensorQuantizer(name: "x_quantizer", calib: true, quant: false);
        var session = new Session(g, QuantizerNode.Registry(n => n == q.Name ? q : null));
        var input = T([0.3f, -1.2f, 0.77f, 2.5f, -0.1f, 0.05f, 1.1f, -2.6f], 2, 4);
        session.Run(input);
        q.LoadCalibAmax();
        Assert.Equal(2.6f, q.Amax!.Data[0]);
        q.DisableCalib();
        q.EnableQuant();
        var y = session.Run(input);
        var eager = Activations.Relu(q.Forward(input));
        Assert.Equal(eager.Data, y.Data);
        Assert.NotEqual(Activations.Relu(input).Data, y.Data);
    }
}
