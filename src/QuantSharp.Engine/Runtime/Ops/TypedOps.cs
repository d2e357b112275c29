using System.Numerics;
using QuantSharp.Engine.Kernels;

namespace QuantSharp.Engine.Runtime.Ops;

/// <summary>
/// Elementwise ONNX ops on the element types the float kernels do not cover (double, 8/16/32/64-bit integers):
/// scalar loops over numpy broadcasting. Integer arithmetic wraps on overflow and divides truncating toward zero,
/// as ONNX Runtime does.
/// </summary>
internal static class TypedOps
{
    /// <summary>Add/Sub/Mul/Div/Max/Min of two tensors of the same element type.</summary>
    public static Tensor Binary(string op, Tensor a, Tensor b, Node node) => a switch
    {
        Tensor<float> x => Bin(op, x, Same(x, b, node)),
        Tensor<double> x => Bin(op, x, Same(x, b, node)),
        Tensor<sbyte> x => Bin(op, x, Same(x, b, node)),
        Tensor<byte> x => Bin(op, x, Same(x, b, node)),
        Tensor<short> x => Bin(op, x, Same(x, b, node)),
        Tensor<ushort> x => Bin(op, x, Same(x, b, node)),
        Tensor<int> x => Bin(op, x, Same(x, b, node)),
        Tensor<long> x => Bin(op, x, Same(x, b, node)),
        _ => throw new GraphException($"node {node.Label}: {op} on element type {a.DataType} is not supported"),
    };

    /// <summary>ONNX Mod: with <paramref name="fmod"/> the remainder has the dividend's sign (C fmod), otherwise the divisor's (Python %).</summary>
    public static Tensor Mod(Tensor a, Tensor b, bool fmod, Node node) => a switch
    {
        Tensor<float> x => ModT(x, Same(x, b, node), fmod),
        Tensor<double> x => ModT(x, Same(x, b, node), fmod),
        Tensor<sbyte> x => ModT(x, Same(x, b, node), fmod),
        Tensor<byte> x => ModT(x, Same(x, b, node), fmod),
        Tensor<short> x => ModT(x, Same(x, b, node), fmod),
        Tensor<ushort> x => ModT(x, Same(x, b, node), fmod),
        Tensor<int> x => ModT(x, Same(x, b, node), fmod),
        Tensor<long> x => ModT(x, Same(x, b, node), fmod),
        _ => throw new GraphException($"node {node.Label}: Mod on element type {a.DataType} is not supported"),
    };

    private static Tensor<T> ModT<T>(Tensor<T> a, Tensor<T> b, bool fmod) where T : unmanaged, INumber<T> =>
        fmod ? ElementwiseTyped.Broadcast<T, T, T, TruncatedMod<T>>(default, a, b, "Mod")
             : ElementwiseTyped.Broadcast<T, T, T, FlooredMod<T>>(default, a, b, "Mod");

    private readonly struct TruncatedMod<T> : ElementwiseTyped.IScalarBinary<T, T, T> where T : INumber<T> { public T Invoke(T a, T b) => a % b; }
    private readonly struct FlooredMod<T> : ElementwiseTyped.IScalarBinary<T, T, T> where T : INumber<T>
    {
        public T Invoke(T a, T b)
        {
            T r = a % b;
            return r != T.Zero && T.IsNegative(r) != T.IsNegative(b) ? r + b : r;
        }
    }

    /// <summary>Max/Min over any number of same-typed inputs (pairwise, left to right).</summary>
    public static Tensor Variadic(string op, IReadOnlyList<Tensor> inputs, Node node)
    {
        var acc = inputs[0];
        for (int i = 1; i < inputs.Count; i++) acc = Binary(op, acc, inputs[i], node);
        return inputs.Count == 1 ? Binary(op, acc, acc, node) : acc;
    }

