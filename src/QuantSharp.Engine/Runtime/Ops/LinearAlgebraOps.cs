using System.Numerics;
using static QuantSharp.Engine.Runtime.Ops.Table;

namespace QuantSharp.Engine.Runtime.Ops;

/// <summary>
/// ONNX <c>Det</c> (LU with partial pivoting per matrix) and <c>Einsum</c> (any equation the spec allows: explicit or
/// implicit output, ellipsis with broadcasting, repeated labels within an operand (diagonals), summed labels, any number of
/// operands). Forward only.
/// </summary>
internal static class LinearAlgebraOps
{
    public static void Register(OpRegistry r)
    {
        Add(r, "Det", 11, n => ((a, _) => [Det(a.Any(0), n)], null));
        Add(r, "Einsum", 12, n =>
        {
            string equation = n.GetString("equation", "");
            if (equation.Length == 0) throw new GraphException($"node {n.Label}: attribute 'equation' is required");
            return ((a, _) =>
            {
                var inputs = Enumerable.Range(0, a.Count).Select(a.Any).ToArray();
                return [inputs[0] switch
                {
                    Tensor<float> => Einsum.Run(equation, inputs.Select(t => Typed<float>(t, n)).ToArray(), n),
                    Tensor<double> => Einsum.Run(equation, inputs.Select(t => Typed<double>(t, n)).ToArray(), n),
                    Tensor<int> => Einsum.Run(equation, inputs.Select(t => Typed<int>(t, n)).ToArray(), n),
                    Tensor<long> => Einsum.Run(equation, inputs.Select(t => Typed<long>(t, n)).ToArray(), n),
                    var t => throw new GraphException($"node {n.Label}: Einsum on element type {t.DataType} is not supported"),
                }];
            }, null);
        });
        Describe(r);
    }

    /// <summary>Schema facts: none beyond the defaults (data inputs, input 0's element type).</summary>
    private static void Describe(OpRegistry r)
    {
        r.Describe("Det");
        r.Describe("Einsum");
    }

    private static Tensor<T> Typed<T>(Tensor t, Node n) where T : unmanaged =>
        t as Tensor<T> ?? throw new GraphException($"node {n.Label}: every input expected element type {DataTypes.Of<T>()}, got {t.DataType}");

    private static Tensor Det(Tensor x, Node n) => x switch
    {
        Tensor<float> f => DetOf(f, n),
        Tensor<double> d => DetOf(d, n),
        _ => throw new GraphException($"node {n.Label}: Det on element type {x.DataType} is not supported"),
    };

    /// <summary>Determinant of each trailing [M, M] matrix, computed in double by Gaussian elimination with partial pivoting.</summary>
    private static Tensor<T> DetOf<T>(Tensor<T> x, Node n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (x.Rank < 2 || x.Dims[^1] != x.Dims[^2])
            throw new GraphException($"node {n.Label}: input 0 expected shape [*, M, M], got {Shapes.Format(x.Dims)}");
        int m = x.Dims[^1], count = m == 0 ? 0 : x.Length / (m * m);
        var y = new Tensor<T>(x.Dims[..^2]);
        if (m == 0) { Array.Fill(y.Data, T.One); return y; }
        var lu = new double[m * m];
        for (int b = 0; b < count; b++)
        {
            for (int i = 0; i < lu.Length; i++) lu[i] = double.CreateTruncating(x.Data[b * m * m + i]);
            double det = 1;
            for (int col = 0; col < m && det != 0; col++)
            {
                int pivot = col;
                for (int row = col + 1; row < m; row++) if (Math.Abs(lu[row * m + col]) > Math.Abs(lu[pivot * m + col])) pivot = row;
                if (lu[pivot * m + col] == 0) { det = 0; break; }
                if (pivot != col)
                {
                    for (int k = 0; k < m; k++) (lu[col * m + k], lu[pivot * m + k]) = (lu[pivot * m + k], lu[col * m + k]);
                    det = -det;
                }
                double p = lu[col * m + col];
                det *= p;
                for (int row = col + 1; row < m; row++)
                {
                    double f = lu[row * m + col] / p;
                    if (f == 0) continue;
                    for (int k = col; k < m; k++) lu[row * m + k] -= f * lu[col * m + k];
                }
            }
            y.Data[b] = T.CreateTruncating(det);
        }
        return y;
    }
}

