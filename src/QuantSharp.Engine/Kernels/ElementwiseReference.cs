using QuantSharp.Engine.Kernels.Operators;

namespace QuantSharp.Engine.Kernels;

/// <summary>
/// Plain scalar reference for the elementwise ops: one scalar <c>Invoke</c> per output element, with
/// broadcasting done by explicit multi-index arithmetic (no plan, no vectors, no threads). Tests compare
/// the vectorized driver against it.
/// </summary>
public static class ElementwiseReference
{
    /// <summary>y[i] = op.Invoke(x[i]).</summary>
    public static Tensor<float> Unary<TOp>(TOp op, Tensor<float> x) where TOp : struct, IUnaryOperator
    {
        var y = new Tensor<float>(x.Dims);
        for (int i = 0; i < x.Length; i++) y.Data[i] = op.Invoke(x.Data[i]);
        return y;
    }

    /// <summary>o[idx] = op.Invoke(a[idx broadcast], b[idx broadcast]).</summary>
    public static Tensor<float> Binary<TOp>(TOp op, Tensor<float> a, Tensor<float> b) where TOp : struct, IBinaryOperator
    {
        var shape = Shapes.Broadcast(a.Dims, b.Dims, "Reference");
        var o = new Tensor<float>(shape);
        var sa = Shapes.BroadcastStrides(a.Dims, shape); var sb = Shapes.BroadcastStrides(b.Dims, shape);
        for (int i = 0; i < o.Length; i++)
        {
            Offsets(i, shape, sa, sb, out int ia, out int ib);
            o.Data[i] = op.Invoke(a.Data[ia], b.Data[ib]);
        }
        return o;
    }

    /// <summary>o[idx] = pred.Invoke(a[idx broadcast], b[idx broadcast]).</summary>
    public static Tensor<bool> Compare<TP>(TP pred, Tensor<float> a, Tensor<float> b) where TP : struct, IBinaryPredicate
    {
        var shape = Shapes.Broadcast(a.Dims, b.Dims, "Reference");
        var o = new Tensor<bool>(shape);
        var sa = Shapes.BroadcastStrides(a.Dims, shape); var sb = Shapes.BroadcastStrides(b.Dims, shape);
        for (int i = 0; i < o.Length; i++)
        {
            Offsets(i, shape, sa, sb, out int ia, out int ib);
            o.Data[i] = pred.Invoke(a.Data[ia], b.Data[ib]);
        }
        return o;
    }

    private static void Offsets(int flat, int[] shape, int[] sa, int[] sb, out int ia, out int ib)
    {
        ia = 0; ib = 0;
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            int idx = flat % shape[d];
            flat /= shape[d];
            ia += idx * sa[d]; ib += idx * sb[d];
        }
    }
}
