using System.Diagnostics;

namespace QuantSharp.Bench;

/// <summary>One named benchmark; it reports its figures through <see cref="BenchContext.Report"/>.</summary>
public sealed record Benchmark(string Name, string Description, Action<BenchContext> Run);

/// <summary>
/// A family of benchmarks. Every non-abstract class implementing this with a public parameterless
/// constructor is found by reflection, so adding a family never edits a shared file.
/// </summary>
public interface IBenchmarkSuite
{
    /// <summary>The benchmarks of this family.</summary>
    IEnumerable<Benchmark> Benchmarks();
}

/// <summary>Timing and reporting for benchmarks: warm-up, medians, one <c>name value unit</c> line per figure.</summary>
public sealed class BenchContext
{
    public BenchContext(bool compare, bool quick)
    {
        Compare = compare;
        Quick = quick;
    }

    /// <summary>Also measure the reference implementation (PyTorch / OpenBLAS) in this run, when installed.</summary>
    public bool Compare { get; }

    /// <summary>Fewer repetitions (smoke runs).</summary>
    public bool Quick { get; }

    /// <summary>Repetitions timed after warm-up; the median is reported.</summary>
    public int Runs => Quick ? 3 : 9;

    /// <summary>Prints one figure as <c>name value unit</c>.</summary>
    public void Report(string name, double value, string unit) =>
        Console.WriteLine($"{name} {value.ToString(value >= 100 ? "F1" : "F3", System.Globalization.CultureInfo.InvariantCulture)} {unit}");

    /// <summary>Prints a comment line (starts with '#'), e.g. the reference's figure and the ratio.</summary>
    public void Note(string text) => Console.WriteLine("# " + text);

    /// <summary>
    /// Median seconds after a warm-up of at least 12 calls and 0.5 s. Calls that return a fresh large result keep
    /// landing on never-touched memory (a page fault per 4 KiB) until the GC has collected a few times and reuses its
    /// large-object space; the steady state of repeated inference comes only after that.
    /// </summary>
    public double SteadyMedianSeconds(Action action)
    {
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < 12 || clock.Elapsed.TotalSeconds < 0.5; i++) action();
        return MedianSeconds(action, warmup: 0);
    }

    /// <summary>Median wall time in seconds of <paramref name="action"/> over <see cref="Runs"/> timed runs after <paramref name="warmup"/> untimed ones.</summary>
    public double MedianSeconds(Action action, int warmup = 2, int? runs = null)
    {
        for (int i = 0; i < warmup; i++) action();
        int n = runs ?? Runs;
        var times = new double[n];
        for (int i = 0; i < n; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            action();
            times[i] = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }
        Array.Sort(times);
        return times[n / 2];
    }
}
