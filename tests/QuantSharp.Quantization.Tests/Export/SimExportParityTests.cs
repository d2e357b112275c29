using GraphOptimizationLevel = Microsoft.ML.OnnxRuntime.GraphOptimizationLevel;
using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Engine.Runtime.Quantizers;
using QuantSharp.Onnx.Tests.Support;
using QuantSharp.Quantization.Config;
using QuantSharp.Quantization.Encodings;
using QuantSharp.Quantization.Sim;
using QuantSharp.Quantization.Techniques;
using Xunit.Abstractions;

namespace QuantSharp.Quantization.Tests.Export;

/// <summary>
/// One row of the parity table: a model, how the sim is configured, and (optionally) what is done to it before calibration
/// (excluding nodes, raising quantizers to 16 bits). Adding a placement kind is adding a row to <see cref="SimExportParityTests.Rows"/>.
/// </summary>
internal sealed record ParityCase(string Name, Func<ParityModel> Model, Func<QuantSimOptions> Options, Action<QuantizationSimModel>? Prepare = null);

/// <summary>
/// The sim and its QDQ export side by side, for every quantizer placement the config can produce: the exported model, run by
/// our engine and by ONNX Runtime, gives every quantized tensor the sim quantizes (and every model output) within one
/// quantization step of that tensor's quantizer (float16 casts: within one float16 ulp), on data partly outside the
/// calibrated range.
/// </summary>
/// <remarks>
/// Rows cover per-tensor and per-channel weights, 4/6/8/16-bit integer weights and activations, float16, symmetric and
/// asymmetric (strict, unsigned) grids, input quantizers scoped to their readers (TensorRT preset), supergroups (Conv+Relu,
/// Conv+BN+Relu, Conv+Clip, Add+Relu, MatMul+Add, the transformer patterns: decomposed LayerNorm, GELU via Erf, Add before
/// Softmax), fused LayerNormalization, Gather embedding tables, int64 multi-input models, excluded nodes, quantizers raised
/// to 16 bits one by one (what mixed precision does), and quantizers inside If branches and Loop bodies. Per-block weights are
/// not a placement the config makes yet: when they are, they are one more row with their options.
/// </remarks>
public sealed class SimExportParityTests(ITestOutputHelper output)
{
    /// <summary>The default config with symmetric activations (AIMET's defaults.ops.is_symmetric = "True"), unsigned symmetric.</summary>
    private const string SymmetricActivations = """
        {
          "defaults": { "ops": { "is_output_quantized": "True", "is_symmetric": "True" },
                        "params": { "is_quantized": "True", "is_symmetric": "True" },
                        "strict_symmetric": "False", "unsigned_symmetric": "True", "per_channel_quantization": "True" },
          "params": { "bias": { "is_quantized": "True" } },
          "op_type": { "Gemm": { "per_channel_quantization": "False" } },
          "supergroups": [ { "op_list": ["Conv", "Relu"] } ],
          "model_input": { "is_input_quantized": "True" },
          "model_output": { "is_output_quantized": "True" }
        }
        """;

    private static QuantSimOptions Preset(string name, int param = 8, int output = 8) =>
        new() { Config = QuantizerConfig.Named(name), DefaultParamBw = param, DefaultOutputBw = output };

    /// <summary>Raises every other enabled activation quantizer to 16 bits, as mixed precision leaves a model.</summary>
    private static void AlternateSixteenBits(QuantizationSimModel sim)
    {
        foreach (var (q, i) in sim.ActivationQuantizers.Where(q => q.Enabled).Select((q, i) => (q, i)))
            if (i % 2 == 1) q.BitWidth = 16;
    }

