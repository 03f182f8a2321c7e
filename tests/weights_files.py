"""Weights files in their real format for the tests: a torchvision ResNet-18 state dict with random weights
(a stand-in for ImageNet's ``resnet18-f37072fd.pth``)."""
import torch
import torchvision


def write_resnet18_weights(path, seed=0):
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        state = torchvision.models.resnet18(weights=None).state_dict()
    torch.save(state, path)
    return path
