using static QuantSharp.Engine.Tests.Runtime.OpFamilies.SingleOp;

namespace QuantSharp.Engine.Tests.Runtime.OpFamilies;

public class SignalOpsTests
{
    private const float A = 25f / 46, B = 21f / 46; // Hamming's coefficients

    [Theory]
    [InlineData("HannWindow", 1, new[] { 0f, 0.5f, 1f, 0.5f })]
    [InlineData("HannWindow", 0, new[] { 0f, 0.75f, 0.75f, 0f })]
    [InlineData("HammingWindow", 1, new[] { A - B, A, A + B, A })]
    [InlineData("BlackmanWindow", 1, new[] { 0f, 0.34f, 1f, 0.34f })]
    public void Windows_OfLengthFour_MatchHandComputedValues(string op, int periodic, float[] expected)
    {
        var y = Run(op, [Scalar(4L)], attributes: Int("periodic", periodic))[0];
        Close(expected, y);
    }

    [Fact]
    public void Window_OutputDatatype_SelectsDouble()
    {
        var y = Run("HannWindow", [Scalar(4L)], attributes: Int("output_datatype", 11))[0];
        Assert.Equal(new[] { 0, 0.5, 1, 0.5 }, ((Tensor<double>)y).Data.Select(v => Math.Round(v, 12)));
    }

    private static Tensor<float> Real(params float[] x) => F(x, 1, x.Length, 1);

    [Fact]
    public void Dft_OfRealSignal_MatchesHandComputedSpectrum()
    {
        // DFT of [1, 2, 3, 4] = [10, −2 + 2i, −2, −2 − 2i].
        var y = Run("DFT", [Real(1, 2, 3, 4)], attributes: Int("axis", 1))[0];
        Assert.Equal(new[] { 1, 4, 2 }, y.Shape);
        Close([10, 0, -2, 2, -2, 0, -2, -2], y);
        var half = Run("DFT", [Real(1, 2, 3, 4)], attributes: [Int("axis", 1), Int("onesided", 1)])[0];
        Assert.Equal(new[] { 1, 3, 2 }, half.Shape);
        Close([10, 0, -2, 2, -2, 0], half);
    }

    [Fact]
    public void Dft_Inverse_OfComplexSpectrum_RecoversTheSignal()
    {
        var spectrum = F([10, 0, -2, 2, -2, 0, -2, -2], 1, 4, 2);
        var y = Run("DFT", [spectrum], attributes: [Int("axis", 1), Int("inverse", 1)])[0];
        Close([1, 0, 2, 0, 3, 0, 4, 0], y);
    }

    [Fact]
    public void Dft_OnesidedInverse_RebuildsTheRealSignal_FromHalfTheSpectrum()
    {
        // Bins 0…2 of [1, 2, 3, 4]'s spectrum; the rest follow by conjugate symmetry. Output is real: [1, 4, 1].
        var half = F([10, 0, -2, 2, -2, 0], 1, 3, 2);
        var y = Run("DFT", [half], 20, attributes: [Int("onesided", 1), Int("inverse", 1)])[0];
        Assert.Equal(new[] { 1, 4, 1 }, y.Shape);
        Close([1, 2, 3, 4], y);
        // dft_length 5: full spectrum [10, −2+2i, −2, −2, −2−2i], so x[0] = (10 − 2 − 2 − 2 − 2)/5.
        var five = Run("DFT", [half, Scalar(5L)], 20, attributes: [Int("onesided", 1), Int("inverse", 1)])[0];
        Assert.Equal(new[] { 1, 5, 1 }, five.Shape);
        Assert.Equal(0.4f, ((Tensor<float>)five).Data[0], 5);
        var e = Assert.Throws<GraphException>(() => Run("DFT", [F([1, 2, 3], 1, 3, 1)], 20, attributes: [Int("onesided", 1), Int("inverse", 1)]));
        Assert.Contains("complex one-sided spectrum", e.Message);
    }

    [Fact]
    public void Dft_ComplexImpulse_HasFlatSpectrum_AndDftLengthZeroPads()
    {
        // x = [i, 0] → X[k] = i for every k; with dft_length 4, [i, 0, 0, 0] → i at all four bins.
        var x = F([0, 1, 0, 0], 1, 2, 2);
        Close([0, 1, 0, 1], Run("DFT", [x], attributes: Int("axis", 1))[0]);
        Close([0, 1, 0, 1, 0, 1, 0, 1], Run("DFT", [x, Scalar(4L)], attributes: Int("axis", 1))[0]);
    }

    [Fact]
    public void Dft_OtherAxis_Opset17Attribute_AndOpset20Input_Agree()
    {
        // Shape [1, 2, 2, 1]: a length-2 DFT along axis 2 gives [a + b, a − b] for each row.
        var x = F([1, 2, 5, 3], 1, 2, 2, 1);
        var expected = new float[] { 3, 0, -1, 0, 8, 0, 2, 0 };
        Close(expected, Run("DFT", [x], 17, attributes: Int("axis", 2))[0]);
        Close(expected, Run("DFT", [x, null, Scalar(2L)], 20)[0]);
        Close(expected, Run("DFT", [x, null, Scalar(-2L)], 20)[0]);
    }

    [Fact]
    public void Stft_FramesTheSignal_AndAppliesTheWindow()
    {
        var signal = Real(1, 2, 3, 4);
        // Frames [1, 2] and [3, 4] (step 2): onesided length-2 DFTs [3, −1] and [7, −1].
        var y = Run("STFT", [signal, Scalar(2L), null, Scalar(2L)])[0];
        Assert.Equal(new[] { 1, 2, 2, 2 }, y.Shape);
        Close([3, 0, -1, 0, 7, 0, -1, 0], y);
        // Window [1, 0] keeps each frame's first sample: spectra [1, 1] and [3, 3].
        var windowed = Run("STFT", [signal, Scalar(2L), F([1, 0], 2)])[0];
        Close([1, 0, 1, 0, 3, 0, 3, 0], windowed);
    }

    [Fact]
    public void MelWeightMatrix_OneFilter_MatchesHandComputedTriangle()
    {
        // 1 mel bin, dft_length 8 at 8 kHz, 0–4 kHz: mel points 0, 715.4, 1430.7 → 0, 620.6, 1791.3 Hz → FFT bins
        // ⌊9·hz/8000⌋ = 0, 0, 2. The filter is 1 at bin 0 and falls to 0.5 at bin 1.
        var y = Run("MelWeightMatrix", [Scalar(1L), Scalar(8L), Scalar(8000L), Scalar(0f), Scalar(4000f)])[0];
        Assert.Equal(new[] { 5, 1 }, y.Shape);
        Close([1, 0.5f, 0, 0, 0], y);
    }
}
