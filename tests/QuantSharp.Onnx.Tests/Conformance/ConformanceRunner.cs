using System.Diagnostics;
using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Onnx.Import;

namespace QuantSharp.Onnx.Tests.Conformance;

/// <summary>Outcome of one backend-test folder.</summary>
internal enum CaseOutcome { Passed, PassedRandom, Failed, SkippedUnsupportedOp, SkippedUnsupportedType }

/// <summary>Result of one test folder: outcome, and why (failure message or skip reason).</summary>
internal sealed record CaseResult(string Suite, string Name, CaseOutcome Outcome, string Detail, double Seconds);

/// <summary>
/// Runs one ONNX backend-test folder (model.onnx + test_data_set_N/input_K.pb, output_K.pb) through <see cref="Session"/>.
/// Input K feeds the K-th graph input that is not an initializer; output K is compared to the K-th graph output.
/// A graph with a random op (<see cref="RandomOps"/>) cannot reproduce the expected values, which come from numpy's
/// generator: its outputs are checked for element type, shape and value domain only (<see cref="RandomMismatch"/>),
/// and the case reports <see cref="CaseOutcome.PassedRandom"/>, never <see cref="CaseOutcome.Passed"/>.
/// </summary>
internal static class ConformanceRunner
{
    /// <summary>Float tolerance: |actual − expected| ≤ <see cref="AbsoluteTolerance"/> + <see cref="RelativeTolerance"/>·|expected|; NaN matches NaN.</summary>
    public const double AbsoluteTolerance = 1e-4, RelativeTolerance = 1e-3;

    /// <summary>Op types whose outputs are random draws.</summary>
    public static readonly HashSet<string> RandomOps = ["Bernoulli", "RandomUniform", "RandomUniformLike", "RandomNormal", "RandomNormalLike", "Multinomial"];

    private static readonly HashSet<OnnxDataType> SupportedIoTypes =
    [
        OnnxDataType.Float, OnnxDataType.Double, OnnxDataType.Int8, OnnxDataType.UInt8, OnnxDataType.Int16,
        OnnxDataType.UInt16, OnnxDataType.Int32, OnnxDataType.Int64, OnnxDataType.Bool,
    ];

    public static CaseResult Run(string suite, string folder, OpRegistry registry)
    {
        var sw = Stopwatch.StartNew();
        string name = Path.GetFileName(folder);
        CaseResult Result(CaseOutcome o, string detail) => new(suite, name, o, detail, sw.Elapsed.TotalSeconds);

        OnnxModel model;
        try { model = OnnxModel.Load(Path.Combine(folder, "model.onnx")); }
        catch (Exception e) { return Result(CaseOutcome.Failed, $"load: {e.Message}"); }

        // Unsupported data types at the interface: strings, float16/bfloat16 (would be widened, outputs not comparable bit-wise), maps; sequences and optionals of tensors are fed and compared (OnnxValueFile).
        foreach (var v in model.Graph.Inputs.Concat(model.Graph.Outputs))
        {
            if (InnerTensorType(v.Type) is not { } tt) return Result(CaseOutcome.SkippedUnsupportedType, $"'{v.Name}' is not a tensor, a sequence of tensors or an optional of either");
            if (!SupportedIoTypes.Contains(tt.ElemType)) return Result(CaseOutcome.SkippedUnsupportedType, $"'{v.Name}' has element type {OnnxDataTypes.Name(tt.ElemType)}");
        }
        Graph graph;
        try { graph = OnnxImporter.ToGraph(model); }
        catch (InvalidDataException e) { return Result(CaseOutcome.SkippedUnsupportedType, e.Message); }

        var unsupported = graph.Nodes.Where(n => !registry.Supports(n, graph.Opsets.TryGetValue(n.Domain, out var v) ? v : 1))
            .Select(n => $"{n.OpType}{(n.Domain.Length > 0 ? "@" + n.Domain : "")}").Distinct().ToList();
        long opset = graph.Opsets.GetValueOrDefault("", 1);
        if (unsupported.Count > 0) return Result(CaseOutcome.SkippedUnsupportedOp, $"{string.Join(", ", unsupported)} at opset {opset}");

        try
        {
            var session = new Session(graph, registry);
            bool random = graph.Nodes.Any(n => n.Domain.Length == 0 && RandomOps.Contains(n.OpType));
            var inputNames = graph.Inputs.Select(i => i.Name).ToList();
            var outputNames = graph.Outputs.Select(o => o.Name).ToList();
            var sets = Directory.GetDirectories(folder, "test_data_set_*").Order(StringComparer.Ordinal).ToList();
            if (sets.Count == 0) return Result(CaseOutcome.Failed, "no test_data_set_* folder");
            foreach (var set in sets)
            {
                var feeds = new Dictionary<string, Tensor>(StringComparer.Ordinal);
                for (int k = 0; File.Exists(Path.Combine(set, $"input_{k}.pb")); k++)
                {
                    if (k >= inputNames.Count) return Result(CaseOutcome.Failed, $"{Path.GetFileName(set)}: input_{k}.pb has no matching graph input");
                    feeds[inputNames[k]] = OnnxValueFile.Load(Path.Combine(set, $"input_{k}.pb"), graph.Inputs[k]);
                }
                var run = session.Run(feeds);
                random |= graph.Nodes.Any(n => IsTrainingDropout(graph, feeds, n));
                for (int k = 0; File.Exists(Path.Combine(set, $"output_{k}.pb")); k++)
                {
                    var expected = OnnxValueFile.Load(Path.Combine(set, $"output_{k}.pb"), graph.Outputs[k]);
                    var actual = run.Outputs[outputNames[k]];
                    var why = random ? RandomMismatch(graph, feeds, outputNames[k], expected, actual) : Mismatch(expected, actual);
                    if (why is not null)
                        return Result(CaseOutcome.Failed, $"{Path.GetFileName(set)} output '{outputNames[k]}': {why}");
                }
            }
            return random ? Result(CaseOutcome.PassedRandom, "random: shape/type/domain checked") : Result(CaseOutcome.Passed, "");
        }
        catch (Exception e)
        {
            return Result(CaseOutcome.Failed, $"{e.GetType().Name}: {e.Message.Split('\n')[0]}");
        }
    }

