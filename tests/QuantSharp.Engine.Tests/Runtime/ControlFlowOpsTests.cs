using QuantSharp.Engine;
using ModelGraph = QuantSharp.Engine.Graph;
using QuantSharp.Engine.Runtime;
using static QuantSharp.Engine.Tests.Runtime.ControlFlowTestGraphs;

namespace QuantSharp.Engine.Tests.Runtime;

/// <summary>If, Loop and Scan through <see cref="Session"/>: hand-computed results, outer-scope reads at depth, and misuse errors.</summary>
public class ControlFlowOpsTests
{
    private static Dictionary<string, Tensor> Feeds(params (string, Tensor)[] f) => f.ToDictionary(p => p.Item1, p => p.Item2);

    private static ModelGraph IfGraph()
    {
        // then: y = x + one (both from the main graph); else: y = -x
        var then = Body("then", [], ["t"], N("Add", ["x", "one"], ["t"]));
        var @else = Body("else", [], ["e"], N("Neg", ["x"], ["e"]));
        var g = Outer([B("c"), F("x")], ["y"], N("If", ["c"], ["y"], "choose", G("then_branch", then), G("else_branch", @else)));
        g.Initializers["one"] = Vec(1);
        return g;
    }

    [Fact]
    public void If_BranchesReadOuterValues_ConditionPicksTheBranch()
    {
        var s = new Session(IfGraph());
        var x = Vec(1, 2, 3);
        Assert.Equal([2f, 3f, 4f], s.Run(Feeds(("c", Tensor.Scalar(true)), ("x", x))).Output("y").Data);
        Assert.Equal([-1f, -2f, -3f], s.Run(Feeds(("c", Tensor.Scalar(false)), ("x", x))).Output("y").Data);
    }

    [Fact]
    public void If_OuterInitializer_InPlaceUpdateIsSeen_AndAFedOverrideWins()
    {
        var g = IfGraph();
        var one = (Tensor<float>)g.Initializers["one"];
        var s = new Session(g);
        one.Data[0] = 5; // a training step updates weights in place; the compiled branch shares the tensor
        Assert.Equal([6f], s.Run(Feeds(("c", Tensor.Scalar(true)), ("x", Vec(1)))).Output("y").Data);

        var overridable = IfGraph();
        overridable.Inputs.Add(F("one")); // an initializer that is also an input is a default a run may override
        var fed = new Session(overridable).Run(Feeds(("c", Tensor.Scalar(true)), ("x", Vec(1)), ("one", Vec(100))));
        Assert.Equal([101f], fed.Output("y").Data);
    }

    /// <summary>
    /// Loop M=3 carrying s (from 0); its body holds an If on the main graph's 'flag' whose branches add or subtract the
    /// main graph's 'a' (read two scopes down) to the body's s; the new s is also a scan output.
    /// </summary>
    private static ModelGraph NestedGraph()
    {
        var then = Body("then", [], ["t"], N("Add", ["s_in", "a"], ["t"]));
        var @else = Body("else", [], ["e"], N("Sub", ["s_in", "a"], ["e"]));
        var body = Body("body", [I64("i"), B("cond_in"), F("s_in")], ["cond_out", "s_out", "scan"],
            N("Identity", ["cond_in"], ["cond_out"]),
            N("If", ["flag"], ["s_out"], "inner", G("then_branch", then), G("else_branch", @else)),
            N("Identity", ["s_out"], ["scan"]));
        var g = Outer([B("flag")], ["s_final", "scans"],
            N("Loop", ["M", "", "s0"], ["s_final", "scans"], "loop", G("body", body)));
        g.Initializers["M"] = Tensor.Scalar(3L);
        g.Initializers["s0"] = Vec(0);
        g.Initializers["a"] = Vec(10);
        return g;
    }

    [Fact]
    public void Loop_NestedIfReadsMainGraphValueTwoScopesDown_AccumulatesAndStacksScanOutput()
    {
        var s = new Session(NestedGraph());
        var up = s.Run(Feeds(("flag", Tensor.Scalar(true))));
        Assert.Equal([30f], up.Output("s_final").Data);
        Assert.Equal([3, 1], up.Output("scans").Shape);
        Assert.Equal([10f, 20f, 30f], up.Output("scans").Data);
        var down = s.Run(Feeds(("flag", Tensor.Scalar(false))));
        Assert.Equal([-10f, -20f, -30f], down.Output("scans").Data);
    }

