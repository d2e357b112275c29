using QuantSharp.Engine;
using QuantSharp.Quantization.Zoo;

namespace QuantSharp.Bench;

/// <summary>
/// The networks <see cref="OrtCompareBenchmarks"/> times, with random weights and any square input size: ResNet-18 and
/// MobileNetV2 from the zoo (their fixed 224×224 input declaration relaxed), and torchvision-architecture EfficientNet-B0,
/// MobileNetV3-small and a ConvNeXt block stack, plus a 6-layer BERT encoder (hidden 768, 12 heads, FFN 3072, post-LN),
/// built here as PyTorch exports them (SiLU as Sigmoid·Mul, GELU as the Erf formula, ReLU6 as Clip).
/// </summary>
internal static class CompareModels
{
    /// <summary>The CNN names, in report order.</summary>
    public static readonly string[] Cnns = ["resnet18", "mobilenetv2", "efficientnet_b0", "mobilenetv3_small", "convnext"];

    /// <summary>BERT's sequence length.</summary>
    public const int Sequence = 128;

    /// <summary>Builds <paramref name="name"/> for <paramref name="size"/>×<paramref name="size"/> images (ignored by BERT).</summary>
    public static Graph Build(string name, int size) => name switch
    {
        "resnet18" => Relax(ResNet18.Build(seed: 1), size),
        "mobilenetv2" => Relax(MobileNetV2.Build(seed: 1), size),
        "efficientnet_b0" => EfficientNetB0(size),
        "mobilenetv3_small" => MobileNetV3Small(size),
        "convnext" => ConvNeXt(size),
        "bert6" => Bert(6),
        _ => throw new ArgumentException($"unknown model '{name}'"),
    };

    private static Graph Relax(Graph g, int size)
    {
        g.Inputs[0].Shape = [Dim.Symbolic("batch"), Dim.Fixed(3), Dim.Fixed(size), Dim.Fixed(size)];
        return g;
    }

    private sealed class Net(string name, int size, int seed, long opset = 13)
    {
        public readonly GraphBuilder B = new(name, opset);
        public readonly Random Rng = new(seed);
        private int _id;

        public Value Image() => B.Input("input", DataType.Float32, Dim.Symbolic("batch"), Dim.Fixed(3), Dim.Fixed(size), Dim.Fixed(size));

        public string Id(string p) => $"{p}.{_id++}";

        public Value W(string p, float std, params int[] shape) => B.Initializer(Id(p), Tensor.RandomNormal(Rng, 0f, std, shape));

        public Value Const(float v) => B.Initializer(Id("c"), Tensor.FromArray(new[] { v }));

        public Value Conv(Value x, int inC, int outC, int k, int stride = 1, int group = 1, bool bias = false, int? pad = null)
        {
            float std = MathF.Sqrt(2f / (outC * k * k / group));
            var w = W("conv.weight", std, outC, inC / group, k, k);
            Value? b = bias ? W("conv.bias", 0.05f, outC) : null;
            int p = pad ?? (k - 1) / 2;
            return B.Conv(x, w, b, [stride, stride], [p, p, p, p], null, group);
        }

        public Value Bn(Value x, int c)
        {
            string p = Id("bn");
            var g = B.Initializer(p + ".weight", Tensor.RandomUniform(Rng, 0.5f, 1.5f, c));
            var be = B.Initializer(p + ".bias", Tensor.RandomUniform(Rng, -0.2f, 0.2f, c));
            var m = B.Initializer(p + ".mean", Tensor.RandomUniform(Rng, -0.2f, 0.2f, c));
            var v = B.Initializer(p + ".var", Tensor.RandomUniform(Rng, 0.5f, 1.5f, c));
            return B.BatchNormalization(x, g, be, m, v);
        }

        public Value Silu(Value x) => B.Mul(x, B.Sigmoid(x));

        public Value HardSigmoid(Value x) =>
            B.Op1("HardSigmoid", [x], null, ("alpha", AttributeValue.FromFloat(1f / 6)), ("beta", AttributeValue.FromFloat(0.5f)));

        public Value Gelu(Value x) =>
            B.Mul(B.Mul(x, B.Add(B.Op1("Erf", [B.Div(x, Const(MathF.Sqrt(2f)))]), Const(1f))), Const(0.5f));

