namespace QuantSharp.Fuzz;

/// <summary>
/// The edge-hit map SharpFuzz's instrumentation writes (<c>SharedMem[prev ^ cur]++</c>) and the coverage seen so far, in
/// AFL's hit-count buckets (1, 2, 3, 4–7, 8–15, 16–31, 32–127, 128+), so that running a loop more often also counts as new.
/// </summary>
internal sealed unsafe class CoverageMap
{
    /// <summary>Bytes in the map (AFL's 64 KB).</summary>
    public const int Size = 1 << 16;

    private readonly byte[] _seen = new byte[Size];

    /// <summary>Edges seen at least once.</summary>
    public int Edges { get; private set; }

    private static Span<byte> Hits => new(SharpFuzz.Common.Trace.SharedMem, Size);

    /// <summary>Clears the hits before a run.</summary>
    public static void Reset()
    {
        Hits.Clear();
        SharpFuzz.Common.Trace.PrevLocation = 0;
    }

    /// <summary>Merges the last run's hits into what was seen; true when it reached an edge or bucket never seen before.</summary>
    public bool MergeNew()
    {
        var hits = Hits;
        bool fresh = false;
        for (int i = hits.IndexOfAnyExcept((byte)0); i >= 0 && i < Size;)
        {
            byte bucket = Bucket(hits[i]);
            if ((_seen[i] & bucket) == 0)
            {
                if (_seen[i] == 0) Edges++;
                _seen[i] |= bucket;
                fresh = true;
            }
            int next = hits[(i + 1)..].IndexOfAnyExcept((byte)0);
            i = next < 0 ? -1 : i + 1 + next;
        }
        return fresh;
    }

    private static byte Bucket(byte count) => count switch
    {
        1 => 1, 2 => 2, 3 => 4,
        <= 7 => 8, <= 15 => 16, <= 31 => 32, <= 127 => 64,
        _ => 128,
    };
}
