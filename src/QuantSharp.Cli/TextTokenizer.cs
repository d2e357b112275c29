using System.Text.Json;
using Microsoft.ML.Tokenizers;

namespace QuantSharp.Cli;

/// <summary>
/// A tokenizer as text feeds need it: ids of one sample with the model family's start/end tokens, at most a given count;
/// the id padding uses; the vocab's size (checked against the model's embedding table).
/// </summary>
internal sealed class TextTokenizer
{
    private readonly Func<string, int, IReadOnlyList<int>> _encode;

    private TextTokenizer(Func<string, int, IReadOnlyList<int>> encode, int padding, int size)
    {
        _encode = encode;
        Padding = padding;
        Size = size;
    }

    /// <summary>The id of padding positions.</summary>
    public int Padding { get; }

    /// <summary>Ids the vocab can produce (the embedding table needs at least this many rows).</summary>
    public int Size { get; }

    /// <summary>The ids of <paramref name="text"/>, start and end tokens included, at most <paramref name="limit"/>.</summary>
    public IReadOnlyList<int> Encode(string text, int limit) => _encode(text, limit);

    /// <summary>A WordPiece vocab.txt (one token per line) as BERT uses it: <c>[CLS] … [SEP]</c>, padded with <c>[PAD]</c>.</summary>
    public static TextTokenizer WordPiece(string vocabPath)
    {
        int size = TextFeeds.ReadText(vocabPath, "--vocab").Split('\n').Count(l => l.TrimEnd('\r').Length > 0);
        BertTokenizer bert;
        try { bert = BertTokenizer.Create(vocabPath); }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException or IOException)
        {
            throw new UsageException($"--vocab '{vocabPath}': not a WordPiece vocab (one token per line, with [CLS], [SEP], [PAD] and [UNK]): {e.Message}");
        }
        return new TextTokenizer((text, limit) => bert.EncodeToIds(text, limit, out _, out _), bert.PaddingTokenId, size);
    }

    /// <summary>
    /// A byte-level BPE vocab.json with its merges.txt. RoBERTa's vocabs hold <c>&lt;s&gt;</c>/<c>&lt;/s&gt;</c>, which then
    /// wrap each sample; GPT-2's do not, and samples are its bare tokens. Padding is <c>&lt;pad&gt;</c>, else
    /// <c>&lt;|endoftext|&gt;</c> (what GPT-2 pipelines pad with), else 0; the attention mask hides it either way.
    /// </summary>
    public static TextTokenizer Bpe(string vocabPath, string mergesPath, bool mergesGiven)
    {
        Dictionary<string, int> vocab;
        try { vocab = JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllBytes(vocabPath)) ?? []; }
        catch (JsonException e)
        {
            throw new UsageException($"--vocab '{vocabPath}': not a BPE vocab.json (one object of token → id): {e.Message}");
        }
        if (vocab.Count == 0) throw new UsageException($"--vocab '{vocabPath}': an empty BPE vocab");
        if (!File.Exists(mergesPath))
            throw new UsageException(mergesGiven ? $"--merges: file '{mergesPath}' does not exist"
                : $"--vocab '{vocabPath}' is a BPE vocab and needs its merges: no '{mergesPath}' beside it; pass --merges FILE");
        BpeTokenizer bpe;
        try
        {
            // Byte-level as GPT-2 and RoBERTa are (spaces become "Ġ"); their vocabs name the unknown token differently, if at all.
            var options = new BpeOptions(vocab)
            {
                Merges = File.ReadAllLines(mergesPath).Where(l => l.Length > 0 && !l.StartsWith("#version", StringComparison.Ordinal)),
                ByteLevel = true,
                PreTokenizer = RobertaPreTokenizer.Instance,
                UnknownToken = vocab.ContainsKey("<unk>") ? "<unk>" : vocab.ContainsKey("<|endoftext|>") ? "<|endoftext|>" : null,
            };
            bpe = BpeTokenizer.Create(options);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException or IOException)
        {
            throw new UsageException($"--vocab '{vocabPath}' with merges '{mergesPath}': not a byte-level BPE pair (vocab.json + merges.txt): {e.Message}");
        }
        int? Id(string token) => vocab.TryGetValue(token, out int id) ? id : null;
        var (start, end) = (Id("<s>"), Id("</s>"));
        bool wrap = start is not null && end is not null;
        int padding = Id("<pad>") ?? Id("<|endoftext|>") ?? 0;
        return new TextTokenizer((text, limit) =>
        {
            int room = wrap ? limit - 2 : limit;
            var ids = bpe.EncodeToIds(text, room, out _, out _);
            return wrap ? [start!.Value, .. ids, end!.Value] : ids;
        }, padding, vocab.Values.Max() + 1);
    }
}
