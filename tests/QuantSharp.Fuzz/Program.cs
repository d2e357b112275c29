using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace QuantSharp.Fuzz;

/// <summary>
/// Coverage-guided fuzzing of the readers: <c>quantsharp-fuzz TARGET [--seconds N] [--findings DIR]</c> with TARGET one of
/// <c>onnx npy png jpeg</c> (scripts/fuzz.sh builds and runs it; test.sh runs every target for a bounded time).
/// </summary>
/// <remarks>
/// <para>The process copies its own folder, instruments the copies of QuantSharp.Engine, .Data and .Onnx with SharpFuzz
/// (every branch records an AFL-style edge hit in a 64 KB map) and runs itself again from the copy. The child then
/// fuzzes in process: a mutant of a corpus entry (the repo's <see cref="Tests.Shared.ByteMutator"/>) runs through the
/// reader, and when it lights an edge — or a hit-count bucket of an edge — never seen before, it joins the corpus, so
/// mutations build on inputs that got further into the parser. No AFL or libFuzzer binary is needed.</para>
/// <para>A finding is an exception other than the reader's own error type, a run over 10 s, or an allocation over twice
/// the input plus 64 MB; it is written to the findings folder and the exit code is 1.</para>
/// </remarks>
internal static class Program
{
    private const string ChildVariable = "QUANTSHARP_FUZZ_CHILD";

    private static int Main(string[] args)
    {
        if (args.Length == 0 || !FuzzTargets.Names.Contains(args[0]))
        {
            Console.Error.WriteLine($"usage: quantsharp-fuzz {{{string.Join('|', FuzzTargets.Names)}}} [--seconds N] [--findings DIR]");
            return 2;
        }
        return Environment.GetEnvironmentVariable(ChildVariable) == "1" ? Child(args) : Parent(args);
    }

    /// <summary>Instruments a copy of this program's folder and runs the fuzzing there.</summary>
    private static int Parent(string[] args)
    {
        string copy = Directory.CreateTempSubdirectory("quantsharp-fuzz-").FullName;
        try
        {
            foreach (var file in Directory.EnumerateFiles(AppContext.BaseDirectory, "*", SearchOption.AllDirectories))
            {
                string to = Path.Combine(copy, Path.GetRelativePath(AppContext.BaseDirectory, file));
                Directory.CreateDirectory(Path.GetDirectoryName(to)!);
                File.Copy(file, to);
            }
            foreach (var name in new[] { "QuantSharp.Engine.dll", "QuantSharp.Data.dll", "QuantSharp.Onnx.dll" })
                SharpFuzz.Fuzzer.Instrument(Path.Combine(copy, name), type => type.StartsWith("QuantSharp.", StringComparison.Ordinal), SharpFuzz.Options.Value);
            var psi = new ProcessStartInfo("dotnet") { UseShellExecute = false };
            psi.ArgumentList.Add("exec");
            psi.ArgumentList.Add(Path.Combine(copy, Path.GetFileName(typeof(Program).Assembly.Location)));
            foreach (var a in args) psi.ArgumentList.Add(a);
            psi.Environment[ChildVariable] = "1";
            using var child = Process.Start(psi)!;
            child.WaitForExit();
            return child.ExitCode;
        }
        finally
        {
            Directory.Delete(copy, recursive: true);
        }
    }

    private static unsafe int Child(string[] args)
    {
        // The instrumented code writes into this map from its first branch on, so it must exist before any QuantSharp type loads.
        SharpFuzz.Common.Trace.SharedMem = (byte*)NativeMemory.AllocZeroed(CoverageMap.Size);
        return Run(args);
    }

    [MethodImpl(MethodImplOptions.NoInlining)] // keeps QuantSharp types from loading before the map exists
    private static int Run(string[] args)
    {
        double seconds = 60;
        string findings = Path.Combine(Environment.CurrentDirectory, "fuzz-findings");
        for (int i = 1; i < args.Length; i++)
        {
            if (args[i] == "--seconds" && i + 1 < args.Length && double.TryParse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture, out seconds)) i++;
            else if (args[i] == "--findings" && i + 1 < args.Length) findings = args[++i];
            else
            {
                Console.Error.WriteLine($"quantsharp-fuzz: unknown argument '{args[i]}'");
                return 2;
            }
        }
        var target = FuzzTargets.Create(args[0]);
        var result = new CoverageFuzzer(target, findings).Run(TimeSpan.FromSeconds(seconds));
        Console.WriteLine(result);
        return result.Findings == 0 ? 0 : 1;
    }
}
