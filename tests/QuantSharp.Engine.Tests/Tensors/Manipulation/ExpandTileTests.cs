using QuantSharp.Engine;

namespace QuantSharp.Engine.Tests.Tensors.Manipulation;

public class ExpandTileTests
{
    [Fact]
    public void Expand_OnnxSpecDimChanged()
    {
        var x = Tensor.FromArray([1f, 2, 3], 3, 1);
        var y = TensorOps.Expand(x, [3, 4]);
        Assert.Equal([3, 4], y.Shape);
        Assert.Equal([1f, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3], y.Data);
    }

    [Fact]
    public void Expand_OnnxSpecDimUnchanged_BidirectionalKeepsInputDims()
    {
        var x = Tensor.FromArray([1f, 2, 3], 3, 1);
        var y = TensorOps.Expand(x, [2, 1, 6]);
        Assert.Equal([2, 3, 6], y.Shape);
        Assert.Equal(TensorOpsReference.Expand(x, [2, 3, 6]).Data, y.Data);
    }

    [Fact]
    public void Expand_ShapeOfLowerRank_KeepsInputShape()
    {
        var x = Tensor.FromArray([1, 2, 3, 4, 5, 6], 2, 3);
        Assert.Equal(x.Data, TensorOps.Expand(x, [1]).Data);
    }

    [Fact]
    public void Expand_Incompatible_NamesExpand()
    {
        var e = Assert.Throws<ShapeException>(() => TensorOps.Expand(new Tensor<float>(3), [4]));
        Assert.StartsWith("Expand:", e.Message);
    }

    [Fact]
    public void ExpandBackward_SumsOverBroadcastAxes()
    {
        var g = Tensor.FromArray([1f, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], 2, 2, 3);
        var gx = TensorOps.ExpandBackward(g, [2, 1]);
        // gx[i, 0] = Σ_{b, j} g[b, i, j]
        Assert.Equal([1f + 2 + 3 + 7 + 8 + 9, 4 + 5 + 6 + 10 + 11 + 12], gx.Data);
    }

    [Fact]
    public void ExpandBackward_LargerShapes_MatchNaiveSum()
    {
        var rng = new Random(4);
        var g = Tensor.RandomUniform(rng, -1, 1, 3, 4, 5, 33);
        var gx = TensorOps.ExpandBackward(g, [4, 1, 33]);
        for (int j = 0; j < 4; j++)
            for (int k = 0; k < 33; k++)
            {
                double s = 0;
                for (int a = 0; a < 3; a++)
                    for (int b = 0; b < 5; b++) s += g[a, j, b, k];
                Assert.Equal(s, gx[j, 0, k], 1e-5);
            }
    }

    [Fact]
    public void Tile_OnnxSpec_RepeatsEachAxis()
    {
        var x = Tensor.FromArray([0, 1, 2, 3], 2, 2);
        var y = TensorOps.Tile(x, [2, 2]);
        Assert.Equal([4, 4], y.Shape);
        Assert.Equal([0, 1, 0, 1, 2, 3, 2, 3, 0, 1, 0, 1, 2, 3, 2, 3], y.Data);
    }

    [Fact]
    public void Tile_OddShapes_MatchReference()
    {
        var x = Tensor.RandomUniform(new Random(8), -1, 1, 3, 1, 5);
        int[] reps = [2, 7, 3];
        Assert.Equal(TensorOpsReference.Tile(x, reps).Data, TensorOps.Tile(x, reps.Select(r => (long)r).ToArray()).Data);
    }

    [Fact]
    public void TileBackward_SumsOverTiles()
    {
        var g = Tensor.FromArray([1f, 2, 3, 4, 5, 6], 6);
        Assert.Equal([1f + 3 + 5, 2 + 4 + 6], TensorOps.TileBackward(g, [2], [3]).Data);
    }

    [Fact]
    public void Tile_RepeatsWrongLength_NamesRepeats()
    {
        var e = Assert.Throws<ShapeException>(() => TensorOps.Tile(new Tensor<float>(2, 2), [2]));
        Assert.Contains("Tile: argument 'repeats' expected 2 entries (the input rank), got 1 entries [2]", e.Message);
    }
}
