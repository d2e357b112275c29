using QuantSharp.Engine.Runtime;
using QuantSharp.Engine;
using QuantSharp.Engine.Runtime.Quantizers;
using QuantSharp.Quantization.Encodings;
using QuantSharp.Quantization.Export;

namespace QuantSharp.Quantization.Sim;

public sealed partial class QuantizationSimModel
{
    private readonly List<string> _excludedLayers = [];

    /// <summary>Nodes excluded from quantization with <see cref="ExcludeLayers"/> (AIMET <c>excluded_layers</c>).</summary>
    public IReadOnlyList<string> ExcludedLayers => _excludedLayers;

    /// <summary>
    /// Excludes nodes from quantization: every quantizer on their parameters and on their outputs is disabled, and the
    /// names are recorded in the exported encodings' <c>excluded_layers</c>.
    /// </summary>
    /// <exception cref="KeyNotFoundException">A node name that is not in the graph.</exception>
    public void ExcludeLayers(params string[] nodeNames)
    {
        foreach (var name in nodeNames)
        {
            var node = Model.Nodes.FirstOrDefault(n => n.Name == name && !QuantizerNode.Is(n))
                ?? throw new KeyNotFoundException($"ExcludeLayers: no node named '{name}' in graph '{Model.Name}'");
            var attached = Model.Nodes.Where(QuantizerNode.Is).Where(q =>
                node.Outputs.Contains(q.Inputs[0]) || (node.Inputs.Contains(q.Outputs[0]) && Model.Initializers.ContainsKey(q.Inputs[0])));
            foreach (var q in attached)
                if (_quantizers.TryGetValue(QuantizerNode.QuantizerName(q), out var sq)) sq.Enabled = false;
            if (!_excludedLayers.Contains(name)) _excludedLayers.Add(name);
        }
    }

    /// <summary>The encodings file describing this sim (what <see cref="Export"/> writes).</summary>
    /// <param name="propagateEncodings">Also give the outputs of pure data-movement ops (Reshape, Flatten, Transpose,
    /// Squeeze, Unsqueeze, MaxPool, …) that have no quantizer of their own the encoding of their quantized input, so a
    /// runtime finds an encoding on every tensor between quantized ops (AIMET's <c>propagate_encodings</c>).</param>
    public EncodingsFile ToEncodingsFile(bool propagateEncodings = false)
    {
        SyncLearnedEncodings();
        var activations = new Dictionary<string, Encoding>(StringComparer.Ordinal);
        var parameters = new Dictionary<string, Encoding>(StringComparer.Ordinal);
        foreach (var q in _quantizers.Values.Where(q => q.Enabled && q.Encoding is not null))
            (q.Role == QuantizerRole.Param ? parameters : activations)[q.Name] = q.Encoding!;
        if (propagateEncodings) Propagate(activations);
        var args = new QuantizerArgs(
            ActivationBitwidth: Options.DefaultOutputBw,
            ParamBitwidth: Options.DefaultParamBw,
            Dtype: Options.DefaultDataType,
            IsSymmetric: ParamQuantizers.Any(q => q.Symmetric),
            PerChannelQuantization: ParamQuantizers.Any(q => q.IsPerChannel),
            QuantScheme: QuantSchemeNames.Name(Options.QuantScheme),
            StrictSymmetric: _quantizers.Values.Any(q => q.StrictSymmetric),
            UnsignedSymmetric: _quantizers.Values.Any(q => q.UnsignedSymmetric));
        return new EncodingsFile(activations, parameters, _excludedLayers.ToList(), args);
    }

