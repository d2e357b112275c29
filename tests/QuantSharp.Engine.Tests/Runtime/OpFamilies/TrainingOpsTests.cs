using QuantSharp.Engine.Runtime;
using static QuantSharp.Engine.Tests.Runtime.OpFamilies.SingleOp;
using ModelGraph = QuantSharp.Engine.Graph;

namespace QuantSharp.Engine.Tests.Runtime.OpFamilies;

public class TrainingOpsTests
{
    private const string Domain = "ai.onnx.preview.training";

    private static Tensor[] Optimize(string op, int outputs, Tensor?[] inputs, params (string, AttributeValue)[] attributes) =>
        Run(op, inputs, 17, outputs, Domain, attributes);

    private static Tensor<float> One(float v) => F([v], 1);

    [Fact]
    public void Adagrad_DecaysRate_RegularizesGradient_AndAccumulatesSquares()
    {
        // r = 0.1 / (1 + 1·0.5); g = 0.1·1 − 1 = −0.9; H′ = 2 + 0.81; X′ = 1 − r·g / (√2.81 + 1e−6).
        var y = Optimize("Adagrad", 2, [Scalar(0.1f), Scalar(1L), One(1), One(-1), One(2)],
            Float("decay_factor", 0.5f), Float("norm_coefficient", 0.1f));
        Close([1.0357930f], y[0]);
        Close([2.81f], y[1]);
    }

    [Fact]
    public void Momentum_Standard_FirstStepTakesWholeGradient_LaterStepsScaleByBeta()
    {
        (string, AttributeValue)[] attributes = [Float("alpha", 0.9f), Float("beta", 0.5f), Float("norm_coefficient", 0f), Str("mode", "standard")];
        // T = 0: V′ = 0.9·0.5 + 1·2 = 2.45, X′ = 1 − 0.1·2.45.
        var first = Optimize("Momentum", 2, [Scalar(0.1f), Scalar(0L), One(1), One(2), One(0.5f)], attributes);
        Close([0.755f], first[0]);
        Close([2.45f], first[1]);
        // T = 3: V′ = 0.45 + 0.5·2 = 1.45, X′ = 1 − 0.145.
        var later = Optimize("Momentum", 2, [Scalar(0.1f), Scalar(3L), One(1), One(2), One(0.5f)], attributes);
        Close([0.855f], later[0]);
        Close([1.45f], later[1]);
    }

    [Fact]
    public void Momentum_Nesterov_StepsAlongGradientPlusAlphaTimesNewVelocity()
    {
        // V′ = 1.45 as above; X′ = 1 − 0.1·(2 + 0.9·1.45) = 0.6695.
        var y = Optimize("Momentum", 2, [Scalar(0.1f), Scalar(3L), One(1), One(2), One(0.5f)],
            Float("alpha", 0.9f), Float("beta", 0.5f), Float("norm_coefficient", 0f), Str("mode", "nesterov"));
        Close([0.6695f], y[0]);
        Close([1.45f], y[1]);
    }

    [Fact]
    public void Adam_AppliesBiasCorrection_WhenStepIsPositive_AndUpdatesEachTensor()
    {
        // Two tensors; the first: g = 0.5, V′ = 0.9·0.2 + 0.1·0.5 = 0.23, H′ = 0.999·0.1 + 0.001·0.25 = 0.10015,
        // r = 0.1·√(1 − 0.999²) / (1 − 0.9²), X′ = 1 − r·0.23 / (√0.10015 + 1e−6) = 0.98289773.
        // The second is all zeros with zero gradient: nothing moves.
        var y = Optimize("Adam", 6, [Scalar(0.1f), Scalar(2L), One(1), One(0), One(0.5f), One(0), One(0.2f), One(0), One(0.1f), One(0)]);
        Close([0.98289773f], y[0]);
        Close([0f], y[1]);
        Close([0.23f], y[2]);
        Close([0.10015f], y[4]);
        // norm_coefficient_post shrinks the result: (1 − 0.5)·X′.
        var post = Optimize("Adam", 3, [Scalar(0.1f), Scalar(2L), One(1), One(0.5f), One(0.2f), One(0.1f)], Float("norm_coefficient_post", 0.5f));
        Close([0.98289773f / 2], post[0]);
    }

