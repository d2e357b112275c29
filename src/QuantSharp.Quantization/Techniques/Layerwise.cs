using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;
using QuantSharp.Engine.Runtime;

namespace QuantSharp.Quantization.Techniques;

/// <summary>
/// A layer the layer-by-layer techniques (AdaRound, AdaQuant, sequential MSE) optimise: a Conv, a Gemm, or a MatMul by a
/// 2-D constant weight (a transformer's linear layers: x [..., K] · W [K, M], every leading axis a row of the layer).
/// </summary>
/// <param name="Node">The node (in the graph it was found in).</param>
/// <param name="View">Its Conv/Gemm view, or null for a MatMul.</param>
internal sealed record LayerTarget(Node Node, LinearLayer? View)
{
    /// <summary>A MatMul whose rows are every position of the leading axes.</summary>
    public bool IsMatMul => View is null;

    /// <summary>The weight value (input 1).</summary>
    public string Weight => Node.Inputs[1];

    /// <summary>The bias value (Conv/Gemm input 2), or null; a MatMul's bias is a separate Add and stays out of the layer.</summary>
    public string? Bias => !IsMatMul && Node.Inputs.Count > 2 && Node.Inputs[2].Length > 0 ? Node.Inputs[2] : null;

    /// <summary>The target view of <paramref name="n"/> in <paramref name="graph"/>, or null when it is not a layer these techniques handle.</summary>
    public static LayerTarget? Of(Node n, Graph graph)
    {
        if (LinearLayer.Of(n) is { Layout: not WeightLayout.ConvTranspose } layer) return new LayerTarget(n, layer);
        if (n.OpType == "MatMul" && n.Domain.Length == 0 && n.Inputs.Count == 2 && !graph.Initializers.ContainsKey(n.Inputs[0])
            && WeightSource(graph, n.Inputs[1]) is { } w && graph.Initializers[w] is Tensor<float> { Rank: 2 })
            return new LayerTarget(n, null);
        return null;
    }

    /// <summary>Why the layer's math is not one these techniques model, or null.</summary>
    public string? Problem(Tensor<float> weight)
    {
        if (IsMatMul) return weight.Rank == 2 ? null : $"a MatMul weight of shape {Shapes.Format(weight.Dims)}";
        if (View!.IsGemm && (View.TransA || View.Alpha != 1f || View.Beta != 1f))
            return "only Gemm with transA = 0 and alpha = beta = 1 is supported";
        if (View.IsGemm && weight.Rank != 2) return "only Gemm with transA = 0, alpha = beta = 1 and a 2-D weight is supported";
        if (!View.IsGemm && weight.Rank < 3) return "the Conv weight has rank below 3";
        return null;
    }

    /// <summary>The layer math for inputs shaped like <paramref name="x"/> (as <see cref="Layerwise.Capture"/> returns them).</summary>
    public AdaRoundLayer Math(Tensor<float> x, Tensor<float> weight, Tensor<float>? bias) =>
        IsMatMul ? AdaRoundLayer.Gemm(weight.Shape, null, transB: false)
        : View!.IsGemm ? AdaRoundLayer.Gemm(weight.Shape, bias, View.Layout == WeightLayout.GemmTransposed)
        : AdaRoundLayer.Conv(weight.Shape, bias, ConvParams.FromNode(Node, x.Dims, weight.Dims));

    /// <summary>The initializer behind <paramref name="value"/>, looking through a quantizer node of a sim graph; null when it is none.</summary>
    public static string? WeightSource(Graph graph, string value)
    {
        if (graph.Initializers.ContainsKey(value)) return graph.IsInput(value) ? null : value;
        var producer = graph.Producer(value);
        return producer is not null && Engine.Runtime.Quantizers.QuantizerNode.Is(producer) && graph.Initializers.ContainsKey(producer.Inputs[0]) ? producer.Inputs[0] : null;
    }
}

