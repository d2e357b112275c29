using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using TensorElementType = Microsoft.ML.OnnxRuntime.Tensors.TensorElementType;
using QuantSharp.Engine;
using QuantSharp.Onnx.Export;

namespace QuantSharp.Onnx.Tests.Support;

/// <summary>
/// Runs ONNX models with ONNX Runtime in process (NuGet Microsoft.ML.OnnxRuntime, native CPU runtime inside the package):
/// the independent checker of QuantSharp's exports. Shared by the ONNX, quantization and CLI test projects (linked as a
/// source file). Tests that call it carry <c>[Trait("Category", "OnnxRuntime")]</c>, which test.sh counts.
/// </summary>
/// <remarks>
/// When the native library cannot be loaded every call throws, naming the runtime identifier, so a test that needs ONNX
/// Runtime fails instead of passing without having checked anything.
/// </remarks>
internal static class OrtRunner
{
    /// <summary>The trait value that marks a test as ONNX-Runtime dependent (test.sh runs and counts them separately).</summary>
    public const string Category = "OnnxRuntime";

    private static readonly Lazy<OrtEnv> Env = new(LoadEnvironment, LazyThreadSafetyMode.ExecutionAndPublication);

    private static OrtEnv LoadEnvironment()
    {
        try
        {
            return OrtEnv.Instance();
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or BadImageFormatException or EntryPointNotFoundException or OnnxRuntimeException)
        {
            throw new InvalidOperationException(
                $"ONNX Runtime's native library (Microsoft.ML.OnnxRuntime 1.32.0, runtimes/{RuntimeInformation.RuntimeIdentifier}/native) " +
                $"could not be loaded for runtime identifier '{RuntimeInformation.RuntimeIdentifier}' " +
                $"({RuntimeInformation.OSDescription}, {RuntimeInformation.ProcessArchitecture}): {Innermost(e).Message}", e);
        }
    }

    private static Exception Innermost(Exception e) => e.InnerException is { } inner ? Innermost(inner) : e;

    /// <summary>The loaded ONNX Runtime's version (loads the native library; throws naming the runtime identifier if it cannot).</summary>
    public static string Version => Env.Value.GetVersionString();

