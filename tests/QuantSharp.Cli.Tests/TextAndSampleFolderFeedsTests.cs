using QuantSharp.Cli;
using QuantSharp.Engine;
using QuantSharp.Onnx.Export;
using Npz = QuantSharp.Data.Npz;

namespace QuantSharp.Cli.Tests;

/// <summary>
/// The other ways transformer data arrives: a folder of .npz samples of different sequence lengths (grouped by shape, never
/// padded), text in one column of a TSV file (by header name or index), and byte-level BPE vocabs (vocab.json + merges.txt,
/// RoBERTa-style). Each through calib and a label-free test or analyze; each wrong case refused in one line naming the file
/// or option, exit 2, nothing written.
/// </summary>
public sealed class TextAndSampleFolderFeedsTests : IDisposable
{
    private const int Vocab = 16, Width = 8;
    private readonly string _dir = Directory.CreateTempSubdirectory("qs-feeds-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Cli(params string[] args) => AnalyzeCommandTests.Cli(args);

    /// <summary>int64 input_ids / attention_mask [batch, sequence] (sequence free) → embedding → masked mean → linear: a sentence encoder's shape.</summary>
    private string Model(int vocab = Vocab)
    {
        var rng = new Random(3);
        var b = new GraphBuilder("encoder", opset: 13);
        var ids = b.Input("input_ids", DataType.Int64, Dim.Symbolic("batch"), Dim.Symbolic("sequence"));
        var mask = b.Input("attention_mask", DataType.Int64, Dim.Symbolic("batch"), Dim.Symbolic("sequence"));
        var words = b.Op1("Gather", [b.Initializer("word_embeddings", Tensor.RandomNormal(rng, 0f, 1f, vocab, Width)), ids], "embed");
        var m = b.Op1("Unsqueeze", [b.Op1("Cast", [mask], "mask_float", ("to", AttributeValue.FromInt(1))), b.Initializer("axis2", Tensor.FromArray(new[] { 2L }, 1))], "mask_3d");
        var pooled = b.Op1("ReduceMean", [b.Mul(words, m, "masked")], "pool", ("axes", AttributeValue.FromInts(1)), ("keepdims", AttributeValue.FromInt(0)));
        b.Output(b.LinearLayer(pooled, Width, 4, rng, "head"), name: "embedding");
        string path = Path.Combine(_dir, $"encoder{vocab}.onnx");
        OnnxExporter.Save(b.Build(), path);
        return path;
    }

    private static void AssertRefused((int Code, string Out, string Err) r, string output, params string[] contains)
    {
        Assert.True(r.Code == CommandLineApp.ExitUsage, $"exit {r.Code}, expected {CommandLineApp.ExitUsage}; stderr: {r.Err}");
        var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        foreach (var c in contains) Assert.Contains(c, lines[0]);
        Assert.False(Directory.Exists(output), $"{output} was written");
    }

    /// <summary>Samples of lengths 4, 6, 4, 5, 6, 4: every other one saved without the sample axis, as single-sample exports often are.</summary>
    private string SampleFolder()
    {
        string dir = Path.Combine(_dir, "samples");
        Directory.CreateDirectory(dir);
        var rng = new Random(8);
        int[] lengths = [4, 6, 4, 5, 6, 4];
        for (int s = 0; s < lengths.Length; s++)
        {
            int n = lengths[s];
            var ids = Enumerable.Range(0, n).Select(_ => (long)rng.Next(1, Vocab)).ToArray();
            var mask = Enumerable.Repeat(1L, n).ToArray();
            int[] shape = s % 2 == 0 ? [1, n] : [n];
            Npz.Write(Path.Combine(dir, $"sample{s:D2}.npz"), [("input_ids", new Tensor<long>(ids, shape)), ("attention_mask", new Tensor<long>(mask, shape))]);
        }
        return dir;
    }

    [Fact]
    public void NpzSampleFolder_OfVariableLengths_CalibratesTestsAndAnalyzesWithoutLabels()
    {
        string model = Model(), data = SampleFolder(), quant = Path.Combine(_dir, "q");
        var calib = Cli("calib", "--model", model, "--data", data, "--output", quant, "--batch-size", "4");
        Assert.True(calib.Code == 0, calib.Err);
        Assert.Contains("data: 6 of 6 samples", calib.Out);
        Assert.Contains("2 other shapes", calib.Out);
        var test = Cli("test", "--model", model, "--quant", quant, "--data", data);
        Assert.True(test.Code == 0, test.Err);
        Assert.Contains("no labels", test.Out);
        Assert.Contains("6 samples", test.Out);
        var analyze = Cli("analyze", "--model", model, "--quant", quant, "--data", data, "--output", Path.Combine(_dir, "report"));
        Assert.True(analyze.Code == 0, analyze.Err);
    }

    [Fact]
    public void Run_OnAFolderOfSamples_RunsEachFileAndWritesItsOutputsInItsOwnFolder()
    {
        string model = Model(), data = SampleFolder(), quant = Path.Combine(_dir, "q"), output = Path.Combine(_dir, "out");
        Assert.Equal(0, Cli("calib", "--model", model, "--data", data, "--output", quant).Code);
        var run = Cli("run", "--quant", quant, "--input", data, "--output", output);
        Assert.True(run.Code == 0, run.Err);
        foreach (var file in NpzSampleFiles(data))
        {
            var y = Npy.Read(Path.Combine(output, Path.GetFileNameWithoutExtension(file), "embedding.npy"));
            Assert.Equal([1, 4], y.Dims.ToArray());
        }
        var single = Cli("run", model, "--input", NpzSampleFiles(data)[1], "--output", Path.Combine(_dir, "one"));
        Assert.True(single.Code == 0, single.Err);
        Assert.True(File.Exists(Path.Combine(_dir, "one", "embedding.npy")));
    }

    [Fact]
    public void Run_OnASampleWithAnUnknownArray_IsRefusedNamingFileAndArray_AndWritesNothing()
    {
        string model = Model(), data = SampleFolder(), output = Path.Combine(_dir, "out");
        Npz.Write(Path.Combine(data, "sample05.npz"), [("input_ids", new Tensor<long>([1, 2], [1, 2])), ("attention_mask", new Tensor<long>([1, 1], [1, 2])), ("token_type_ids", new Tensor<long>([0, 0], [1, 2]))]);
        AssertRefused(Cli("run", model, "--input", data, "--output", output), output, "sample05.npz' array 'token_type_ids'", "no input of that name");
    }

    [Fact]
    public void NpzSampleFolder_LabelsFollowFileNameOrderAcrossShapeGroups()
    {
        string model = Model(), data = SampleFolder(), labels = Path.Combine(_dir, "labels.npy");
        // The FP32 model's own argmax per file, in file-name order: top-1 must then be 100% however samples are grouped.
        var session = new Engine.Runtime.Session(QuantSharp.Onnx.Import.OnnxImporter.Load(model));
        var argmax = NpzSampleFiles(data).Select(f =>
        {
            var feeds = Npz.Read(f).ToDictionary(a => a.Name, a => a.Value.Rank == 1 ? (Tensor)((Tensor<long>)a.Value).Reshape(1, a.Value.Dims[0]) : a.Value);
            var y = session.Run(feeds).Output("embedding");
            return (long)Array.IndexOf(y.Data, y.Data.Max());
        }).ToArray();
        Npy.Write(labels, new Tensor<long>(argmax, argmax.Length));
        var test = Cli("test", "--model", model, "--float", "--data", data, "--labels", labels);
        Assert.True(test.Code == 0, test.Err);
        Assert.Contains("100.00%", test.Out);
    }

    private static string[] NpzSampleFiles(string dir) => Directory.GetFiles(dir, "*.npz").Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public void NpzSampleFolder_FileWithAWrongElementType_IsRefusedNamingTheFile()
    {
        string model = Model(), data = SampleFolder(), output = Path.Combine(_dir, "q");
        string bad = Path.Combine(data, "sample03.npz");
        Npz.Write(bad, [("input_ids", new Tensor<int>([1, 2, 3], [1, 3])), ("attention_mask", new Tensor<long>([1, 1, 1], [1, 3]))]);
        AssertRefused(Cli("calib", "--model", model, "--data", data, "--output", output), output, "sample03.npz", "holds Int32", "'input_ids' is Int64");
    }

    [Fact]
    public void NpzSampleFolder_FileMissingAnInput_IsRefusedNamingIt()
    {
        string model = Model(), data = SampleFolder(), output = Path.Combine(_dir, "q");
        Npz.Write(Path.Combine(data, "sample01.npz"), [("input_ids", new Tensor<long>([1, 2, 3], [1, 3]))]);
        AssertRefused(Cli("calib", "--model", model, "--data", data, "--output", output), output, "'attention_mask'", "not given");
    }

    private string Tsv(bool header)
    {
        string path = Path.Combine(_dir, header ? "pairs_header.tsv" : "pairs.tsv");
        var rows = new List<string>();
        if (header) rows.Add("id\tsentence\tscore");
        var rng = new Random(2);
        string[] words = ["the", "model", "runs", "fast", "on", "a", "phone"];
        for (int i = 0; i < 12; i++) rows.Add($"{i}\t{string.Join(' ', Enumerable.Range(0, 2 + rng.Next(4)).Select(_ => words[rng.Next(words.Length)]))}\t0.{i}");
        File.WriteAllLines(path, rows);
        return path;
    }

    private string WordPieceVocab()
    {
        string path = Path.Combine(_dir, "vocab.txt");
        File.WriteAllLines(path, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "model", "runs", "fast", "on", "a", "phone"]);
        return path;
    }