        public Value LayerNorm(Value x, int c)
        {
            var g = B.Initializer(Id("ln.weight"), Tensor.RandomUniform(Rng, 0.8f, 1.2f, c));
            var b = B.Initializer(Id("ln.bias"), Tensor.RandomUniform(Rng, -0.1f, 0.1f, c));
            return B.Op1("LayerNormalization", [x, g, b], null, ("axis", AttributeValue.FromInt(-1)), ("epsilon", AttributeValue.FromFloat(1e-6f)));
        }

        /// <summary>x·W + b over the last axis (MatMul + Add, as PyTorch exports nn.Linear on a rank-3+ input).</summary>
        public Value Linear(Value x, int inF, int outF) =>
            B.Add(B.MatMul(x, W("linear.weight", MathF.Sqrt(1f / inF), inF, outF)), W("linear.bias", 0.02f, outF));

        /// <summary>Flattened classifier (Gemm, transB).</summary>
        public Value Classifier(Value x, int inF, int outF) =>
            B.Gemm(x, W("fc.weight", 0.01f, outF, inF), W("fc.bias", 0.01f, outF), transB: true);

        public Graph Finish(Value y)
        {
            B.Output(y, name: "output");
            return B.Build();
        }
    }

    private static int Divisible(double v, int d = 8)
    {
        int r = Math.Max(d, (int)(v + d / 2.0) / d * d);
        return r < 0.9 * v ? r + d : r;
    }

    private static Graph EfficientNetB0(int size)
    {
        var n = new Net("efficientnet_b0", size, 11);
        var b = n.B;
        var h = n.Silu(n.Bn(n.Conv(n.Image(), 3, 32, 3, 2), 32));
        (int E, int K, int S, int In, int Out, int L)[] stages =
            [(1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3), (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1)];
        foreach (var (e, k, s, inC0, outC, layers) in stages)
            for (int i = 0; i < layers; i++)
            {
                int inC = i == 0 ? inC0 : outC, stride = i == 0 ? s : 1, hidden = inC * e;
                var input = h;
                if (e != 1) h = n.Silu(n.Bn(n.Conv(h, inC, hidden, 1), hidden));
                h = n.Silu(n.Bn(n.Conv(h, hidden, hidden, k, stride, hidden), hidden));
                int squeeze = Math.Max(1, inC / 4);
                var se = n.Silu(n.Conv(b.GlobalAveragePool(h), hidden, squeeze, 1, bias: true));
                h = b.Mul(h, b.Sigmoid(n.Conv(se, squeeze, hidden, 1, bias: true)));
                h = n.Bn(n.Conv(h, hidden, outC, 1), outC);
                if (stride == 1 && inC == outC) h = b.Add(input, h);
            }
        h = n.Silu(n.Bn(n.Conv(h, 320, 1280, 1), 1280));
        return n.Finish(n.Classifier(b.Flatten(b.GlobalAveragePool(h)), 1280, 1000));
    }

    private static Graph MobileNetV3Small(int size)
    {
        var n = new Net("mobilenetv3_small", size, 12, opset: 14); // HardSwish is opset 14
        var b = n.B;
        Value Act(Value x, bool hs) => hs ? b.HardSwish(x) : b.Relu(x);
        var h = b.HardSwish(n.Bn(n.Conv(n.Image(), 3, 16, 3, 2), 16));
        (int In, int K, int Exp, int Out, bool Se, bool Hs, int S)[] blocks =
        [
            (16, 3, 16, 16, true, false, 2), (16, 3, 72, 24, false, false, 2), (24, 3, 88, 24, false, false, 1),
            (24, 5, 96, 40, true, true, 2), (40, 5, 240, 40, true, true, 1), (40, 5, 240, 40, true, true, 1),
            (40, 5, 120, 48, true, true, 1), (48, 5, 144, 48, true, true, 1), (48, 5, 288, 96, true, true, 2),
            (96, 5, 576, 96, true, true, 1), (96, 5, 576, 96, true, true, 1),
        ];
        foreach (var (inC, k, exp, outC, se, hs, s) in blocks)
        {
            var input = h;
            if (exp != inC) h = Act(n.Bn(n.Conv(h, inC, exp, 1), exp), hs);
            h = Act(n.Bn(n.Conv(h, exp, exp, k, s, exp), exp), hs);
            if (se)
            {
                int squeeze = Divisible(exp / 4.0);
                var z = b.Relu(n.Conv(b.GlobalAveragePool(h), exp, squeeze, 1, bias: true));
                h = b.Mul(h, n.HardSigmoid(n.Conv(z, squeeze, exp, 1, bias: true)));
            }
            h = n.Bn(n.Conv(h, exp, outC, 1), outC);
            if (s == 1 && inC == outC) h = b.Add(input, h);
        }
        h = b.HardSwish(n.Bn(n.Conv(h, 96, 576, 1), 576));
        h = b.HardSwish(n.Classifier(b.Flatten(b.GlobalAveragePool(h)), 576, 1024));
        return n.Finish(n.Classifier(h, 1024, 1000));
    }

