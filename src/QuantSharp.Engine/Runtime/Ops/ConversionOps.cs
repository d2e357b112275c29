using static QuantSharp.Engine.Runtime.Ops.Table;

namespace QuantSharp.Engine.Runtime.Ops;

/// <summary>ONNX <c>CastLike</c>: <c>Cast</c> to the element type of a second input (whose values are ignored).</summary>
internal static class ConversionOps
{
    public static void Register(OpRegistry r)
    {
        Add(r, "CastLike", 15, n => (
            (a, _) => [TensorOps.Cast(a.Any(0), a.Any(1).DataType)],
            (a, y, g, _) => [a.Any(0) is Tensor<float> && g[0] is Tensor<float> gy ? gy : null, null]));
    }
}
