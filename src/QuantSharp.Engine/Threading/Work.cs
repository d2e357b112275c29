namespace QuantSharp.Engine.Threading;

/// <summary>
/// Coarse-grained parallel loops: the range is cut into at most a few blocks per core, each block at
/// least <c>grain</c> items, and runs inline when one block suffices (no task overhead on small work).
/// </summary>
public static class Work
{
    /// <summary>Cores used by kernels (defaults to <see cref="Environment.ProcessorCount"/>).</summary>
    public static int Threads { get; set; } = Environment.ProcessorCount;

    /// <summary>
    /// Runs <paramref name="body"/>(start, end) over disjoint blocks covering [0, <paramref name="count"/>).
    /// </summary>
    /// <param name="count">Number of items.</param>
    /// <param name="grain">Minimum items per block (choose so a block is ≳ 10 µs of work).</param>
    /// <param name="body">Called once per block with its half-open range.</param>
    public static void For(int count, int grain, Action<int, int> body)
    {
        if (count <= 0) return;
        int maxBlocks = Math.Max(1, Math.Min(Threads * 4, (count + Math.Max(grain, 1) - 1) / Math.Max(grain, 1)));
        if (maxBlocks == 1 || Threads == 1) { body(0, count); return; }
        // Blocks of equal size; the number is a multiple of the thread count when possible so cores finish together.
        int blocks = maxBlocks >= Threads ? maxBlocks / Threads * Threads : maxBlocks;
        Parallel.For(0, blocks, new ParallelOptions { MaxDegreeOfParallelism = Threads }, b =>
        {
            int start = (int)((long)count * b / blocks), end = (int)((long)count * (b + 1) / blocks);
            if (end > start) body(start, end);
        });
    }
}
