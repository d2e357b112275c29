using System.Diagnostics;
using QuantSharp.Tests.Shared;

namespace QuantSharp.Fuzz;

/// <summary>What a fuzzing run did.</summary>
internal sealed record FuzzResult(string Target, long Runs, TimeSpan Elapsed, int Seeds, int Corpus, int Edges, int Findings)
{
    public override string ToString() =>
        $"fuzz {Target}: {Runs} runs in {Elapsed.TotalSeconds:F1} s, corpus {Corpus} inputs (from {Seeds} seeds), {Edges} edges covered, {Findings} findings";
}

/// <summary>
/// The coverage-guided loop: mutate a corpus entry, run the reader, keep the mutant when it covers something new, and
/// record every input that crashes, hangs or over-allocates (see <see cref="Program"/>).
/// </summary>
internal sealed class CoverageFuzzer(FuzzTarget target, string findingsFolder)
{
    private const long AllocationSlack = 64L << 20;
    private const int MaxInputBytes = 1 << 16; // spliced copies must not grow the corpus without bound
    private static readonly TimeSpan HangLimit = TimeSpan.FromSeconds(10);

    private readonly CoverageMap _coverage = new();
    private readonly List<byte[]> _corpus = [];
    private int _findings;
    private volatile byte[]? _running;
    private long _runStarted;

    public FuzzResult Run(TimeSpan duration)
    {
        var rng = new Random(20261207);
        var clock = Stopwatch.StartNew();
        using var watchdog = new Timer(_ => Watch(), null, 1000, 1000);
        foreach (var seed in target.Seeds)
        {
            Execute(seed);
            _coverage.MergeNew();
            _corpus.Add(seed);
        }
        long runs = 0;
        while (clock.Elapsed < duration)
        {
            for (int i = 0; i < 256; i++, runs++)
            {
                var mutant = ByteMutator.Mutate(_corpus[rng.Next(_corpus.Count)], rng);
                if (target.Fix is { } fix && rng.Next(2) == 0) fix(mutant);
                if (mutant.Length > MaxInputBytes) continue;
                if (Execute(mutant) && _coverage.MergeNew()) _corpus.Add(mutant);
            }
        }
        return new FuzzResult(target.Name, runs, clock.Elapsed, target.Seeds.Count, _corpus.Count, _coverage.Edges, _findings);
    }

    /// <summary>Runs one input; false (and a finding recorded) when it failed in a way the reader must never fail.</summary>
    private bool Execute(byte[] input)
    {
        CoverageMap.Reset();
        long before = GC.GetAllocatedBytesForCurrentThread();
        _runStarted = Stopwatch.GetTimestamp();
        _running = input;
        try
        {
            target.Read(input);
        }
        catch (Exception e) when (target.Expected(e)) { }
        catch (Exception e)
        {
            Record(input, $"threw {e}");
            return false;
        }
        finally
        {
            _running = null;
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        if (allocated > 2L * input.Length + AllocationSlack)
        {
            Record(input, $"allocated {allocated} bytes for {input.Length} bytes of input");
            return false;
        }
        return true;
    }

    /// <summary>A run still going after the hang limit is a finding; the process cannot stop it, so it ends.</summary>
    private void Watch()
    {
        var input = _running;
        if (input is null || Stopwatch.GetElapsedTime(_runStarted) < HangLimit) return;
        Record(input, $"ran for more than {HangLimit.TotalSeconds:F0} s");
        Console.Out.Flush();
        Environment.Exit(1);
    }

    private void Record(byte[] input, string what)
    {
        int n = Interlocked.Increment(ref _findings);
        Directory.CreateDirectory(findingsFolder);
        string path = Path.Combine(findingsFolder, $"{target.Name}-{n}.bin");
        File.WriteAllBytes(path, input);
        File.WriteAllText(path + ".txt", what + Environment.NewLine);
        string first = what.Split('\n')[0];
        Console.WriteLine($"fuzz {target.Name}: FINDING {path}: {first}");
    }
}
