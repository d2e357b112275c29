using System.Diagnostics;
using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Engine.Runtime.Quantizers;
using QuantSharp.Quantization.Calibration;
using QuantSharp.Quantization.Config;
using QuantSharp.Quantization.Encodings;

namespace QuantSharp.Quantization.Sim;

/// <summary>
/// A quantization simulation of a floating-point graph (AIMET's <c>QuantizationSimModel</c>): the same graph with a
/// <see cref="QuantizerNode"/> on every edge the quantizer config says to quantize. It runs in an ordinary
/// <see cref="Session"/> for inference or training; <see cref="ComputeEncodings(Action{QuantizationSimModel})"/>
/// calibrates it; <see cref="Export"/> writes what runtimes consume.
/// </summary>
/// <remarks>
/// The flow: <c>var sim = new QuantizationSimModel(graph, options); sim.ComputeEncodings(s => { foreach (var b in data)
/// s.Run(b); }); accuracy = evaluate(sim); sim.Export(dir, "model");</c>. Quantizers are named after the tensor or
/// parameter they quantize, so names in encodings files are the ONNX names.
/// </remarks>
public sealed partial class QuantizationSimModel
{
    private readonly Dictionary<string, SimQuantizer> _quantizers;
    private Session? _session;
    private List<string> _withoutData = [];

    /// <summary>Builds the simulation of <paramref name="graph"/> (a copy unless <see cref="QuantSimOptions.InPlace"/>).</summary>
    /// <exception cref="ArgumentException">Invalid options (named field and value).</exception>
    /// <exception cref="ConfigException">The config file breaks the AIMET schema.</exception>
    public QuantizationSimModel(Graph graph, QuantSimOptions? options = null)
    {
        Options = options ?? new QuantSimOptions();
        Options.Validate();
        Config = Options.ResolveConfig();
        Model = Options.InPlace ? graph : graph.Clone();
        Model.Opsets[QuantizerNode.Domain] = 1;
        Model.EnsureNodeNames();
        Plan = QuantizerPlacement.Plan(Model, Config);
        _quantizers = new Dictionary<string, SimQuantizer>(StringComparer.Ordinal);
        InsertQuantizers(Model, Plan);
        // Quantizers inside If branches and Loop/Scan bodies sit in the body itself (the nested session runs and
        // calibrates them like any other); ONNX names are unique across a model and its subgraphs, so are theirs.
        foreach (var (_, _, body) in Model.Subgraphs().ToList())
        {
            body.EnsureNodeNames();
            // Exporters put a branch's weights in Constant nodes; as the body's initializers they get parameter quantizers
            // (weight / bias roles, per-channel axes) exactly as top-level weights do. ONNX allows initializers in subgraphs.
            foreach (var c in body.Nodes.Where(n => n.OpType == "Constant" && n.Domain.Length == 0 && n.Outputs.Count == 1
                         && n.Attributes.Count == 1 && n.Attributes.TryGetValue("value", out var v) && v.Kind == AttributeKind.Tensor).ToList())
            {
                body.Nodes.Remove(c);
                body.Initializers[c.Outputs[0]] = c.Attributes["value"].AsTensor();
            }
            InsertQuantizers(body, QuantizerPlacement.PlanSubgraph(body, Config));
        }
    }

    /// <summary>Creates the planned quantizers (skipping names already taken) and inserts their nodes into <paramref name="graph"/>.</summary>
    private void InsertQuantizers(Graph graph, QuantizerPlan plan)
    {
        // Planned consumers are named by node; nodes are looked up once (a name can repeat: the first holder wins, as before).
        var byName = new Dictionary<string, Node>(StringComparer.Ordinal);
        foreach (var n in graph.Nodes) byName.TryAdd(n.Name, n);
        foreach (var p in plan.Quantizers)
        {
            if (_quantizers.ContainsKey(p.Name)) continue;
            var q = Create(p, graph);
            _quantizers[q.Name] = q;
            var consumers = p.Consumers?.Select(c => (byName[c.Node], c.Index)).ToList();
            QuantizerNode.Insert(graph, p.Value, q.Name, consumers, quantizeGraphOutput: graph.IsOutput(p.Value));
        }
    }

