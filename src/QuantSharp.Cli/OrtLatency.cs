using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using QuantSharp.Engine;

namespace QuantSharp.Cli;

/// <summary>ONNX Runtime latency of the FP32 and the QDQ model at one batch size (medians of interleaved runs).</summary>
/// <param name="Batch">Samples per run.</param>
/// <param name="Fp32Ms">Median milliseconds per run of the FP32 model.</param>
/// <param name="QdqMs">Median milliseconds per run of the QDQ model.</param>
/// <param name="Runs">Timed runs of each model.</param>
/// <param name="Fp32MinMs">Fastest run of the FP32 model: on a loaded machine, other processes only ever add time, so the
/// fastest runs are the nearest to the model's own cost.</param>
/// <param name="QdqMinMs">Fastest run of the QDQ model.</param>
public sealed record LatencyRow(int Batch, double Fp32Ms, double QdqMs, int Runs, double Fp32MinMs, double QdqMinMs)
{
    /// <summary>FP32 time over QDQ time: above 1 when the QDQ model is faster.</summary>
    public double Speedup => Fp32Ms / QdqMs;

    /// <summary>True when the QDQ model took longer than the FP32 model.</summary>
    public bool QdqSlower => QdqMs > Fp32Ms;
}

/// <summary>
/// Measures FP32 and QDQ models in ONNX Runtime as they are deployed (all graph optimizations, <see cref="OrtCheck.Options"/>'s
/// threads). Both sessions are warmed up, then timed turn by turn, so load from other processes on a shared machine falls on
/// both alike; the median of each is kept. Bounded in time: warm-up stops after one run of each once half a second has
/// passed; timing stops after <see cref="TargetSeconds"/> once each model ran <see cref="TargetRuns"/> times, and after
/// <see cref="MaxSeconds"/> once each ran <see cref="MinRuns"/> times — about a second per batch size for models under
/// 100 ms a run, about 15 runs' time for slow ones.
/// </summary>
public static class OrtLatency
{
    /// <summary>Fewest timed runs of each model.</summary>
    public const int MinRuns = 3;

    /// <summary>Timed runs of each model wanted before stopping at <see cref="TargetSeconds"/>.</summary>
    public const int TargetRuns = 5;

    /// <summary>Timed runs continue (past <see cref="TargetRuns"/>) until both models together have run this long.</summary>
    public const double TargetSeconds = 1.0;

    /// <summary>Past <see cref="MinRuns"/>, timing stops after this long even if <see cref="TargetRuns"/> is not reached.</summary>
    public const double MaxSeconds = 10.0;

    /// <summary>Most timed runs of each model (tiny models reach it before <see cref="TargetSeconds"/>).</summary>
    public const int MaxRuns = 200;

    /// <summary>One row per batch size in <paramref name="batches"/>; inputs are <paramref name="samples"/> repeated to the batch size.</summary>
    /// <exception cref="InvalidOperationException">ONNX Runtime cannot load or run one of the models (named).</exception>
    public static IReadOnlyList<LatencyRow> Compare(string fp32Model, string qdqModel, string input, Tensor<float> samples, IEnumerable<int> batches) =>
        Compare(fp32Model, qdqModel, new Dictionary<string, Tensor> { [input] = samples }, batches);

    /// <summary>
    /// As the one-input overload for a model fed named inputs of any element type (token ids, masks, …): every input's
    /// samples [N, …] repeated to the batch size.
    /// </summary>
    /// <exception cref="InvalidOperationException">ONNX Runtime cannot load or run one of the models (named).</exception>
    public static IReadOnlyList<LatencyRow> Compare(string fp32Model, string qdqModel, IReadOnlyDictionary<string, Tensor> samples, IEnumerable<int> batches)
    {
        using var options = OrtCheck.Options();
        using var fp32 = OrtCheck.Open(fp32Model, options);
        using var qdq = OrtCheck.Open(qdqModel, options);
        var rows = new List<LatencyRow>();
        foreach (int batch in batches)
        {
            using var feeds = new OrtFeeds(Tile(samples, batch));
            using var runOptions = new RunOptions();
            var runA = Runner(fp32, fp32Model, feeds, runOptions);
            var runB = Runner(qdq, qdqModel, feeds, runOptions);
            var clock = Stopwatch.StartNew();
            for (int pairs = 0; pairs < 1 || (clock.Elapsed.TotalSeconds < 0.5 && pairs < 20); pairs++) { runA(); runB(); }
            var (a, b) = (new List<double>(), new List<double>());
            clock.Restart();
            bool More(double s) => a.Count < MinRuns || (a.Count < TargetRuns && s < MaxSeconds) || (s < TargetSeconds && a.Count < MaxRuns);
            while (More(clock.Elapsed.TotalSeconds))
            {
                a.Add(Time(runA));
                b.Add(Time(runB));
            }
            rows.Add(new LatencyRow(batch, Median(a), Median(b), a.Count, a.Min(), b.Min()));
        }
        return rows;
    }

