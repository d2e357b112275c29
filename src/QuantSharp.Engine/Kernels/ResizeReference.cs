namespace QuantSharp.Engine.Kernels;

/// <summary>
/// Scalar specification of <see cref="Resize"/>: every output element is the sum, in double precision, of the
/// products of its per-axis tap weights times the input at the tap indices (any rank, any mode).
/// </summary>
public static class ResizeReference
{
    /// <summary>Resize by the reference rule; arguments as in <see cref="Resize.Forward"/>.</summary>
    public static Tensor<float> Forward(Tensor<float> x, ReadOnlySpan<int> outputShape, ReadOnlySpan<double> scales, ResizeParams p,
        ReadOnlySpan<double> roi = default)
    {
        var tables = Resize.Tables(x.Dims, outputShape, scales, p, roi);
        var y = new Tensor<float>(outputShape);
        if (y.Length > 0) Apply(x, tables, p.ExtrapolationValue, y);
        return y;
    }

    /// <summary>Input gradient by the reference rule; arguments as in <see cref="Resize.Backward"/>.</summary>
    public static Tensor<float> Backward(Tensor<float> gradOutput, ReadOnlySpan<int> inputShape, ReadOnlySpan<double> scales, ResizeParams p,
        ReadOnlySpan<double> roi = default)
    {
        var tables = Resize.Tables(inputShape, gradOutput.Dims, scales, p, roi);
        var gx = new Tensor<float>(inputShape);
        if (gradOutput.Length > 0 && gx.Length > 0) ApplyTranspose(gradOutput, tables, gx);
        return gx;
    }

    /// <summary>y[o] = Σ over tap combinations of Π weights · x[taps] (extrapolation value where any axis is outside).</summary>
    internal static void Apply(Tensor<float> x, ResizeAxisTable[] tables, float extrapolation, Tensor<float> y)
    {
        int r = x.Rank;
        var inStrides = Shapes.Strides(x.Dims);
        var o = new int[r];
        var k = new int[r];
        for (long flat = 0; flat < y.Length; flat++)
        {
            Unflatten(flat, y.Dims, o);
            bool outside = false;
            for (int d = 0; d < r; d++) outside |= tables[d].Outside is { } f && f[o[d]];
            if (outside) { y.Data[flat] = extrapolation; continue; }
            double acc = 0;
            Array.Clear(k);
            while (true)
            {
                double w = 1;
                long offset = 0;
                for (int d = 0; d < r; d++)
                {
                    int t = o[d] * tables[d].Taps + k[d];
                    w *= tables[d].Weight[t];
                    offset += (long)tables[d].Index[t] * inStrides[d];
                }
                if (w != 0) acc += w * x.Data[offset];
                if (!Next(k, tables)) break;
            }
            y.Data[flat] = (float)acc;
        }
    }

    /// <summary>gx[taps] += Π weights · gy[o] for every output o not in the extrapolated region.</summary>
    internal static void ApplyTranspose(Tensor<float> gy, ResizeAxisTable[] tables, Tensor<float> gx)
    {
        int r = gx.Rank;
        var inStrides = Shapes.Strides(gx.Dims);
        var acc = new double[gx.Length];
        var o = new int[r];
        var k = new int[r];
        for (long flat = 0; flat < gy.Length; flat++)
        {
            Unflatten(flat, gy.Dims, o);
            bool outside = false;
            for (int d = 0; d < r; d++) outside |= tables[d].Outside is { } f && f[o[d]];
            if (outside) continue;
            Array.Clear(k);
            while (true)
            {
                double w = 1;
                long offset = 0;
                for (int d = 0; d < r; d++)
                {
                    int t = o[d] * tables[d].Taps + k[d];
                    w *= tables[d].Weight[t];
                    offset += (long)tables[d].Index[t] * inStrides[d];
                }
                acc[offset] += w * gy.Data[flat];
                if (!Next(k, tables)) break;
            }
        }
        for (int i = 0; i < acc.Length; i++) gx.Data[i] = (float)acc[i];
    }

    private static void Unflatten(long flat, ReadOnlySpan<int> dims, int[] index)
    {
        for (int d = dims.Length - 1; d >= 0; d--)
        {
            index[d] = (int)(flat % dims[d]);
            flat /= dims[d];
        }
    }

    /// <summary>Advances the tap odometer; false after the last combination.</summary>
    private static bool Next(int[] k, ResizeAxisTable[] tables)
    {
        for (int d = k.Length - 1; d >= 0; d--)
        {
            if (++k[d] < tables[d].Taps) return true;
            k[d] = 0;
        }
        return false;
    }
}
