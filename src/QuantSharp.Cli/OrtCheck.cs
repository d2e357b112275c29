using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using QuantSharp.Engine;

namespace QuantSharp.Cli;

/// <summary>
/// ONNX Runtime (NuGet <c>Microsoft.ML.OnnxRuntime</c>, in process) as <c>deploy</c>'s checker: it loads a written model
/// the way users deploy it (all graph optimizations on, so its QDQ fusions run) and runs it on float inputs.
/// </summary>
public static class OrtCheck
{
    /// <summary>Loads <paramref name="modelPath"/> as ONNX Runtime deploys it (all graph optimizations by default).</summary>
    /// <exception cref="InvalidOperationException">The native library cannot load (names the runtime identifier), or ONNX
    /// Runtime rejects the model (names the file and ONNX Runtime's message, which names the node).</exception>
    public static void Load(string modelPath, GraphOptimizationLevel level = GraphOptimizationLevel.ORT_ENABLE_ALL) => Run(modelPath, null, level);

    /// <summary>
    /// Loads <paramref name="modelPath"/> at <paramref name="level"/> and, when <paramref name="feeds"/> (float tensors)
    /// are given, runs it and returns every float output by name (empty when no feeds).
    /// </summary>
    /// <exception cref="InvalidOperationException">As <see cref="Load"/>, or ONNX Runtime fails while running the model.</exception>
    public static Dictionary<string, Tensor<float>> Run(string modelPath, IReadOnlyDictionary<string, Tensor<float>>? feeds,
        GraphOptimizationLevel level = GraphOptimizationLevel.ORT_ENABLE_ALL)
    {
        using var options = Options(level);
        using var session = Open(modelPath, options);
        return feeds is null ? [] : Run(session, modelPath, feeds);
    }

    /// <summary>As <see cref="Run(string, IReadOnlyDictionary{string, Tensor{float}}, GraphOptimizationLevel)"/> with feeds of any element type (token ids, masks, …).</summary>
    /// <exception cref="InvalidOperationException">As <see cref="Load"/>, or ONNX Runtime fails while running the model.</exception>
    public static Dictionary<string, Tensor<float>> RunFeeds(string modelPath, IReadOnlyDictionary<string, Tensor> feeds,
        GraphOptimizationLevel level = GraphOptimizationLevel.ORT_ENABLE_ALL)
    {
        using var options = Options(level);
        using var session = Open(modelPath, options);
        return RunFeeds(session, modelPath, feeds);
    }

    /// <summary>Intra-op threads of every session: the cores, up to 4.</summary>
    public static int Threads => Math.Min(Environment.ProcessorCount, 4);

    /// <summary>The session options every QuantSharp use of ONNX Runtime starts from: <paramref name="level"/>, <see cref="Threads"/>.</summary>
    public static SessionOptions Options(GraphOptimizationLevel level = GraphOptimizationLevel.ORT_ENABLE_ALL) =>
        new() { GraphOptimizationLevel = level, IntraOpNumThreads = Threads };

    /// <summary>Opens <paramref name="modelPath"/> with <paramref name="options"/> (the caller disposes the session).</summary>
    /// <exception cref="InvalidOperationException">As <see cref="Load"/>.</exception>
    public static InferenceSession Open(string modelPath, SessionOptions options)
    {
        try { _ = OrtEnv.Instance(); }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or BadImageFormatException or EntryPointNotFoundException)
        {
            throw new InvalidOperationException($"ONNX Runtime's native library could not be loaded for runtime identifier " +
                $"'{RuntimeInformation.RuntimeIdentifier}' ({RuntimeInformation.OSDescription}): {e.Message}");
        }
        try { return new InferenceSession(modelPath, options); }
        catch (OnnxRuntimeException e) { throw new InvalidOperationException($"ONNX Runtime rejected {Path.GetFileName(modelPath)}: {e.Message}"); }
    }

    /// <summary>Runs an open session on float feeds and returns every float output by name.</summary>
    /// <exception cref="InvalidOperationException">ONNX Runtime fails while running the model (names the file).</exception>
    public static Dictionary<string, Tensor<float>> Run(InferenceSession session, string modelPath, IReadOnlyDictionary<string, Tensor<float>> feeds) =>
        RunFeeds(session, modelPath, feeds.ToDictionary(f => f.Key, f => (Tensor)f.Value, StringComparer.Ordinal));

    /// <summary>Runs an open session on feeds of any element type (token ids, masks, …) and returns every float output by name.</summary>
    /// <exception cref="InvalidOperationException">ONNX Runtime fails while running the model (names the file).</exception>
    public static Dictionary<string, Tensor<float>> RunFeeds(InferenceSession session, string modelPath, IReadOnlyDictionary<string, Tensor> feeds)
    {
        try
        {
            using var inputs = new OrtFeeds(feeds);
            using var runOptions = new RunOptions();
            var names = session.OutputNames;
            using var results = session.Run(runOptions, inputs.Names, inputs.Values, names);
            var outputs = new Dictionary<string, Tensor<float>>(StringComparer.Ordinal);
            for (int i = 0; i < names.Count; i++)
            {
                if (results[i].OnnxType != OnnxValueType.ONNX_TYPE_TENSOR) continue; // a sequence or map output
                var info = results[i].GetTensorTypeAndShape();
                if (info.ElementDataType != Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float) continue;
                outputs[names[i]] = Engine.Tensor.FromArray(results[i].GetTensorDataAsSpan<float>().ToArray(), Array.ConvertAll(info.Shape, d => (int)d));
            }
            return outputs;
        }
        catch (OnnxRuntimeException e) { throw new InvalidOperationException($"ONNX Runtime failed running {Path.GetFileName(modelPath)}: {e.Message}"); }
    }
}
