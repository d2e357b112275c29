namespace QuantSharp.Engine.Kernels;

/// <summary>Plain scalar InstanceNormalization (statistics in double): the specification <see cref="InstanceNorm"/> is tested against.</summary>
public static class InstanceNormReference
{
    /// <summary>Forward; see <see cref="InstanceNorm"/> remarks.</summary>
    public static InstanceNormResult Forward(Tensor<float> x, Tensor<float> scale, Tensor<float> bias, float epsilon = 1e-5f)
    {
        int n = x.Dims[0], c = x.Dims[1], s = x.Length / Math.Max(n * c, 1);
        var y = new Tensor<float>(x.Dims);
        var mean = new Tensor<float>(n, c);
        var inv = new Tensor<float>(n, c);
        for (int pl = 0; pl < n * c; pl++)
        {
            double sum = 0;
            for (int j = 0; j < s; j++) sum += x.Data[pl * s + j];
            double mu = sum / s, sq = 0;
            for (int j = 0; j < s; j++) { double d = x.Data[pl * s + j] - mu; sq += d * d; }
            double r = 1.0 / Math.Sqrt(sq / s + epsilon);
            mean.Data[pl] = (float)mu;
            inv.Data[pl] = (float)r;
            for (int j = 0; j < s; j++)
                y.Data[pl * s + j] = (float)(scale.Data[pl % c] * (x.Data[pl * s + j] - mu) * r + bias.Data[pl % c]);
        }
        return new InstanceNormResult(y, mean, inv);
    }

    /// <summary>Backward; see <see cref="InstanceNorm"/> remarks.</summary>
    public static (Tensor<float> GradX, Tensor<float> GradScale, Tensor<float> GradBias) Backward(Tensor<float> x, Tensor<float> gradY,
        Tensor<float> scale, Tensor<float> mean, Tensor<float> invStd)
    {
        int n = x.Dims[0], c = x.Dims[1], s = x.Length / Math.Max(n * c, 1);
        var gx = new Tensor<float>(x.Dims);
        var gs = new double[c];
        var gb = new double[c];
        for (int pl = 0; pl < n * c; pl++)
        {
            double mu = mean.Data[pl], r = invStd.Data[pl], sdy = 0, sdyx = 0;
            for (int j = 0; j < s; j++)
            {
                double xhat = (x.Data[pl * s + j] - mu) * r;
                sdy += gradY.Data[pl * s + j];
                sdyx += gradY.Data[pl * s + j] * xhat;
            }
            gs[pl % c] += sdyx;
            gb[pl % c] += sdy;
            double k = scale.Data[pl % c] * r;
            for (int j = 0; j < s; j++)
            {
                double xhat = (x.Data[pl * s + j] - mu) * r;
                gx.Data[pl * s + j] = (float)(k * (gradY.Data[pl * s + j] - sdy / s - xhat * sdyx / s));
            }
        }
        var gScale = new Tensor<float>(c);
        var gBias = new Tensor<float>(c);
        for (int ch = 0; ch < c; ch++) { gScale.Data[ch] = (float)gs[ch]; gBias.Data[ch] = (float)gb[ch]; }
        return (gx, gScale, gBias);
    }
}
