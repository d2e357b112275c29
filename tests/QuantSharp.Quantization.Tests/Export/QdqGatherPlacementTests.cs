using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Quantization.Export;

namespace QuantSharp.Quantization.Tests.Export;

/// <summary><see cref="QdqPlacement.MoveDequantizeAfterGather"/>: an embedding table gathered on its integer levels, the same values out.</summary>
public class QdqGatherPlacementTests
{
    /// <summary>
    /// int8 table [10, 4] → DequantizeLinear (per tensor; per column, axis 1, when <paramref name="perAxis"/>; per row, axis 0,
    /// when <paramref name="perRow"/>) → Gather(ids [2, 3]) → "y".
    /// </summary>
    private static Graph Embedding(bool perAxis, bool secondReader = false, bool perRow = false)
    {
        var g = new Graph { Name = "embedding" };
        g.Opsets[""] = 13;
        g.Inputs.Add(new ValueInfo("ids", DataType.Int64, [Dim.Fixed(2), Dim.Fixed(3)]));
        var rng = new Random(3);
        var levels = new Tensor<sbyte>(10, 4);
        for (int i = 0; i < levels.Length; i++) levels.Data[i] = (sbyte)rng.Next(-128, 128);
        g.Initializers["table_int8"] = levels;
        g.Initializers["table_scale"] = perAxis ? Tensor.FromArray([0.1f, 0.2f, 0.3f, 0.4f], 4)
            : perRow ? Tensor.FromArray(Enumerable.Range(1, 10).Select(i => 0.013f * i).ToArray(), 10) : Tensor.Scalar(0.05f);
        var zeroPoints = new Tensor<sbyte>(10);
        for (int i = 0; i < 10; i++) zeroPoints.Data[i] = (sbyte)(i - 4);
        g.Initializers["table_zero_point"] = perAxis ? new Tensor<sbyte>(4) : perRow ? zeroPoints : Tensor<sbyte>.Scalar(3);
        var dq = new Node("DequantizeLinear", ["table_int8", "table_scale", "table_zero_point"], ["table"], "table_DequantizeLinear");
        if (perAxis) dq = dq.With("axis", AttributeValue.FromInt(1));
        if (perRow) dq = dq.With("axis", AttributeValue.FromInt(0));
        g.Nodes.Add(dq);
        g.Nodes.Add(new Node("Gather", ["table", "ids"], ["y"], "embed"));
        g.Outputs.Add(new ValueInfo("y", DataType.Float32, (IEnumerable<Dim>?)null));
        if (secondReader)
        {
            g.Nodes.Add(new Node("ReduceSum", ["table"], ["total"], "sum"));
            g.Outputs.Add(new ValueInfo("total", DataType.Float32, (IEnumerable<Dim>?)null));
        }
        return g;
    }

    private static Dictionary<string, Tensor> Ids() => new() { ["ids"] = Tensor.FromArray(new long[] { 0, 9, 4, 4, 7, 1 }, 2, 3) };

    [Fact]
    public void PerTensorTable_GatheredOnItsLevels_SameValues()
    {
        var g = Embedding(perAxis: false);
        var expected = new Session(g).Run(Ids()).Output("y");
        Assert.Equal(1, QdqPlacement.MoveDequantizeAfterGather(g));
        var gather = Assert.Single(g.Nodes, n => n.OpType == "Gather");
        Assert.Equal("table_int8", gather.Inputs[0]);
        var dq = Assert.Single(g.Nodes, n => n.OpType == "DequantizeLinear");
        Assert.Equal(gather.Outputs[0], dq.Inputs[0]);
        Assert.Equal("y", dq.Outputs[0]);
        Assert.True(g.Nodes.IndexOf(gather) < g.Nodes.IndexOf(dq));
        Assert.Equal(expected.Data, new Session(g).Run(Ids()).Output("y").Data);
    }

    [Fact]
    public void PerRowTable_RowsGatheredWithTheirScalesAndZeroPoints_SameValues()
    {
        var g = Embedding(perAxis: false, perRow: true);
        var expected = new Session(g).Run(Ids()).Output("y");
        Assert.Equal(1, QdqPlacement.MoveDequantizeAfterGather(g));
        Assert.DoesNotContain(g.Nodes, n => n.OpType == "DequantizeLinear");
        Assert.Equal("table_int8", g.Nodes.First(n => n.OpType == "Gather").Inputs[0]);
        Assert.Equal(expected.Data, new Session(g).Run(Ids()).Output("y").Data);
    }

    [Fact]
    public void PerAxisTable_OrATableWithAnotherReader_IsLeftAlone()
    {
        Assert.Equal(0, QdqPlacement.MoveDequantizeAfterGather(Embedding(perAxis: true)));
        Assert.Equal(0, QdqPlacement.MoveDequantizeAfterGather(Embedding(perAxis: false, secondReader: true)));
    }
}
