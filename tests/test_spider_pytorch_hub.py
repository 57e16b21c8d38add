"""PyTorch Hub extraction, on pages from the recorded snapshots."""

from __future__ import annotations

import json

from conftest import snapshot_dir
from spiders.pytorch_hub import extract_model, model_files

RAW = "raw.githubusercontent.com/pytorch/hub/master"


def page(date: str, name: str) -> str:
    return (snapshot_dir("pytorch_hub", date) / RAW / name).read_text()


def test_listing_skips_repository_docs():
    listing = json.loads((snapshot_dir("pytorch_hub", "2020-12-31") / "api.github.com/repos/pytorch/hub/git/trees/master").read_text())
    listing["tree"].append({"path": "SECURITY.md", "type": "blob"})
    files = model_files(listing)
    assert "pytorch_vision_resnet.md" in files
    assert not {"README.md", "CONTRIBUTING.md", "CODE_OF_CONDUCT.md", "SECURITY.md"} & set(files)


def test_front_matter_maps_onto_elements():
    record = extract_model("pytorch_vision_resnet.md", page("2024-04-30", "pytorch_vision_resnet.md"))
    assert record.model_id == "pytorch_vision_resnet"
    elements = record.elements
    assert elements["name"] == "ResNet"
    assert elements["description"] == "Deep residual networks pre-trained on ImageNet"
    assert elements["provider"] == "Pytorch Team"
    assert elements["keywords"] == ["vision", "scriptable"]
    assert elements["source_code"] == "https://github.com/pytorch/vision/blob/main/torchvision/models/resnet.py"
    assert elements["demo"] == "https://huggingface.co/spaces/pytorch/ResNet"
    assert elements["access"] == "torch.hub.load('pytorch/vision', ...)"
    assert "torch.hub.load('pytorch/vision:v0.10.0', 'resnet18', pretrained=True)" in elements["usage"]
    assert any("arxiv.org/abs/1512.03385" in link for link in elements["paper"])
    assert record.raw["front_matter"]["layout"] == "hub_detail"


def test_older_page_without_demo_link_leaves_the_element_absent():
    record = extract_model("pytorch_vision_alexnet.md", page("2019-06-30", "pytorch_vision_alexnet.md"))
    assert record.elements["name"] == "AlexNet"
    assert "demo" not in record.elements
