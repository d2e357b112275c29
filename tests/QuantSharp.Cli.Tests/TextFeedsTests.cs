using QuantSharp.Cli;
using QuantSharp.Engine;
using QuantSharp.Onnx.Export;

namespace QuantSharp.Cli.Tests;

/// <summary>
/// Text through the command line (<c>--data FILE.txt --vocab vocab.txt</c>): lines tokenized with a WordPiece vocab into a
/// BERT-shaped model's int64 input_ids / attention_mask / token_type_ids, through calib and a label-free test; a vocab
/// larger than the model's embedding table and a model input that is not a token input are refused in one line.
/// </summary>
public sealed partial class TextFeedsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("qs-text-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Cli(params string[] args) => AnalyzeCommandTests.Cli(args);

    private static readonly string[] Words = ["the", "model", "runs", "in", "eight", "bit", "integers", "on", "a", "phone", "quant", "##ization", "is", "fast"];

    /// <summary>A vocab of the special tokens and <see cref="Words"/>; <paramref name="extra"/> more tokens make it too big for the model.</summary>
    private string Vocab(int extra = 0)
    {
        string path = Path.Combine(_dir, $"vocab{extra}.txt");
        File.WriteAllLines(path, new[] { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" }.Concat(Words).Concat(Enumerable.Range(0, extra).Select(i => $"extra{i}")));
        return path;
    }

    /// <summary>
    /// Embedding (Gather of input_ids) + token type embedding, masked by attention_mask, mean over tokens, then a linear
    /// layer: the shape of a sentence encoder, with int64 inputs [n, sequence].
    /// </summary>
    private string Model(bool extraFloatInput = false)
    {
        var rng = new Random(4);
        int vocab = 5 + Words.Length, width = 16;
        var b = new GraphBuilder("tiny_bert", opset: 13);
        var ids = b.Input("input_ids", DataType.Int64, Dim.Symbolic("batch"), Dim.Symbolic("sequence"));
        var mask = b.Input("attention_mask", DataType.Int64, Dim.Symbolic("batch"), Dim.Symbolic("sequence"));
        var types = b.Input("token_type_ids", DataType.Int64, Dim.Symbolic("batch"), Dim.Symbolic("sequence"));
        var words = b.Op1("Gather", [b.Initializer("word_embeddings", Tensor.RandomNormal(rng, 0f, 1f, vocab, width)), ids], "embed");
        var segments = b.Op1("Gather", [b.Initializer("type_embeddings", Tensor.RandomNormal(rng, 0f, 0.1f, 2, width)), types], "embed_types");
        var m = b.Op1("Unsqueeze", [b.Op1("Cast", [mask], "mask_float", ("to", AttributeValue.FromInt((long)Onnx.OnnxDataType.Float))), b.Initializer("axis2", Tensor.FromArray(new[] { 2L }))], "mask_3d");
        var h = b.Mul(b.Add(words, segments, "embed_sum"), m, "masked");
        var pooled = b.Op1("ReduceMean", [h], "pool", ("axes", AttributeValue.FromInts(1)), ("keepdims", AttributeValue.FromInt(0)));
        if (extraFloatInput) pooled = b.Add(pooled, b.Input("bias", DataType.Float32, Dim.Fixed(1), Dim.Fixed(width)), "add_bias");
        b.Output(b.LinearLayer(pooled, width, 8, rng, "head"), name: "embedding");
        string path = Path.Combine(_dir, extraFloatInput ? "tiny_bert_bias.onnx" : "tiny_bert.onnx");
        OnnxExporter.Save(b.Build(), path);
        return path;
    }

    private string Text(string name, int lines)
    {
        var rng = new Random(lines);
        string path = Path.Combine(_dir, name);
        File.WriteAllLines(path, Enumerable.Range(0, lines).Select(_ => string.Join(' ', Enumerable.Range(0, 3 + rng.Next(8)).Select(_ => Words[rng.Next(Words.Length)].TrimStart('#')))));
        return path;
    }

    [Fact]
    public void TextWithVocab_CalibratesAndTestsWithoutLabels()
    {
        string model = Model(), vocab = Vocab(), quant = Path.Combine(_dir, "q");
        var calib = Cli("calib", "--model", model, "--data", Text("calib.txt", 40), "--vocab", vocab, "--max-length", "12", "--output", quant, "--batch-size", "8");
        Assert.True(calib.Code == 0, calib.Err);
        Assert.Contains("data: 40 of 40 samples", calib.Out);
        Assert.Contains("input_ids", calib.Out);
        var test = Cli("test", "--model", model, "--quant", quant, "--data", Text("test.txt", 16), "--vocab", vocab, "--max-length", "12");
        Assert.True(test.Code == 0, test.Err);
        Assert.Contains("no labels", test.Out);
        Assert.Contains("embedding", test.Out);
    }

    [Fact]
    public void VocabLargerThanTheEmbeddingTable_IsRefusedNamingBoth()
    {
        string model = Model(), vocab = Vocab(extra: 3), output = Path.Combine(_dir, "q");
        var r = Cli("calib", "--model", model, "--data", Text("calib.txt", 8), "--vocab", vocab, "--output", output);
        Assert.Equal(CommandLineApp.ExitUsage, r.Code);
        Assert.Equal($"quantsharp: error: --vocab '{vocab}' has {5 + Words.Length + 3} tokens, but model '{model}' embeds input_ids with a table of {5 + Words.Length} rows ('word_embeddings'): the vocab belongs to another model", r.Err.Trim());
        Assert.False(Directory.Exists(output));
    }

    [Fact]
    public void ModelInputThatIsNotATokenInput_IsRefusedNamingIt()
    {
        string model = Model(extraFloatInput: true), output = Path.Combine(_dir, "q");
        var r = Cli("calib", "--model", model, "--data", Text("calib.txt", 8), "--vocab", Vocab(), "--output", output);
        Assert.Equal(CommandLineApp.ExitUsage, r.Code);
        Assert.Contains("input 'bias' (Float32) is not a token input", r.Err);
        Assert.Single(r.Err.Trim().Split('\n'));
        Assert.False(Directory.Exists(output));
    }
}