    /// <summary><paramref name="samples"/> [N, …] cycled to <paramref name="batch"/> samples.</summary>
    public static Tensor<float> Tile(Tensor<float> samples, int batch) => (Tensor<float>)Tile((Tensor)samples, batch);

    /// <summary>Every input's samples [N, …] cycled to <paramref name="batch"/> samples, element types kept.</summary>
    public static Dictionary<string, Tensor> Tile(IReadOnlyDictionary<string, Tensor> samples, int batch) =>
        samples.ToDictionary(kv => kv.Key, kv => Tile(kv.Value, batch), StringComparer.Ordinal);

    private static Tensor Tile(Tensor samples, int batch)
    {
        int n = samples.Rank == 0 ? 0 : samples.Dims[0];
        if (n == batch) return samples;
        if (n == 0) throw new ArgumentException("Tile: no samples to repeat");
        return Quantization.Techniques.Feeds.Gather(samples, Enumerable.Range(0, batch).Select(i => i % n).ToArray());
    }

    /// <summary>A run of <paramref name="session"/> on the prepared inputs (outputs discarded), errors naming the model.</summary>
    internal static Action Runner(InferenceSession session, string modelPath, OrtFeeds feeds, RunOptions runOptions)
    {
        var outputs = session.OutputNames;
        return () =>
        {
            try
            {
                using var results = session.Run(runOptions, feeds.Names, feeds.Values, outputs);
            }
            catch (OnnxRuntimeException e) { throw new InvalidOperationException($"ONNX Runtime failed running {Path.GetFileName(modelPath)}: {e.Message}"); }
        };
    }

    private static double Time(Action run)
    {
        long t0 = Stopwatch.GetTimestamp();
        run();
        return Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        int n = values.Count;
        return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
    }
}

/// <summary>Named inputs as ONNX Runtime values over the tensors' own arrays (no copy); disposing releases the values.</summary>
internal sealed class OrtFeeds : IDisposable
{
    public OrtFeeds(IReadOnlyDictionary<string, Tensor> feeds)
    {
        Names = feeds.Keys.ToArray();
        Values = feeds.Values.Select(ValueOf).ToArray();
    }

    /// <summary>Input names, in the order of <see cref="Values"/>.</summary>
    public string[] Names { get; }

    /// <summary>One value per input.</summary>
    public OrtValue[] Values { get; }

    private static OrtValue ValueOf(Tensor t)
    {
        long[] shape = Array.ConvertAll(t.Shape, d => (long)d);
        return t switch
        {
            Tensor<float> x => OrtValue.CreateTensorValueFromMemory(x.Data, shape),
            Tensor<long> x => OrtValue.CreateTensorValueFromMemory(x.Data, shape),
            Tensor<int> x => OrtValue.CreateTensorValueFromMemory(x.Data, shape),
            Tensor<bool> x => OrtValue.CreateTensorValueFromMemory(x.Data, shape),
            Tensor<byte> x => OrtValue.CreateTensorValueFromMemory(x.Data, shape),
            Tensor<sbyte> x => OrtValue.CreateTensorValueFromMemory(x.Data, shape),
            Tensor<double> x => OrtValue.CreateTensorValueFromMemory(x.Data, shape),
            _ => throw new InvalidOperationException($"element type {t.DataType} cannot be passed to ONNX Runtime here"),
        };
    }

    public void Dispose()
    {
        foreach (var v in Values) v.Dispose();
    }
}
