// QuantSharp quickstart — AIMET's quickstart in C#, one step per paragraph.
// Run: dotnet run -c Release --project samples/Quickstart [epochs] [training images]
// (needs Debian's dataset-fashion-mnist; `quantsharp quickstart` is the same flow with progress bars and --json).
using QuantSharp.Data;
using QuantSharp.Engine;
using QuantSharp.Engine.Training;
using QuantSharp.Quantization;
using QuantSharp.Quantization.Preparation;
using QuantSharp.Quantization.Sim;

int epochs = args.Length > 0 ? int.Parse(args[0]) : 1;
int images = args.Length > 1 ? int.Parse(args[1]) : 6000;

// 1. Data: Fashion-MNIST, 28×28 grey images scaled to [0, 1].
var train = FashionMnist.Load(train: true).Take(images);
var test = FashionMnist.Load(train: false);
var trainLoader = new DataLoader(train, batchSize: 128, shuffle: true, seed: 0);
var testLoader = new DataLoader(test, batchSize: 500);

// 2. The network: Conv → BN → Relu → Conv → BN → Relu → Flatten → Gemm → Softmax.
var rng = new Random(0);
var b = new GraphBuilder("quickstart");
var x = b.Input("image", DataType.Float32, Dim.Symbolic("batch"), Dim.Fixed(1), Dim.Fixed(28), Dim.Fixed(28));
var h = b.Relu(b.BatchNormLayer(b.ConvLayer(x, 1, 128, 3, rng, "conv1", stride: 2, padding: 1), 128, "bn1"));
h = b.Relu(b.BatchNormLayer(b.ConvLayer(h, 128, 256, 3, rng, "conv2", stride: 2, padding: 1), 256, "bn2"));
b.Output(b.Softmax(b.LinearLayer(b.Flatten(h), 256 * 7 * 7, 10, rng, "fc")), name: "probabilities");
var model = b.Build();

// 3. Train in floating point: cross-entropy on the softmax output, Adam lr 1e-4.
var session = new QuantSharp.Engine.Runtime.Session(model);
var trainer = new GraphTrainer(session, new AdamOptimizer(GraphTrainer.Parameters(model), 1e-4f),
    (p, labels) => Losses.CrossEntropyFromProbabilities(p, labels));
for (int epoch = 0; epoch < epochs; epoch++)
    Console.WriteLine($"epoch {epoch + 1}: loss {trainer.TrainEpoch(trainLoader, epoch):F4}");
Console.WriteLine($"FP32 accuracy: {TrainingLoops.Accuracy(session, testLoader):P2}");

// 4. Prepare: fold the batch norms into the convolutions.
Console.WriteLine(ModelPreparer.FoldAllBatchNorms(model));

// 5. Simulate 4-bit weights and 8-bit activations with AIMET's default scheme (tf-enhanced), calibrate on 11 training batches.
var sim = new QuantizationSimModel(model, new QuantSimOptions
{
    QuantScheme = QuantScheme.PostTrainingTfEnhanced, DefaultParamBw = 4, DefaultOutputBw = 8,
});
sim.ComputeEncodings(s => { foreach (var batch in trainLoader.Epoch(0).Take(11)) s.Run(batch.Images); });
Console.WriteLine($"W4A8 accuracy: {TrainingLoops.Accuracy(sim.Session, testLoader):P2}");

// 6. Quantization-aware training: one epoch through the quantizers (straight-through estimator).
var qat = new GraphTrainer(sim.Session, new AdamOptimizer(GraphTrainer.Parameters(sim.Model), 1e-4f),
    (p, labels) => Losses.CrossEntropyFromProbabilities(p, labels));
qat.TrainEpoch(trainLoader, epochs);
Console.WriteLine($"W4A8 after QAT: {TrainingLoops.Accuracy(sim.Session, testLoader):P2}");

// 7. Export: FP32 ONNX + AIMET encodings + a QDQ ONNX model for ONNX Runtime / TensorRT.
foreach (var file in sim.Export("quickstart_out", "quickstart")) Console.WriteLine($"wrote {file}");