/// <summary>
/// The layer-by-layer machinery shared by AdaRound, AdaQuant, sequential MSE and empirical bias correction: a working
/// copy of the graph in topological order, its layers, and the capture of one layer's input or output activations over
/// the feeds by running a session (the FP32 graph for targets, the quantized sim for inputs).
/// </summary>
/// <remarks>
/// A layer's data is produced when the technique reaches it and dropped when it moves on: nothing is cached across
/// layers, so the peak is one layer's inputs and outputs over the samples used (recomputing the earlier layers each time
/// costs one forward pass per layer). Values are copied out while the session computes them
/// (<see cref="RunOptions.Observer"/>), so the session keeps no intermediate alive for the capture, and the sessions run
/// at most <see cref="CaptureBatch"/> samples at a time, so their working memory does not grow with the feeds' batch size.
/// </remarks>
internal sealed class Layerwise
{
    private Layerwise(Graph work, IReadOnlyList<IReadOnlyDictionary<string, Tensor>> batches, int samples)
    {
        Work = work;
        Batches = batches;
        Samples = samples;
    }

    /// <summary>A named, topologically sorted copy of the input graph; the technique writes its results here.</summary>
    public Graph Work { get; }

    /// <summary>The feeds used, materialised (run once per layer and session).</summary>
    public IReadOnlyList<IReadOnlyDictionary<string, Tensor>> Batches { get; }

    /// <summary>Samples in <see cref="Batches"/>.</summary>
    public int Samples { get; }

    /// <summary>
    /// Sets up a technique on <paramref name="graph"/> (not modified) with the first <paramref name="samples"/> samples of
    /// <paramref name="feeds"/>; every input the graph needs must be fed.
    /// </summary>
    /// <exception cref="ArgumentException">No samples, or a feed that misses a graph input or names one it does not have.</exception>
    public static Layerwise Create(string op, Graph graph, IEnumerable<IReadOnlyDictionary<string, Tensor>> feeds, int samples)
    {
        var work = graph.Clone();
        work.EnsureNodeNames();
        work.TopologicalSort();
        return Over(op, work, feeds, samples);
    }

    /// <summary>
    /// The machinery over <paramref name="graph"/> itself (a sim's graph, which the technique edits through the sim):
    /// no copy is made and its node order is left alone.
    /// </summary>
    /// <exception cref="ArgumentException">No samples, or a feed that misses a graph input or names one it does not have.</exception>
    public static Layerwise Over(string op, Graph graph, IEnumerable<IReadOnlyDictionary<string, Tensor>> feeds, int samples)
    {
        var work = graph;
        var batches = Feeds.Take(feeds, samples, out int taken);
        if (batches.Count == 0) throw new ArgumentException($"{op}: data expected at least one batch, got none", nameof(feeds));
        CheckFeeds(op, work, batches[0]);
        return new Layerwise(work, batches, taken);
    }

    /// <summary>Refuses a batch that does not feed exactly the graph's inputs.</summary>
    public static void CheckFeeds(string op, Graph graph, IReadOnlyDictionary<string, Tensor> batch)
    {
        var inputs = Feeds.FedInputs(graph);
        foreach (var name in inputs)
            if (!batch.ContainsKey(name))
                throw new ArgumentException($"{op}: the feeds miss graph input '{name}' (the graph reads {string.Join(", ", inputs)}; the feeds hold {string.Join(", ", batch.Keys)})", "feeds");
        foreach (var name in batch.Keys)
            if (!inputs.Contains(name))
                throw new ArgumentException($"{op}: the feeds hold '{name}', which is not an input of the graph (its inputs: {string.Join(", ", inputs)})", "feeds");
    }

    /// <summary>The layers of <see cref="Work"/> in topological order.</summary>
    public List<LayerTarget> Targets() => Work.Nodes.Select(n => LayerTarget.Of(n, Work)).OfType<LayerTarget>().ToList();