    /// <summary>ONNX Pow(X, Y) with mixed element types: computed in double, result in X's type (integers truncated).</summary>
    public static Tensor Pow(Tensor x, Tensor y, Node node)
    {
        var xd = ToDouble(x);
        var yd = ToDouble(y);
        var r = ElementwiseTyped.Broadcast<double, double, double, PowOp>(default, xd, yd, "Pow");
        return x switch
        {
            Tensor<float> => Convert<float>(r),
            Tensor<double> => r,
            Tensor<int> => Convert<int>(r),
            Tensor<long> => Convert<long>(r),
            Tensor<sbyte> => Convert<sbyte>(r),
            Tensor<byte> => Convert<byte>(r),
            Tensor<short> => Convert<short>(r),
            Tensor<ushort> => Convert<ushort>(r),
            _ => throw new GraphException($"node {node.Label}: Pow on element type {x.DataType} is not supported"),
        };
    }

    /// <summary>Neg or Abs on a non-float tensor.</summary>
    public static Tensor Unary(string op, Tensor x, Node node) => x switch
    {
        Tensor<double> t => Map(t, op),
        Tensor<sbyte> t => Map(t, op),
        Tensor<short> t => Map(t, op),
        Tensor<int> t => Map(t, op),
        Tensor<long> t => Map(t, op),
        _ => throw new GraphException($"node {node.Label}: {op} on element type {x.DataType} is not supported"),
    };

    /// <summary>ONNX Clip (opset 11+) on any numeric type: min and max are optional scalars of the input's type; when min &gt; max every value becomes max.</summary>
    public static Tensor Clip(Tensor x, Tensor? lo, Tensor? hi, Node node) => x switch
    {
        Tensor<float> t => ClipT(t, lo, hi, node),
        Tensor<double> t => ClipT(t, lo, hi, node),
        Tensor<sbyte> t => ClipT(t, lo, hi, node),
        Tensor<byte> t => ClipT(t, lo, hi, node),
        Tensor<short> t => ClipT(t, lo, hi, node),
        Tensor<ushort> t => ClipT(t, lo, hi, node),
        Tensor<int> t => ClipT(t, lo, hi, node),
        Tensor<long> t => ClipT(t, lo, hi, node),
        _ => throw new GraphException($"node {node.Label}: Clip on element type {x.DataType} is not supported"),
    };

    /// <summary>ONNX Where for any element type of X and Y (condition, X and Y broadcast together).</summary>
    public static Tensor Where(Tensor<bool> c, Tensor x, Tensor y, Node node) =>
        GenericDispatch.Apply<WhereFunc, Tensor>(x, new WhereFunc(c, y, node));

    private readonly struct WhereFunc(Tensor<bool> c, Tensor y, Node node) : IGenericTensorFunc<Tensor>
    {
        public Tensor Invoke<T>(Tensor<T> x) where T : unmanaged
        {
            var yt = y as Tensor<T> ?? throw new GraphException($"node {node.Label}: input 2 expected element type {x.DataType}, got {y.DataType}");
            var shape = Shapes.Broadcast(Shapes.Broadcast(c.Dims, x.Dims, "Where"), yt.Dims, "Where");
            var cb = ElementwiseTyped.BroadcastTo(c, shape);
            var xb = ElementwiseTyped.BroadcastTo(x, shape);
            var yb = ElementwiseTyped.BroadcastTo(yt, shape);
            var o = new Tensor<T>(shape);
            for (int i = 0; i < o.Length; i++) o.Data[i] = cb.Data[i] ? xb.Data[i] : yb.Data[i];
            return o;
        }
    }

    private static Tensor<T> Same<T>(Tensor<T> a, Tensor b, Node node) where T : unmanaged =>
        b as Tensor<T> ?? throw new GraphException($"node {node.Label}: input 1 expected element type {a.DataType}, got {b.DataType}");

    private static Tensor<T> Bin<T>(string op, Tensor<T> a, Tensor<T> b) where T : unmanaged, INumber<T> => op switch
    {
        "Add" => ElementwiseTyped.Broadcast<T, T, T, Plus<T>>(default, a, b, op),
        "Sub" => ElementwiseTyped.Broadcast<T, T, T, Minus<T>>(default, a, b, op),
        "Mul" => ElementwiseTyped.Broadcast<T, T, T, Times<T>>(default, a, b, op),
        "Div" => ElementwiseTyped.Broadcast<T, T, T, Over<T>>(default, a, b, op),
        "Max" => ElementwiseTyped.Broadcast<T, T, T, Larger<T>>(default, a, b, op),
        "Min" => ElementwiseTyped.Broadcast<T, T, T, Smaller<T>>(default, a, b, op),
        _ => throw new ArgumentException($"TypedOps.Binary: unknown op {op}", nameof(op)),
    };