/// <summary>
/// Einstein summation over labelled axes. Each operand first loses its repeated labels (a diagonal), then operands are
/// contracted left to right: labels shared by both sides and still needed (by the output or a later operand) are batch
/// axes, shared labels no longer needed are summed by a batched matrix product (the engine's MatMul for float), labels
/// only one side carries and nobody needs are summed beforehand. Ellipsis axes are labels of their own, aligned from the
/// right and broadcast where one side has size 1.
/// </summary>
internal static class Einsum
{
    private const int EllipsisBase = 1000;

    public static Tensor<T> Run<T>(string equation, Tensor<T>[] inputs, Node n) where T : unmanaged, INumber<T>
    {
        var (terms, output) = Parse(equation.Replace(" ", ""), inputs, n);
        var sizes = new Dictionary<int, int>();
        for (int i = 0; i < inputs.Length; i++)
            for (int k = 0; k < terms[i].Length; k++)
            {
                int d = inputs[i].Dims[k];
                if (!sizes.TryGetValue(terms[i][k], out int s) || s == 1) sizes[terms[i][k]] = d;
                else if (d != s && d != 1)
                    throw new GraphException($"node {n.Label}: Einsum label '{Name(terms[i][k])}' has size {s} in one place and {d} in input {i}");
            }
        foreach (int l in output)
            if (!sizes.ContainsKey(l)) throw new GraphException($"node {n.Label}: Einsum output label '{Name(l)}' appears in no input");

        var operands = new List<(Tensor<T> T, int[] Labels)>();
        for (int i = 0; i < inputs.Length; i++) operands.Add(Diagonal(inputs[i], terms[i]));

        var (acc, accLabels) = operands[0];
        for (int i = 1; i < operands.Count; i++)
        {
            var needed = new HashSet<int>(output);
            for (int j = i + 1; j < operands.Count; j++) needed.UnionWith(operands[j].Labels);
            (acc, accLabels) = Contract(acc, accLabels, operands[i].T, operands[i].Labels, needed, sizes);
        }
        (acc, accLabels) = SumOut(acc, accLabels, accLabels.Where(l => !output.Contains(l)).ToHashSet());
        // Output labels of size > 1 that only broadcast (size 1 here) expand; then the axes move into output order.
        var perm = output.Select(l => Array.IndexOf(accLabels, l)).ToArray();
        var y = TensorOps.Transpose(acc, perm);
        var shape = output.Select(l => (long)sizes[l]).ToArray();
        return y.Shape.SequenceEqual(shape.Select(v => (int)v)) ? y : TensorOps.Expand(y, shape);
    }

    private static string Name(int label) => label >= EllipsisBase ? "..." : ((char)label).ToString();

    /// <summary>Input terms and the output term as label lists; ellipsis axes become labels EllipsisBase + k (aligned right).</summary>
    private static (int[][] Terms, int[] Output) Parse<T>(string equation, Tensor<T>[] inputs, Node n) where T : unmanaged
    {
        int arrow = equation.IndexOf("->", StringComparison.Ordinal);
        string lhs = arrow < 0 ? equation : equation[..arrow];
        var parts = lhs.Split(',');
        if (parts.Length != inputs.Length)
            throw new GraphException($"node {n.Label}: Einsum equation '{equation}' names {parts.Length} operands, got {inputs.Length} inputs");
        int ellipsisRank = 0;
        var terms = new int[parts.Length][];
        var raw = new List<int>[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            raw[i] = Letters(parts[i], n, equation, out bool hasEllipsis);
            int explicitCount = raw[i].Count(l => l >= 0);
            int e = inputs[i].Rank - explicitCount;
            if (e < 0 || (!hasEllipsis && e != 0))
                throw new GraphException($"node {n.Label}: Einsum term '{parts[i]}' expected rank {explicitCount}{(hasEllipsis ? " or more" : "")}, input {i} has shape {Shapes.Format(inputs[i].Dims)}");
            ellipsisRank = Math.Max(ellipsisRank, e);
        }
        for (int i = 0; i < parts.Length; i++)
        {
            int e = inputs[i].Rank - raw[i].Count(l => l >= 0);
            terms[i] = raw[i].SelectMany(l => l >= 0 ? [l] : Enumerable.Range(EllipsisBase + ellipsisRank - e, e)).ToArray();
        }
        int[] output;
        if (arrow >= 0)
        {
            var o = Letters(equation[(arrow + 2)..], n, equation, out _);
            output = o.SelectMany(l => l >= 0 ? [l] : Enumerable.Range(EllipsisBase, ellipsisRank)).ToArray();
            if (output.Distinct().Count() != output.Length) throw new GraphException($"node {n.Label}: Einsum output of '{equation}' repeats a label");
        }
        else
        {
            // Implicit output: the ellipsis axes, then every letter used exactly once, in alphabetical order.
            var counts = terms.SelectMany(t => t).Where(l => l < EllipsisBase).GroupBy(l => l).Where(g => g.Count() == 1).Select(g => g.Key).Order();
            output = Enumerable.Range(EllipsisBase, ellipsisRank).Concat(counts).ToArray();
        }
        return (terms, output);
    }

