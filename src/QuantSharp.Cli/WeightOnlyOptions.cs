using System.CommandLine;
using QuantSharp.Engine;
using QuantSharp.Quantization.Sim;
using QuantSharp.Quantization.Techniques.Blockwise;

namespace QuantSharp.Cli;

/// <summary>What <c>calib --weight-only / --block-size</c> asks for.</summary>
/// <param name="WeightOnly">Activations (and biases, normalization parameters) stay float; only weights are quantized.</param>
/// <param name="Bits">Weight bit-width (with <paramref name="WeightOnly"/>; otherwise --param-bw).</param>
/// <param name="BlockSize">Per-block weights with this block size along the input axis, or null (per-channel / per-tensor).</param>
/// <param name="Method">rtn (round-to-nearest, min/max per block) | gptq | awq.</param>
/// <param name="Symmetric">Symmetric weight grid (false: asymmetric, one zero point per block).</param>
/// <param name="EmbeddingBits">Bit-width of embedding tables (Gather weights), or null for <paramref name="Bits"/>.</param>
public sealed record WeightOnlyRequest(bool WeightOnly, int Bits, int? BlockSize, string Method = "rtn", bool Symmetric = true, int? EmbeddingBits = null);

/// <summary>
/// The per-block / weight-only options of <c>calib</c>: <c>--weight-only</c>, <c>--weight-bits</c>, <c>--block-size</c>,
/// <c>--block-method rtn|gptq|awq</c>, <c>--weight-asymmetric</c>; their checks and how they set the sim and run the search.
/// </summary>
internal sealed class WeightOnlyOptions
{
    private readonly Option<bool> _weightOnly = new("--weight-only") { Description = "Weight-only quantization: activations, biases and normalization parameters stay float; MatMul/Gemm weights and embedding tables are quantized (per block with --block-size)." };
    private readonly Option<int?> _bits = new("--weight-bits") { Description = "With --weight-only: weight bit-width, 4 or 8 (default 4).", HelpName = "BITS" };
    private readonly Option<int?> _blockSize = new("--block-size") { Description = "Per-block weights: one scale per BLOCK consecutive inputs of each output (MatMul/Gemm weights along their input axis, embedding tables along the hidden axis), e.g. 32, 64, 128.", HelpName = "BLOCK" };
    private readonly Option<string> _method = new("--block-method") { Description = "How per-block weights are chosen: rtn (round to nearest, min/max per block), gptq (Hessian-based error feedback), awq (activation-aware input scaling).", HelpName = "rtn|gptq|awq" };
    private readonly Option<int?> _embeddingBits = new("--embedding-bits") { Description = "With --weight-only: bit-width of embedding tables (Gather weights), 4 or 8 (default: --weight-bits).", HelpName = "BITS" };
    private readonly Option<bool> _asymmetric = new("--weight-asymmetric") { Description = "With --block-size: asymmetric weight grids (a zero point per block) instead of symmetric." };

    public WeightOnlyOptions() => _method.AcceptOnlyFromAmong("rtn", "gptq", "awq");

    /// <summary>Adds the options to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { _weightOnly, _bits, _embeddingBits, _blockSize, _method, _asymmetric }) command.Options.Add(o);
    }

    /// <summary>The request of a parsed command line, or null when none of the options is given.</summary>
    /// <exception cref="UsageException">An option that needs another one, or a value out of range.</exception>
    public WeightOnlyRequest? Request(ParseResult r)
    {
        bool weightOnly = r.GetValue(_weightOnly), asymmetric = r.GetValue(_asymmetric);
        int? bits = r.GetValue(_bits), blockSize = r.GetValue(_blockSize), embeddingBits = r.GetValue(_embeddingBits);
        string? method = r.GetValue(_method);
        if (!weightOnly && bits is null && blockSize is null && method is null && !asymmetric && embeddingBits is null) return null;
        if (embeddingBits is not null && !weightOnly) throw new UsageException("--embedding-bits needs --weight-only");
        if (embeddingBits is { } eb && eb is not (4 or 8)) throw new UsageException($"--embedding-bits expected 4 or 8, got {eb}");
        if (bits is not null && !weightOnly) throw new UsageException("--weight-bits needs --weight-only (use --param-bw for quantized activations)");
        if (bits is { } b && b is not (4 or 8)) throw new UsageException($"--weight-bits expected 4 or 8, got {b}");
        if (blockSize is { } bs && bs < 1) throw new UsageException($"--block-size expected a positive number of elements, got {bs}");
        if (method is not null && blockSize is null) throw new UsageException($"--block-method {method} needs --block-size");
        if (asymmetric && blockSize is null) throw new UsageException("--weight-asymmetric needs --block-size");
        return new WeightOnlyRequest(weightOnly, bits ?? 4, blockSize, method ?? "rtn", !asymmetric, embeddingBits);
    }

    /// <summary>Refuses combinations with the other weight techniques (each sets the weights or their encodings).</summary>
    public static void Check(CalibRequest r)
    {
        if (r.Blocks is not { } b) return;
        var others = new List<string>();
        if (r.AdaRoundIterations > 0) others.Add("--adaround");
        if (r.FastFinetuneIterations > 0) others.Add("--fast-finetune");
        if (r.SeqMse) others.Add("--seq-mse");
        if (r.AutoQuant) others.Add("--auto-quant");
        if (r.VitisConfig is not null) others.Add("--vitis-config");
        if (others.Count > 0 && b.BlockSize is not null)
            throw new UsageException($"--block-size sets the weight encodings itself (--block-method {b.Method}); drop {string.Join(", ", others)}");
    }

    /// <summary>The sim options with the request applied.</summary>
    public static QuantSimOptions Apply(QuantSimOptions o, WeightOnlyRequest b) => o with
    {
        WeightOnly = b.WeightOnly,
        DefaultParamBw = b.WeightOnly ? b.Bits : o.DefaultParamBw,
        ParamBlockSize = b.BlockSize,
        ParamSymmetric = b.BlockSize is null ? null : b.Symmetric,
        EmbeddingBw = b.WeightOnly ? b.EmbeddingBits : null,
    };

    /// <summary>The per-layer report of a GPTQ/AWQ search inside the output folder.</summary>
    public const string ReportFile = "block_search.txt";

    /// <summary>Writes the per-layer output errors (round-to-nearest vs searched) to <paramref name="path"/> and one summary line to <paramref name="stdout"/>.</summary>
    public static void Report(BlockwiseResult result, string method, string path, TextWriter stdout)
    {
        var ic = System.Globalization.CultureInfo.InvariantCulture;
        var lines = new List<string> { $"# {method}: mean squared layer-output error on the calibration rows, round-to-nearest -> {method}" };
        lines.AddRange(result.Layers.Select(l => string.Create(ic,
            $"{l.Node}\t{l.Weight}\t{l.ErrorBefore:G4} -> {l.ErrorAfter:G4}{(l.Alpha is { } a ? $"\talpha={a:0.##}" : "")}")));
        Engine.IO.AtomicFile.WriteText(path, string.Join('\n', lines) + "\n");
        double before = result.Layers.Sum(l => l.ErrorBefore), after = result.Layers.Sum(l => l.ErrorAfter);
        stdout.WriteLine(string.Create(ic, $"{method}: {result.Layers.Count} layers, summed layer-output MSE {before:G4} (round-to-nearest) -> {after:G4}; per layer in {ReportFile}"));
    }
}