    private static Tensor<T> Map<T>(Tensor<T> x, string op) where T : unmanaged, INumber<T>
    {
        var o = new Tensor<T>(x.Dims);
        for (int i = 0; i < o.Length; i++) o.Data[i] = op == "Neg" ? -x.Data[i] : T.Abs(x.Data[i]);
        return o;
    }

    private static Tensor<T> ClipT<T>(Tensor<T> x, Tensor? lo, Tensor? hi, Node node) where T : unmanaged, INumber<T>, IMinMaxValue<T>
    {
        T Bound(Tensor? b, T fallback, string name)
        {
            if (b is null) return fallback;
            var t = b as Tensor<T> ?? throw new GraphException($"node {node.Label}: input '{name}' expected element type {x.DataType}, got {b.DataType}");
            if (t.Length != 1) throw new GraphException($"node {node.Label}: input '{name}' expected a scalar, got shape {Shapes.Format(t.Dims)}");
            return t.Data[0];
        }
        T min = Bound(lo, T.MinValue, "min"), max = Bound(hi, T.MaxValue, "max");
        if (typeof(T) == typeof(float) || typeof(T) == typeof(double))
        {
            if (lo is null) min = T.CreateChecked(double.NegativeInfinity);
            if (hi is null) max = T.CreateChecked(double.PositiveInfinity);
        }
        var o = new Tensor<T>(x.Dims);
        for (int i = 0; i < o.Length; i++)
        {
            T v = x.Data[i];
            if (v < min) v = min;
            if (v > max) v = max;
            o.Data[i] = v;
        }
        return o;
    }

    private static Tensor<double> ToDouble(Tensor t)
    {
        var o = new Tensor<double>(t.Dims);
        var raw = t.RawData;
        for (int i = 0; i < o.Length; i++) o.Data[i] = System.Convert.ToDouble(raw.GetValue(i), System.Globalization.CultureInfo.InvariantCulture);
        return o;
    }

    private static Tensor<T> Convert<T>(Tensor<double> r) where T : unmanaged, INumber<T>
    {
        var o = new Tensor<T>(r.Dims);
        for (int i = 0; i < o.Length; i++) o.Data[i] = T.CreateTruncating(r.Data[i]);
        return o;
    }

    private readonly struct PowOp : ElementwiseTyped.IScalarBinary<double, double, double> { public double Invoke(double a, double b) => Math.Pow(a, b); }
    private readonly struct Plus<T> : ElementwiseTyped.IScalarBinary<T, T, T> where T : INumber<T> { public T Invoke(T a, T b) => unchecked(a + b); }
    private readonly struct Minus<T> : ElementwiseTyped.IScalarBinary<T, T, T> where T : INumber<T> { public T Invoke(T a, T b) => unchecked(a - b); }
    private readonly struct Times<T> : ElementwiseTyped.IScalarBinary<T, T, T> where T : INumber<T> { public T Invoke(T a, T b) => unchecked(a * b); }
    private readonly struct Over<T> : ElementwiseTyped.IScalarBinary<T, T, T> where T : INumber<T> { public T Invoke(T a, T b) => a / b; }
    private readonly struct Larger<T> : ElementwiseTyped.IScalarBinary<T, T, T> where T : INumber<T> { public T Invoke(T a, T b) => T.IsNaN(a) || T.IsNaN(b) ? a + b : a >= b ? a : b; }
    private readonly struct Smaller<T> : ElementwiseTyped.IScalarBinary<T, T, T> where T : INumber<T> { public T Invoke(T a, T b) => T.IsNaN(a) || T.IsNaN(b) ? a + b : a <= b ? a : b; }
}
