using static QuantSharp.Engine.Runtime.InputRole;
using static QuantSharp.Engine.Runtime.Ops.Table;

namespace QuantSharp.Engine.Runtime.Ops;

/// <summary>
/// Detection and sampling ops: NonMaxSuppression, RoiAlign and GridSample. Forward only, computed in float32 (double
/// inputs are narrowed and the result widened back), plain loops;
/// the interpolation details (clamping, sample grids, reflection) follow ONNX Runtime's CPU kernels, which the ONNX
/// backend test data was generated to match.
/// </summary>
internal static class DetectionOps
{
    public static void Register(OpRegistry r)
    {
        Add(r, "NonMaxSuppression", 10, n =>
        {
            bool center = n.GetInt("center_point_box", 0) != 0;
            return ((a, _) => [NonMaxSuppression(a, center)], null);
        });
        // Opset 10 had no coordinate_transformation_mode: it behaved as 'output_half_pixel' (no −0.5 shift).
        Add(r, "RoiAlign", 10, n => ((a, _) => [InFloat(a, [0, 1], f => RoiAlign(f, n, halfPixel: false))], null));
        Add(r, "RoiAlign", 16, n =>
        {
            string ctm = n.GetString("coordinate_transformation_mode", "half_pixel");
            if (ctm is not ("half_pixel" or "output_half_pixel"))
                throw new GraphException($"node {n.Label}: attribute 'coordinate_transformation_mode' expected 'half_pixel' or 'output_half_pixel', got '{ctm}'");
            return ((a, _) => [InFloat(a, [0, 1], f => RoiAlign(f, n, ctm == "half_pixel"))], null);
        });
        Add(r, "GridSample", 16, n =>
        {
            var settings = GridSampleSettings.Of(n, opset20: false);
            return ((a, _) => [InFloat(a, [0, 1], f => GridSample(f, settings))], null);
        });
        // Opset 20 also samples volumes (and other ranks); the 2-D case keeps the 2-D kernel (which alone has 'cubic').
        Add(r, "GridSample", 20, n =>
        {
            var settings = GridSampleSettings.Of(n, opset20: true);
            return ((a, _) => [InFloat(a, [0, 1], f => f.Float(0).Rank == 4 ? GridSample(f, settings) : GridSampleNd(f, settings))], null);
        });
        Describe(r);
    }

    /// <summary>Schema facts: boxes, indices, thresholds and grids are settings; NonMaxSuppression gives int64 indices.</summary>
    private static void Describe(OpRegistry r)
    {
        r.Describe("NonMaxSuppression").WithInputs(Setting, Setting, Setting, Setting, Setting).WithOutputType(TypeRules.Fixed(DataType.Int64));
        r.Describe("RoiAlign").WithInputs(Data, Setting, Setting);
        r.Describe("GridSample").WithInputs(Data, Setting);
    }

    /// <summary>
    /// Runs a float kernel on double inputs too (the spec allows both): the inputs at <paramref name="floatInputs"/> are
    /// narrowed to float32, computed in float32 precision, and the result widened back to double.
    /// </summary>
    private static Tensor InFloat(OpArgs a, int[] floatInputs, Func<OpArgs, Tensor<float>> kernel)
    {
        if (a.Optional(0) is not Tensor<double>) return kernel(a);
        var values = new Tensor?[a.Count];
        for (int i = 0; i < a.Count; i++) values[i] = a.Optional(i);
        foreach (int i in floatInputs)
            if (values[i] is Tensor<double> d) values[i] = TensorOps.Cast(d, DataType.Float32);
        return TensorOps.Cast(kernel(new OpArgs(a.Node, values)), DataType.Float64);
    }

    // ---------------------------------------------------------------- NonMaxSuppression