    /// <summary>The repository root (the directory holding QuantSharp.slnx above the test binaries), or null.</summary>
    public static string? RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "QuantSharp.slnx"))) dir = dir.Parent;
        return dir?.FullName;
    }

    /// <summary>
    /// Runs the ONNX file <paramref name="modelPath"/> on <paramref name="feeds"/> and returns the outputs named in
    /// <paramref name="outputNames"/> (all the model's outputs when null).
    /// </summary>
    /// <exception cref="InvalidOperationException">ONNX Runtime cannot load, or failed on the model; the message says why.</exception>
    public static Dictionary<string, Tensor> Run(string modelPath, IReadOnlyDictionary<string, Tensor> feeds, IEnumerable<string>? outputNames = null,
        GraphOptimizationLevel level = GraphOptimizationLevel.ORT_ENABLE_ALL) =>
        Run(File.ReadAllBytes(modelPath), Path.GetFileName(modelPath), feeds, outputNames, level);

    /// <summary>Exports <paramref name="graph"/> to protobuf bytes and runs it, returning every graph output.</summary>
    public static Dictionary<string, Tensor> Run(Graph graph, IReadOnlyDictionary<string, Tensor> feeds,
        GraphOptimizationLevel level = GraphOptimizationLevel.ORT_ENABLE_ALL) =>
        Run(OnnxExporter.FromGraph(graph).ToBytes(), graph.Name, feeds, graph.Outputs.Select(o => o.Name), level);

    /// <summary>Runs the serialized model <paramref name="model"/> (<paramref name="label"/> names it in errors).</summary>
    public static Dictionary<string, Tensor> Run(byte[] model, string label, IReadOnlyDictionary<string, Tensor> feeds,
        IEnumerable<string>? outputNames = null, GraphOptimizationLevel level = GraphOptimizationLevel.ORT_ENABLE_ALL)
    {
        _ = Env.Value;
        using var options = new SessionOptions { GraphOptimizationLevel = level, IntraOpNumThreads = 2, InterOpNumThreads = 1 };
        // Spinning threads would burn the two shared cores between runs; the tests are not latency-bound.
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        InferenceSession session;
        try
        {
            session = new InferenceSession(model, options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidOperationException($"ONNX Runtime rejected {label}: {e.Message}", e);
        }
        using (session)
        {
            string[] names = (outputNames ?? session.OutputNames).ToArray();
            var inputNames = new List<string>(feeds.Count);
            var inputs = new List<OrtValue>(feeds.Count);
            try
            {
                foreach (var (name, t) in feeds)
                {
                    inputNames.Add(name);
                    inputs.Add(ToOrtValue(name, t));
                }
                using var runOptions = new RunOptions();
                IDisposableReadOnlyCollection<OrtValue> results;
                try
                {
                    results = session.Run(runOptions, inputNames, inputs, names);
                }
                catch (OnnxRuntimeException e)
                {
                    throw new InvalidOperationException($"ONNX Runtime failed on {label}: {e.Message}", e);
                }
                using (results)
                {
                    var outputs = new Dictionary<string, Tensor>(names.Length);
                    int i = 0;
                    foreach (var value in results) outputs[names[i]] = ToTensor(label, names[i++], value);
                    return outputs;
                }
            }
            finally
            {
                foreach (var v in inputs) v.Dispose();
            }
        }
    }

    private static OrtValue ToOrtValue(string name, Tensor t)
    {
        long[] shape = t.Shape.Select(d => (long)d).ToArray();
        return t switch
        {
            Tensor<float> f when t.DataType == DataType.Float32 => OrtValue.CreateTensorValueFromMemory(f.Data, shape),
            Tensor<double> d => OrtValue.CreateTensorValueFromMemory(d.Data, shape),
            Tensor<long> l => OrtValue.CreateTensorValueFromMemory(l.Data, shape),
            Tensor<int> n => OrtValue.CreateTensorValueFromMemory(n.Data, shape),
            Tensor<short> s => OrtValue.CreateTensorValueFromMemory(s.Data, shape),
            Tensor<ushort> u => OrtValue.CreateTensorValueFromMemory(u.Data, shape),
            Tensor<bool> b => OrtValue.CreateTensorValueFromMemory(b.Data, shape),
            Tensor<byte> u8 when t.DataType == DataType.UInt8 => OrtValue.CreateTensorValueFromMemory(u8.Data, shape),
            Tensor<sbyte> i8 when t.DataType == DataType.Int8 => OrtValue.CreateTensorValueFromMemory(i8.Data, shape),
            _ => throw new NotSupportedException($"OrtRunner: feed '{name}' has element type {t.DataType}; expected float, double, int64, int32, int16, uint16, bool, uint8 or int8."),
        };
    }

    private static Tensor ToTensor(string label, string name, OrtValue value)
    {
        if (!value.IsTensor) throw new NotSupportedException($"OrtRunner: {label} output '{name}' is a {value.OnnxType}, not a tensor.");
        var info = value.GetTensorTypeAndShape();
        int[] shape = info.Shape.Select(d => checked((int)d)).ToArray();
        return info.ElementDataType switch
        {
            TensorElementType.Float => Copy<float>(value, shape),
            TensorElementType.Double => Copy<double>(value, shape),
            TensorElementType.Int64 => Copy<long>(value, shape),
            TensorElementType.Int32 => Copy<int>(value, shape),
            TensorElementType.Int16 => Copy<short>(value, shape),
            TensorElementType.UInt16 => Copy<ushort>(value, shape),
            TensorElementType.Bool => Copy<bool>(value, shape),
            TensorElementType.UInt8 => Copy<byte>(value, shape),
            TensorElementType.Int8 => Copy<sbyte>(value, shape),
            var other => throw new NotSupportedException($"OrtRunner: {label} output '{name}' has element type {other}, which engine tensors do not hold."),
        };
    }

    private static Tensor<T> Copy<T>(OrtValue value, int[] shape) where T : unmanaged =>
        new(value.GetTensorDataAsSpan<T>().ToArray(), shape);
}
