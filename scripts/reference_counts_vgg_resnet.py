#!/usr/bin/env python3
"""Parameter counts of examples/vgg.nn (VGG-11/13/16/19 with batch norm, CIFAR-10) and
examples/resnet20.nn (ResNet-20 with projection shortcuts), built in PyTorch.

The counts are checked by test/report/vgg-resnet20-counts.test; rerun this script
(/usr/bin/python3 scripts/reference_counts_vgg_resnet.py, needs torch) to regenerate them.
Batchnorm weight and bias count as parameters; running statistics are buffers.
"""
import torch.nn as nn

CFGS = {
    11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    13: [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
         512, 512, 512, "M"],
    19: [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
         512, 512, 512, 512, "M"],
}


def vgg(cfg, classes=10):
    layers, c = [], 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2))
        else:
            layers += [nn.Conv2d(c, v, 3, padding=1), nn.BatchNorm2d(v), nn.ReLU()]
            c = v
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(512, classes))


class Basic(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                          nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.bn2(self.conv2(self.bn1(self.conv1(x)).relu()))
        return (y + self.shortcut(x)).relu()


def resnet20(blocks=3, widths=(16, 32, 64), classes=10):
    layers, c = [nn.Conv2d(3, widths[0], 3, padding=1, bias=False),
                 nn.BatchNorm2d(widths[0]), nn.ReLU()], widths[0]
    for w in widths:
        for i in range(blocks):
            layers.append(Basic(c, w, 2 if i == 0 and w != widths[0] else 1))
            c = w
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, classes))


def count(model):
    return sum(p.numel() for p in model.parameters())


for depth, cfg in CFGS.items():
    print(f"vgg{depth}_bn: {count(vgg(cfg)):,}")
print(f"resnet20: {count(resnet20()):,}")
