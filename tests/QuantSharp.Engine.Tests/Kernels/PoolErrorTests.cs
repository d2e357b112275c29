using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;

namespace QuantSharp.Engine.Tests.Kernels;

public class PoolErrorTests
{
    private static void AssertMessage(Action a, params string[] parts)
    {
        var e = Assert.Throws<ShapeException>(a);
        foreach (var p in parts) Assert.Contains(p, e.Message);
    }

    [Fact]
    public void PoolParams_NegativePad_NamesPads()
        => AssertMessage(() => new PoolParams([3, 3], pads: [0, -1, 0, 0]), "PoolParams", "'pads'", ">= 0", "[0,-1,0,0]");

    [Fact]
    public void PoolParams_ZeroStride_NamesStrides()
        => AssertMessage(() => new PoolParams([2, 2], [0, 2]), "PoolParams", "'strides'", ">= 1", "[0,2]");

    [Fact]
    public void PoolParams_StridesRankMismatch_NamesExpectedCount()
        => AssertMessage(() => new PoolParams([2, 2], [2]), "'strides'", "expected 2 values", "got 1 values");

    [Fact]
    public void PoolParams_PadNotSmallerThanKernel_NamesPads()
        => AssertMessage(() => new PoolParams([2], pads: [2, 0]), "'pads'", "smaller than the kernel", "[2,0]");

    [Fact]
    public void PoolParams_ZeroKernelOrFourAxes_NamesKernelShape()
    {
        AssertMessage(() => new PoolParams([0, 2]), "'kernel_shape'", ">= 1");
        AssertMessage(() => new PoolParams([2, 2, 2, 2]), "'kernel_shape'", "1 to 3 values");
    }

    [Fact]
    public void MaxPool_KernelRankMismatch_NamesOpAndInputRank()
        => AssertMessage(() => Pool.MaxPool(new Tensor<float>(1, 1, 4), new PoolParams([2, 2])), "MaxPool", "'X'", "expected rank 4", "rank 3");

    [Fact]
    public void AveragePool_InputSmallerThanWindow_NamesOpAndSize()
        => AssertMessage(() => Pool.AveragePool(new Tensor<float>(1, 1, 2), new PoolParams([3])), "AveragePool", "'X'", "got 2");

    [Fact]
    public void GlobalAveragePool_Rank2_NamesOp()
        => AssertMessage(() => Pool.GlobalAveragePool(new Tensor<float>(2, 3)), "GlobalAveragePool", "'X'", "rank >= 3", "[2,3]");

    [Fact]
    public void MaxPoolBackward_IndexOutsideItsPlane_NamesIndices()
    {
        var gy = Tensor.Ones(1, 2, 1);
        var idx = Tensor.FromArray([0L, 0L], 1, 2, 1); // second plane's index points into the first plane
        AssertMessage(() => Pool.MaxPoolBackward(gy, idx, [1, 2, 3]), "MaxPoolBackward", "'indices'", "[3, 6)", "got 0");
    }

    [Fact]
    public void AveragePoolBackward_WrongGradShape_NamesGradY()
        => AssertMessage(() => Pool.AveragePoolBackward(Tensor.Ones(1, 1, 3), [1, 1, 4], new PoolParams([2], [2])), "AveragePoolBackward", "'gradY'", "[1,1,2]", "[1,1,3]");
}
