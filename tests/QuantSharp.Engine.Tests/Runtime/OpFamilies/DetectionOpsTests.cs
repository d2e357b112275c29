using static QuantSharp.Engine.Tests.Runtime.OpFamilies.SingleOp;

namespace QuantSharp.Engine.Tests.Runtime.OpFamilies;

public class DetectionOpsTests
{
    // Three unit-height boxes [y1, x1, y2, x2]: b1 overlaps b0 by 1/3 (IoU), b2 overlaps b0 by 0.9/1.1 ≈ 0.818.
    private static readonly Tensor<float> Boxes = F([0, 0, 1, 1, 0, 0.5f, 1, 1.5f, 0, 0.1f, 1, 1.1f], 1, 3, 4);
    private static readonly Tensor<float> Scores = F([0.9f, 0.7f, 0.8f], 1, 1, 3);

    private static long[] Nms(Tensor<float> boxes, long? max, float? iou, float? score, bool center = false)
    {
        var y = (Tensor<long>)Run("NonMaxSuppression",
            [boxes, Scores, max is long m ? Scalar(m) : null, iou is float i ? Scalar(i) : null, score is float s ? Scalar(s) : null], 11,
            attributes: Int("center_point_box", center ? 1 : 0))[0];
        Assert.Equal(3, y.Dims[1]);
        return y.Data;
    }

    [Fact]
    public void NonMaxSuppression_SuppressesOnlyAboveIouThreshold_InScoreOrder()
    {
        Assert.Equal(new long[] { 0, 0, 0, 0, 0, 1 }, Nms(Boxes, 10, 0.5f, null)); // b2 (0.818) suppressed, b1 (1/3) kept
        Assert.Equal(new long[] { 0, 0, 0 }, Nms(Boxes, 10, 0.3f, null));          // 1/3 > 0.3: b1 suppressed too
        Assert.Equal(new long[] { 0, 0, 0, 0, 0, 2, 0, 0, 1 }, Nms(Boxes, 10, 0.9f, null)); // nothing suppressed: score order 0, 2, 1
    }

    [Fact]
    public void NonMaxSuppression_ScoreThresholdIsStrict_AndMaxOutputLimitsPerClass()
    {
        Assert.Equal(new long[] { 0, 0, 0, 0, 0, 2 }, Nms(Boxes, 10, 0.9f, 0.7f)); // 0.7 is not above 0.7
        Assert.Equal(new long[] { 0, 0, 0 }, Nms(Boxes, 1, 0.9f, null));
        Assert.Empty(Nms(Boxes, null, 0.9f, null)); // max_output_boxes_per_class defaults to 0
    }

    [Fact]
    public void NonMaxSuppression_CenterPointBoxes_MatchCornerBoxes()
    {
        // The same boxes as [x_center, y_center, width, height].
        var centers = F([0.5f, 0.5f, 1, 1, 1, 0.5f, 1, 1, 0.6f, 0.5f, 1, 1], 1, 3, 4);
        Assert.Equal(Nms(Boxes, 10, 0.5f, null), Nms(centers, 10, 0.5f, null, center: true));
    }

    // X[r, c] = 4r + c on a 4×4 map; bilinear interpolation of a linear map is exact: value(y, x) = 4y + x.
    private static readonly Tensor<float> Ramp = F(Enumerable.Range(0, 16).Select(v => (float)v).ToArray(), 1, 1, 4, 4);

    private static float RoiAlign(long opset, string? ctm, string mode, float[] roi, float scale = 1f)
    {
        var attributes = new List<(string, AttributeValue)> { Str("mode", mode), Int("sampling_ratio", 2), Float("spatial_scale", scale) };
        if (ctm is not null) attributes.Add(Str("coordinate_transformation_mode", ctm));
        var y = Run("RoiAlign", [Ramp, F(roi, 1, 4), L(0)], opset, attributes: attributes.ToArray())[0];
        Assert.Equal(new[] { 1, 1, 1, 1 }, y.Shape);
        return ((Tensor<float>)y).Data[0];
    }

    [Fact]
    public void RoiAlign_HalfPixel_ShiftsByHalf_OutputHalfPixel_DoesNot()
    {
        // ROI (0,0)-(2,2), one bin, 2×2 samples at bin quarter points.
        // half_pixel: ROI spans [−0.5, 1.5], samples at 0 and 1 → mean of 0, 1, 4, 5 = 2.5.
        Assert.Equal(2.5f, RoiAlign(16, "half_pixel", "avg", [0, 0, 2, 2]), 5);
        // output_half_pixel (and opset 10): samples at 0.5 and 1.5 → 4·1 + 1 = 5.
        Assert.Equal(5f, RoiAlign(16, "output_half_pixel", "avg", [0, 0, 2, 2]), 5);
        Assert.Equal(5f, RoiAlign(10, null, "avg", [0, 0, 2, 2]), 5);
        // spatial_scale 0.5 maps the ROI (0,0)-(4,4) onto the same pixels.
        Assert.Equal(5f, RoiAlign(16, "output_half_pixel", "avg", [0, 0, 4, 4], scale: 0.5f), 5);
    }

    [Fact]
    public void RoiAlign_MaxMode_TakesLargestWeightedCornerOfAnySample()
    {
        // Largest sample (1.5, 1.5) has corners 5, 6, 9, 10 each weighted 0.25: ONNX Runtime's max is 0.25 · 10.
        Assert.Equal(2.5f, RoiAlign(16, "output_half_pixel", "max", [0, 0, 2, 2]), 5);
    }

    [Fact]
    public void RoiAlign_SamplesFarOutsideTheMap_ContributeZero()
    {
        // ROI (−6,−6)-(−4,−4): every sample lies more than one pixel outside.
        Assert.Equal(0f, RoiAlign(16, "output_half_pixel", "avg", [-6, -6, -4, -4]));
    }

