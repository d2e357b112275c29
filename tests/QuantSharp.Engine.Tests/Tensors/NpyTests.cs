using System.Text;
using QuantSharp.Engine;

namespace QuantSharp.Engine.Tests.Tensors;

public class NpyTests : IDisposable
{
    // Golden files written once by numpy 1.24.2 (np.save / np.lib.format.write_array), base64-encoded.
    private const string F32 = "k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDIpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAMA/AAAAwAAAQEAAAIA+";
    private const string I64Scalar = "k05VTVBZAQB2AHsnZGVzY3InOiAnPGk4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKCksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoHAAAAAAAAAA==";
    private const string Bool = "k05VTVBZAQB2AHsnZGVzY3InOiAnfGIxJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoBAAE=";
    private const string BigEndianI4 = "k05VTVBZAQB2AHsnZGVzY3InOiAnPmk0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAB/////gAAASw=";
    private const string Fortran = "k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBUcnVlLCAnc2hhcGUnOiAoMiwgMyksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAABAQAAAgD8AAIBAAAAAQAAAoEA=";
    private const string U8Empty = "k05VTVBZAQB2AHsnZGVzY3InOiAnfHUxJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDAsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAo=";
    private const string V2I2 = "k05VTVBZAgB0AAAAeydkZXNjcic6ICc8aTInLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMywpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoBAAIAAwA=";
    private const string V3F8 = "k05VTVBZAwB0AAAAeydkZXNjcic6ICc8ZjgnLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMiwpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAD0PwAAAAAAAPC/";
    private const string U2 = "k05VTVBZAQB2AHsnZGVzY3InOiAnPHUyJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAr//wEA";
    private const string I1 = "k05VTVBZAQB2AHsnZGVzY3InOiAnfGkxJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAqAfw==";

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "qs-npy-" + Guid.NewGuid().ToString("N"));

    public NpyTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Tensor Load(string b64, string name = "golden.npy") => Npy.Read(new MemoryStream(Convert.FromBase64String(b64)), name);

    private static byte[] Save(Tensor t)
    {
        var ms = new MemoryStream();
        Npy.Write(ms, t);
        return ms.ToArray();
    }

    [Fact]
    public void Read_NumpyFloat32_GivesShapeAndValues()
    {
        var t = Assert.IsType<Tensor<float>>(Load(F32));
        Assert.Equal([2, 2], t.Shape);
        Assert.Equal([1.5f, -2f, 3f, 0.25f], t.Data);
    }

    [Fact]
    public void Read_NumpyScalar_IsRankZero()
    {
        var t = Assert.IsType<Tensor<long>>(Load(I64Scalar));
        Assert.Equal(0, t.Rank);
        Assert.Equal(7L, t.Data[0]);
    }

    [Fact]
    public void Read_NumpyBoolInt8UInt16_Values()
    {
        Assert.Equal([true, false, true], Assert.IsType<Tensor<bool>>(Load(Bool)).Data);
        Assert.Equal([(sbyte)-128, (sbyte)127], Assert.IsType<Tensor<sbyte>>(Load(I1)).Data);
        Assert.Equal([(ushort)65535, (ushort)1], Assert.IsType<Tensor<ushort>>(Load(U2)).Data);
    }

    [Fact]
    public void Read_BigEndian_IsByteSwapped()
    {
        Assert.Equal([1, -2, 300], Assert.IsType<Tensor<int>>(Load(BigEndianI4)).Data);
    }

    [Fact]
    public void Read_ZeroSizeArray_KeepsShape()
    {
        var t = Assert.IsType<Tensor<byte>>(Load(U8Empty));
        Assert.Equal([0, 3], t.Shape);
    }

    [Fact]
    public void Read_Versions2And3_Supported()
    {
        Assert.Equal([(short)1, (short)2, (short)3], Assert.IsType<Tensor<short>>(Load(V2I2)).Data);
        Assert.Equal([1.25, -1.0], Assert.IsType<Tensor<double>>(Load(V3F8)).Data);
    }

    [Fact]
    public void Write_MatchesNumpyBytesExactly()
    {
        Assert.Equal(Convert.FromBase64String(F32), Save(Tensor.FromArray([1.5f, -2f, 3f, 0.25f], 2, 2)));
        Assert.Equal(Convert.FromBase64String(I64Scalar), Save(Tensor.Scalar(7L)));
        Assert.Equal(Convert.FromBase64String(Bool), Save(Tensor.FromArray([true, false, true], 3)));
        Assert.Equal(Convert.FromBase64String(U8Empty), Save(new Tensor<byte>(0, 3)));
        Assert.Equal(Convert.FromBase64String(I1), Save(Tensor.FromArray([(sbyte)-128, (sbyte)127], 2)));
    }

    [Fact]
    public void RoundTrip_EveryDataTypeThroughFile()
    {
        var rng = new Random(1);
        foreach (var type in Enum.GetValues<DataType>())
        {
            var t = TensorOps.Cast(Tensor.RandomUniform(rng, -100, 100, 3, 1, 5), type);
            string path = Path.Combine(_dir, $"{type}.npy");
            Npy.Write(path, t);
            var back = Npy.Read(path);
            // numpy has no 4-bit dtype: Int4/UInt4 are written as their byte storage and read back as Int8/UInt8.
            Assert.Equal(DataTypes.Storage(type), back.DataType);
            Assert.Equal(t.Shape, back.Shape);
            Assert.Equal(t.RawData, back.RawData);
        }
    }

    [Fact]
    public void RoundTrip_ScalarAndEmptyGeneric()
    {
        string p1 = Path.Combine(_dir, "s.npy"), p2 = Path.Combine(_dir, "e.npy");
        Npy.Write(p1, Tensor.Scalar(2.5));
        Npy.Write(p2, new Tensor<float>(4, 0, 2));
        Assert.Equal(2.5, Npy.Read<double>(p1).Data[0]);
        Assert.Equal([4, 0, 2], Npy.Read<float>(p2).Shape);
    }

    [Fact]
    public void Write_LongHeader_UsesVersion2()
    {
        var shape = Enumerable.Repeat(1, 25000).ToArray();
        var bytes = Save(new Tensor<float>(shape));
        Assert.Equal(2, bytes[6]);
        var back = Npy.Read(new MemoryStream(bytes));
        Assert.Equal(25000, back.Rank);
    }

    [Fact]
    public void Write_ToPath_IsAtomicAndLeavesNoTempFile()
    {
        string path = Path.Combine(_dir, "a.npy");
        File.WriteAllText(path, "old");
        Npy.Write(path, Tensor.FromArray([1f, 2f], 2));
        Assert.Equal([1f, 2f], Npy.Read<float>(path).Data);
        Assert.Equal(new[] { "a.npy" }, Directory.GetFiles(_dir).Select(f => Path.GetFileName(f)).ToArray());
    }

    [Fact]
    public void ReadT_WrongType_NamesFileAndDescr()
    {
        var e = Assert.Throws<InvalidDataException>(() => Npy.Read<int>(new MemoryStream(Convert.FromBase64String(F32)), "x.npy"));
        Assert.Contains("'x.npy'", e.Message);
        Assert.Contains("'descr'", e.Message);
    }

    [Fact]
    public void Read_FortranOrder_RejectedNamingFile()
    {
        var e = Assert.Throws<InvalidDataException>(() => Load(Fortran, "f.npy"));
        Assert.Contains("'f.npy'", e.Message);
        Assert.Contains("'fortran_order'", e.Message);
    }

    [Fact]
    public void Read_BadMagic_NamesMagic()
    {
        var bytes = Convert.FromBase64String(F32);
        bytes[1] = (byte)'X';
        var e = Assert.Throws<InvalidDataException>(() => Npy.Read(new MemoryStream(bytes), "m.npy"));
        Assert.Contains("'m.npy'", e.Message);
        Assert.Contains("'magic'", e.Message);
    }

    [Fact]
    public void Read_TruncatedHeader_NamesHeader()
    {
        var bytes = Convert.FromBase64String(F32)[..50];
        var e = Assert.Throws<InvalidDataException>(() => Npy.Read(new MemoryStream(bytes), "h.npy"));
        Assert.Contains("'h.npy'", e.Message);
        Assert.Contains("'header' truncated", e.Message);
    }

    [Fact]
    public void Read_TruncatedData_NamesData()
    {
        var full = Convert.FromBase64String(F32);
        var e = Assert.Throws<InvalidDataException>(() => Npy.Read(new MemoryStream(full[..^3]), "d.npy"));
        Assert.Contains("'d.npy'", e.Message);
        Assert.Contains("'data' truncated (the header declares 16 bytes, the file has 13 left)", e.Message);
    }

    [Fact]
    public void Read_UnsupportedDtype_NamesDescr()
    {
        var text = Encoding.Latin1.GetString(Convert.FromBase64String(F32)).Replace("<f4", "<c8");
        var e = Assert.Throws<InvalidDataException>(() => Npy.Read(new MemoryStream(Encoding.Latin1.GetBytes(text)), "c.npy"));
        Assert.Contains("'c.npy'", e.Message);
        Assert.Contains("'descr' unsupported dtype '<c8'", e.Message);
    }

    [Fact]
    public void Read_UnsupportedVersion_NamesVersion()
    {
        var bytes = Convert.FromBase64String(F32);
        bytes[6] = 4;
        var e = Assert.Throws<InvalidDataException>(() => Npy.Read(new MemoryStream(bytes), "v.npy"));
        Assert.Contains("'version'", e.Message);
    }

    [Fact]
    public void Read_NativeOrderMark_Accepted()
    {
        var text = Encoding.Latin1.GetString(Convert.FromBase64String(F32)).Replace("<f4", "=f4");
        var t = Npy.Read<float>(new MemoryStream(Encoding.Latin1.GetBytes(text)));
        Assert.Equal([1.5f, -2f, 3f, 0.25f], t.Data);
    }

    [Fact]
    public void Read_MissingFile_Throws()
    {
        Assert.Throws<FileNotFoundException>(() => Npy.Read(Path.Combine(_dir, "nope.npy")));
    }
}
