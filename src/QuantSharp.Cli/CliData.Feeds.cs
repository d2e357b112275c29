using QuantSharp.Data;
using QuantSharp.Data.Images;
using QuantSharp.Engine;

namespace QuantSharp.Cli;

internal static partial class CliData
{
    /// <summary>
    /// Parses the values of <c>--data</c>: one path (a .npy, .npz, IDX or image folder) or one or more
    /// <c>NAME=FILE.npy</c> specs. A value that names an existing path is a path even when it holds '='.
    /// </summary>
    /// <exception cref="UsageException">A malformed spec, a repeated name, or a path mixed with specs.</exception>
    public static (string Data, IReadOnlyList<(string Name, string File)>? Named) ParseDataValues(IReadOnlyList<string> values)
    {
        if (values.Count == 0) throw new UsageException("--data expected a path or NAME=FILE.npy");
        static bool IsSpec(string v) => v.IndexOf('=') > 0 && !File.Exists(v) && !Directory.Exists(v);
        if (values.Count == 1 && !IsSpec(values[0])) return (values[0], null);
        var named = new List<(string Name, string File)>();
        foreach (var v in values)
        {
            if (!IsSpec(v)) throw new UsageException($"--data '{v}': with several --data values each must be NAME=FILE.npy (one per model input)");
            int eq = v.IndexOf('=');
            string name = v[..eq], file = v[(eq + 1)..];
            if (file.Length == 0) throw new UsageException($"--data '{v}' expected NAME=FILE.npy");
            if (named.Exists(n => n.Name == name)) throw new UsageException($"--data '{name}' is given twice");
            named.Add((name, file));
        }
        return (string.Join(", ", named.Select(n => $"{n.Name}={n.File}")), named);
    }

