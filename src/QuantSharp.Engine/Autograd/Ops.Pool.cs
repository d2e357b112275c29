using QuantSharp.Engine.Kernels;

namespace QuantSharp.Engine.Autograd;

/// <summary>Differentiable ops on <see cref="Variable"/>s; each family lives in its own <c>Ops.&lt;Family&gt;.cs</c> file.</summary>
public static partial class Ops
{
    /// <summary>
    /// Differentiable ONNX MaxPool (<see cref="Pool.MaxPool(Tensor{float}, PoolParams)"/>). When a gradient is recorded the forward also keeps the
    /// argmax indices; backward routes each output gradient to its argmax (ties → first index in window order).
    /// </summary>
    public static Variable MaxPool(Variable x, PoolParams p)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (!Autograd.IsEnabled || !x.RequiresGrad) return new Variable(Pool.MaxPool(x.Data, p));
        var (y, indices) = Pool.MaxPoolWithIndices(x.Data, p);
        var inputShape = x.Data.Shape;
        return Autograd.Record("MaxPool", y, [x], g => [Pool.MaxPoolBackward(g, indices, inputShape)]);
    }

    /// <summary>Differentiable ONNX AveragePool (<see cref="Pool.AveragePool(Tensor{float}, PoolParams, bool)"/>); backward spreads each gradient over its window with the forward divisor.</summary>
    public static Variable AveragePool(Variable x, PoolParams p, bool countIncludePad = false)
    {
        ArgumentNullException.ThrowIfNull(x);
        var y = Pool.AveragePool(x.Data, p, countIncludePad);
        var inputShape = x.Data.Shape;
        return Autograd.Record("AveragePool", y, [x], g => [Pool.AveragePoolBackward(g, inputShape, p, countIncludePad)]);
    }

    /// <summary>Differentiable ONNX GlobalAveragePool: <c>y[n,c] = mean of x[n,c,…]</c>; gradient <c>dy/S</c> everywhere.</summary>
    public static Variable GlobalAveragePool(Variable x)
    {
        ArgumentNullException.ThrowIfNull(x);
        var y = Pool.GlobalAveragePool(x.Data);
        var inputShape = x.Data.Shape;
        return Autograd.Record("GlobalAveragePool", y, [x], g => [Pool.GlobalAveragePoolBackward(g, inputShape)]);
    }

    /// <summary>Differentiable ONNX GlobalMaxPool: <c>y[n,c] = max of x[n,c,…]</c>; gradient to the first maximal element.</summary>
    public static Variable GlobalMaxPool(Variable x)
    {
        ArgumentNullException.ThrowIfNull(x);
        var y = Pool.GlobalMaxPool(x.Data);
        var xd = x.Data;
        return Autograd.Record("GlobalMaxPool", y, [x], g => [Pool.GlobalMaxPoolBackward(xd, g)]);
    }
}