    /// <summary>
    /// Writes, atomically, into <paramref name="directory"/>: <c>prefix.onnx</c> (the floating-point graph, quantizers
    /// removed, tensor names preserved), <c>prefix.encodings</c> (AIMET encodings JSON, <paramref name="format"/>) and
    /// <c>prefix_qdq.onnx</c> (each enabled quantizer lowered to QuantizeLinear/DequantizeLinear). Returns the paths.
    /// </summary>
    public IReadOnlyList<string> Export(string directory, string filenamePrefix, EncodingsFormat format = EncodingsFormat.V1_0_0, bool propagateEncodings = false)
    {
        if (string.IsNullOrWhiteSpace(filenamePrefix) || filenamePrefix.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0)
            throw new ArgumentException($"Export: filenamePrefix expected a file name, got '{filenamePrefix}'", nameof(filenamePrefix));
        Directory.CreateDirectory(directory);
        SyncLearnedEncodings();
        string onnx = Path.Combine(directory, filenamePrefix + ".onnx");
        string encodings = Path.Combine(directory, filenamePrefix + ".encodings");
        string qdq = Path.Combine(directory, filenamePrefix + "_qdq.onnx");
        FloatExport.Save(Model, onnx);
        EncodingsJson.Save(ToEncodingsFile(propagateEncodings), encodings, format);
        QdqExport.Save(Model, ActiveEncoding, qdq);
        return [onnx, encodings, qdq];
    }

    /// <summary>The QDQ graph <see cref="Export"/> writes as <c>prefix_qdq.onnx</c> (each enabled quantizer lowered to QuantizeLinear/DequantizeLinear).</summary>
    public Graph ToQdqGraph(QdqOptions? options = null)
    {
        SyncLearnedEncodings();
        return QdqExport.Lower(Model, ActiveEncoding, options);
    }

    /// <summary>
    /// The integer-exact simulation of the current encodings: what ONNX Runtime computes for the exported QDQ model, bit for
    /// bit on every quantized tensor (see <see cref="IntegerSimulation"/>). Build it after calibration; it does not follow
    /// later encoding changes.
    /// </summary>
    public IntegerSimulation ToIntegerSimulation() => new(ToQdqGraph());

    /// <summary>The encoding a QDQ export uses for quantizer <paramref name="name"/>: null when disabled or uncalibrated.</summary>
    public Encoding? ActiveEncoding(string name) =>
        _quantizers.TryGetValue(name, out var q) && q.Enabled ? q.Encoding : null;

    /// <summary>
    /// Applies an encodings file (AIMET <c>load_encodings</c>): each entry sets the encoding of the quantizer of that name
    /// and enables it. <paramref name="strict"/>: an entry without a quantizer, or whose bit-width/symmetry/per-channel
    /// form disagrees with the quantizer's settings, is an error naming it. <paramref name="partial"/> = false: quantizers
    /// the file does not mention are disabled. <paramref name="freezeParams"/>: parameter encodings are frozen.
    /// </summary>
    public void LoadEncodings(string path, bool strict = true, bool partial = true, bool freezeParams = false) =>
        ApplyEncodings(EncodingsJson.Load(path), path, strict, partial, freezeParams);

    /// <summary>Sets and freezes the parameter encodings of an encodings file (AIMET <c>set_and_freeze_param_encodings</c>), e.g. from AdaRound.</summary>
    public void SetAndFreezeParamEncodings(string path) => SetAndFreezeParamEncodings(EncodingsJson.Load(path), path);

    /// <summary>Sets and freezes the parameter encodings of <paramref name="file"/> held in memory (a technique's result); <paramref name="source"/> names it in errors.</summary>
    public void SetAndFreezeParamEncodings(EncodingsFile file, string source = "param encodings") =>
        ApplyEncodings(file with { ActivationEncodings = new Dictionary<string, Encoding>() }, source, strict: true, partial: true, freezeParams: true);

