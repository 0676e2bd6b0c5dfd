// The ModelFiles module: ONNX (protobuf), safetensors and Hugging Face config.json, read and write.
