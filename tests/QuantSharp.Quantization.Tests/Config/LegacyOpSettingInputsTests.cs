using QuantSharp.Engine;
using QuantSharp.Quantization.Config;

namespace QuantSharp.Quantization.Tests.Config;

/// <summary>Inputs of the legacy and small ops that configure rather than carry data get no quantizer (ParamRoles).</summary>
public class LegacyOpSettingInputsTests
{
    [Theory]
    [InlineData("Scatter", 1)]
    [InlineData("ReverseSequence", 1)]
    [InlineData("MaxUnpool", 1)]
    [InlineData("MaxUnpool", 2)]
    [InlineData("CastLike", 1)]
    public void SettingInput_HasNoParameterKind(string op, int index)
    {
        var g = new Graph();
        var inputs = Enumerable.Range(0, index + 1).Select(i => $"c{i}").ToList();
        foreach (var name in inputs) g.Initializers[name] = Tensor.FromArray(new float[] { 1 }, 1);
        var node = new Node(op, inputs, ["y"], "n");
        g.Nodes.Add(node);
        Assert.Null(ParamRoles.Kind(g, node, index));
        // The data input stays a quantizable constant.
        Assert.NotNull(ParamRoles.Kind(g, node, 0));
    }
}
