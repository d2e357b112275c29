using System.Text.Json;
using System.Text.Json.Nodes;

namespace QuantSharp.Quantization.Techniques;

/// <summary>
/// The PTQ recipe <see cref="PtqPipeline"/> runs: which techniques, on how many samples, with how many iterations, in
/// which order. Recorded as JSON (<see cref="ToJson"/>) in a calib output's <c>config.json</c> and read back with
/// <see cref="FromJson"/>.
/// </summary>
public sealed record PtqSettings
{
    /// <summary>The graph passes <see cref="Order"/> may name.</summary>
    public static readonly IReadOnlyList<string> Passes = ["bias_correction", "adaround", "fast_finetune"];

    /// <summary>Cross-layer equalization with high-bias folding instead of plain preparation (which folds batch norms and simplifies).</summary>
    public bool Cle { get; init; }

    /// <summary>Bias correction of the prepared graph.</summary>
    public bool BiasCorrection { get; init; }

    /// <summary>Empirical (every layer from data) or analytical (layers after a folded batch norm from its statistics).</summary>
    public BiasCorrectionKind BiasCorrectionKind { get; init; } = BiasCorrectionKind.Empirical;

    /// <summary>Samples bias correction calibrates on and averages over (AIMET's num_quant_samples and num_bias_correct_samples).</summary>
    public int BiasCorrectionSamples { get; init; } = 512;

    /// <summary>AdaRound iterations per layer (0: nearest rounding); with <see cref="AutoQuant"/>, its AdaRound step's (0: 2,000).</summary>
    public int AdaRoundIterations { get; init; }

    /// <summary>Batches AdaRound learns from.</summary>
    public int AdaRoundBatches { get; init; } = 8;

    /// <summary>AdaQuant / fast finetune iterations per layer (0: off).</summary>
    public int FastFinetuneIterations { get; init; }

    /// <summary>Samples fast finetune learns from.</summary>
    public int FastFinetuneSamples { get; init; } = 256;

    /// <summary>Sequential MSE search of the weight encodings (on the sim, after the graph passes).</summary>
    public bool SeqMse { get; init; }

    /// <summary>Samples sequential MSE measures each layer's error over.</summary>
    public int SeqMseSamples { get; init; } = 128;

    /// <summary>AutoQuant (BN fold → CLE → AdaRound, stopping when the score drop is within <see cref="AllowedDrop"/>) instead of the steps above.</summary>
    public bool AutoQuant { get; init; }

    /// <summary>AutoQuant's allowed drop of the score.</summary>
    public double AllowedDrop { get; init; } = 0.01;

    /// <summary>Nodes kept in float.</summary>
    public IReadOnlyList<string> ExcludeNodes { get; init; } = [];

    /// <summary>Gemm/MatMul layers with fewer weights than this stay in float (0: quantize all).</summary>
    public int MinGemmWeights { get; init; }

    /// <summary>SmoothQuant's migration strength α in [0, 1], run right after preparation; null: off (<see cref="SmoothQuant"/>).</summary>
    public double? SmoothQuantAlpha { get; init; }

    /// <summary>SmoothQuant leaves alone the groups whose input's largest channel is less than this many times the median channel.</summary>
    public double SmoothQuantMinOutlierRatio { get; init; }

    /// <summary>Further α candidates: when not empty, each group takes the best of α, these and no smoothing (<see cref="SmoothQuantOptions.AlphaGrid"/>).</summary>
    public IReadOnlyList<double> SmoothQuantAlphaGrid { get; init; } = [];

    /// <summary>The layer op types SmoothQuant considers (MatMul and Gemm).</summary>
    public IReadOnlyList<string> SmoothQuantOpTypes { get; init; } = ["MatMul", "Gemm"];

    /// <summary>
    /// How per-block weights (<see cref="Sim.QuantSimOptions.ParamBlockSize"/>) are chosen: rtn (min/max per block, at
    /// calibration), gptq or awq (a search pass on the graph before the sim is built; its encodings are frozen in the sim).
    /// </summary>
    public string BlockSearch { get; init; } = "rtn";

