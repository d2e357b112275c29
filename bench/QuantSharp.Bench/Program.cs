using System.Reflection;
using QuantSharp.Bench;

// Usage: dotnet run -c Release --project bench/QuantSharp.Bench -- [--compare] [--quick] [--list] [name-prefix ...]
var compare = args.Contains("--compare");
var quick = args.Contains("--quick");
var filters = args.Where(a => !a.StartsWith("--")).ToArray();

var all = Assembly.GetExecutingAssembly().GetTypes()
    .Where(t => typeof(IBenchmarkSuite).IsAssignableFrom(t) && !t.IsAbstract && !t.IsInterface)
    .OrderBy(t => t.Name)
    .SelectMany(t => ((IBenchmarkSuite)Activator.CreateInstance(t)!).Benchmarks())
    .ToList();

if (args.Contains("--list"))
{
    foreach (var b in all) Console.WriteLine($"{b.Name,-40} {b.Description}");
    return 0;
}

var selected = filters.Length == 0 ? all : all.Where(b => filters.Any(f => b.Name.StartsWith(f, StringComparison.Ordinal))).ToList();
if (selected.Count == 0)
{
    Console.Error.WriteLine($"No benchmark matches {string.Join(", ", filters)}; --list shows the names.");
    return 2;
}
var ctx = new BenchContext(compare, quick);
Console.WriteLine($"# cores={Environment.ProcessorCount} avx512={System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated} compare={compare}");
foreach (var b in selected) b.Run(ctx);
return 0;