    /// <summary>
    /// Loads <paramref name="r"/> as the feeds of <paramref name="graph"/> (read from <paramref name="source"/>): named
    /// .npy files or an .npz are checked against the model's inputs (names, element types, ranks, fixed dimensions and
    /// equal sample counts); a single .npy, IDX directory or image folder feeds a model's one float input as before.
    /// </summary>
    /// <exception cref="UsageException">Any mismatch, one line naming the input, the file and what was expected.</exception>
    /// <param name="stream">Read an image folder or a single .npy batch by batch when the set is iterated (see
    /// <see cref="OpenStreamed"/>) instead of loading it: for a long evaluation that reads each batch once or twice.</param>
    public static FeedSet LoadFeeds(DataRequest r, Graph graph, string source, bool needLabels, TextWriter notes, string? labelsNeededFor = null, bool stream = false)
    {
        var inputs = graph.Inputs.Where(i => !graph.Initializers.ContainsKey(i.Name)).ToList();
        string ModelInputs() => string.Join(", ", inputs.Select(i => $"{i.Name} ({i.ElementType})"));
        bool npz = r.Named is null && r.Vocab is null && r.FeedsNamedInputs;
        if (!r.FeedsNamedInputs)
        {
            if (inputs.Count != 1)
                throw new UsageException($"model '{source}' has {inputs.Count} inputs ({ModelInputs()}); pass one --data NAME=FILE.npy per input, or an .npz holding one array per input");
            if (inputs[0].ElementType != DataType.Float32)
                throw new UsageException($"model '{source}': input '{inputs[0].Name}' is {inputs[0].ElementType}, and --data '{r.Data}' gives float images; pass --data {inputs[0].Name}=FILE.npy holding {inputs[0].ElementType} values");
            if (stream && OpenStreamed(r, inputs[0].Name, needLabels, notes, labelsNeededFor) is { } streamed) return streamed;
            var images = Load(r, needLabels, notes, labelsNeededFor);
            return new FeedSet([(inputs[0].Name, images.Images)], images.Labels);
        }

        if (r.Vocab is null && (r.Column is not null || r.Merges is not null || r.Header))
            throw new UsageException($"{(r.Column is not null ? "--column" : r.Merges is not null ? "--merges" : "--header")} goes with --vocab (text data); --data '{r.Data}' is not tokenized");
        int Check(List<(string Name, string From, Tensor Values)> given)
        {
            foreach (var (name, from, _) in given)
                if (!inputs.Exists(i => i.Name == name))
                    throw new UsageException($"--data {from}: model '{source}' has no input '{name}'; its inputs: {ModelInputs()}");
            var missing = inputs.Where(i => !given.Exists(g => g.Name == i.Name)).ToList();
            if (missing.Count > 0)
                throw new UsageException($"--data: model '{source}' input{(missing.Count > 1 ? "s" : "")} {string.Join(", ", missing.Select(m => $"'{m.Name}' ({m.ElementType})"))} not given; " +
                    (npz ? $"'{r.Data}' holds {string.Join(", ", given.Select(g => g.Name))}" : $"pass --data {missing[0].Name}=FILE.npy"));
            foreach (var (name, from, values) in given)
            {
                var declared = inputs.First(i => i.Name == name);
                if (values.DataType != declared.ElementType)
                    throw new UsageException($"--data {from}: holds {values.DataType}, but model input '{name}' is {declared.ElementType}");
                if (values.Rank < 1)
                    throw new UsageException($"--data {from}: a scalar; expected shape (N, …) with N samples on the first axis");
                if (declared.Shape is { } dims && declared.Kind == ValueKind.Tensor)
                {
                    bool fits = dims.Length == values.Rank;
                    for (int k = 1; fits && k < dims.Length; k++) fits = dims[k].Value is not int d || d == values.Dims[k];
                    if (!fits)
                        throw new UsageException($"--data {from}: shape {Shapes.Format(values.Dims)} does not fit model input '{name}' [{string.Join(", ", dims)}] (first axis = samples)");
                }
            }
            var counts = given.Select(g => g.Values.Dims[0]).Distinct().ToList();
            if (counts.Count > 1)
                throw new UsageException($"--data: sample counts differ between inputs (first axis = samples): {string.Join(", ", given.Select(g => $"{g.From} has {g.Values.Dims[0]}"))}");
            if (counts[0] == 0) throw new UsageException($"--data {given[0].From}: holds no samples (first dimension is 0)");
            return counts[0];
        }
        List<(string Name, string From, Tensor Values)> given;
        List<int>? folderOrder = null;
        List<IReadOnlyList<(string Name, Tensor Values)>>? groups = null;
        if (r.Vocab is null && r.Named is null && NpzFolder.Holds(r.Data))
        {
            var read = NpzFolder.Read(r.Data, inputs, Check);
            groups = read.Select(g => (IReadOnlyList<(string Name, Tensor Values)>)g.Inputs.Select(i => (i.Name, i.Values)).ToList()).ToList();
            folderOrder = read.SelectMany(g => g.Samples).ToList();
            given = read[0].Inputs;
        }
        else if (r.Vocab is { } vocab)
        {
            if (r.Named is not null) throw new UsageException("--vocab tokenizes one text file given as --data FILE.txt; NAME=FILE.npy specs are already tensors");
            given = TextFeeds.Tokenize(TextFeeds.ReadSamples(r.Data, r.Column, r.Header), r.Data, vocab, r.Merges, r.MaxLength, graph, source);
        }
        else if (npz)
        {
            if (Directory.Exists(r.Data)) throw new UsageException($"--data '{r.Data}': a folder without .npz files (expected one .npz per sample, or images)");
            if (!File.Exists(r.Data)) throw CliPaths.MissingFile($"--data: file '{r.Data}'", r.Data);
            given = Npz.Read(r.Data).Select(a => (a.Name, $"'{r.Data}' array '{a.Name}'", a.Value)).ToList();
        }
        else
        {
            given = [];
            foreach (var (name, file) in r.Named!)
            {
                if (!inputs.Exists(i => i.Name == name))
                    throw new UsageException($"--data '{name}': model '{source}' has no input of that name; its inputs: {ModelInputs()}");
                if (!File.Exists(file)) throw CliPaths.MissingFile($"--data {name}: file '{file}'", file);
                if (!file.EndsWith(".npy", StringComparison.OrdinalIgnoreCase))
                    throw new UsageException($"--data {name}='{file}': expected a .npy file (first axis = samples)");
                given.Add((name, $"{name}='{file}'", Npy.Read(file)));
            }
        }
        int count = groups is null ? Check(given) : folderOrder!.Count;
        if (r.Preprocessing?.GivenOptions is { Count: > 0 } pre)
            notes.WriteLine($"note: image preprocessing ({string.Join(", ", pre)}) is for image folders; ignored, the tensor data is used as given");
        int[]? labels = null;
        if (r.Labels is { } labelsPath)
        {
            labels = NpyData.ReadLabels(labelsPath);
            if (labels.Length != count)
                throw new UsageException($"--labels '{labelsPath}': {labels.Length} labels for {count} samples in --data (expected one per sample{(groups is null ? "" : ", in file-name order")})");
            if (folderOrder is not null) labels = folderOrder.Select(k => labels[k]).ToArray();
        }
        else if (needLabels)
            throw new UsageException($"labels missing{(labelsNeededFor is null ? "" : $" ({labelsNeededFor})")}: pass --labels LABELS.npy (one integer per sample)");
        var all = groups is not null ? new FeedSet(groups, labels)
            : new FeedSet(inputs.Select(i => (i.Name, given.First(g => g.Name == i.Name).Values)).ToList(), labels);
        if (r.SubsetLength is <= 0) throw new UsageException($"--subset-len expected a positive number, got {r.SubsetLength}");
        var method = ParseSampleMethod(r.SampleMethod);
        var subset = all.Select(SubsetIndices(all.Count, r.SubsetLength, method, r.Seed));
        string sel = subset.Count == all.Count ? "" : method == SampleMethod.Random ? $" (random, seed {r.Seed})" : " (sequential)";
        notes.WriteLine($"data: {subset.Count} of {all.Count} samples{sel}, inputs {subset.Describe()}{(labels is null ? "" : ", with labels")}");
        return subset;
    }
}
