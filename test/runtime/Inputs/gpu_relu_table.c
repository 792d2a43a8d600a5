/* The model table of the minimal GPU artifact built from gpu_relu.mlir
   (test/runtime/gpu-artifact.test; docs/abi.md). */
const char nnc_model_info[] =
    "{\"format\": \"nnc-model\", \"version\": 1, \"model\": \"gpu_relu\", \"device\": \"gpu\","
    " \"arena_bytes\": 512, \"persistent_bytes\": 0, \"entries\": [\"forward\"],"
    " \"regions\": ["
    "{\"name\": \"forward.x\", \"kind\": \"input\", \"dtype\": \"f32\", \"shape\": [64],"
    " \"offset\": 0, \"bytes\": 256},"
    "{\"name\": \"forward.y\", \"kind\": \"output\", \"dtype\": \"f32\", \"shape\": [64],"
    " \"offset\": 256, \"bytes\": 256}]}";
