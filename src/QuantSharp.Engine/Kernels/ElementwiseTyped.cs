using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace QuantSharp.Engine.Kernels;

/// <summary>
/// Elementwise ops on non-float tensors: integer arithmetic for shape computations (scalar loops; these
/// tensors are tiny), broadcasting of any element type, and ONNX Where.
/// </summary>
public static class ElementwiseTyped
{
    /// <summary>A scalar function of two elements, for the generic strided broadcast walk.</summary>
    public interface IScalarBinary<TA, TB, TO>
    {
        /// <summary>The function.</summary>
        TO Invoke(TA a, TB b);
    }

    /// <summary>o = op(a, b) for any element types, with numpy broadcasting (scalar loop over broadcast rows).</summary>
    public static Tensor<TO> Broadcast<TA, TB, TO, TOp>(TOp op, Tensor<TA> a, Tensor<TB> b, string opName, Tensor<TO>? output = null)
        where TA : unmanaged where TB : unmanaged where TO : unmanaged where TOp : struct, IScalarBinary<TA, TB, TO>
    {
        var shape = Shapes.Broadcast(a.Dims, b.Dims, opName);
        var o = Elementwise.Output(opName, shape, output);
        if (o.Length == 0) return o;
        var plan = new BroadcastPlan(a.Dims, b.Dims, shape);
        TA[] ad = a.Data; TB[] bd = b.Data; TO[] od = o.Data;
        int inner = plan.Inner, sa = plan.AContiguous ? 1 : 0, sb = plan.BContiguous ? 1 : 0;
        for (int r = 0; r < plan.Rows; r++)
        {
            plan.RowOffsets(r, out int oa, out int ob);
            int oo = r * inner;
            for (int j = 0; j < inner; j++) od[oo + j] = op.Invoke(ad[oa + j * sa], bd[ob + j * sb]);
        }
        return o;
    }

    /// <summary>numpy broadcast_to for any element type: a copy of <paramref name="x"/> broadcast to <paramref name="shape"/>.</summary>
    public static Tensor<T> BroadcastTo<T>(Tensor<T> x, ReadOnlySpan<int> shape) where T : unmanaged
    {
        var target = Shapes.Broadcast(x.Dims, shape, "BroadcastTo");
        Check.That(target.AsSpan().SequenceEqual(shape), "BroadcastTo", "shape", $"a shape {Shapes.Format(x.Dims)} broadcasts to", Shapes.Format(shape));
        var o = new Tensor<T>(target);
        return Broadcast(new First<T>(), x, o, "BroadcastTo", o);
    }

    private static Tensor<T> Same<T, TOp>(TOp op, Tensor<T> a, Tensor<T> b, string name)
        where T : unmanaged where TOp : struct, IScalarBinary<T, T, T> => Broadcast<T, T, T, TOp>(op, a, b, name);

    private readonly struct First<T> : IScalarBinary<T, T, T> { public T Invoke(T a, T b) => a; }
    private readonly struct Plus<T> : IScalarBinary<T, T, T> where T : INumber<T> { public T Invoke(T a, T b) => a + b; }
    private readonly struct Minus<T> : IScalarBinary<T, T, T> where T : INumber<T> { public T Invoke(T a, T b) => a - b; }
    private readonly struct Times<T> : IScalarBinary<T, T, T> where T : INumber<T> { public T Invoke(T a, T b) => a * b; }
    private readonly struct Over<T> : IScalarBinary<T, T, T> where T : INumber<T> { public T Invoke(T a, T b) => a / b; }

    /// <summary>ONNX Add on int32 (broadcast, wrapping on overflow).</summary>
    public static Tensor<int> Add(Tensor<int> a, Tensor<int> b) => Same(new Plus<int>(), a, b, "Add");
    /// <summary>ONNX Sub on int32 (broadcast).</summary>
    public static Tensor<int> Sub(Tensor<int> a, Tensor<int> b) => Same(new Minus<int>(), a, b, "Sub");
    /// <summary>ONNX Mul on int32 (broadcast).</summary>
    public static Tensor<int> Mul(Tensor<int> a, Tensor<int> b) => Same(new Times<int>(), a, b, "Mul");
    /// <summary>ONNX Div on int32 (broadcast; truncates toward zero as ONNX Runtime does).</summary>
    public static Tensor<int> Div(Tensor<int> a, Tensor<int> b) => Same(new Over<int>(), a, b, "Div");
    /// <summary>ONNX Add on int64 (broadcast).</summary>
    public static Tensor<long> Add(Tensor<long> a, Tensor<long> b) => Same(new Plus<long>(), a, b, "Add");
    /// <summary>ONNX Sub on int64 (broadcast).</summary>
    public static Tensor<long> Sub(Tensor<long> a, Tensor<long> b) => Same(new Minus<long>(), a, b, "Sub");
    /// <summary>ONNX Mul on int64 (broadcast).</summary>
    public static Tensor<long> Mul(Tensor<long> a, Tensor<long> b) => Same(new Times<long>(), a, b, "Mul");
    /// <summary>ONNX Div on int64 (broadcast; truncates toward zero).</summary>
    public static Tensor<long> Div(Tensor<long> a, Tensor<long> b) => Same(new Over<long>(), a, b, "Div");

    /// <summary>
    /// ONNX Where: out = condition ? x : y, all three broadcast together. Same-shape inputs take a vector
    /// select (bit-exact); other shapes are first broadcast to the output shape.
    /// </summary>
    public static Tensor<float> Where(Tensor<bool> condition, Tensor<float> x, Tensor<float> y, Tensor<float>? output = null)
    {
        var shape = Shapes.Broadcast(Shapes.Broadcast(condition.Dims, x.Dims, "Where"), y.Dims, "Where");
        var o = Elementwise.Output("Where", shape, output);
        var c = condition.Dims.SequenceEqual(shape) ? condition : BroadcastTo(condition, shape);
        var xs = x.Dims.SequenceEqual(shape) ? x : Elementwise.BroadcastTo(x, shape);
        var ys = y.Dims.SequenceEqual(shape) ? y : Elementwise.BroadcastTo(y, shape);
        WhereBlock(c.Data, xs.Data, ys.Data, o.Data, ElementwiseDriver.BestWidth);
        return o;
    }

    /// <summary>o[i] = c[i] ? x[i] : y[i]; <paramref name="width"/> 512 uses AVX-512 byte→int widening, else scalar.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void WhereBlock(ReadOnlySpan<bool> c, ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> o, int width)
    {
        int n = o.Length, i = 0;
        fixed (bool* pc = c)
        fixed (float* px = x, py = y, po = o)
        {
            if (width == 512 && Avx512F.IsSupported)
                for (; i <= n - 16; i += 16)
                {
                    var m = Avx512F.ConvertToVector512Int32(Vector128.Load((byte*)pc + i));
                    var mask = ~Vector512.Equals(m, Vector512<int>.Zero).AsSingle();
                    Vector512.ConditionalSelect(mask, Vector512.Load(px + i), Vector512.Load(py + i)).Store(po + i);
                }
            else if (width >= 256 && Avx2.IsSupported)
                for (; i <= n - 8; i += 8)
                {
                    var m = Avx2.ConvertToVector256Int32((byte*)pc + i);
                    var mask = ~Vector256.Equals(m, Vector256<int>.Zero).AsSingle();
                    Vector256.ConditionalSelect(mask, Vector256.Load(px + i), Vector256.Load(py + i)).Store(po + i);
                }
            for (; i < n; i++) po[i] = pc[i] ? px[i] : py[i];
        }
    }
}
