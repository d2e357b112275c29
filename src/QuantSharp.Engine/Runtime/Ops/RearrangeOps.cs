using static QuantSharp.Engine.Runtime.InputRole;
using static QuantSharp.Engine.Runtime.Ops.Table;

namespace QuantSharp.Engine.Runtime.Ops;

/// <summary>
/// Data-movement ops without a dedicated kernel (forward only, any element type): DepthToSpace, SpaceToDepth,
/// EyeLike, OneHot, ScatterElements, GatherND, and the predicates IsNaN / IsInf.
/// </summary>
internal static class RearrangeOps
{
    public static void Register(OpRegistry r)
    {
        // DepthToSpace: DCR reshapes C as (b, b, C/b²), CRD as (C/b², b, b); then the block moves into H and W.
        Add(r, "DepthToSpace", 1, n =>
        {
            int b = (int)n.GetInt("blocksize", 0);
            bool crd = n.GetString("mode", "DCR") == "CRD";
            return ((a, _) => [GenericDispatch.Apply<DepthToSpaceFunc, Tensor>(a.Any(0), new DepthToSpaceFunc(b, crd, n))], null);
        });
        Add(r, "SpaceToDepth", 1, n =>
        {
            int b = (int)n.GetInt("blocksize", 0);
            return ((a, _) => [GenericDispatch.Apply<SpaceToDepthFunc, Tensor>(a.Any(0), new SpaceToDepthFunc(b, n))], null);
        });
        // EyeLike: ones where column − row = k in a 2-D tensor shaped like the input, of type dtype (default: the input's).
        Add(r, "EyeLike", 9, n =>
        {
            long k = n.GetInt("k", 0);
            DataType? to = n.Attributes.ContainsKey("dtype") ? LayoutOps.OnnxElementType((int)n.GetInt("dtype", 1), n) : null;
            return ((a, _) =>
            {
                var x = a.Any(0);
                Check.Rank("EyeLike", "input", x.Dims, 2);
                var eye = new Tensor<float>(x.Dims);
                for (int i = 0; i < x.Dims[0]; i++)
                {
                    long j = i + k;
                    if (j >= 0 && j < x.Dims[1]) eye.Data[i * x.Dims[1] + j] = 1;
                }
                return [TensorOps.Cast(eye, to ?? x.DataType)];
            }, null);
        });
        // OneHot: output[..., d, ...] (d at axis) = values[1] where d = index (negative counts from depth), else values[0].
        Add(r, "OneHot", 9, n =>
        {
            int axis = (int)n.GetInt("axis", -1);
            return ((a, _) =>
            {
                var indices = a.Any(0);
                long depth = (long)Math.Floor(a.ScalarOr(1, 0));
                return [GenericDispatch.Apply<OneHotFunc, Tensor>(a.Any(2), new OneHotFunc(indices, depth, axis, n))];
            }, null);
        });
        Add(r, "ScatterElements", 11, n =>
        {
            int axis = (int)n.GetInt("axis", 0);
            string reduction = n.GetString("reduction", "none");
            return ((a, _) => [GenericDispatch.Apply<ScatterElementsFunc, Tensor>(a.Any(0), new ScatterElementsFunc(a.Longs(1), a.Any(1).Shape, a.Any(2), axis, reduction, n))], null);
        });
        Add(r, "GatherND", 11, n =>
        {
            int batchDims = (int)n.GetInt("batch_dims", 0);
            return ((a, _) => [GenericDispatch.Apply<GatherNDFunc, Tensor>(a.Any(0), new GatherNDFunc(a.Longs(1), a.Any(1).Shape, batchDims, n))], null);
        });
        Add(r, "IsNaN", 9, n => ((a, _) => [Predicate(a.Any(0), float.IsNaN, double.IsNaN, n)], null));
        Add(r, "IsInf", 10, n =>
        {
            bool neg = n.GetInt("detect_negative", 1) != 0, pos = n.GetInt("detect_positive", 1) != 0;
            return ((a, _) => [Predicate(a.Any(0), v => (neg && float.IsNegativeInfinity(v)) || (pos && float.IsPositiveInfinity(v)),
                v => (neg && double.IsNegativeInfinity(v)) || (pos && double.IsPositiveInfinity(v)), n)], null);
        });
        Describe(r);
    }