    /// <summary>
    /// Per batch and class: boxes with score &gt; score_threshold, taken in descending score order (ties by index), each
    /// kept unless its IoU with an already kept box exceeds iou_threshold, at most max_output_boxes_per_class of them.
    /// Output rows are [batch, class, box], batch-major then class-major.
    /// </summary>
    private static Tensor<long> NonMaxSuppression(OpArgs a, bool centerPointBox)
    {
        var node = a.Node;
        var boxes = a.Float(0);
        var scores = a.Float(1);
        if (boxes.Rank != 3 || boxes.Dims[2] != 4)
            throw new GraphException($"node {node.Label}: input 0 ('boxes') expected shape [batch, boxes, 4], got {Shapes.Format(boxes.Dims)}");
        if (scores.Rank != 3 || scores.Dims[0] != boxes.Dims[0] || scores.Dims[2] != boxes.Dims[1])
            throw new GraphException($"node {node.Label}: input 1 ('scores') expected shape [{boxes.Dims[0]}, classes, {boxes.Dims[1]}], got {Shapes.Format(scores.Dims)}");
        long maxPerClass = a.Has(2) ? a.Longs(2)[0] : 0;
        float iouThreshold = a.ScalarOr(3, 0f), scoreThreshold = a.ScalarOr(4, float.NegativeInfinity);
        if (iouThreshold < 0 || iouThreshold > 1)
            throw new GraphException($"node {node.Label}: input 3 ('iou_threshold') expected a value in [0, 1], got {iouThreshold}");
        int batches = boxes.Dims[0], count = boxes.Dims[1], classes = scores.Dims[1];
        var selected = new List<long>();
        if (maxPerClass <= 0) return new Tensor<long>(0, 3);

        // Corners as (y1, x1, y2, x2) with y1 ≤ y2, x1 ≤ x2 whatever diagonal or format the input used.
        var corners = new float[batches * count * 4];
        for (int i = 0; i < batches * count; i++)
        {
            ReadOnlySpan<float> b = boxes.Data.AsSpan(i * 4, 4);
            float y1, x1, y2, x2;
            if (centerPointBox) { x1 = b[0] - b[2] / 2; x2 = b[0] + b[2] / 2; y1 = b[1] - b[3] / 2; y2 = b[1] + b[3] / 2; }
            else { y1 = b[0]; x1 = b[1]; y2 = b[2]; x2 = b[3]; }
            corners[i * 4] = Math.Min(y1, y2); corners[i * 4 + 1] = Math.Min(x1, x2);
            corners[i * 4 + 2] = Math.Max(y1, y2); corners[i * 4 + 3] = Math.Max(x1, x2);
        }
        var order = new int[count];
        var kept = new List<int>();
        for (int bi = 0; bi < batches; bi++)
            for (int c = 0; c < classes; c++)
            {
                var s = scores.Data.AsSpan((bi * classes + c) * count, count);
                int candidates = 0;
                for (int i = 0; i < count; i++) if (s[i] > scoreThreshold) order[candidates++] = i;
                var sSnapshot = s.ToArray();
                // Stable: equal scores keep ascending box order, so identical boxes select the first.
                Array.Sort(order, 0, candidates, Comparer<int>.Create((p, q) =>
                {
                    int byScore = sSnapshot[q].CompareTo(sSnapshot[p]);
                    return byScore != 0 ? byScore : p.CompareTo(q);
                }));
                kept.Clear();
                for (int k = 0; k < candidates && kept.Count < maxPerClass; k++)
                {
                    int box = order[k];
                    bool suppressed = false;
                    foreach (int other in kept)
                        if (Iou(corners, bi * count + box, bi * count + other) > iouThreshold) { suppressed = true; break; }
                    if (suppressed) continue;
                    kept.Add(box);
                    selected.Add(bi); selected.Add(c); selected.Add(box);
                }
            }
        return new Tensor<long>(selected.ToArray(), selected.Count / 3, 3);
    }

    private static float Iou(float[] corners, int i, int j)
    {
        float areaI = (corners[i * 4 + 2] - corners[i * 4]) * (corners[i * 4 + 3] - corners[i * 4 + 1]);
        float areaJ = (corners[j * 4 + 2] - corners[j * 4]) * (corners[j * 4 + 3] - corners[j * 4 + 1]);
        if (areaI <= 0 || areaJ <= 0) return 0; // degenerate boxes never suppress nor get suppressed
        float h = Math.Min(corners[i * 4 + 2], corners[j * 4 + 2]) - Math.Max(corners[i * 4], corners[j * 4]);
        float w = Math.Min(corners[i * 4 + 3], corners[j * 4 + 3]) - Math.Max(corners[i * 4 + 1], corners[j * 4 + 1]);
        if (h <= 0 || w <= 0) return 0;
        float inter = h * w;
        return inter / (areaI + areaJ - inter);
    }

    // ---------------------------------------------------------------- RoiAlign

