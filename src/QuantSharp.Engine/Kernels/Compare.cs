using System.Runtime.Intrinsics;
using System.Runtime.InteropServices;
using QuantSharp.Engine.Kernels.Operators;

namespace QuantSharp.Engine.Kernels;

/// <summary>
/// ONNX comparisons (float → bool, broadcast) and logical ops on bool tensors. Comparisons follow IEEE:
/// any comparison with NaN is false (Equal included). Bools are stored as bytes 0/1.
/// </summary>
public static class Compare
{
    /// <summary>o = pred(a, b) with broadcasting, for any predicate struct.</summary>
    public static Tensor<bool> Apply<TP>(TP pred, Tensor<float> a, Tensor<float> b, Tensor<bool>? output = null, string opName = "Compare")
        where TP : struct, IBinaryPredicate
    {
        var shape = Shapes.Broadcast(a.Dims, b.Dims, opName);
        var o = Elementwise.Output(opName, shape, output);
        ElementwiseDriver.Compare(pred, a.Data, a.Dims, b.Data, b.Dims, o.Data, shape);
        return o;
    }

    /// <summary>ONNX Equal: a == b.</summary>
    public static Tensor<bool> Equal(Tensor<float> a, Tensor<float> b, Tensor<bool>? output = null) => Apply(new EqualPredicate(), a, b, output, "Equal");
    /// <summary>ONNX Less: a &lt; b.</summary>
    public static Tensor<bool> Less(Tensor<float> a, Tensor<float> b, Tensor<bool>? output = null) => Apply(new LessPredicate(), a, b, output, "Less");
    /// <summary>ONNX Greater: a &gt; b.</summary>
    public static Tensor<bool> Greater(Tensor<float> a, Tensor<float> b, Tensor<bool>? output = null) => Apply(new GreaterPredicate(), a, b, output, "Greater");
    /// <summary>ONNX LessOrEqual: a ≤ b.</summary>
    public static Tensor<bool> LessOrEqual(Tensor<float> a, Tensor<float> b, Tensor<bool>? output = null) => Apply(new LessOrEqualPredicate(), a, b, output, "LessOrEqual");
    /// <summary>ONNX GreaterOrEqual: a ≥ b.</summary>
    public static Tensor<bool> GreaterOrEqual(Tensor<float> a, Tensor<float> b, Tensor<bool>? output = null) => Apply(new GreaterOrEqualPredicate(), a, b, output, "GreaterOrEqual");

    private enum Logic { And, Or, Xor }

    private readonly struct LogicOp(Logic kind) : ElementwiseTyped.IScalarBinary<bool, bool, bool>
    {
        public bool Invoke(bool a, bool b) => kind switch { Logic.And => a & b, Logic.Or => a | b, _ => a ^ b };
    }

    /// <summary>ONNX Not: ¬x.</summary>
    public static Tensor<bool> Not(Tensor<bool> x)
    {
        var o = new Tensor<bool>(x.Dims);
        var src = MemoryMarshal.AsBytes(x.Data.AsSpan());
        var dst = MemoryMarshal.AsBytes(o.Data.AsSpan());
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i <= src.Length - 64; i += 64) (Vector512.Create(src.Slice(i, 64)) ^ Vector512.Create((byte)1)).CopyTo(dst.Slice(i, 64));
        for (; i < src.Length; i++) dst[i] = (byte)(src[i] ^ 1);
        return o;
    }

    /// <summary>ONNX And: a ∧ b (broadcast).</summary>
    public static Tensor<bool> And(Tensor<bool> a, Tensor<bool> b) => Logical(Logic.And, a, b, "And");
    /// <summary>ONNX Or: a ∨ b (broadcast).</summary>
    public static Tensor<bool> Or(Tensor<bool> a, Tensor<bool> b) => Logical(Logic.Or, a, b, "Or");
    /// <summary>ONNX Xor: a ⊕ b (broadcast).</summary>
    public static Tensor<bool> Xor(Tensor<bool> a, Tensor<bool> b) => Logical(Logic.Xor, a, b, "Xor");

    private static Tensor<bool> Logical(Logic kind, Tensor<bool> a, Tensor<bool> b, string name)
    {
        if (!a.Dims.SequenceEqual(b.Dims)) return ElementwiseTyped.Broadcast<bool, bool, bool, LogicOp>(new LogicOp(kind), a, b, name);
        var o = new Tensor<bool>(a.Dims);
        var x = MemoryMarshal.AsBytes(a.Data.AsSpan());
        var y = MemoryMarshal.AsBytes(b.Data.AsSpan());
        var z = MemoryMarshal.AsBytes(o.Data.AsSpan());
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i <= x.Length - 64; i += 64)
            {
                var u = Vector512.Create(x.Slice(i, 64)); var v = Vector512.Create(y.Slice(i, 64));
                (kind == Logic.And ? u & v : kind == Logic.Or ? u | v : u ^ v).CopyTo(z.Slice(i, 64));
            }
        for (; i < x.Length; i++) z[i] = (byte)(kind == Logic.And ? x[i] & y[i] : kind == Logic.Or ? x[i] | y[i] : x[i] ^ y[i]);
        return o;
    }
}
