namespace QuantSharp.Engine.Runtime;

/// <summary>
/// Where an op kernel gets the memory of its outputs. A tensor from <see cref="Allocate{T}"/> has arbitrary contents
/// (the kernel must write every element) and belongs to the caller of the kernel, who may recycle it once no value
/// refers to it any more.
/// </summary>
public interface ITensorAllocator
{
    /// <summary>A tensor of <paramref name="shape"/> whose elements are not initialized.</summary>
    Tensor<T> Allocate<T>(ReadOnlySpan<int> shape) where T : unmanaged;

    /// <summary>
    /// The output of an elementwise kernel whose element i depends only on element i of <paramref name="source"/> (and
    /// on other inputs it does not overwrite): a session hands back <paramref name="source"/>'s own array when no later
    /// node reads it and no other value shares it, so chains like Conv → BatchNorm → Clip run in one buffer; otherwise (and
    /// by default) a fresh tensor as <see cref="Allocate{T}"/>. The kernel must read element i before writing it.
    /// </summary>
    Tensor<T> AllocateOver<T>(Tensor<T> source, ReadOnlySpan<int> shape) where T : unmanaged => Allocate<T>(shape);
}

/// <summary>Allocates every tensor fresh from the managed heap (no reuse); what kernels use outside a session.</summary>
public sealed class HeapAllocator : ITensorAllocator
{
    private HeapAllocator() { }

    /// <summary>The single instance.</summary>
    public static HeapAllocator Instance { get; } = new();

    /// <inheritdoc />
    public Tensor<T> Allocate<T>(ReadOnlySpan<int> shape) where T : unmanaged => Tensor<T>.Uninitialized(shape);
}