    private QuantizationSimModel(Graph simGraph, QuantSimOptions options, QuantizerConfig config, IEnumerable<SimQuantizer> quantizers)
    {
        Options = options;
        Config = config;
        Model = simGraph;
        Plan = new QuantizerPlan(config, [], []);
        _quantizers = quantizers.ToDictionary(q => q.Name, StringComparer.Ordinal);
    }

    /// <summary>A sim from saved state (<see cref="SimCheckpoint"/>): the simulation graph already holds its quantizer nodes.</summary>
    internal static QuantizationSimModel Restore(Graph simGraph, QuantSimOptions options, QuantizerConfig config,
        IEnumerable<SimQuantizer> quantizers, IEnumerable<string> excludedLayers)
    {
        var sim = new QuantizationSimModel(simGraph, options, config, quantizers);
        sim._excludedLayers.AddRange(excludedLayers);
        foreach (var n in simGraph.Nodes.Where(QuantizerNode.Is))
            if (!sim._quantizers.ContainsKey(QuantizerNode.QuantizerName(n)))
                throw new InvalidDataException($"quantizer node {n.Label} names quantizer '{QuantizerNode.QuantizerName(n)}', which the saved state does not define");
        return sim;
    }

    /// <summary>The options the sim was made with.</summary>
    public QuantSimOptions Options { get; }

    /// <summary>The quantizer config in force.</summary>
    public QuantizerConfig Config { get; }

    /// <summary>Where the config placed quantizers (empty for a sim loaded from a checkpoint).</summary>
    public QuantizerPlan Plan { get; }

    /// <summary>The simulation graph: the model with quantizer nodes.</summary>
    public Graph Model { get; }

    /// <summary>Every quantizer by name, in graph order.</summary>
    public IReadOnlyDictionary<string, SimQuantizer> Quantizers => _quantizers;

    /// <summary>Activation quantizers (op inputs/outputs, model inputs).</summary>
    public IEnumerable<SimQuantizer> ActivationQuantizers => _quantizers.Values.Where(q => q.Role == QuantizerRole.Activation);

    /// <summary>Parameter quantizers (weights, biases, other constants).</summary>
    public IEnumerable<SimQuantizer> ParamQuantizers => _quantizers.Values.Where(q => q.Role == QuantizerRole.Param);

    /// <summary>
    /// For evaluation, when nothing writes into the sim's weights in place: each parameter quantizer quantizes its weight
    /// once per encoding and reuses the result (<see cref="SimQuantizer.ReuseOutput"/>), instead of re-quantizing every
    /// weight on every run — at batch 1 that was most of the sim's cost over FP32 (ResNet-18 at 64×64: 11.7 M weights;
    /// sim 9.7 ms against FP32's 7.0 ms, 6.7 ms with each weight quantized once). Setting an encoding, replacing an initializer or training is seen; writing into a
    /// weight's array in place (AdaRound, an optimizer step outside training mode) is not, so it is off by default and
    /// <c>test</c>, <c>run</c> and <c>analyze</c> turn it on for their evaluation.
    /// </summary>
    public bool ReuseQuantizedWeights
    {
        get => ParamQuantizers.Any(q => q.ReuseOutput);
        set { foreach (var q in ParamQuantizers) q.ReuseOutput = value; }
    }

    /// <summary>Names of enabled quantizers that saw no data in the last <c>ComputeEncodings</c> (they were disabled).</summary>
    public IReadOnlyList<string> QuantizersWithoutData => _withoutData;

    /// <summary>The quantizer named <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No such quantizer (the message lists a few that exist).</exception>
    public SimQuantizer Quantizer(string name) => _quantizers.TryGetValue(name, out var q) ? q
        : throw new KeyNotFoundException($"QuantizationSimModel: no quantizer named '{name}'; quantizers: {string.Join(", ", _quantizers.Keys.Take(12))}{(_quantizers.Count > 12 ? ", …" : "")}");