    /// <summary>After calibration, raise the fewest activation quantizers to 16 bits (or float) to reach <see cref="AmpTargetSqnrDb"/> (<see cref="MixedPrecision.AutoMixedPrecision"/>).</summary>
    public bool AutoMixedPrecision { get; init; }

    /// <summary>Mixed precision's budget: the outputs' SQNR against FP32 to reach, in dB.</summary>
    public double AmpTargetSqnrDb { get; init; } = new MixedPrecision.AmpOptions().TargetSqnrDb;

    /// <summary>Mixed precision's limit: the largest fraction of activation quantizers raised.</summary>
    public double AmpMaxRaisedFraction { get; init; } = new MixedPrecision.AmpOptions().MaxRaisedFraction;

    /// <summary>Bit-width a raised quantizer gets: 16, or 0 for float.</summary>
    public int AmpRaisedBitWidth { get; init; } = new MixedPrecision.AmpOptions().RaisedBitWidth;

    /// <summary>Samples mixed precision measures on (the first of the feeds; one forward pass per candidate quantizer).</summary>
    public int AmpSamples { get; init; } = 16;

    /// <summary>Mixed precision's options from these settings.</summary>
    public MixedPrecision.AmpOptions AmpOptions => new() { TargetSqnrDb = AmpTargetSqnrDb, MaxRaisedFraction = AmpMaxRaisedFraction, RaisedBitWidth = AmpRaisedBitWidth };

    /// <summary>The order the enabled graph passes run in (names from <see cref="Passes"/>, each once).</summary>
    public IReadOnlyList<string> Order { get; init; } = Passes;

    /// <summary>Checks every field; the message names the field and the value.</summary>
    /// <exception cref="ArgumentException">A negative count, a drop outside [0, 1), or an order that is not a permutation of <see cref="Passes"/>.</exception>
    public void Validate()
    {
        static void Require(bool ok, string field, object value, string expected)
        {
            if (!ok) throw new ArgumentException($"PtqSettings: {field} expected {expected}, got {value}", field);
        }
        Require(BiasCorrectionSamples >= 1, nameof(BiasCorrectionSamples), BiasCorrectionSamples, ">= 1");
        Require(AdaRoundIterations >= 0, nameof(AdaRoundIterations), AdaRoundIterations, ">= 0");
        Require(AdaRoundBatches >= 1, nameof(AdaRoundBatches), AdaRoundBatches, ">= 1");
        Require(FastFinetuneIterations >= 0, nameof(FastFinetuneIterations), FastFinetuneIterations, ">= 0");
        Require(FastFinetuneSamples >= 1, nameof(FastFinetuneSamples), FastFinetuneSamples, ">= 1");
        Require(SeqMseSamples >= 1, nameof(SeqMseSamples), SeqMseSamples, ">= 1");
        Require(AllowedDrop is >= 0 and < 1, nameof(AllowedDrop), AllowedDrop, "a fraction in [0, 1)");
        Require(MinGemmWeights >= 0, nameof(MinGemmWeights), MinGemmWeights, ">= 0");
        Require(SmoothQuantAlpha is null or (>= 0 and <= 1), nameof(SmoothQuantAlpha), SmoothQuantAlpha!, "a migration strength in [0, 1]");
        if (SmoothQuantAlpha is { } alpha)
            try { SmoothQuantOptions(alpha, 8, 8, true).Validate(); }
            catch (ArgumentException e) { throw new ArgumentException($"PtqSettings: {e.Message}", nameof(SmoothQuantAlpha)); }
        Require(BlockSearch is "rtn" or "gptq" or "awq", nameof(BlockSearch), BlockSearch, "rtn, gptq or awq");
        Require(AmpSamples >= 1, nameof(AmpSamples), AmpSamples, ">= 1");
        Require(AmpMaxRaisedFraction is > 0 and <= 1, nameof(AmpMaxRaisedFraction), AmpMaxRaisedFraction, "a fraction in (0, 1]");
        Require(AmpRaisedBitWidth is 0 or 16, nameof(AmpRaisedBitWidth), AmpRaisedBitWidth, "16 or 0 (float)");
        Require(!double.IsNaN(AmpTargetSqnrDb), nameof(AmpTargetSqnrDb), AmpTargetSqnrDb, "a number of dB");
        Require(Order.Count == Passes.Count && Order.Distinct().Count() == Passes.Count && Order.All(Passes.Contains), nameof(Order),
            string.Join(", ", Order), $"each of {string.Join(", ", Passes)} once");
    }