    private static readonly Tensor<float> Square = F([1, 2, 3, 4], 1, 1, 2, 2);

    private static float[] Sample(Tensor<float> x, float[] grid, string mode, string padding, bool alignCorners, long opset = 16)
    {
        var y = Run("GridSample", [x, F(grid, 1, 1, grid.Length / 2, 2)], opset,
            attributes: [Str("mode", mode), Str("padding_mode", padding), Int("align_corners", alignCorners ? 1 : 0)])[0];
        return ((Tensor<float>)y).Data;
    }

    [Fact]
    public void GridSample_Bilinear_AlignCorners_MapsMinusOneAndOneToCornerPixels()
    {
        Close([1, 4, 2.5f], Tensor.FromArray(Sample(Square, [-1, -1, 1, 1, 0, 0], "bilinear", "zeros", true), 3));
    }

    [Fact]
    public void GridSample_Bilinear_PaddingModes_AtAndBeyondTheEdge()
    {
        // align_corners = 0: (−1, −1) is pixel (−0.5, −0.5), a quarter inside pixel (0, 0).
        Close([0.25f], Tensor.FromArray(Sample(Square, [-1, -1], "bilinear", "zeros", false), 1));
        Close([1f], Tensor.FromArray(Sample(Square, [-1, -1], "bilinear", "border", false), 1));
        Close([1f], Tensor.FromArray(Sample(Square, [-1, -1], "bilinear", "reflection", false), 1));
        // x = 1.5 → pixel x 2 (out of range), y = 0 → pixel y 0.5: border clamps x to 1 → (2 + 4)/2; reflection about 1.5 → x 1 too.
        Close([0f], Tensor.FromArray(Sample(Square, [1.5f, 0], "bilinear", "zeros", false), 1));
        Close([3f], Tensor.FromArray(Sample(Square, [1.5f, 0], "bilinear", "border", false), 1));
        Close([3f], Tensor.FromArray(Sample(Square, [1.5f, 0], "bilinear", "reflection", false), 1));
    }

    [Fact]
    public void GridSample_Nearest_RoundsHalfToEven()
    {
        // align_corners = 1: (0.2, −0.2) → pixel (0.6, 0.4) → column 1, row 0; (0, 0) → (0.5, 0.5) → (0, 0).
        Close([2, 1], Tensor.FromArray(Sample(Square, [0.2f, -0.2f, 0, 0], "nearest", "zeros", true), 2));
    }

    [Fact]
    public void GridSample_Bicubic_ReproducesALinearRamp()
    {
        // Keys' cubic kernel is exact on linear data: the centre of the 4×4 ramp (1.5, 1.5) is 4·1.5 + 1.5.
        Close([7.5f], Tensor.FromArray(Sample(Ramp, [0, 0], "bicubic", "zeros", true), 1));
    }

    [Fact]
    public void GridSample_Opset20_UsesLinearAndCubicNames_AndRejectsOldOnes()
    {
        Close([2.5f], Tensor.FromArray(Sample(Square, [0, 0], "linear", "zeros", true, opset: 20), 1));
        Close([7.5f], Tensor.FromArray(Sample(Ramp, [0, 0], "cubic", "zeros", true, opset: 20), 1));
        var e = Assert.Throws<GraphException>(() => Sample(Square, [0, 0], "bilinear", "zeros", true, opset: 20));
        Assert.Contains("'mode'", e.Message);
    }

    [Fact]
    public void GridSample_Opset20Volume_TrilinearCentreIsTheMean_AndCubicIsRejected()
    {
        // X[z, y, x] = 4z + 2y + x on a 2×2×2 volume; with align_corners the centre (0, 0, 0) averages all eight: 3.5.
        // Grid (x, y, z) = (1, −1, −1) is the corner z = 0, y = 0, x = 1.
        var volume = F([0, 1, 2, 3, 4, 5, 6, 7], 1, 1, 2, 2, 2);
        var y = Run("GridSample", [volume, F([0, 0, 0, 1, -1, -1], 1, 1, 1, 2, 3)], 20,
            attributes: [Str("mode", "linear"), Int("align_corners", 1)])[0];
        Assert.Equal(new[] { 1, 1, 1, 1, 2 }, y.Shape);
        Close([3.5f, 1f], y);
        var e = Assert.Throws<GraphException>(() => Run("GridSample", [volume, F([0, 0, 0], 1, 1, 1, 1, 3)], 20, attributes: Str("mode", "cubic")));
        Assert.Contains("'cubic'", e.Message);
    }

    [Fact]
    public void GridSample_And_RoiAlign_AcceptDoubleInputs_ReturningDouble()
    {
        var square = Tensor.FromArray(new[] { 1.0, 2, 3, 4 }, 1, 1, 2, 2);
        var y = Run("GridSample", [square, Tensor.FromArray(new[] { 0.0, 0 }, 1, 1, 1, 2)], 16, attributes: Int("align_corners", 1))[0];
        Assert.Equal(new[] { 2.5 }, ((Tensor<double>)y).Data);
        var ramp = Tensor.FromArray(Enumerable.Range(0, 16).Select(v => (double)v).ToArray(), 1, 1, 4, 4);
        var roi = Run("RoiAlign", [ramp, Tensor.FromArray(new[] { 0.0, 0, 2, 2 }, 1, 4), L(0)], 16,
            attributes: [Str("coordinate_transformation_mode", "output_half_pixel"), Int("sampling_ratio", 2)])[0];
        Assert.Equal(new[] { 5.0 }, ((Tensor<double>)roi).Data);
    }
}
