using Microsoft.ML.OnnxRuntime;
using QuantSharp.Engine;
using QuantSharp.Onnx.Export;

namespace QuantSharp.Onnx.Tests.Support;

/// <summary>
/// The in-process ONNX Runtime runner itself: the NuGet's native library loads, feeds of every element type the tests use
/// go in and come back as engine tensors of the same type, and results match hand-computed values.
/// </summary>
[Trait("Category", OrtRunner.Category)]
public sealed class OrtRunnerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("qs-ortrunner-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void NativeRuntime_FromTheNuGet_Loads_Version1_32()
    {
        Assert.StartsWith("1.32.", OrtRunner.Version);
    }

    [Fact]
    public void Add_FloatFeeds_MatchesHandComputed()
    {
        var b = new GraphBuilder("add");
        var x = b.Input("x", DataType.Float32, Dim.Fixed(2), Dim.Fixed(2));
        var y = b.Input("y", DataType.Float32, Dim.Fixed(2));
        b.Output(b.Add(x, y), name: "z");
        var z = (Tensor<float>)OrtRunner.Run(b.Build(), new Dictionary<string, Tensor>
        {
            ["x"] = Tensor.FromArray([1f, 2f, 3f, 4f], 2, 2),
            ["y"] = Tensor.FromArray([10f, -0.5f], 2),
        })["z"];
        Assert.Equal([2, 2], z.Shape);
        Assert.Equal([11f, 1.5f, 13f, 3.5f], z.Data);
    }

    public static TheoryData<DataType> ElementTypes => new()
    {
        DataType.Float32, DataType.Float64, DataType.Int64, DataType.Int32, DataType.Int16, DataType.UInt16,
        DataType.Bool, DataType.UInt8, DataType.Int8,
    };

    private static Tensor Sample(DataType type) => type switch
    {
        DataType.Float32 => Tensor.FromArray([1.5f, -2.25f, 3e-8f], 3),
        DataType.Float64 => Tensor.FromArray([1.5, -2.25, 1e-300], 3),
        DataType.Int64 => Tensor.FromArray([long.MaxValue, -1L, 0L], 3),
        DataType.Int32 => Tensor.FromArray([int.MinValue, 7, -7], 3),
        DataType.Int16 => Tensor.FromArray<short>([short.MinValue, 300, -1], 3),
        DataType.UInt16 => Tensor.FromArray<ushort>([ushort.MaxValue, 300, 0], 3),
        DataType.Bool => Tensor.FromArray([true, false, true], 3),
        DataType.UInt8 => Tensor.FromArray<byte>([255, 0, 128], 3),
        DataType.Int8 => Tensor.FromArray<sbyte>([-128, 127, -1], 3),
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    [Theory]
    [MemberData(nameof(ElementTypes))]
    public void Identity_EveryElementType_ComesBackWithTheSameTypeAndValues(DataType type)
    {
        var b = new GraphBuilder($"identity_{type}");
        var x = b.Input("x", type, Dim.Fixed(3));
        b.Output(b.Identity(x), type, name: "y");
        var input = Sample(type);
        var y = OrtRunner.Run(b.Build(), new Dictionary<string, Tensor> { ["x"] = input })["y"];
        Assert.Equal(type, y.DataType);
        Assert.Equal([3], y.Shape);
        Assert.Equal(input.RawData.Cast<object>(), y.RawData.Cast<object>());
    }

    [Fact]
    public void Int64Add_FromAFile_AllOutputsWhenNoneNamed()
    {
        var b = new GraphBuilder("int64_add");
        var x = b.Input("x", DataType.Int64, Dim.Fixed(2));
        var one = b.Initializer("one", Tensor.FromArray([1L, -1L], 2));
        b.Output(b.Add(x, one), DataType.Int64, name: "sum");
        b.Output(b.Identity(x), DataType.Int64, name: "same");
        string path = Path.Combine(_dir, "int64_add.onnx");
        OnnxExporter.Save(b.Build(), path);
        var outputs = OrtRunner.Run(path, new Dictionary<string, Tensor> { ["x"] = Tensor.FromArray([41L, 5_000_000_000L], 2) });
        Assert.Equal(["same", "sum"], outputs.Keys.Order());
        Assert.Equal([42L, 4_999_999_999L], ((Tensor<long>)outputs["sum"]).Data);
    }

    [Theory]
    [InlineData(GraphOptimizationLevel.ORT_DISABLE_ALL)]
    [InlineData(GraphOptimizationLevel.ORT_ENABLE_BASIC)]
    [InlineData(GraphOptimizationLevel.ORT_ENABLE_ALL)]
    public void MatMulAdd_AtEachOptimizationLevel_MatchesHandComputed(GraphOptimizationLevel level)
    {
        // MatMul followed by Add is what ORT's higher levels fuse (into Gemm/FusedMatMul): each level must still agree.
        var b = new GraphBuilder("matmul_add");
        var x = b.Input("x", DataType.Float32, Dim.Fixed(1), Dim.Fixed(2));
        var w = b.Initializer("w", Tensor.FromArray([1f, 2f, 3f, 4f, 5f, 6f], 2, 3));
        var bias = b.Initializer("b", Tensor.FromArray([0.5f, -0.5f, 1f], 3));
        b.Output(b.Add(b.MatMul(x, w), bias), name: "y");
        var y = (Tensor<float>)OrtRunner.Run(b.Build(), new Dictionary<string, Tensor> { ["x"] = Tensor.FromArray([2f, -1f], 1, 2) }, level)["y"];
        // [2, −1]·[[1, 2, 3], [4, 5, 6]] = [−2, −1, 0]; plus the bias.
        Assert.Equal([-1.5f, -1.5f, 1f], y.Data);
    }

    [Fact]
    public void NotAnOnnxModel_FailsNamingTheModel()
    {
        var e = Assert.Throws<InvalidOperationException>(() =>
            OrtRunner.Run([1, 2, 3, 4], "garbage.onnx", new Dictionary<string, Tensor>()));
        Assert.Contains("garbage.onnx", e.Message);
    }
}
