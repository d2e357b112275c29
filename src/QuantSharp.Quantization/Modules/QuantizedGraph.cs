using QuantSharp.Engine;
using QuantSharp.Engine.Autograd;
using QuantSharp.Engine.Runtime;
using QuantSharp.Engine.Runtime.Quantizers;
using QuantSharp.Quantization.Quantizers;

namespace QuantSharp.Quantization.Modules;

/// <summary>
/// A graph carrying <see cref="TensorQuantizer"/>s as quantizer nodes (from <see cref="QuantModules"/> or
/// <see cref="AddQuantizer"/>), with the pytorch-quantization calibration workflow over all of them.
/// </summary>
/// <remarks>
/// Calibration: <see cref="StartCalibration"/> (quantization off, statistics on) → run the data through
/// <see cref="Session"/> → <see cref="FinishCalibration"/> (amax loaded from each calibrator, quantization on).
/// </remarks>
public sealed class QuantizedGraph
{
    private readonly Dictionary<string, TensorQuantizer> _quantizers = new(StringComparer.Ordinal);
    private readonly HashSet<string> _foreign;
    private Session? _session;

    internal QuantizedGraph(Graph graph)
    {
        Graph = graph;
        Graph.Opsets[QuantizerNode.Domain] = 1;
        // Quantizer nodes already in the graph (e.g. a graph wrapped before): their names must not be reused.
        _foreign = graph.Nodes.Where(QuantizerNode.Is).Select(QuantizerNode.QuantizerName).ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>The graph with its quantizer nodes.</summary>
    public Graph Graph { get; }

    /// <summary>Every quantizer by name.</summary>
    public IReadOnlyDictionary<string, TensorQuantizer> Quantizers => _quantizers;

    /// <summary>
    /// The learnable Variables of every quantizer by name — <c>{quantizer}.amax</c> (a learned amax),
    /// <c>{quantizer}.clip_min</c> and <c>{quantizer}.clip_max</c> (clip bounds) — frozen or not, for
    /// <see cref="ParameterHelpers"/> and optimizers. <see cref="Session"/>'s backward accumulates their gradients
    /// (a clip bound's only while its <c>RequiresGrad</c> is true).
    /// </summary>
    public IReadOnlyDictionary<string, Variable> Parameters()
    {
        var result = new Dictionary<string, Variable>(StringComparer.Ordinal);
        foreach (var (name, q) in _quantizers)
        {
            if (q.LearnedAmax is { } amax) result[name + ".amax"] = amax;
            if (q.ClipMin is { } lo) result[name + ".clip_min"] = lo;
            if (q.ClipMax is { } hi) result[name + ".clip_max"] = hi;
        }
        return result;
    }

    /// <summary>A session over <see cref="Graph"/> bound to these quantizers (rebuilt after a quantizer is added).</summary>
    public Session Session => _session ??= new Session(Graph, Registry);

    /// <summary>The op registry binding the quantizer nodes to these quantizers (for sessions made by hand).</summary>
    public OpRegistry Registry => QuantizerNode.Registry(n => _quantizers.GetValueOrDefault(n));

    /// <summary>
    /// A standalone quantizer on any edge: every reader of <paramref name="value"/> reads the quantized value (a graph
    /// output is quantized too and keeps its name). Returns the quantizer.
    /// </summary>
    /// <exception cref="ArgumentException">The name is already used by another quantizer, or the descriptor is invalid for a quantizer.</exception>
    /// <exception cref="GraphException">The value does not exist in the graph (nothing is added).</exception>
    public TensorQuantizer AddQuantizer(string value, QuantDescriptor descriptor, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(value);
        name ??= value + ".quantizer";
        var q = Create(name, descriptor);
        QuantizerNode.Insert(Graph, value, name, quantizeGraphOutput: Graph.IsOutput(value));
        Register(q);
        return q;
    }

    internal void AddOnInput(Node node, int input, string name, QuantDescriptor descriptor)
    {
        if (input >= node.Inputs.Count || node.Inputs[input].Length == 0) return;
        var q = Create(name, descriptor);
        QuantizerNode.Insert(Graph, node.Inputs[input], name, [(node, input)]);
        Register(q);
    }

    /// <summary>
    /// One more quantizer node running the existing quantizer <paramref name="name"/>, on input <paramref name="input"/>
    /// of <paramref name="node"/>: the two edges share one amax (statistics from both, one learned range whose gradient
    /// both accumulate), as a module that quantizes a concatenation of them does.
    /// </summary>
    internal void ShareOnInput(Node node, int input, string name)
    {
        if (input >= node.Inputs.Count || node.Inputs[input].Length == 0) return;
        if (!_quantizers.ContainsKey(name)) throw new InvalidOperationException($"QuantizedGraph: no quantizer named '{name}' to share");
        var inserted = QuantizerNode.Insert(Graph, node.Inputs[input], name, [(node, input)]);
        // The first node carries the quantizer's name; node names stay unique.
        inserted.Name = Graph.UniqueName(name);
        _session = null;
    }

    private TensorQuantizer Create(string name, QuantDescriptor descriptor)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        if (_quantizers.ContainsKey(name)) throw new ArgumentException($"QuantizedGraph: a quantizer named '{name}' already exists", nameof(name));
        if (_foreign.Contains(name))
            throw new ArgumentException($"QuantizedGraph: graph '{Graph.Name}' already has a quantizer node named '{name}' (was it wrapped before?); " +
                "wrap the floating-point graph, or add to the QuantizedGraph that made it", nameof(name));
        return new TensorQuantizer(descriptor, name);
    }

