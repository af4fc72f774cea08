"""A small TFLite-to-ONNX converter for plain convolutional image networks.

It exists for one job: running MediaPipe's own face landmark model (face_landmark.tflite, shipped
inside the mediapipe package) through ONNX Runtime, which this project already uses, instead of
through MediaPipe's graph (see face_landmarks.py for why). It handles exactly the operators such
networks are made of and refuses anything else by name, so a different model file fails loudly
instead of converting into something wrong.

- Layout: TFLite is NHWC, the ONNX graph is NCHW. Weights are transposed once; the graph takes the
  image as the camera gives it, (1, H, W, 3) uint8 BGR, and casts and transposes it itself.
- The input scaling x / 255 (MediaPipe feeds [0, 1] RGB) and the BGR-to-RGB channel swap are
  folded into the first convolution's weights: exact, because a convolution is linear and its
  zero padding is zero either way. This needs the input to feed one convolution and nothing else.
- float16 weights (DEQUANTIZE of a constant) become float32, the values TFLite computes with.
- SAME padding is written as explicit pads, end-heavy as TensorFlow pads.
- PRELU is written as an equivalent of convolutions and a ReLU (see there): about 35% faster in
  ONNX Runtime on the CPU, outputs equal to float rounding.
"""

from __future__ import annotations

import numpy as np

_SUPPORTED = ("CONV_2D", "DEPTHWISE_CONV_2D", "PRELU", "ADD", "RELU", "MAX_POOL_2D", "PAD", "DEQUANTIZE")


class UnsupportedModel(ValueError):
    pass