    /// <summary>The labels of one term: letters as their character codes, one −1 for "...".</summary>
    private static List<int> Letters(string term, Node n, string equation, out bool hasEllipsis)
    {
        var labels = new List<int>();
        hasEllipsis = false;
        for (int i = 0; i < term.Length; i++)
        {
            if (term[i] == '.')
            {
                if (hasEllipsis || !term.AsSpan(i).StartsWith("...", StringComparison.Ordinal))
                    throw new GraphException($"node {n.Label}: Einsum equation '{equation}' has a malformed or repeated ellipsis in '{term}'");
                hasEllipsis = true;
                labels.Add(-1);
                i += 2;
            }
            else if (char.IsAsciiLetter(term[i])) labels.Add(term[i]);
            else throw new GraphException($"node {n.Label}: Einsum equation '{equation}' has an invalid character '{term[i]}'");
        }
        return labels;
    }

    /// <summary>Keeps the diagonal of axes sharing a label: the result has each label once, in order of first appearance.</summary>
    private static (Tensor<T>, int[]) Diagonal<T>(Tensor<T> x, int[] labels) where T : unmanaged
    {
        var unique = labels.Distinct().ToArray();
        if (unique.Length == labels.Length) return (x, labels);
        var inStrides = Shapes.Strides(x.Dims);
        var shape = unique.Select(l => x.Dims[Array.IndexOf(labels, l)]).ToArray();
        var strides = unique.Select(l => labels.Select((m, k) => m == l ? inStrides[k] : 0).Sum()).ToArray();
        for (int u = 0; u < unique.Length; u++)
            for (int k = 0; k < labels.Length; k++)
                if (labels[k] == unique[u] && x.Dims[k] != shape[u])
                    throw new ShapeException($"Einsum: repeated label '{Name(unique[u])}' expected equal dimensions, got {Shapes.Format(x.Dims)}");
        var y = new Tensor<T>(shape);
        var idx = new int[shape.Length];
        for (int i = 0; i < y.Length; i++)
        {
            int off = 0;
            for (int d = 0; d < shape.Length; d++) off += idx[d] * strides[d];
            y.Data[i] = x.Data[off];
            for (int d = shape.Length - 1; d >= 0 && ++idx[d] == shape[d]; d--) idx[d] = 0;
        }
        return (y, unique);
    }

    /// <summary>Sums <paramref name="x"/> over the axes whose labels are in <paramref name="drop"/>.</summary>
    private static (Tensor<T>, int[]) SumOut<T>(Tensor<T> x, int[] labels, HashSet<int> drop) where T : unmanaged, INumber<T>
    {
        if (!labels.Any(drop.Contains)) return (x, labels);
        var keep = Enumerable.Range(0, labels.Length).Where(k => !drop.Contains(labels[k])).ToArray();
        var gone = Enumerable.Range(0, labels.Length).Where(k => drop.Contains(labels[k])).ToArray();
        var t = TensorOps.Transpose(x, keep.Concat(gone).ToArray());
        int outer = keep.Aggregate(1, (p, k) => p * x.Dims[k]), inner = gone.Aggregate(1, (p, k) => p * x.Dims[k]);
        var y = new Tensor<T>(keep.Select(k => x.Dims[k]).ToArray());
        for (int o = 0; o < outer; o++)
        {
            T s = T.Zero;
            for (int j = 0; j < inner; j++) s += t.Data[o * inner + j];
            y.Data[o] = s;
        }
        return (y, keep.Select(k => labels[k]).ToArray());
    }