    [Fact]
    public void Loop_BodyConditionStopsAfterTheIterationThatTurnsItFalse()
    {
        // cond_out = i < 2: iterations 0, 1, 2 run (the third yields false), so x = 0 + 3·1 and three scan entries.
        var body = Body("body", [I64("i"), B("c"), F("x_in")], ["c_out", "x_out", "i_f"],
            N("Less", ["i", "two"], ["c_out"]),
            N("Add", ["x_in", "one"], ["x_out"]),
            N("Cast", ["i"], ["i_f"], "", I("to", 1)));
        var g = Outer([], ["x", "iters"], N("Loop", ["M", "go", "x0"], ["x", "iters"], "loop", G("body", body)));
        g.Initializers["M"] = Tensor.Scalar(10L);
        g.Initializers["go"] = Tensor.Scalar(true);
        g.Initializers["x0"] = Vec(0);
        g.Initializers["one"] = Vec(1);
        g.Initializers["two"] = Tensor.Scalar(2L);
        var r = new Session(g).Run(Feeds());
        Assert.Equal([3f], r.Output("x").Data);
        Assert.Equal([0f, 1f, 2f], r.Output("iters").Data);
    }

    [Fact]
    public void Loop_ZeroTripCount_ReturnsInitialValuesAndEmptyScanOutput()
    {
        var body = Body("body", [I64("i"), B("c"), F("x_in")], ["c", "x_out", "x_out"], N("Add", ["x_in", "x_in"], ["x_out"]));
        var g = Outer([], ["x", "scan"], N("Loop", ["M", "", "x0"], ["x", "scan"], "loop", G("body", body)));
        g.Initializers["M"] = Tensor.Scalar(0L);
        g.Initializers["x0"] = Vec(5, 6);
        var r = new Session(g).Run(Feeds());
        Assert.Equal([5f, 6f], r.Output("x").Data);
        Assert.Equal(0, r.Outputs["scan"].Length);
        Assert.Equal(0, r.Outputs["scan"].Dims[0]);
    }

    private static ModelGraph ScanSumGraph(long outputDirection)
    {
        // state += column; the running sum is the scan output. X scanned along axis 1, newest column first.
        var body = Body("body", [F("sum_in"), F("col")], ["sum_out", "running"],
            N("Add", ["sum_in", "col"], ["sum_out"]),
            N("Identity", ["sum_out"], ["running"]));
        return Outer([F("init"), F("X")], ["sum", "runs"], N("Scan", ["init", "X"], ["sum", "runs"], "scan", G("body", body),
            I("num_scan_inputs", 1), Is("scan_input_axes", -1), Is("scan_input_directions", 1),
            Is("scan_output_axes", -1), Is("scan_output_directions", outputDirection)));
    }

