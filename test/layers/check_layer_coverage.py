"""Checks that every documented layer is built, trained and checked.

check_layer_coverage.py LANGUAGE.md LAYERS.txt LAYERS_DIR TORCH_SCRIPT

Reads the layer names from the layer table of LANGUAGE.md (the `## Layers`
section: every backquoted name in a row's first cell, e.g. `conv2d(...)`,
`batchnorm1d`) and fails, naming each problem, unless for every layer:
- LAYERS.txt maps it to at least one model (and names no undocumented layer);
- each model LAYERS_DIR/Inputs/<model>.nn exists and calls the layer;
- LAYERS_DIR/Inputs/<model>.safetensors holds PyTorch's `__input` and
  `__output`, and TORCH_SCRIPT defines the model's reference case;
- LAYERS_DIR/<model>.test trains the model (and checks that the loss falls),
  runs it against the reference with `--check`, and runs gradcheck.py on
  its train_step.
"""
import json
import os
import re
import struct
import sys


def documented_layers(path):
    layers, in_section, in_table = [], False, False
    for line in open(path, encoding="utf-8"):
        if line.startswith("## "):
            in_section = line.strip() == "## Layers"
            continue
        if not in_section:
            continue
        if line.startswith("| layer |"):
            in_table = True
            continue
        if in_table and line.startswith("|"):
            cells = line.split("|")
            if set(cells[1].strip()) <= {"-"}:
                continue
            for span in re.findall(r"`([^`]*)`", cells[1]):
                m = re.match(r"[A-Za-z_][A-Za-z0-9_]*", span)
                if m and m.group(0) not in layers:
                    layers.append(m.group(0))
        elif in_table:
            break
    return layers


def read_map(path):
    mapping = {}
    for line in open(path, encoding="utf-8"):
        line = line.split("#", 1)[0].split()
        if line:
            mapping[line[0]] = line[1:]
    return mapping


def calls(source, layer):
    code = "\n".join(l.split("#", 1)[0] for l in source.splitlines())
    return re.search(r"(?<![\w.])%s\s*\(" % layer, code) or \
        re.search(r"\|>\s*%s\b" % layer, code)


def safetensors_names(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return set(json.loads(f.read(n)))


def main():
    doc, map_path, layers_dir, torch_script = sys.argv[1:5]
    layers = documented_layers(doc)
    problems = []
    if len(layers) < 10:
        problems.append(f"{doc}: found only {len(layers)} layers in the layer table")
    mapping = read_map(map_path)
    torch_source = open(torch_script, encoding="utf-8").read()
    checked = {}
    for layer in layers:
        models = mapping.get(layer)
        if not models:
            problems.append(f"layer '{layer}' is documented but no model in "
                            f"{os.path.basename(map_path)} uses it")
            continue
        for model in models:
            nn_path = os.path.join(layers_dir, "Inputs", model + ".nn")
            if not os.path.exists(nn_path):
                problems.append(f"layer '{layer}': {nn_path} does not exist")
                continue
            if not calls(open(nn_path, encoding="utf-8").read(), layer):
                problems.append(f"layer '{layer}': {nn_path} does not call it")
            checked.setdefault(model, nn_path)
    for layer in mapping:
        if layer not in layers:
            problems.append(f"{os.path.basename(map_path)} names '{layer}', "
                            f"which is not in the layer table")
    for model in checked:
        ref = os.path.join(layers_dir, "Inputs", model + ".safetensors")
        if not os.path.exists(ref) or \
                not {"__input", "__output"} <= safetensors_names(ref):
            problems.append(f"model '{model}': no PyTorch reference {ref}")
        if f'("{model}",' not in torch_source:
            problems.append(f"model '{model}': {torch_script} has no case for it")
        test = os.path.join(layers_dir, model + ".test")
        runs = [l for l in open(test, encoding="utf-8")
                if l.startswith("# RUN:")] if os.path.exists(test) else []
        model_file = f"%S/Inputs/{model}.nn"
        needs = {
            "trains it": lambda l: "%nnc train " + model_file in l,
            "checks the loss falls": lambda l: "check_metrics.py" in l and
            "--falling-loss" in l,
            "compares it with PyTorch": lambda l: "%nnc run " + model_file in l and
            "--check" in l and f"%S/Inputs/{model}.safetensors" in l,
            "builds its train_step": lambda l: "%nnc build --train" in l and
            model_file in l,
            "checks its gradients": lambda l: "gradcheck.py" in l,
        }
        for what, test_line in needs.items():
            if not any(test_line(l) for l in runs):
                problems.append(f"model '{model}': {test} never {what}")
    for p in problems:
        print("error:", p)
    if problems:
        sys.exit(1)
    print(f"{len(layers)} documented layers, {len(checked)} models: "
          + " ".join(layers))


if __name__ == "__main__":
    main()
