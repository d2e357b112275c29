namespace QuantSharp.Engine.Kernels;

/// <summary>
/// How a binary broadcast is walked: the output is cut into <see cref="Rows"/> contiguous rows of
/// <see cref="Inner"/> elements; along a row each operand is either contiguous (stride 1) or a repeated
/// scalar (stride 0). Size-1 dimensions are dropped and adjacent dimensions that stay contiguous for both
/// operands are merged, so same-shape, scalar, row (<c>[N,M]+[M]</c>) and column (<c>[N,M]+[N,1]</c>)
/// cases become one row or a few long rows; anything else is the general strided case.
/// </summary>
internal sealed class BroadcastPlan
{
    private readonly int[] _outerDims, _outerStrideA, _outerStrideB;

    public int Rows { get; }
    public int Inner { get; }
    public bool AContiguous { get; }
    public bool BContiguous { get; }

    public BroadcastPlan(ReadOnlySpan<int> a, ReadOnlySpan<int> b, ReadOnlySpan<int> output)
    {
        var sa = Shapes.BroadcastStrides(a, output);
        var sb = Shapes.BroadcastStrides(b, output);
        var dims = new List<int>(); var la = new List<int>(); var lb = new List<int>();
        for (int i = 0; i < output.Length; i++)
        {
            if (output[i] == 1) continue;
            int n = dims.Count - 1;
            if (n >= 0 && la[n] == sa[i] * output[i] && lb[n] == sb[i] * output[i])
            {
                dims[n] *= output[i]; la[n] = sa[i]; lb[n] = sb[i];
            }
            else { dims.Add(output[i]); la.Add(sa[i]); lb.Add(sb[i]); }
        }
        if (dims.Count == 0) { dims.Add(1); la.Add(1); lb.Add(1); }
        int last = dims.Count - 1;
        Inner = dims[last];
        AContiguous = la[last] != 0;
        BContiguous = lb[last] != 0;
        _outerDims = dims.GetRange(0, last).ToArray();
        _outerStrideA = la.GetRange(0, last).ToArray();
        _outerStrideB = lb.GetRange(0, last).ToArray();
        int rows = 1;
        foreach (int d in _outerDims) rows *= d;
        Rows = rows;
    }

    /// <summary>Offsets of row <paramref name="row"/>'s first element in each operand.</summary>
    public void RowOffsets(int row, out int offsetA, out int offsetB)
    {
        offsetA = 0; offsetB = 0;
        for (int d = _outerDims.Length - 1; d >= 0 && row > 0; d--)
        {
            int dim = _outerDims[d];
            int q = row / dim, idx = row - q * dim;
            row = q;
            offsetA += idx * _outerStrideA[d];
            offsetB += idx * _outerStrideB[d];
        }
    }
}