    [Fact]
    public void Adam_WithEpsilonOneHundredth_ReproducesTheBackendTestAdamMultiple()
    {
        // Inputs and expected outputs of ONNX's node/test_adam_multiple, whose reference used epsilon = 1e-2 although the
        // node leaves epsilon at its default (so that conformance case is a known failure, not a kernel bug).
        var y = Optimize("Adam", 6,
            [Scalar(0.1f), Scalar(0L), One(1), F([1, 2], 2), One(-1), F([-1, -3], 2), One(2), F([4, 1], 2), One(0.5f), F([1, 10], 2)],
            Float("alpha", 0.95f), Float("beta", 0.85f), Float("norm_coefficient", 0.001f), Float("epsilon", 0.01f));
        Close([0.75913626f], y[0]);
        Close([0.6286528f, 1.9745853f], y[1]);
        Close([1.85005f], y[2]);
        Close([3.75005f, 0.80009997f], y[3]);
        Close([0.5747002f], y[4]);
        Close([0.9997002f, 9.8482008f], y[5], 1e-4f);
    }

    [Fact]
    public void Optimizer_WithMismatchedInputCount_NamesTheNode()
    {
        var e = Assert.Throws<GraphException>(() => Optimize("Adagrad", 2, [Scalar(0.1f), Scalar(1L), One(1), One(-1)]));
        Assert.Contains("Adagrad 'op'", e.Message);
    }

    // y = (a + b)·b, so ∂y/∂a = b and ∂y/∂b = a + 2b, elementwise.
    private static ModelGraph GradientGraph(string y = "y")
    {
        var g = new ModelGraph { Name = "grad" };
        g.Opsets[""] = 12;
        g.Opsets[Domain] = 1;
        g.Inputs.Add(new ValueInfo("a", DataType.Float32, (IEnumerable<Dim>?)null));
        g.Inputs.Add(new ValueInfo("b", DataType.Float32, (IEnumerable<Dim>?)null));
        g.Nodes.Add(new Node("Add", ["a", "b"], ["s"], "add"));
        g.Nodes.Add(new Node("Mul", ["s", "b"], ["y"], "mul"));
        var grad = new Node("Gradient", ["a", "b"], ["da", "db"], "grad", Domain);
        grad.Attributes["xs"] = AttributeValue.FromStrings("a", "b");
        grad.Attributes["y"] = AttributeValue.FromString(y);
        g.Nodes.Add(grad);
        foreach (var o in new[] { "y", "da", "db" }) g.Outputs.Add(new ValueInfo(o, DataType.Float32, (IEnumerable<Dim>?)null));
        return g;
    }

    [Fact]
    public void Gradient_OfEnclosingGraph_MatchesHandDerivedPartials()
    {
        var session = new Session(GradientGraph());
        for (int step = 0; step < 2; step++) // the compiled sub-session is reused
        {
            float b1 = -1 - step;
            var run = session.Run(new Dictionary<string, Tensor> { ["a"] = F([1, 2], 2), ["b"] = F([3, b1], 2) });
            Close([(1 + 3) * 3, (2 + b1) * b1], run.Outputs["y"]);
            Close([3, b1], run.Outputs["da"]);
            Close([1 + 2 * 3, 2 + 2 * b1], run.Outputs["db"]);
        }
        // Another shape through the same compiled sub-session: ∂y/∂b = a + 2b = 5 + 2·1.
        var other = session.Run(new Dictionary<string, Tensor> { ["a"] = F([5], 1), ["b"] = F([1], 1) });
        Close([7], other.Outputs["db"]);
    }

    [Fact]
    public void Gradient_OfValueNotComputedFromXs_IsRejected()
    {
        var g = GradientGraph();
        g.Nodes[2].Attributes["xs"] = AttributeValue.FromStrings("a");
        g.Nodes[2].Inputs.RemoveAt(1);
        g.Nodes[2].Outputs.RemoveAt(1);
        g.Outputs.RemoveAt(2);
        var session = new Session(g);
        var e = Assert.Throws<GraphException>(() => session.Run(new Dictionary<string, Tensor> { ["a"] = F([1, 2], 2), ["b"] = F([3, 4], 2) }));
        Assert.Contains("'b'", e.Message);
    }
}
