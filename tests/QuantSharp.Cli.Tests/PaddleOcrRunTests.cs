using QuantSharp.Cli;
using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Onnx.Import;
using QuantSharp.Tests.Shared;

namespace QuantSharp.Cli.Tests;

/// <summary>
/// <c>quantsharp run</c> on the paddle2onnx PaddleOCR models (opset 9 and 11; Slice-1 among their ops): each loads, runs
/// and writes its output, bit-identical to a <see cref="Session"/> run on the same input. Needs the npm registry (HTTPS).
/// </summary>
[Trait("Category", "PublishedModels")]
public sealed class PaddleOcrRunTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("qs-ocr-run-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string, int, int> Models => new()
    {
        { nameof(PublishedModels.OcrDetV4), 320, 320 },
        { nameof(PublishedModels.OcrRecV4), 48, 320 },
        { nameof(PublishedModels.OcrCls), 48, 192 },
    };

    [Theory]
    [MemberData(nameof(Models))]
    public void Run_PaddleOcrModel_WritesTheSessionsOutput(string name, int h, int w)
    {
        var model = (PublishedModels.Model)typeof(PublishedModels).GetField(name)!.GetValue(null)!;
        string path = PublishedModels.Get(model);
        var x = Tensor.RandomUniform(new Random(h + w), -1f, 1f, [1, 3, h, w]);
        string input = Path.Combine(_dir, "x.npy");
        Npy.Write(input, x);
        var o = new StringWriter();
        var e = new StringWriter();
        int code = CommandLineApp.Run(["run", path, "--input", $"x={input}", "--output", _dir], o, e);
        Assert.True(code == 0, e.ToString());

        var graph = OnnxImporter.Load(path);
        string outputName = graph.Outputs[0].Name;
        var expected = new Session(graph).Run(new Dictionary<string, Tensor> { ["x"] = x }).Output(outputName);
        var written = Npy.Read<float>(Path.Combine(_dir, RunCommand.SafeFileName(outputName) + ".npy"));
        Assert.Equal(expected.Shape, written.Shape);
        Assert.Equal(expected.Data, written.Data);
    }
}
