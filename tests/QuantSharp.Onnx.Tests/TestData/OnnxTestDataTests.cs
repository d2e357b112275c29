using QuantSharp.Onnx;
using Xunit.Abstractions;

namespace QuantSharp.Onnx.Tests.TestData;

/// <summary>
/// ONNX's own backend test data (Debian package <c>libonnx-testdata</c>): every model must round-trip and every
/// input/output tensor must load.
/// </summary>
[Trait("Category", "OnnxTestData")]
public class OnnxTestDataTests(ITestOutputHelper output)
{
    private const string Root = "/usr/share/libonnx-testdata/data";
    private static readonly string[] Suites = ["node", "pytorch-converted", "pytorch-operator", "simple", "real"];

    private IEnumerable<string> Files(string pattern)
    {
        foreach (var suite in Suites)
        {
            string dir = Path.Combine(Root, suite);
            if (!Directory.Exists(dir)) { Assert.Fail($"{dir} is absent"); }
            foreach (var f in Directory.EnumerateFiles(dir, pattern, SearchOption.AllDirectories).Order(StringComparer.Ordinal))
                yield return f;
        }
    }

    [Fact]
    public void EveryTestDataModel_LoadSaveLoad_IsIdenticalAndReserializesByteForByte()
    {
        if (!Directory.Exists(Root)) { Assert.Fail($"{Root} is absent (install libonnx-testdata)"); return; }
        int count = 0, identicalToOriginal = 0;
        var failures = new List<string>();
        foreach (var path in Files("model.onnx"))
        {
            count++;
            try
            {
                var original = File.ReadAllBytes(path);
                var first = OnnxModel.Load(path);
                var save1 = first.ToBytes();
                var second = OnnxModel.Load(save1, path + " (re-saved)");
                string? diff = ModelComparer.FirstDifference(first, second, "model");
                if (diff is not null) { failures.Add($"{path}: {diff}"); continue; }
                if (!save1.AsSpan().SequenceEqual(second.ToBytes())) { failures.Add($"{path}: second save differs from first"); continue; }
                if (save1.AsSpan().SequenceEqual(original)) identicalToOriginal++;
            }
            catch (Exception e) when (e is InvalidDataException or IOException)
            {
                failures.Add($"{path}: {e.Message}");
            }
        }
        output.WriteLine($"{count} models round-tripped, {failures.Count} failed; {identicalToOriginal} re-serialize byte-identical to the original file");
        foreach (var f in failures.Take(20)) output.WriteLine(f);
        Assert.True(count > 0, "no model.onnx found");
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(20)));
        // Known fields are written in field-number order with presence kept, so nearly every file comes back
        // byte-identical; the exceptions have unknown fields (kept, but written after the known ones).
        Assert.True(identicalToOriginal >= count * 95 / 100, $"only {identicalToOriginal} of {count} byte-identical to the original");
    }

    [Fact]
    public void EveryTestDataTensorFile_LoadsAsTensorOfTheDeclaredType_OrFailsWithAClearReason()
    {
        if (!Directory.Exists(Root)) { Assert.Fail($"{Root} is absent (install libonnx-testdata)"); return; }
        int count = 0, loaded = 0, nonTensor = 0, identical = 0;
        var rejected = new Dictionary<string, int>();
        var examples = new List<string>();
        var modelCache = new Dictionary<string, OnnxModel>();
        foreach (var path in Files("*.pb"))
        {
            string name = Path.GetFileNameWithoutExtension(path);
            bool isInput = name.StartsWith("input_", StringComparison.Ordinal);
            if (!isInput && !name.StartsWith("output_", StringComparison.Ordinal)) continue;
            count++;
            // The declared type comes from the model next to the data set: input_i is the i-th graph input that
            // is not an initializer, output_i the i-th output.
            string modelPath = Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(path)!)!, "model.onnx");
            if (!modelCache.TryGetValue(modelPath, out var model)) modelCache[modelPath] = model = OnnxModel.Load(modelPath);
            int index = int.Parse(name[(name.IndexOf('_') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
            var initializers = model.Graph.Initializers.Select(t => t.Name).ToHashSet();
            var declared = isInput
                ? model.Graph.Inputs.Where(v => !initializers.Contains(v.Name)).ElementAt(index)
                : model.Graph.Outputs[index];
            if (declared.Type?.Tensor is null)
            {
                nonTensor++;   // a SequenceProto / OptionalProto / MapProto file, not a TensorProto
                continue;
            }
            try
            {
                var t = OnnxTensor.Load(path);
                if (t.ToBytes().AsSpan().SequenceEqual(File.ReadAllBytes(path))) identical++;
                // ONNX's generator stores BFLOAT16 data as UINT16 (numpy has no bfloat16); any other mismatch is a bug.
                var elem = declared.Type.Tensor.ElemType;
                if (t.DataType != elem && !(elem == OnnxDataType.BFloat16 && t.DataType == OnnxDataType.UInt16))
                    throw new InvalidDataException($"declared {elem}, file holds {t.DataType}");
                var x = t.ToTensor();
                Assert.Equal(t.ElementCount, x.Length);
                loaded++;
            }
            catch (InvalidDataException e)
            {
                string reason = e.Message.Contains("unsupported data type") ? "unsupported data type " + e.Message.Split("unsupported data type ")[1] : "other";
                rejected[reason] = rejected.GetValueOrDefault(reason) + 1;
                if (examples.Count < 30) examples.Add($"{path}: {e.Message}");
            }
        }
        output.WriteLine($"{identical} tensor files re-serialize byte-identical to the original");
        output.WriteLine($"{count} tensor files: {loaded} loaded, {nonTensor} declared as sequence/optional/map values (not TensorProto), {count - loaded - nonTensor} rejected");
        foreach (var (reason, n) in rejected.OrderByDescending(kv => kv.Value)) output.WriteLine($"  {n,5} {reason}");
        foreach (var e in examples) output.WriteLine(e);
        Assert.True(count > 0, "no input_*.pb / output_*.pb found");
        Assert.False(rejected.ContainsKey("other"), string.Join("\n", examples));
        Assert.True(count - loaded <= count / 20, $"{count - loaded} of {count} tensor files not loaded");
    }
}