    /// <summary>Enables or disables the quantizer named <paramref name="name"/>.</summary>
    public void SetEnabled(string name, bool enabled) => Quantizer(name).Enabled = enabled;

    /// <summary>The session running <see cref="Model"/> (compiled once; modes and encodings may change between runs).</summary>
    public Session Session => _session ??= new Session(Model, QuantizerNode.Registry(n => _quantizers.GetValueOrDefault(n)));

    /// <summary>Runs the simulation.</summary>
    public RunResult Run(IReadOnlyDictionary<string, Tensor> feeds, RunOptions? options = null) => Session.Run(feeds, options);

    /// <summary>The float outputs of one run on <paramref name="feeds"/>, by graph output name (non-float outputs left out).</summary>
    public Dictionary<string, Tensor<float>> FloatOutputs(IReadOnlyDictionary<string, Tensor> feeds)
    {
        var run = Run(feeds);
        return Model.Outputs.Where(o => run.Outputs[o.Name] is Tensor<float>)
            .ToDictionary(o => o.Name, o => (Tensor<float>)run.Outputs[o.Name], StringComparer.Ordinal);
    }

    /// <summary>
    /// Runs <paramref name="body"/> with only <paramref name="only"/> of the currently enabled quantizers on (none: the float
    /// model), then turns every one of them back on, whatever happens in the body.
    /// </summary>
    public T WithOnlyEnabled<T>(IReadOnlyCollection<SimQuantizer> only, Func<T> body)
    {
        var enabled = _quantizers.Values.Where(q => q.Enabled).ToList();
        foreach (var q in enabled) q.Enabled = only.Contains(q);
        try { return body(); }
        finally { foreach (var q in enabled) q.Enabled = true; }
    }

    /// <summary>Runs a simulation with one input and one output.</summary>
    public Tensor<float> Run(Tensor<float> input, bool training = false) => Session.Run(input, training);

    /// <summary>
    /// The trainable quantization ranges (range-learning schemes, after <c>ComputeEncodings</c>), by name
    /// (<c>&lt;quantizer&gt;.encoding_min</c> / <c>.encoding_max</c> / <c>.encoding_scale</c>): tensors an optimizer updates in
    /// place, with the gradients that <see cref="Session.Backward"/> through the sim accumulated into them.
    /// </summary>
    public IReadOnlyList<(string Name, Tensor<float> Value, Tensor<float> Gradient)> RangeParameters() =>
        _quantizers.Values.Where(q => q.Enabled).SelectMany(q => q.RangeParameters()).ToList();

    /// <summary>Clears the accumulated range gradients (call after each optimizer step).</summary>
    public void ZeroRangeGradients()
    {
        foreach (var (_, _, g) in RangeParameters()) Array.Clear(g.Data);
    }

    /// <summary>Writes every learned range into its quantizer's <see cref="SimQuantizer.Encoding"/> (done before export and checkpoints).</summary>
    public void SyncLearnedEncodings()
    {
        foreach (var q in _quantizers.Values) q.SyncLearnedEncoding();
    }

    /// <summary>Current encodings of the enabled quantizers that have one, by name.</summary>
    public IReadOnlyDictionary<string, Encoding> GetEncodings() =>
        _quantizers.Values.Where(q => q.Enabled && q.Encoding is not null).ToDictionary(q => q.Name, q => q.Encoding!, StringComparer.Ordinal);

    /// <summary>
    /// Calibrates (AIMET <c>compute_encodings</c>): every enabled, unfrozen activation quantizer collects statistics
    /// while <paramref name="forwardPass"/> runs the sim over representative data (one streaming pass; memory does not
    /// grow with the number of batches); parameter encodings come from the weights themselves. Afterwards encodings
    /// are fixed per <see cref="QuantSimOptions.QuantScheme"/>. Quantizers that saw no data are disabled and listed in
    /// the report (and in <see cref="QuantizersWithoutData"/>). Under <see cref="QuantScheme.PostTrainingEntropy"/> the
    /// KL range is used only where <see cref="EntropyScope"/> says it holds; the others get min/max and are listed in
    /// <see cref="CalibrationReport.SchemeFallbacks"/>.
    /// </summary>
    public CalibrationReport ComputeEncodings(Action<QuantizationSimModel> forwardPass) => ComputeEncodings<object?>((s, _) => forwardPass(s), null);