def _same_pads(in_hw, kernel, strides, dilations=(1, 1)) -> list[int]:
    begin, end = [], []
    for n, k, s, d in zip(in_hw, kernel, strides, dilations):
        out = -(-n // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
        begin.append(total // 2)
        end.append(total - total // 2)
    return begin + end


def tflite_to_onnx(tflite_bytes: bytes, input_scale: float = 1.0 / 255.0, input_bgr: bool = True):
    """The ONNX ModelProto of a TFLite image network (see the module docstring). Its input is
    (1, H, W, C) uint8; its outputs keep the TFLite names, in NCHW order."""
    import onnx
    import tflite
    from onnx import TensorProto, helper, numpy_helper

    model = tflite.Model.GetRootAsModel(tflite_bytes, 0)
    if model.SubgraphsLength() != 1:
        raise UnsupportedModel(f"{model.SubgraphsLength()} subgraphs; only single-graph models convert")
    g = model.Subgraphs(0)
    op_names = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
    dtypes = {tflite.TensorType.FLOAT32: np.float32, tflite.TensorType.FLOAT16: np.float16,
              tflite.TensorType.INT32: np.int32}

    def name(i: int) -> str:
        return g.Tensors(i).Name().decode()

    def shape(i: int) -> list[int]:
        return [int(v) for v in g.Tensors(i).ShapeAsNumpy()]

    consts: dict[int, np.ndarray] = {}

    def const(i: int) -> np.ndarray:
        if i in consts:
            return consts[i]
        t = g.Tensors(i)
        buf = model.Buffers(t.Buffer())
        if buf.DataLength() == 0:
            raise UnsupportedModel(f"tensor {name(i)} is used as a constant but holds no data")
        if t.Type() not in dtypes:
            raise UnsupportedModel(f"tensor {name(i)} has TFLite type {t.Type()}")
        return np.frombuffer(buf.DataAsNumpy().tobytes(), dtype=dtypes[t.Type()]).reshape(shape(i))

    graph_in = g.Inputs(0)
    n, h, w, c = shape(graph_in)
    nodes = [helper.make_node("Cast", ["image"], ["image_f"], to=TensorProto.FLOAT),
             helper.make_node("Transpose", ["image_f"], [name(graph_in)], perm=[0, 3, 1, 2])]
    inits = []
    folded = False

    def init(key: str, arr: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), key))
        return key

    def activation(out: str, fused: int) -> str:
        """The tensor name the op itself should write, with its fused activation appended."""
        if fused == tflite.ActivationFunctionType.NONE:
            return out
        if fused == tflite.ActivationFunctionType.RELU:
            nodes.append(helper.make_node("Relu", [out + "_pre"], [out]))
            return out + "_pre"
        raise UnsupportedModel(f"fused activation {fused} on {out}")

    def options(op, cls):
        o = cls()
        b = op.BuiltinOptions()
        o.Init(b.Bytes, b.Pos)
        return o

    for k in range(g.OperatorsLength()):
        op = g.Operators(k)
        code = model.OperatorCodes(op.OpcodeIndex())
        kind = op_names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "?")
        if kind not in _SUPPORTED:
            raise UnsupportedModel(f"operator {kind} is not supported (only {', '.join(_SUPPORTED)})")
        ins = [op.Inputs(j) for j in range(op.InputsLength())]
        out = name(op.Outputs(0))
        if kind == "DEQUANTIZE":
            consts[op.Outputs(0)] = const(ins[0]).astype(np.float32)
            continue
        if graph_in in ins and kind != "CONV_2D":
            raise UnsupportedModel(f"the input feeds {kind}; the input scaling folds into a CONV_2D only")
        if kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            depthwise = kind == "DEPTHWISE_CONV_2D"
            o = options(op, tflite.DepthwiseConv2DOptions if depthwise else tflite.Conv2DOptions)
            wt = const(ins[1]).astype(np.float32)
            wt = wt.transpose(3, 0, 1, 2) if depthwise else wt.transpose(0, 3, 1, 2)  # -> (out, in, kh, kw)
            if ins[0] == graph_in:
                wt = wt * np.float32(input_scale)
                if input_bgr:
                    wt = wt[:, ::-1]
                folded = True
            kernel, strides = list(wt.shape[2:]), [o.StrideH(), o.StrideW()]
            dil = [o.DilationHFactor(), o.DilationWFactor()]
            pads = _same_pads(shape(ins[0])[1:3], kernel, strides, dil) if o.Padding() == tflite.Padding.SAME else [0] * 4
            args = [name(ins[0]), init(out + "_w", wt)]
            if len(ins) > 2 and ins[2] >= 0:
                args.append(init(out + "_b", const(ins[2]).astype(np.float32)))
            nodes.append(helper.make_node("Conv", args, [activation(out, o.FusedActivationFunction())],
                                          kernel_shape=kernel, strides=strides, pads=pads, dilations=dil,
                                          group=wt.shape[0] if depthwise else 1))
        elif kind == "PRELU":
            # alpha * x + (1 - alpha) * relu(x), the per-channel products as 1x1 depthwise
            # convolutions: the same function for any alpha, written in operators ONNX Runtime's
            # blocked (NCHWc) CPU layout runs natively. A PRelu node there makes it convert every
            # such tensor out of that layout and back: 0.7 of the landmark network's 1.9 ms.
            alpha = const(ins[1]).astype(np.float32).reshape(-1, 1, 1, 1)
            x, ch = name(ins[0]), alpha.shape[0]
            nodes += [helper.make_node("Relu", [x], [out + "_relu"]),
                      helper.make_node("Conv", [out + "_relu", init(out + "_1ma", 1.0 - alpha)], [out + "_pos"],
                                       kernel_shape=[1, 1], group=ch),
                      helper.make_node("Conv", [x, init(out + "_a", alpha)], [out + "_lin"], kernel_shape=[1, 1], group=ch),
                      helper.make_node("Add", [out + "_pos", out + "_lin"], [out])]
        elif kind == "ADD":
            o = options(op, tflite.AddOptions)
            nodes.append(helper.make_node("Add", [name(ins[0]), name(ins[1])], [activation(out, o.FusedActivationFunction())]))
        elif kind == "RELU":
            nodes.append(helper.make_node("Relu", [name(ins[0])], [out]))
        elif kind == "MAX_POOL_2D":
            o = options(op, tflite.Pool2DOptions)
            kernel, strides = [o.FilterHeight(), o.FilterWidth()], [o.StrideH(), o.StrideW()]
            pads = _same_pads(shape(ins[0])[1:3], kernel, strides) if o.Padding() == tflite.Padding.SAME else [0] * 4
            nodes.append(helper.make_node("MaxPool", [name(ins[0])], [activation(out, o.FusedActivationFunction())],
                                          kernel_shape=kernel, strides=strides, pads=pads))
        elif kind == "PAD":
            p = const(ins[1]).astype(np.int64)[[0, 3, 1, 2]]  # NHWC rows -> NCHW
            nodes.append(helper.make_node("Pad", [name(ins[0]), init(out + "_p", np.concatenate([p[:, 0], p[:, 1]]))], [out]))
    if not folded:
        raise UnsupportedModel("the input scaling could not be folded into a first convolution")
    outputs = []
    for j in range(g.OutputsLength()):
        s = shape(g.Outputs(j))
        nchw = [s[0], s[3], s[1], s[2]] if len(s) == 4 else s
        outputs.append(helper.make_tensor_value_info(name(g.Outputs(j)), TensorProto.FLOAT, nchw))
    graph = helper.make_graph(nodes, "converted", [helper.make_tensor_value_info("image", TensorProto.UINT8, [n, h, w, c])],
                              outputs, inits)
    onnx_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx_model.ir_version = 8
    onnx.checker.check_model(onnx_model)
    return onnx_model