    internal static readonly ParityCase[] Rows =
    [
        new("conv W8A8 per-tensor", () => ParityModels.ConvNet(), () => Preset("default")),
        new("conv W8A8 per-channel", () => ParityModels.ConvNet(), () => Preset("per_channel")),
        new("conv W4A8 per-channel", () => ParityModels.ConvNet(), () => Preset("per_channel", param: 4)),
        new("conv W6A6 per-tensor (clipped containers)", () => ParityModels.ConvNet(), () => Preset("default", param: 6, output: 6)),
        new("conv W8A16", () => ParityModels.ConvNet(), () => Preset("default", output: 16)),
        new("conv W16A16", () => ParityModels.ConvNet(), () => Preset("per_channel", param: 16, output: 16)),
        new("conv float16", () => ParityModels.ConvNet(), () => Preset("default", 16, 16) with { DefaultDataType = EncodingDataType.Float }),
        new("conv symmetric activations, quantized biases", () => ParityModels.ConvNet(),
            () => new QuantSimOptions { Config = QuantizerConfig.Parse(SymmetricActivations, "symmetric-activations") }),
        new("conv TensorRT (input quantizers, strict symmetric)", () => ParityModels.ConvNet(), () => Preset("tensorrt")),
        new("conv excluded nodes", () => ParityModels.ConvNet(), () => Preset("per_channel"), sim => sim.ExcludeLayers("c3", "fc")),
        new("conv mixed 8/16-bit activations", () => ParityModels.ConvNet(), () => Preset("default"), AlternateSixteenBits),
        new("bert W8A8 per-tensor", () => ParityModels.TinyBert(), () => Preset("default")),
        new("bert W8A8 per-channel", () => ParityModels.TinyBert(), () => Preset("per_channel")),
        new("bert W8A16", () => ParityModels.TinyBert(), () => Preset("default", output: 16)),
        new("bert W4A8 per-channel", () => ParityModels.TinyBert(), () => Preset("per_channel", param: 4)),
        new("bert TensorRT", () => ParityModels.TinyBert(), () => Preset("tensorrt")),
        new("bert excluded attention", () => ParityModels.TinyBert(), () => Preset("default"), sim => sim.ExcludeLayers("scores", "context")),
        new("bert mixed 8/16-bit activations", () => ParityModels.TinyBert(), () => Preset("per_channel"), AlternateSixteenBits),
        new("bert SmoothQuant (the quantizer after the division)", () => SmoothedTinyBert().Model, () => Preset("per_channel"), sim => SmoothedTinyBert().Result.QuantizeAfterSmoothing(sim)),
        new("bert fused LayerNormalization", () => ParityModels.TinyBert(fusedLayerNorm: true), () => Preset("default")),
        new("bert W4 block-4 weight-only", () => ParityModels.TinyBert(), () => Preset("per_channel", param: 4) with { WeightOnly = true, ParamBlockSize = 4 }),
        new("bert W8A8 with 4-bit per-block weights (asymmetric)", () => ParityModels.TinyBert(), () => Preset("per_channel", param: 4) with { ParamBlockSize = 4, ParamSymmetric = false }),
        new("If branches W8A8 per-tensor", () => ParityModels.IfBranches(), () => Preset("default")),
        new("If branches W8A8 per-channel", () => ParityModels.IfBranches(), () => Preset("per_channel")),
        new("Loop body W8A8", () => ParityModels.LoopBody(), () => Preset("default")),
        new("Loop body W8A16", () => ParityModels.LoopBody(), () => Preset("per_channel", output: 16)),
    ];

    /// <summary>The tiny BERT with every MatMul/Gemm group smoothed (deterministic: the same groups every call).</summary>
    private static (ParityModel Model, SmoothQuantResult Result) SmoothedTinyBert()
    {
        var model = ParityModels.TinyBert();
        var result = SmoothQuant.Apply(model.Graph, model.Calibration, alpha: 0.8);
        return (model with { Graph = result.Graph }, result);
    }

    public static TheoryData<string> Names => new(Rows.Select(r => r.Name));