    /// <summary>The tensor type of a tensor, of a sequence's tensors, or of what an optional holds; null for anything else.</summary>
    private static OnnxTensorType? InnerTensorType(OnnxType? t) => t switch
    {
        { Tensor: { } tt } => tt,
        { Sequence.ElemType: { Tensor: { } tt } } => tt,
        { Optional.ElemType: { } inner } when inner.Optional is null => InnerTensorType(inner),
        _ => null,
    };

    /// <summary>
    /// Null when <paramref name="actual"/> matches <paramref name="expected"/> (type and shape exact; floats within
    /// tolerance; others exact; sequences item by item; optionals by presence, then value).
    /// </summary>
    public static string? Mismatch(Tensor expected, Tensor actual)
    {
        switch (expected, actual)
        {
            case (TensorSequence e, TensorSequence a):
                if (e.Count != a.Count) return $"sequence of {a.Count} tensors, expected {e.Count}";
                for (int i = 0; i < e.Count; i++)
                    if (Mismatch(e[i], a[i]) is { } why) return $"sequence item {i}: {why}";
                return null;
            case (OptionalValue e, OptionalValue a):
                if (e.HasValue != a.HasValue) return $"optional {(a.HasValue ? "holds a value" : "is empty")}, expected {(e.HasValue ? "a value" : "empty")}";
                return e.Value is null ? null : Mismatch(e.Value, a.Value!);
            case (NonTensorValue, _) or (_, NonTensorValue):
                return $"got {actual.GetType().Name}, expected {expected.GetType().Name}";
        }
        if (expected.DataType != actual.DataType) return $"element type {actual.DataType}, expected {expected.DataType}";
        if (!expected.Dims.SequenceEqual(actual.Dims)) return $"shape {Shapes.Format(actual.Dims)}, expected {Shapes.Format(expected.Dims)}";
        switch (expected, actual)
        {
            case (Tensor<float> e, Tensor<float> a):
                for (int i = 0; i < e.Length; i++)
                    if (!Close(e.Data[i], a.Data[i])) return $"element {i} is {a.Data[i]:R}, expected {e.Data[i]:R}";
                return null;
            case (Tensor<double> e, Tensor<double> a):
                for (int i = 0; i < e.Length; i++)
                    if (!Close(e.Data[i], a.Data[i])) return $"element {i} is {a.Data[i]:R}, expected {e.Data[i]:R}";
                return null;
            default:
                var (ea, aa) = (expected.RawData, actual.RawData);
                for (int i = 0; i < ea.Length; i++)
                    if (!Equals(ea.GetValue(i), aa.GetValue(i))) return $"element {i} is {aa.GetValue(i)}, expected {ea.GetValue(i)}";
                return null;
        }
    }

    /// <summary>A Dropout whose training_mode input is true (and ratio not 0): its mask is a random draw (numpy's, in the expected values).</summary>
    private static bool IsTrainingDropout(Graph graph, IReadOnlyDictionary<string, Tensor> feeds, Node n)
    {
        if (n.OpType != "Dropout" || n.Domain.Length != 0 || n.Inputs.Count < 3 || n.Inputs[2].Length == 0) return false;
        Tensor? Value(string name) => feeds.TryGetValue(name, out var fed) ? fed : graph.Initializers.GetValueOrDefault(name);
        var mode = Value(n.Inputs[2]);
        // With ratio 0 nothing is dropped: the output is exact and stays compared exactly.
        var ratio = n.Inputs[1].Length > 0 ? Value(n.Inputs[1]) : null;
        return mode is not null && Doubles(mode)[0] != 0 && (ratio is null || Doubles(ratio)[0] != 0);
    }

