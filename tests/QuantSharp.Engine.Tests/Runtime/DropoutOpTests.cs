using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using ModelGraph = QuantSharp.Engine.Graph;

namespace QuantSharp.Engine.Tests.Runtime;

public class DropoutOpTests
{
    // y, mask = Dropout(x, ratio[, training_mode]) (opset 13), optional seed attribute.
    private static ModelGraph Net(float ratio, bool? trainingMode = null, long? seed = null, string name = "drop")
    {
        var b = new GraphBuilder("d", opset: 13);
        var x = b.Input("x", DataType.Float32, Dim.Fixed(100), Dim.Fixed(100));
        var r = b.Initializer("ratio", Tensor.Scalar(ratio));
        Value? tm = trainingMode is bool t ? b.Initializer("tm", Tensor.FromArray(new[] { t })) : null;
        var attributes = seed is long s ? new[] { ("seed", AttributeValue.FromInt(s)) } : [];
        var outs = b.Op("Dropout", [x, r, tm], 2, name, "", attributes);
        b.Output(outs[0]);
        b.Output(outs[1], DataType.Bool);
        return b.Build();
    }

    private static readonly Tensor<float> X = Tensor.RandomUniform(new Random(1), 0.5f, 1.5f, 100, 100);

    private static (Tensor<float> Y, Tensor<bool> Mask, RunResult Run) Run(Session s, bool training)
    {
        var run = s.Run(new Dictionary<string, Tensor> { ["x"] = X }, new RunOptions { Training = training, KeepForBackward = true });
        return (run.Output(s.Graph.Outputs[0].Name), (Tensor<bool>)run.Outputs[s.Graph.Outputs[1].Name], run);
    }

    [Fact]
    public void Evaluation_IsIdentity_WithAllTrueMask()
    {
        var (y, mask, _) = Run(new Session(Net(0.3f)), training: false);
        Assert.Equal(X.Data, y.Data);
        Assert.All(mask.Data, Assert.True);
    }

    [Fact]
    public void Training_KeepsAboutOneMinusRatio_ScaledByItsInverse_AndMaskAgrees()
    {
        var (y, mask, _) = Run(new Session(Net(0.3f)), training: true);
        int kept = 0;
        for (int i = 0; i < y.Length; i++)
        {
            if (mask.Data[i]) { kept++; Assert.Equal(X.Data[i] * (1f / 0.7f), y.Data[i]); }
            else Assert.Equal(0f, y.Data[i]);
        }
        Assert.InRange(kept / 10000.0, 0.67, 0.73);
    }

    [Fact]
    public void Training_IsReproducibleAcrossSessions_AndDiffersBetweenSteps()
    {
        var a = new Session(Net(0.5f));
        var b = new Session(Net(0.5f));
        var a1 = Run(a, true).Mask.Data; var a2 = Run(a, true).Mask.Data;
        var b1 = Run(b, true).Mask.Data; var b2 = Run(b, true).Mask.Data;
        Assert.Equal(a1, b1);
        Assert.Equal(a2, b2);
        Assert.NotEqual(a1, a2);
    }

    [Fact]
    public void SeedAttribute_ChoosesTheStream()
    {
        var m1 = Run(new Session(Net(0.5f, seed: 1)), true).Mask.Data;
        var m1Again = Run(new Session(Net(0.5f, seed: 1, name: "other")), true).Mask.Data;
        var m2 = Run(new Session(Net(0.5f, seed: 2)), true).Mask.Data;
        Assert.Equal(m1, m1Again); // the seed, not the node's name, decides
        Assert.NotEqual(m1, m2);
    }

    [Fact]
    public void TrainingModeInput_OverridesTheSessionFlag_AndRatioZeroIsIdentity()
    {
        Assert.Equal(X.Data, Run(new Session(Net(0.5f, trainingMode: false)), training: true).Y.Data);
        var (y, mask, _) = Run(new Session(Net(0.5f, trainingMode: true)), training: false);
        Assert.Contains(false, mask.Data);
        Assert.Contains(0f, y.Data);
        var (y0, mask0, _) = Run(new Session(Net(0f, trainingMode: true)), training: true);
        Assert.Equal(X.Data, y0.Data);
        Assert.All(mask0.Data, Assert.True);
    }

    [Fact]
    public void Backward_MultipliesByMaskAndScale()
    {
        var s = new Session(Net(0.25f));
        var (_, mask, run) = Run(s, training: true);
        var gy = Tensor.RandomNormal(new Random(3), 0, 1, 100, 100);
        var gx = s.Backward(run, new Dictionary<string, Tensor<float>> { [s.Graph.Outputs[0].Name] = gy })["x"];
        for (int i = 0; i < gx.Length; i++) Assert.Equal(mask.Data[i] ? gy.Data[i] * (1f / 0.75f) : 0f, gx.Data[i]);
        var (_, _, evalRun) = Run(s, training: false);
        Assert.Equal(gy.Data, s.Backward(evalRun, new Dictionary<string, Tensor<float>> { [s.Graph.Outputs[0].Name] = gy })["x"].Data);
    }

    [Fact]
    public void Training_RatioOne_IsAClearError()
    {
        var ex = Assert.Throws<GraphException>(() => Run(new Session(Net(1f)), training: true));
        Assert.Contains("ratio", ex.Message);
        Assert.Contains("drop", ex.Message);
    }
}