    /// <summary>
    /// Runs <paramref name="session"/> over the feeds and returns value <paramref name="value"/> of every sample,
    /// concatenated along axis 0; for a MatMul layer flattened to [rows, features] (every leading position a row).
    /// </summary>
    public Tensor<float> Capture(Session session, string value, LayerTarget layer)
    {
        // Each run's rows are copied straight into one tensor sized for every sample (known after the first run), so the
        // peak is one copy of the value rather than the parts plus their concatenation (a 224×224 MobileNetV2 expansion
        // over 256 samples is 1.2 GB). Runs whose per-sample shape differs (variable sequence lengths) fall back to
        // concatenating parts.
        int total = Batches.Sum(Feeds.Count);
        Tensor<float>? all = null;
        long offset = 0;
        List<Tensor<float>>? parts = null;
        foreach (var b in Chunks())
        {
            var part = CaptureOne(session, b, value);
            if (layer.IsMatMul) part = part.Reshape(-1, part.Dims[^1]);
            if (parts is not null) { parts.Add(part); continue; }
            int samples = Feeds.Count(b);
            if (all is null && part.Dims[0] % samples == 0)
            {
                var shape = part.Shape;
                shape[0] = part.Dims[0] / samples * total;
                all = new Tensor<float>(shape);
            }
            if (all is not null && part.Rank == all.Rank && part.Dims[0] == samples * (all.Dims[0] / total) && part.Dims[1..].SequenceEqual(all.Dims[1..]))
            {
                Array.Copy(part.Data, 0, all.Data, offset, part.Length);
                offset += part.Length;
                continue;
            }
            parts = all is null ? [] : [Prefix(all, offset)];
            all = null;
            parts.Add(part);
        }
        if (parts is not null) return Concat(parts);
        if (all is null || offset != all.Length) throw new InvalidOperationException($"Layerwise: value '{value}' was captured for fewer rows than the samples fed");
        return all;
    }

    /// <summary>
    /// Runs the feeds through both sessions a chunk of at most <see cref="CaptureBatch"/> samples at a time and hands
    /// <paramref name="consume"/> each chunk's <paramref name="inputValue"/> from <paramref name="inputSession"/> and
    /// <paramref name="outputValue"/> from <paramref name="outputSession"/> (for a MatMul layer flattened to [rows, features]):
    /// statistics of a layer over every sample with one chunk in memory at a time.
    /// </summary>
    /// <remarks><paramref name="beforeInput"/> and <paramref name="beforeOutput"/> run before each chunk's two captures (sequential
    /// MSE toggles quantizers of one sim between them).</remarks>
    public void Stream(Session inputSession, string inputValue, Session outputSession, string outputValue, LayerTarget layer,
        Action<Tensor<float>, Tensor<float>> consume, Action? beforeInput = null, Action? beforeOutput = null)
    {
        foreach (var b in Chunks())
        {
            beforeInput?.Invoke();
            var x = CaptureOne(inputSession, b, inputValue);
            beforeOutput?.Invoke();
            var y = CaptureOne(outputSession, b, outputValue);
            if (layer.IsMatMul) (x, y) = (x.Reshape(-1, x.Dims[^1]), y.Reshape(-1, y.Dims[^1]));
            consume(x, y);
        }
    }

    /// <summary>
    /// The layer's input for the first sample when the layer is to be optimised against its exact objective
    /// (<see cref="LayerGramObjective"/>) — always for <see cref="LayerReconstruction.Exact"/>, for
    /// <see cref="LayerReconstruction.Auto"/> when a weight row K is at most twice the output rows of
    /// <paramref name="samplesPerIteration"/> samples — else null.
    /// </summary>
    public Tensor<float>? ExactSample(LayerTarget target, Session fpSession, Tensor<float> weight, LayerReconstruction mode, long samplesPerIteration)
    {
        if (mode == LayerReconstruction.Sampled) return null;
        var sample = CaptureFirstSample(fpSession, target.Node.Inputs[0], target);
        if (mode == LayerReconstruction.Exact) return sample;
        var output = CaptureFirstSample(fpSession, target.Node.Outputs[0], target);
        int outputs = target.Math(sample, weight, null).OutputChannels;
        long rowsPerSample = output.Length / outputs, k = weight.Length / outputs;
        return k <= 2 * samplesPerIteration * rowsPerSample ? sample : null;
    }

