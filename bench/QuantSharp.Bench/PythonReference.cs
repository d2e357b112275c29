using System.Diagnostics;
using System.Globalization;

namespace QuantSharp.Bench;

/// <summary>One figure printed by a reference script: <c>name value unit</c>.</summary>
public sealed record ReferenceFigure(string Name, double Value, string Unit);

/// <summary>
/// Runs the PyTorch reference scripts of <c>bench/reference/</c> with Debian's <c>/usr/bin/python3</c> in a child
/// process (so their threads never share a timing block with ours) and parses the <c>name value unit</c> lines they
/// print. References are for measurement only; when python3 or the script is missing the benchmark notes it and goes on.
/// </summary>
public static class PythonReference
{
    /// <summary>Runs <paramref name="script"/> (a file name in bench/reference) with <paramref name="args"/>; null when it cannot run.</summary>
    public static IReadOnlyList<ReferenceFigure>? Run(BenchContext ctx, string script, params string[] args)
    {
        string? path = Find(script);
        if (path is null || !File.Exists("/usr/bin/python3"))
        {
            ctx.Note($"reference skipped: /usr/bin/python3 or bench/reference/{script} not found");
            return null;
        }
        var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(path);
        if (ctx.Quick) psi.ArgumentList.Add("--quick");
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment.Remove("OPENBLAS_CORETYPE"); // the environment's Haswell setting halves the reference's BLAS
        psi.Environment.Remove("OPENBLAS_L2_SIZE");
        using var proc = Process.Start(psi)!;
        var stderrTask = proc.StandardError.ReadToEndAsync();
        string stdout = proc.StandardOutput.ReadToEnd();
        proc.WaitForExit();
        string stderr = stderrTask.Result;
        if (proc.ExitCode != 0)
        {
            ctx.Note($"reference skipped: {script} failed (exit {proc.ExitCode}: {stderr.Trim().Split('\n').LastOrDefault()})");
            return null;
        }
        var figures = new List<ReferenceFigure>();
        foreach (var line in stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = line.Split(' ');
            if (parts.Length == 3 && double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double v))
                figures.Add(new ReferenceFigure(parts[0], v, parts[2]));
        }
        return figures;
    }

    /// <summary>The figure <paramref name="name"/> from <paramref name="script"/>, or null (noted) when absent.</summary>
    public static double? Figure(BenchContext ctx, string script, string name, params string[] args)
    {
        var figures = Run(ctx, script, args);
        var f = figures?.FirstOrDefault(x => x.Name == name);
        if (figures is not null && f is null) ctx.Note($"reference skipped: {script} printed no figure {name}");
        return f?.Value;
    }

    /// <summary>Prints every figure of <paramref name="script"/> as a comment line <c># torch name value unit</c>.</summary>
    public static void Print(BenchContext ctx, string script, params string[] args)
    {
        foreach (var f in Run(ctx, script, args) ?? [])
            ctx.Note($"torch {f.Name} {f.Value.ToString("G6", CultureInfo.InvariantCulture)} {f.Unit}");
    }

    private static string? Find(string script)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string path = Path.Combine(dir.FullName, "bench", "reference", script);
            if (File.Exists(path)) return path;
        }
        return null;
    }
}
