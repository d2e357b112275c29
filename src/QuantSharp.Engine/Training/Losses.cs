namespace QuantSharp.Engine.Training;

/// <summary>How per-element losses are reduced to one number.</summary>
public enum Reduction
{
    /// <summary>Average over the batch (classification) or over all elements (regression).</summary>
    Mean,

    /// <summary>Sum.</summary>
    Sum,
}

/// <summary>A loss value and its gradient with respect to the loss function's input (same shape as that input).</summary>
/// <param name="Loss">The reduced loss.</param>
/// <param name="Gradient">d(loss)/d(input): feed it to <see cref="Runtime.Session.Backward"/> as the output gradient.</param>
public readonly record struct LossResult(float Loss, Tensor<float> Gradient);

/// <summary>
/// Loss functions as tensor functions returning the loss and its gradient with respect to the input, so a graph is
/// trained by feeding the gradient to <see cref="Runtime.Session.Backward"/>. Classification losses take [N, C] and N
/// labels; regression losses take two tensors of the same shape. Sums are accumulated in double.
/// </summary>
public static class Losses
{
    /// <summary>Default probability floor of <see cref="CrossEntropyFromProbabilities"/>.</summary>
    public const float ProbabilityEpsilon = 1e-12f;

    /// <summary>Cross-entropy from logits, through a numerically stable log-softmax.</summary>
    /// <remarks>ℓᵢ = log Σⱼ exp(xᵢⱼ − mᵢ) + mᵢ − xᵢ,yᵢ with mᵢ = maxⱼ xᵢⱼ; ∂ℓ/∂xᵢⱼ = (softmax(xᵢ)ⱼ − [j = yᵢ]) / N (mean).</remarks>
    public static LossResult CrossEntropy(Tensor<float> logits, ReadOnlySpan<int> labels, Reduction reduction = Reduction.Mean)
    {
        var (n, c) = Classes("CrossEntropy", logits, labels);
        var grad = new Tensor<float>(n, c);
        float scale = reduction == Reduction.Mean ? 1f / n : 1f;
        double total = 0;
        var x = logits.Data; var g = grad.Data;
        for (int i = 0; i < n; i++)
        {
            int row = i * c;
            float max = float.NegativeInfinity;
            for (int j = 0; j < c; j++) max = MathF.Max(max, x[row + j]);
            double sum = 0;
            for (int j = 0; j < c; j++) sum += Math.Exp(x[row + j] - max);
            double logSum = Math.Log(sum) + max;
            total += logSum - x[row + labels[i]];
            for (int j = 0; j < c; j++) g[row + j] = (float)Math.Exp(x[row + j] - logSum) * scale;
            g[row + labels[i]] -= scale;
        }
        return new LossResult(Reduce(total, n, reduction), grad);
    }

    /// <summary>
    /// Cross-entropy on probabilities (e.g. the output of a Softmax node): ℓᵢ = −log max(pᵢ,yᵢ, ε); the gradient is
    /// −1/(N·pᵢ,yᵢ) at the label where pᵢ,yᵢ ≥ ε (mean; −1/p for sum), and 0 elsewhere — including at a label whose
    /// probability is below the floor, where the loss is the constant −log ε (the exact derivative of the clamp, as in
    /// PyTorch's <c>clamp_min</c> and Keras' clipped categorical cross-entropy).
    /// </summary>
    /// <remarks>
    /// The floor keeps the loss finite when a probability is 0. Its gradient must be 0 there, not −1/ε: the output of a
    /// quantization simulation (an 8-bit Softmax output rounds every probability below half a step to exactly 0) would
    /// otherwise feed gradients of order 1/ε = 10¹² into quantization-aware training, which wreck Adam's second-moment
    /// estimates and stall or reverse the fine-tuning.
    /// </remarks>
    public static LossResult CrossEntropyFromProbabilities(Tensor<float> probabilities, ReadOnlySpan<int> labels,
        Reduction reduction = Reduction.Mean, float epsilon = ProbabilityEpsilon)
    {
        var (n, c) = Classes("CrossEntropyFromProbabilities", probabilities, labels);
        var grad = new Tensor<float>(n, c);
        float scale = reduction == Reduction.Mean ? 1f / n : 1f;
        double total = 0;
        for (int i = 0; i < n; i++)
        {
            int k = i * c + labels[i];
            float p = probabilities.Data[k];
            total -= Math.Log(MathF.Max(p, epsilon));
            grad.Data[k] = p >= epsilon ? -scale / p : 0f;
        }
        return new LossResult(Reduce(total, n, reduction), grad);
    }

