using static QuantSharp.Engine.Runtime.InputRole;
using QuantSharp.Engine.Kernels;
using static QuantSharp.Engine.Runtime.Ops.Table;

namespace QuantSharp.Engine.Runtime.Ops;

/// <summary>ONNX <c>Resize</c> (opsets 10, 11, 13, 18, 19) and <c>Upsample</c> (7, 9) bound to <see cref="Resize"/>.</summary>
internal static class ResizeOps
{
    public static void Register(OpRegistry r)
    {
        // Upsample: scales as an attribute (7) or an input (9); nearest uses asymmetric coordinates, floor (ceil when shrinking).
        AddAllocating(r, "Upsample", 7, n => Bind(n, UpsampleParams(n), a => (n.GetFloats("scales") ?? throw Missing(n, "scales")).Select(v => (double)v).ToArray(), sizes: null, roi: null));
        AddAllocating(r, "Upsample", 9, n => Bind(n, UpsampleParams(n), a => Floats(a, 1), sizes: null, roi: null));
        // Resize 10: inputs (X, scales), asymmetric coordinates.
        AddAllocating(r, "Resize", 10, n => Bind(n, UpsampleParams(n), a => Floats(a, 1), sizes: null, roi: null));
        foreach (long since in new long[] { 11, 13, 18, 19 })
            AddAllocating(r, "Resize", since, n =>
            {
                if (n.GetInt("antialias", 0) != 0) throw new GraphException($"node {n.Label}: Resize with antialias = 1 is not supported");
                var p = ResizeAttributes(n);
                return Bind(n, p, a => a.Has(2) && a.Any(2).Length > 0 ? Floats(a, 2) : null,
                    sizes: a => a.Has(3) && a.Any(3).Length > 0 ? a.Longs(3) : null,
                    roi: a => a.Has(1) && a.Any(1).Length > 0 ? Floats(a, 1) : null);
            });
        Describe(r);
    }

    /// <summary>Schema facts: roi, scales and sizes are settings.</summary>
    private static void Describe(OpRegistry r)
    {
        r.Describe("Resize").WithInputs(Data, Setting, Setting, Setting);
        r.Describe("Upsample").WithInputs(Data, Setting);
    }

    private static ResizeParams UpsampleParams(Node n) => new(Mode(n), ResizeCoordinateMode.Asymmetric, ResizeNearestMode.FloorUpCeilDown);

    private static ResizeParams ResizeAttributes(Node n) => new(
        Mode(n),
        n.GetString("coordinate_transformation_mode", "half_pixel") switch
        {
            "half_pixel" => ResizeCoordinateMode.HalfPixel,
            "half_pixel_symmetric" => ResizeCoordinateMode.HalfPixelSymmetric,
            "pytorch_half_pixel" => ResizeCoordinateMode.PytorchHalfPixel,
            "align_corners" => ResizeCoordinateMode.AlignCorners,
            "asymmetric" => ResizeCoordinateMode.Asymmetric,
            "tf_half_pixel_for_nn" => ResizeCoordinateMode.TfHalfPixelForNn,
            "tf_crop_and_resize" => ResizeCoordinateMode.TfCropAndResize,
            var s => throw new GraphException($"node {n.Label}: attribute 'coordinate_transformation_mode' has unknown value '{s}'"),
        },
        n.GetString("nearest_mode", "round_prefer_floor") switch
        {
            "round_prefer_floor" => ResizeNearestMode.RoundPreferFloor,
            "round_prefer_ceil" => ResizeNearestMode.RoundPreferCeil,
            "floor" => ResizeNearestMode.Floor,
            "ceil" => ResizeNearestMode.Ceil,
            var s => throw new GraphException($"node {n.Label}: attribute 'nearest_mode' has unknown value '{s}'"),
        },
        n.GetFloat("cubic_coeff_a", -0.75f),
        n.GetInt("exclude_outside", 0) != 0,
        n.GetFloat("extrapolation_value", 0f));

    private static ResizeMode Mode(Node n) => n.GetString("mode", "nearest") switch
    {
        "nearest" => ResizeMode.Nearest,
        "linear" or "bilinear" => ResizeMode.Linear,
        "cubic" or "bicubic" => ResizeMode.Cubic,
        var s => throw new GraphException($"node {n.Label}: attribute 'mode' has unknown value '{s}'"),
    };

