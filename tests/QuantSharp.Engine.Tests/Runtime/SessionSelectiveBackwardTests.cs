using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;
using QuantSharp.Engine.Runtime;

namespace QuantSharp.Engine.Tests.Runtime;

public class SessionSelectiveBackwardTests
{
    // y = x * w (elementwise), recording which input gradients the session asked for.
    private sealed class RecordingMul(Node node, List<bool[]> seen) : OpKernel(node)
    {
        public override Tensor[] Forward(Tensor?[] inputs, bool training)
        {
            var a = Input<float>(inputs, 0, "A"); var b = Input<float>(inputs, 1, "B");
            var y = new Tensor<float>(a.Dims);
            for (int i = 0; i < y.Length; i++) y.Data[i] = a.Data[i] * b.Data[i];
            return [y];
        }
        public override bool HasGradient => true;
        public override Tensor?[] Backward(Tensor?[] inputs, Tensor[] outputs, Tensor?[] g, bool training) =>
            Backward(inputs, outputs, g, training, [true, true], HeapAllocator.Instance);
        public override Tensor?[] Backward(Tensor?[] inputs, Tensor[] outputs, Tensor?[] g, bool training, bool[] needed, ITensorAllocator allocator)
        {
            seen.Add((bool[])needed.Clone());
            var a = (Tensor<float>)inputs[0]!; var b = (Tensor<float>)inputs[1]!; var gy = (Tensor<float>)g[0]!;
            Tensor<float>? ga = null, gb = null;
            if (needed[0]) { ga = new Tensor<float>(a.Dims); for (int i = 0; i < gy.Length; i++) ga.Data[i] = gy.Data[i] * b.Data[i]; }
            if (needed[1]) { gb = new Tensor<float>(b.Dims); for (int i = 0; i < gy.Length; i++) gb.Data[i] = gy.Data[i] * a.Data[i]; }
            return [ga, gb];
        }
    }

    // h = x * w1 ; z = h * w2 ; k = x * c where c is a graph input too (a side branch feeding output "k").
    private static (Session Session, List<bool[]> Seen) Build()
    {
        var seen = new List<bool[]>();
        var registry = new OpRegistry().Register("Mul", 1, (n, _) => new RecordingMul(n, seen), "test");
        var g = new Engine.Graph { Name = "m" };
        g.Opsets["test"] = 1;
        g.Inputs.Add(new ValueInfo("x", DataType.Float32, [Dim.Fixed(2)]));
        g.Initializers["w1"] = Tensor.FromArray([2f, 3f], 2);
        g.Initializers["w2"] = Tensor.FromArray([5f, 7f], 2);
        g.Nodes.Add(new Node("Mul", ["x", "w1"], ["h"], "first", "test"));
        g.Nodes.Add(new Node("Mul", ["h", "w2"], ["z"], "second", "test"));
        g.Outputs.Add(new ValueInfo("z", DataType.Float32, (IEnumerable<Dim>?)null));
        return (new Session(g, registry), seen);
    }

    [Fact]
    public void Backward_WithoutInputGradients_SkipsTheGraphInputsGradientAndTellsTheKernel()
    {
        var (s, seen) = Build();
        var run = s.Run(new Dictionary<string, Tensor> { ["x"] = Tensor.FromArray([1f, -1f], 2) }, new RunOptions { KeepForBackward = true });
        var grads = s.Backward(run, new Dictionary<string, Tensor<float>> { ["z"] = Tensor.Ones(2) }, inputGradients: false);
        Assert.False(grads.ContainsKey("x"));
        Assert.Equal([5f, -7f], grads["w1"].Data); // dz/dw1 = x·w2
        Assert.Equal([2f, -3f], grads["w2"].Data); // dz/dw2 = x·w1
        // Backward runs "second" then "first": h needs a gradient (w1 is upstream), x does not.
        Assert.Equal([true, true], seen[0]);
        Assert.Equal([false, true], seen[1]);
    }