    /// <summary>
    /// Each output bin averages (or maxes) sampling_ratio² bilinear samples (adaptive ⌈roi/bins⌉ per side when 0) placed at
    /// the centres of a regular sub-grid of the bin. Coordinates are x·spatial_scale − 0.5 under 'half_pixel'; under
    /// 'output_half_pixel' there is no shift and ROIs smaller than one pixel are widened to one. Samples more than one
    /// pixel outside the map contribute 0; samples in the last half pixel are clamped to the edge.
    /// In 'max' mode each sample contributes the largest of its four weighted corner values (ONNX Runtime's definition).
    /// </summary>
    private static Tensor<float> RoiAlign(OpArgs a, Node n, bool halfPixel)
    {
        var x = a.Float(0);
        var rois = a.Float(1);
        var batchIndex = a.Longs(2);
        string mode = n.GetString("mode", "avg");
        if (mode is not ("avg" or "max")) throw new GraphException($"node {n.Label}: attribute 'mode' expected 'avg' or 'max', got '{mode}'");
        int oh = (int)n.GetInt("output_height", 1), ow = (int)n.GetInt("output_width", 1), ratio = (int)n.GetInt("sampling_ratio", 0);
        float scale = n.GetFloat("spatial_scale", 1f);
        if (x.Rank != 4) throw new GraphException($"node {n.Label}: input 0 ('X') expected rank 4 [N, C, H, W], got {Shapes.Format(x.Dims)}");
        if (rois.Rank != 2 || rois.Dims[1] != 4) throw new GraphException($"node {n.Label}: input 1 ('rois') expected shape [num_rois, 4], got {Shapes.Format(rois.Dims)}");
        int numRois = rois.Dims[0], channels = x.Dims[1], height = x.Dims[2], width = x.Dims[3];
        if (batchIndex.Length != numRois) throw new GraphException($"node {n.Label}: input 2 ('batch_indices') expected {numRois} entries, got {batchIndex.Length}");
        var y = new Tensor<float>(numRois, channels, oh, ow);
        float offset = halfPixel ? 0.5f : 0f;
        bool max = mode == "max";
        for (int r = 0; r < numRois; r++)
        {
            long b = batchIndex[r];
            if (b < 0 || b >= x.Dims[0]) throw new GraphException($"node {n.Label}: input 2 ('batch_indices') entry {r} expected a value in [0, {x.Dims[0] - 1}], got {b}");
            float x0 = rois.Data[r * 4] * scale - offset, y0 = rois.Data[r * 4 + 1] * scale - offset;
            float x1 = rois.Data[r * 4 + 2] * scale - offset, y1 = rois.Data[r * 4 + 3] * scale - offset;
            float roiW = x1 - x0, roiH = y1 - y0;
            if (!halfPixel) { roiW = Math.Max(roiW, 1f); roiH = Math.Max(roiH, 1f); }
            float binH = roiH / oh, binW = roiW / ow;
            int gridH = ratio > 0 ? ratio : (int)MathF.Ceiling(roiH / oh), gridW = ratio > 0 ? ratio : (int)MathF.Ceiling(roiW / ow);
            float count = Math.Max(gridH * gridW, 1);
            for (int c = 0; c < channels; c++)
            {
                var plane = x.Data.AsSpan((int)((b * channels + c) * height * width), height * width);
                for (int ph = 0; ph < oh; ph++)
                    for (int pw = 0; pw < ow; pw++)
                    {
                        float acc = 0;
                        bool first = true;
                        for (int iy = 0; iy < gridH; iy++)
                        {
                            float sy = y0 + ph * binH + (iy + 0.5f) * binH / gridH;
                            for (int ix = 0; ix < gridW; ix++)
                            {
                                float sx = x0 + pw * binW + (ix + 0.5f) * binW / gridW;
                                float v = Bilinear(plane, height, width, sy, sx, max);
                                if (max) { acc = first ? v : Math.Max(acc, v); first = false; }
                                else acc += v;
                            }
                        }
                        y.Data[((r * channels + c) * oh + ph) * ow + pw] = max ? acc : acc / count;
                    }
            }
        }
        return y;
    }

    private static float Bilinear(ReadOnlySpan<float> plane, int height, int width, float y, float x, bool max)
    {
        if (y < -1f || y > height || x < -1f || x > width) return 0f;
        y = Math.Max(y, 0f);
        x = Math.Max(x, 0f);
        int yLow = (int)y, xLow = (int)x, yHigh, xHigh;
        if (yLow >= height - 1) { yHigh = yLow = height - 1; y = yLow; } else yHigh = yLow + 1;
        if (xLow >= width - 1) { xHigh = xLow = width - 1; x = xLow; } else xHigh = xLow + 1;
        float ly = y - yLow, lx = x - xLow, hy = 1 - ly, hx = 1 - lx;
        float a = hy * hx * plane[yLow * width + xLow], b = hy * lx * plane[yLow * width + xHigh];
        float c = ly * hx * plane[yHigh * width + xLow], d = ly * lx * plane[yHigh * width + xHigh];
        return max ? Math.Max(Math.Max(a, b), Math.Max(c, d)) : a + b + c + d;
    }