    /// <summary>
    /// Forward and gradient of one node; the geometry (output shape, coordinate scales, roi) is resolved from the
    /// inputs on every run, honouring <c>axes</c> and <c>keep_aspect_ratio_policy</c> (opset 18).
    /// </summary>
    private static (AllocatingForwardRule, GradientRule?) Bind(Node n, ResizeParams p, Func<OpArgs, double[]?> scales,
        Func<OpArgs, long[]?>? sizes, Func<OpArgs, double[]?>? roi)
    {
        (int[] Shape, double[] Scales, double[] Roi) Geometry(OpArgs a, ReadOnlySpan<int> x)
        {
            int r = x.Length;
            var axes = Ints(n, "axes")?.Select(v => Check.Axis(n.OpType, "axes", v, r)).ToArray() ?? Enumerable.Range(0, r).ToArray();
            var sc = scales(a);
            var sz = sizes?.Invoke(a);
            if ((sc is null) == (sz is null))
                throw new GraphException($"node {n.Label}: exactly one of 'scales' and 'sizes' must be given, got {(sc is null ? "neither" : "both")}");
            var shape = x.ToArray();
            var full = Enumerable.Repeat(1.0, r).ToArray();
            int given = (sc?.Length ?? sz!.Length);
            Check.That(given == axes.Length, n.OpType, sc is null ? "sizes" : "scales", $"{axes.Length} values", $"{given}");
            if (sc is not null)
            {
                for (int i = 0; i < axes.Length; i++) full[axes[i]] = sc[i];
                shape = Resize.OutputShape(x, full);
            }
            else
            {
                string policy = n.GetString("keep_aspect_ratio_policy", "stretch");
                if (policy == "stretch")
                    for (int i = 0; i < axes.Length; i++) { shape[axes[i]] = checked((int)sz![i]); full[axes[i]] = (double)sz[i] / x[axes[i]]; }
                else
                {
                    double s = policy == "not_larger" ? double.MaxValue : double.MinValue;
                    for (int i = 0; i < axes.Length; i++)
                    {
                        double v = (double)sz![i] / x[axes[i]];
                        s = policy == "not_larger" ? Math.Min(s, v) : Math.Max(s, v);
                    }
                    foreach (int ax in axes) { shape[ax] = (int)Math.Round(s * x[ax]); full[ax] = s; }
                }
            }
            var rr = roi?.Invoke(a);
            double[] fullRoi = [];
            if (rr is not null && p.CoordinateMode == ResizeCoordinateMode.TfCropAndResize)
            {
                Check.That(rr.Length == 2 * axes.Length, n.OpType, "roi", $"{2 * axes.Length} values", $"{rr.Length}");
                fullRoi = new double[2 * r];
                for (int d = 0; d < r; d++) fullRoi[r + d] = 1;
                for (int i = 0; i < axes.Length; i++) { fullRoi[axes[i]] = rr[i]; fullRoi[r + axes[i]] = rr[axes.Length + i]; }
            }
            return (shape, full, fullRoi);
        }

        return (
            (a, _, alloc) =>
            {
                var x = a.Float(0);
                var (shape, s, rois) = Geometry(a, x.Dims);
                return [Resize.Forward(x, shape, s, p, rois, alloc.Allocate<float>(shape))];
            },
            (a, y, g, _) =>
            {
                var x = a.Float(0);
                var (_, s, rois) = Geometry(a, x.Dims);
                var grads = new Tensor?[a.Count];
                grads[0] = Resize.Backward(Grad(g, y), x.Dims, s, p, rois);
                return grads;
            });
    }

    private static double[] Floats(OpArgs a, int i) => a.Any(i) switch
    {
        Tensor<float> f => f.Data.Select(v => (double)v).ToArray(),
        Tensor<double> d => d.Data.ToArray(),
        var t => throw new GraphException($"node {a.Node.Label}: input {i} expected a float tensor, got {t.DataType}"),
    };

    private static GraphException Missing(Node n, string attribute) => new($"node {n.Label}: attribute '{attribute}' is required");
}
