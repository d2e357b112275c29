using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using DenseTensor = Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>;
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
        return Run(session, modelPath, feeds.Select(f => OrtValueOf(f.Key, f.Value)).ToList());
    }

    private static NamedOnnxValue OrtValueOf(string name, Tensor t) => t switch
    {
        Tensor<float> x => NamedOnnxValue.CreateFromTensor(name, new DenseTensor(x.Data, x.Shape)),
        Tensor<long> x => NamedOnnxValue.CreateFromTensor(name, new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<long>(x.Data, x.Shape)),
        Tensor<int> x => NamedOnnxValue.CreateFromTensor(name, new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<int>(x.Data, x.Shape)),
        Tensor<bool> x => NamedOnnxValue.CreateFromTensor(name, new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<bool>(x.Data, x.Shape)),
        Tensor<byte> x => NamedOnnxValue.CreateFromTensor(name, new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<byte>(x.Data, x.Shape)),
        Tensor<sbyte> x => NamedOnnxValue.CreateFromTensor(name, new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<sbyte>(x.Data, x.Shape)),
        Tensor<double> x => NamedOnnxValue.CreateFromTensor(name, new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<double>(x.Data, x.Shape)),
        _ => throw new InvalidOperationException($"input '{name}': element type {t.DataType} cannot be passed to ONNX Runtime here"),
    };

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
        Run(session, modelPath, feeds.Select(f => OrtValueOf(f.Key, f.Value)).ToList());

    /// <summary>Runs an open session on feeds of any element type (token ids, masks, …) and returns every float output by name.</summary>
    /// <exception cref="InvalidOperationException">ONNX Runtime fails while running the model (names the file).</exception>
    public static Dictionary<string, Tensor<float>> RunFeeds(InferenceSession session, string modelPath, IReadOnlyDictionary<string, Tensor> feeds) =>
        Run(session, modelPath, feeds.Select(f => OrtValueOf(f.Key, f.Value)).ToList());

    private static Dictionary<string, Tensor<float>> Run(InferenceSession session, string modelPath, List<NamedOnnxValue> inputs)
    {
        try
        {
            using var results = session.Run(inputs);
            var outputs = new Dictionary<string, Tensor<float>>(StringComparer.Ordinal);
            foreach (var r in results)
                if (r.Value is Microsoft.ML.OnnxRuntime.Tensors.Tensor<float> t)
                    outputs[r.Name] = Engine.Tensor.FromArray(t.ToArray(), t.Dimensions.ToArray());
            return outputs;
        }
        catch (OnnxRuntimeException e) { throw new InvalidOperationException($"ONNX Runtime failed running {Path.GetFileName(modelPath)}: {e.Message}"); }
    }
}
