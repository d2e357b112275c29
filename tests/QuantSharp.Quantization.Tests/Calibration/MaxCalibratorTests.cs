using QuantSharp.Engine;
using QuantSharp.Quantization.Calibration;

namespace QuantSharp.Quantization.Tests.Calibration;

public class MaxCalibratorTests
{
    private static Tensor<float> Rand(int seed, params int[] shape)
    {
        var rng = new Random(seed);
        var t = Tensor.FromArray(new float[Shapes.Size(shape)], shape);
        var d = t.AsSpan();
        for (int i = 0; i < d.Length; i++) d[i] = (float)(rng.NextDouble() * 8 - 4);
        return t;
    }

    private static float[] NaiveAmax(Tensor<float> x, int[] keptAxes)
    {
        var dims = x.Shape;
        var outShape = dims.Select((d, i) => keptAxes.Contains(i) ? d : 1).ToArray();
        var amax = new float[Shapes.Size(outShape)];
        var strides = Shapes.Strides(dims);
        var data = x.AsSpan();
        for (int i = 0; i < data.Length; i++)
        {
            int rem = i, k = 0, mul = 1;
            var coord = new int[dims.Length];
            for (int d = 0; d < dims.Length; d++) { coord[d] = rem / strides[d]; rem %= strides[d]; }
            for (int d = dims.Length - 1; d >= 0; d--) { k += (keptAxes.Contains(d) ? coord[d] : 0) * mul; mul *= outShape[d]; }
            amax[k] = Math.Max(amax[k], Math.Abs(data[i]));
        }
        return amax;
    }

    [Fact]
    public void MaxCalibrator_PerTensor_IsRunningAbsMaxOverBatches()
    {
        var cal = new MaxCalibrator();
        cal.Collect(Tensor.FromArray(new[] { 1f, -3f, 2f }, 3));
        cal.Collect(Tensor.FromArray(new[] { 0.5f, 2.5f }, 2));
        var amax = cal.ComputeAmax();
        Assert.Equal(0, amax.Rank);
        Assert.Equal(3f, amax.AsSpan()[0]);
    }

    [Theory]
    [InlineData(new[] { 0 })]
    [InlineData(new[] { 1 })]
    [InlineData(new[] { 3 })]
    [InlineData(new[] { 0, 2 })]
    [InlineData(new[] { -1, 1 })]
    public void MaxCalibrator_PerAxis_MatchesNaiveKeepdimsReduction(int[] axes)
    {
        var cal = new MaxCalibrator(axes);
        var a = Rand(1, 3, 4, 5, 6);
        var b = Rand(2, 3, 4, 5, 6);
        cal.Collect(a);
        cal.Collect(b);
        var norm = axes.Select(ax => ax < 0 ? ax + 4 : ax).ToArray();
        var na = NaiveAmax(a, norm);
        var nb = NaiveAmax(b, norm);
        var expected = na.Zip(nb, Math.Max).ToArray();
        var amax = cal.ComputeAmax();
        Assert.Equal(new[] { 0, 1, 2, 3 }.Select(d => norm.Contains(d) ? a.Dim(d) : 1).ToArray(), amax.Shape);
        Assert.Equal(expected, amax.AsSpan().ToArray());
    }

    [Fact]
    public void MaxCalibrator_TrackAmax_KeepsEveryBatchAmax()
    {
        var cal = new MaxCalibrator([0], trackAmax: true);
        cal.Collect(Tensor.FromArray(new[] { 1f, -2f, 3f, 4f }, 2, 2));
        cal.Collect(Tensor.FromArray(new[] { 5f, 0f, 0f, -1f }, 2, 2));
        Assert.Equal(2, cal.BatchAmax.Count);
        Assert.Equal(new[] { 2f, 4f }, cal.BatchAmax[0]);
        Assert.Equal(new[] { 5f, 1f }, cal.BatchAmax[1]);
        Assert.Equal(new[] { 5f, 4f }, cal.ComputeAmax().AsSpan().ToArray());
    }

