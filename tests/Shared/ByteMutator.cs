namespace QuantSharp.Tests.Shared;

/// <summary>
/// The repo's own seeded byte mutator for the reader fuzz tests (linked as a source file into the test projects that use
/// it): one to four edits per mutant — a flipped bit, an overwritten byte, an "interesting" byte, an inserted huge
/// varint, a truncation, or a spliced copy of another part of the input. The same seed gives the same mutants, so a
/// failure is reproduced by its index.
/// </summary>
internal static class ByteMutator
{
    private static readonly byte[] Interesting = [0x00, 0x01, 0x7F, 0x80, 0xFF, 0x08, 0x0A, 0x12];

    /// <summary>A varint near 2³⁵ (protobuf) or a run of 0xFF (big lengths and dimensions in any format).</summary>
    private static readonly byte[] HugeVarint = [0xFF, 0xFF, 0xFF, 0xFF, 0x7F];

    /// <summary>Returns a mutated copy of <paramref name="original"/>.</summary>
    public static byte[] Mutate(byte[] original, Random rng)
    {
        var b = new List<byte>(original);
        int edits = 1 + rng.Next(4);
        for (int e = 0; e < edits && b.Count > 0; e++)
        {
            int at = rng.Next(b.Count);
            switch (rng.Next(6))
            {
                case 0: b[at] ^= (byte)(1 << rng.Next(8)); break;
                case 1: b[at] = (byte)rng.Next(256); break;
                case 2: b[at] = Interesting[rng.Next(Interesting.Length)]; break;
                case 3: b.InsertRange(at, HugeVarint); break;
                case 4: b.RemoveRange(at, b.Count - at); break;
                default:
                    int from = rng.Next(b.Count), len = Math.Min(1 + rng.Next(32), b.Count - from);
                    b.InsertRange(at, b.GetRange(from, len));
                    break;
            }
        }
        return b.ToArray();
    }
}
