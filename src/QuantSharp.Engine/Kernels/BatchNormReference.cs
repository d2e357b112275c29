namespace QuantSharp.Engine.Kernels;

/// <summary>
/// Plain scalar BatchNormalization (statistics accumulated in double): the specification <see cref="BatchNorm"/> is
/// tested against. Layout: x is [N, C, spatial…] (rank ≥ 2); per-channel tensors are [C].
/// </summary>
public static class BatchNormReference
{
    /// <summary>Inference: <c>y = scale·(x − mean)/sqrt(var + ε) + bias</c> per channel.</summary>
    public static Tensor<float> Inference(Tensor<float> x, Tensor<float> scale, Tensor<float> bias, Tensor<float> mean, Tensor<float> variance, float epsilon)
    {
        var (n, c, s) = BatchNorm.Layout(x, "BatchNormalization");
        var y = new Tensor<float>(x.Dims);
        for (int i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++)
        {
            float sd = MathF.Sqrt(variance.Data[ch] + epsilon);
            for (int j = 0; j < s; j++)
            {
                int at = (i * c + ch) * s + j;
                y.Data[at] = scale.Data[ch] * (x.Data[at] - mean.Data[ch]) / sd + bias.Data[ch];
            }
        }
        return y;
    }

    /// <summary>Batch mean and biased variance per channel over N and the spatial axes.</summary>
    public static (double[] Mean, double[] Variance) Statistics(Tensor<float> x)
    {
        var (n, c, s) = BatchNorm.Layout(x, "BatchNormalization");
        var mean = new double[c];
        var variance = new double[c];
        double m = (double)n * s;
        for (int ch = 0; ch < c; ch++)
        {
            double sum = 0;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < s; j++) sum += x.Data[(i * c + ch) * s + j];
            double mu = sum / m, sq = 0;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < s; j++) { double d = x.Data[(i * c + ch) * s + j] - mu; sq += d * d; }
            mean[ch] = mu;
            variance[ch] = sq / m;
        }
        return (mean, variance);
    }

    /// <summary>Training forward; see <see cref="BatchNorm.Training"/> for the contract (running stats updated in place).</summary>
    public static BatchNormTrainingResult Training(Tensor<float> x, Tensor<float> scale, Tensor<float> bias,
        Tensor<float>? runningMean, Tensor<float>? runningVar, float momentum, float epsilon, bool unbiasedRunningVariance)
    {
        var (n, c, s) = BatchNorm.Layout(x, "BatchNormalization");
        var (mean, variance) = Statistics(x);
        var y = new Tensor<float>(x.Dims);
        var savedMean = new Tensor<float>(c);
        var savedInv = new Tensor<float>(c);
        var batchVar = new Tensor<float>(c);
        long m = (long)n * s;
        for (int ch = 0; ch < c; ch++)
        {
            float mu = (float)mean[ch];
            float inv = (float)(1.0 / Math.Sqrt(variance[ch] + epsilon));
            savedMean.Data[ch] = mu;
            savedInv.Data[ch] = inv;
            batchVar.Data[ch] = (float)variance[ch];
            for (int i = 0; i < n; i++)
                for (int j = 0; j < s; j++)
                {
                    int at = (i * c + ch) * s + j;
                    y.Data[at] = scale.Data[ch] * (x.Data[at] - mu) * inv + bias.Data[ch];
                }
            double runVar = unbiasedRunningVariance && m > 1 ? variance[ch] * m / (m - 1) : variance[ch];
            if (runningMean is not null) runningMean.Data[ch] = (float)(runningMean.Data[ch] * (double)momentum + mean[ch] * (1 - (double)momentum));
            if (runningVar is not null) runningVar.Data[ch] = (float)(runningVar.Data[ch] * (double)momentum + runVar * (1 - (double)momentum));
        }
        return new BatchNormTrainingResult(y, savedMean, savedInv, batchVar);
    }

    /// <summary>Backward; see <see cref="BatchNorm.Backward"/> for the formulas.</summary>
    public static (Tensor<float> GradX, Tensor<float> GradScale, Tensor<float> GradBias) Backward(Tensor<float> x, Tensor<float> gradY,
        Tensor<float> scale, Tensor<float> mean, Tensor<float> invStd, bool training)
    {
        var (n, c, s) = BatchNorm.Layout(x, "BatchNormalizationBackward");
        var gx = new Tensor<float>(x.Dims);
        var gs = new Tensor<float>(c);
        var gb = new Tensor<float>(c);
        double m = (double)n * s;
        for (int ch = 0; ch < c; ch++)
        {
            double sumDy = 0, sumDyXhat = 0;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < s; j++)
                {
                    int at = (i * c + ch) * s + j;
                    double xhat = (x.Data[at] - (double)mean.Data[ch]) * invStd.Data[ch];
                    sumDy += gradY.Data[at];
                    sumDyXhat += gradY.Data[at] * xhat;
                }
            gb.Data[ch] = (float)sumDy;
            gs.Data[ch] = (float)sumDyXhat;
            double k = (double)scale.Data[ch] * invStd.Data[ch];
            for (int i = 0; i < n; i++)
                for (int j = 0; j < s; j++)
                {
                    int at = (i * c + ch) * s + j;
                    double xhat = (x.Data[at] - (double)mean.Data[ch]) * invStd.Data[ch];
                    gx.Data[at] = training
                        ? (float)(k * (gradY.Data[at] - sumDy / m - xhat * sumDyXhat / m))
                        : (float)(k * gradY.Data[at]);
                }
        }
        return (gx, gs, gb);
    }
}
