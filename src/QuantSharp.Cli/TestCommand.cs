using System.Diagnostics;
using System.Globalization;
using QuantSharp.Engine.Runtime;
using QuantSharp.Quantization.Sim;
using Spectre.Console;

namespace QuantSharp.Cli;

/// <summary>
/// <c>quantsharp test --model M.onnx --quant OUT/ --data DATA [--labels labels.npy]</c>: top-1/top-5 of the FP32
/// model and of the calibrated simulation (read from <c>OUT/model.qsim</c>), the drop, as a table and optionally as
/// JSON (<c>fp32_top1</c>, <c>quant_top1</c>, <c>fp32_top5</c>, <c>quant_top5</c>, <c>samples</c>, the drops and timings).
/// </summary>
public static class TestCommand
{
    /// <summary>Runs the command; returns (FP32, quantized) accuracy.</summary>
    public static (Accuracy Fp32, Accuracy Quant) Execute(string model, string quantDir, DataRequest source, int batchSize, string? json, TextWriter stdout)
    {
        var total = Stopwatch.StartNew();
        if (batchSize <= 0) throw new UsageException($"--batch-size expected a positive number, got {batchSize}");
        var graph = InspectCommand.LoadModel(model);
        CalibCommand.CheckSupported(graph, model, []);
        var sim = LoadSim(quantDir);
        string input = CalibCommand.SingleInput(graph, model), simInput = CalibCommand.SingleInput(sim.Model, quantDir);
        if (input != simInput)
            throw new UsageException($"--model '{model}' reads input '{input}' but the sim in '{quantDir}' reads '{simInput}'; pass the model that 'calib' quantized");
        var set = CliData.Load(source, needLabels: true, stdout);
        int batches = (set.Count + batchSize - 1) / batchSize;
        Accuracy fp32 = null!, quant = null!;
        var seconds = CliProgress.Run(stdout, p =>
        {
            var session = new Session(graph);
            fp32 = ModelEvaluation.Evaluate(session, p.Track("fp32", $"FP32 ({set.Count} samples)", set.Batches(batchSize), batches));
            quant = ModelEvaluation.Evaluate(x => sim.Run(x), p.Track("quantized", $"quantized ({set.Count} samples)", set.Batches(batchSize), batches));
        });

        var ci = CultureInfo.InvariantCulture;
        string P(double v) => (v * 100).ToString("F2", ci) + "%";
        string D(double v) => ((v * 100).ToString("+0.00;-0.00;0.00", ci)) + " pts";
        var table = new Table().AddColumn("").AddColumn(new TableColumn("top-1").RightAligned()).AddColumn(new TableColumn("top-5").RightAligned());
        table.Title = new TableTitle(Markup.Escape($"{Path.GetFileName(model)}, {set.Count} samples"));
        table.AddRow("FP32", P(fp32.Top1), P(fp32.Top5));
        table.AddRow("quantized", P(quant.Top1), P(quant.Top5));
        table.AddRow("drop", D(fp32.Top1 - quant.Top1), D(fp32.Top5 - quant.Top5));
        CliProgress.Console(stdout).Write(table);
        stdout.WriteLine($"samples: {fp32.Samples}");
        if (json is not null)
        {
            CalibCommand.WriteJson(json, new Dictionary<string, object?>
            {
                ["fp32_top1"] = fp32.Top1, ["quant_top1"] = quant.Top1, ["fp32_top5"] = fp32.Top5, ["quant_top5"] = quant.Top5,
                ["samples"] = fp32.Samples, ["top1_drop"] = fp32.Top1 - quant.Top1, ["top5_drop"] = fp32.Top5 - quant.Top5,
                ["command"] = "test", ["model"] = model, ["quant"] = quantDir, ["data"] = source.Data, ["batch_size"] = batchSize,
                ["fp32_seconds"] = seconds.GetValueOrDefault("fp32"), ["quant_seconds"] = seconds.GetValueOrDefault("quantized"),
                ["total_seconds"] = total.Elapsed.TotalSeconds,
            });
            stdout.WriteLine($"wrote {json}");
        }
        return (fp32, quant);
    }

    /// <summary>The sim saved by <c>calib</c> in <paramref name="quantDir"/>.</summary>
    internal static QuantizationSimModel LoadSim(string quantDir)
    {
        string path = Path.Combine(quantDir, CalibCommand.CheckpointFile);
        if (!File.Exists(path))
            throw new FileNotFoundException($"--quant '{quantDir}': no {CalibCommand.CheckpointFile} there (run 'quantsharp calib … --output {quantDir}' first)", path);
        return SimCheckpoint.Load(path);
    }
}