    /// <summary>SmoothQuant's options from these settings and the sim's bit widths and weight granularity.</summary>
    public SmoothQuantOptions SmoothQuantOptions(double alpha, int activationBits, int weightBits, bool perChannelWeights) => new()
    {
        Alpha = alpha, AlphaGrid = SmoothQuantAlphaGrid, MinOutlierRatio = SmoothQuantMinOutlierRatio, OpTypes = SmoothQuantOpTypes,
        ActivationBits = activationBits, WeightBits = weightBits, PerChannelWeights = perChannelWeights,
    };

    /// <summary>The steps that will run, in order (what <see cref="PtqResult.Steps"/> reports).</summary>
    public IReadOnlyList<string> Plan()
    {
        if (AutoQuant) return ["auto_quant", .. SimSteps()];
        var steps = new List<string> { Cle ? "cle" : "prepare" };
        if (SmoothQuantAlpha is not null) steps.Add("smoothquant");
        foreach (var pass in Order)
            if (pass switch { "bias_correction" => BiasCorrection, "adaround" => AdaRoundIterations > 0, _ => FastFinetuneIterations > 0 })
                steps.Add(pass);
        if (BlockSearch != "rtn") steps.Add("block_search");
        steps.AddRange(SimSteps());
        return steps;
    }

    private IEnumerable<string> SimSteps() =>
        (SeqMse ? ["seq_mse", "calibration"] : new[] { "calibration" }).Concat(AutoMixedPrecision ? ["auto_mixed_precision"] : []);

    /// <summary>The settings as a JSON object (snake_case keys, the steps planned included).</summary>
    public JsonObject ToJson() => new()
    {
        ["steps"] = new JsonArray([.. Plan().Select(s => (JsonNode)JsonValue.Create(s))]),
        ["order"] = new JsonArray([.. Order.Select(s => (JsonNode)JsonValue.Create(s))]),
        ["cle"] = Cle,
        ["bias_correction"] = BiasCorrection,
        ["bias_correction_kind"] = BiasCorrectionKind.ToString().ToLowerInvariant(),
        ["bias_correction_samples"] = BiasCorrectionSamples,
        ["adaround_iterations"] = AdaRoundIterations,
        ["adaround_batches"] = AdaRoundBatches,
        ["fast_finetune_iterations"] = FastFinetuneIterations,
        ["fast_finetune_samples"] = FastFinetuneSamples,
        ["seq_mse"] = SeqMse,
        ["seq_mse_samples"] = SeqMseSamples,
        ["auto_quant"] = AutoQuant,
        ["allowed_drop"] = AllowedDrop,
        ["exclude_nodes"] = new JsonArray([.. ExcludeNodes.Select(s => (JsonNode)JsonValue.Create(s))]),
        ["min_gemm_weights"] = MinGemmWeights,
        ["smoothquant_alpha"] = SmoothQuantAlpha,
        ["smoothquant_min_outlier_ratio"] = SmoothQuantMinOutlierRatio,
        ["smoothquant_alpha_grid"] = new JsonArray([.. SmoothQuantAlphaGrid.Select(a => (JsonNode)JsonValue.Create(a))]),
        ["smoothquant_op_types"] = new JsonArray([.. SmoothQuantOpTypes.Select(s => (JsonNode)JsonValue.Create(s))]),
        ["block_search"] = BlockSearch,
        ["auto_mixed_precision"] = AutoMixedPrecision,
        ["amp_target_sqnr_db"] = AmpTargetSqnrDb,
        ["amp_max_raised_fraction"] = AmpMaxRaisedFraction,
        ["amp_raised_bitwidth"] = AmpRaisedBitWidth,
        ["amp_samples"] = AmpSamples,
    };

