using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;

namespace QuantSharp.Engine.Tests.Runtime;

public class SessionTests
{
    // Two tiny ops local to the test, so the session machinery is tested apart from the op table.
    private sealed class ScaleKernel(Node node) : OpKernel(node)
    {
        private readonly float _alpha = node.GetFloat("alpha", 1f);
        public override Tensor[] Forward(Tensor?[] inputs, bool training)
        {
            var x = Input<float>(inputs, 0, "X");
            var y = new Tensor<float>(x.Dims);
            for (int i = 0; i < y.Length; i++) y.Data[i] = _alpha * x.Data[i];
            return [y];
        }
        public override bool HasGradient => true;
        public override Tensor?[] Backward(Tensor?[] inputs, Tensor[] outputs, Tensor?[] g, bool training)
        {
            var gy = (Tensor<float>)g[0]!;
            var gx = new Tensor<float>(gy.Dims);
            for (int i = 0; i < gx.Length; i++) gx.Data[i] = _alpha * gy.Data[i];
            return [gx];
        }
    }

    private sealed class MulKernel(Node node) : OpKernel(node)
    {
        public override Tensor[] Forward(Tensor?[] inputs, bool training)
        {
            var a = Input<float>(inputs, 0, "A");
            var b = Input<float>(inputs, 1, "B");
            Check.SameShape("TestMul", "B", a.Dims, b.Dims);
            var y = new Tensor<float>(a.Dims);
            for (int i = 0; i < y.Length; i++) y.Data[i] = a.Data[i] * b.Data[i];
            return [y];
        }
        public override bool HasGradient => true;
        public override Tensor?[] Backward(Tensor?[] inputs, Tensor[] outputs, Tensor?[] g, bool training)
        {
            var a = (Tensor<float>)inputs[0]!; var b = (Tensor<float>)inputs[1]!; var gy = (Tensor<float>)g[0]!;
            var ga = new Tensor<float>(a.Dims); var gb = new Tensor<float>(b.Dims);
            for (int i = 0; i < gy.Length; i++) { ga.Data[i] = gy.Data[i] * b.Data[i]; gb.Data[i] = gy.Data[i] * a.Data[i]; }
            return [ga, gb];
        }
    }

    private sealed class NoGradKernel(Node node) : OpKernel(node)
    {
        public override Tensor[] Forward(Tensor?[] inputs, bool training) => [Required(inputs, 0, "X")];
    }

    private static OpRegistry Registry() => new OpRegistry()
        .Register("Scale", 1, (n, _) => new ScaleKernel(n), "test")
        .Register("Mul", 1, (n, _) => new MulKernel(n), "test")
        .Register("Opaque", 1, (n, _) => new NoGradKernel(n), "test");

    // y = (2x) * w ; z = 3·y
    private static Engine.Graph Model()
    {
        var g = new Engine.Graph { Name = "m" };
        g.Opsets["test"] = 1;
        g.Inputs.Add(new ValueInfo("x", DataType.Float32, [Dim.Symbolic("batch"), Dim.Fixed(2)]));
        g.Initializers["w"] = Tensor.FromArray([1f, -1f, 0.5f, 2f], 2, 2);
        g.Nodes.Add(new Node("Mul", ["x2", "w"], ["y"], "mul", "test"));
        g.Nodes.Add(new Node("Scale", ["x"], ["x2"], "double", "test").With("alpha", AttributeValue.FromFloat(2f)));
        g.Nodes.Add(new Node("Scale", ["y"], ["z"], "triple", "test").With("alpha", AttributeValue.FromFloat(3f)));
        g.Outputs.Add(new ValueInfo("z", DataType.Float32, (IEnumerable<Dim>?)null));
        return g;
    }

    private static Dictionary<string, Tensor> Feed(params float[] x) => new() { ["x"] = Tensor.FromArray(x, x.Length / 2, 2) };

    [Fact]
    public void Run_ComputesInTopologicalOrder()
    {
        var s = new Session(Model(), Registry());
        var z = s.Run(Feed(1, 2, 3, 4)).Output("z");
        Assert.Equal([6f, -12f, 9f, 48f], z.Data);
    }

    [Fact]
    public void Run_StopAfterObserved_EndsAtTheObservedValue_AndTheSessionStaysUsable()
    {
        var s = new Session(Model(), Registry());
        float[]? y = null;
        var r = s.Run(Feed(1, 2, 3, 4), new RunOptions { Observed = ["y"], Observer = (_, t) => y = ((Tensor<float>)t).Data.ToArray(), StopAfterObserved = true });
        Assert.NotNull(y);
        Assert.Equal([2f, -4f, 3f, 16f], y!);
        Assert.Empty(r.Outputs); // "triple" never ran
        // The buffers the stopped run held went back to the pool: later full runs compute the same as a fresh session.
        for (int i = 0; i < 3; i++)
            Assert.Equal([6f, -12f, 9f, 48f], s.Run(Feed(1, 2, 3, 4)).Output("z").Data);
        var full = s.Run(Feed(1, 2, 3, 4), new RunOptions { Observed = ["y"], Observer = (_, _) => { } });
        Assert.Single(full.Outputs); // without the flag the run goes on to the outputs
    }

    [Fact]
    public void Run_CapturesAndObservesIntermediates()
    {
        var s = new Session(Model(), Registry());
        var seen = new List<string>();
        var r = s.Run(Feed(1, 2, 3, 4), new RunOptions { Capture = ["x2"], Observed = ["y", "x"], Observer = (name, _) => seen.Add(name) });
        Assert.Equal([2f, 4f, 6f, 8f], ((Tensor<float>)r.Captured["x2"]).Data);
        Assert.Equal(["x", "y"], seen);
    }