    /// <summary>Schema facts: depth/space rearrangements move data; indices and depths are settings; predicates give bool.</summary>
    private static void Describe(OpRegistry r)
    {
        foreach (var op in new[] { "DepthToSpace", "SpaceToDepth", "GatherND" }) r.Describe(op).WithTraits(OpTraits.DataMovement);
        r.Describe("GatherND").WithInputs(Data, Setting);
        r.Describe("ScatterElements").WithInputs(Data, Setting, Data);
        r.Describe("OneHot").WithInputs(Setting, Setting, Data).WithOutputType(TypeRules.SameAsInput(2));
        r.Describe("EyeLike").WithOutputType(TypeRules.FromAttribute("dtype", 0));
        foreach (var op in new[] { "IsNaN", "IsInf" })
            r.Describe(op).WithTraits(OpTraits.Elementwise).WithShape(ShapeRules.SameAsInput).WithOutputType(TypeRules.Fixed(DataType.Bool));
    }

    private static Tensor<bool> Predicate(Tensor x, Func<float, bool> f, Func<double, bool> d, Node n)
    {
        var o = new Tensor<bool>(x.Dims);
        switch (x)
        {
            case Tensor<float> t: for (int i = 0; i < o.Length; i++) o.Data[i] = f(t.Data[i]); break;
            case Tensor<double> t: for (int i = 0; i < o.Length; i++) o.Data[i] = d(t.Data[i]); break;
            default: throw new GraphException($"node {n.Label}: input 0 expected element type Float32 or Float64, got {x.DataType}");
        }
        return o;
    }

    private static int[] Dims4(Tensor x, string op, int b)
    {
        Check.Rank(op, "input", x.Dims, 4);
        Check.That(b >= 1, op, "blocksize", "at least 1", $"{b}");
        return x.Shape;
    }

    private readonly record struct DepthToSpaceFunc(int B, bool Crd, Node Node) : IGenericTensorFunc<Tensor>
    {
        public Tensor Invoke<T>(Tensor<T> x) where T : unmanaged
        {
            var d = Dims4(x, "DepthToSpace", B);
            int n = d[0], c = d[1], h = d[2], w = d[3];
            Check.That(c % (B * B) == 0, "DepthToSpace", "input", $"channels divisible by blocksize² = {B * B}", $"{c}");
            var t = Crd
                ? TensorOps.Transpose(x.Reshape(n, c / (B * B), B, B, h, w), [0, 1, 4, 2, 5, 3])
                : TensorOps.Transpose(x.Reshape(n, B, B, c / (B * B), h, w), [0, 3, 4, 1, 5, 2]);
            return t.Reshape(n, c / (B * B), h * B, w * B);
        }
    }

    private readonly record struct SpaceToDepthFunc(int B, Node Node) : IGenericTensorFunc<Tensor>
    {
        public Tensor Invoke<T>(Tensor<T> x) where T : unmanaged
        {
            var d = Dims4(x, "SpaceToDepth", B);
            int n = d[0], c = d[1], h = d[2], w = d[3];
            Check.That(h % B == 0 && w % B == 0, "SpaceToDepth", "input", $"height and width divisible by blocksize {B}", $"{h}x{w}");
            var t = TensorOps.Transpose(x.Reshape(n, c, h / B, B, w / B, B), [0, 3, 5, 1, 2, 4]);
            return t.Reshape(n, c * B * B, h / B, w / B);
        }
    }

    private readonly record struct OneHotFunc(Tensor Indices, long Depth, int Axis, Node Node) : IGenericTensorFunc<Tensor>
    {
        public Tensor Invoke<T>(Tensor<T> values) where T : unmanaged
        {
            Check.That(values.Length == 2, "OneHot", "values", "2 elements [off, on]", Shapes.Format(values.Dims));
            Check.That(Depth >= 1, "OneHot", "depth", "at least 1", $"{Depth}");
            int rank = Indices.Rank + 1;
            int ax = Check.Axis("OneHot", "axis", Axis, rank);
            var shape = Indices.Shape.ToList();
            shape.Insert(ax, (int)Depth);
            var o = new Tensor<T>(shape.ToArray());
            Array.Fill(o.Data, values.Data[0]);
            int outer = 1, inner = 1;
            for (int i = 0; i < ax; i++) outer *= Indices.Dims[i];
            for (int i = ax; i < Indices.Rank; i++) inner *= Indices.Dims[i];
            var raw = Indices.RawData;
            for (int p = 0; p < outer; p++)
                for (int q = 0; q < inner; q++)
                {
                    long idx = (long)Math.Floor(Convert.ToDouble(raw.GetValue(p * inner + q), System.Globalization.CultureInfo.InvariantCulture));
                    if (idx < 0) idx += Depth;
                    if (idx < 0 || idx >= Depth) continue;
                    o.Data[(p * Depth + idx) * inner + q] = values.Data[1];
                }
            return o;
        }
    }