    /// <summary>Value <paramref name="value"/> of the first sample alone (its shape, without running every sample).</summary>
    public Tensor<float> CaptureFirstSample(Session session, string value, LayerTarget layer)
    {
        var part = CaptureOne(session, Feeds.Split(Batches[0], 1).First(), value);
        return layer.IsMatMul ? part.Reshape(-1, part.Dims[^1]) : part;
    }

    /// <summary>The first <paramref name="length"/> elements of <paramref name="t"/> (whole rows) as their own tensor.</summary>
    private static Tensor<float> Prefix(Tensor<float> t, long length)
    {
        var shape = t.Shape;
        shape[0] = (int)(length / (t.Length / t.Dims[0]));
        var p = new Tensor<float>(shape);
        Array.Copy(t.Data, 0, p.Data, 0, length);
        return p;
    }

    /// <summary>Value <paramref name="value"/> of one run (a fed input is returned as fed).</summary>
    private static Tensor<float> CaptureOne(Session session, IReadOnlyDictionary<string, Tensor> feeds, string value)
    {
        if (feeds.TryGetValue(value, out var fed)) return AsFloat(fed, value);
        Tensor<float>? copy = null;
        var run = session.Run(feeds, new RunOptions
        {
            Observed = [value],
            StopAfterObserved = true, // the nodes after it would compute what nobody reads
            // A private copy: the session recycles the buffer once the value is consumed.
            Observer = (name, t) => { if (name == value) copy = AsFloat(t, value).Clone(); },
        });
        copy ??= run.Outputs.TryGetValue(value, out var o) ? AsFloat(o, value).Clone() : null;
        return copy ?? throw new InvalidOperationException($"Layerwise: value '{value}' was not computed by the session");
    }

    /// <summary>
    /// Samples per capture run. A session's working memory grows with the batch it runs (a 224×224 MobileNetV2 at batch 32
    /// needs gigabytes), and the capture keeps only one value, so small runs bound the peak without changing the result.
    /// </summary>
    public const int CaptureBatch = 8;

    /// <summary>The feeds re-cut into runs of at most <see cref="CaptureBatch"/> samples, in order.</summary>
    private IEnumerable<IReadOnlyDictionary<string, Tensor>> Chunks() => Batches.SelectMany(b => Feeds.Split(b, CaptureBatch));

    private static Tensor<float> AsFloat(Tensor t, string value) => t as Tensor<float>
        ?? throw new ArgumentException($"Layerwise: value '{value}' is {t.DataType}; layer inputs and outputs must be float32");

    private static Tensor<float> Concat(List<Tensor<float>> parts)
    {
        if (parts.Count == 1) return parts[0];
        var shape = parts[0].Shape;
        for (int i = 1; i < parts.Count; i++)
            Check.That(parts[i].Rank == shape.Length && parts[i].Dims[1..].SequenceEqual(shape.AsSpan(1)), "Layerwise", "feeds",
                $"batches whose layer values share the per-sample shape {Shapes.Format(shape.AsSpan(1))}", Shapes.Format(parts[i].Dims));
        shape[0] = parts.Sum(p => p.Dims[0]);
        var all = new Tensor<float>(shape);
        long offset = 0;
        for (int i = 0; i < parts.Count; i++)
        {
            Array.Copy(parts[i].Data, 0, all.Data, offset, parts[i].Length);
            offset += parts[i].Length;
            parts[i] = null!; // released as soon as copied, so the peak stays near one copy
        }
        return all;
    }
}
