using System.Buffers;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using QuantSharp.Engine;

namespace QuantSharp.Data;

/// <summary>
/// An <c>.npy</c> array of samples (first axis = sample) read one sample at a time with positional reads, so evaluating a
/// data set holds only the batch in hand, however large the file. Float32 samples are used as stored; uint8 samples are
/// scaled by 1/255 to [0, 1] (as the whole-file loaders do). Reads are thread-safe: samples may be read in parallel.
/// </summary>
public sealed class NpyFileDataset : IDataset, IDisposable
{
    private readonly SafeFileHandle _file;
    private readonly long _dataOffset;
    private readonly int _sampleLength;
    private readonly bool _bytes, _bigEndian;

    /// <summary>Opens <paramref name="path"/> and checks its header and length (samples carry no labels: see <see cref="LabelledDataset"/>).</summary>
    /// <exception cref="InvalidDataException">Not float32 or uint8, fewer than two axes, or a truncated file (named).</exception>
    public NpyFileDataset(string path)
    {
        Source = path;
        NpyHeader header;
        using (var stream = Engine.IO.FileKind.OpenRead(path, $"Npy: file '{path}'"))
        {
            header = Npy.ReadHeader(stream, path);
            _dataOffset = stream.Position;
        }
        if (header.DataType is not (DataType.Float32 or DataType.UInt8))
            throw new InvalidDataException($"Npy: file '{path}': expected float32 or uint8 samples, got {header.DataType}");
        if (header.Shape.Length < 2)
            throw new InvalidDataException($"Npy: file '{path}': expected shape (N, …) with N samples, got {Shapes.Format(header.Shape)}");
        _bytes = header.DataType == DataType.UInt8;
        _bigEndian = header.BigEndian && !_bytes;
        Count = header.Shape[0];
        SampleShape = header.Shape[1..];
        _sampleLength = checked((int)Shapes.Size(SampleShape));
        _file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
        long needed = _dataOffset + (long)Count * SampleBytes;
        long length = RandomAccess.GetLength(_file);
        if (length < needed)
        {
            _file.Dispose();
            throw new InvalidDataException($"Npy: file '{path}': field 'data' truncated (the header declares {needed - _dataOffset} bytes, the file has {Math.Max(0, length - _dataOffset)})");
        }
    }

    /// <summary>Number of samples (the first dimension).</summary>
    public int Count { get; }

    /// <summary>Shape of one sample (the dimensions after the first).</summary>
    public int[] SampleShape { get; }

    /// <summary>The file.</summary>
    public string Source { get; }

    private long SampleBytes => (long)_sampleLength * (_bytes ? 1 : 4);

    /// <summary>Reads sample <paramref name="index"/> into <paramref name="destination"/>; returns −1 (no label).</summary>
    public int Get(int index, Span<float> destination)
    {
        if ((uint)index >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(index), $"{Source}: sample index {index} out of range [0, {Count})");
        if (destination.Length < _sampleLength) throw new ArgumentException($"{Source}: destination holds {destination.Length} values, a sample has {_sampleLength}", nameof(destination));
        long at = _dataOffset + index * SampleBytes;
        var values = destination[.._sampleLength];
        if (_bytes)
        {
            var raw = ArrayPool<byte>.Shared.Rent(_sampleLength);
            try
            {
                ReadAll(raw.AsSpan(0, _sampleLength), at);
                for (int i = 0; i < values.Length; i++) values[i] = raw[i] / 255f;
            }
            finally { ArrayPool<byte>.Shared.Return(raw); }
        }
        else
        {
            var bytes = MemoryMarshal.AsBytes(values);
            ReadAll(bytes, at);
            if (_bigEndian)
                for (int i = 0; i < bytes.Length; i += 4) bytes.Slice(i, 4).Reverse();
        }
        return -1;
    }

    private void ReadAll(Span<byte> into, long at)
    {
        while (into.Length > 0)
        {
            int got = RandomAccess.Read(_file, into, at);
            if (got == 0) throw new InvalidDataException($"Npy: file '{Source}': field 'data' truncated at byte {at} (the file shrank while being read)");
            into = into[got..];
            at += got;
        }
    }

    /// <summary>Closes the file.</summary>
    public void Dispose() => _file.Dispose();
}
