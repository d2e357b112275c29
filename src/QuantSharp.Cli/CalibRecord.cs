using System.Security.Cryptography;
using QuantSharp.Engine;
using QuantSharp.Onnx.Export;
using QuantSharp.Quantization.Export;
using QuantSharp.Quantization.Sim;

namespace QuantSharp.Cli;

/// <summary>
/// What <c>calib</c> records in its checkpoint about where the sim came from — the FP32 model's path and fingerprint, and
/// the SHA-256 of the <c>model.encodings</c> it wrote — and the checks <c>test</c>, <c>deploy</c> and <c>analyze</c> make
/// with it when they load the sim.
/// </summary>
/// <remarks>
/// The fingerprint is the SHA-256 of the model as QuantSharp imported it, before any preparation (BN folding, CLE,
/// AdaRound change the sim's graph, and they cannot be replayed on <c>--model</c>), re-serialized as ONNX without the
/// IR version, producer, doc string and metadata fields (the raw file bytes would differ for the same network). So the same network saved by another exporter version, or with its weights
/// in external data, has the same fingerprint, while any change of a weight, node or attribute gives another.
/// </remarks>
internal static class CalibRecord
{
    private const string ModelKey = "source_model", FingerprintKey = "source_model_sha256", PreparedKey = "prepared_model_sha256",
        EncodingsKey = "encodings_sha256";

    /// <summary>The file <c>calib</c> writes the encodings to, inside its output folder.</summary>
    public const string EncodingsFile = "model.encodings";

    /// <summary>The metadata <c>calib</c> stores in the checkpoint.</summary>
    /// <param name="modelPath">The model given to calib.</param>
    /// <param name="fingerprint">Its <see cref="Fingerprint"/>, taken before preparation.</param>
    /// <param name="preparedPath">The FP32 model calib wrote (prepared): passing it as <c>--model</c> is the same network.</param>
    /// <param name="encodingsPath">The encodings calib wrote.</param>
    public static Dictionary<string, string> Metadata(string modelPath, string fingerprint, string preparedPath, string encodingsPath) => new()
    {
        [ModelKey] = modelPath,
        [FingerprintKey] = fingerprint,
        [PreparedKey] = Fingerprint(InspectCommand.LoadModel(preparedPath)),
        [EncodingsKey] = FileSha256(encodingsPath),
    };

    /// <summary>The fingerprint of an imported, not yet prepared FP32 graph.</summary>
    public static string Fingerprint(Graph graph)
    {
        var model = OnnxExporter.FromGraph(graph);
        model.IrVersion = 0;
        model.ProducerName = "";
        model.ProducerVersion = "";
        model.DocString = "";
        model.Domain = "";
        model.ModelVersion = 0;
        model.MetadataProps.Clear();
        model.Graph.DocString = "";
        using var sha = SHA256.Create();
        using (var hashing = new CryptoStream(Stream.Null, sha, CryptoStreamMode.Write)) model.Save(hashing);
        return Convert.ToHexStringLower(sha.Hash!);
    }

    /// <summary>
    /// The sim saved by <c>calib</c> in <paramref name="quantDir"/>. With <paramref name="model"/>, refuses a model other than
    /// the one calibrated, or the prepared FP32 model calib wrote next to it (exit 2: the two options do not go together). When <c>model.encodings</c> there was edited after
    /// calib, applies it (AIMET <c>load_encodings</c>) and says so, since that is what editing it asks for.
    /// </summary>
    public static QuantizationSimModel LoadSim(string quantDir, TextWriter stdout, (Graph Graph, string Path)? model = null)
    {
        string path = Path.Combine(quantDir, CalibCommand.CheckpointFile);
        if (!File.Exists(path))
            throw new FileNotFoundException($"--quant '{quantDir}': no {CalibCommand.CheckpointFile} there (run 'quantsharp calib … --output {quantDir}' first)", path);
        var sim = SimCheckpoint.Load(path, out var metadata);
        if (model is var (graph, modelPath))
        {
            if (!metadata.TryGetValue(FingerprintKey, out var recorded))
                stdout.WriteLine($"note: '{path}' records no model fingerprint (not written by 'calib'); --model '{modelPath}' is not checked against it");
            else if (Fingerprint(graph) is var actual && actual != recorded && actual != metadata.GetValueOrDefault(PreparedKey))
                throw new UsageException($"--model '{modelPath}' is not the model '{quantDir}' was calibrated from (calibrated from '{metadata.GetValueOrDefault(ModelKey, "?")}'); " +
                    "pass that model, or re-run calib with this one");
        }
        string encodings = Path.Combine(quantDir, EncodingsFile);
        if (metadata.TryGetValue(EncodingsKey, out var written) && File.Exists(encodings) && FileSha256(encodings) != written)
        {
            List<string> kept;
            try
            {
                var edited = EncodingsJson.Load(encodings);
                var current = EncodingsJson.Parse(EncodingsJson.Write(sim.ToEncodingsFile()));
                // load_encodings leaves frozen encodings (AdaRound, fast finetune, sequential MSE) alone; say which edits that drops.
                kept = edited.ParamEncodings.Concat(edited.ActivationEncodings)
                    .Where(e => sim.Quantizers.TryGetValue(e.Key, out var q) && q.IsFrozen
                                && !Equals(current.ParamEncodings.GetValueOrDefault(e.Key) ?? current.ActivationEncodings.GetValueOrDefault(e.Key), e.Value))
                    .Select(e => e.Key).ToList();
                sim.LoadEncodings(encodings);
            }
            catch (Exception e) when (e is FormatException or InvalidDataException or ArgumentException)
            {
                throw new InvalidDataException($"'{encodings}' was edited after calib and cannot be applied to the sim: {e.Message} (fix it, or re-run calib)", e);
            }
            stdout.WriteLine($"note: '{encodings}' was edited after calib; its encodings are applied to the sim (AIMET load_encodings)" +
                (kept.Count > 0 ? $", except the frozen ones (set by calib's technique), which stay as calibrated: {string.Join(", ", kept)}" : ""));
        }
        // test, run, analyze and deploy evaluate the saved sim and never write into its weights: quantize each weight once.
        sim.ReuseQuantizedWeights = true;
        return sim;
    }

    private static string FileSha256(string path)
    {
        using var s = Engine.IO.FileKind.OpenRead(path, $"file '{path}'");
        return Convert.ToHexStringLower(SHA256.HashData(s));
    }
}
