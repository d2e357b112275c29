namespace QuantSharp.Engine.Kernels;

/// <summary>Plain scalar Softmax / LogSoftmax (double accumulation), the oracle for <see cref="Softmax"/>.</summary>
public static class SoftmaxReference
{
    /// <summary>Softmax (or log-softmax) along <paramref name="axis"/>.</summary>
    public static Tensor<float> Forward(Tensor<float> x, int axis = -1, bool log = false)
    {
        var (outer, n, inner) = Softmax.View(log ? "LogSoftmax" : "Softmax", x.Dims, axis);
        var y = new Tensor<float>(x.Dims);
        for (int o = 0; o < outer; o++)
            for (int j = 0; j < inner; j++)
            {
                int b = o * n * inner + j;
                double m = double.NegativeInfinity;
                for (int r = 0; r < n; r++) m = Math.Max(m, x.Data[b + r * inner]);
                double s = 0;
                for (int r = 0; r < n; r++) s += Math.Exp(x.Data[b + r * inner] - m);
                for (int r = 0; r < n; r++)
                {
                    double v = x.Data[b + r * inner] - m;
                    y.Data[b + r * inner] = (float)(log ? v - Math.Log(s) : Math.Exp(v) / s);
                }
            }
        return y;
    }
}
