using QuantSharp.Quantization.Export;

namespace QuantSharp.Quantization.Tests.Export;

/// <summary>Malformed encodings files: each error names the file, the entry and the field.</summary>
public sealed class EncodingsJsonMalformedTests
{
    private const string Source = "bad.encodings";

    private static string V1(string activation) =>
        "{\"version\": \"1.0.0\", \"activation_encodings\": [" + activation + "], \"param_encodings\": []}";

    private const string Good = "\"name\": \"relu\", \"dtype\": \"INT\", \"enc_type\": \"PER_TENSOR\", \"bw\": 8, \"is_sym\": false";

    private static void AssertError(string json, params string[] parts)
    {
        var ex = Assert.Throws<EncodingsFormatException>(() => EncodingsJson.Parse(json, Source));
        Assert.StartsWith(Source + ":", ex.Message);
        foreach (var p in parts) Assert.Contains(p, ex.Message);
    }

    [Fact]
    public void InvalidJson_NamesFileAndLine() =>
        AssertError("{\n\"version\": \"1.0.0\",\n\"activation_encodings\": [\n", "invalid JSON", "line");

    [Fact]
    public void MissingScale_NamesEntryAndField() =>
        AssertError(V1("{" + Good + ", \"offset\": [0]}"), "activation_encodings entry 'relu'", "field 'scale'", "missing");

    [Fact]
    public void NonBooleanIsSym_NamesField() =>
        AssertError(V1("{\"name\": \"relu\", \"dtype\": \"INT\", \"enc_type\": \"PER_TENSOR\", \"bw\": 8, \"is_sym\": \"maybe\", \"scale\": [1], \"offset\": [0]}"),
            "entry 'relu'", "field 'is_sym'", "\"maybe\"");

    [Fact]
    public void PerBlockEncTypeWithoutBlockSize_NamesField() =>
        AssertError(V1("{\"name\": \"relu\", \"dtype\": \"INT\", \"enc_type\": \"PER_BLOCK\", \"bw\": 8, \"is_sym\": false, \"scale\": [1], \"offset\": [0]}"),
            "field 'block_size'", "is missing");

    [Fact]
    public void UnknownEncType_IsRejectedByName() =>
        AssertError(V1("{\"name\": \"relu\", \"dtype\": \"INT\", \"enc_type\": \"LPBQ\", \"bw\": 8, \"is_sym\": false, \"scale\": [1], \"offset\": [0]}"),
            "field 'enc_type'", "LPBQ");

    [Fact]
    public void FractionalOffset_NamesField() =>
        AssertError(V1("{" + Good + ", \"scale\": [1], \"offset\": [-1.5]}"), "entry 'relu'", "field 'offset'", "integer", "-1.5");

    [Fact]
    public void OffsetOffTheGrid_NamesField() =>
        AssertError(V1("{" + Good + ", \"scale\": [1], \"offset\": [3]}"), "entry 'relu'", "field 'offset'");

    [Fact]
    public void NegativeScale_NamesField() =>
        AssertError(V1("{" + Good + ", \"scale\": [-1], \"offset\": [0]}"), "entry 'relu'", "field 'scale'");

    [Fact]
    public void SymmetricWithAsymmetricOffset_NamesField() =>
        AssertError(V1("{\"name\": \"relu\", \"dtype\": \"INT\", \"enc_type\": \"PER_TENSOR\", \"bw\": 8, \"is_sym\": true, \"scale\": [1], \"offset\": [-20]}"),
            "entry 'relu'", "field 'offset'", "-20");

    [Fact]
    public void MismatchedScaleAndOffsetCounts_NamesField() =>
        AssertError(V1("{\"name\": \"w\", \"dtype\": \"INT\", \"enc_type\": \"PER_CHANNEL\", \"bw\": 8, \"is_sym\": false, \"scale\": [1, 2], \"offset\": [0]}"),
            "entry 'w'", "field 'offset'", "expected 2");

    [Fact]
    public void BitWidthOutOfRange_NamesField() =>
        AssertError(V1("{\"name\": \"relu\", \"dtype\": \"INT\", \"enc_type\": \"PER_TENSOR\", \"bw\": 40, \"is_sym\": false, \"scale\": [1], \"offset\": [0]}"),
            "field 'bw'", "2..32", "40");

    [Fact]
    public void DuplicateName_NamesEntry() =>
        AssertError(V1("{" + Good + ", \"scale\": [1], \"offset\": [0]}, {" + Good + ", \"scale\": [1], \"offset\": [0]}"), "entry 'relu'", "twice");

    [Fact]
    public void V1SectionAsDictionary_NamesSection() =>
        AssertError("{\"version\": \"1.0.0\", \"activation_encodings\": {}, \"param_encodings\": []}", "field 'activation_encodings'", "list");

    [Fact]
    public void MissingSection_NamesSection() =>
        AssertError("{\"version\": \"0.6.1\", \"activation_encodings\": {}}", "field 'param_encodings'", "missing");

    [Fact]
    public void UnknownVersion_NamesField() =>
        AssertError("{\"version\": \"3.0.0\", \"activation_encodings\": [], \"param_encodings\": []}", "field 'version'", "3.0.0");

    [Fact]
    public void LegacyChannelsWithDifferentBitWidths_NameTheChannel() =>
        AssertError("""
            {"version": "0.6.1", "activation_encodings": {}, "param_encodings": {"w": [
              {"bitwidth": 8, "dtype": "int", "is_symmetric": "False", "offset": 0, "scale": 1},
              {"bitwidth": 4, "dtype": "int", "is_symmetric": "False", "offset": 0, "scale": 1}]}}
            """, "param_encodings entry 'w' channel 1", "field 'bitwidth'", "expected 8");

    [Fact]
    public void LegacyEntryNotAList_NamesEntry() =>
        AssertError("{\"version\": \"0.6.1\", \"activation_encodings\": {\"x\": {\"bitwidth\": 8}}, \"param_encodings\": {}}",
            "activation_encodings entry 'x'", "list");

    [Fact]
    public void QuantizerArgsBadDtype_NamesField() =>
        AssertError("{\"version\": \"1.0.0\", \"activation_encodings\": [], \"param_encodings\": [], \"quantizer_args\": {\"dtype\": \"fp8\"}}",
            "quantizer_args field 'dtype'", "fp8");

    [Fact]
    public void Load_MissingFile_ThrowsIOException() =>
        Assert.ThrowsAny<IOException>(() => EncodingsJson.Load(Path.Combine(Path.GetTempPath(), "no-such-dir-qs", "x.encodings")));
}
