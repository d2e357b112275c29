namespace QuantSharp.Data.Images;

/// <summary>
/// A JPEG Huffman table (ITU T.81 Annex C): canonical codes from the 16 length counts, decoded through a 9-bit
/// look-up table for short codes and the max-code-per-length rule (F.2.2.3) for longer ones.
/// </summary>
internal sealed class JpegHuffmanTable
{
    internal const int LookupBits = 9;

    // lookup[code9] = length << 8 | value, or 0 when the code is longer than LookupBits.
    private readonly ushort[] _lookup = new ushort[1 << LookupBits];
    private readonly int[] _maxCode = new int[18]; // per length; -1 when no code of that length
    private readonly int[] _valOffset = new int[18];
    private readonly byte[] _values;

    /// <summary>Builds the table from <paramref name="counts"/> (codes per length 1..16) and the symbol <paramref name="values"/>.</summary>
    public JpegHuffmanTable(ReadOnlySpan<byte> counts, ReadOnlySpan<byte> values, string name)
    {
        _values = values.ToArray();
        int code = 0, k = 0;
        for (int len = 1; len <= 16; len++)
        {
            int n = counts[len - 1];
            _valOffset[len] = k - code;
            for (int i = 0; i < n; i++, k++, code++)
            {
                // Checked per code, before it is written into the look-up table, which it would overrun.
                if (code >= 1 << len) throw new ImageFormatException(name, "JPEG", $"Huffman table over-subscribed at code length {len}");
                if (len <= LookupBits)
                {
                    int shift = LookupBits - len;
                    for (int fill = 0; fill < 1 << shift; fill++) _lookup[(code << shift) | fill] = (ushort)(len << 8 | values[k]);
                }
            }
            _maxCode[len] = n > 0 ? code - 1 : -1;
            code <<= 1;
        }
        _maxCode[17] = int.MaxValue;
    }

    /// <summary>The 9-bit look-up table: entry = length &lt;&lt; 8 | symbol, 0 for longer codes.</summary>
    internal ushort[] Lookup => _lookup;

    /// <summary>Decodes one symbol from <paramref name="bits"/>.</summary>
    public int Decode(JpegBitReader bits)
    {
        bits.Ensure(16);
        int e = _lookup[bits.Peek(LookupBits)];
        if (e != 0)
        {
            bits.Skip(e >> 8);
            return e & 0xFF;
        }
        int code16 = bits.Peek(16);
        for (int len = LookupBits + 1; len <= 16; len++)
        {
            int c = code16 >> (16 - len);
            if (c <= _maxCode[len])
            {
                bits.Skip(len);
                return _values[_valOffset[len] + c];
            }
        }
        throw new ImageFormatException(bits.Name, "JPEG", $"invalid Huffman code near byte {bits.Position}");
    }
}

/// <summary>
/// Reads the entropy-coded bits of a scan MSB first, removing stuffed zero bytes (<c>FF 00</c>). At a marker or the end
/// of the data it supplies zero bits; consuming any of those means the scan was truncated or corrupt, which
/// <see cref="CheckOverrun"/> reports.
/// </summary>
internal sealed class JpegBitReader(byte[] data, int start, string name)
{
    private ulong _buffer;   // left-aligned
    private int _count;      // valid bits in _buffer
    private int _fake;       // how many of the last _count bits are padding past a marker / the end
    private bool _stopped;

    /// <summary>The file name, for messages.</summary>
    public string Name { get; } = name;

    /// <summary>Byte position of the next unread byte.</summary>
    public int Position { get; private set; } = start;

    /// <summary>Makes at least <paramref name="n"/> (≤ 57) bits available.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public void Ensure(int n)
    {
        if (_count < n) Fill();
    }

    /// <summary>The buffered bits (left-aligned) and their count, for decoders that keep them in locals.</summary>
    public (ulong Buffer, int Count) State
    {
        get => (_buffer, _count);
        set => (_buffer, _count) = value;
    }

    /// <summary>Tops up (<paramref name="buffer"/>, <paramref name="count"/>) to at least 57 bits and returns them.</summary>
    public (ulong, int) Refill(ulong buffer, int count)
    {
        _buffer = buffer;
        _count = count;
        Fill();
        return (_buffer, _count);
    }

    private void Fill()
    {
        while (_count <= 56)
        {
            ulong b = 0;
            if (!_stopped && Position < data.Length)
            {
                b = data[Position];
                if (b == 0xFF)
                {
                    byte next = Position + 1 < data.Length ? data[Position + 1] : (byte)0xD9;
                    if (next == 0) Position += 2;
                    else { _stopped = true; b = 0; }
                }
                else Position++;
            }
            else _stopped = true;
            if (_stopped) _fake += 8;
            _buffer |= b << (56 - _count);
            _count += 8;
        }
    }

    /// <summary>The next <paramref name="n"/> bits (1..16) without consuming them; call <see cref="Ensure"/> first.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public int Peek(int n) => (int)(_buffer >> (64 - n));

    /// <summary>Consumes <paramref name="n"/> bits.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public void Skip(int n)
    {
        _buffer <<= n;
        _count -= n;
    }

    /// <summary>Reads <paramref name="n"/> (0..16) bits as an unsigned number.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public int Receive(int n)
    {
        if (n == 0) return 0;
        Ensure(n);
        int v = (int)(_buffer >> (64 - n));
        _buffer <<= n;
        _count -= n;
        return v;
    }

    /// <summary>Reads one bit.</summary>
    public int Bit() => Receive(1);

    /// <summary>Reads <paramref name="n"/> bits and sign-extends them as a JPEG magnitude category (F.2.2.1 EXTEND).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public int ReceiveExtend(int n)
    {
        if (n == 0) return 0;
        int v = Receive(n);
        return v < 1 << (n - 1) ? v - (1 << n) + 1 : v;
    }

    /// <summary>Throws when padding bits past a marker or the end of the data were consumed.</summary>
    public void CheckOverrun(string where)
    {
        if (_count < _fake)
            throw new ImageFormatException(Name, "JPEG", $"truncated or corrupt entropy-coded data in {where} (ran past byte {Position} of {data.Length})");
    }

    /// <summary>
    /// Discards buffered bits and expects restart marker <c>RSTn</c> with n = <paramref name="expected"/> at the current
    /// byte position (after optional fill bytes).
    /// </summary>
    public void Restart(int expected)
    {
        CheckOverrun("restart interval");
        _buffer = 0;
        _count = 0;
        _fake = 0;
        _stopped = false;
        int p = Position;
        while (p + 1 < data.Length && data[p] == 0xFF && data[p + 1] == 0xFF) p++;
        if (p + 1 >= data.Length || data[p] != 0xFF || data[p + 1] != 0xD0 + expected)
            throw new ImageFormatException(Name, "JPEG", $"expected restart marker RST{expected} at byte {p}, got {(p + 1 < data.Length ? $"{data[p]:X2} {data[p + 1]:X2}" : "end of file")}");
        Position = p + 2;
    }
}
