namespace QuantSharp.Engine.Kernels;

/// <summary>Interpolation of ONNX <c>Resize</c> (attribute <c>mode</c>).</summary>
public enum ResizeMode
{
    /// <summary>Nearest neighbour (one tap per axis, chosen by <see cref="ResizeNearestMode"/>).</summary>
    Nearest,
    /// <summary>Linear per axis (bilinear on 2-D, N-linear in general): two taps per axis.</summary>
    Linear,
    /// <summary>Cubic convolution per axis with coefficient A: four taps per axis.</summary>
    Cubic,
}

/// <summary>How an output coordinate maps to an input coordinate (ONNX <c>coordinate_transformation_mode</c>).</summary>
/// <remarks>
/// With x the output index, scale s, input length L and resized length L' (= L·s when scales are given, the
/// output size when sizes are given): half_pixel <c>(x + ½)/s − ½</c>; half_pixel_symmetric
/// <c>L/2·(1 − L'/(s·L)) + (x + ½)/s − ½</c>; pytorch_half_pixel the same as half_pixel when L' &gt; 1, else 0;
/// align_corners <c>x·(L − 1)/(L' − 1)</c> (0 when L' = 1); asymmetric <c>x/s</c>; tf_half_pixel_for_nn
/// <c>(x + ½)/s</c>; tf_crop_and_resize <c>start·(L − 1) + x·(end − start)·(L − 1)/(L' − 1)</c> (the window
/// centre when L' = 1), where a coordinate outside [0, L − 1] yields the extrapolation value.
/// </remarks>
public enum ResizeCoordinateMode
{
    /// <summary>half_pixel (the ONNX default).</summary>
    HalfPixel,
    /// <summary>half_pixel_symmetric (opset 19).</summary>
    HalfPixelSymmetric,
    /// <summary>pytorch_half_pixel.</summary>
    PytorchHalfPixel,
    /// <summary>align_corners.</summary>
    AlignCorners,
    /// <summary>asymmetric.</summary>
    Asymmetric,
    /// <summary>tf_half_pixel_for_nn (opset 11 only).</summary>
    TfHalfPixelForNn,
    /// <summary>tf_crop_and_resize (uses the region of interest).</summary>
    TfCropAndResize,
}

/// <summary>How nearest mode rounds a fractional input coordinate (ONNX <c>nearest_mode</c>).</summary>
public enum ResizeNearestMode
{
    /// <summary>Round, halves down (the ONNX default).</summary>
    RoundPreferFloor,
    /// <summary>Round, halves up.</summary>
    RoundPreferCeil,
    /// <summary>Floor.</summary>
    Floor,
    /// <summary>Ceil.</summary>
    Ceil,
    /// <summary>
    /// Floor on an axis being enlarged (scale ≥ 1), ceil on one being shrunk: what ONNX Runtime does for Upsample and
    /// Resize-10, which predate <c>nearest_mode</c>.
    /// </summary>
    FloorUpCeilDown,
}

/// <summary>The attributes of one Resize: interpolation, coordinate mapping, rounding and cubic options.</summary>
/// <param name="Mode">Interpolation.</param>
/// <param name="CoordinateMode">Output → input coordinate mapping.</param>
/// <param name="NearestMode">Rounding for <see cref="ResizeMode.Nearest"/>.</param>
/// <param name="CubicCoeffA">The A of cubic convolution (−0.75 as in ONNX; −0.5 is Keys' kernel).</param>
/// <param name="ExcludeOutside">Cubic/linear: taps outside the input get weight 0 and the rest are renormalized.</param>
/// <param name="ExtrapolationValue">tf_crop_and_resize: the value of outputs whose coordinate falls outside the input.</param>
public sealed record ResizeParams(
    ResizeMode Mode,
    ResizeCoordinateMode CoordinateMode = ResizeCoordinateMode.HalfPixel,
    ResizeNearestMode NearestMode = ResizeNearestMode.RoundPreferFloor,
    float CubicCoeffA = -0.75f,
    bool ExcludeOutside = false,
    float ExtrapolationValue = 0f)
{
    /// <summary>Number of taps per axis: 1 (nearest), 2 (linear) or 4 (cubic).</summary>
    public int Taps => Mode switch { ResizeMode.Nearest => 1, ResizeMode.Linear => 2, _ => 4 };
}

/// <summary>
/// The 1-D interpolation table of one axis: for each output index <c>o</c>, <see cref="Taps"/> input indices
/// (clamped into the input, edge replication) and weights; <c>y[o] = Σ_k Weight[o·K + k]·x[Index[o·K + k]]</c>.
/// Outputs flagged in <see cref="Outside"/> take the extrapolation value (tf_crop_and_resize only).
/// </summary>
public sealed class ResizeAxisTable
{
    private ResizeAxisTable(int taps, int[] index, float[] weight, bool[]? outside)
    {
        Taps = taps;
        Index = index;
        Weight = weight;
        Outside = outside;
    }

    /// <summary>Taps per output index.</summary>
    public int Taps { get; }

    /// <summary>Input indices, <c>output length × Taps</c>.</summary>
    public int[] Index { get; }

    /// <summary>Weights, <c>output length × Taps</c>.</summary>
    public float[] Weight { get; }