    // ---------------------------------------------------------------- GridSample

    private enum SampleMode { Linear, Nearest, Cubic }
    private enum Padding { Zeros, Border, Reflection }

    private readonly record struct GridSampleSettings(SampleMode Mode, Padding Padding, bool AlignCorners)
    {
        public static GridSampleSettings Of(Node n, bool opset20)
        {
            string mode = n.GetString("mode", opset20 ? "linear" : "bilinear");
            var m = (mode, opset20) switch
            {
                ("bilinear", false) or ("linear", true) => SampleMode.Linear,
                ("bicubic", false) or ("cubic", true) => SampleMode.Cubic,
                ("nearest", _) => SampleMode.Nearest,
                _ => throw new GraphException($"node {n.Label}: attribute 'mode' expected {(opset20 ? "'linear', 'nearest' or 'cubic'" : "'bilinear', 'nearest' or 'bicubic'")}, got '{mode}'"),
            };
            string pad = n.GetString("padding_mode", "zeros");
            var p = pad switch
            {
                "zeros" => Padding.Zeros,
                "border" => Padding.Border,
                "reflection" => Padding.Reflection,
                _ => throw new GraphException($"node {n.Label}: attribute 'padding_mode' expected 'zeros', 'border' or 'reflection', got '{pad}'"),
            };
            return new(m, p, n.GetInt("align_corners", 0) != 0);
        }
    }

    /// <summary>
    /// Samples X [N, C, H, W] at grid [N, H_out, W_out, 2] (x, y in [−1, 1]). Grid values map to pixel centres
    /// (align_corners = 0: −1 is the left edge of the first pixel) or to the corner pixels (align_corners = 1).
    /// Out-of-range coordinates are clamped (border; not for cubic, whose taps alone are clamped) or mirrored at the edges
    /// (reflection) before interpolating; taps outside the image read 0 (zeros) or the clamped / mirrored pixel. Nearest rounds half to even; cubic uses
    /// Keys' kernel with a = −0.75 over 4×4 taps.
    /// </summary>
    private static Tensor<float> GridSample(OpArgs a, GridSampleSettings s)
    {
        var node = a.Node;
        var x = a.Float(0);
        var grid = a.Float(1);
        if (x.Rank != 4)
            throw new GraphException($"node {node.Label}: input 0 ('X') expected rank 4 [N, C, H, W] (other ranks need opset 20), got {Shapes.Format(x.Dims)}");
        if (grid.Rank != 4 || grid.Dims[0] != x.Dims[0] || grid.Dims[3] != 2)
            throw new GraphException($"node {node.Label}: input 1 ('grid') expected shape [{x.Dims[0]}, H_out, W_out, 2], got {Shapes.Format(grid.Dims)}");
        int batches = x.Dims[0], channels = x.Dims[1], h = x.Dims[2], w = x.Dims[3], oh = grid.Dims[1], ow = grid.Dims[2];
        var y = new Tensor<float>(batches, channels, oh, ow);
        // The reflection bounds: pixel centres (align_corners) or pixel edges.
        float xMin = s.AlignCorners ? 0 : -0.5f, xMax = s.AlignCorners ? w - 1 : w - 0.5f;
        float yMin = s.AlignCorners ? 0 : -0.5f, yMax = s.AlignCorners ? h - 1 : h - 0.5f;
        Span<float> cx = stackalloc float[4], cy = stackalloc float[4];
        for (int b = 0; b < batches; b++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++)
                {
                    int g = ((b * oh + i) * ow + j) * 2;
                    float px = Denormalize(grid.Data[g], w, s.AlignCorners), py = Denormalize(grid.Data[g + 1], h, s.AlignCorners);
                    if (s.Mode == SampleMode.Nearest) { px = MathF.Round(px, MidpointRounding.ToEven); py = MathF.Round(py, MidpointRounding.ToEven); }
                    if (px < xMin || px > xMax || py < yMin || py > yMax)
                    {
                        // Cubic keeps the unclamped position under border padding (only its taps are clamped), as ONNX Runtime does.
                        if (s.Padding == Padding.Border && s.Mode != SampleMode.Cubic) { px = Math.Clamp(px, 0, w - 1); py = Math.Clamp(py, 0, h - 1); }
                        else if (s.Padding == Padding.Reflection) { px = Reflect(px, xMin, xMax); py = Reflect(py, yMin, yMax); }
                    }
                    for (int c = 0; c < channels; c++)
                    {
                        var plane = x.Data.AsSpan((b * channels + c) * h * w, h * w);
                        float v;
                        if (s.Mode == SampleMode.Nearest) v = Pixel(plane, h, w, (int)py, (int)px, s.Padding, xMin, xMax, yMin, yMax);
                        else if (s.Mode == SampleMode.Linear)
                        {
                            int x1 = (int)MathF.Floor(px), y1 = (int)MathF.Floor(py);
                            float dx = px - x1, dy = py - y1;
                            float p11 = Pixel(plane, h, w, y1, x1, s.Padding, xMin, xMax, yMin, yMax), p12 = Pixel(plane, h, w, y1, x1 + 1, s.Padding, xMin, xMax, yMin, yMax);
                            float p21 = Pixel(plane, h, w, y1 + 1, x1, s.Padding, xMin, xMax, yMin, yMax), p22 = Pixel(plane, h, w, y1 + 1, x1 + 1, s.Padding, xMin, xMax, yMin, yMax);
                            v = (1 - dy) * ((1 - dx) * p11 + dx * p12) + dy * ((1 - dx) * p21 + dx * p22);
                        }
                        else
                        {
                            int x0 = (int)MathF.Floor(px) - 1, y0 = (int)MathF.Floor(py) - 1;
                            CubicCoefficients(px - x0 - 1, cx);
                            CubicCoefficients(py - y0 - 1, cy);
                            v = 0;
                            for (int r = 0; r < 4; r++)
                            {
                                float row = 0;
                                for (int k = 0; k < 4; k++) row += cx[k] * Pixel(plane, h, w, y0 + r, x0 + k, s.Padding, xMin, xMax, yMin, yMax);
                                v += cy[r] * row;
                            }
                        }
                        y.Data[((b * channels + c) * oh + i) * ow + j] = v;
                    }
                }
        return y;
    }

