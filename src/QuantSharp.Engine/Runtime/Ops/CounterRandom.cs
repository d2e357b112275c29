using System.Runtime.CompilerServices;

namespace QuantSharp.Engine.Runtime.Ops;

/// <summary>
/// The random streams of the random ops (Dropout's mask, RandomUniform/Normal, Bernoulli, Multinomial): counter-based
/// SplitMix64. Element i of a stream is Mix(stream + i·φ), so a run is reproducible from (seed, call count) and elements
/// can be drawn in any order or in parallel. A node without a seed attribute is keyed by a stable hash of its name.
/// </summary>
internal static class CounterRandom
{
    /// <summary>The stream of the <paramref name="call"/>-th run of a node keyed <paramref name="key"/>.</summary>
    public static ulong Stream(ulong key, long call) => Mix(key ^ Mix((ulong)call));

    /// <summary>A uniform float in [0, 1) from element <paramref name="i"/> of a stream (24 random bits).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float UniformSingle(ulong stream, long i) => (Mix(stream + (ulong)i * 0x9E3779B97F4A7C15UL) >> 40) * (1f / (1 << 24));

    /// <summary>A uniform double in [0, 1) from element <paramref name="i"/> of a stream (53 random bits).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double UniformDouble(ulong stream, long i) => (Mix(stream + (ulong)i * 0x9E3779B97F4A7C15UL) >> 11) * (1.0 / (1UL << 53));

    /// <summary>SplitMix64's finalizer.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>FNV-1a of <paramref name="s"/>: the same key in every process (string.GetHashCode is randomized).</summary>
    public static ulong StableHash(string s)
    {
        ulong h = 1469598103934665603UL;
        foreach (char c in s) h = (h ^ c) * 1099511628211UL;
        return h;
    }
}
