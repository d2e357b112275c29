using QuantSharp.Engine;
using ModelGraph = QuantSharp.Engine.Graph;
using QuantSharp.Engine.Runtime;
using static QuantSharp.Engine.Tests.Runtime.ControlFlowTestGraphs;

namespace QuantSharp.Engine.Tests.Runtime;

/// <summary>Sequence and optional values through <see cref="Session"/>: hand-computed op results, buffer-pool safety, errors.</summary>
public class SequenceOpsTests
{
    private static RunResult Run(ModelGraph g, params (string, Tensor)[] feeds) =>
        new Session(g).Run(feeds.ToDictionary(p => p.Item1, p => p.Item2));

    private static ModelGraph Seq(ValueInfo[] inputs, string[] outputs, params Node[] nodes)
    {
        var g = Outer(inputs, outputs, nodes);
        g.Opsets[""] = 18;
        return g;
    }

    [Fact]
    public void SequenceInsertEraseAt_NegativeAndDefaultPositions_HandComputed()
    {
        // [a, b] → insert c at -1 → [a, c, b] → erase default (last) → [a, c] → at -1 = c; length 2
        var g = Seq([F("a"), F("b"), F("c")], ["seq2", "last", "len"],
            N("SequenceConstruct", ["a", "b"], ["s0"]),
            N("SequenceInsert", ["s0", "c", "minus1"], ["s1"]),
            N("SequenceErase", ["s1"], ["seq2"]),
            N("SequenceAt", ["seq2", "minus1"], ["last"]),
            N("SequenceLength", ["seq2"], ["len"]));
        g.Initializers["minus1"] = Tensor.Scalar(-1L);
        var r = Run(g, ("a", Vec(1)), ("b", Vec(2, 2)), ("c", Vec(3, 3, 3)));
        var seq = Assert.IsType<TensorSequence>(r.Outputs["seq2"]);
        Assert.Equal(2, seq.Count);
        Assert.Equal([1f], ((Tensor<float>)seq[0]).Data);
        Assert.Equal([3f, 3f, 3f], ((Tensor<float>)seq[1]).Data);
        Assert.Equal([3f, 3f, 3f], r.Output("last").Data);
        Assert.Equal(2L, ((Tensor<long>)r.Outputs["len"]).Data[0]);
    }

    [Fact]
    public void SplitToSequence_ScalarSplitLeavesShortLastChunk_ConcatFromSequenceRestores()
    {
        // 5 rows split by 2 → 2, 2, 1 rows; concatenating along axis 0 gives the input back.
        var g = Seq([F("x")], ["parts", "back"],
            N("SplitToSequence", ["x", "two"], ["parts"], "", I("axis", 0)),
            N("ConcatFromSequence", ["parts"], ["back"], "", I("axis", 0)));
        g.Initializers["two"] = Tensor.Scalar(2L);
        var x = Tensor.FromArray(Enumerable.Range(0, 10).Select(v => (float)v).ToArray(), 5, 2);
        var r = Run(g, ("x", x));
        var parts = Assert.IsType<TensorSequence>(r.Outputs["parts"]);
        Assert.Equal([[2, 2], [2, 2], [1, 2]], parts.Items.Select(t => t.Shape));
        Assert.Equal([8f, 9f], ((Tensor<float>)parts[2]).Data);
        Assert.Equal(x.Data, r.Output("back").Data);
    }

