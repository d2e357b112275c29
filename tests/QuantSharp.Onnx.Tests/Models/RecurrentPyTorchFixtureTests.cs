using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Onnx.Import;

namespace QuantSharp.Onnx.Tests.Models;

/// <summary>
/// Two-layer nn.LSTM / nn.GRU / nn.RNN (tanh; relu bidirectional) models (input 5, hidden 7, batch_first) exported by <c>torch.onnx.export</c> (opset 14) with
/// PyTorch's own outputs, committed under <c>tests/QuantSharp.Onnx.Tests/Fixtures/recurrent</c> by
/// <c>scripts/fixtures/make_recurrent_fixtures.py</c>: imported with <see cref="OnnxImporter"/> and run through
/// <see cref="Session"/>, every output (y, h_n, c_n) matches PyTorch within 1e-5, and so does the gradient with respect to
/// the input that <see cref="Session.Backward"/> computes for a fixed output gradient. PyTorch's GRU exports with
/// linear_before_reset = 1 and its bidirectional layers feed the next layer through Transpose/Reshape, so this covers the
/// import path and the ops around the recurrent nodes too.
/// </summary>
public class RecurrentPyTorchFixtureTests
{
    public static TheoryData<string> Models() => new("lstm_2layer", "lstm_2layer_bidirectional", "gru_2layer",
        "gru_2layer_bidirectional", "rnn_2layer_tanh", "rnn_2layer_relu_bidirectional");

    [Theory]
    [MemberData(nameof(Models))]
    public void ExportedTorchModel_MatchesPyTorchOutput(string name)
    {
        string dir = FixtureFolder();
        var graph = OnnxImporter.Load(Path.Combine(dir, name + ".onnx"));
        var x = Npy.Read<float>(Path.Combine(dir, name + ".x.npy"));
        var run = new Session(graph).Run(new Dictionary<string, Tensor> { ["x"] = x });
        string[] outputs = name.StartsWith("lstm", StringComparison.Ordinal) ? ["y", "h_n", "c_n"] : ["y", "h_n"];
        Assert.Equal(outputs.Length, graph.Outputs.Count);
        foreach (var o in outputs)
        {
            var expected = Npy.Read<float>(Path.Combine(dir, $"{name}.{o}.npy"));
            var got = run.Output(o);
            Assert.Equal(expected.Dims.ToArray(), got.Dims.ToArray());
            for (int i = 0; i < expected.Length; i++)
                Assert.True(Math.Abs(expected.Data[i] - got.Data[i]) <= 1e-5f, $"{name} {o}[{i}]: PyTorch {expected.Data[i]}, Session {got.Data[i]}");
        }
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void ExportedTorchModel_InputGradient_MatchesTorchAutograd(string name)
    {
        // d(Σ c⊙y)/dx back-propagated by Session through the imported graph (recurrent nodes, the Transpose/Reshape between
        // layers, the zero initial states built from Shape/Expand) against torch autograd on the original module.
        string dir = FixtureFolder();
        var session = new Session(OnnxImporter.Load(Path.Combine(dir, name + ".onnx")));
        var x = Npy.Read<float>(Path.Combine(dir, name + ".x.npy"));
        var run = session.Run(new Dictionary<string, Tensor> { ["x"] = x }, new RunOptions { KeepForBackward = true });
        var grads = session.Backward(run, new Dictionary<string, Tensor<float>> { ["y"] = Npy.Read<float>(Path.Combine(dir, name + ".gy.npy")) });
        var expected = Npy.Read<float>(Path.Combine(dir, name + ".dx.npy"));
        Assert.True(grads.TryGetValue("x", out var dx), $"{name}: no gradient reached x");
        Assert.Equal(expected.Dims.ToArray(), dx!.Dims.ToArray());
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected.Data[i] - dx.Data[i]) <= 1e-5f, $"{name} dx[{i}]: torch {expected.Data[i]}, Session {dx.Data[i]}");
    }

    private static string FixtureFolder()
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d is not null && !File.Exists(Path.Combine(d.FullName, "QuantSharp.slnx"))) d = d.Parent;
        string? dir = d is null ? null : Path.Combine(d.FullName, "tests", "QuantSharp.Onnx.Tests", "Fixtures", "recurrent");
        if (dir is null || !Directory.Exists(dir)) Assert.Fail($"fixture folder tests/QuantSharp.Onnx.Tests/Fixtures/recurrent not found above {AppContext.BaseDirectory}");
        return dir!;
    }
}
