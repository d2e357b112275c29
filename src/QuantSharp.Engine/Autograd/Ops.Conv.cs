using QuantSharp.Engine.Kernels;
using ConvKernels = QuantSharp.Engine.Kernels.Conv;

namespace QuantSharp.Engine.Autograd;

/// <summary>Differentiable ops on <see cref="Variable"/>s; each family lives in its own file.</summary>
public static partial class Ops
{
    /// <summary>
    /// ONNX <c>Conv</c>: input [N, C, in…], weight [M, C/group, k…], optional bias [M] → [N, M, out…].
    /// </summary>
    /// <remarks>
    /// <c>y[n, m, o] = b[m] + Σ_{c ∈ group(m), k} w[m, c, k] · x[n, c, o·s − pBegin + k·d]</c>.
    /// Gradients: <see cref="ConvKernels.BackwardData"/>, <see cref="ConvKernels.BackwardWeight"/>, <see cref="ConvKernels.BackwardBias"/>.
    /// </remarks>
    public static Variable Conv(Variable x, Variable w, Variable? b, ConvParams p)
    {
        var y = ConvKernels.Forward(x.Data, w.Data, b?.Data, p);
        Variable[] inputs = b is null ? [x, w] : [x, w, b];
        return Autograd.Record("Conv", y, inputs, gy =>
        {
            var gx = x.RequiresGrad ? ConvKernels.BackwardData(gy, w.Data, x.Data.Dims, p) : null;
            var gw = w.RequiresGrad ? ConvKernels.BackwardWeight(x.Data, gy, w.Data.Dims, p) : null;
            if (b is null) return [gx, gw];
            return [gx, gw, b.RequiresGrad ? ConvKernels.BackwardBias(gy) : null];
        });
    }

    /// <summary>
    /// ONNX <c>ConvTranspose</c>: input [N, C, in…], weight [C, M/group, k…], optional bias [M] → [N, M, out…] with
    /// out = stride·(in − 1) + outputPadding + (k − 1)·dilation + 1 − padBegin − padEnd.
    /// </summary>
    /// <remarks>
    /// The forward is Conv backward-data; the input gradient is a Conv forward of the output gradient and the weight
    /// gradient is Conv backward-weight with input and output gradient swapped (<see cref="ConvKernels.TransposeBackwardData"/>,
    /// <see cref="ConvKernels.TransposeBackwardWeight"/>).
    /// </remarks>
    public static Variable ConvTranspose(Variable x, Variable w, Variable? b, ConvParams p, int[]? outputPadding = null)
    {
        var y = ConvKernels.Transpose(x.Data, w.Data, b?.Data, p, outputPadding);
        Variable[] inputs = b is null ? [x, w] : [x, w, b];
        return Autograd.Record("ConvTranspose", y, inputs, gy =>
        {
            var gx = x.RequiresGrad ? ConvKernels.TransposeBackwardData(gy, w.Data, x.Data.Dims, p, outputPadding) : null;
            var gw = w.RequiresGrad ? ConvKernels.TransposeBackwardWeight(x.Data, gy, w.Data.Dims, p, outputPadding) : null;
            if (b is null) return [gx, gw];
            return [gx, gw, b.RequiresGrad ? ConvKernels.BackwardBias(gy) : null];
        });
    }
}