    private void ApplyEncodings(EncodingsFile file, string source, bool strict, bool partial, bool freezeParams)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, encoding, isParam) in file.ActivationEncodings.Select(e => (e.Key, e.Value, false))
                     .Concat(file.ParamEncodings.Select(e => (e.Key, e.Value, true))))
        {
            if (!_quantizers.TryGetValue(name, out var q))
            {
                if (strict) throw new InvalidDataException($"{source}: encoding '{name}' has no quantizer in the sim (strict loading)");
                continue;
            }
            if (strict && (q.Role == QuantizerRole.Param) != isParam)
                throw new InvalidDataException($"{source}: encoding '{name}' is listed as {(isParam ? "a param" : "an activation")} encoding, but the quantizer is {(isParam ? "an activation" : "a param")} quantizer");
            if (strict && encoding.DataType == EncodingDataType.Int && encoding.Granularity != q.Granularity)
                throw new InvalidDataException($"{source}: encoding '{name}' is {encoding.Granularity}, the quantizer is {q.Granularity}");
            if (strict && SettingMismatch(q, encoding) is { } mismatch)
                throw new InvalidDataException($"{source}: encoding '{name}' has {mismatch} (strict loading; load with strict: false to take the file's settings)");
            if (q.IsFrozen) { seen.Add(name); continue; }
            if (!strict && encoding.DataType == EncodingDataType.Int && encoding.Granularity != q.Granularity) q.Granularity = encoding.Granularity;
            // A file may store per-block entries flat; the parameter's shape gives their layout (and checks their count).
            var laidOut = encoding;
            if (encoding is { IsPerBlock: true, ScaleShape.IsEmpty: true } && ParameterTensor(q.Value) is { } param)
            {
                try { laidOut = encoding.WithScaleShape(BlockQuantization.ScaleDims(param.Dims, encoding.Axis!.Value, encoding.BlockSize!.Value)); }
                catch (ArgumentException e) { throw new InvalidDataException($"{source}: encoding '{name}' does not fit parameter '{q.Value}' [{string.Join(", ", param.Shape)}]: {e.Message}", e); }
            }
            q.Encoding = laidOut;
            q.Enabled = true;
            if (freezeParams && q.Role == QuantizerRole.Param) q.SetAndFreeze(laidOut);
            seen.Add(name);
        }
        if (!partial)
            foreach (var q in _quantizers.Values.Where(q => !seen.Contains(q.Name))) q.Enabled = false;
    }

    /// <summary>
    /// The first quantizer property (dtype, bitwidth, symmetric) on which <paramref name="encoding"/> disagrees with
    /// <paramref name="q"/>'s settings, as "bitwidth 4 in the file, 8 in the sim", or null when they agree (AIMET's strict
    /// <c>load_encodings</c>: a file made for other quantizer settings is refused, not silently adopted).
    /// </summary>
    private static string? SettingMismatch(SimQuantizer q, Encoding encoding)
    {
        if (encoding.DataType != q.DataType) return $"dtype {encoding.DataType} in the file, {q.DataType} in the sim";
        if (encoding.BitWidth != q.BitWidth) return $"bitwidth {encoding.BitWidth} in the file, {q.BitWidth} in the sim";
        if (encoding.DataType == EncodingDataType.Int && encoding.Symmetric != q.Symmetric)
            return $"symmetric {(encoding.Symmetric ? "true" : "false")} in the file, {(q.Symmetric ? "true" : "false")} in the sim";
        return null;
    }

    private void Propagate(Dictionary<string, Encoding> activations)
    {
        // The tensor each quantizer node reads is the tensor named in the exported graph.
        var encodingOfValue = new Dictionary<string, Encoding>(StringComparer.Ordinal);
        foreach (var n in Model.Nodes.Where(QuantizerNode.Is))
            if (activations.TryGetValue(QuantizerNode.QuantizerName(n), out var e)) { encodingOfValue[n.Inputs[0]] = e; encodingOfValue[n.Outputs[0]] = e; }
        foreach (var n in Model.Nodes.Where(n => OpRegistry.Default.Schema(n)?.Has(OpTraits.DataMovement) == true))
        {
            if (n.Inputs.Count == 0 || !encodingOfValue.TryGetValue(n.Inputs[0], out var e) || e.Axis is not null) continue;
            foreach (var o in n.Outputs.Where(o => o.Length > 0 && !encodingOfValue.ContainsKey(o)))
            {
                encodingOfValue[o] = e;
                activations.TryAdd(o, e);
            }
        }
    }
}
