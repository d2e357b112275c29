using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Engine.Runtime.Quantizers;
using QuantSharp.Quantization.Encodings;
using QuantSharp.Quantization.Sim;

namespace QuantSharp.Quantization.Analysis;

/// <summary>
/// Where a quantized model loses its accuracy (AIMET's <c>QuantAnalyzer</c>): sensitivity to weight vs activation
/// quantization, per-layer sensitivity with only one layer quantized and with only one layer in float, encoding ranges,
/// FP32 histograms of each layer's activations and weights with the encoding range, and each layer's output MSE between
/// the FP32 and the quantized model.
/// </summary>
/// <remarks>
/// <para>Every configuration is the calibrated sim with some of its quantizers disabled: "FP32" disables them all, so
/// scores compare like with like (the same prepared graph). Only quantizers enabled when the analyzer was made are ever
/// enabled; the sim is put back in that state after each step, also when a step throws.</para>
/// <para>A configuration's score comes from the <see cref="AnalysisEvaluator"/>; its output SQNR is measured on the analysis
/// data against the FP32 configuration. Histograms, ranges seen and MSE are also measured on the analysis data.</para>
/// </remarks>
public sealed class QuantAnalyzer
{
    private readonly HashSet<string> _baseline;
    private readonly IReadOnlyList<IReadOnlyDictionary<string, Tensor>> _data;
    private readonly QuantAnalyzerOptions _options;
    private readonly Dictionary<string, Node> _quantizerNodes;
    private List<Dictionary<string, Tensor<float>>>? _fp32Outputs;
    private Dictionary<string, (double Min, double Max)>? _observed;

    /// <summary>An analyzer of a calibrated sim.</summary>
    /// <param name="sim">The calibrated simulation (its enabled quantizers define "quantized").</param>
    /// <param name="evaluator">The score of a configuration.</param>
    /// <param name="data">Analysis data: feeds (graph input name → batch), e.g. the calibration batches.</param>
    /// <param name="options">What to compute.</param>
    /// <exception cref="ArgumentException">No analysis data, or an enabled quantizer without encoding.</exception>
    public QuantAnalyzer(QuantizationSimModel sim, AnalysisEvaluator evaluator, IReadOnlyList<IReadOnlyDictionary<string, Tensor>> data,
        QuantAnalyzerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(sim);
        ArgumentNullException.ThrowIfNull(evaluator);
        ArgumentNullException.ThrowIfNull(data);
        if (data.Count == 0) throw new ArgumentException("QuantAnalyzer: argument 'data' expected at least one batch, got none", nameof(data));
        Sim = sim;
        Evaluator = evaluator;
        _data = data;
        _options = options ?? new QuantAnalyzerOptions();
        _options.Validate();
        var missing = sim.Quantizers.Values.Where(q => q.Enabled && q.Encoding is null).Select(q => q.Name).ToList();
        if (missing.Count > 0)
            throw new ArgumentException($"QuantAnalyzer: the sim is not calibrated: enabled quantizers without encoding: {string.Join(", ", missing.Take(8))}", nameof(sim));
        _baseline = sim.Quantizers.Values.Where(q => q.Enabled).Select(q => q.Name).ToHashSet(StringComparer.Ordinal);
        _quantizerNodes = new Dictionary<string, Node>(StringComparer.Ordinal);
        foreach (var n in sim.Model.Nodes.Where(QuantizerNode.Is)) _quantizerNodes.TryAdd(QuantizerNode.QuantizerName(n), n);
        Layers = AnalysisLayer.Find(sim);
    }

    /// <summary>
    /// Builds the sim of <paramref name="fp32"/> (AIMET's QuantAnalyzer does this itself), calibrates it on
    /// <paramref name="data"/> and returns its analyzer.
    /// </summary>
    public static QuantAnalyzer FromModel(Graph fp32, QuantSimOptions? simOptions, AnalysisEvaluator evaluator,
        IReadOnlyList<IReadOnlyDictionary<string, Tensor>> data, QuantAnalyzerOptions? options = null)
    {
        var sim = new QuantizationSimModel(fp32, simOptions);
        sim.ComputeEncodings(s => { foreach (var feed in data) s.Run(feed); });
        return new QuantAnalyzer(sim, evaluator, data, options);
    }

    /// <summary>The simulation analysed.</summary>
    public QuantizationSimModel Sim { get; }