    /// <summary>Negative log-likelihood on log-probabilities: ℓᵢ = −xᵢ,yᵢ; gradient −1/N at the label (mean).</summary>
    public static LossResult NegativeLogLikelihood(Tensor<float> logProbabilities, ReadOnlySpan<int> labels, Reduction reduction = Reduction.Mean)
    {
        var (n, c) = Classes("NegativeLogLikelihood", logProbabilities, labels);
        var grad = new Tensor<float>(n, c);
        float scale = reduction == Reduction.Mean ? 1f / n : 1f;
        double total = 0;
        for (int i = 0; i < n; i++)
        {
            int k = i * c + labels[i];
            total -= logProbabilities.Data[k];
            grad.Data[k] = -scale;
        }
        return new LossResult(Reduce(total, n, reduction), grad);
    }

    /// <summary>Mean squared error: ℓ = Σ(x − y)² / M (mean over all M elements); ∂ℓ/∂x = 2(x − y)/M.</summary>
    public static LossResult MeanSquaredError(Tensor<float> prediction, Tensor<float> target, Reduction reduction = Reduction.Mean)
    {
        Check.SameShape("MeanSquaredError", "target", prediction.Dims, target.Dims);
        int m = prediction.Length;
        var grad = new Tensor<float>(prediction.Shape);
        float scale = reduction == Reduction.Mean && m > 0 ? 2f / m : 2f;
        double total = 0;
        for (int i = 0; i < m; i++)
        {
            float d = prediction.Data[i] - target.Data[i];
            total += (double)d * d;
            grad.Data[i] = d * scale;
        }
        return new LossResult(Reduce(total, m, reduction), grad);
    }

    /// <summary>Mean absolute error: ℓ = Σ|x − y| / M; ∂ℓ/∂x = sign(x − y)/M (0 where x = y, as PyTorch).</summary>
    public static LossResult L1(Tensor<float> prediction, Tensor<float> target, Reduction reduction = Reduction.Mean)
    {
        Check.SameShape("L1", "target", prediction.Dims, target.Dims);
        int m = prediction.Length;
        var grad = new Tensor<float>(prediction.Shape);
        float scale = reduction == Reduction.Mean && m > 0 ? 1f / m : 1f;
        double total = 0;
        for (int i = 0; i < m; i++)
        {
            float d = prediction.Data[i] - target.Data[i];
            total += Math.Abs(d);
            grad.Data[i] = MathF.Sign(d) * scale;
        }
        return new LossResult(Reduce(total, m, reduction), grad);
    }

    private static float Reduce(double total, int count, Reduction reduction) =>
        (float)(reduction == Reduction.Mean ? (count == 0 ? 0 : total / count) : total);

    private static (int N, int C) Classes(string op, Tensor<float> x, ReadOnlySpan<int> labels)
    {
        Check.Rank(op, "input", x.Dims, 2);
        int n = x.Dims[0], c = x.Dims[1];
        Check.That(labels.Length == n, op, "labels", $"{n} labels (one per row of input {Shapes.Format(x.Dims)})", $"{labels.Length}");
        for (int i = 0; i < n; i++)
            if ((uint)labels[i] >= (uint)c)
                throw new ShapeException($"{op}: argument 'labels' expected class indices in [0, {c - 1}], got {labels[i]} at {i}");
        return (n, c);
    }
}
