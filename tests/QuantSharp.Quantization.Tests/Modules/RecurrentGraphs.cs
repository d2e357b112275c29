using QuantSharp.Engine;

namespace QuantSharp.Quantization.Tests.Modules;

/// <summary>Small recurrent models for the quant-module tests: an LSTM sequence classifier and its cell-by-cell form.</summary>
internal static class RecurrentGraphs
{
    public const int Input = 2, Hidden = 6, Steps = 4, Classes = 2;

    private static Tensor<float> U(int seed, float bound, params int[] shape) => Tensor.RandomUniform(new Random(seed), -bound, bound, shape);

    private static readonly float Bound = 1f / MathF.Sqrt(Hidden);

    /// <summary>
    /// x [Steps, N, Input] and h0 [1, N, Hidden] → LSTM "lstm" (W, R, B; no initial_c) → Y_h reshaped to [N, Hidden] →
    /// Gemm "head" → y [N, Classes].
    /// </summary>
    public static Graph SequenceClassifier()
    {
        var b = new GraphBuilder("lstm_classifier");
        var x = b.Input("x", DataType.Float32, Dim.Fixed(Steps), Dim.Symbolic("N"), Dim.Fixed(Input));
        var h0 = b.Input("h0", DataType.Float32, Dim.Fixed(1), Dim.Symbolic("N"), Dim.Fixed(Hidden));
        var outs = b.Op("LSTM", [x, b.Initializer("W", U(1, Bound, 1, 4 * Hidden, Input)), b.Initializer("R", U(2, Bound, 1, 4 * Hidden, Hidden)),
            b.Initializer("B", U(3, Bound, 1, 8 * Hidden)), null, h0], 2, "lstm", "", ("hidden_size", AttributeValue.FromInt(Hidden)));
        var last = b.Reshape(outs[1], [-1, Hidden], "last");
        b.Output(Head(b, last), name: "y");
        return b.Build();
    }

    /// <summary>
    /// The same model unrolled into <see cref="GraphBuilder.LstmCell"/> steps "cell0" … sharing W, R and B: inputs
    /// x0 … [N, Input], h0 and c0 [N, Hidden]; the last h → Gemm "head" → y [N, Classes].
    /// </summary>
    public static Graph UnrolledCells(int steps = Steps)
    {
        var b = new GraphBuilder("lstm_cells");
        Value h = b.Input("h0", DataType.Float32, Dim.Symbolic("N"), Dim.Fixed(Hidden));
        Value c = b.Input("c0", DataType.Float32, Dim.Symbolic("N"), Dim.Fixed(Hidden));
        Value w = b.Initializer("W", U(1, Bound, 1, 4 * Hidden, Input)), r = b.Initializer("R", U(2, Bound, 1, 4 * Hidden, Hidden)),
            bias = b.Initializer("B", U(3, Bound, 1, 8 * Hidden));
        for (int t = 0; t < steps; t++)
            (h, c) = b.LstmCell(b.Input($"x{t}", DataType.Float32, Dim.Symbolic("N"), Dim.Fixed(Input)), h, c, w, r, bias, Hidden, $"cell{t}");
        b.Output(Head(b, h), name: "y");
        return b.Build();
    }

    private static Value Head(GraphBuilder b, Value h) =>
        b.Gemm(h, b.Initializer("head.w", U(4, 1f / MathF.Sqrt(Hidden), Classes, Hidden)), b.Initializer("head.b", U(5, 0.1f, Classes)), transB: true, name: "head");

    /// <summary>A batch of the task: the label says whether feature 0 summed over the steps is positive.</summary>
    public static (Tensor<float> X, Tensor<float> H0, int[] Labels) Batch(int n, int seed)
    {
        var x = Tensor.RandomUniform(new Random(seed), -1f, 1f, Steps, n, Input);
        var labels = new int[n];
        for (int i = 0; i < n; i++)
        {
            float s = 0;
            for (int t = 0; t < Steps; t++) s += x.Data[(t * n + i) * Input];
            labels[i] = s > 0 ? 1 : 0;
        }
        return (x, Tensor.RandomUniform(new Random(seed + 1000), -0.5f, 0.5f, 1, n, Hidden), labels);
    }

    /// <summary>Feeds of <see cref="SequenceClassifier"/>.</summary>
    public static Dictionary<string, Tensor> SequenceFeeds(Tensor<float> x, Tensor<float> h0) => new() { ["x"] = x, ["h0"] = h0 };

    /// <summary>Feeds of <see cref="UnrolledCells"/> from the same batch: step t of x, h0 without its direction axis, c0 zeros.</summary>
    public static Dictionary<string, Tensor> CellFeeds(Tensor<float> x, Tensor<float> h0)
    {
        int n = x.Shape[1];
        var feeds = new Dictionary<string, Tensor> { ["h0"] = new Tensor<float>(h0.Data, n, Hidden), ["c0"] = new Tensor<float>(n, Hidden) };
        for (int t = 0; t < x.Shape[0]; t++) feeds[$"x{t}"] = new Tensor<float>(x.Data.AsSpan(t * n * Input, n * Input).ToArray(), n, Input);
        return feeds;
    }
}