    /// <summary>The score used.</summary>
    public AnalysisEvaluator Evaluator { get; }

    /// <summary>The layers analysed (ops owning enabled quantizers), in graph order.</summary>
    public IReadOnlyList<AnalysisLayer> Layers { get; }

    /// <summary>Number of samples in the analysis data (first dimension of the first input of each batch).</summary>
    public int Samples => _data.Sum(f => f.Values.FirstOrDefault() is { Rank: > 0 } t ? t.Dims[0] : 1);

    /// <summary>Runs every step the options ask for.</summary>
    public QuantAnalysis Analyze()
    {
        var sensitivity = CheckModelSensitivityToQuantization();
        var perLayer = _options.PerLayer ? PerLayerSensitivity() : [];
        var histograms = _options.Histograms ? Histograms() : [];
        var mse = _options.Mse ? PerLayerMse() : [];
        var notes = new List<string>(_options.Notes)
        {
            "FP32 = the calibrated sim with every quantizer disabled; output SQNR is measured against it on the analysis data.",
        };
        return new QuantAnalysis(_options.ModelName ?? Sim.Model.Name, Evaluator.Name, Evaluator.Unit, Samples, sensitivity, Layers, perLayer,
            EncodingRanges(), histograms, mse, notes);
    }

    /// <summary>Scores FP32, weights-only, activations-only and fully quantized (AIMET <c>check_model_sensitivity_to_quantization</c>).</summary>
    public SensitivityAnalysis CheckModelSensitivityToQuantization()
    {
        int done = 0;
        ConfigurationScore Step(Func<SimQuantizer, bool> enabled)
        {
            var s = Score(enabled);
            Report("sensitivity", ++done, 4);
            return s;
        }
        return new SensitivityAnalysis(Step(_ => false), Step(q => q.Role == QuantizerRole.Param), Step(q => q.Role == QuantizerRole.Activation), Step(_ => true));
    }

    /// <summary>
    /// For every layer: the score with only its quantizers enabled, and with every quantizer but its own enabled (AIMET
    /// <c>perform_per_layer_analysis_by_enabling_quant_wrappers</c> / <c>…_by_disabling_quant_wrappers</c>).
    /// </summary>
    public IReadOnlyList<LayerSensitivity> PerLayerSensitivity()
    {
        var result = new List<LayerSensitivity>(Layers.Count);
        int done = 0, total = 2 * Layers.Count;
        foreach (var layer in Layers)
        {
            var mine = layer.Quantizers.ToHashSet(StringComparer.Ordinal);
            var only = Score(q => mine.Contains(q.Name));
            Report("per-layer", ++done, total);
            var allBut = Score(q => !mine.Contains(q.Name));
            Report("per-layer", ++done, total);
            result.Add(new LayerSensitivity(layer.Name, layer.OpType, only, allBut));
        }
        return result;
    }

    /// <summary>
    /// Encoding ranges of every layer's quantizers (AIMET <c>export_per_layer_encoding_min_max_range</c>); per-channel
    /// weights are summarized by their extreme channels. The ranges seen in FP32 are filled in once
    /// <see cref="Histograms"/> ran (weights always).
    /// </summary>
    public IReadOnlyList<QuantizerRange> EncodingRanges()
    {
        var ranges = new List<QuantizerRange>();
        foreach (var layer in Layers)
            foreach (var name in layer.Quantizers)
            {
                var q = Sim.Quantizer(name);
                if (q.Encoding is not { DataType: EncodingDataType.Int } e || e.Channels == 0) continue;
                (double Min, double Max)? seen = q.Role == QuantizerRole.Param ? WeightRange(q)
                    : _observed is not null && _observed.TryGetValue(name, out var r) ? r : null;
                double? narrow = null, wide = null;
                if (e.IsPerChannel)
                {
                    var widths = e.Maxs.Zip(e.Mins, (hi, lo) => hi - lo).ToList();
                    narrow = widths.Min();
                    wide = widths.Max();
                }
                ranges.Add(new QuantizerRange(layer.Name, name, q.Role, e.BitWidth, e.Channels, e.Mins.Min(), e.Maxs.Max(), e.Scales.Max(),
                    narrow, wide, seen?.Min, seen?.Max));
            }
        return ranges;
    }