    [Fact]
    public void Run_WeightUpdatesInPlace_AreSeenByNextRun()
    {
        var g = Model();
        var s = new Session(g, Registry());
        ((Tensor<float>)g.Initializers["w"]).Data[0] = 10f;
        Assert.Equal(60f, s.Run(Feed(1, 2, 3, 4)).Output("z").Data[0]);
    }

    [Fact]
    public void Backward_GivesInitializerAndInputGradients()
    {
        var s = new Session(Model(), Registry());
        var r = s.Run(Feed(1, 2, 3, 4), new RunOptions { KeepForBackward = true });
        var grads = s.Backward(r, new Dictionary<string, Tensor<float>> { ["z"] = Tensor.Ones(2, 2) });
        // z = 6·x·w  ⇒ dz/dw = 6x, dz/dx = 6w
        Assert.Equal([6f, 12f, 18f, 24f], grads["w"].Data);
        Assert.Equal([6f, -6f, 3f, 12f], grads["x"].Data);
    }

    [Fact]
    public void Backward_WithoutKeptRecord_IsAClearError()
    {
        var s = new Session(Model(), Registry());
        var r = s.Run(Feed(1, 2, 3, 4));
        var ex = Assert.Throws<GraphException>(() => s.Backward(r, new Dictionary<string, Tensor<float>> { ["z"] = Tensor.Ones(2, 2) }));
        Assert.Contains("KeepForBackward", ex.Message);
    }

    [Fact]
    public void Backward_ThroughOpWithoutRule_NamesTheNode()
    {
        var g = Model();
        g.Nodes.Add(new Node("Opaque", ["z"], ["o"], "opaque", "test"));
        g.Outputs[0].Name = "o";
        var s = new Session(g, Registry());
        var r = s.Run(Feed(1, 2, 3, 4), new RunOptions { KeepForBackward = true });
        var ex = Assert.Throws<GraphException>(() => s.Backward(r, new Dictionary<string, Tensor<float>> { ["o"] = Tensor.Ones(2, 2) }));
        Assert.Contains("Opaque 'opaque'", ex.Message);
    }

    [Fact]
    public void Compile_UnsupportedOp_ListsNodeOpAndOpset()
    {
        var g = Model();
        g.Nodes.Add(new Node("Fancy", ["z"], ["f"], "fancy", "test"));
        var ex = Assert.Throws<GraphException>(() => new Session(g, Registry()));
        Assert.Contains("Fancy 'fancy'", ex.Message);
        Assert.Contains("opset 1", ex.Message);
    }

    [Fact]
    public void Run_MissingOrMisshapenInput_NamesInputAndShapes()
    {
        var s = new Session(Model(), Registry());
        Assert.Contains("'x' was not fed", Assert.Throws<GraphException>(() => s.Run(new Dictionary<string, Tensor>())).Message);
        var ex = Assert.Throws<GraphException>(() => s.Run(new Dictionary<string, Tensor> { ["x"] = new Tensor<float>(2, 3) }));
        Assert.Contains("[batch,2]", ex.Message);
        Assert.Contains("[2,3]", ex.Message);
        Assert.Throws<GraphException>(() => s.Run(new Dictionary<string, Tensor> { ["x"] = new Tensor<int>(1, 2) }));
    }

    [Fact]
    public void Registry_PicksHighestSinceVersionNotAboveOpset()
    {
        var reg = new OpRegistry()
            .Register("Scale", 1, (n, _) => new ScaleKernel(n), "test")
            .Register("Scale", 5, (n, _) => new NoGradKernel(n), "test");
        var node = new Node("Scale", ["x"], ["y"], "s", "test");
        Assert.IsType<ScaleKernel>(reg.Find(node, 4)!(node, new OpCompileContext(new Engine.Graph(), 4)));
        Assert.IsType<NoGradKernel>(reg.Find(node, 7)!(node, new OpCompileContext(new Engine.Graph(), 7)));
        Assert.Null(reg.Find(node, 0));
    }
}

public class SessionShapeConflictTests
{
    [Fact]
    public void Compile_ShapeConflictInsideGraph_NamesNodeOpAndShapes()
    {
        var b = new GraphBuilder("conflict");
        var x = b.Input("x", DataType.Float32, Dim.Fixed(2), Dim.Fixed(3));
        var bias = b.Initializer("bias", Tensor.Zeros(4));
        b.Output(b.Add(x, bias, name: "add_bias"));
        // Shape inference at compile time finds it before anything runs.
        var ex = Assert.Throws<GraphException>(() => new Session(b.Build()));
        Assert.Contains("Add 'add_bias'", ex.Message);
        Assert.Contains("[2,3]", ex.Message);
        Assert.Contains("[4]", ex.Message);
    }

    [Fact]
    public void Run_ShapeConflictWithSymbolicInput_NamesNodeOpAndShapes()
    {
        var b = new GraphBuilder("conflict");
        var x = b.Input("x", DataType.Float32, Dim.Symbolic("n"), Dim.Symbolic("k"));
        var bias = b.Initializer("bias", Tensor.Zeros(4));
        b.Output(b.Add(x, bias, name: "add_bias"));
        var session = new Session(b.Build());
        var ex = Assert.Throws<GraphException>(() => session.Run(new Dictionary<string, Tensor> { ["x"] = Tensor.Zeros(2, 3) }));
        Assert.Contains("Add 'add_bias'", ex.Message);
        Assert.Contains("[2,3]", ex.Message);
        Assert.Contains("[4]", ex.Message);
    }
}