    [Fact]
    public void Backward_ByDefault_StillGivesGraphInputGradients()
    {
        var (s, seen) = Build();
        var run = s.Run(new Dictionary<string, Tensor> { ["x"] = Tensor.FromArray([1f, -1f], 2) }, new RunOptions { KeepForBackward = true });
        var grads = s.Backward(run, new Dictionary<string, Tensor<float>> { ["z"] = Tensor.Ones(2) });
        Assert.Equal([10f, 21f], grads["x"].Data); // dz/dx = w1·w2
        Assert.Equal([true, true], seen[1]);
    }

    [Fact]
    public void Backward_NodeWithNoGradientNeededUpstream_IsNotRun()
    {
        var seen = new List<bool[]>();
        var registry = new OpRegistry().Register("Mul", 1, (n, _) => new RecordingMul(n, seen), "test");
        var g = new Engine.Graph { Name = "m" };
        g.Opsets["test"] = 1;
        g.Inputs.Add(new ValueInfo("x", DataType.Float32, [Dim.Fixed(2)]));
        g.Inputs.Add(new ValueInfo("c", DataType.Float32, [Dim.Fixed(2)]));
        g.Initializers["w"] = Tensor.FromArray([2f, 3f], 2);
        g.Nodes.Add(new Node("Mul", ["x", "c"], ["h"], "inputsOnly", "test"));
        g.Nodes.Add(new Node("Mul", ["h", "w"], ["z"], "weighted", "test"));
        g.Outputs.Add(new ValueInfo("z", DataType.Float32, (IEnumerable<Dim>?)null));
        var s = new Session(g, registry);
        var feeds = new Dictionary<string, Tensor> { ["x"] = Tensor.FromArray([1f, 2f], 2), ["c"] = Tensor.FromArray([3f, 4f], 2) };
        var run = s.Run(feeds, new RunOptions { KeepForBackward = true });
        var grads = s.Backward(run, new Dictionary<string, Tensor<float>> { ["z"] = Tensor.Ones(2) }, inputGradients: false);
        Assert.Single(seen); // only "weighted" ran backward
        Assert.Equal([false, true], seen[0]);
        Assert.Equal([3f, 8f], grads["w"].Data);
        Assert.Single(grads);
    }

    [Fact]
    public void ConvGemmGraph_WeightGradientsAgree_WithAndWithoutInputGradients()
    {
        var g = new Engine.Graph { Name = "cg" };
        g.Inputs.Add(new ValueInfo("x", DataType.Float32, [Dim.Fixed(3), Dim.Fixed(2), Dim.Fixed(5), Dim.Fixed(5)]));
        var rng = new Random(3);
        g.Initializers["w"] = Tensor.RandomNormal(rng, 0, 0.5f, 4, 2, 3, 3);
        g.Initializers["b"] = Tensor.RandomNormal(rng, 0, 0.5f, 4);
        g.Initializers["fw"] = Tensor.RandomNormal(rng, 0, 0.5f, 3, 16);
        g.Nodes.Add(new Node("Conv", ["x", "w", "b"], ["c"], "conv").With("strides", AttributeValue.FromInts(2L, 2L)));
        g.Nodes.Add(new Node("Flatten", ["c"], ["f"], "flat"));
        g.Nodes.Add(new Node("Gemm", ["f", "fw"], ["y"], "fc").With("transB", AttributeValue.FromInt(1)));
        g.Outputs.Add(new ValueInfo("y", DataType.Float32, (IEnumerable<Dim>?)null));
        var s = new Session(g);
        var feeds = new Dictionary<string, Tensor> { ["x"] = Tensor.RandomNormal(rng, 0, 1, 3, 2, 5, 5) };
        var seed = new Dictionary<string, Tensor<float>> { ["y"] = (Tensor<float>)Tensor.RandomNormal(rng, 0, 1, 3, 3) };
        var all = s.Backward(s.Run(feeds, new RunOptions { KeepForBackward = true }), seed);
        var weights = s.Backward(s.Run(feeds, new RunOptions { KeepForBackward = true }), seed, inputGradients: false);
        Assert.True(all.ContainsKey("x"));
        Assert.False(weights.ContainsKey("x"));
        foreach (var name in new[] { "w", "b", "fw" }) Assert.Equal(all[name].Data, weights[name].Data);
    }
}
