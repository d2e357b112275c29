using System.CommandLine;
using QuantSharp.Engine;

namespace QuantSharp.Cli;

/// <summary>
/// The <c>quantsharp</c> command line: <c>inspect MODEL.onnx</c> and <c>run MODEL.onnx --input NAME=FILE.npy … --output DIR</c>.
/// Every error is one line on stderr ("quantsharp: error: …") with a non-zero exit code, never a stack trace:
/// <see cref="ExitUsage"/> for a bad command line, <see cref="ExitFailure"/> for anything that fails while running.
/// </summary>
public static class CommandLineApp
{
    /// <summary>Exit code of a successful command.</summary>
    public const int ExitOk = 0;

    /// <summary>Exit code when the command failed (unreadable model, unsupported op, bad input file, …).</summary>
    public const int ExitFailure = 1;

    /// <summary>Exit code when the command line itself is wrong (unknown option, missing argument, bad --input spec).</summary>
    public const int ExitUsage = 2;

    /// <summary>Parses and runs <paramref name="args"/>, writing results to <paramref name="stdout"/> and errors to <paramref name="stderr"/>.</summary>
    /// <returns>The exit code.</returns>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var modelArg = () => new Argument<string>("model") { Description = "Path of the ONNX model." };

        var inspectModel = modelArg();
        var inspect = new Command("inspect", "Prints inputs, outputs, opsets, op-type histogram, parameter count and unsupported ops.") { inspectModel };
        inspect.SetAction(r => Guard(stderr, () => InspectCommand.Execute(r.GetValue(inspectModel)!, stdout)));

        var runModel = modelArg();
        var inputs = new Option<string[]>("--input", "-i")
        {
            Description = "A graph input as NAME=FILE.npy (repeat for several inputs).",
            AllowMultipleArgumentsPerToken = false,
        };
        var output = new Option<string>("--output", "-o") { Description = "Folder that receives <output name>.npy for every graph output.", Required = true };
        var run = new Command("run", "Runs the model on .npy inputs and writes every output as .npy.") { runModel, inputs, output };
        run.SetAction(r => Guard(stderr, () => RunCommand.Execute(r.GetValue(runModel)!, r.GetValue(inputs) ?? [], r.GetValue(output)!, stdout)));

        var root = new RootCommand("QuantSharp: inspect and run ONNX models.") { inspect, run };
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            stderr.WriteLine($"quantsharp: error: {OneLine(string.Join("; ", parsed.Errors.Select(e => e.Message).Distinct()))} (see 'quantsharp --help')");
            return ExitUsage;
        }
        return parsed.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
    }

    /// <summary>Runs <paramref name="action"/>, turning every exception into one line on stderr and an exit code.</summary>
    private static int Guard(TextWriter stderr, Action action)
    {
        try
        {
            action();
            return ExitOk;
        }
        catch (UsageException e)
        {
            stderr.WriteLine($"quantsharp: error: {OneLine(e.Message)}");
            return ExitUsage;
        }
        catch (Exception e)
        {
            string kind = e switch
            {
                FileNotFoundException or DirectoryNotFoundException => "file not found",
                InvalidDataException => "invalid file",
                GraphException => "model",
                ShapeException => "shape",
                _ => e.GetType().Name,
            };
            stderr.WriteLine($"quantsharp: error ({kind}): {OneLine(e.Message)}");
            return ExitFailure;
        }
    }

    /// <summary>A message on one line (multi-line messages joined with "; ").</summary>
    internal static string OneLine(string message) =>
        string.Join("; ", message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}

/// <summary>The command line is wrong in a way the parser cannot see (e.g. a malformed --input spec).</summary>
public sealed class UsageException(string message) : Exception(message);
