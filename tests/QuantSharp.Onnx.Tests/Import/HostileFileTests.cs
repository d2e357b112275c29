using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using QuantSharp.Onnx;
using QuantSharp.Tests.Shared;

namespace QuantSharp.Onnx.Tests.Import;

/// <summary>
/// Hand-built hostile models: external data that escapes the model's folder or is not a regular file, and shapes the
/// file cannot back. Each must be refused with one line naming the file and the tensor, without blocking and without
/// allocating for the declared shape.
/// </summary>
public sealed class HostileFileTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("qs-onnx-hostile-").FullName;
    private string ModelDir => Path.Combine(_root, "model");
    private string OutsideDir => Path.Combine(_root, "outside");

    public HostileFileTests()
    {
        Directory.CreateDirectory(ModelDir);
        Directory.CreateDirectory(OutsideDir);
    }

    public void Dispose() => Directory.Delete(_root, true);

    private static OnnxTensor External(string name, string location, long? offset, long? length, params long[] dims)
    {
        var t = new OnnxTensor { Name = name, DataType = OnnxDataType.Float, DataLocation = OnnxDataLocation.External };
        t.Dims.AddRange(dims);
        t.ExternalData.Add(new OnnxStringEntry("location", location));
        if (offset is { } o) t.ExternalData.Add(new OnnxStringEntry("offset", o.ToString(CultureInfo.InvariantCulture)));
        if (length is { } l) t.ExternalData.Add(new OnnxStringEntry("length", l.ToString(CultureInfo.InvariantCulture)));
        return t;
    }

    private string SaveModel(params OnnxTensor[] initializers)
    {
        var m = new OnnxModel { IrVersion = 8 };
        m.OpsetImport.Add(new OnnxOperatorSetId("", 13));
        m.Graph.Initializers.AddRange(initializers);
        string path = Path.Combine(ModelDir, "model.onnx");
        File.WriteAllBytes(path, m.ToBytes());
        return path;
    }

    private static byte[] FloatBytes(params float[] v) => MemoryMarshal.AsBytes(v.AsSpan()).ToArray();

    private static InvalidDataException LoadFails(string path)
    {
        var e = Assert.Throws<InvalidDataException>(() => OnnxModel.Load(path));
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains(path, e.Message);
        return e;
    }

    [Fact]
    public void SymlinkToAFileOutsideTheFolder_IsRejected()
    {
        string secret = Path.Combine(OutsideDir, "secret.bin");
        File.WriteAllBytes(secret, FloatBytes(1, 2, 3, 4));
        File.CreateSymbolicLink(Path.Combine(ModelDir, "w.bin"), secret);
        var e = LoadFails(SaveModel(External("w", "w.bin", null, null, 4)));
        Assert.Contains("tensor 'w'", e.Message);
        Assert.Contains($"symbolic link to '{secret}', outside the model folder", e.Message);
    }

    [Fact]
    public void RelativeSymlinkClimbingOutOfTheFolder_IsRejected()
    {
        File.WriteAllBytes(Path.Combine(OutsideDir, "secret.bin"), FloatBytes(1, 2, 3, 4));
        File.CreateSymbolicLink(Path.Combine(ModelDir, "w.bin"), "../outside/secret.bin");
        var e = LoadFails(SaveModel(External("w", "w.bin", null, null, 4)));
        Assert.Contains("outside the model folder", e.Message);
    }

    [Fact]
    public void SymlinkedSubfolderLeadingOutside_IsRejected()
    {
        File.WriteAllBytes(Path.Combine(OutsideDir, "secret.bin"), FloatBytes(1, 2, 3, 4));
        Directory.CreateSymbolicLink(Path.Combine(ModelDir, "weights"), OutsideDir);
        var e = LoadFails(SaveModel(External("w", "weights/secret.bin", null, null, 4)));
        Assert.Contains("outside the model folder", e.Message);
    }

    [Fact]
    public void SymlinkLoop_IsRejectedNotFollowedForever()
    {
        File.CreateSymbolicLink(Path.Combine(ModelDir, "a.bin"), "b.bin");
        File.CreateSymbolicLink(Path.Combine(ModelDir, "b.bin"), "a.bin");
        var e = LoadFails(SaveModel(External("w", "a.bin", null, null, 4)));
        Assert.Contains("too many levels of symbolic links", e.Message);
    }

    [Fact]
    public void SymlinkStayingInsideTheFolder_StillLoads()
    {
        Directory.CreateDirectory(Path.Combine(ModelDir, "data"));
        File.WriteAllBytes(Path.Combine(ModelDir, "data", "real.bin"), FloatBytes(1, 2, 3, 4));
        File.CreateSymbolicLink(Path.Combine(ModelDir, "w.bin"), "data/real.bin");
        var m = OnnxModel.Load(SaveModel(External("w", "w.bin", null, null, 4)));
        Assert.Equal(new[] { 1f, 2f, 3f, 4f }, m.Graph.Initializers[0].ToTensor<float>().Data);
    }

    [Fact]
    public void ModelFolderReachedThroughASymlink_StillLoadsItsOwnData()
    {
        File.WriteAllBytes(Path.Combine(ModelDir, "w.bin"), FloatBytes(5, 6));
        SaveModel(External("w", "w.bin", null, null, 2));
        string linkedDir = Path.Combine(_root, "linked");
        Directory.CreateSymbolicLink(linkedDir, ModelDir);
        var m = OnnxModel.Load(Path.Combine(linkedDir, "model.onnx"));
        Assert.Equal(new[] { 5f, 6f }, m.Graph.Initializers[0].ToTensor<float>().Data);
    }

    [Theory]
    [InlineData("../outside/secret.bin")]
    [InlineData("/etc/passwd")]
    public void LocationOutsideTheFolder_IsRejected(string location)
    {
        File.WriteAllBytes(Path.Combine(OutsideDir, "secret.bin"), FloatBytes(1, 2, 3, 4));
        var e = LoadFails(SaveModel(External("w", location, null, null, 4)));
        Assert.Contains($"location '{location}'", e.Message);
    }

    [Theory]
    [InlineData("w\0.bin", "w\\u0000.bin")]
    [InlineData("w\n.bin", "w\\u000A.bin")]
    public void ControlCharactersInLocation_AreRejectedAndShownEscaped(string location, string shown)
    {
        var e = LoadFails(SaveModel(External("w", location, null, null, 4)));
        Assert.Contains($"location '{shown}' contains control characters", e.Message);
    }

    [Fact]
    public void OverlongLocation_IsReportedAsAMissingFileNamingTheTensor()
    {
        string location = new string('a', 5000) + ".bin";
        var e = LoadFails(SaveModel(External("w", location, null, null, 4)));
        Assert.Contains("tensor 'w'", e.Message);
        Assert.Contains("does not exist", e.Message);
    }

    [Fact]
    public void DirectoryAsLocation_IsRejected()
    {
        Directory.CreateDirectory(Path.Combine(ModelDir, "w.bin"));
        var e = LoadFails(SaveModel(External("w", "w.bin", null, null, 4)));
        Assert.Contains("location 'w.bin' is a directory; expected a regular file", e.Message);
    }

    [Fact]
    public void FifoAsLocation_IsRejectedWithoutOpeningIt()
    {
        string fifo = Path.Combine(ModelDir, "w.bin");
        Fifo.Make(fifo);
        // A writer waits on the FIFO. Had the reader opened it, the writer would hand it 16 bytes and the load
        // would succeed; the test then fails instead of hanging. If the reader leaves it alone, this test opens it
        // afterwards to release the writer and gets the untouched bytes back.
        var marker = FloatBytes(1, 2, 3, 4);
        var writer = new Thread(() =>
        {
            using var w = new FileStream(fifo, FileMode.Open, FileAccess.Write);
            w.Write(marker);
        }) { IsBackground = true };
        writer.Start();
        var e = LoadFails(SaveModel(External("w", "w.bin", null, null, 4)));
        Assert.Contains("tensor 'w'", e.Message);
        Assert.Contains("is not a regular file", e.Message);
        using (var r = new FileStream(fifo, FileMode.Open, FileAccess.Read))
        {
            var back = new byte[16];
            r.ReadExactly(back);
            Assert.Equal(marker, back);
        }
        writer.Join();
    }

    [Fact]
    public void UnixSocketAsLocation_IsRejected()
    {
        string socketPath = Path.Combine(ModelDir, "w.bin");
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        socket.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(socketPath));
        var e = LoadFails(SaveModel(External("w", "w.bin", null, null, 4)));
        Assert.Contains("location 'w.bin' is not a regular file", e.Message);
    }

    [Fact]
    public void HugeDeclaredShapeWithoutData_IsRefusedWithoutAllocating()
    {
        var t = new OnnxTensor { Name = "w", DataType = OnnxDataType.Float };
        t.Dims.AddRange([46000, 46000]);
        string path = SaveModel(t);
        Assert.True(new FileInfo(path).Length < 100, $"the model should be tiny, is {new FileInfo(path).Length} bytes");
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = LoadFails(path);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains("tensor 'w' (FLOAT [46000,46000])", e.Message);
        Assert.Contains("the shape needs 8464000000 bytes; the file holds no data for it", e.Message);
        Assert.True(allocated < 1 << 20, $"loading allocated {allocated} bytes");
    }

    [Fact]
    public void HugeDeclaredShapeWithoutData_ConversionRefusesBeforeAllocating()
    {
        var t = new OnnxTensor { Name = "w", DataType = OnnxDataType.Float };
        t.Dims.AddRange([46000, 46000]);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<InvalidDataException>(() => t.ToTensor());
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains("float_data has 0 values; the shape needs 2116000000", e.Message);
        Assert.True(allocated < 1 << 20, $"conversion allocated {allocated} bytes");
    }

    [Fact]
    public void InlineRawDataShorterThanTheShape_IsRefusedNamingFileTensorAndSizes()
    {
        var t = new OnnxTensor { Name = "w", DataType = OnnxDataType.Float, RawData = new byte[12] };
        t.Dims.AddRange([2, 2]);
        var e = LoadFails(SaveModel(t));
        Assert.Contains("graph.initializer[0]", e.Message);
        Assert.Contains("tensor 'w' (FLOAT [2,2]): the shape needs 16 bytes; raw_data has 12", e.Message);
    }

    [Fact]
    public void NegativeDimension_IsRefused()
    {
        var t = new OnnxTensor { Name = "w", DataType = OnnxDataType.Float, RawData = new byte[4] };
        t.Dims.AddRange([-1]);
        var e = LoadFails(SaveModel(t));
        Assert.Contains("tensor 'w' (FLOAT [-1]): expected non-negative dimensions", e.Message);
    }

    [Fact]
    public void ExternalLengthBeyondTheFile_IsRefusedBeforeReading()
    {
        File.WriteAllBytes(Path.Combine(ModelDir, "w.bin"), new byte[16]);
        var e = LoadFails(SaveModel(External("w", "w.bin", 8, 16, 4)));
        Assert.Contains("has 16 bytes; needs offset 8 + length 16", e.Message);
    }

    [Fact]
    public void ExternalOffsetBeyondTheFile_IsRefused()
    {
        File.WriteAllBytes(Path.Combine(ModelDir, "w.bin"), new byte[16]);
        var e = LoadFails(SaveModel(External("w", "w.bin", long.MaxValue, null, 4)));
        Assert.Contains($"has 16 bytes; needs offset {long.MaxValue} + length 16", e.Message);
    }

    [Fact]
    public void ExternalLengthLargerThanTheShape_IsRefusedBeforeReading()
    {
        File.WriteAllBytes(Path.Combine(ModelDir, "w.bin"), new byte[16]);
        var e = LoadFails(SaveModel(External("w", "w.bin", null, 1L << 31, 4)));
        Assert.Contains("'length' is 2147483648 bytes; the declared shape needs 16", e.Message);
    }

    [Fact]
    public void HugeExternalShapeBackedByASmallFile_IsRefusedBeforeAllocating()
    {
        File.WriteAllBytes(Path.Combine(ModelDir, "w.bin"), new byte[16]);
        string path = SaveModel(External("w", "w.bin", null, null, 46000, 46000));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = LoadFails(path);
        Assert.Contains("has 16 bytes; needs offset 0 + length 8464000000", e.Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
    }

    [Fact]
    public void SmallTensorInATwoGigabyteSparseFile_ReadsOnlyItsSlice()
    {
        string blob = Path.Combine(ModelDir, "big.bin");
        const long gib = 1L << 30;
        using (var fs = new FileStream(blob, FileMode.CreateNew, FileAccess.Write))
        {
            fs.SetLength(2 * gib);
            fs.Position = gib;
            fs.Write(FloatBytes(1, 2, 3, 4));
        }
        string path = SaveModel(External("head", "big.bin", null, null, 4), External("mid", "big.bin", gib, null, 4));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var m = OnnxModel.Load(path);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(new float[4], m.Graph.Initializers[0].ToTensor<float>().Data);
        Assert.Equal(new[] { 1f, 2f, 3f, 4f }, m.Graph.Initializers[1].ToTensor<float>().Data);
        Assert.True(allocated < 1 << 20, $"loading two 16-byte tensors allocated {allocated} bytes");
    }
}