    /// <summary>
    /// FP32 histograms (every quantizer disabled) of the values each layer's quantizers see on the analysis data, and of
    /// its weights, each with its encoding range (AIMET <c>export_per_layer_stats_histogram</c>).
    /// </summary>
    public IReadOnlyList<LayerHistogram> Histograms()
    {
        // Activation quantizers: stream each observed value into a growing histogram, then re-bin for display.
        var owner = new Dictionary<string, string>(StringComparer.Ordinal);
        var byValue = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var layer in Layers)
            foreach (var name in layer.ActivationQuantizers)
            {
                owner[name] = layer.Name;
                string value = _quantizerNodes[name].Inputs[0];
                if (!byValue.TryGetValue(value, out var list)) byValue[value] = list = [];
                list.Add(name);
            }
        var streams = owner.Keys.ToDictionary(n => n, _ => new Calibration.StreamingHistogram(512), StringComparer.Ordinal);
        var observer = new RunOptions
        {
            Observed = byValue.Keys.ToList(),
            Observer = (value, t) =>
            {
                if (t is not Tensor<float> f || f.Length == 0) return;
                if (Calibration.RangeKernel.MinMax(f.AsSpan(), out float min, out float max) != 0) return;  // non-finite values: not plotted
                foreach (var name in byValue[value]) streams[name].Add(f.AsSpan(), min, max);
            },
        };
        WithConfiguration(_ => false, () =>
        {
            for (int b = 0; b < _data.Count; b++)
            {
                Sim.Run(_data[b], observer);
                Report("histograms", b + 1, _data.Count);
            }
        });
        _observed = streams.Where(kv => kv.Value.HasData).ToDictionary(kv => kv.Key, kv => ((double)kv.Value.Min, (double)kv.Value.Max), StringComparer.Ordinal);

