using System.Buffers.Binary;

namespace QuantSharp.Tests.Shared;

/// <summary>
/// Recomputes the CRC of every PNG chunk whose declared length fits the data, in place, so that a mutated PNG gets past
/// the checksum and its mutations reach the header, palette and zlib checks (linked into the fuzz tests and the fuzzer).
/// </summary>
internal static class PngCrcFixup
{
    public static void Apply(byte[] png)
    {
        int pos = 8;
        while (pos + 12 <= png.Length)
        {
            uint len = BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(pos));
            if (len > (uint)(png.Length - pos - 12)) return;
            int body = (int)len;
            BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(pos + 8 + body), Data.Images.Crc32.Compute(png.AsSpan(pos + 4, 4 + body)));
            pos += 12 + body;
        }
    }
}