    private void Register(TensorQuantizer q)
    {
        _quantizers[q.Name] = q;
        _session = null;
    }

    /// <summary>
    /// Puts every enabled quantizer in calibration mode: statistics collected, values passed through unquantized.
    /// Statistics add to what the calibrators already hold (as in pytorch-quantization); call
    /// <c>Calibrator.Reset()</c> on a quantizer to start it afresh.
    /// </summary>
    public void StartCalibration()
    {
        foreach (var q in _quantizers.Values.Where(q => q.IsEnabled))
        {
            q.DisableQuant();
            q.EnableCalib();
        }
    }

    /// <summary>
    /// Loads each calibrating quantizer's amax from its calibrator (<paramref name="method"/>: max for max calibrators;
    /// entropy | mse | percentile for histogram calibrators) and switches quantization back on. Returns the names of
    /// quantizers that saw no data (they keep no amax and are disabled). <paramref name="stride"/> and
    /// <paramref name="startBin"/> go to the entropy and mse searches, <paramref name="percentile"/> to percentile.
    /// </summary>
    /// <exception cref="ArgumentException">A method the calibrator does not provide, e.g. "max" for a histogram calibrator (names the quantizer).</exception>
    public IReadOnlyList<string> FinishCalibration(string method = "max", double percentile = 99.99, int stride = 1, int startBin = 128)
    {
        ArgumentNullException.ThrowIfNull(method);
        var calibrating = _quantizers.Where(p => p.Value.IsEnabled && p.Value.IsCalibEnabled).ToList();
        // Check the method first, so a bad one leaves every quantizer as it was.
        var histogram = calibrating.Where(p => p.Value.Descriptor.CalibMethod != "max").Select(p => p.Key).ToList();
        if (histogram.Count > 0 && method is not ("entropy" or "mse" or "percentile"))
            throw new ArgumentException($"QuantizedGraph.FinishCalibration: argument 'method' expected \"entropy\", \"mse\" or \"percentile\" for the " +
                $"histogram quantizers {string.Join(", ", histogram)}, got \"{method}\"", nameof(method));
        var withoutData = new List<string>();
        foreach (var (name, q) in calibrating)
        {
            q.DisableCalib();
            if (!q.HasCalibrationData)
            {
                withoutData.Add(name);
                q.Disable();
                continue;
            }
            q.LoadCalibAmax(q.Descriptor.CalibMethod == "max" ? "max" : method, stride, startBin, percentile);
            q.EnableQuant();
        }
        return withoutData;
    }
}