    /// <summary>
    /// Null when a random output is plausible: element type and shape exact, every value finite, and in its op's domain:
    /// Bernoulli gives 0 or 1, and exactly p where its probability input (a graph input) is 0 or 1; RandomUniform(Like)
    /// gives values in [low, high); Multinomial class indices in [0, classes); a training-mode Dropout keeps x·1/(1 − ratio)
    /// or gives 0. An output that a random op does not produce
    /// directly (an expanded Bernoulli: uniform draws compared with p, then cast) must be 0/1 wherever the expected
    /// output is all 0/1.
    /// </summary>
    public static string? RandomMismatch(Graph graph, IReadOnlyDictionary<string, Tensor> feeds, string output, Tensor expected, Tensor actual)
    {
        if (expected.DataType != actual.DataType) return $"element type {actual.DataType}, expected {expected.DataType}";
        if (!expected.Dims.SequenceEqual(actual.Dims)) return $"shape {Shapes.Format(actual.Dims)}, expected {Shapes.Format(expected.Dims)}";
        var values = Doubles(actual);
        for (int i = 0; i < values.Length; i++)
            if (!double.IsFinite(values[i])) return $"element {i} is {values[i]}, expected a finite draw";
        var producer = graph.Producer(output);
        switch (producer?.OpType)
        {
            case "Bernoulli":
                var p = feeds.TryGetValue(producer.Inputs[0], out var fed) ? Doubles(fed) : null;
                for (int i = 0; i < values.Length; i++)
                {
                    if (values[i] is not (0 or 1)) return $"element {i} is {values[i]}, expected 0 or 1";
                    if (p is not null && p[i] is 0 or 1 && values[i] != p[i]) return $"element {i} is {values[i]} where p is {p[i]}";
                }
                return null;
            case "RandomUniform" or "RandomUniformLike":
                double low = producer.GetFloat("low", 0f), high = producer.GetFloat("high", 1f);
                for (int i = 0; i < values.Length; i++)
                    if (!(values[i] >= low && values[i] < high)) return $"element {i} is {values[i]}, expected in [{low}, {high})";
                return null;
            case "Multinomial":
                var logits = graph.Producer(producer.Inputs[0]) is null && feeds.TryGetValue(producer.Inputs[0], out var l) ? l : null;
                int classes = logits is { Rank: 2 } ? logits.Dims[1] : int.MaxValue;
                for (int i = 0; i < values.Length; i++)
                    if (!(values[i] >= 0 && values[i] < classes)) return $"element {i} is {values[i]}, expected a class index in [0, {classes})";
                return null;
            case "RandomNormal" or "RandomNormalLike":
                return null;
            case "Dropout" when output == producer.Outputs[0]:
                // Training mode: each element is dropped (0) or kept and scaled by 1/(1 − ratio).
                if (!feeds.TryGetValue(producer.Inputs[0], out var xt)) return null;
                var x = Doubles(xt);
                double ratio = producer.Inputs.Count > 1 && producer.Inputs[1].Length > 0
                    ? (feeds.TryGetValue(producer.Inputs[1], out var r) ? Doubles(r)[0] : graph.Initializers.TryGetValue(producer.Inputs[1], out var ri) ? Doubles(ri)[0] : 0.5)
                    : 0.5;
                double scale = 1 / (1 - ratio);
                for (int i = 0; i < values.Length; i++)
                    if (values[i] != 0 && Math.Abs(values[i] - x[i] * scale) > 1e-5 * Math.Max(1, Math.Abs(x[i] * scale)))
                        return $"element {i} is {values[i]}, expected 0 or x·1/(1 − {ratio}) = {x[i] * scale}";
                return null;
            case "Dropout":
                return null; // the mask: bool of the output's shape (checked above)
            default:
                var e = Doubles(expected);
                if (e.All(v => v is 0 or 1))
                    for (int i = 0; i < values.Length; i++)
                        if (values[i] is not (0 or 1)) return $"element {i} is {values[i]}, expected 0 or 1 (as every expected value)";
                return null;
        }
    }

    private static double[] Doubles(Tensor t)
    {
        var raw = t.RawData;
        var d = new double[raw.Length];
        for (int i = 0; i < d.Length; i++) d[i] = Convert.ToDouble(raw.GetValue(i), System.Globalization.CultureInfo.InvariantCulture);
        return d;
    }

    private static bool Close(double e, double a)
    {
        if (double.IsNaN(e) || double.IsNaN(a)) return double.IsNaN(e) && double.IsNaN(a);
        if (double.IsInfinity(e) || double.IsInfinity(a)) return e == a;
        return Math.Abs(a - e) <= AbsoluteTolerance + RelativeTolerance * Math.Abs(e);
    }
}