    private static Tensor<float> GridSampleNd(OpArgs a, GridSampleSettings s)
    {
        if (s.Mode == SampleMode.Cubic)
            throw new GraphException($"node {a.Node.Label}: mode 'cubic' needs 2 spatial dimensions (X of rank 4), got X of shape {Shapes.Format(a.Float(0).Dims)}");
        string padding = s.Padding switch { Padding.Zeros => "zeros", Padding.Border => "border", _ => "reflection" };
        return Ops.GridSampleNd.Sample(a.Node, a.Float(0), a.Float(1), s.Mode == SampleMode.Nearest, padding, s.AlignCorners);
    }

    private static float Denormalize(float n, int size, bool alignCorners) =>
        alignCorners ? (n + 1) / 2 * (size - 1) : ((n + 1) * size - 1) / 2;

    private static float Pixel(ReadOnlySpan<float> plane, int h, int w, int r, int c, Padding padding, float xMin, float xMax, float yMin, float yMax)
    {
        switch (padding)
        {
            case Padding.Zeros:
                return r >= 0 && r < h && c >= 0 && c < w ? plane[r * w + c] : 0f;
            case Padding.Border:
                return plane[Math.Clamp(r, 0, h - 1) * w + Math.Clamp(c, 0, w - 1)];
            default:
                int rr = Math.Clamp((int)Reflect(r, yMin, yMax), 0, h - 1), cc = Math.Clamp((int)Reflect(c, xMin, xMax), 0, w - 1);
                return plane[rr * w + cc];
        }
    }

    /// <summary>Mirrors <paramref name="v"/> into [lo, hi] as often as needed (a triangle wave of period 2·(hi − lo)).</summary>
    private static float Reflect(float v, float lo, float hi)
    {
        float range = hi - lo;
        if (range <= 0) return lo;
        if (v < lo)
        {
            float d = lo - v;
            int k = (int)(d / range);
            float rest = d - k * range;
            return k % 2 == 0 ? lo + rest : hi - rest;
        }
        if (v > hi)
        {
            float d = v - hi;
            int k = (int)(d / range);
            float rest = d - k * range;
            return k % 2 == 0 ? hi - rest : lo + rest;
        }
        return v;
    }

    /// <summary>Keys' cubic convolution weights (a = −0.75) of the taps at offsets −1, 0, 1, 2 from the floor, for fraction t.</summary>
    private static void CubicCoefficients(float t, Span<float> k)
    {
        const float A = -0.75f;
        float t1 = t + 1, t2 = 1 - t, t3 = 2 - t;
        k[0] = ((A * t1 - 5 * A) * t1 + 8 * A) * t1 - 4 * A;
        k[1] = ((A + 2) * t - (A + 3)) * t * t + 1;
        k[2] = ((A + 2) * t2 - (A + 3)) * t2 * t2 + 1;
        k[3] = ((A * t3 - 5 * A) * t3 + 8 * A) * t3 - 4 * A;
    }
}