    [Theory]
    [InlineData(0L, new float[] { 3, 5, 6, 6, 11, 15 })]
    [InlineData(1L, new float[] { 6, 5, 3, 15, 11, 6 })]
    public void Scan9_ReversedLastAxis_RunningSumsStackedAlongLastAxis(long outputDirection, float[] expected)
    {
        // X = [[1,2,3],[4,5,6]]; reversed columns [3,6], [2,5], [1,4]; running sums [3,6], [5,11], [6,15].
        var r = new Session(ScanSumGraph(outputDirection)).Run(Feeds(("init", Vec(0, 0)), ("X", Tensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3))));
        Assert.Equal([6f, 15f], r.Output("sum").Data);
        Assert.Equal([2, 3], r.Output("runs").Shape);
        Assert.Equal(expected, r.Output("runs").Data);
    }

    [Fact]
    public void Scan8_BatchAxisAndSequenceLens_EntriesRunApartAndShortOnesAreZeroPadded()
    {
        var body = Body("body", [F("sum_in"), F("x")], ["sum_out", "running"],
            N("Add", ["sum_in", "x"], ["sum_out"]),
            N("Identity", ["sum_out"], ["running"]));
        var g = Outer([F("init"), F("X")], ["sum", "runs"], N("Scan", ["lens", "init", "X"], ["sum", "runs"], "scan", G("body", body), I("num_scan_inputs", 1)));
        g.Opsets[""] = 8;
        g.Initializers["lens"] = Tensor.FromArray(new int[] { 3, 2 }, 2);
        // batch 2, sequence 3, one value per step: [1,2,3] and [4,5,6] (the second only 2 steps long)
        var r = new Session(g).Run(Feeds(("init", Tensor.Zeros(2, 1)), ("X", Tensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3, 1))));
        Assert.Equal([6f, 9f], r.Output("sum").Data);
        Assert.Equal([2, 3, 1], r.Output("runs").Shape);
        Assert.Equal([1f, 3f, 6f, 4f, 9f, 0f], r.Output("runs").Data);
    }

    [Fact]
    public void Subgraph_ReadingAValueDefinedNowhere_ErrorNamesValueNodeAndBranch()
    {
        var then = Body("then", [], ["t"], N("Add", ["x", "ghost"], ["t"]));
        var @else = Body("else", [], ["x"]);
        var g = Outer([B("c"), F("x")], ["y"], N("If", ["c"], ["y"], "choose", G("then_branch", then), G("else_branch", @else)));
        var e = Assert.Throws<GraphException>(() => new Session(g));
        Assert.Contains("'ghost'", e.Message);
        Assert.Contains("If 'choose'", e.Message);
        Assert.Contains("then_branch", e.Message);
    }

    [Fact]
    public void Subgraph_ReadingAValueDefinedNowhereTwoScopesDown_ErrorNamesTheInnerReaderToo()
    {
        var then = Body("then", [], ["t"], N("Add", ["s_in", "ghost"], ["t"], "deep_add"));
        var @else = Body("else", [], ["s_in"]);
        var body = Body("body", [I64("i"), B("c"), F("s_in")], ["c", "s_out"],
            N("If", ["c"], ["s_out"], "inner", G("then_branch", then), G("else_branch", @else)));
        var g = Outer([F("s0")], ["s"], N("Loop", ["M", "", "s0"], ["s"], "loop", G("body", body)));
        g.Initializers["M"] = Tensor.Scalar(1L);
        var e = Assert.Throws<GraphException>(() => new Session(g));
        Assert.Contains("node Loop 'loop': subgraph 'body' reads 'ghost' (read by node Add 'deep_add' in subgraph 'then_branch' of node If 'inner')", e.Message);
    }

    [Fact]
    public void If_BranchesWithDifferentOutputCounts_ErrorNamesBothCountsAndTheNode()
    {
        var then = Body("then", [], ["x", "x"]);
        var @else = Body("else", [], ["x"]);
        var g = Outer([B("c"), F("x")], ["y"], N("If", ["c"], ["y"], "choose", G("then_branch", then), G("else_branch", @else)));
        var e = Assert.Throws<GraphException>(() => new Session(g));
        Assert.Contains("If 'choose'", e.Message);
        Assert.Contains("then_branch has 2 outputs but else_branch has 1", e.Message);
    }

    [Fact]
    public void Loop_BodyWithWrongInputCount_ErrorSaysWhatWasExpected()
    {
        var body = Body("body", [I64("i"), F("x_in")], ["x_in", "x_in"]);
        var g = Outer([F("x0")], ["x"], N("Loop", ["M", "", "x0"], ["x"], "loop", G("body", body)));
        g.Initializers["M"] = Tensor.Scalar(2L);
        var e = Assert.Throws<GraphException>(() => new Session(g));
        Assert.Contains("Loop 'loop'", e.Message);
        Assert.Contains("body expected 3 inputs (iteration number, condition, 1 loop-carried values), got 2", e.Message);
    }

    [Fact]
    public void Scan_BodyWithWrongInputCount_ErrorSaysWhatWasExpected()
    {
        var body = Body("body", [F("s")], ["s"]);
        var g = Outer([F("init"), F("X")], ["sum"], N("Scan", ["init", "X"], ["sum"], "scan", G("body", body), I("num_scan_inputs", 1)));
        var e = Assert.Throws<GraphException>(() => new Session(g));
        Assert.Contains("Scan 'scan'", e.Message);
        Assert.Contains("body expected 2 inputs (1 state values, 1 scan input slices), got 1", e.Message);
    }

    [Fact]
    public void Loop_BodyIsCompiledOnceNotPerIteration()
    {
        int compiled = 0;
        var registry = OpRegistry.Default.Copy().Register("Counted", 1, (n, c) =>
        {
            compiled++;
            return OpRegistry.Default.Find(new Node("Identity", n.Inputs, n.Outputs), 17)!(new Node("Identity", n.Inputs, n.Outputs), c);
        }, "test");
        var body = Body("body", [I64("i"), B("c"), F("x_in")], ["c", "x_out"], new Node("Counted", ["x_in"], ["x_out"], domain: "test"));
        var g = Outer([F("x0")], ["x"], N("Loop", ["M", "", "x0"], ["x"], "loop", G("body", body)));
        g.Opsets["test"] = 1;
        g.Initializers["M"] = Tensor.Scalar(5L);
        var s = new Session(g, registry);
        s.Run(Feeds(("x0", Vec(1))));
        s.Run(Feeds(("x0", Vec(2))));
        Assert.Equal(1, compiled);
    }

    [Fact]
    public void ControlFlow_HasNoGradientRule_BackwardNamesTheNode()
    {
        var g = IfGraph();
        g.Initializers["x"] = Vec(1, 2);
        g.Inputs.RemoveAll(i => i.Name == "x");
        var s = new Session(g);
        var run = s.Run(Feeds(("c", Tensor.Scalar(true))), new RunOptions { KeepForBackward = true });
        var e = Assert.Throws<GraphException>(() => s.Backward(run, new Dictionary<string, Tensor<float>> { ["y"] = Vec(1, 1) }));
        Assert.Contains("If 'choose'", e.Message);
    }
}