    /// <summary>Reads settings written by <see cref="ToJson"/>; a key that is missing keeps its default.</summary>
    /// <exception cref="FormatException">A value of the wrong JSON kind or an unknown bias-correction kind, naming the key.</exception>
    public static PtqSettings FromJson(JsonElement json)
    {
        if (json.ValueKind != JsonValueKind.Object) throw new FormatException($"PtqSettings: expected a JSON object, got {json.ValueKind}");
        var d = new PtqSettings();
        T Get<T>(string key, T fallback, Func<JsonElement, T> read)
        {
            if (!json.TryGetProperty(key, out var v)) return fallback;
            try { return read(v); }
            catch (Exception e) when (e is InvalidOperationException or FormatException)
            {
                throw new FormatException($"PtqSettings: '{key}' has an unexpected value {v.GetRawText()}");
            }
        }
        static IReadOnlyList<string> Strings(JsonElement v) => [.. v.EnumerateArray().Select(x => x.GetString() ?? throw new FormatException("null"))];
        return new PtqSettings
        {
            Order = Get("order", d.Order, Strings),
            Cle = Get("cle", d.Cle, v => v.GetBoolean()),
            BiasCorrection = Get("bias_correction", d.BiasCorrection, v => v.GetBoolean()),
            BiasCorrectionKind = Get("bias_correction_kind", d.BiasCorrectionKind, v => Enum.TryParse<BiasCorrectionKind>(v.GetString(), ignoreCase: true, out var k) ? k : throw new FormatException("kind")),
            BiasCorrectionSamples = Get("bias_correction_samples", d.BiasCorrectionSamples, v => v.GetInt32()),
            AdaRoundIterations = Get("adaround_iterations", d.AdaRoundIterations, v => v.GetInt32()),
            AdaRoundBatches = Get("adaround_batches", d.AdaRoundBatches, v => v.GetInt32()),
            FastFinetuneIterations = Get("fast_finetune_iterations", d.FastFinetuneIterations, v => v.GetInt32()),
            FastFinetuneSamples = Get("fast_finetune_samples", d.FastFinetuneSamples, v => v.GetInt32()),
            SeqMse = Get("seq_mse", d.SeqMse, v => v.GetBoolean()),
            SeqMseSamples = Get("seq_mse_samples", d.SeqMseSamples, v => v.GetInt32()),
            AutoQuant = Get("auto_quant", d.AutoQuant, v => v.GetBoolean()),
            AllowedDrop = Get("allowed_drop", d.AllowedDrop, v => v.GetDouble()),
            ExcludeNodes = Get("exclude_nodes", d.ExcludeNodes, Strings),
            MinGemmWeights = Get("min_gemm_weights", d.MinGemmWeights, v => v.GetInt32()),
            SmoothQuantAlpha = Get("smoothquant_alpha", d.SmoothQuantAlpha, v => v.ValueKind == JsonValueKind.Null ? null : v.GetDouble()),
            SmoothQuantMinOutlierRatio = Get("smoothquant_min_outlier_ratio", d.SmoothQuantMinOutlierRatio, v => v.GetDouble()),
            SmoothQuantAlphaGrid = Get("smoothquant_alpha_grid", d.SmoothQuantAlphaGrid, v => (IReadOnlyList<double>)[.. v.EnumerateArray().Select(x => x.GetDouble())]),
            SmoothQuantOpTypes = Get("smoothquant_op_types", d.SmoothQuantOpTypes, Strings),
            BlockSearch = Get("block_search", d.BlockSearch, v => v.GetString() ?? throw new FormatException("null")),
            AutoMixedPrecision = Get("auto_mixed_precision", d.AutoMixedPrecision, v => v.GetBoolean()),
            AmpTargetSqnrDb = Get("amp_target_sqnr_db", d.AmpTargetSqnrDb, v => v.GetDouble()),
            AmpMaxRaisedFraction = Get("amp_max_raised_fraction", d.AmpMaxRaisedFraction, v => v.GetDouble()),
            AmpRaisedBitWidth = Get("amp_raised_bitwidth", d.AmpRaisedBitWidth, v => v.GetInt32()),
            AmpSamples = Get("amp_samples", d.AmpSamples, v => v.GetInt32()),
        };
    }
}
