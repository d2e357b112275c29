using QuantSharp.Tests.Shared;
using QuantSharp.Data.Images;
using QuantSharp.Engine;
using QuantSharp.Onnx;
using QuantSharp.Onnx.Tests;

namespace QuantSharp.Fuzz;

/// <summary>A reader under fuzzing: its seed inputs, how to read one, the errors it may legitimately raise, and an optional fix-up of mutants.</summary>
internal sealed record FuzzTarget(string Name, IReadOnlyList<byte[]> Seeds, Action<byte[]> Read, Func<Exception, bool> Expected, Action<byte[]>? Fix = null);

/// <summary>The four readers and their seeds.</summary>
internal static class FuzzTargets
{
    public static readonly string[] Names = ["onnx", "npy", "npz", "png", "jpeg"];

    public static FuzzTarget Create(string name) => name switch
    {
        "onnx" => new("onnx", [TestModels.Rich().ToBytes()], ReadOnnx, e => e is InvalidDataException),
        "npy" => new("npy", ReaderSeeds.NpyNames.Select(ReaderSeeds.Npy).ToList(), b => Npy.Read(new MemoryStream(b), "fuzz.npy"), e => e is InvalidDataException),
        "npz" => new("npz", [ReaderSeeds.Npz()], b => Data.Npz.Read(new MemoryStream(b), "fuzz.npz"), e => e is InvalidDataException),
        "png" => new("png", Seeds(".png"), b => ImageDecoder.Decode(b, "fuzz.png"), e => e is ImageFormatException, PngCrcFixup.Apply),
        "jpeg" => new("jpeg", Seeds(".jpg"), b => ImageDecoder.Decode(b, "fuzz.jpg"), e => e is ImageFormatException),
        _ => throw new ArgumentException($"no fuzz target '{name}'", nameof(name)),
    };

    /// <summary>Parses the model and converts every inline tensor, as loading a model for the engine does.</summary>
    private static void ReadOnnx(byte[] bytes)
    {
        var m = OnnxModel.Load(bytes, "fuzz.onnx");
        foreach (var t in OnnxExternalData.AllTensors(m.Graph))
            if (t.DataLocation != OnnxDataLocation.External) t.ToTensor();
    }

    private static List<byte[]> Seeds(string extension) =>
        Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Seeds"), "*" + extension).Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToList();

}