        var result = new List<LayerHistogram>();
        foreach (var layer in Layers)
        {
            foreach (var name in layer.ParamQuantizers)
            {
                var q = Sim.Quantizer(name);
                if (Sim.Model.Initializers.GetValueOrDefault(q.Value) is not Tensor<float> w || w.Length == 0) continue;
                var (lo, hi, counts) = Bin(w.AsSpan(), _options.HistogramBins);
                var (emin, emax) = EncodingExtent(q);
                result.Add(new LayerHistogram(layer.Name, name, QuantizerRole.Param, lo, hi, counts, emin, emax));
            }
            foreach (var name in layer.ActivationQuantizers)
            {
                var h = streams[name];
                if (!h.HasData) continue;
                var (lo, hi, counts) = Rebin(h, _options.HistogramBins);
                var (emin, emax) = EncodingExtent(Sim.Quantizer(name));
                result.Add(new LayerHistogram(layer.Name, name, QuantizerRole.Activation, lo, hi, counts, emin, emax));
            }
        }
        return result;
    }

    /// <summary>
    /// Each layer's output (<see cref="AnalysisLayer.OutputValue"/>) in the quantized model against the FP32 model, both run on
    /// the same analysis batches (AIMET <c>export_per_layer_mse_loss</c>).
    /// </summary>
    public IReadOnlyList<LayerMse> PerLayerMse()
    {
        var sums = Layers.Select(_ => new SqnrSums()).ToList();
        var layersOf = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        for (int i = 0; i < Layers.Count; i++)
        {
            if (!layersOf.TryGetValue(Layers[i].OutputValue, out var list)) layersOf[Layers[i].OutputValue] = list = [];
            list.Add(i);
        }
        // FP32 outputs are captured; the quantized ones are compared as they are computed (only one set is held at a time).
        var capture = new RunOptions { Capture = layersOf.Keys.ToList() };
        for (int b = 0; b < _data.Count; b++)
        {
            RunResult fp32 = null!;
            WithConfiguration(_ => false, () => fp32 = Sim.Run(_data[b], capture));
            var compare = new RunOptions
            {
                Observed = layersOf.Keys.ToList(),
                Observer = (value, t) =>
                {
                    if (t is not Tensor<float> actual || Value(fp32, value) is not { } reference) return;
                    foreach (int i in layersOf[value]) sums[i].Add(reference, actual, "PerLayerMse");
                },
            };
            WithConfiguration(_ => true, () => Sim.Run(_data[b], compare));
            Report("mse", b + 1, _data.Count);
        }
        return Layers.Select((l, i) => new LayerMse(l.Name, l.OutputValue, sums[i].Mse, sums[i].Db)).ToList();
    }

    private static Tensor<float>? Value(RunResult run, string name) =>
        (run.Captured.GetValueOrDefault(name) ?? run.Outputs.GetValueOrDefault(name)) as Tensor<float>;

    /// <summary>Score and output SQNR with exactly the baseline quantizers that <paramref name="enabled"/> accepts switched on.</summary>
    private ConfigurationScore Score(Func<SimQuantizer, bool> enabled)
    {
        var reference = Fp32Outputs();
        ConfigurationScore result = null!;
        WithConfiguration(enabled, () =>
        {
            double score = Evaluator.Evaluate(Sim);
            var sums = new SqnrSums();
            for (int b = 0; b < _data.Count; b++)
            {
                var run = Sim.Run(_data[b]);
                foreach (var (name, expected) in reference[b]) sums.Add(expected, run.Output(name), "OutputSqnr");
            }
            result = new ConfigurationScore(score, sums.Db);
        });
        return result;
    }

    private List<Dictionary<string, Tensor<float>>> Fp32Outputs()
    {
        if (_fp32Outputs is not null) return _fp32Outputs;
        var outputs = new List<Dictionary<string, Tensor<float>>>();
        WithConfiguration(_ => false, () =>
        {
            foreach (var feed in _data)
            {
                var run = Sim.Run(feed);
                outputs.Add(run.Outputs.Where(kv => kv.Value is Tensor<float>).ToDictionary(kv => kv.Key, kv => (Tensor<float>)kv.Value, StringComparer.Ordinal));
            }
        });
        return _fp32Outputs = outputs;
    }

    /// <summary>Runs <paramref name="action"/> with the baseline quantizers accepted by <paramref name="enabled"/> on, then restores the baseline.</summary>
    private void WithConfiguration(Func<SimQuantizer, bool> enabled, Action action)
    {
        foreach (var q in Sim.Quantizers.Values) q.Enabled = _baseline.Contains(q.Name) && enabled(q);
        try { action(); }
        finally { foreach (var q in Sim.Quantizers.Values) q.Enabled = _baseline.Contains(q.Name); }
    }

    private void Report(string stage, int done, int total) => _options.Progress?.Invoke(new AnalysisProgress(stage, done, total));

    private (double Min, double Max)? WeightRange(SimQuantizer q)
    {
        if (Sim.Model.Initializers.GetValueOrDefault(q.Value) is not Tensor<float> w || w.Length == 0) return null;
        Calibration.RangeKernel.MinMax(w.AsSpan(), out float min, out float max);
        return (min, max);
    }

    private static (double? Min, double? Max) EncodingExtent(SimQuantizer q) =>
        q.Encoding is { DataType: EncodingDataType.Int } e && e.Channels > 0 ? (e.Mins.Min(), e.Maxs.Max()) : (null, null);

    /// <summary>Equal-width bins over [min, max] of the finite values (a constant tensor gets [v − ½, v + ½]).</summary>
    internal static (double Lower, double Upper, long[] Counts) Bin(ReadOnlySpan<float> x, int bins)
    {
        Calibration.RangeKernel.MinMax(x, out float min, out float max);
        var counts = new long[bins];
        if (min > max) return (0, 1, counts);
        double lo = min, hi = max;
        if (hi == lo) { lo -= 0.5; hi += 0.5; }
        double scale = bins / (hi - lo);
        foreach (float v in x)
            if (float.IsFinite(v)) counts[Math.Clamp((int)((v - lo) * scale), 0, bins - 1)]++;
        return (lo, hi, counts);
    }

    /// <summary>A streamed histogram's counts moved (by bin centre) into equal-width bins over [min, max] seen.</summary>
    private static (double Lower, double Upper, long[] Counts) Rebin(Calibration.StreamingHistogram h, int bins)
    {
        double lo = h.Min, hi = h.Max;
        if (hi == lo) { lo -= 0.5; hi += 0.5; }
        var counts = new long[bins];
        var source = h.Counts;
        double scale = bins / (hi - lo);
        for (int j = 0; j < source.Length; j++)
            if (source[j] != 0) counts[Math.Clamp((int)((h.BinCenter(j) - lo) * scale), 0, bins - 1)] += source[j];
        return (lo, hi, counts);
    }
}
