namespace QuantSharp.Tests.Shared;

/// <summary>Seeded synthetic inputs for real models (linked as a source file into the test projects that use it).</summary>
internal static class TestSignals
{
    /// <summary>
    /// A speech-like signal at <paramref name="rate"/> Hz: near-silence for the first third, then a voiced part (a 140 Hz
    /// harmonic series under a 4 Hz syllable envelope), plus a little noise — enough to move a voice-activity detector.
    /// </summary>
    public static float[] SpeechLike(int seed, int length, int rate)
    {
        var rng = new Random(seed);
        var x = new float[length];
        for (int i = 0; i < length; i++)
        {
            double t = (double)i / rate;
            bool voiced = i >= length / 3;
            double envelope = voiced ? 0.5 * (1 - Math.Cos(2 * Math.PI * 4 * t)) : 0.02;
            double voice = 0;
            for (int h = 1; h <= 8; h++) voice += Math.Sin(2 * Math.PI * 140 * h * t + h) / h;
            x[i] = (float)(0.25 * envelope * voice + 0.01 * (rng.NextDouble() * 2 - 1));
        }
        return x;
    }
}
