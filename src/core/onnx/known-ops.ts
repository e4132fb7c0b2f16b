/**
 * Default-domain (ai.onnx) operators that exist at opset ≤ 17, not deprecated there. A model naming
 * anything else in the default domain fails the official checker (e.g. onnxruntime's fused
 * `SimplifiedLayerNormalization`, which belongs in com.microsoft) or needs a newer opset
 * (`RMSNormalization` is opset 23).
 *
 * Left out on purpose: If, Loop, Scan and SequenceMap carry subgraphs, which the validator does not
 * walk, so it cannot vouch for them; the converter has no use for them.
 */
export const KNOWN_ONNX_OPS_17: ReadonlySet<string> = new Set(
  `Abs Acos Acosh Add And ArgMax ArgMin Asin Asinh Atan Atanh AveragePool BatchNormalization Bernoulli
  BitShift BlackmanWindow Cast CastLike Ceil Celu Clip Compress Concat ConcatFromSequence Constant
  ConstantOfShape Conv ConvInteger ConvTranspose Cos Cosh CumSum DFT DepthToSpace DequantizeLinear Det Div
  Dropout DynamicQuantizeLinear Einsum Elu Equal Erf Exp Expand EyeLike Flatten Floor GRU Gather
  GatherElements GatherND Gemm GlobalAveragePool GlobalLpPool GlobalMaxPool Greater GreaterOrEqual
  GridSample HammingWindow HannWindow HardSigmoid HardSwish Hardmax Identity InstanceNormalization IsInf
  IsNaN LRN LSTM LayerNormalization LeakyRelu Less LessOrEqual Log LogSoftmax LpNormalization LpPool
  MatMul MatMulInteger Max MaxPool MaxRoiPool MaxUnpool Mean MeanVarianceNormalization MelWeightMatrix Min
  Mod Mul Multinomial Neg NegativeLogLikelihoodLoss NonMaxSuppression NonZero Not OneHot Optional
  OptionalGetElement OptionalHasElement Or PRelu Pad Pow QLinearConv QLinearMatMul QuantizeLinear RNN
  RandomNormal RandomNormalLike RandomUniform RandomUniformLike Range Reciprocal ReduceL1 ReduceL2
  ReduceLogSum ReduceLogSumExp ReduceMax ReduceMean ReduceMin ReduceProd ReduceSum ReduceSumSquare Relu
  Reshape Resize ReverseSequence RoiAlign Round STFT ScatterElements ScatterND Selu SequenceAt
  SequenceConstruct SequenceEmpty SequenceErase SequenceInsert SequenceLength Shape Shrink Sigmoid Sign
  Sin Sinh Size Slice Softmax SoftmaxCrossEntropyLoss Softplus Softsign SpaceToDepth Split
  SplitToSequence Sqrt Squeeze StringNormalizer Sub Sum Tan Tanh TfIdfVectorizer ThresholdedRelu Tile
  TopK Transpose Trilu Unique Unsqueeze Where Xor`.split(/\s+/),
);
