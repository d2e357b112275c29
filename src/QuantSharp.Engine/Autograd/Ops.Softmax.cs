using QuantSharp.Engine.Kernels;

namespace QuantSharp.Engine.Autograd;

public static partial class Ops
{
    /// <summary>ONNX Softmax along <paramref name="axis"/> (default −1).</summary>
    public static Variable Softmax(Variable x, int axis = -1)
    {
        var y = Kernels.Softmax.Forward(x.Data, axis);
        return Autograd.Record("Softmax", y, [x], g => [Kernels.Softmax.Backward(y, g, axis)]);
    }

    /// <summary>ONNX LogSoftmax along <paramref name="axis"/> (default −1).</summary>
    public static Variable LogSoftmax(Variable x, int axis = -1)
    {
        var y = Kernels.Softmax.LogForward(x.Data, axis);
        return Autograd.Record("LogSoftmax", y, [x], g => [Kernels.Softmax.LogBackward(y, g, axis)]);
    }

    /// <summary>
    /// Cross-entropy of logits [N, C] against integer class labels (length N): the rank-0 mean over rows of
    /// −log softmax(logits)[n, labels[n]]. Backward: (softmax − onehot)/N, via the LogSoftmax backward kernel.
    /// </summary>
    public static Variable CrossEntropy(Variable logits, int[] labels)
    {
        const string op = "CrossEntropy";
        Check.Rank(op, "logits", logits.Data.Dims, 2);
        int n = logits.Data.Dims[0], c = logits.Data.Dims[1];
        Check.That(labels.Length == n, op, "labels", $"{n} labels (one per row of logits {Shapes.Format(logits.Data.Dims)})", $"{labels.Length}");
        for (int i = 0; i < n; i++)
            Check.That((uint)labels[i] < (uint)c, op, "labels", $"class indices in [0, {c - 1}]", $"{labels[i]} at position {i}");
        var logp = Kernels.Softmax.LogForward(logits.Data, 1);
        double sum = 0;
        for (int i = 0; i < n; i++) sum -= logp.Data[i * c + labels[i]];
        var loss = Tensor.Scalar((float)(n == 0 ? 0 : sum / n));
        return Autograd.Record(op, loss, [logits], g =>
        {
            var gl = new Tensor<float>(logp.Dims);
            float s = n == 0 ? 0f : -g.Data[0] / n;
            for (int i = 0; i < n; i++) gl.Data[i * c + labels[i]] = s;
            return [Kernels.Softmax.LogBackward(logp, gl, 1)];
        });
    }
}
