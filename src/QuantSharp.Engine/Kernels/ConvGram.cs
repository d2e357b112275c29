using QuantSharp.Engine.Threading;

namespace QuantSharp.Engine.Kernels;

/// <summary>
/// Gram matrices of a convolution's input patches: <c>G[g] = Σ_{n, o} col_g(x_n)[:, o] · col_g(x_n)[:, o]ᵀ</c>, one
/// <c>K×K</c> matrix per group (K = C/group · kernel volume, rows in <see cref="ConvIm2Col"/>'s order, which is the order of
/// a weight row [C/group, k…]). For any weight W of the conv, <c>Σ_{n,o} ‖(W ⊛ x)[n, :, o]‖² = Σ_g tr(W_g G[g] W_gᵀ)</c>:
/// the quadratic part of a layer's reconstruction error over all data, independent of how many samples or positions
/// produced it (AdaRound's exact objective, <c>QuantSharp.Quantization.Techniques.LayerGramObjective</c>).
/// </summary>
/// <remarks>Each image's product is formed in float (im2col, then a K×K×positions SGEMM) and added to the double accumulator.</remarks>
public static unsafe class ConvGram
{
    /// <summary>Adds the patch Gram matrices of <paramref name="x"/> [N, C, in…] to <paramref name="gram"/> [G·K·K], group-major.</summary>
    /// <exception cref="ShapeException">Shapes that do not form a Conv, or a <paramref name="gram"/> of the wrong length.</exception>
    public static void Accumulate(Tensor<float> x, ReadOnlySpan<int> weightShape, ConvParams p, Span<double> gram)
    {
        var g = ConvGeometry.ForConv("ConvGram.Accumulate", x.Dims, weightShape, p);
        int k = g.ColRows, positions = g.OutSize;
        long kk = (long)k * k;
        Check.That(gram.Length == g.G * kk, "ConvGram.Accumulate", "gram", $"{g.G}·{k}·{k} = {g.G * kk} elements", $"{gram.Length}");
        var acc = new double[gram.Length]; // Work.For's body cannot capture the span
        fixed (float* px = x.Data)
        {
            nint ax = (nint)px;
            bool oneGroup = g.G == 1;
            Work.For(g.G, 1, (g0, g1) =>
            {
                var col = GC.AllocateUninitializedArray<float>((int)Math.Min(int.MaxValue, (long)k * positions));
                var product = GC.AllocateUninitializedArray<float>((int)kk);
                fixed (float* pc = col, pp = product)
                    for (int gi = g0; gi < g1; gi++)
                        for (int n = 0; n < g.N; n++)
                        {
                            float* xg = (float*)ax + ((long)n * g.C + (long)gi * g.Cg) * g.InSize;
                            ConvIm2Col.Im2Col(g, xg, pc, 0, g.OD * g.OH);
                            Gemm.Sgemm(false, true, k, k, positions, 1f, pc, positions, pc, positions, 0f, pp, k, parallel: oneGroup);
                            long at = gi * kk;
                            for (long i = 0; i < kk; i++) acc[at + i] += pp[i];
                        }
            });
        }
        for (int i = 0; i < gram.Length; i++) gram[i] += acc[i];
    }

    /// <summary>Length of the Gram accumulator for this conv: groups · K².</summary>
    public static long Length(ReadOnlySpan<int> weightShape, int groups)
    {
        long k = 1;
        for (int i = 1; i < weightShape.Length; i++) k *= weightShape[i];
        return groups * k * k;
    }
}