    /// <summary>Per output index: true when it lies outside the crop window (tf_crop_and_resize), else null.</summary>
    public bool[]? Outside { get; }

    /// <summary>True when output index o reads exactly input index o with weight 1 (a scale-1 axis that changes nothing).</summary>
    public bool IsIdentity(int inputLength)
    {
        int n = Weight.Length / Taps;
        if (n != inputLength || Outside is not null) return false;
        for (int o = 0; o < n; o++)
            for (int k = 0; k < Taps; k++)
            {
                float w = Weight[o * Taps + k];
                if (w != 0f && !(w == 1f && Index[o * Taps + k] == o)) return false;
            }
        return true;
    }

    /// <summary>
    /// Builds the table of one axis. <paramref name="scale"/> is the axis scale, <paramref name="resizedLength"/>
    /// the L' of the coordinate formulas (input length × scale, or the requested size), <paramref name="roiStart"/>
    /// and <paramref name="roiEnd"/> the normalized crop window (tf_crop_and_resize only).
    /// </summary>
    public static ResizeAxisTable Build(int inputLength, int outputLength, double scale, double resizedLength, ResizeParams p,
        double roiStart = 0, double roiEnd = 1)
    {
        int taps = p.Taps;
        var index = new int[outputLength * taps];
        var weight = new float[outputLength * taps];
        bool[]? outside = p.CoordinateMode == ResizeCoordinateMode.TfCropAndResize ? new bool[outputLength] : null;
        Span<double> c = stackalloc double[4];
        for (int o = 0; o < outputLength; o++)
        {
            double x = Coordinate(o, inputLength, scale, resizedLength, p.CoordinateMode, roiStart, roiEnd);
            if (outside is not null && (x < 0 || x > inputLength - 1)) outside[o] = true;
            double fl = Math.Floor(x), r = x - fl;
            int i0 = (int)fl;
            int first;
            switch (p.Mode)
            {
                case ResizeMode.Nearest:
                    bool up = r != 0 && p.NearestMode switch
                    {
                        ResizeNearestMode.RoundPreferFloor => r > 0.5,
                        ResizeNearestMode.RoundPreferCeil => r >= 0.5,
                        ResizeNearestMode.Floor => false,
                        ResizeNearestMode.FloorUpCeilDown => scale < 1,
                        _ => true,
                    };
                    first = i0 + (up ? 1 : 0);
                    c[0] = 1;
                    break;
                case ResizeMode.Linear:
                    first = i0;
                    c[0] = 1 - r; c[1] = r;
                    break;
                default:
                    first = i0 - 1;
                    CubicCoefficients(r, p.CubicCoeffA, c);
                    break;
            }
            if (p.ExcludeOutside && taps > 1)
            {
                double sum = 0;
                for (int k = 0; k < taps; k++)
                {
                    int i = first + k;
                    if (i < 0 || i >= inputLength) c[k] = 0;
                    sum += c[k];
                }
                if (sum != 0) for (int k = 0; k < taps; k++) c[k] /= sum;
            }
            for (int k = 0; k < taps; k++)
            {
                index[o * taps + k] = Math.Clamp(first + k, 0, inputLength - 1);
                weight[o * taps + k] = (float)c[k];
            }
        }
        return new ResizeAxisTable(taps, index, weight, outside);
    }

    /// <summary>The input coordinate of output index <paramref name="o"/> (see <see cref="ResizeCoordinateMode"/>).</summary>
    public static double Coordinate(int o, int inputLength, double scale, double resizedLength, ResizeCoordinateMode mode,
        double roiStart = 0, double roiEnd = 1) => mode switch
    {
        ResizeCoordinateMode.HalfPixel => (o + 0.5) / scale - 0.5,
        ResizeCoordinateMode.HalfPixelSymmetric =>
            inputLength / 2.0 * (1 - resizedLength / (scale * inputLength)) + (o + 0.5) / scale - 0.5,
        ResizeCoordinateMode.PytorchHalfPixel => resizedLength > 1 ? (o + 0.5) / scale - 0.5 : 0,
        ResizeCoordinateMode.AlignCorners => resizedLength == 1 ? 0 : o * (inputLength - 1.0) / (resizedLength - 1),
        ResizeCoordinateMode.Asymmetric => o / scale,
        ResizeCoordinateMode.TfHalfPixelForNn => (o + 0.5) / scale,
        _ => resizedLength > 1
            ? roiStart * (inputLength - 1) + o * (roiEnd - roiStart) * (inputLength - 1) / (resizedLength - 1)
            : 0.5 * (roiStart + roiEnd) * (inputLength - 1),
    };

    /// <summary>Cubic-convolution weights of the taps at offsets −1, 0, 1, 2 from floor(x), for fraction r.</summary>
    private static void CubicCoefficients(double r, double a, Span<double> c)
    {
        double t0 = r + 1, t1 = r, t2 = 1 - r, t3 = 2 - r;
        c[0] = ((a * t0 - 5 * a) * t0 + 8 * a) * t0 - 4 * a;
        c[1] = ((a + 2) * t1 - (a + 3)) * t1 * t1 + 1;
        c[2] = ((a + 2) * t2 - (a + 3)) * t2 * t2 + 1;
        c[3] = ((a * t3 - 5 * a) * t3 + 8 * a) * t3 - 4 * a;
    }
}
