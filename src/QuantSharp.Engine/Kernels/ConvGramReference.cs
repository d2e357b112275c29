namespace QuantSharp.Engine.Kernels;

/// <summary>Scalar reference of <see cref="ConvGram"/>: each patch built by index arithmetic, its outer product added in double.</summary>
public static class ConvGramReference
{
    /// <summary>Adds the patch Gram matrices of <paramref name="x"/> to <paramref name="gram"/> [G·K·K] (see <see cref="ConvGram.Accumulate"/>).</summary>
    public static void Accumulate(Tensor<float> x, ReadOnlySpan<int> weightShape, ConvParams p, Span<double> gram)
    {
        var g = ConvGeometry.ForConv("ConvGramReference.Accumulate", x.Dims, weightShape, p);
        int k = g.ColRows;
        Check.That(gram.Length == (long)g.G * k * k, "ConvGramReference.Accumulate", "gram", $"{(long)g.G * k * k} elements", $"{gram.Length}");
        var patch = new double[k];
        for (int n = 0; n < g.N; n++)
            for (int gi = 0; gi < g.G; gi++)
                for (int od = 0; od < g.OD; od++)
                    for (int oh = 0; oh < g.OH; oh++)
                        for (int ow = 0; ow < g.OW; ow++)
                        {
                            int r = 0;
                            for (int c = 0; c < g.Cg; c++)
                                for (int kd = 0; kd < g.KD; kd++)
                                    for (int kh = 0; kh < g.KH; kh++)
                                        for (int kw = 0; kw < g.KW; kw++, r++)
                                        {
                                            int id = od * g.SD - g.PD + kd * g.DD, ih = oh * g.SH - g.PH + kh * g.DH, iw = ow * g.SW - g.PW + kw * g.DW;
                                            bool inside = id >= 0 && id < g.ID && ih >= 0 && ih < g.IH && iw >= 0 && iw < g.IW;
                                            patch[r] = inside ? x.Data[(((long)n * g.C + gi * g.Cg + c) * g.ID + id) * g.IH * g.IW + (long)ih * g.IW + iw] : 0;
                                        }
                            int at = gi * k * k;
                            for (int i = 0; i < k; i++)
                                for (int j = 0; j < k; j++) gram[at + i * k + j] += patch[i] * patch[j];
                        }
    }
}
