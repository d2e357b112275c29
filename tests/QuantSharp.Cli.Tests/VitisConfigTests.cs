using System.Text.Json;
using QuantSharp.Cli;
using QuantSharp.Engine;
using QuantSharp.Onnx.Export;

namespace QuantSharp.Cli.Tests;

/// <summary><c>quantsharp calib --vitis-config FILE.json</c>: a vai_q_pytorch quantizer config drives calib, in-process.</summary>
public sealed class VitisConfigTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("qs-cli-vitis-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Cli(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = CommandLineApp.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    /// <summary>conv1 → ReLU6 (Clip 0..6) → conv2 → Add(conv2, relu6) → Flatten → fc, on 1×8×8 images with 4 classes.</summary>
    private (string Model, string Images, string Labels) Setup()
    {
        var rng = new Random(11);
        var b = new GraphBuilder("vitis_tiny", opset: 13);
        var x = b.Input("x", DataType.Float32, Dim.Symbolic("n"), Dim.Fixed(1), Dim.Fixed(8), Dim.Fixed(8));
        var h = b.Clip(b.ConvLayer(x, 1, 4, 3, rng, "conv1", padding: 1), 0f, 6f, name: "relu6");
        var sum = b.Add(b.ConvLayer(h, 4, 4, 3, rng, "conv2", padding: 1), h, name: "add");
        b.Output(b.LinearLayer(b.Flatten(sum, name: "flatten"), 4 * 64, 4, rng, "fc"), name: "scores");
        var graph = b.Build();
        string model = Path.Combine(_dir, "tiny.onnx");
        OnnxExporter.Save(graph, model);
        var images = Tensor.RandomUniform(rng, 0f, 3f, 48, 1, 8, 8);
        var scores = new Engine.Runtime.Session(graph).Run(images);
        var labels = new Tensor<long>(48);
        for (int i = 0; i < 48; i++)
        {
            int best = 0;
            for (int c = 1; c < 4; c++) if (scores[i, c] > scores[i, best]) best = c;
            labels.Data[i] = best;
        }
        string imagesPath = Path.Combine(_dir, "images.npy"), labelsPath = Path.Combine(_dir, "labels.npy");
        Npy.Write(imagesPath, images);
        Npy.Write(labelsPath, labels);
        return (model, imagesPath, labelsPath);
    }

    private string WriteConfig(string json, string name = "vitis.json")
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, json);
        return path;
    }

    // vai_q_pytorch's documented CPU example, with 4-bit per-channel weights and an MSE-calibrated asymmetric activation.
    private const string CpuConfig = """
        {
          "convert_relu6_to_relu": true,
          "convert_silu_to_hswish": false,
          "include_cle": true,
          "keep_first_last_layer_accuracy": false,
          "keep_add_layer_accuracy": false,
          "include_bias_corr": false,
          "target_device": "CPU",
          "quantizable_data_type": ["input", "weights", "bias", "activation"],
          "overall_quantize_config": {
            "bit_width": 8, "method": "maxmin", "round_mode": "half_even", "symmetry": true, "per_channel": false,
            "signed": true, "narrow_range": false, "scale_type": "float", "calib_statistic_method": "max"
          },
          "tensor_quantize_config": {
            "weights": { "bit_width": 4, "per_channel": true },
            "activation": { "method": "mse", "symmetry": false }
          },
          "layer_quantize_config": []
        }
        """;

    private static Dictionary<string, JsonElement> Encodings(string quant, string section)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(quant, "model.encodings")));
        return doc.RootElement.GetProperty(section).EnumerateArray().ToDictionary(e => e.GetProperty("name").GetString()!, e => e.Clone());
    }

    /// <summary>
    /// A model fed two float inputs of different ranges (a in [0, 1], b in [0, 100]) through an .npz: the Vitis input method
    /// (maxmin, unlike the activations' mse) calibrates each input's quantizer on that input alone.
    /// </summary>
    [Fact]
    public void VitisConfig_TwoFloatInputs_EachInputQuantizerCalibratedOnItsOwnInput()
    {
        var rng = new Random(9);
        var b = new GraphBuilder("two_inputs", opset: 13);
        var a = b.Input("a", DataType.Float32, Dim.Symbolic("n"), Dim.Fixed(4));
        var c = b.Input("b", DataType.Float32, Dim.Symbolic("n"), Dim.Fixed(4));
        var w = b.Initializer("w", Tensor.RandomNormal(rng, 0f, 0.5f, 4, 3));
        b.Output(b.MatMul(b.Add(a, c, "sum"), w, "proj"), name: "y");
        string model = Path.Combine(_dir, "two_inputs.onnx"), npz = Path.Combine(_dir, "two_inputs.npz"), quant = Path.Combine(_dir, "q2");
        OnnxExporter.Save(b.Build(), model);
        QuantSharp.Data.Npz.Write(npz, [("a", Tensor.RandomUniform(rng, 0f, 1f, 32, 4)), ("b", Tensor.RandomUniform(rng, 0f, 100f, 32, 4))]);
        string config = WriteConfig("""
            { "quantizable_data_type": ["input", "weights", "activation"],
              "overall_quantize_config": { "bit_width": 8, "method": "mse", "symmetry": false },
              "tensor_quantize_config": { "input": { "method": "maxmin" } } }
            """);
        var r = Cli("calib", "--model", model, "--data", npz, "--output", quant, "--vitis-config", config, "--min-gemm-weights", "0");
        Assert.True(r.Code == 0, r.Err);
        var activations = Encodings(quant, "activation_encodings");
        // Ranges of about 1 and 100: scales about 100× apart (one analyzer over both would give them one encoding).
        double scaleA = activations["a"].GetProperty("scale")[0].GetDouble(), scaleB = activations["b"].GetProperty("scale")[0].GetDouble();
        Assert.InRange(scaleB / scaleA, 80, 120);
    }

    [Fact]
    public void VitisCpuConfig_DrivesCalib_BitWidthsMethodsSymmetryPerChannelCleAndRelu6_ThenTestAndDeployRun()
    {
        var (model, images, labels) = Setup();
        string config = WriteConfig(CpuConfig), quant = Path.Combine(_dir, "q"), json = Path.Combine(_dir, "calib.json");
        var r = Cli("calib", "--model", model, "--data", images, "--output", quant, "--vitis-config", config, "--json", json, "--min-gemm-weights", "0");
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains($"vitis config {config}", r.Out);
        Assert.Contains("1 Clip(0, 6) converted to Relu", r.Out);
        Assert.Contains("cross-layer equalization:", r.Out);
        Assert.Contains("weights 4-bit tf symmetric per-channel", r.Out);
        Assert.Contains("activation 8-bit mse asymmetric", r.Out);

        using (var doc = JsonDocument.Parse(File.ReadAllText(json)))
        {
            Assert.Equal(config, doc.RootElement.GetProperty("vitis_config").GetString());
            Assert.Equal("mse", doc.RootElement.GetProperty("scheme").GetString());
            Assert.Equal(4, doc.RootElement.GetProperty("param_bw").GetInt32());
            Assert.True(doc.RootElement.GetProperty("cle").GetBoolean());
            Assert.True(doc.RootElement.GetProperty("per_channel").GetBoolean());
        }
        var fp32 = Onnx.Import.OnnxImporter.Load(Path.Combine(quant, "model.onnx"));
        Assert.DoesNotContain(fp32.Nodes, n => n.OpType == "Clip");
        Assert.Contains(fp32.Nodes, n => n.OpType == "Relu" && n.Name == "relu6");

        var parameters = Encodings(quant, "param_encodings");
        var weight = parameters["conv1.weight"];
        Assert.Equal(4, weight.GetProperty("bw").GetInt32());
        Assert.Equal("PER_CHANNEL", weight.GetProperty("enc_type").GetString());
        Assert.True(weight.GetProperty("is_sym").GetBoolean());
        // bias is in quantizable_data_type: quantized with the overall 8 bits, as vai_q_pytorch does.
        Assert.Equal(8, parameters["conv1.bias"].GetProperty("bw").GetInt32());
        // maxmin weights: each channel's largest |w| sits exactly on the top level of the 4-bit grid (level 7).
        var w = (Tensor<float>)fp32.Initializers["conv1.weight"];
        var scales = weight.GetProperty("scale").EnumerateArray().Select(s => s.GetDouble()).ToList();
        int perChannel = w.Length / scales.Count;
        for (int c = 0; c < scales.Count; c++)
        {
            double absMax = w.Data.Skip(c * perChannel).Take(perChannel).Max(v => Math.Abs(v));
            Assert.InRange(scales[c] * 7, absMax * 0.999, absMax * 1.001 + 1e-6);
        }
        var activations = Encodings(quant, "activation_encodings");
        Assert.Contains(activations.Values, a => !a.GetProperty("is_sym").GetBoolean() && a.GetProperty("bw").GetInt32() == 8);
        // The model input follows overall_quantize_config: symmetric maxmin, so its scale covers max |x| of the data exactly
        // (its top level, 127); the op outputs are asymmetric (activation symmetry false).
        var input = activations["x"];
        Assert.True(input.GetProperty("is_sym").GetBoolean());
        double maxX = Npy.Read<float>(images).Data.Max(v => Math.Abs(v));
        Assert.InRange(input.GetProperty("scale")[0].GetDouble() * 127, maxX * 0.999, maxX * 1.001);

        var t = Cli("test", "--model", model, "--quant", quant, "--data", images, "--labels", labels);
        Assert.True(t.Code == 0, t.Err);
        var d = Cli("deploy", "--quant", quant, "--output", Path.Combine(_dir, "deploy"), "--no-latency");
        Assert.True(d.Code == 0, d.Err);
    }

    [Fact]
    public void VitisConfig_KeepFirstLastAndAdd_KeepThoseLayersInFloat_AndWithoutActivationTypeNoOutputIsQuantized()
    {
        var (model, images, _) = Setup();
        string config = WriteConfig("""
            { "target_device": "GPU", "keep_first_last_layer_accuracy": true, "keep_add_layer_accuracy": true,
              "quantizable_data_type": ["weights"], "overall_quantize_config": { "method": "percentile", "percentage": 99.9 } }
            """);
        string quant = Path.Combine(_dir, "keep");
        var r = Cli("calib", "--model", model, "--data", images, "--output", quant, "--vitis-config", config, "--min-gemm-weights", "0");
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("kept in float: ", r.Out);
        string kept = r.Out.Split('\n').Single(l => l.StartsWith("kept in float: ", StringComparison.Ordinal));
        foreach (var node in new[] { "conv1", "fc", "add" }) Assert.Contains(node, kept);
        Assert.DoesNotContain("conv2", kept);
        Assert.Empty(Encodings(quant, "activation_encodings"));
        var parameters = Encodings(quant, "param_encodings");
        Assert.Contains("conv2.weight", parameters.Keys);
        Assert.DoesNotContain("conv2.bias", parameters.Keys);
    }

    [Theory]
    [InlineData("""{ "target_device": "CPU", "quantize_everything": true }""", "'quantize_everything': unsupported key")]
    [InlineData("""{ "overall_quantize_config": { "bit_width": 8, "granularity": "per_tensor" } }""", "'overall_quantize_config.granularity': unsupported key")]
    [InlineData("""{ "tensor_quantize_config": { "output": { "bit_width": 8 } } }""", "'tensor_quantize_config.output': unsupported key")]
    [InlineData("""{ "target_device": "DPU" }""", "'target_device': DPU is not supported")]
    [InlineData("""{ "overall_quantize_config": { "method": "diffs" } }""", "'overall_quantize_config.method': diffs is not supported")]
    [InlineData("""{ "tensor_quantize_config": { "activation": { "round_mode": "half_up" } } }""", "'tensor_quantize_config.activation.round_mode': half_up is not supported")]
    [InlineData("""{ "overall_quantize_config": { "scale_type": "poweroftwo" } }""", "'overall_quantize_config.scale_type': poweroftwo is not supported")]
    [InlineData("""{ "overall_quantize_config": { "calib_statistic_method": "modal" } }""", "'overall_quantize_config.calib_statistic_method': modal is not supported")]
    [InlineData("""{ "tensor_quantize_config": { "activation": { "per_channel": true } } }""", "per-channel activation quantization is not supported")]
    [InlineData("""{ "overall_quantize_config": { "symmetry": true, "signed": false } }""", "unsigned symmetric grid")]
    [InlineData("""{ "convert_silu_to_hswish": true }""", "'convert_silu_to_hswish': true is not supported")]
    [InlineData("""{ "include_cle": "yes" }""", "'include_cle': expected true or false")]
    [InlineData("""{ "overall_quantize_config": { "bit_width": 8, "bit_width": 4 } }""", "'overall_quantize_config.bit_width': the key appears twice")]
    [InlineData("""{ "include_cle": tru }""", "not valid JSON")]
    [InlineData("""[ { "include_cle": true } ]""", "expected a JSON object at the top level")]
    [InlineData("""{ "layer_quantize_config": [ { "layer_type": null, "layer_name": "ResNet::ResNet/Conv2d[conv1]/input.2", "quantizable_data_type": ["weights"] } ] }""", "'layer_quantize_config[0].layer_name': per-layer settings by name are not supported")]
    [InlineData("""{ "layer_quantize_config": [ { "layer_type": "torch.nn.LSTM", "layer_name": null, "quantizable_data_type": ["weights"] } ] }""", "'layer_quantize_config[0].layer_type': 'torch.nn.LSTM' is not supported; supported: torch.nn.Conv1d")]
    [InlineData("""{ "overall_quantize_config": { "method": "maxmin" }, "layer_quantize_config": [ { "layer_type": "torch.nn.Conv2d", "layer_name": null, "quantizable_data_type": ["weights", "activation"], "tensor_quantize_config": { "activation": { "method": "entropy" } } } ] }""", "'layer_quantize_config[0].tensor_quantize_config.activation.method': a per-layer method is not supported")]
    [InlineData("""{ "tensor_quantize_config": { "activation": { "symmetry": false } }, "layer_quantize_config": [ { "layer_type": "torch.nn.Linear", "layer_name": null, "quantizable_data_type": ["weights"], "overall_quantize_config": { "symmetry": true } } ] }""", "'layer_quantize_config[0].overall_quantize_config.symmetry': a per-layer symmetry for activation is not supported; it must equal the global activation symmetry (false)")]
    [InlineData("""{ "layer_quantize_config": [ { "layer_type": "torch.nn.Conv2d", "layer_name": null, "quantizable_data_type": ["weights"], "tensor_quantize_config": { "activation": { "bit_width": 16 } } } ] }""", "'layer_quantize_config[0].tensor_quantize_config.activation.bit_width': a per-layer bit_width for activation is not supported")]
    [InlineData("""{ "tensor_quantize_config": { "weights": { "method": "mse" }, "bias": { "method": "maxmin" } } }""", "must equal the weights method")]
    public void VitisConfig_UnknownOrUnsupportedKey_OneErrorLineNamingFileAndKey_Exit2_NothingWritten(string json, string expected)
    {
        var (model, images, _) = Setup();
        string config = WriteConfig(json), quant = Path.Combine(_dir, "bad");
        var r = Cli("calib", "--model", model, "--data", images, "--output", quant, "--vitis-config", config);
        Assert.Equal(CommandLineApp.ExitUsage, r.Code);
        Assert.Contains(expected, r.Err);
        Assert.Contains($"--vitis-config '{config}'", r.Err);
        Assert.Single(r.Err.TrimEnd('\n').Split('\n'));
        Assert.False(Directory.Exists(quant));
        Assert.DoesNotContain(Directory.GetFileSystemEntries(_dir), p => Path.GetFileName(p).StartsWith(".bad", StringComparison.Ordinal));
    }

    [Fact]
    public void VitisLayerTypeConfig_SetsConvWeightsPerChannelAndBitWidth_AndTheirOutputsUnquantized_LeavingGemmToTheGlobalSettings()
    {
        var (model, images, _) = Setup();
        string config = WriteConfig("""
            {
              "target_device": "CPU",
              "overall_quantize_config": { "bit_width": 8, "method": "maxmin", "symmetry": true, "per_channel": false },
              "tensor_quantize_config": { "activation": { "symmetry": false } },
              "layer_quantize_config": [
                { "layer_type": "torch.nn.Conv2d", "layer_name": null, "quantizable_data_type": ["weights", "bias"],
                  "overall_quantize_config": { "bit_width": 8, "method": "maxmin", "symmetry": true, "per_channel": false },
                  "tensor_quantize_config": { "weights": { "bit_width": 6, "per_channel": true }, "bias": { "bit_width": 16 }, "activation": { "symmetry": false } } }
              ]
            }
            """);
        string quant = Path.Combine(_dir, "layers");
        var r = Cli("calib", "--model", model, "--data", images, "--output", quant, "--vitis-config", config, "--min-gemm-weights", "0");
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("torch.nn.Conv2d (Conv): weights, bias, weights 6-bit per-channel", r.Out);
        var parameters = Encodings(quant, "param_encodings");
        foreach (var conv in new[] { "conv1", "conv2" })
        {
            Assert.Equal(6, parameters[$"{conv}.weight"].GetProperty("bw").GetInt32());
            Assert.Equal("PER_CHANNEL", parameters[$"{conv}.weight"].GetProperty("enc_type").GetString());
            Assert.Equal(16, parameters[$"{conv}.bias"].GetProperty("bw").GetInt32());
        }
        Assert.Equal(8, parameters["fc.weight"].GetProperty("bw").GetInt32());
        Assert.Equal("PER_TENSOR", parameters["fc.weight"].GetProperty("enc_type").GetString());
        Assert.Equal(8, parameters["fc.bias"].GetProperty("bw").GetInt32());
        // conv2 (its output read by the Add) is not output-quantized; the Add's output still is.
        var fp32 = Onnx.Import.OnnxImporter.Load(Path.Combine(quant, "model.onnx"));
        string conv2Out = fp32.Nodes.Single(n => n.Name == "conv2").Outputs[0], addOut = fp32.Nodes.Single(n => n.Name == "add").Outputs[0];
        var activations = Encodings(quant, "activation_encodings");
        Assert.DoesNotContain(conv2Out, activations.Keys);
        Assert.Contains(addOut, activations.Keys);
    }

    [Fact]
    public void VitisConfig_WithConfig_IsRefused()
    {
        var (model, images, _) = Setup();
        var r = Cli("calib", "--model", model, "--data", images, "--output", Path.Combine(_dir, "both"), "--vitis-config", WriteConfig("{}"), "--config", "tensorrt");
        Assert.Equal(CommandLineApp.ExitUsage, r.Code);
        Assert.Contains("--vitis-config and --config", r.Err);
    }

    [Fact]
    public void VitisConfig_IncludeCle_WithAutoQuant_IsRefusedNamingTheKey()
    {
        var (model, images, labels) = Setup();
        var r = Cli("calib", "--model", model, "--data", images, "--labels", labels, "--output", Path.Combine(_dir, "aq"), "--auto-quant",
            "--vitis-config", WriteConfig("""{ "include_cle": true }"""));
        Assert.Equal(CommandLineApp.ExitUsage, r.Code);
        Assert.Contains("'include_cle': true cannot be combined with --auto-quant", r.Err);
    }

    [Fact]
    public void VitisConfig_UnsupportedKeyMessage_ListsTheSupportedKeys()
    {
        var (model, images, _) = Setup();
        var r = Cli("calib", "--model", model, "--data", images, "--output", Path.Combine(_dir, "x"), "--vitis-config", WriteConfig("""{ "mix_bit": true }"""));
        Assert.Equal(CommandLineApp.ExitUsage, r.Code);
        foreach (var key in new[] { "convert_relu6_to_relu", "include_cle", "include_bias_corr", "keep_first_last_layer_accuracy", "overall_quantize_config", "tensor_quantize_config" })
            Assert.Contains(key, r.Err);
    }
}
