using Microsoft.ML.Tokenizers;
using QuantSharp.Engine;
using QuantSharp.Engine.IO;

namespace QuantSharp.Cli;

/// <summary>
/// Text as data for transformer models (<c>--data FILE.txt --vocab vocab.txt</c>): one sample per non-empty line,
/// tokenized with a WordPiece vocab as BERT does (<c>[CLS] … [SEP]</c>, padded with <c>[PAD]</c>), into the model's
/// <c>input_ids</c>, <c>attention_mask</c> and <c>token_type_ids</c> inputs (recognized by name).
/// </summary>
internal static class TextFeeds
{
    /// <summary>The token inputs of <paramref name="graph"/>, tokenized from the lines of <paramref name="textPath"/>.</summary>
    /// <exception cref="UsageException">An input that is not a token input, a vocab that does not fit the model's embedding
    /// table, an empty text, a --max-length below 2 (one line each, naming the file or input).</exception>
    public static List<(string Name, string From, Tensor Values)> Tokenize(string textPath, string vocabPath, int maxLength, Graph graph, string source)
    {
        if (maxLength < 2) throw new UsageException($"--max-length expected at least 2 (room for [CLS] and [SEP]), got {maxLength}");
        var lines = ReadText(textPath, "--data").Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Trim().Length > 0).ToList();
        if (lines.Count == 0) throw new UsageException($"--data '{textPath}': no text (one sample per non-empty line)");
        int vocabSize = ReadText(vocabPath, "--vocab").Split('\n').Count(l => l.TrimEnd('\r').Length > 0);
        BertTokenizer tokenizer;
        try { tokenizer = BertTokenizer.Create(vocabPath); }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException or IOException)
        {
            throw new UsageException($"--vocab '{vocabPath}': not a WordPiece vocab (one token per line, with [CLS], [SEP], [PAD] and [UNK]): {e.Message}");
        }

        var inputs = graph.Inputs.Where(i => !graph.Initializers.ContainsKey(i.Name)).ToList();
        var roles = inputs.Select(i => (Input: i, Role: RoleOf(i.Name))).ToList();
        foreach (var (input, role) in roles)
        {
            if (role is null)
                throw new UsageException($"--vocab: model '{source}' input '{input.Name}' ({input.ElementType}) is not a token input (input_ids, attention_mask, token_type_ids); give every input as --data NAME=FILE.npy instead");
            if (input.ElementType is not (DataType.Int64 or DataType.Int32))
                throw new UsageException($"--vocab: model '{source}' input '{input.Name}' is {input.ElementType}; token inputs must be int64 or int32");
        }
        var ids = roles.FirstOrDefault(r => r.Role == "ids").Input
            ?? throw new UsageException($"--vocab: model '{source}' has no input_ids input; its inputs: {string.Join(", ", inputs.Select(i => i.Name))}");
        CheckVocabFitsEmbedding(graph, ids.Name, vocabSize, vocabPath, source);

        // A fixed sequence length in the model wins over --max-length; otherwise the longest line sets it.
        int? fixedLength = ids.Shape is { Length: 2 } dims && dims[1].Value is int d ? d : null;
        int limit = fixedLength ?? maxLength;
        var encoded = lines.Select(l => tokenizer.EncodeToIds(l, limit, out _, out _)).ToList();
        int length = fixedLength ?? encoded.Max(e => e.Count);
        int pad = tokenizer.PaddingTokenId;
        var result = new List<(string, string, Tensor)>();
        foreach (var (input, role) in roles)
        {
            var values = new long[lines.Count * length];
            for (int s = 0; s < lines.Count; s++)
                for (int t = 0; t < length; t++)
                {
                    bool token = t < encoded[s].Count;
                    values[s * length + t] = role switch
                    {
                        "ids" => token ? encoded[s][t] : pad,
                        "mask" => token ? 1 : 0,
                        _ => 0, // one segment
                    };
                }
            var tensor = TensorOps.Cast(Tensor.FromArray(values, lines.Count, length), input.ElementType);
            result.Add((input.Name, $"'{textPath}' tokenized ({input.Name})", tensor));
        }
        return result;
    }

    /// <summary>Which token input a model input is, by the names Hugging Face exports use; null for any other input.</summary>
    private static string? RoleOf(string name) =>
        name.Contains("input_ids", StringComparison.OrdinalIgnoreCase) ? "ids"
        : name.Contains("attention_mask", StringComparison.OrdinalIgnoreCase) ? "mask"
        : name.Contains("token_type_ids", StringComparison.OrdinalIgnoreCase) || name.Contains("segment_ids", StringComparison.OrdinalIgnoreCase) ? "types"
        : null;

    /// <summary>
    /// A vocab with more tokens than the rows of the table the ids index belongs to another model: its ids would read past
    /// the table (Gather fails, or worse, the wrong words are embedded).
    /// </summary>
    private static void CheckVocabFitsEmbedding(Graph graph, string idsInput, int vocabSize, string vocabPath, string source)
    {
        foreach (var node in graph.Nodes.Where(n => n.OpType == "Gather" && n.Inputs.Count == 2 && n.Inputs[1] == idsInput))
        {
            if (!graph.Initializers.TryGetValue(node.Inputs[0], out var table) || table.Rank < 1) continue;
            if (vocabSize > table.Dims[0])
                throw new UsageException($"--vocab '{vocabPath}' has {vocabSize} tokens, but model '{source}' embeds {idsInput} with a table of {table.Dims[0]} rows ('{node.Inputs[0]}'): the vocab belongs to another model");
        }
    }

    private static string ReadText(string path, string option)
    {
        if (!File.Exists(path)) throw CliPaths.MissingFile($"{option}: file '{path}'", path);
        return FileKind.ReadAllText(path, $"{option}: file '{path}'");
    }
}