    private static (Tensor<T>, int[]) Contract<T>(Tensor<T> a, int[] la, Tensor<T> b, int[] lb, HashSet<int> needed, Dictionary<int, int> sizes)
        where T : unmanaged, INumber<T>
    {
        // Labels one side alone carries and nobody needs are summed first (cheaper, and keeps the product 3-D).
        (a, la) = SumOut(a, la, la.Where(l => !lb.Contains(l) && !needed.Contains(l)).ToHashSet());
        (b, lb) = SumOut(b, lb, lb.Where(l => !la.Contains(l) && !needed.Contains(l)).ToHashSet());
        var batch = la.Where(l => lb.Contains(l) && needed.Contains(l)).ToArray();
        var summed = la.Where(l => lb.Contains(l) && !needed.Contains(l)).ToArray();
        var aOnly = la.Where(l => !lb.Contains(l)).ToArray();
        var bOnly = lb.Where(l => !la.Contains(l)).ToArray();
        // Shared axes broadcast where one side has size 1 (ellipsis axes).
        a = Broadcast(a, la, batch.Concat(summed), sizes);
        b = Broadcast(b, lb, batch.Concat(summed), sizes);
        var at = TensorOps.Transpose(a, batch.Concat(aOnly).Concat(summed).Select(l => Array.IndexOf(la, l)).ToArray());
        var bt = TensorOps.Transpose(b, batch.Concat(summed).Concat(bOnly).Select(l => Array.IndexOf(lb, l)).ToArray());
        int nb = batch.Aggregate(1, (p, l) => p * sizes[l]), m = aOnly.Aggregate(1, (p, l) => p * a.Dims[Array.IndexOf(la, l)]);
        int k = summed.Aggregate(1, (p, l) => p * sizes[l]), nn = bOnly.Aggregate(1, (p, l) => p * b.Dims[Array.IndexOf(lb, l)]);
        var product = BatchedProduct(at.Reshape(nb, m, k), bt.Reshape(nb, k, nn));
        var shape = batch.Select(l => sizes[l]).Concat(aOnly.Select(l => a.Dims[Array.IndexOf(la, l)])).Concat(bOnly.Select(l => b.Dims[Array.IndexOf(lb, l)])).ToArray();
        return (product.Reshape(shape), batch.Concat(aOnly).Concat(bOnly).ToArray());
    }

    private static Tensor<T> Broadcast<T>(Tensor<T> x, int[] labels, IEnumerable<int> shared, Dictionary<int, int> sizes) where T : unmanaged
    {
        var shape = x.Dims.ToArray();
        bool grow = false;
        foreach (int l in shared)
        {
            int k = Array.IndexOf(labels, l);
            if (shape[k] != sizes[l]) { shape[k] = sizes[l]; grow = true; }
        }
        return grow ? TensorOps.Expand(x, shape.Select(v => (long)v).ToArray()) : x;
    }

    /// <summary>[B, M, K]·[B, K, N] → [B, M, N]: the engine's MatMul for float, a plain triple loop otherwise.</summary>
    private static Tensor<T> BatchedProduct<T>(Tensor<T> a, Tensor<T> b) where T : unmanaged, INumber<T>
    {
        if (a is Tensor<float> fa && b is Tensor<float> fb) return (Tensor<T>)(object)Kernels.MatMul.Forward(fa, fb);
        int nb = a.Dims[0], m = a.Dims[1], k = a.Dims[2], n = b.Dims[2];
        var y = new Tensor<T>([nb, m, n]);
        for (int bi = 0; bi < nb; bi++)
            for (int i = 0; i < m; i++)
                for (int p = 0; p < k; p++)
                {
                    T av = a.Data[(bi * m + i) * k + p];
                    int bRow = (bi * k + p) * n, yRow = (bi * m + i) * n;
                    for (int j = 0; j < n; j++) y.Data[yRow + j] += av * b.Data[bRow + j];
                }
        return y;
    }
}
