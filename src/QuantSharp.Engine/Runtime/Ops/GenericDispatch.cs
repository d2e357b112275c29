namespace QuantSharp.Engine.Runtime.Ops;

/// <summary>An operation generic over the element type, applied to an untyped tensor by <see cref="GenericDispatch"/>.</summary>
public interface IGenericTensorFunc<out TResult>
{
    /// <summary>Runs on a typed tensor.</summary>
    TResult Invoke<T>(Tensor<T> x) where T : unmanaged;
}

/// <summary>Calls a generic tensor function with the runtime element type of a tensor (layout ops are type-agnostic).</summary>
public static class GenericDispatch
{
    /// <summary>Applies <paramref name="f"/> to <paramref name="x"/> at its element type.</summary>
    public static TResult Apply<TFunc, TResult>(Tensor x, TFunc f) where TFunc : IGenericTensorFunc<TResult> => x switch
    {
        Tensor<float> t => f.Invoke(t),
        Tensor<long> t => f.Invoke(t),
        Tensor<int> t => f.Invoke(t),
        Tensor<double> t => f.Invoke(t),
        Tensor<sbyte> t => f.Invoke(t),
        Tensor<byte> t => f.Invoke(t),
        Tensor<short> t => f.Invoke(t),
        Tensor<ushort> t => f.Invoke(t),
        Tensor<bool> t => f.Invoke(t),
        _ => throw new NotSupportedException($"element type {x.DataType} is not supported by layout ops"),
    };
}
