using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using QuantSharp.Engine;
using QuantSharp.Onnx;
using QuantSharp.Quantization.Sim;
using Xunit.Abstractions;

namespace QuantSharp.Quantization.Tests.Sim;

/// <summary>A damaged or edited <c>model.qsim</c> never loads as a different sim: checksums name what changed.</summary>
public sealed class SimCheckpointIntegrityTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("qs-ckpt-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Saved(IReadOnlyDictionary<string, string>? metadata = null)
    {
        var sim = new QuantizationSimModel(SimTestModels.SmallCnn(3));
        var x = Tensor.RandomUniform(new Random(5), 0f, 1f, 8, 1, 28, 28);
        sim.ComputeEncodings(s => s.Run(new Dictionary<string, Tensor> { ["image"] = x }));
        string file = Path.Combine(_dir, "model.qsim");
        SimCheckpoint.Save(sim, file, metadata);
        return file;
    }

    /// <summary>The uncompressed entries of a checkpoint, which fully determine the sim it loads as.</summary>
    private static Dictionary<string, byte[]> Entries(string file)
    {
        using var zip = ZipFile.OpenRead(file);
        return zip.Entries.ToDictionary(e => e.FullName, e =>
        {
            using var s = e.Open();
            using var m = new MemoryStream();
            s.CopyTo(m);
            return m.ToArray();
        });
    }

    /// <summary>Rewrites a checkpoint with some entries replaced (a well-formed ZIP, so only our checksums can notice).</summary>
    private string Rewritten(string file, string name, Func<Dictionary<string, byte[]>, Dictionary<string, byte[]>> edit)
    {
        var entries = edit(Entries(file));
        string path = Path.Combine(_dir, name);
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        foreach (var (entry, bytes) in entries)
            using (var s = zip.CreateEntry(entry).Open()) s.Write(bytes);
        return path;
    }

    /// <summary>The state a loaded sim saves back to: equal states are equal sims.</summary>
    private string Resaved(QuantizationSimModel sim, IReadOnlyDictionary<string, string> metadata)
    {
        string path = Path.Combine(_dir, "resaved.qsim");
        SimCheckpoint.Save(sim, path, metadata);
        return Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(Entries(path).OrderBy(e => e.Key).SelectMany(e => e.Value).ToArray()));
    }

    [Fact]
    public void SingleBitFlips_AtSeededRandomPositions_AllFailNamingTheFileOrLoadTheIdenticalSim()
    {
        string file = Saved(new Dictionary<string, string> { ["source_model"] = "a.onnx" });
        var original = File.ReadAllBytes(file);
        string reference = Resaved(SimCheckpoint.Load(file, out var meta), meta);
        var rng = new Random(17);
        string flipped = Path.Combine(_dir, "flipped.qsim");
        int errors = 0, identical = 0;
        var silent = new List<string>();
        for (int i = 0; i < 300; i++)
        {
            int pos = rng.Next(original.Length), bit = rng.Next(8);
            var bytes = (byte[])original.Clone();
            bytes[pos] ^= (byte)(1 << bit);
            File.WriteAllBytes(flipped, bytes);
            try
            {
                var sim = SimCheckpoint.Load(flipped, out var m);
                if (Resaved(sim, m) == reference) identical++;
                else silent.Add($"byte {pos} bit {bit}");
            }
            catch (InvalidDataException e)
            {
                Assert.Contains("flipped.qsim", e.Message);
                errors++;
            }
        }
        output.WriteLine($"{original.Length}-byte checkpoint, 300 single-bit flips: {errors} errors, {identical} identical loads, {silent.Count} silent changes");
        Assert.True(silent.Count == 0, $"{silent.Count} flips loaded a different sim: {string.Join(", ", silent.Take(10))}");
        Assert.Equal(300, errors + identical);
        // Most of the file is payload; only ZIP bookkeeping (timestamps, attributes) may flip without effect.
        Assert.True(errors > identical, $"{errors} errors, {identical} identical loads");
    }

    [Fact]
    public void ChangedWeight_InAWellFormedArchive_NamesTheTensor()
    {
        string file = Saved();
        string bad = Rewritten(file, "weight.qsim", entries =>
        {
            var model = OnnxModel.Load(entries["model.onnx"]);
            var t = model.Graph.Initializers.Single(t => t.Name == "conv2.weight");
            var weights = OnnxTensorConverter.ToTensor<float>(t);
            weights.Data[0] += 0.25f;
            var replaced = OnnxTensor.FromTensor(weights, t.Name);
            model.Graph.Initializers[model.Graph.Initializers.IndexOf(t)] = replaced;
            entries["model.onnx"] = model.ToBytes();
            return entries;
        });
        var e = Assert.Throws<InvalidDataException>(() => SimCheckpoint.Load(bad));
        Assert.Contains("weight.qsim", e.Message);
        Assert.Contains("tensor 'conv2.weight' does not match its checksum", e.Message);
        Assert.Contains("re-run calib", e.Message);
    }

    [Fact]
    public void EditedQuantizerState_InAWellFormedArchive_NamesTheSection()
    {
        string file = Saved();
        string bad = Rewritten(file, "state.qsim", entries =>
        {
            var state = JsonNode.Parse(entries["quantizers.json"])!;
            state["quantizers"]![0]!["bitwidth"] = 4;
            entries["quantizers.json"] = Encoding.UTF8.GetBytes(state.ToJsonString());
            return entries;
        });
        var e = Assert.Throws<InvalidDataException>(() => SimCheckpoint.Load(bad));
        Assert.Contains("state.qsim", e.Message);
        Assert.Contains("section 'quantizers.json' does not match its checksum", e.Message);
    }

    [Fact]
    public void VersionOneCheckpoint_WithoutChecksums_IsRefusedAskingToRerunCalib()
    {
        string file = Saved();
        string old = Rewritten(file, "old.qsim", entries =>
        {
            var state = JsonNode.Parse(entries["quantizers.json"])!;
            state["version"] = 1;
            entries["quantizers.json"] = Encoding.UTF8.GetBytes(state.ToJsonString());
            entries.Remove("checksums.json");
            return entries;
        });
        var e = Assert.Throws<InvalidDataException>(() => SimCheckpoint.Load(old));
        Assert.Contains("old.qsim", e.Message);
        Assert.Contains("format version 1, without checksums); re-run calib", e.Message);
    }

    [Fact]
    public void Metadata_RoundTripsWithTheSim()
    {
        string file = Saved(new Dictionary<string, string> { ["source_model"] = "nets/a.onnx", ["k"] = "v" });
        SimCheckpoint.Load(file, out var metadata);
        Assert.Equal("nets/a.onnx", metadata["source_model"]);
        Assert.Equal("v", metadata["k"]);
    }
}
