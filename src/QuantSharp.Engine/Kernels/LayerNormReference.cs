namespace QuantSharp.Engine.Kernels;

/// <summary>Plain scalar LayerNormalization (row statistics in double): the specification <see cref="LayerNorm"/> is tested against.</summary>
public static class LayerNormReference
{
    /// <summary>Forward; see <see cref="LayerNorm.Forward"/> for the contract.</summary>
    public static LayerNormResult Forward(Tensor<float> x, Tensor<float> scale, Tensor<float>? bias, int axis = -1, float epsilon = 1e-5f)
    {
        var (rows, len, statShape) = LayerNorm.Layout(x, scale, bias, axis, "LayerNormalization");
        int l = scale.Length;
        var y = new Tensor<float>(x.Dims);
        var mean = new Tensor<float>(statShape);
        var inv = new Tensor<float>(statShape);
        for (int r = 0; r < rows; r++)
        {
            double s = 0;
            for (int j = 0; j < len; j++) s += x.Data[r * len + j];
            double mu = s / len, sq = 0;
            for (int j = 0; j < len; j++) { double d = x.Data[r * len + j] - mu; sq += d * d; }
            float fmu = (float)mu, finv = (float)(1.0 / Math.Sqrt(sq / len + epsilon));
            mean.Data[r] = fmu;
            inv.Data[r] = finv;
            for (int j = 0; j < len; j++)
                y.Data[r * len + j] = (x.Data[r * len + j] - fmu) * finv * scale.Data[j % l] + (bias is null ? 0f : bias.Data[j % l]);
        }
        return new LayerNormResult(y, mean, inv);
    }

    /// <summary>Backward; see <see cref="LayerNorm.Backward"/> for the formulas.</summary>
    public static (Tensor<float> GradX, Tensor<float> GradScale, Tensor<float> GradBias) Backward(Tensor<float> x, Tensor<float> gradY,
        Tensor<float> scale, Tensor<float> mean, Tensor<float> invStdDev, int axis = -1)
    {
        var (rows, len, _) = LayerNorm.Layout(x, scale, null, axis, "LayerNormalizationBackward");
        int l = scale.Length;
        var gx = new Tensor<float>(x.Dims);
        var gs = new double[l];
        var gb = new double[l];
        for (int r = 0; r < rows; r++)
        {
            double mu = mean.Data[r], inv = invStdDev.Data[r];
            double sg = 0, sgx = 0;
            for (int j = 0; j < len; j++)
            {
                int at = r * len + j;
                double xhat = (x.Data[at] - mu) * inv, g = (double)gradY.Data[at] * scale.Data[j % l];
                sg += g;
                sgx += g * xhat;
                gs[j % l] += gradY.Data[at] * xhat;
                gb[j % l] += gradY.Data[at];
            }
            for (int j = 0; j < len; j++)
            {
                int at = r * len + j;
                double xhat = (x.Data[at] - mu) * inv, g = (double)gradY.Data[at] * scale.Data[j % l];
                gx.Data[at] = (float)(inv * (g - sg / len - xhat * sgx / len));
            }
        }
        var gScale = new Tensor<float>(scale.Dims);
        var gBias = new Tensor<float>(scale.Dims);
        for (int j = 0; j < l; j++) { gScale.Data[j] = (float)gs[j]; gBias.Data[j] = (float)gb[j]; }
        return (gx, gScale, gBias);
    }
}
