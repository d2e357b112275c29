using System.CommandLine;
using System.CommandLine.Invocation;
using System.Reflection;

namespace QuantSharp.Cli;

/// <summary>
/// <c>quantsharp --version</c>: prints this assembly's informational version, which is the package version
/// (src/Directory.Build.props). System.CommandLine's default prints the entry assembly's version instead, which is the
/// host's (a test runner, the benchmarks) whenever <see cref="CommandLineApp.Run"/> is called in process.
/// </summary>
internal sealed class PrintVersionAction : SynchronousCommandLineAction
{
    /// <summary>The version <c>quantsharp --version</c> prints.</summary>
    public static string Version { get; } =
        typeof(PrintVersionAction).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(PrintVersionAction).Assembly.GetName().Version?.ToString() ?? "unknown";

    /// <inheritdoc />
    public override int Invoke(ParseResult parseResult)
    {
        parseResult.InvocationConfiguration.Output.WriteLine(Version);
        return CommandLineApp.ExitOk;
    }
}