    [Fact]
    public void MaxCalibrator_NaNAndInf_ThrowWithCalibratorNameAndCount_StateUnchanged()
    {
        var cal = new MaxCalibrator();
        cal.Collect(Tensor.FromArray(new[] { 1f }, 1));
        var bad = Tensor.FromArray(new[] { 9f, float.NaN, float.PositiveInfinity, 2f }, 4);
        var ex = Assert.Throws<CalibrationException>(() => cal.Collect(bad));
        Assert.Contains("MaxCalibrator", ex.Message);
        Assert.Contains("2 non-finite", ex.Message);
        Assert.Equal(1f, cal.ComputeAmax().AsSpan()[0]);
    }

    [Fact]
    public void MaxCalibrator_EmptyCalibration_ThrowsClearError()
    {
        var ex = Assert.Throws<CalibrationException>(() => new MaxCalibrator().ComputeAmax());
        Assert.Contains("MaxCalibrator", ex.Message);
        Assert.Contains("before any data", ex.Message);
    }

    [Fact]
    public void MaxCalibrator_OnlyEmptyBatches_IsStillEmptyCalibration()
    {
        var cal = new MaxCalibrator([0]);
        cal.Collect(Tensor.FromArray(Array.Empty<float>(), 3, 0));
        Assert.False(cal.HasData);
        Assert.Throws<CalibrationException>(() => cal.ComputeAmax());
        var hist = new HistogramCalibrator();
        hist.Collect(Tensor.FromArray(Array.Empty<float>(), 0));
        Assert.Throws<CalibrationException>(() => hist.ComputeAmax("percentile"));
    }

    [Fact]
    public void MaxCalibrator_AxisOutOfRange_ThrowsShapeException()
    {
        var ex = Assert.Throws<ShapeException>(() => new MaxCalibrator([2]).Collect(Rand(0, 3, 4)));
        Assert.Contains("MaxCalibrator", ex.Message);
    }

    [Fact]
    public void MaxCalibrator_KeptDimChange_ThrowsShapeException()
    {
        var cal = new MaxCalibrator([0]);
        cal.Collect(Rand(0, 3, 4));
        Assert.Throws<ShapeException>(() => cal.Collect(Rand(0, 5, 4)));
    }

    [Fact]
    public void MaxCalibrator_MergeOfSplitData_EqualsAllDataExactly()
    {
        var batches = Enumerable.Range(0, 6).Select(s => Rand(10 + s, 4, 3, 5)).ToArray();
        var all = new MaxCalibrator([1], trackAmax: true);
        foreach (var b in batches) all.Collect(b);
        var w1 = new MaxCalibrator([1], trackAmax: true);
        var w2 = new MaxCalibrator([1], trackAmax: true);
        for (int i = 0; i < batches.Length; i++) (i < 2 ? w1 : w2).Collect(batches[i]);
        w1.Merge(w2);
        Assert.Equal(all.ComputeAmax().AsSpan().ToArray(), w1.ComputeAmax().AsSpan().ToArray());
        Assert.Equal(all.BatchAmax, w1.BatchAmax);
        var empty = new MaxCalibrator([1]);
        empty.Merge(w1);
        Assert.Equal(all.ComputeAmax().AsSpan().ToArray(), empty.ComputeAmax().AsSpan().ToArray());
    }

    [Fact]
    public void Merge_MismatchedCalibrators_ThrowNamingTheProblem()
    {
        var ex = Assert.Throws<CalibrationException>(() => new MaxCalibrator([0]).Merge(new MaxCalibrator([1])));
        Assert.Contains("different axes", ex.Message);
        Assert.Throws<CalibrationException>(() => new MaxCalibrator().Merge(new HistogramCalibrator()));
        Assert.Throws<CalibrationException>(() => new HistogramCalibrator().Merge(new MaxCalibrator()));
        var skip = Assert.Throws<CalibrationException>(() => new HistogramCalibrator(skipZeros: true).Merge(new HistogramCalibrator()));
        Assert.Contains("skipZeros", skip.Message);
    }

    [Fact]
    public void MaxCalibrator_Reset_ForgetsData()
    {
        var cal = new MaxCalibrator(trackAmax: true);
        cal.Collect(Rand(0, 8));
        cal.Reset();
        Assert.False(cal.HasData);
        Assert.Empty(cal.BatchAmax);
        Assert.Throws<CalibrationException>(() => cal.ComputeAmax());
    }
}