    [Fact]
    public void TsvColumn_ByHeaderNameOrByIndex_TokenizesThatColumnOnly()
    {
        string model = Model();
        var byName = Cli("calib", "--model", model, "--data", Tsv(header: true), "--column", "sentence", "--vocab", WordPieceVocab(), "--output", Path.Combine(_dir, "q1"));
        Assert.True(byName.Code == 0, byName.Err);
        Assert.Contains("data: 12 of 12 samples", byName.Out);
        var byIndex = Cli("calib", "--model", model, "--data", Tsv(header: true), "--column", "1", "--header", "--vocab", WordPieceVocab(), "--output", Path.Combine(_dir, "q2"));
        Assert.True(byIndex.Code == 0, byIndex.Err);
        Assert.Contains("data: 12 of 12 samples", byIndex.Out);
        var noHeader = Cli("test", "--model", model, "--quant", Path.Combine(_dir, "q2"), "--data", Tsv(header: false), "--column", "1", "--vocab", WordPieceVocab());
        Assert.True(noHeader.Code == 0, noHeader.Err);
        Assert.Contains("12 samples", noHeader.Out);
    }

    [Fact]
    public void TsvColumn_NotInTheHeader_IsRefusedListingTheColumns()
    {
        string model = Model(), output = Path.Combine(_dir, "q"), tsv = Tsv(header: true);
        AssertRefused(Cli("calib", "--model", model, "--data", tsv, "--column", "text", "--vocab", WordPieceVocab(), "--output", output),
            output, "--column 'text'", "pairs_header.tsv", "'id', 'sentence', 'score'");
    }

