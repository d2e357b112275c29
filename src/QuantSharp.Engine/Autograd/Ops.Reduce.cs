using QuantSharp.Engine.Kernels;

namespace QuantSharp.Engine.Autograd;

public static partial class Ops
{
    /// <summary>ONNX ReduceSum over <paramref name="axes"/> (null: all), keepDims as ONNX (default true).</summary>
    public static Variable Sum(Variable x, int[]? axes = null, bool keepDims = true) =>
        Autograd.Record("ReduceSum", Reduce.Sum(x.Data, axes, keepDims), [x], g => [Reduce.SumBackward(g, x.Data.Dims, axes, keepDims)]);

    /// <summary>ONNX ReduceMean over <paramref name="axes"/> (null: all).</summary>
    public static Variable Mean(Variable x, int[]? axes = null, bool keepDims = true) =>
        Autograd.Record("ReduceMean", Reduce.Mean(x.Data, axes, keepDims), [x], g => [Reduce.MeanBackward(g, x.Data.Dims, axes, keepDims)]);

    /// <summary>ONNX ReduceMax; the gradient goes to the first maximal element of each reduced group.</summary>
    public static Variable ReduceMax(Variable x, int[]? axes = null, bool keepDims = true)
    {
        var y = Reduce.Max(x.Data, axes, keepDims);
        return Autograd.Record("ReduceMax", y, [x], g => [Reduce.MaxBackward(x.Data, y, g, axes, keepDims)]);
    }

    /// <summary>ONNX ReduceMin; the gradient goes to the first minimal element of each reduced group.</summary>
    public static Variable ReduceMin(Variable x, int[]? axes = null, bool keepDims = true)
    {
        var y = Reduce.Min(x.Data, axes, keepDims);
        return Autograd.Record("ReduceMin", y, [x], g => [Reduce.MinBackward(x.Data, y, g, axes, keepDims)]);
    }

    /// <summary>Mean squared error mean((prediction − target)²) as a rank-0 tensor; shapes broadcast.</summary>
    public static Variable MseLoss(Variable prediction, Variable target)
    {
        var d = Sub(prediction, target);
        return Mean(Mul(d, d), null, keepDims: false);
    }
}
