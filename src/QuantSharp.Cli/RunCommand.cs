using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;

namespace QuantSharp.Cli;

/// <summary>
/// <c>quantsharp run MODEL.onnx --input NAME=FILE.npy … --output DIR</c>: runs the model through <see cref="Session"/>;
/// with <c>--quant OUT</c>, runs the calibrated simulation <c>calib</c> wrote there instead (MODEL, when given, must be the
/// model calib quantized).
/// </summary>
public static class RunCommand
{
    /// <summary>Runs <paramref name="modelPath"/> on the given .npy inputs and writes each output to <c>DIR/&lt;output name&gt;.npy</c>.</summary>
    /// <exception cref="UsageException">An <c>--input</c> spec is not NAME=FILE, names no graph input, or repeats a name.</exception>
    /// <exception cref="GraphException">The model uses unsupported ops, or an input is missing or mismatched.</exception>
    /// <remarks>
    /// <c>--input FILE.npz</c> gives every input from one archive; <c>--input DIR</c>, a folder of .npz samples (lengths may
    /// differ), runs each file on its own and writes its outputs to <c>DIR_OUT/&lt;file name&gt;/</c>.
    /// </remarks>
    public static void Execute(string? modelPath, IReadOnlyList<string> inputSpecs, string outputDir, TextWriter stdout, string? quantDir = null)
    {
        string? bundle = inputSpecs.Count == 1 && inputSpecs[0].IndexOf('=') < 0 ? inputSpecs[0] : null;
        if (bundle is not null && !NpzFolder.Holds(bundle) && !(File.Exists(bundle) && bundle.EndsWith(".npz", StringComparison.OrdinalIgnoreCase)))
            throw new UsageException(Directory.Exists(bundle) ? $"--input '{bundle}': a folder without .npz files (expected one .npz per sample)"
                : File.Exists(bundle) ? $"--input '{bundle}' expected NAME=FILE.npy, an .npz file or a folder of .npz samples"
                : $"--input '{bundle}': no such file or folder (expected NAME=FILE.npy, an .npz file or a folder of .npz samples)");
        var specs = bundle is null ? ParseInputs(inputSpecs) : [];
        if (modelPath is null && quantDir is null) throw new UsageException("run needs a model, or --quant OUT (the folder 'calib' wrote) to run its simulation");
        Graph? model = null;
        if (modelPath is not null)
        {
            model = InspectCommand.LoadModel(modelPath);
            var unsupported = InspectCommand.Unsupported(model);
            if (unsupported.Count > 0)
                throw new GraphException($"unsupported op(s): {string.Join(", ", unsupported.Select(n => $"{n.OpType} (node '{n.Name}')").Distinct().Take(10))}");
        }
        Func<IReadOnlyDictionary<string, Tensor>, RunResult> run;
        Graph graph;
        if (quantDir is not null)
        {
            var sim = CalibRecord.LoadSim(quantDir, stdout, model is null ? null : (model, modelPath!));
            graph = sim.Model;
            if (model is not null) CalibCommand.CheckSameInputs(model, modelPath!, graph, quantDir);
            run = feeds => sim.Run(feeds);
            stdout.WriteLine($"running the calibrated simulation in '{quantDir}'");
        }
        else
        {
            graph = model!;
            var session = new Session(graph);
            run = feeds => session.Run(feeds);
        }
        if (bundle is not null)
        {
            var files = Directory.Exists(bundle) ? NpzFolder.Files(bundle) : [bundle];
            // Read and check every file before running any, so a bad sample writes nothing.
            var samples = files.Select(f => (File: f, Feeds: NpzFeeds(graph, f))).ToList();
            foreach (var (file, sampleFeeds) in samples)
            {
                string dir = Directory.Exists(bundle) ? Path.Combine(outputDir, SafeFileName(Path.GetFileNameWithoutExtension(file))) : outputDir;
                if (Directory.Exists(bundle)) stdout.WriteLine($"{Path.GetFileName(file)}:");
                WriteOutputs(graph, run(sampleFeeds), dir, stdout);
            }
            return;
        }
        var feeds = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, file) in specs)
        {
            if (!graph.IsInput(name))
                throw new UsageException($"--input '{name}': the model has no input of that name; inputs: {string.Join(", ", graph.Inputs.Select(i => i.Name))}");
            if (!File.Exists(file)) throw CliPaths.MissingFile($"--input {name}: file '{file}'", file);
            feeds[name] = Npy.Read(file);
        }
        WriteOutputs(graph, run(feeds), outputDir, stdout);
    }

    /// <summary>The arrays of one .npz as feeds: each must name a graph input; one saved without its sample axis gets one.</summary>
    private static Dictionary<string, Tensor> NpzFeeds(Graph graph, string file)
    {
        var feeds = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, value) in QuantSharp.Data.Npz.Read(file))
        {
            var input = graph.Inputs.FirstOrDefault(i => i.Name == name)
                ?? throw new UsageException($"--input '{file}' array '{name}': the model has no input of that name; inputs: {string.Join(", ", graph.Inputs.Select(i => i.Name))}");
            feeds[name] = input.Shape is { } dims && value.Rank == dims.Length - 1 ? FeedSet.AddSampleAxis(value) : value;
        }
        return feeds;
    }

    private static void WriteOutputs(Graph graph, RunResult result, string outputDir, TextWriter stdout)
    {
        Directory.CreateDirectory(outputDir);
        foreach (var o in graph.Outputs)
        {
            var value = result.Outputs[o.Name];
            if (value is OptionalValue opt)
            {
                if (opt.Value is null) { stdout.WriteLine($"{o.Name}: optional without value (nothing written)"); continue; }
                value = opt.Value;
            }
            if (value is TensorSequence seq)
            {
                // A sequence becomes one file per tensor: <name>_0.npy, <name>_1.npy, …
                stdout.WriteLine($"{o.Name}: sequence of {seq.Count} {seq.DataType} tensors");
                for (int k = 0; k < seq.Count; k++)
                {
                    string item = Path.Combine(outputDir, $"{SafeFileName(o.Name)}_{k}.npy");
                    Npy.Write(item, seq[k]);
                    stdout.WriteLine($"  [{k}]: {seq[k].DataType}{Shapes.Format(seq[k].Dims)} -> {item}");
                }
                continue;
            }
            string path = Path.Combine(outputDir, SafeFileName(o.Name) + ".npy");
            Npy.Write(path, value);
            stdout.WriteLine($"{o.Name}: {value.DataType}{Shapes.Format(value.Dims)} -> {path}");
        }
    }

    /// <summary>Parses NAME=FILE specs; throws <see cref="UsageException"/> naming the bad spec.</summary>
    public static List<(string Name, string File)> ParseInputs(IReadOnlyList<string> specs)
    {
        var result = new List<(string, string)>();
        foreach (var spec in specs)
        {
            int eq = spec.IndexOf('=');
            if (eq <= 0 || eq == spec.Length - 1)
                throw new UsageException($"--input '{spec}' expected NAME=FILE.npy");
            string name = spec[..eq], file = spec[(eq + 1)..];
            if (result.Exists(r => r.Item1 == name)) throw new UsageException($"--input '{name}' is given twice");
            result.Add((name, file));
        }
        return result;
    }

    /// <summary>An output name made safe as a file name (path separators and invalid characters become '_').</summary>
    public static string SafeFileName(string name)
    {
        var invalid = Path.GetInvalidFileNameChars();
        var chars = name.Select(c => invalid.Contains(c) || c == '/' || c == '\\' ? '_' : c).ToArray();
        var s = new string(chars);
        return s.Length == 0 || s is "." or ".." ? "_" + s : s;
    }
}
