using System.Buffers.Binary;
using QuantSharp.Data.Images;
using QuantSharp.Data.Tests.Images;
using QuantSharp.Engine;
using QuantSharp.Tests.Shared;

namespace QuantSharp.Data.Tests.Fuzz;

/// <summary>
/// Inputs the mutation fuzzer (<see cref="DecoderMutationFuzzTests"/>) or hand-built hostile files made the decoders
/// crash, over-allocate or run for minutes before they were fixed; each now fails with the reader's own one-line error.
/// </summary>
public class DecoderRegressionTests
{
    private const long OneMegabyte = 1 << 20;

    [Theory]
    // Found by the fuzzer: zlib reported these IDAT streams as ZLibException, which escaped as an unhandled IOException.
    [InlineData("iVBORw0KGgoAAAANSUhEUgAAAA0AAAAJEAAAAACcgSX1AAAAU0lEQVQIPGNgYBDuUBewmuGnkLii1KBjxxyH9ScOB1y78SqBiXsHzw50DIFMyBwYhChhQuag6mNCNQRZHxOqIciYCZsD4M7AYQDUQOwO59nBswMAfE9a8UoeqGwAAAAASUVORK5CYII=")]
    [InlineData("iVBORw0KGgoAAAANSUhEUgAAABgAAAAQCAAAAAApT+BJAAAAJklEQVQYtGNkYMcOGLlxSLAMcwlu7BLcOHRwYzdSG4cd3Ngth3MBjCILCC3esPAAAAAASUVORK5CYII=")]
    public void Png_CorruptZlibStream_IsAnImageFormatError(string base64)
    {
        var e = Assert.Throws<ImageFormatException>(() => ImageDecoder.Decode(Convert.FromBase64String(base64), "bad.png"));
        Assert.StartsWith("bad.png: PNG: corrupt zlib data in IDAT", e.Message);
    }

    [Fact]
    public void Png_HeaderDeclaringHugeImage_IsRefusedBeforeAllocating()
    {
        // Found by the fuzzer: a 95-byte mutant whose IHDR declared a huge height rented a 1 GB buffer before inflating.
        var png = PngTestEncoder.Encode(4, 4, 8, 0, Enumerable.Range(0, 4).Select(_ => new byte[4]).ToArray());
        BinaryPrimitives.WriteInt32BigEndian(png.AsSpan(16), 30000);
        BinaryPrimitives.WriteInt32BigEndian(png.AsSpan(20), 30000);
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(29), PngTestEncoder.Crc(png.AsSpan(12, 17)));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<ImageFormatException>(() => ImageDecoder.Decode(png, "huge.png"));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < OneMegabyte);
        Assert.Contains("cannot inflate to the 900030000 bytes a 30000x30000 image needs", e.Message);
    }

    [Fact]
    public void Jpeg_FrameLargerThanTheFileCanCode_IsRefusedBeforeAllocating()
    {
        // A 65535x65535 frame in a file of a few hundred bytes asked for 17 GB of coefficients (and overflowed int).
        byte[] jpeg = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Fuzz", "Seeds", "rgb420_restart.jpg"));
        int sof = FindMarker(jpeg, 0xC0);
        BinaryPrimitives.WriteUInt16BigEndian(jpeg.AsSpan(sof + 5), 65535);
        BinaryPrimitives.WriteUInt16BigEndian(jpeg.AsSpan(sof + 7), 65535);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<ImageFormatException>(() => ImageDecoder.Decode(jpeg, "huge.jpg"));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < OneMegabyte);
        Assert.Contains("a 65535x65535 frame has", e.Message);
        Assert.Contains($"more than the {jpeg.Length} bytes of the file can code", e.Message);
    }

    [Fact]
    public void Jpeg_OversubscribedHuffmanTable_IsAnImageFormatError()
    {
        // Found by the fuzzer: a DHT with more codes than a length allows wrote past the 9-bit look-up table.
        byte[] jpeg = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Fuzz", "Seeds", "gray_baseline.jpg"));
        int dht = FindMarker(jpeg, 0xC4);
        // Three codes of length 1 (only two exist), one fewer code of the longest length, so the table size is kept.
        int extra = 3 - jpeg[dht + 5];
        jpeg[dht + 5] = 3;
        int longest = dht + 20;
        while (jpeg[longest] < extra) longest--;
        jpeg[longest] -= (byte)extra;
        var e = Assert.Throws<ImageFormatException>(() => ImageDecoder.Decode(jpeg, "dht.jpg"));
        Assert.Contains("Huffman table over-subscribed at code length 1", e.Message);
    }

    [Fact]
    public void Npy_HeaderDeclaringMoreDataThanTheFileHolds_IsRefusedBeforeAllocating()
    {
        var ms = new MemoryStream();
        Npy.Write(ms, Tensor.FromArray(new double[4], 2, 2));
        // The header's padding leaves room for the longer shape: "(2, 2), }" and six spaces become "(46000,46000)} ".
        byte[] bytes = Patch(ms.ToArray(), "(2, 2), }      ", "(46000,46000)} ");
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<InvalidDataException>(() => Npy.Read(new MemoryStream(bytes), "huge.npy"));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < OneMegabyte);
        Assert.Equal("Npy: file 'huge.npy': field 'data' truncated (the header declares 16928000000 bytes, the file has 32 left)", e.Message);
    }

    [Fact]
    public void Npy_HeaderLengthLargerThanTheFile_IsRefusedBeforeAllocating()
    {
        // Format 2.0, a 4-byte header length of 32 MB, then a few bytes: the reader used to allocate the 32 MB first.
        byte[] bytes = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 2, 0, 0, 0, 0, 2, (byte)'{', (byte)'}'];
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<InvalidDataException>(() => Npy.Read(new MemoryStream(bytes), "long.npy"));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < OneMegabyte);
        Assert.Equal("Npy: file 'long.npy': field 'header' truncated (the header declares 33554432 bytes, the file has 2 left)", e.Message);
    }

    [Fact]
    public void Npy_Fifo_IsRefusedWithoutOpeningIt()
    {
        using var dir = new TempDir();
        string fifo = Path.Combine(dir.Path, "pipe.npy");
        Fifo.Make(fifo);
        var e = Assert.Throws<InvalidDataException>(() => Npy.Read(fifo));
        Assert.Equal($"Npy: file '{fifo}' is not a regular file (a FIFO, device or socket); expected a regular file", e.Message);
    }

    [Fact]
    public void Image_Fifo_IsRefusedWithoutOpeningIt()
    {
        using var dir = new TempDir();
        string fifo = Path.Combine(dir.Path, "pipe.png");
        Fifo.Make(fifo);
        var e = Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode(fifo));
        Assert.Equal($"image '{fifo}' is not a regular file (a FIFO, device or socket); expected a regular file", e.Message);
    }

    private static byte[] Patch(byte[] bytes, string from, string to)
    {
        Assert.Equal(from.Length, to.Length);
        var text = System.Text.Encoding.Latin1.GetString(bytes);
        int at = text.IndexOf(from, StringComparison.Ordinal);
        Assert.True(at >= 0, $"'{from}' not in the header");
        System.Text.Encoding.Latin1.GetBytes(to).CopyTo(bytes, at);
        return bytes;
    }

    private static int FindMarker(byte[] jpeg, byte marker)
    {
        for (int i = 2; i + 1 < jpeg.Length; i++)
            if (jpeg[i] == 0xFF && jpeg[i + 1] == marker) return i;
        Assert.Fail($"marker FF{marker:X2} not found");
        return -1;
    }
}
