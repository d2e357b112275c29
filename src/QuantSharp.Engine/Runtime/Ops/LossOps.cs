using static QuantSharp.Engine.Runtime.InputRole;
using QuantSharp.Engine.Kernels;
using static QuantSharp.Engine.Runtime.Ops.Table;

namespace QuantSharp.Engine.Runtime.Ops;

/// <summary>
/// ONNX NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (forward only). Input [N, C] or [N, C, d₁…dₖ],
/// target [N] or [N, d₁…dₖ] (int32/int64 class indices), optional weight [C].
/// </summary>
/// <remarks>
/// Per element: lossᵢ = −w[tᵢ]·input[i, tᵢ] (0 where tᵢ = ignore_index). reduction "none" returns the per-element
/// losses shaped like the target, "sum" their sum, "mean" their sum divided by Σ w[tᵢ] over non-ignored elements.
/// SoftmaxCrossEntropyLoss applies LogSoftmax over axis 1 first and can return those log-probabilities as output 1.
/// </remarks>
internal static class LossOps
{
    public static void Register(OpRegistry r)
    {
        Add(r, "NegativeLogLikelihoodLoss", 12, n =>
        {
            var (reduction, ignore) = Attributes(n);
            return ((a, _) => [Nll(a.Float(0), a.Longs(1), a.Any(1).Shape, a.OptionalFloat(2), reduction, ignore, n)], null);
        });
        Add(r, "SoftmaxCrossEntropyLoss", 12, n =>
        {
            var (reduction, ignore) = Attributes(n);
            return ((a, _) =>
            {
                var x = a.Float(0);
                Check.AtLeast(n.OpType, "scores rank", x.Rank, 2);
                var logProb = Softmax.LogForward(x, 1);
                var loss = Nll(logProb, a.Longs(1), a.Any(1).Shape, a.OptionalFloat(2), reduction, ignore, n);
                return n.Outputs.Count > 1 ? [loss, logProb] : [loss];
            }, null);
        });
        Describe(r);
    }

    /// <summary>Schema facts: the labels and weights are settings.</summary>
    private static void Describe(OpRegistry r)
    {
        foreach (var op in new[] { "NegativeLogLikelihoodLoss", "SoftmaxCrossEntropyLoss" }) r.Describe(op).WithInputs(Data, Setting, Setting);
    }

    private static (string Reduction, long? Ignore) Attributes(Node n)
    {
        string reduction = n.GetString("reduction", "mean");
        if (reduction is not ("none" or "sum" or "mean"))
            throw new GraphException($"node {n.Label}: attribute 'reduction' expected none, sum or mean, got '{reduction}'");
        return (reduction, n.Attributes.ContainsKey("ignore_index") ? n.GetInt("ignore_index", 0) : null);
    }

    private static Tensor<float> Nll(Tensor<float> x, long[] target, int[] targetShape, Tensor<float>? weight, string reduction, long? ignore, Node n)
    {
        Check.AtLeast(n.OpType, "input rank", x.Rank, 2);
        int batch = x.Dims[0], classes = x.Dims[1], inner = 1;
        for (int i = 2; i < x.Rank; i++) inner *= x.Dims[i];
        var expected = new[] { batch }.Concat(x.Dims[2..].ToArray()).ToArray();
        Check.SameShape(n.OpType, "target", expected, targetShape);
        if (weight is not null) Check.SameShape(n.OpType, "weight", [classes], weight.Dims);
        var losses = new Tensor<float>(expected);
        double sum = 0, weightSum = 0;
        for (int b = 0; b < batch; b++)
            for (int j = 0; j < inner; j++)
            {
                int i = b * inner + j;
                long t = target[i];
                if (ignore == t) continue;
                if (t < 0 || t >= classes) throw new ShapeException($"{n.OpType}: argument 'target' expected class indices in [0, {classes - 1}], got {t} at {i}");
                float w = weight?.Data[t] ?? 1f;
                float l = -w * x.Data[(b * classes + (int)t) * inner + j];
                losses.Data[i] = l;
                sum += l;
                weightSum += w;
            }
        return reduction switch
        {
            "none" => losses,
            "sum" => Tensor.Scalar((float)sum),
            _ => Tensor.Scalar(weightSum == 0 ? 0f : (float)(sum / weightSum)),
        };
    }
}