    /// <summary>As <see cref="ComputeEncodings(Action{QuantizationSimModel})"/>, passing <paramref name="args"/> to the callback (AIMET's <c>forward_pass_callback_args</c>).</summary>
    public CalibrationReport ComputeEncodings<TArgs>(Action<QuantizationSimModel, TArgs> forwardPass, TArgs args)
    {
        var watch = Stopwatch.StartNew();
        // Parameters first, from the weights themselves: the calibration pass then sees quantized weights, as AIMET does.
        var calibrated = new List<string>();
        foreach (var q in ParamQuantizers.Where(q => q.Enabled && !q.IsFrozen))
        {
            q.Encoding = ParamEncoding(q);
            calibrated.Add(q.Name);
        }
        // Float (cast) quantizers need no statistics.
        foreach (var q in ActivationQuantizers.Where(q => q.Enabled && !q.IsFrozen && q.DataType == EncodingDataType.Float))
        {
            q.Encoding = Encoding.FloatType(q.BitWidth);
            calibrated.Add(q.Name);
        }
        // The entropy search holds only on some tensors (see EntropyScope); the others get min/max and are reported.
        bool entropy = Options.QuantScheme == QuantScheme.PostTrainingEntropy;
        var fallbacks = new List<SchemeFallback>();
        if (entropy) fallbacks.AddRange(ParamQuantizers.Where(q => q.Enabled && !q.IsFrozen && q.DataType == EncodingDataType.Int).Select(q => new SchemeFallback(q.Name, EntropyScope.Parameter)));
        var calibrating = ActivationQuantizers.Where(q => q.Enabled && !q.IsFrozen && q.DataType == EncodingDataType.Int)
            .ToDictionary(q => q, q =>
            {
                if (!entropy || q.Axis is not null) return EncodingAnalyzers.Create(Options.QuantScheme, q.Axis, Options.Percentile);
                var (analyzer, reason) = EntropyScope.ActivationAnalyzer(Model, q.Name);
                if (reason is not null) fallbacks.Add(new SchemeFallback(q.Name, reason));
                return analyzer;
            });
        foreach (var (q, analyzer) in calibrating)
        {
            q.Analyzer = analyzer;
            q.CalibrationSpread = null;
        }
        try
        {
            forwardPass(this, args);
        }
        finally
        {
            // Whatever happens in the callback, no quantizer stays in calibration mode.
            foreach (var q in calibrating.Keys) q.Analyzer = null;
        }

        _withoutData = [];
        var constant = new List<(string, float)>();
        foreach (var (q, analyzer) in calibrating)
        {
            if (q.CalibrationSpread is { } spread && spread.Min == spread.Max) constant.Add((q.Name, spread.Min));
            if (!analyzer.HasData)
            {
                _withoutData.Add(q.Name);
                q.Enabled = false;
                continue;
            }
            q.Encoding = q.EncodingFrom(analyzer);
            calibrated.Add(q.Name);
            if (analyzer is NonNegativeEntropyEncodingAnalyzer { Choice: not EntropyChoice.Entropy } guarded) fallbacks.Add(new SchemeFallback(q.Name, EntropyScope.Reason(guarded.Choice)!));
        }
        if (Options.QuantScheme is QuantScheme.TrainingRangeLearningWithTfInit or QuantScheme.TrainingRangeLearningWithTfEnhancedInit)
            foreach (var q in _quantizers.Values.Where(q => q.Enabled && !q.IsFrozen && q.Encoding is { DataType: EncodingDataType.Int, BitWidth: <= 16, IsPerBlock: false }))
                q.EnableRangeLearning();
        return new CalibrationReport(calibrated, _withoutData.ToList(), watch.Elapsed) { ConstantData = constant, SchemeFallbacks = fallbacks };
    }

