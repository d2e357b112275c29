using System.Buffers.Binary;
using QuantSharp.Engine;

namespace QuantSharp.Tests.Shared;

/// <summary>Seed inputs of the .npy and .npz readers for the mutation tests and the coverage-guided fuzzer (linked into both).</summary>
internal static class ReaderSeeds
{
    /// <summary>The .npy seeds: float32 3-D, uint8 with a long shape, an int64 scalar-like array, bool in format 2.0.</summary>
    public static readonly string[] NpyNames = ["f4", "u1-big-header", "i8-scalar", "b1-v2"];

    /// <summary>The .npy file of the seed named <paramref name="seed"/> (one of <see cref="NpyNames"/>).</summary>
    public static byte[] Npy(string seed)
    {
        Tensor t = seed switch
        {
            "f4" => Tensor.FromArray(Enumerable.Range(0, 24).Select(i => i * 0.25f - 3f).ToArray(), 2, 3, 4),
            "u1-big-header" => Tensor.FromArray(Enumerable.Range(0, 40).Select(i => (byte)(i * 7)).ToArray(), 1, 1, 1, 1, 1, 1, 1, 1, 5, 8),
            "i8-scalar" => Tensor.FromArray(new[] { -5L }),
            _ => Tensor.FromArray(Enumerable.Range(0, 9).Select(i => i % 3 == 0).ToArray(), 9),
        };
        var ms = new MemoryStream();
        Engine.Npy.Write(ms, t);
        var bytes = ms.ToArray();
        if (seed == "b1-v2")
        {
            // Rewrite as format 2.0 (4-byte header length) so the mutants reach that branch too.
            int hlen = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8));
            var v2 = new byte[bytes.Length + 2];
            bytes.AsSpan(0, 8).CopyTo(v2);
            v2[6] = 2;
            BinaryPrimitives.WriteUInt32LittleEndian(v2.AsSpan(8), (uint)hlen);
            bytes.AsSpan(10).CopyTo(v2.AsSpan(12));
            bytes = v2;
        }
        return bytes;
    }

    /// <summary>Two arrays, one stored and one deflated, as numpy's savez and savez_compressed write them.</summary>
    public static byte[] Npz()
    {
        var ms = new MemoryStream();
        using (var zip = new System.IO.Compression.ZipArchive(ms, System.IO.Compression.ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var (name, seed, level) in new[] { ("input_ids", "i8-scalar", System.IO.Compression.CompressionLevel.NoCompression), ("mask", "f4", System.IO.Compression.CompressionLevel.Optimal) })
            {
                using var s = zip.CreateEntry(name + ".npy", level).Open();
                s.Write(Npy(seed));
            }
        }
        return ms.ToArray();
    }
}
