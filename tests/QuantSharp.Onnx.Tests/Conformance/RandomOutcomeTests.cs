using QuantSharp.Engine;

namespace QuantSharp.Onnx.Tests.Conformance;

/// <summary>The conformance runner's check of random outputs (shape, type, domain) must reject what a random op cannot produce.</summary>
public class RandomOutcomeTests
{
    private static Graph OneNode(string op, params (string, AttributeValue)[] attributes)
    {
        var g = new Graph { Name = op };
        g.Inputs.Add(new ValueInfo("p", DataType.Float32, 4));
        var n = new Node(op, ["p"], ["y"], "r");
        foreach (var (k, v) in attributes) n.Attributes[k] = v;
        g.Nodes.Add(n);
        g.Outputs.Add(new ValueInfo("y", DataType.Float32, 4));
        return g;
    }

    private static readonly Tensor<float> P = Tensor.FromArray([0f, 1f, 0.5f, 0.5f], 4);
    private static readonly Dictionary<string, Tensor> Feeds = new() { ["p"] = P };
    private static readonly Tensor<float> Expected = Tensor.FromArray([0f, 1f, 1f, 0f], 4);

    private static string? Check(Graph g, float[] actual) =>
        ConformanceRunner.RandomMismatch(g, Feeds, "y", Expected, Tensor.FromArray(actual, actual.Length));

    [Fact]
    public void Bernoulli_AcceptsAnyZeroOneDraw_ThatHonoursCertainProbabilities()
    {
        Assert.Null(Check(OneNode("Bernoulli"), [0, 1, 0, 1]));
        Assert.Contains("expected 0 or 1", Check(OneNode("Bernoulli"), [0, 1, 0.5f, 1]));
        Assert.Contains("where p is 1", Check(OneNode("Bernoulli"), [0, 0, 1, 1]));
        Assert.Contains("shape", Check(OneNode("Bernoulli"), [0, 1, 1]));
    }

    [Fact]
    public void RandomUniformLike_RejectsValuesOutsideLowHigh_HighExcluded()
    {
        var g = OneNode("RandomUniformLike", ("low", AttributeValue.FromFloat(-1f)), ("high", AttributeValue.FromFloat(1f)));
        Assert.Null(Check(g, [-1f, 0f, 0.5f, 0.999f]));
        Assert.Contains("expected in [-1, 1)", Check(g, [-1f, 0f, 0.5f, 1f]));
    }

    [Fact]
    public void OutputNotMadeByARandomOp_MustStayZeroOneWhenExpectedIs()
    {
        var g = OneNode("Identity");
        Assert.Null(Check(g, [1, 1, 0, 0]));
        Assert.Contains("expected 0 or 1", Check(g, [1, 2, 0, 0]));
        Assert.Contains("finite", Check(g, [1, float.NaN, 0, 0]));
    }
}