    /// <summary>
    /// ConvNeXt-T's four stages at reduced depth (2, 2, 4, 2 blocks of 96, 192, 384, 768 channels): patchify stem 4×4/4 +
    /// LayerNorm, blocks of depthwise 7×7 → NHWC → LayerNorm → Linear ×4 → GELU → Linear → layer scale → NCHW → residual
    /// Add, LayerNorm + 2×2/2 conv downsampling between stages.
    /// </summary>
    private static Graph ConvNeXt(int size)
    {
        var n = new Net("convnext", size, 13, opset: 17);
        var b = n.B;
        int[] dims = [96, 192, 384, 768], depths = [2, 2, 4, 2];
        Value ChannelNorm(Value x, int c) => b.Transpose(n.LayerNorm(b.Transpose(x, [0, 2, 3, 1]), c), [0, 3, 1, 2]);
        var h = ChannelNorm(n.Conv(n.Image(), 3, dims[0], 4, 4, bias: true, pad: 0), dims[0]);
        for (int s = 0; s < dims.Length; s++)
        {
            int c = dims[s];
            if (s > 0) h = n.Conv(ChannelNorm(h, dims[s - 1]), dims[s - 1], c, 2, 2, bias: true, pad: 0);
            for (int i = 0; i < depths[s]; i++)
            {
                var input = h;
                var t = b.Transpose(n.Conv(h, c, c, 7, 1, c, bias: true), [0, 2, 3, 1]);
                t = n.Linear(n.Gelu(n.Linear(n.LayerNorm(t, c), c, 4 * c)), 4 * c, c);
                t = b.Mul(t, b.Initializer(n.Id("gamma"), Tensor.Full(0.1f, c)));
                h = b.Add(input, b.Transpose(t, [0, 3, 1, 2]));
            }
        }
        h = n.LayerNorm(b.Flatten(b.GlobalAveragePool(h)), dims[^1]);
        return n.Finish(n.Classifier(h, dims[^1], 1000));
    }

    /// <summary>BERT-base layers (hidden 768, 12 heads of 64, FFN 3072, post-LayerNorm) over an embedded input [N, 128, 768].</summary>
    private static Graph Bert(int layers)
    {
        const int hidden = 768, heads = 12, head = 64, ffn = 3072;
        var n = new Net("bert6", 0, 14, opset: 17);
        var b = n.B;
        var h = b.Input("input", DataType.Float32, Dim.Symbolic("batch"), Dim.Fixed(Sequence), Dim.Fixed(hidden));
        Value Heads(Value x, int[] perm) => b.Transpose(b.Reshape(x, [0, Sequence, heads, head]), perm);
        for (int l = 0; l < layers; l++)
        {
            var q = Heads(n.Linear(h, hidden, hidden), [0, 2, 1, 3]);
            var k = Heads(n.Linear(h, hidden, hidden), [0, 2, 3, 1]);
            var v = Heads(n.Linear(h, hidden, hidden), [0, 2, 1, 3]);
            var p = b.Softmax(b.Div(b.MatMul(q, k), n.Const(MathF.Sqrt(head))), axis: -1);
            var ctx = b.Reshape(b.Transpose(b.MatMul(p, v), [0, 2, 1, 3]), [0, Sequence, hidden]);
            h = n.LayerNorm(b.Add(h, n.Linear(ctx, hidden, hidden)), hidden);
            h = n.LayerNorm(b.Add(h, n.Linear(n.Gelu(n.Linear(h, hidden, ffn)), ffn, hidden)), hidden);
        }
        return n.Finish(h);
    }
}