    /// <summary>The calibrated sim of a row, its QDQ export, and the sim's values on the held-out batch.</summary>
    private static (QuantizationSimModel Sim, Graph Qdq, ParityModel Model) Build(string name)
    {
        var row = Rows.Single(r => r.Name == name);
        var model = row.Model();
        var sim = new QuantizationSimModel(model.Graph, row.Options());
        row.Prepare?.Invoke(sim);
        sim.ComputeEncodings(s => { foreach (var feeds in model.Calibration) s.Run(feeds); });
        return (sim, sim.ToQdqGraph(), model);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void ExportRunByOurEngine_AgreesWithTheSim_WithinOneStepOnEveryQuantizedTensor(string name)
    {
        var (sim, qdq, model) = Build(name);
        var compared = Compared(sim, qdq);
        var exported = new Session(qdq).Run(model.Check, new RunOptions { Capture = compared.Where(c => !qdq.IsOutput(c.Value)).Select(c => c.Value).ToList() });
        Agree(name, "QuantSharp", sim, model, compared, exported.Outputs.Concat(exported.Captured).ToDictionary());
    }

    [Theory]
    [MemberData(nameof(Names))]
    [Trait("Category", OrtRunner.Category)]
    public void ExportRunByOnnxRuntime_AgreesWithTheSim_WithinOneStepOnEveryQuantizedTensor(string name)
    {
        var (sim, qdq, model) = Build(name);
        var compared = Compared(sim, qdq);
        // ONNX Runtime returns only graph outputs: every compared tensor becomes one.
        var probe = qdq.Clone();
        foreach (var c in compared.Where(c => !probe.IsOutput(c.Value))) probe.Outputs.Add(new ValueInfo(c.Value, DataType.Float32, (IEnumerable<Dim>?)null));
        var exported = OrtRunner.Run(probe, model.Check, GraphOptimizationLevel.ORT_DISABLE_ALL);
        Agree(name, "ONNX Runtime", sim, model, compared, exported);
    }

    /// <summary>
    /// The comparison sees a one-quantizer divergence: an export whose softmax-input encoding has a 10× scale (what a sim
    /// and an export built from two descriptions of a quantizer would give) is reported, naming that tensor.
    /// </summary>
    [Fact]
    public void Comparison_ReportsAnExportWhoseQuantizerDiffersFromTheSim()
    {
        var (sim, _, model) = Build("bert W8A8 per-tensor");
        var target = sim.Model.Nodes.First(n => QuantizerNode.Is(n) && sim.ActiveEncoding(QuantizerNode.QuantizerName(n)) is { IsPerChannel: false } && n.Inputs[0] == "attention_softmax_out");
        string name = QuantizerNode.QuantizerName(target);
        var e = sim.ActiveEncoding(name)!;
        var skewed = Encoding.FromScaleOffset(e.Scales[0] * 10, e.Offsets[0], e.BitWidth, e.Symmetric);
        var qdq = QuantSharp.Quantization.Export.QdqExport.Lower(sim.Model, n => n == name ? skewed : sim.ActiveEncoding(n));
        var compared = Compared(sim, qdq);
        var exported = new Session(qdq).Run(model.Check, new RunOptions { Capture = compared.Where(c => !qdq.IsOutput(c.Value)).Select(c => c.Value).ToList() });
        var failures = Disagreements("skewed", "QuantSharp", sim, model, compared, exported.Outputs.Concat(exported.Captured).ToDictionary());
        Assert.Contains(failures, f => f.StartsWith($"'{target.Outputs[0]}'", StringComparison.Ordinal));
    }

    /// <summary>
    /// Every row has quantizers the export lowers, and between them the rows make every kind of placement (guards the table
    /// against losing a kind when rows are edited).
    /// </summary>
    [Fact]
    public void Rows_CoverEveryPlacementKind()
    {
        var kinds = new HashSet<string>();
        foreach (var row in Rows)
        {
            var (sim, _, _) = Build(row.Name);
            var active = sim.Quantizers.Values.Where(q => sim.ActiveEncoding(q.Name) is not null).ToList();
            Assert.True(active.Count > 0, $"{row.Name}: no active quantizer");
            foreach (var q in active)
            {
                var e = q.Encoding!;
                kinds.Add($"{q.Role} {(e.DataType == EncodingDataType.Float ? "float" : e.IsPerChannel ? "per-channel" : "per-tensor")} {e.BitWidth}-bit");
                if (e.DataType == EncodingDataType.Int) kinds.Add($"{q.Role} {(e.Symmetric ? "symmetric" : "asymmetric")}");
                if (!sim.Model.Nodes.Any(n => QuantizerNode.Is(n) && QuantizerNode.QuantizerName(n) == q.Name)) kinds.Add("in a subgraph");
            }
            if (sim.ExcludedLayers.Count > 0) kinds.Add("excluded nodes");
            if (sim.Plan.Quantizers.Any(p => p.Consumers is not null && p.Enabled)) kinds.Add("input quantizer");
            if (sim.Model.Inputs.Any(i => i.ElementType == DataType.Int64)) kinds.Add("int64 inputs");
        }
        string[] required =
        [
            "Param per-tensor 8-bit", "Param per-channel 8-bit", "Param per-channel 4-bit", "Param per-tensor 6-bit", "Param per-channel 16-bit",
            "Activation per-tensor 8-bit", "Activation per-tensor 16-bit", "Activation per-tensor 6-bit", "Activation float 16-bit", "Param float 16-bit",
            "Activation symmetric", "Activation asymmetric", "Param symmetric", "in a subgraph", "excluded nodes", "input quantizer", "int64 inputs",
        ];
        var missing = required.Where(k => !kinds.Contains(k)).ToList();
        Assert.True(missing.Count == 0, "no row makes: " + string.Join(", ", missing));
    }

    /// <summary>The tensors compared: each top-level quantizer's output with an active encoding that the export still names, and each model output.</summary>
    private static List<(string Value, Encoding? Encoding)> Compared(QuantizationSimModel sim, Graph qdq)
    {
        var list = new List<(string, Encoding?)>();
        foreach (var n in sim.Model.Nodes.Where(QuantizerNode.Is))
        {
            var e = sim.ActiveEncoding(QuantizerNode.QuantizerName(n));
            // Folded weights are compared through the tensors they produce; a Flatten moved onto integer levels no longer names its dequantized input.
            if (e is null || sim.Model.Initializers.ContainsKey(n.Inputs[0]) || !qdq.Defines(n.Outputs[0])) continue;
            list.Add((n.Outputs[0], e));
        }
        foreach (var o in sim.Model.Outputs.Where(o => list.All(c => c.Item1 != o.Name))) list.Add((o.Name, null));
        return list;
    }

    private void Agree(string row, string runtime, QuantizationSimModel sim, ParityModel model,
        List<(string Value, Encoding? Encoding)> compared, Dictionary<string, Tensor> exported)
    {
        var failures = Disagreements(row, runtime, sim, model, compared, exported);
        Assert.True(failures.Count == 0, $"{row}, export run by {runtime}: {failures.Count} of {compared.Count} tensors differ from the sim by more than one step:\n" + string.Join("\n", failures));
    }

    /// <summary>The compared tensors on which the export is more than one step from the sim, each with its worst element.</summary>
    private List<string> Disagreements(string row, string runtime, QuantizationSimModel sim, ParityModel model,
        List<(string Value, Encoding? Encoding)> compared, Dictionary<string, Tensor> exported)
    {
        var simRun = sim.Run(model.Check, new RunOptions { Capture = compared.Where(c => !sim.Model.IsOutput(c.Value)).Select(c => c.Value).ToList() });
        var simValues = simRun.Outputs.Concat(simRun.Captured).ToDictionary();
        var failures = new List<string>();
        double largest = 0;
        long beyond = 0, elements = 0;
        foreach (var (value, encoding) in compared)
        {
            var expected = (Tensor<float>)simValues[value];
            var actual = (Tensor<float>)exported[value];
            Assert.Equal(expected.Dims.ToArray(), actual.Dims.ToArray());
            var worst = (Index: -1, Excess: 0.0);
            for (int i = 0; i < expected.Length; i++)
            {
                double allowed = Tolerance(encoding, expected, i) * (1 + 1e-3) + 1e-6 * Math.Abs(expected.Data[i]) + 1e-7;
                double excess = Math.Abs(expected.Data[i] - actual.Data[i]) / allowed;
                largest = Math.Max(largest, excess);
                elements++;
                if (!(excess <= 1)) beyond++;
                if (!(excess <= 1) && (worst.Index < 0 || excess > worst.Excess)) worst = (i, excess);
            }
            if (worst.Index >= 0)
                failures.Add($"'{value}' ({encoding?.ToString() ?? "unquantized output"}): element {worst.Index} sim {expected.Data[worst.Index]} vs {actual.Data[worst.Index]}, {worst.Excess:F2}× the allowed difference");
        }
        output.WriteLine($"{row}, {runtime}: {compared.Count} tensors, largest difference {largest:F3} of the allowed (one step); {beyond} of {elements} elements beyond one step");
        return failures;
    }

    /// <summary>
    /// One quantization step at element <paramref name="i"/>: the scale of its channel; a float16 cast's ulp; for an
    /// unquantized model output, 1e-4 of its largest magnitude (float arithmetic only).
    /// </summary>
    private static double Tolerance(Encoding? e, Tensor<float> t, int i)
    {
        if (e is null) return 1e-4 * t.Data.Max(v => Math.Abs(v));
        if (e.DataType == EncodingDataType.Float) return Math.Max(Math.Abs(t.Data[i]) / 1024.0, 6e-8);
        if (!e.IsPerChannel) return e.Scales[0];
        int axis = e.Axis!.Value < 0 ? e.Axis.Value + t.Rank : e.Axis.Value;
        int inner = 1;
        for (int d = axis + 1; d < t.Rank; d++) inner *= t.Dims[d];
        return e.Scales[i / inner % e.Channels];
    }
}