    [Fact]
    public void SplitToSequence_NoSplitKeepdims0_ThenStackWithNewAxis1_Transposes()
    {
        // x [2,3] split along axis 1 into three [2] vectors; stacked on a new axis 1 they form x again,
        // stacked on a new axis 0 they form xᵀ.
        var g = Seq([F("x")], ["same", "transposed"],
            N("SplitToSequence", ["x"], ["cols"], "", I("axis", 1), I("keepdims", 0)),
            N("ConcatFromSequence", ["cols"], ["same"], "", I("axis", 1), I("new_axis", 1)),
            N("ConcatFromSequence", ["cols"], ["transposed"], "", I("axis", 0), I("new_axis", 1)));
        var r = Run(g, ("x", Tensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3)));
        Assert.Equal([2, 3], r.Output("same").Shape);
        Assert.Equal([1f, 2f, 3f, 4f, 5f, 6f], r.Output("same").Data);
        Assert.Equal([3, 2], r.Output("transposed").Shape);
        Assert.Equal([1f, 4f, 2f, 5f, 3f, 6f], r.Output("transposed").Data);
    }

    [Fact]
    public void SequenceHoldingAnIntermediate_SurvivesBufferReuseByLaterNodes()
    {
        // 'doubled' dies after SequenceConstruct; the pooled session hands its buffer to the next same-size writers,
        // which must not overwrite the tensor the sequence still holds.
        var g = Seq([F("x")], ["first", "other"],
            N("Add", ["x", "x"], ["doubled"]),
            N("SequenceConstruct", ["doubled"], ["seq"]),
            N("Mul", ["x", "x"], ["sq"]),
            N("Mul", ["sq", "x"], ["other"]),
            N("SequenceAt", ["seq", "zero"], ["first"]));
        g.Initializers["zero"] = Tensor.Scalar(0L);
        var s = new Session(g) { ReuseBuffers = true };
        var x = Vec(1, 2, 3, 4);
        for (int run = 0; run < 3; run++)
        {
            var r = s.Run(new Dictionary<string, Tensor> { ["x"] = x });
            Assert.Equal([2f, 4f, 6f, 8f], r.Output("first").Data);
            Assert.Equal([1f, 8f, 27f, 64f], r.Output("other").Data);
        }
    }

    [Fact]
    public void SequenceAt_PositionOutOfRange_ErrorNamesNodeRangeAndPosition()
    {
        var g = Seq([F("a")], ["y"], N("SequenceConstruct", ["a"], ["s"]), N("SequenceAt", ["s", "p"], ["y"], "pick"));
        g.Initializers["p"] = Tensor.Scalar(1L);
        var e = Assert.Throws<GraphException>(() => Run(g, ("a", Vec(1))));
        Assert.Contains("SequenceAt 'pick'", e.Message);
        Assert.Contains("expected in [-1, 0] for a sequence of 1, got 1", e.Message);
    }

    [Fact]
    public void Optional_HasAndGetElement_OnValueAndOnEmpty()
    {
        var g = Seq([F("x")], ["has", "none_has", "got"],
            N("Optional", ["x"], ["ox"]),
            N("OptionalHasElement", ["ox"], ["has"]),
            N("Optional", [], ["empty"], "", ("type", AttributeValue.FromType(F("")))),
            N("OptionalHasElement", ["empty"], ["none_has"]),
            N("OptionalGetElement", ["ox"], ["got"]));
        var r = Run(g, ("x", Vec(7)));
        Assert.True(((Tensor<bool>)r.Outputs["has"]).Data[0]);
        Assert.False(((Tensor<bool>)r.Outputs["none_has"]).Data[0]);
        Assert.Equal([7f], r.Output("got").Data);
    }

    [Fact]
    public void OptionalGetElement_OnEmptyOptional_ErrorNamesTheNode()
    {
        var g = Seq([], ["y"],
            N("Optional", [], ["empty"], "", ("type", AttributeValue.FromType(F("")))),
            N("OptionalGetElement", ["empty"], ["y"], "unwrap"));
        var e = Assert.Throws<GraphException>(() => Run(g));
        Assert.Contains("OptionalGetElement 'unwrap'", e.Message);
        Assert.Contains("empty optional", e.Message);
    }

    [Fact]
    public void Loop_CarriesASequence_InsertingEachIterationNumber()
    {
        // seq starts empty; each iteration appends float(i): after M=3 it holds [0], [1], [2].
        var body = Body("body", [I64("i"), B("c"), new ValueInfo("seq_in", DataType.Float32, (IEnumerable<Dim>?)null) { Kind = ValueKind.Sequence }],
            ["c", "seq_out"],
            N("Cast", ["i"], ["f"], "", I("to", 1)),
            N("SequenceInsert", ["seq_in", "f"], ["seq_out"]));
        var g = Seq([], ["seq"],
            N("SequenceEmpty", [], ["empty"]),
            N("Loop", ["M", "", "empty"], ["seq"], "loop", G("body", body)));
        g.Initializers["M"] = Tensor.Scalar(3L);
        var seq = Assert.IsType<TensorSequence>(Run(g).Outputs["seq"]);
        Assert.Equal([0f, 1f, 2f], seq.Items.Select(t => ((Tensor<float>)t).Data[0]));
    }

    [Fact]
    public void Feed_SequenceWhereTensorDeclared_ErrorNamesInputAndKinds()
    {
        var g = Seq([F("x")], ["x"]);
        var e = Assert.Throws<GraphException>(() => Run(g, ("x", new TensorSequence(DataType.Float32, [Vec(1)]))));
        Assert.Contains("input 'x' expected a tensor, got a sequence", e.Message);
    }
}
