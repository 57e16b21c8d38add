"""The cross-store view: the element comparison and model matching, which proposes pairs and never merges."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timezone
from itertools import combinations

from storage.crossstore import (
    LIKELY,
    Candidate,
    _block_keys,
    candidates,
    compare_elements,
    handles_of,
    kaggle_handle_keys,
    match_models,
    name_tokens,
    paper_ids,
    score_pair,
    source_repos,
    tfhub_handle_keys,
    tfhub_urls,
)
from storage.writer import SnapshotWriter


def record(engine, store: str, when: str, present: dict[str, dict]) -> None:
    writer = SnapshotWriter(engine, store, datetime.fromisoformat(when).replace(tzinfo=timezone.utc), f"{store}/1")
    writer.start()
    for model_id, elements in present.items():
        writer.add(model_id, elements, {"id": model_id})
    writer.finish("complete")


def candidate(store: str, name: str, paper=None, source=None) -> Candidate:
    return Candidate(store, name.lower(), name, name_tokens(name), paper_ids(paper), source_repos(source))


def test_names_normalise_across_store_conventions():
    assert name_tokens("ResNet50") == name_tokens("tensorflow/resnet_50/classification") == {"resnet", "50"}
    assert name_tokens("MobileNetV2") == name_tokens("google/mobilenet_v2") == {"mobilenet", "v2"}
    assert name_tokens("SqueezeNet 1.1") == {"squeezenet", "1.1"}
    assert paper_ids(["https://arxiv.org/pdf/1512.03385v3.pdf", "https://doi.org/10.1000/XYZ"]) == {"arXiv:1512.03385", "doi:10.1000/xyz"}
    assert source_repos("https://github.com/pytorch/vision/blob/main/torchvision/models/resnet.py") == {"github.com/pytorch/vision"}


def test_scores_weigh_evidence_and_different_numbers_count_against():
    resnet50 = candidate("a", "ResNet50", "https://arxiv.org/abs/1512.03385")
    same = score_pair(resnet50, candidate("b", "tensorflow/resnet_50/classification", "https://arxiv.org/abs/1512.03385"))
    assert same.score >= LIKELY and same.verdict == "likely the same model"
    assert any("1512.03385" in line for line in same.evidence)
    bigger = score_pair(resnet50, candidate("b", "ResNet101", "https://arxiv.org/abs/1512.03385"))
    assert bigger.score < 0.45 and "50 vs 101" in bigger.conflicts[0]
    name_only = score_pair(candidate("a", "AlexNet"), candidate("b", "AlexNet"))
    assert name_only.verdict == "possible match" and name_only.score == 0.5


def test_matching_proposes_pairs_across_stores_only_and_keeps_each_model(engine):
    record(engine, "store_a", "2021-01-01", {
        "a/resnet50": {"name": "ResNet50", "paper": ["https://arxiv.org/abs/1512.03385"]},
        "a/resnet101": {"name": "ResNet101", "paper": ["https://arxiv.org/abs/1512.03385"]},
        "a/bert": {"name": "BERT"},
    })
    record(engine, "store_b", "2021-01-01", {
        "b/resnet_50": {"name": "tensorflow/resnet_50", "paper": "https://arxiv.org/abs/1512.03385"},
        "b/resnet50-dup": {"name": "ResNet-50"},
        "b/gpt": {"name": "GPT-2"},
    })
    matches = match_models(engine, ["store_a", "store_b"])
    pairs = {(m.a.model_id, m.b.model_id): m for m in matches}
    assert set(pairs) == {("a/resnet50", "b/resnet_50"), ("a/resnet50", "b/resnet50-dup")}
    assert pairs[("a/resnet50", "b/resnet_50")].verdict == "likely the same model"
    assert pairs[("a/resnet50", "b/resnet50-dup")].verdict == "possible match"
    # as of a date before the stores existed there is nothing to match
    assert match_models(engine, ["store_a", "store_b"], datetime(2020, 1, 1, tzinfo=timezone.utc)) == []


def test_comparison_counts_shared_and_unique_elements_at_a_date(engine):
    record(engine, "store_a", "2021-01-01", {"x": {"name": "X", "license": "MIT", "paper": "p"}, "y": {"name": "Y", "license": "MIT"}})
    record(engine, "store_b", "2021-01-01", {"z": {"name": "Z", "pricing": "$1"}})
    record(engine, "store_b", "2021-06-01", {"z": {"name": "Z", "pricing": "$1", "license": "EULA"}})
    early = compare_elements(engine, ["store_a", "store_b"], datetime(2021, 3, 1, tzinfo=timezone.utc))
    assert early["shared"] == ["name"] and early["shared_share"] == round(1 / 4, 4)
    assert early["unique"] == {"store_a": ["license", "paper"], "store_b": ["pricing"]}
    assert early["elements"]["paper"] == {"store_a": 0.5, "store_b": 0.0}
    late = compare_elements(engine, ["store_a", "store_b"])
    assert late["shared"] == ["license", "name"] and late["unique"]["store_a"] == ["paper"]
    none = compare_elements(engine, ["store_a", "store_b"], datetime(2020, 1, 1, tzinfo=timezone.utc))
    assert none["tracked"] == [] and none["shared_share"] is None


def test_matching_a_large_store_read_last_finds_every_pair_comparing_all_would(engine):
    families = ["ResNet", "BERT", "MobileNet", "AlexNet", "SqueezeNet"]
    record(engine, "store_a", "2021-01-01", {f"a/{name}": {"name": f"{name} base"} for name in families[:3]})
    record(engine, "store_b", "2021-01-01", {f"b/{name}": {"name": f"{name}-base"} for name in families[1:]})
    large = {f"c/filler-{index}": {"name": f"Quux{index} base"} for index in range(60)}  # `base` is in 60+ models
    large |= {f"c/{name}": {"name": f"{name.lower()}_base", "architecture": name} for name in families}
    record(engine, "store_c", "2021-01-01", large)
    stores, max_block = ["store_c", "store_a", "store_b"], 20

    found = {(m.a.model_id, m.b.model_id): m.score for m in match_models(engine, stores, min_score=0.3, max_block=max_block)}

    every = [candidate for store in stores for candidate in candidates(engine, store)]
    block_size = Counter(key for candidate in every for key in _block_keys(candidate))
    expected = {}
    for a, b in combinations(sorted(every, key=lambda c: (c.store, c.model_id)), 2):
        shared = _block_keys(a) & _block_keys(b)
        if a.store != b.store and any(block_size[key] <= max_block for key in shared):
            match = score_pair(a, b)
            if match.score >= 0.3:
                expected[(a.model_id, b.model_id)] = match.score
    assert found == expected
    assert ("a/BERT", "c/BERT") in found and ("b/SqueezeNet", "c/SqueezeNet") in found
    assert not any("filler" in pair[0] + pair[1] for pair in found)  # `base` alone pairs nothing: its block is too big


def test_tfhub_handles_meet_the_kaggle_variations_they_became():
    assert tfhub_handle_keys("tensorflow/ssd_mobilenet_v1/1/metadata/lite", tails=False) == {
        "tensorflow/ssd-mobilenet-v1-metadata": None, "lite:tensorflow/ssd-mobilenet-v1-metadata": None}
    assert tfhub_handle_keys("google/imagenet/mobilenet_v2_100_224/classification")["google/mobilenet-v2-100-224-classification"] == "imagenet"
    assert kaggle_handle_keys("google/universal-sentence-encoder", "tensorFlow2/large 2, tensorFlow2/universal-sentence-encoder 2") == {
        "google/universal-sentence-encoder-universal-sentence-encoder": "tensorFlow2/universal-sentence-encoder",
        "saved:google/universal-sentence-encoder-universal-sentence-encoder": "tensorFlow2/universal-sentence-encoder",
        "google/universal-sentence-encoder": "tensorFlow2/universal-sentence-encoder",
        "saved:google/universal-sentence-encoder": "tensorFlow2/universal-sentence-encoder",
        "google/universal-sentence-encoder-large": "tensorFlow2/large",
        "saved:google/universal-sentence-encoder-large": "tensorFlow2/large",
    }
    assert set(tfhub_urls("see https://tfhub.dev/tensorflow/lite-model/ssd_mobilenet_v1/1/metadata/2")) == {
        "tensorflow/ssd-mobilenet-v1-metadata", "lite:tensorflow/ssd-mobilenet-v1-metadata"}


def test_compare_lists_tfhub_models_with_the_kaggle_models_they_moved_to(engine):
    """TF Hub handles as the tfhub store names them, Kaggle models as the spider reads the reconstructed answers."""
    from conftest import snapshot_dir
    from spiders.kaggle_models import extract_record

    handles = {
        "google/movenet/singlepose/lightning": "MoveNet singlepose lightning",
        "google/movenet/singlepose/lightning/tfjs": "MoveNet tfjs",
        "tensorflow/ssd_mobilenet_v1/1/metadata/lite": "ssd_mobilenet_v1 metadata",
        "google/imagenet/mobilenet_v2_100_224/classification": "mobilenet_v2_100_224 classification",
        "google/yamnet": "yamnet",
        "google/resnet_50_unrelated": "ResNet 50",
    }
    record(engine, "tfhub", "2021-06-30", {handle: {"name": handle} for handle in handles})
    writer = SnapshotWriter(engine, "kaggle_models", datetime(2026, 1, 14, tzinfo=timezone.utc), "kaggle_models/1")
    writer.start()
    for model_id in ("google/movenet", "tensorflow/ssd-mobilenet-v1", "google/mobilenet-v2", "google/yamnet", "keras/bert"):
        kaggle = extract_record(json.loads((snapshot_dir("kaggle_models", "2026-01-14") / "www.kaggle.com/api/v1/models" / model_id / "get").read_text()))
        writer.add(kaggle.model_id, kaggle.elements, kaggle.raw)
    writer.finish("complete")

    matches = {(m.a.model_id, m.b.model_id): m for m in match_models(engine, ["tfhub", "kaggle_models"])}
    assert set(matches) == {
        ("google/movenet", "google/movenet/singlepose/lightning"),
        ("google/movenet", "google/movenet/singlepose/lightning/tfjs"),
        ("tensorflow/ssd-mobilenet-v1", "tensorflow/ssd_mobilenet_v1/1/metadata/lite"),
        ("google/mobilenet-v2", "google/imagenet/mobilenet_v2_100_224/classification"),
        ("google/yamnet", "google/yamnet"),
    }
    folder_left_out = ("google/mobilenet-v2", "google/imagenet/mobilenet_v2_100_224/classification")
    assert {pair for pair, match in matches.items() if match.verdict != "likely the same model"} == {folder_left_out}  # weaker: a person judges
    assert matches[("google/movenet", "google/movenet/singlepose/lightning/tfjs")].evidence[0] == (
        "Kaggle variation google/movenet/tfJs/singlepose-lightning = TF Hub handle google/movenet/singlepose/lightning/tfjs")  # the same format
    assert matches[("tensorflow/ssd-mobilenet-v1", "tensorflow/ssd_mobilenet_v1/1/metadata/lite")].evidence[0] == (
        "Kaggle variation tensorflow/ssd-mobilenet-v1/tfLite/metadata = TF Hub handle tensorflow/ssd_mobilenet_v1/1/metadata/lite")
    assert "(its folder imagenet/ left out)" in matches[folder_left_out].evidence[0]
    assert matches[("google/yamnet", "google/yamnet")].evidence[0] == "Kaggle variation google/yamnet/tensorFlow2/yamnet = TF Hub handle google/yamnet"
    # any store's model whose source names a tfhub.dev URL carries that handle
    assert handles_of("huggingface", "someone/yamnet-port", "https://tfhub.dev/google/yamnet/1", None)["google/yamnet"].said == "names tfhub.dev/google/yamnet/1"
