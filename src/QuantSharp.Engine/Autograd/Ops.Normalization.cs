using QuantSharp.Engine.Kernels;

namespace QuantSharp.Engine.Autograd;

public static partial class Ops
{
    /// <summary>
    /// Differentiable ONNX BatchNormalization on [N, C, spatial…]. Training mode normalizes with batch statistics and
    /// updates <paramref name="runningMean"/> / <paramref name="runningVar"/> in place (plain tensors, not differentiated);
    /// inference mode uses them as constants. Gradients flow to x, scale and bias (see <see cref="Kernels.BatchNorm.Backward"/>).
    /// </summary>
    /// <param name="momentum">ONNX momentum (weight of the old running value; PyTorch's momentum 0.1 is 0.9 here).</param>
    /// <param name="unbiasedRunningVariance">PyTorch's rule (true) or ONNX's (false) for the running variance; see <see cref="Kernels.BatchNorm"/>.</param>
    public static Variable BatchNorm(Variable x, Variable scale, Variable bias, Tensor<float> runningMean, Tensor<float> runningVar,
        bool training, float momentum = 0.9f, float eps = 1e-5f, bool unbiasedRunningVariance = true)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(scale);
        ArgumentNullException.ThrowIfNull(bias);
        var xd = x.Data;
        var sd = scale.Data;
        if (training)
        {
            var r = Kernels.BatchNorm.Training(xd, sd, bias.Data, runningMean, runningVar, momentum, eps, unbiasedRunningVariance);
            return Autograd.Record("BatchNormalization", r.Y, [x, scale, bias], g =>
            {
                var (gx, gs, gb) = Kernels.BatchNorm.Backward(xd, g, sd, r.SavedMean, r.SavedInvStd, training: true);
                return [gx, gs, gb];
            });
        }
        var y = Kernels.BatchNorm.Inference(xd, sd, bias.Data, runningMean, runningVar, eps);
        // Snapshot the constants: the running statistics may be updated in place by later training steps.
        var mean = runningMean.Clone();
        var inv = Kernels.BatchNorm.InverseStd(runningVar, eps);
        return Autograd.Record("BatchNormalization", y, [x, scale, bias], g =>
        {
            var (gx, gs, gb) = Kernels.BatchNorm.Backward(xd, g, sd, mean, inv, training: false);
            return [gx, gs, gb];
        });
    }

    /// <summary>
    /// Differentiable ONNX LayerNormalization (opset 17): axes [axis, rank) normalized per row, then
    /// <c>·scale + bias</c> (bias optional). See <see cref="Kernels.LayerNorm"/>.
    /// </summary>
    public static Variable LayerNorm(Variable x, Variable scale, Variable? bias = null, int axis = -1, float eps = 1e-5f)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(scale);
        var xd = x.Data;
        var sd = scale.Data;
        var r = Kernels.LayerNorm.Forward(xd, sd, bias?.Data, axis, eps);
        Variable[] inputs = bias is null ? [x, scale] : [x, scale, bias];
        return Autograd.Record("LayerNormalization", r.Y, inputs, g =>
        {
            var (gx, gs, gb) = Kernels.LayerNorm.Backward(xd, g, sd, r.Mean, r.InvStdDev, axis);
            return bias is null ? [gx, gs] : [gx, gs, gb];
        });
    }

    /// <summary>Differentiable ONNX InstanceNormalization on [N, C, spatial…] (see <see cref="Kernels.InstanceNorm"/>).</summary>
    public static Variable InstanceNorm(Variable x, Variable scale, Variable bias, float eps = 1e-5f)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(scale);
        ArgumentNullException.ThrowIfNull(bias);
        var xd = x.Data;
        var sd = scale.Data;
        var r = Kernels.InstanceNorm.Forward(xd, sd, bias.Data, eps);
        return Autograd.Record("InstanceNormalization", r.Y, [x, scale, bias], g =>
        {
            var (gx, gs, gb) = Kernels.InstanceNorm.Backward(xd, g, sd, r.Mean, r.InvStd);
            return [gx, gs, gb];
        });
    }
}
