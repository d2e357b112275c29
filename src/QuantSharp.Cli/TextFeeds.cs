using System.Globalization;
using QuantSharp.Engine;
using QuantSharp.Engine.IO;

namespace QuantSharp.Cli;

/// <summary>
/// Text as data for transformer models (<c>--data FILE.txt --vocab VOCAB</c>): one sample per non-empty line, or per row of
/// one column of a TSV file (<c>--column NAME|INDEX</c>), tokenized and padded into the model's <c>input_ids</c>,
/// <c>attention_mask</c> and <c>token_type_ids</c> inputs (recognized by name). The vocab says the tokenizer: a WordPiece
/// <c>vocab.txt</c> as BERT does (<c>[CLS] … [SEP]</c>, <c>[PAD]</c>), or a byte-level BPE <c>vocab.json</c> with its
/// <c>merges.txt</c> as RoBERTa (<c>&lt;s&gt; … &lt;/s&gt;</c>, <c>&lt;pad&gt;</c>) or GPT-2 (no special tokens, padded with
/// <c>&lt;|endoftext|&gt;</c>) do, chosen by the special tokens the vocab holds.
/// </summary>
internal static class TextFeeds
{
    /// <summary>
    /// The text samples of <paramref name="path"/>: its non-empty lines, or with <paramref name="column"/> the cells of that
    /// TSV column (a header name, or a 0-based index; <paramref name="header"/> skips a first line when it is an index).
    /// </summary>
    /// <exception cref="UsageException">No text, a column the header does not have, a row too short for the column (naming file and line).</exception>
    public static List<string> ReadSamples(string path, string? column, bool header)
    {
        var lines = ReadText(path, "--data").Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        if (column is null)
        {
            if (header) throw new UsageException("--header applies to a TSV read with --column; without --column every line of --data is a sample");
            var text = lines.Where(l => l.Trim().Length > 0).ToList();
            if (text.Count == 0) throw new UsageException($"--data '{path}': no text (one sample per non-empty line)");
            return text;
        }
        int first = 0;
        while (first < lines.Count && lines[first].Trim().Length == 0) first++;
        if (first == lines.Count) throw new UsageException($"--data '{path}': empty TSV file");
        int index;
        bool byName = !int.TryParse(column, NumberStyles.None, CultureInfo.InvariantCulture, out index);
        if (byName)
        {
            var names = lines[first].Split('\t').Select(n => n.Trim()).ToList();
            index = names.IndexOf(column);
            if (index < 0)
                throw new UsageException($"--column '{column}': the header of '{path}' (line {first + 1}) has no such column; its columns: {string.Join(", ", names.Select(n => $"'{n}'"))}");
        }
        var samples = new List<string>();
        for (int k = byName || header ? first + 1 : first; k < lines.Count; k++)
        {
            if (lines[k].Trim().Length == 0) continue;
            var cells = lines[k].Split('\t');
            if (index >= cells.Length)
                throw new UsageException($"--data '{path}' line {k + 1}: {cells.Length} column{(cells.Length == 1 ? "" : "s")}, but --column {column} is column {index} (0-based); is the file tab-separated?");
            samples.Add(cells[index]);
        }
        if (samples.Count == 0) throw new UsageException($"--data '{path}': no rows under the header (one sample per row)");
        return samples;
    }

    /// <summary>The token inputs of <paramref name="graph"/>, tokenized from <paramref name="samples"/> (read from <paramref name="textPath"/>).</summary>
    /// <exception cref="UsageException">An input that is not a token input, a vocab that does not fit the model's embedding
    /// table or cannot be read, a --max-length below 2 (one line each, naming the file or input).</exception>
    public static List<(string Name, string From, Tensor Values)> Tokenize(List<string> samples, string textPath, string vocabPath, string? mergesPath,
        int maxLength, Graph graph, string source)
    {
        if (maxLength < 2) throw new UsageException($"--max-length expected at least 2 (room for the start and end tokens), got {maxLength}");
        if (!File.Exists(vocabPath)) throw CliPaths.MissingFile($"--vocab: file '{vocabPath}'", vocabPath);
        var tokenizer = vocabPath.EndsWith(".json", StringComparison.OrdinalIgnoreCase)
            ? TextTokenizer.Bpe(vocabPath, mergesPath ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(vocabPath))!, "merges.txt"), mergesPath is not null)
            : mergesPath is not null ? throw new UsageException($"--merges goes with a BPE vocab (vocab.json); --vocab '{vocabPath}' is a WordPiece vocab.txt")
            : TextTokenizer.WordPiece(vocabPath);
        var lines = samples;

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
        CheckVocabFitsEmbedding(graph, ids.Name, tokenizer.Size, vocabPath, source);

        // A fixed sequence length in the model wins over --max-length; otherwise the longest line sets it.
        int? fixedLength = ids.Shape is { Length: 2 } dims && dims[1].Value is int d ? d : null;
        int limit = fixedLength ?? maxLength;
        var encoded = lines.Select(l => tokenizer.Encode(l, limit)).ToList();
        int length = fixedLength ?? encoded.Max(e => e.Count);
        int pad = tokenizer.Padding;
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

    internal static string ReadText(string path, string option)
    {
        if (!File.Exists(path)) throw CliPaths.MissingFile($"{option}: file '{path}'", path);
        return FileKind.ReadAllText(path, $"{option}: file '{path}'");
    }
}