    private readonly record struct ScatterElementsFunc(long[] Indices, int[] IndexShape, Tensor Updates, int Axis, string Reduction, Node Node) : IGenericTensorFunc<Tensor>
    {
        public Tensor Invoke<T>(Tensor<T> x) where T : unmanaged
        {
            var updates = Updates as Tensor<T> ?? throw new GraphException($"node {Node.Label}: input 2 ('updates') expected element type {x.DataType}, got {Updates.DataType}");
            Check.SameShape("ScatterElements", "updates", IndexShape, updates.Dims);
            Check.That(IndexShape.Length == x.Rank, "ScatterElements", "indices", $"rank {x.Rank}", $"shape {Shapes.Format(IndexShape)}");
            int ax = Check.Axis("ScatterElements", "axis", Axis, x.Rank);
            var o = x.Clone();
            var xs = Shapes.Strides(x.Dims);
            var us = Shapes.Strides(IndexShape);
            int dim = x.Dims[ax];
            for (int i = 0; i < updates.Length; i++)
            {
                int rest = i, offset = 0;
                for (int d = 0; d < x.Rank; d++)
                {
                    int c = rest / us[d];
                    rest -= c * us[d];
                    if (d == ax)
                    {
                        long v = Indices[i] < 0 ? Indices[i] + dim : Indices[i];
                        if (v < 0 || v >= dim) throw new ShapeException($"ScatterElements: argument 'indices' expected values in [{-dim}, {dim - 1}], got {Indices[i]}");
                        c = (int)v;
                    }
                    offset += c * xs[d];
                }
                o.Data[offset] = Combine(o.Data[offset], updates.Data[i]);
            }
            return o;
        }

        private T Combine<T>(T old, T update) where T : unmanaged
        {
            if (Reduction == "none") return update;
            double a = Convert.ToDouble(old, System.Globalization.CultureInfo.InvariantCulture), b = Convert.ToDouble(update, System.Globalization.CultureInfo.InvariantCulture);
            double r = Reduction switch
            {
                "add" => a + b,
                "mul" => a * b,
                "max" => Math.Max(a, b),
                "min" => Math.Min(a, b),
                _ => throw new GraphException($"node {Node.Label}: attribute 'reduction' expected none, add, mul, max or min, got '{Reduction}'"),
            };
            return (T)Convert.ChangeType(r, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    private readonly record struct GatherNDFunc(long[] Indices, int[] IndexShape, int BatchDims, Node Node) : IGenericTensorFunc<Tensor>
    {
        public Tensor Invoke<T>(Tensor<T> x) where T : unmanaged
        {
            int q = IndexShape.Length, b = BatchDims;
            Check.AtLeast("GatherND", "indices rank", q, 1);
            int last = IndexShape[^1];
            Check.That(b >= 0 && b < q && b + last <= x.Rank, "GatherND", "indices", $"a last dimension of at most {x.Rank - b} with batch_dims {b}", Shapes.Format(IndexShape));
            var outShape = IndexShape[..^1].Concat(x.Dims[(b + last)..].ToArray()).ToArray();
            var o = new Tensor<T>(outShape);
            int slice = 1;
            for (int i = b + last; i < x.Rank; i++) slice *= x.Dims[i];
            int batch = 1;
            for (int i = 0; i < b; i++) batch *= x.Dims[i];
            int perBatchIndices = 1;
            for (int i = b; i < q - 1; i++) perBatchIndices *= IndexShape[i];
            var xs = Shapes.Strides(x.Dims);
            int batchStride = b == 0 ? 0 : xs[b - 1];
            for (int bi = 0; bi < batch; bi++)
                for (int k = 0; k < perBatchIndices; k++)
                {
                    int tuple = (bi * perBatchIndices + k) * last, offset = bi * batchStride;
                    for (int j = 0; j < last; j++)
                    {
                        long v = Indices[tuple + j], dim = x.Dims[b + j];
                        if (v < 0) v += dim;
                        if (v < 0 || v >= dim) throw new ShapeException($"GatherND: argument 'indices' expected values in [{-dim}, {dim - 1}], got {Indices[tuple + j]}");
                        offset += (int)v * xs[b + j];
                    }
                    Array.Copy(x.Data, offset, o.Data, (bi * perBatchIndices + k) * slice, slice);
                }
            return o;
        }
    }
}
