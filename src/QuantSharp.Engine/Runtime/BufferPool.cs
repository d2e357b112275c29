namespace QuantSharp.Engine.Runtime;

/// <summary>
/// Recycled element arrays keyed by element type and length: a session returns the buffer of a value after its last
/// reader ran and hands it to the next writer of the same size, so steady-state runs allocate (and page-fault) almost
/// nothing. Not thread-safe: a <see cref="Session"/> lends its pool to one run at a time.
/// </summary>
public sealed class BufferPool
{
    private readonly Dictionary<(Type Type, int Length), Stack<Array>> _free = new();
    private HashSet<(Type Type, int Length)> _wanted = new(), _wantedBefore = new();
    private long _retainedBytes;

    /// <summary>Upper bound on the bytes held while idle; arrays returned beyond it are left to the GC.</summary>
    public long MaxRetainedBytes { get; init; } = 1L << 31;

    /// <summary>Bytes currently held for reuse.</summary>
    public long RetainedBytes => _retainedBytes;

    /// <summary>Number of arrays handed out by <see cref="Rent{T}"/> that came from the pool (diagnostics).</summary>
    public long Reused { get; private set; }

    /// <summary>Number of arrays <see cref="Rent{T}"/> had to allocate (diagnostics).</summary>
    public long Allocated { get; private set; }

    /// <summary>An array of exactly <paramref name="length"/> elements with arbitrary contents.</summary>
    public T[] Rent<T>(int length) where T : unmanaged
    {
        _wanted.Add((typeof(T), length));
        if (length > 0 && _free.TryGetValue((typeof(T), length), out var stack) && stack.Count > 0)
        {
            Reused++;
            var a = (T[])stack.Pop();
            _retainedBytes -= Buffer.ByteLength(a);
            return a;
        }
        Allocated++;
        return GC.AllocateUninitializedArray<T>(length);
    }

    /// <summary>Gives <paramref name="array"/> back for reuse; the caller must hold no other reference to it.</summary>
    public void Return(Array array)
    {
        if (array.Length == 0) return;
        long bytes = Buffer.ByteLength(array);
        if (_retainedBytes + bytes > MaxRetainedBytes) return;
        var key = (array.GetType().GetElementType()!, array.Length);
        if (!_free.TryGetValue(key, out var stack)) _free[key] = stack = new Stack<Array>();
        stack.Push(array);
        _retainedBytes += bytes;
    }

    /// <summary>
    /// Drops the arrays of every size nobody asked for during the last two trim periods (a session trims after each run):
    /// after runs with other shapes (a smaller last batch, another input size) the pool holds what the latest two runs
    /// use — alternating batch sizes still reuse — not the sum over every shape ever run.
    /// </summary>
    public void Trim()
    {
        foreach (var key in _free.Keys.Where(k => !_wanted.Contains(k) && !_wantedBefore.Contains(k)).ToList())
        {
            foreach (var a in _free[key]) _retainedBytes -= Buffer.ByteLength(a);
            _free.Remove(key);
        }
        (_wantedBefore, _wanted) = (_wanted, _wantedBefore);
        _wanted.Clear();
    }

    /// <summary>Drops every held array.</summary>
    public void Clear()
    {
        _free.Clear();
        _wanted.Clear();
        _wantedBefore.Clear();
        _retainedBytes = 0;
    }
}

/// <summary>
/// The allocator of one session run: rents from a <see cref="BufferPool"/> and counts, per array it handed out, how many
/// live values refer to it (a Reshape or Identity output shares its input's array), so an array goes back to the pool
/// only when the last of those values is released.
/// </summary>
internal sealed class RunAllocator(BufferPool pool) : ITensorAllocator
{
    private readonly Dictionary<Array, int> _references = new(ReferenceEqualityComparer.Instance);
    private readonly List<Array> _pending = new();
    private readonly HashSet<Array> _dying = new(ReferenceEqualityComparer.Instance);

    public BufferPool Pool => pool;

    public Tensor<T> Allocate<T>(ReadOnlySpan<int> shape) where T : unmanaged
    {
        var data = pool.Rent<T>(Shapes.Size(shape));
        _references[data] = 0;
        _pending.Add(data);
        return new Tensor<T>(data, shape.ToArray());
    }

    public Tensor<T> AllocateOver<T>(Tensor<T> source, ReadOnlySpan<int> shape) where T : unmanaged
    {
        // Each dying array is handed out once: a second output over the same source must not share it.
        if (source.Data.Length == Shapes.Size(shape) && _dying.Remove(source.Data)) return new Tensor<T>(source.Data, shape.ToArray());
        return Allocate<T>(shape);
    }

    /// <summary>
    /// <paramref name="t"/> is read for the last time by the node about to run: its array may become that node's output
    /// (<see cref="AllocateOver{T}"/>) when it is this allocator's and no other value shares it.
    /// </summary>
    public void Dying(Tensor t)
    {
        if (_references.TryGetValue(t.RawData, out int n) && n == 1) _dying.Add(t.RawData);
    }

    /// <summary>A value now refers to <paramref name="t"/>'s array (counted only for arrays this allocator handed out).</summary>
    public void Hold(Tensor t)
    {
        var a = t.RawData;
        if (_references.TryGetValue(a, out int n)) _references[a] = n + 1;
    }

    /// <summary>A value referring to <paramref name="t"/> is dead; the array returns to the pool when none is left.</summary>
    public void Release(Tensor t)
    {
        var a = t.RawData;
        if (!_references.TryGetValue(a, out int n)) return;
        if (n <= 1) { _references.Remove(a); pool.Return(a); }
        else _references[a] = n - 1;
    }

    /// <summary>Never recycle <paramref name="t"/>'s array (it leaves the run: output, capture, observed value).</summary>
    public void Disown(Tensor t) => _references.Remove(t.RawData);

    /// <summary>After a node ran and its outputs were held: arrays it allocated that no value holds go back to the pool.</summary>
    public void Settle()
    {
        _dying.Clear();
        foreach (var a in _pending)
            if (_references.TryGetValue(a, out int n) && n == 0) { _references.Remove(a); pool.Return(a); }
        _pending.Clear();
    }
}
