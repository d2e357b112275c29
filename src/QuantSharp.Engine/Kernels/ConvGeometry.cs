namespace QuantSharp.Engine.Kernels;

/// <summary>
/// The validated sizes of one convolution, normalized to three spatial axes (1-D and 2-D convs get leading
/// axes of size 1, stride 1, pad 0, dilation 1), so every kernel is written once for 3-D.
/// "Input" and "output" are those of the forward Conv; a ConvTranspose is described by the Conv whose
/// backward-data it is (its output is this geometry's input).
/// </summary>
internal sealed class ConvGeometry
{
    public int N, C, M, G, Cg, Mg;
    public int ID, IH, IW, KD, KH, KW, OD, OH, OW;
    public int SD, SH, SW, PD, PH, PW, DD, DH, DW;
    public int SpatialRank;

    /// <summary>Conv input [N, C, in…] (the ConvTranspose output).</summary>
    public int[] InputShape = [];
    /// <summary>Conv output [N, M, out…] (the ConvTranspose input).</summary>
    public int[] OutputShape = [];
    /// <summary>Conv weight [M, C/G, k…] (the same array is the ConvTranspose weight [C_t, M_t/G, k…]).</summary>
    public int[] WeightShape = [];

    public int InSize => ID * IH * IW;
    public int OutSize => OD * OH * OW;
    public int KSize => KD * KH * KW;
    /// <summary>Rows of the im2col matrix of one group: C/G · kernel volume.</summary>
    public int ColRows => Cg * KSize;

    /// <summary>True when the im2col matrix is the input itself (1×1 kernel, stride 1, no padding).</summary>
    public bool IsPointwise => KSize == 1 && SD == 1 && SH == 1 && SW == 1 && PD == 0 && PH == 0 && PW == 0 && OutSize == InSize;

    /// <summary>True for depthwise convs the direct kernel handles: one input and one output channel per group, no depth axis.</summary>
    public bool IsDepthwise2D => Cg == 1 && Mg == 1 && ID == 1 && KD == 1 && OD == 1;

    /// <summary>Validates a Conv of input <paramref name="x"/> [N, C, in…] and weight <paramref name="w"/> [M, C/group, k…].</summary>
    public static ConvGeometry ForConv(string op, ReadOnlySpan<int> x, ReadOnlySpan<int> w, ConvParams p)
    {
        Check.RankBetween(op, "input", x, 3, 5);
        Check.Rank(op, "weight", w, x.Length);
        int d = x.Length - 2;
        Check.That(p.SpatialRank == d, op, "params", $"{d} spatial axes (input {Shapes.Format(x)})", $"{p.SpatialRank}");
        int g = p.Groups, c = x[1], m = w[0];
        Check.That(c % g == 0, op, "groups", $"a divisor of the input channel count {c}", $"{g}");
        Check.That(m % g == 0, op, "groups", $"a divisor of the output channel count {m} (weight dim 0)", $"{g}");
        Check.That(w[1] == c / g, op, "weight", $"dim 1 = input channels / groups = {c / g}", $"shape {Shapes.Format(w)}");
        var outDims = new int[d];
        for (int i = 0; i < d; i++)
        {
            Check.That(x[2 + i] >= 1, op, "input", "every spatial size >= 1", $"shape {Shapes.Format(x)}");
            Check.That(w[2 + i] >= 1, op, "weight", "every kernel size >= 1", $"shape {Shapes.Format(w)}");
            int padded = x[2 + i] + p.PadsBegin[i] + p.PadsEnd[i];
            int extent = (w[2 + i] - 1) * p.Dilations[i] + 1;
            Check.That(extent <= padded, op, "weight",
                $"a dilated kernel extent <= padded input {padded} on spatial axis {i}", $"extent {extent} (shape {Shapes.Format(w)})");
            outDims[i] = (padded - extent) / p.Strides[i] + 1;
        }
        return Build(x[0], c, m, x[2..], w, outDims, p);
    }

