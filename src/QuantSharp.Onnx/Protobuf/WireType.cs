namespace QuantSharp.Onnx.Protobuf;

/// <summary>The protobuf wire types (the low three bits of a field tag).</summary>
public enum WireType
{
    /// <summary>Base-128 varint: int32, int64, uint32, uint64, sint32, sint64, bool, enum.</summary>
    Varint = 0,
    /// <summary>Eight little-endian bytes: fixed64, sfixed64, double.</summary>
    Fixed64 = 1,
    /// <summary>A varint byte count then that many bytes: string, bytes, sub-message, packed repeated scalars.</summary>
    LengthDelimited = 2,
    /// <summary>Deprecated group start; skipped up to the matching <see cref="EndGroup"/>.</summary>
    StartGroup = 3,
    /// <summary>Deprecated group end.</summary>
    EndGroup = 4,
    /// <summary>Four little-endian bytes: fixed32, sfixed32, float.</summary>
    Fixed32 = 5,
}
