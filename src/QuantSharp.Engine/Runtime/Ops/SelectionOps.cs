using static QuantSharp.Engine.Runtime.InputRole;
using static QuantSharp.Engine.Runtime.Ops.Table;

namespace QuantSharp.Engine.Runtime.Ops;

/// <summary>Selection ops without a dedicated kernel (forward only): TopK, Compress, BitShift.</summary>
internal static class SelectionOps
{
    public static void Register(OpRegistry r)
    {
        // TopK (K as input from opset 10): the K largest (or smallest) along axis, ties broken by the lower index; sorted output.
        Add(r, "TopK", 10, n =>
        {
            int axis = (int)n.GetInt("axis", -1);
            bool largest = n.GetInt("largest", 1) != 0;
            return ((a, _) => TopK(a.Float(0), a.Longs(1)[0], axis, largest), null);
        });
        // Compress: keeps the slices along axis whose condition is true (the flattened input when axis is absent).
        Add(r, "Compress", 9, n =>
        {
            int? axis = n.Attributes.ContainsKey("axis") ? (int)n.GetInt("axis", 0) : null;
            return ((a, _) => [GenericDispatch.Apply<CompressFunc, Tensor>(a.Any(0), new CompressFunc(a.As<bool>(1), axis))], null);
        });
        // BitShift on unsigned integers: LEFT shifts bits up (dropping overflow), RIGHT down; broadcast.
        Add(r, "BitShift", 11, n =>
        {
            bool left = n.GetString("direction", "") switch
            {
                "LEFT" => true,
                "RIGHT" => false,
                var d => throw new GraphException($"node {n.Label}: attribute 'direction' expected LEFT or RIGHT, got '{d}'"),
            };
            return ((a, _) => [a.Any(0) switch
            {
                Tensor<byte> x => Shift(x, a.As<byte>(1), left),
                Tensor<ushort> x => Shift(x, a.As<ushort>(1), left),
                var x => throw new GraphException($"node {n.Label}: BitShift on element type {x.DataType} is not supported (UInt8 or UInt16)"),
            }], null);
        });
        Describe(r);
    }

    /// <summary>Schema facts: TopK's k and Compress's condition are settings; TopK's second output holds indices.</summary>
    private static void Describe(OpRegistry r)
    {
        r.Describe("TopK").WithInputs(Data, Setting).WithOutputType(TypeRules.ValuesAndIndices());
        r.Describe("Compress").WithInputs(Data, Setting).WithTraits(OpTraits.DataMovement);
        r.Describe("BitShift").WithTraits(OpTraits.Elementwise).WithShape(ShapeRules.Broadcast);
    }

    private static Tensor Shift<T>(Tensor<T> x, Tensor<T> s, bool left) where T : unmanaged, System.Numerics.IBinaryInteger<T> =>
        left ? Kernels.ElementwiseTyped.Broadcast<T, T, T, ShiftLeft<T>>(default, x, s, "BitShift")
             : Kernels.ElementwiseTyped.Broadcast<T, T, T, ShiftRight<T>>(default, x, s, "BitShift");

    private readonly struct ShiftLeft<T> : Kernels.ElementwiseTyped.IScalarBinary<T, T, T> where T : System.Numerics.IBinaryInteger<T>
    { public T Invoke(T a, T b) => int.CreateTruncating(b) >= 8 * a.GetByteCount() ? T.Zero : a << int.CreateTruncating(b); }

    private readonly struct ShiftRight<T> : Kernels.ElementwiseTyped.IScalarBinary<T, T, T> where T : System.Numerics.IBinaryInteger<T>
    { public T Invoke(T a, T b) => int.CreateTruncating(b) >= 8 * a.GetByteCount() ? T.Zero : a >>> int.CreateTruncating(b); }

    private static Tensor[] TopK(Tensor<float> x, long k, int axis, bool largest)
    {
        int ax = Check.Axis("TopK", "axis", axis, Math.Max(x.Rank, 1));
        int len = x.Dims[ax];
        Check.That(k >= 0 && k <= len, "TopK", "K", $"0..{len}", $"{k}");
        int outer = 1, inner = 1;
        for (int i = 0; i < ax; i++) outer *= x.Dims[i];
        for (int i = ax + 1; i < x.Rank; i++) inner *= x.Dims[i];
        var shape = x.Shape;
        shape[ax] = (int)k;
        var values = new Tensor<float>(shape);
        var indices = new Tensor<long>(shape);
        var order = new int[len];
        for (int o = 0; o < outer; o++)
            for (int j = 0; j < inner; j++)
            {
                int baseIndex = o * len * inner + j;
                for (int i = 0; i < len; i++) order[i] = i;
                float[] data = x.Data;
                Array.Sort(order, (p, q) =>
                {
                    float a = data[baseIndex + p * inner], b = data[baseIndex + q * inner];
                    int c = largest ? b.CompareTo(a) : a.CompareTo(b);
                    return c != 0 ? c : p.CompareTo(q);
                });
                for (int i = 0; i < k; i++)
                {
                    int dst = (o * (int)k + i) * inner + j;
                    values.Data[dst] = data[baseIndex + order[i] * inner];
                    indices.Data[dst] = order[i];
                }
            }
        return [values, indices];
    }

    private readonly record struct CompressFunc(Tensor<bool> Condition, int? Axis) : IGenericTensorFunc<Tensor>
    {
        public Tensor Invoke<T>(Tensor<T> x) where T : unmanaged
        {
            var input = Axis is null ? x.Reshape(x.Length) : x;
            int ax = Check.Axis("Compress", "axis", Axis ?? 0, input.Rank);
            int len = input.Dims[ax];
            Check.That(Condition.Length <= len, "Compress", "condition", $"at most {len} elements", $"{Condition.Length}");
            var condition = Condition.Data;
            var keep = Enumerable.Range(0, condition.Length).Where(i => condition[i]).ToArray();
            int outer = 1, inner = 1;
            for (int i = 0; i < ax; i++) outer *= input.Dims[i];
            for (int i = ax + 1; i < input.Rank; i++) inner *= input.Dims[i];
            var shape = input.Shape;
            shape[ax] = keep.Length;
            var o = new Tensor<T>(shape);
            for (int p = 0; p < outer; p++)
                for (int s = 0; s < keep.Length; s++)
                    Array.Copy(input.Data, (p * len + keep[s]) * inner, o.Data, (p * keep.Length + s) * inner, inner);
            return o;
        }
    }
}