    /// <summary>
    /// Validates a ConvTranspose of input <paramref name="x"/> [N, C, in…] and weight <paramref name="w"/> [C, M/group, k…]
    /// and returns the geometry of the Conv it is the backward-data of (input [N, M, out…], output = x).
    /// </summary>
    public static ConvGeometry ForTranspose(string op, ReadOnlySpan<int> x, ReadOnlySpan<int> w, ConvParams p, int[]? outputPadding)
    {
        Check.RankBetween(op, "input", x, 3, 5);
        Check.Rank(op, "weight", w, x.Length);
        int d = x.Length - 2;
        Check.That(p.SpatialRank == d, op, "params", $"{d} spatial axes (input {Shapes.Format(x)})", $"{p.SpatialRank}");
        int g = p.Groups, c = x[1];
        Check.That(w[0] == c, op, "weight", $"dim 0 = input channels {c}", $"shape {Shapes.Format(w)}");
        Check.That(c % g == 0, op, "groups", $"a divisor of the input channel count {c}", $"{g}");
        outputPadding ??= new int[d];
        Check.That(outputPadding.Length == d, op, "outputPadding", $"{d} entries", Shapes.Format(outputPadding));
        var inDims = new int[d];
        for (int i = 0; i < d; i++)
        {
            int s = p.Strides[i], dil = p.Dilations[i];
            Check.That(outputPadding[i] >= 0 && outputPadding[i] < Math.Max(s, dil), op, "outputPadding",
                $"0 <= value < max(stride, dilation) = {Math.Max(s, dil)} on spatial axis {i}", Shapes.Format(outputPadding));
            Check.That(x[2 + i] >= 1, op, "input", "every spatial size >= 1", $"shape {Shapes.Format(x)}");
            Check.That(w[2 + i] >= 1, op, "weight", "every kernel size >= 1", $"shape {Shapes.Format(w)}");
            int size = s * (x[2 + i] - 1) + outputPadding[i] + (w[2 + i] - 1) * dil + 1 - p.PadsBegin[i] - p.PadsEnd[i];
            Check.That(size >= 1, op, "params", $"pads leaving an output size >= 1 on spatial axis {i}", $"size {size} ({p})");
            inDims[i] = size;
        }
        return Build(x[0], w[1] * g, c, inDims, w, x[2..].ToArray(), p);
    }

    private static ConvGeometry Build(int n, int c, int m, ReadOnlySpan<int> inDims, ReadOnlySpan<int> w, int[] outDims, ConvParams p)
    {
        int d = inDims.Length, lead = 3 - d;
        var geo = new ConvGeometry { N = n, C = c, M = m, G = p.Groups, Cg = c / p.Groups, Mg = m / p.Groups, SpatialRank = d };
        Span<int> id = [1, 1, 1], k = [1, 1, 1], od = [1, 1, 1], s = [1, 1, 1], pb = [0, 0, 0], dl = [1, 1, 1];
        for (int i = 0; i < d; i++)
        {
            id[lead + i] = inDims[i];
            k[lead + i] = w[2 + i];
            od[lead + i] = outDims[i];
            s[lead + i] = p.Strides[i];
            pb[lead + i] = p.PadsBegin[i];
            dl[lead + i] = p.Dilations[i];
        }
        (geo.ID, geo.IH, geo.IW) = (id[0], id[1], id[2]);
        (geo.KD, geo.KH, geo.KW) = (k[0], k[1], k[2]);
        (geo.OD, geo.OH, geo.OW) = (od[0], od[1], od[2]);
        (geo.SD, geo.SH, geo.SW) = (s[0], s[1], s[2]);
        (geo.PD, geo.PH, geo.PW) = (pb[0], pb[1], pb[2]);
        (geo.DD, geo.DH, geo.DW) = (dl[0], dl[1], dl[2]);
        geo.InputShape = [n, c, .. inDims];
        geo.OutputShape = [n, m, .. outDims];
        geo.WeightShape = w.ToArray();
        return geo;
    }
}
