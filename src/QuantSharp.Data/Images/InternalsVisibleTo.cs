// The image tests check internal kernels (vector vs scalar IDCT) directly.
[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("QuantSharp.Data.Tests")]
[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("QuantSharp.Fuzz")]