    /// <summary>The initializer <paramref name="name"/> of the model or of one of its subgraphs (If branches, Loop bodies), or null.</summary>
    private Tensor? ParameterTensor(string name)
    {
        if (Model.Initializers.TryGetValue(name, out var t)) return t;
        foreach (var (_, _, body) in Model.Subgraphs())
            if (body.Initializers.TryGetValue(name, out t)) return t;
        return null;
    }

    /// <summary>A parameter's encoding from its current value (the same analyzer as activations, per channel where configured).</summary>
    private Encoding ParamEncoding(SimQuantizer q)
    {
        if (q.DataType == EncodingDataType.Float) return Encoding.FloatType(q.BitWidth);
        var weight = ParameterTensor(q.Value) as Tensor<float>
            ?? throw new InvalidOperationException($"quantizer '{q.Name}': parameter '{q.Value}' is not a float initializer of the graph or of one of its subgraphs");
        if (q.Granularity is QuantGranularity.PerBlock pb)
            return BlockQuantization.MinMaxEncoding(weight, pb.BlockAxis, pb.BlockSize, q.BitWidth, q.Symmetric, q.StrictSymmetric, q.UnsignedSymmetric);
        var scheme = Options.QuantScheme == QuantScheme.PostTrainingEntropy ? QuantScheme.PostTrainingTf : Options.QuantScheme;
        var analyzer = EncodingAnalyzers.Create(scheme, q.Axis, Options.Percentile);
        analyzer.Collect(weight);
        return q.EncodingFrom(analyzer);
    }

    private SimQuantizer Create(PlannedQuantizer p, Graph graph)
    {
        bool isParam = p.Kind == QuantizerKind.Param;
        // Per-block weights (QuantSimOptions.ParamBlockSize) block along the reduction axis of every reader; the weight-only
        // mode keeps everything else float, as weight-only runtimes (MatMulNBits, blocked DequantizeLinear) compute.
        int? blockAxis = isParam && p.ParamKind == "weight" && Options.ParamBlockSize is not null ? BlockAxes.Of(graph, p.Value) : null;
        var q = new SimQuantizer(p.Name, isParam ? QuantizerRole.Param : QuantizerRole.Activation, p.Value,
            isParam ? Options.DefaultParamBw : Options.DefaultOutputBw, p.Symmetric, p.StrictSymmetric, p.UnsignedSymmetric,
            p.PerChannel ? p.Axis : null, Options.DefaultDataType)
        {
            Enabled = p.Enabled && (!Options.WeightOnly || (isParam && p.ParamKind == "weight")),
            Rounding = Options.RoundingMode,
            Seed = Options.Seed,
        };
        if (blockAxis is { } axis) q.Granularity = new QuantGranularity.PerBlock(axis, Options.ParamBlockSize!.Value);
        if (isParam && p.ParamKind == "weight" && Options.EmbeddingBw is { } tableBits && BlockAxes.IsTable(graph, p.Value)) q.BitWidth = tableBits;
        if (Options.ParamSymmetric is bool sym && isParam) q.Symmetric = sym;
        return q;
    }
}

/// <summary>What <see cref="QuantizationSimModel.ComputeEncodings(Action{QuantizationSimModel})"/> did.</summary>
/// <param name="Calibrated">Quantizers that received an encoding from data or from their weights.</param>
/// <param name="WithoutData">Enabled quantizers that saw no data (now disabled).</param>
/// <param name="Elapsed">Wall time of calibration, forward passes included.</param>
public sealed record CalibrationReport(IReadOnlyList<string> Calibrated, IReadOnlyList<string> WithoutData, TimeSpan Elapsed)
{
    /// <summary>
    /// Activation quantizers that saw one value only — every element of every calibration batch equal (all-zero or
    /// constant data, a dead Relu) — with that value: their range says nothing about real data.
    /// </summary>
    public IReadOnlyList<(string Name, float Value)> ConstantData { get; init; } = [];
    /// <summary>Under <see cref="QuantScheme.PostTrainingEntropy"/>: the quantizers calibrated with min/max instead, and why (see <see cref="EntropyScope"/>); empty otherwise.</summary>
    public IReadOnlyList<SchemeFallback> SchemeFallbacks { get; init; } = [];
}
