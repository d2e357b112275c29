namespace QuantSharp.Engine.Runtime;

/// <summary>
/// Recycled element arrays keyed by element type and length: a session returns the buffer of a value after its last
/// reader ran and hands it to the next writer of the same size, so steady-state runs allocate (and page-fault) almost
/// nothing. Not thread-safe: a <see cref="Session"/> lends its pool to one run at a time.
/// </summary>
/// <remarks>
/// Arrays are reusable only at their exact length, so a pool that kept every size it ever freed would hold the sum over
/// sizes of each size's largest live count — for MobileNetV2 about three times the largest set of values alive at once.
/// The pool therefore bounds what it holds, rented and free together, by the largest live set it has seen
/// (<see cref="PeakLiveBytes"/>, or <see cref="SmallPoolBytes"/> when that is larger): when a rent finds no array of its
/// size and the bound would be passed, free arrays of the sizes wanted again latest are dropped (Belady's choice, read from
/// the previous trim period's rents), and the garbage collector is asked to reclaim them before the new array is
/// allocated, so that memory serves the other size.
/// </remarks>
public sealed class BufferPool
{
    private readonly Dictionary<(Type Type, int Length), List<Array>> _free = new();
    private HashSet<(Type Type, int Length)> _wanted = new(), _wantedBefore = new();
    // The sizes rented in order during the previous and the current trim period (a session's runs): runs of one shape
    // rent the same sequence, so the previous one tells which free size is wanted again last.
    private List<(Type Type, int Length)> _trace = new(), _tracing = new();
    private long _retainedBytes, _liveBytes, _droppedSinceCollect;
    private const int MaxTrace = 1 << 16;

    /// <summary>Upper bound on the bytes held while idle; arrays returned beyond it are left to the GC.</summary>
    public long MaxRetainedBytes { get; init; } = 1L << 31;

    /// <summary>
    /// Up to this many bytes, rented and free together, the pool keeps every size it was given back (default 512 MiB): runs
    /// whose arrays of every size fit reuse all of them (fresh pages every run cost more than the run itself at these sizes);
    /// the bound by the largest live set applies to larger runs only.
    /// </summary>
    public long SmallPoolBytes { get; set; } = 512L << 20;

    /// <summary>
    /// Dropped arrays this large in total make the pool run a full garbage collection before it allocates a fresh array, so
    /// the memory they held is reused rather than added to (default 16 MiB).
    /// </summary>
    public long CollectAfterDroppedBytes { get; set; } = 16L << 20;

    /// <summary>Bytes currently held for reuse.</summary>
    public long RetainedBytes => _retainedBytes;

    /// <summary>Bytes of the arrays rented and not yet returned (or forgotten).</summary>
    public long LiveBytes => _liveBytes;

    /// <summary>The largest <see cref="LiveBytes"/> since the pool was made or cleared.</summary>
    public long PeakLiveBytes { get; private set; }

    /// <summary>
    /// The largest <see cref="LiveBytes"/> + <see cref="RetainedBytes"/> since the pool was made, cleared or
    /// <see cref="ResetPeak"/>: what the pool held at its fullest.
    /// </summary>
    public long PeakHeldBytes { get; private set; }

    /// <summary>Number of arrays handed out by <see cref="Rent{T}"/> that came from the pool (diagnostics).</summary>
    public long Reused { get; private set; }

    /// <summary>Number of arrays <see cref="Rent{T}"/> had to allocate (diagnostics).</summary>
    public long Allocated { get; private set; }

    /// <summary>Number of garbage collections the pool asked for to reuse the memory of arrays it dropped (diagnostics).</summary>
    public long Collections { get; private set; }