    [Fact]
    public void TsvColumn_IndexPastARow_IsRefusedNamingTheLine()
    {
        string model = Model(), output = Path.Combine(_dir, "q"), tsv = Tsv(header: false);
        AssertRefused(Cli("calib", "--model", model, "--data", tsv, "--column", "5", "--vocab", WordPieceVocab(), "--output", output),
            output, "pairs.tsv' line 1", "3 columns", "--column 5");
    }

    [Fact]
    public void ColumnWithoutVocab_IsRefusedNamingTheOption()
    {
        string model = Model(), output = Path.Combine(_dir, "q");
        AssertRefused(Cli("calib", "--model", model, "--data", SampleFolder(), "--column", "1", "--output", output), output, "--column goes with --vocab");
    }

    /// <summary>A RoBERTa-style byte-level BPE pair: specials 0–3, letters, "Ġ" (a space) and merged pieces.</summary>
    private (string Vocab, string Merges) Bpe(int extra = 0)
    {
        var tokens = new List<string> { "<s>", "<pad>", "</s>", "<unk>", "a", "b", "c", "Ġ", "ab", "Ġa", "Ġb", "Ġc", "Ġab" };
        tokens.AddRange(Enumerable.Range(0, extra).Select(i => $"x{i}"));
        string vocab = Path.Combine(_dir, $"vocab{extra}.json"), merges = Path.Combine(_dir, "merges.txt");
        File.WriteAllText(vocab, "{" + string.Join(",", tokens.Select((t, i) => $"\"{t}\":{i}")) + "}");
        File.WriteAllLines(merges, ["#version: 0.2", "a b", "Ġ a", "Ġ b", "Ġ c", "Ġa b"]);
        return (vocab, merges);
    }

    [Fact]
    public void BpeVocabWithMerges_RobertaStyle_CalibratesAndTests()
    {
        string model = Model(), text = Path.Combine(_dir, "text.txt"), quant = Path.Combine(_dir, "q");
        File.WriteAllLines(text, ["ab c a", "c c ab b", "a", "b ab ab c a"]);
        var (vocab, _) = Bpe();
        var calib = Cli("calib", "--model", model, "--data", text, "--vocab", vocab, "--output", quant);
        Assert.True(calib.Code == 0, calib.Err);
        Assert.Contains("data: 4 of 4 samples", calib.Out);
        var test = Cli("test", "--model", model, "--quant", quant, "--data", text, "--vocab", vocab);
        Assert.True(test.Code == 0, test.Err);
        Assert.Contains("no labels", test.Out);
    }

    [Fact]
    public void BpeTokens_AreWrappedInStartAndEndAndPaddedWithPad()
    {
        var (vocab, merges) = Bpe();
        var tok = TextTokenizer.Bpe(vocab, merges, mergesGiven: true);
        Assert.Equal([0, 8, 11, 2], tok.Encode("ab c", 16));
        Assert.Equal(1, tok.Padding);
        Assert.Equal(13, tok.Size);
    }