    /// <summary>An array of exactly <paramref name="length"/> elements with arbitrary contents.</summary>
    public T[] Rent<T>(int length) where T : unmanaged
    {
        var key = (typeof(T), length);
        _wanted.Add(key);
        if (_tracing.Count < MaxTrace) _tracing.Add(key); // runs kept for backward never trim: no unbounded growth
        if (length > 0 && _free.TryGetValue(key, out var list) && list.Count > 0)
        {
            Reused++;
            var a = (T[])list[^1];
            list.RemoveAt(list.Count - 1);
            _retainedBytes -= Buffer.ByteLength(a);
            Lent(Buffer.ByteLength(a));
            return a;
        }
        long bytes = (long)length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        long bound = Math.Max(SmallPoolBytes, Math.Max(PeakLiveBytes, _liveBytes + bytes));
        while (_liveBytes + _retainedBytes + bytes > bound && DropFarthest()) { }
        if (_droppedSinceCollect >= CollectAfterDroppedBytes && _droppedSinceCollect > 0)
        {
            // The dropped arrays are garbage only once collected; until then the new array would be extra memory.
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true);
            _droppedSinceCollect = 0;
            Collections++;
        }
        Allocated++;
        var fresh = GC.AllocateUninitializedArray<T>(length);
        Lent(bytes);
        return fresh;
    }

    /// <summary>Gives <paramref name="array"/>, which <see cref="Rent{T}"/> handed out, back for reuse; the caller must hold no other reference to it.</summary>
    public void Return(Array array)
    {
        if (array.Length == 0) return;
        long bytes = Buffer.ByteLength(array);
        _liveBytes = Math.Max(0, _liveBytes - bytes);
        if (_retainedBytes + bytes > MaxRetainedBytes) { _droppedSinceCollect += bytes; return; }
        var key = (array.GetType().GetElementType()!, array.Length);
        if (!_free.TryGetValue(key, out var list)) _free[key] = list = new List<Array>();
        list.Add(array);
        _retainedBytes += bytes;
    }

    /// <summary><paramref name="array"/>, which <see cref="Rent{T}"/> handed out, will never come back (it left with a caller).</summary>
    public void Forget(Array array) => _liveBytes = Math.Max(0, _liveBytes - Buffer.ByteLength(array));

    /// <summary>Starts a new <see cref="PeakHeldBytes"/> period (a session does at the start of each run).</summary>
    public void ResetPeak() => PeakHeldBytes = _liveBytes + _retainedBytes;

    private void Lent(long bytes)
    {
        _liveBytes += bytes;
        PeakLiveBytes = Math.Max(PeakLiveBytes, _liveBytes);
        PeakHeldBytes = Math.Max(PeakHeldBytes, _liveBytes + _retainedBytes);
    }

    /// <summary>
    /// Drops one free array of the size wanted again latest (Belady's choice), judged by where the previous period's rents
    /// continue from this point; a size it never rented goes first, then among equals the larger. False when none is held.
    /// </summary>
    private bool DropFarthest()
    {
        (Type, int) victim = default;
        long victimNext = -1, victimBytes = -1;
        int from = _tracing.Count;
        foreach (var (key, list) in _free)
        {
            if (list.Count == 0) continue;
            long next = NextUse(key, from);
            long bytes = Buffer.ByteLength(list[0]);
            if (next > victimNext || (next == victimNext && bytes > victimBytes)) (victim, victimNext, victimBytes) = (key, next, bytes);
        }
        if (victimNext < 0) return false;
        var held = _free[victim];
        // The array returned longest ago of that size: the others are as good, and recent ones are warmer in cache.
        held.RemoveAt(0);
        _retainedBytes -= victimBytes;
        _droppedSinceCollect += victimBytes;
        return true;
    }

    /// <summary>How many rents after position <paramref name="from"/> of the previous period's sequence <paramref name="key"/> comes again (wrapping around, as the next run starts over); long.MaxValue when it never does.</summary>
    private long NextUse((Type, int) key, int from)
    {
        int n = _trace.Count;
        for (int d = 0; d < n; d++)
            if (_trace[(from + d) % n] == key) return d;
        return long.MaxValue;
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
            foreach (var a in _free[key])
            {
                _retainedBytes -= Buffer.ByteLength(a);
                _droppedSinceCollect += Buffer.ByteLength(a);
            }
            _free.Remove(key);
        }
        (_wantedBefore, _wanted) = (_wanted, _wantedBefore);
        _wanted.Clear();
        (_trace, _tracing) = (_tracing, _trace);
        _tracing.Clear();
    }

    /// <summary>
    /// Drops every held array and forgets the peaks; when that frees at least <see cref="CollectAfterDroppedBytes"/>, a full
    /// garbage collection hands the memory back at once (the caller clears because other work needs it).
    /// </summary>
    public void Clear()
    {
        _droppedSinceCollect += _retainedBytes;
        _free.Clear();
        _wanted.Clear();
        _wantedBefore.Clear();
        _trace.Clear();
        _tracing.Clear();
        _retainedBytes = 0;
        PeakLiveBytes = PeakHeldBytes = _liveBytes;
        if (_droppedSinceCollect >= CollectAfterDroppedBytes && _droppedSinceCollect > 0)
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true);
            _droppedSinceCollect = 0;
            Collections++;
        }
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
    public void Disown(Tensor t)
    {
        if (_references.Remove(t.RawData)) pool.Forget(t.RawData);
    }

    /// <summary>After a node ran and its outputs were held: arrays it allocated that no value holds go back to the pool.</summary>
    public void Settle()
    {
        _dying.Clear();
        foreach (var a in _pending)
            if (_references.TryGetValue(a, out int n) && n == 0) { _references.Remove(a); pool.Return(a); }
        _pending.Clear();
    }
}