    [Fact]
    public void BpeVocabLargerThanTheEmbeddingTable_IsRefusedNamingBoth()
    {
        string model = Model(), text = Path.Combine(_dir, "text.txt"), output = Path.Combine(_dir, "q");
        File.WriteAllLines(text, ["ab c"]);
        var (vocab, _) = Bpe(extra: 10);
        AssertRefused(Cli("calib", "--model", model, "--data", text, "--vocab", vocab, "--output", output),
            output, $"--vocab '{vocab}' has 23 tokens", $"table of {Vocab} rows", "belongs to another model");
    }

    [Fact]
    public void BpeVocabWithoutMerges_IsRefusedNamingWhatIsMissing()
    {
        string model = Model(), text = Path.Combine(_dir, "text.txt"), output = Path.Combine(_dir, "q");
        File.WriteAllLines(text, ["ab c"]);
        var (vocab, merges) = Bpe();
        File.Delete(merges);
        AssertRefused(Cli("calib", "--model", model, "--data", text, "--vocab", vocab, "--output", output), output, "needs its merges", "--merges FILE");
    }

    /// <summary>The acceptance's bad-input list through test and analyze too (calib is covered in NamedFeedsTests and TextFeedsTests).</summary>
    public static TheoryData<string> Commands => new() { "test", "analyze" };

    private (string Model, string Quant, string Ids, string Mask) Calibrated()
    {
        string model = Model(), quant = Path.Combine(_dir, "q"), ids = Path.Combine(_dir, "ids.npy"), mask = Path.Combine(_dir, "mask.npy");
        Npy.Write(ids, new Tensor<long>(Enumerable.Range(0, 12).Select(i => (long)(1 + i % 5)).ToArray(), [3, 4]));
        Npy.Write(mask, new Tensor<long>(Enumerable.Repeat(1L, 12).ToArray(), [3, 4]));
        Assert.Equal(0, Cli("calib", "--model", model, "--data", $"input_ids={ids}", "--data", $"attention_mask={mask}", "--output", quant).Code);
        return (model, quant, ids, mask);
    }

    private static string[] Args(string command, string model, string quant, string report, params string[] data) =>
        [command, "--model", model, "--quant", quant, .. data, .. command == "analyze" ? new[] { "--output", report } : []];

    [Theory]
    [MemberData(nameof(Commands))]
    public void UnknownInputName_IsRefusedInOneLine(string command)
    {
        var (model, quant, ids, mask) = Calibrated();
        string report = Path.Combine(_dir, "report");
        AssertRefused(Cli(Args(command, model, quant, report, "--data", $"input_ids={ids}", "--data", $"mask={mask}")), report, "'mask'", "no input of that name");
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void MissingInput_IsRefusedInOneLine(string command)
    {
        var (model, quant, ids, _) = Calibrated();
        string report = Path.Combine(_dir, "report");
        AssertRefused(Cli(Args(command, model, quant, report, "--data", $"input_ids={ids}")), report, "'attention_mask'", "not given");
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void WrongElementType_IsRefusedInOneLine(string command)
    {
        var (model, quant, ids, _) = Calibrated();
        string report = Path.Combine(_dir, "report"), floatMask = Path.Combine(_dir, "mask_float.npy");
        Npy.Write(floatMask, new Tensor<float>(3, 4));
        AssertRefused(Cli(Args(command, model, quant, report, "--data", $"input_ids={ids}", "--data", $"attention_mask={floatMask}")), report, "mask_float.npy", "holds Float32", "is Int64");
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void SampleCountsThatDiffer_AreRefusedInOneLine(string command)
    {
        var (model, quant, ids, _) = Calibrated();
        string report = Path.Combine(_dir, "report"), shortMask = Path.Combine(_dir, "mask2.npy");
        Npy.Write(shortMask, new Tensor<long>(Enumerable.Repeat(1L, 8).ToArray(), [2, 4]));
        AssertRefused(Cli(Args(command, model, quant, report, "--data", $"input_ids={ids}", "--data", $"attention_mask={shortMask}")), report, "sample counts differ", "has 3", "has 2");
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void VocabLargerThanTheEmbeddingTable_IsRefusedInOneLine(string command)
    {
        var (model, quant, _, _) = Calibrated();
        string report = Path.Combine(_dir, "report"), text = Path.Combine(_dir, "t.txt"), vocab = Path.Combine(_dir, "big_vocab.txt");
        File.WriteAllLines(text, ["the model", "runs fast"]);
        File.WriteAllLines(vocab, new[] { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" }.Concat(Enumerable.Range(0, 20).Select(i => $"w{i}")));
        AssertRefused(Cli(Args(command, model, quant, report, "--data", text, "--vocab", vocab)), report, "big_vocab.txt' has 25 tokens", $"table of {Vocab} rows");
    }
}
