"""Rebuild the RECONSTRUCTED Kaggle Models replay snapshots and test fixtures (see SOURCES.md).

    python snapshots/kaggle_models/reconstruct.py

Nothing here was recorded. The answers' STRUCTURE (paths, field names, types, the two value forms) follows
the evidence cited in SOURCES.md; the models are TF Hub models that moved to Kaggle (their owners, slugs and
variations follow the TF Hub handles of snapshots/tfhub) plus a few well-known Kaggle models and synthetic
community models. Ids, version ids, dates, texts, counts and page tokens are synthetic. Deterministic output.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parents[1] / "tests" / "fixtures" / "kaggle_models"
SITE = "https://www.kaggle.com"
API = "www.kaggle.com/api/v1/models"
PAGE_SIZE = 100  # spiders/kaggle_models.py PAGE_SIZE: the replay answers the URLs the spider asks for
FIRST, LATER = "2024-06-02", "2026-01-14"
APACHE = "Apache 2.0"

# (owner, slug, title, author, subtitle, published, paper, provenance, {date: [(framework, variation, version)]})
# A variation's framework and slug follow the TF Hub handle it came from (SOURCES.md, "Models").
TFHUB_MODELS = [
    ("tensorflow", "ssd-mobilenet-v1", "ssd_mobilenet_v1", "TensorFlow", "SSD-based object detection model trained on COCO",
     "2023-11-15T17:04:51.000Z", "https://arxiv.org/abs/1512.02325", "",
     {FIRST: [("tensorFlow2", "fpn-640x640", 1), ("tfLite", "default", 1), ("tfLite", "metadata", 2), ("tfJs", "default", 1)]}),
    ("google", "movenet", "MoveNet", "Google", "A convolutional neural network model that runs on RGB images and predicts human joint locations",
     "2023-11-15T17:31:12.000Z", "", "",
     {FIRST: [("tensorFlow2", "singlepose-lightning", 4), ("tensorFlow2", "singlepose-thunder", 4), ("tfLite", "singlepose-lightning", 1),
              ("tfJs", "singlepose-lightning", 4)],
      LATER: [("tensorFlow2", "singlepose-lightning", 4), ("tensorFlow2", "singlepose-thunder", 4), ("tensorFlow2", "multipose-lightning", 1),
              ("tfLite", "singlepose-lightning", 1), ("tfJs", "singlepose-lightning", 4)]}),
    ("tensorflow", "bert", "BERT", "TensorFlow", "Bidirectional Encoder Representations from Transformers (BERT)",
     "2023-11-15T17:12:40.000Z", "https://arxiv.org/abs/1810.04805", "",
     {FIRST: [("tensorFlow2", "en-uncased-l-12-h-768-a-12", 4), ("tensorFlow2", "en-uncased-l-24-h-1024-a-16", 4),
              ("tensorFlow2", "en-uncased-preprocess", 3)]}),
    ("google", "mobilenet-v2", "MobileNet V2", "Google", "MobileNet V2 image classification and feature vectors, trained on ImageNet",
     "2023-11-15T16:58:02.000Z", "https://arxiv.org/abs/1801.04381", "",
     {FIRST: [("tensorFlow2", "100-224-classification", 2), ("tensorFlow2", "100-224-feature-vector", 2)]}),
    ("google", "universal-sentence-encoder", "Universal Sentence Encoder", "Google", "Encoder of greater-than-word length text trained on a variety of data",
     "2023-11-15T17:20:33.000Z", "https://arxiv.org/abs/1803.11175", "",
     {FIRST: [("tensorFlow2", "universal-sentence-encoder", 2), ("tensorFlow2", "large", 2), ("tensorFlow2", "multilingual", 2)]}),
    ("google", "yamnet", "YAMNet", "Google", "An audio event classifier trained on the AudioSet dataset",
     "2023-11-15T17:40:09.000Z", "", "https://tfhub.dev/google/yamnet/1",
     {FIRST: [("tensorFlow2", "yamnet", 1), ("tfLite", "tflite", 1), ("tfJs", "tfjs", 1)]}),
    ("google", "spice", "SPICE", "Google", "Pitch extractor: Self-supervised Pitch Estimation",
     "2023-11-15T17:44:27.000Z", "https://arxiv.org/abs/1910.11664", "",
     {FIRST: [("tensorFlow2", "spice", 2), ("tfLite", "spice", 1)]}),
    ("tensorflow", "albert", "ALBERT", "TensorFlow", "A Lite BERT for self-supervised learning of language representations",
     "2023-11-15T17:14:55.000Z", "https://arxiv.org/abs/1909.11942", "",
     {FIRST: [("tensorFlow2", "en-base", 3)]}),
    ("google", "nnlm", "NNLM", "Google", "Token based text embedding trained on English Google News 200B corpus",
     "2023-11-15T17:23:18.000Z", "", "",
     {FIRST: [("tensorFlow2", "en-dim128", 2), ("tensorFlow2", "en-dim50", 2)]}),
    ("google", "labse", "LaBSE", "Google", "Language-agnostic BERT sentence embedding model supporting 109 languages",
     "2023-11-15T17:26:41.000Z", "https://arxiv.org/abs/2007.01852", "",
     {FIRST: [("tensorFlow2", "labse", 2)]}),
    ("google", "arbitrary-image-stylization-v1", "arbitrary-image-stylization-v1", "Google", "Fast arbitrary image style transfer",
     "2023-11-15T17:48:36.000Z", "https://arxiv.org/abs/1705.06830", "https://tfhub.dev/google/magenta/arbitrary-image-stylization-v1-256/2",
     {FIRST: [("tensorFlow1", "256", 2)]}),
]
# Kaggle's own models, not from TF Hub. keras/bert's id 2819 is the one fact a test of Kaggle's client states about a live model.
KAGGLE_MODELS = [
    ("keras", "bert", "BERT", "Keras", "BERT models in KerasNLP", "2023-10-03T19:20:11.000Z", "https://arxiv.org/abs/1810.04805", "",
     {FIRST: [("keras", "bert_base_en_uncased", 2), ("keras", "bert_tiny_en_uncased", 2)],
      LATER: [("keras", "bert_base_en_uncased", 3), ("keras", "bert_tiny_en_uncased", 3), ("keras", "bert_base_multi", 1)]}),
    ("google", "gemma", "Gemma", "Google", "Gemma is a family of lightweight open models built from the research behind Gemini",
     "2024-02-21T13:00:00.000Z", "https://arxiv.org/abs/2403.08295", "",
     {FIRST: [("keras", "gemma_2b_en", 2), ("pyTorch", "2b", 3), ("jax", "2b", 2)]}),
    ("google", "gemma-3", "Gemma 3", "Google", "Gemma 3 models, multimodal, with a 128K context window",
     "2025-03-12T08:00:00.000Z", "https://arxiv.org/abs/2503.19786", "",
     {LATER: [("transformers", "gemma-3-1b-it", 1), ("gemmaCpp", "3.0-1b-it", 1)]}),
]
MODEL_IDS = {("tensorflow", "ssd-mobilenet-v1"): 299, ("keras", "bert"): 2819}  # SOURCES.md: the two ids on record
LICENSES = {"gemma": "Gemma", "gemma-3": "Gemma"}
REMOVED_LATER = 3  # community models deleted between the two dates
ADDED_LATER = 5
COMMUNITY = 90  # enough models for the listing to take two pages of PAGE_SIZE
WORDS = ("resnet", "unet", "tabnet", "efficientdet", "wav2vec", "distilbert", "yolo", "segformer", "vit", "lstm", "xgboost", "clip")
TASKS = ("classifier", "detector", "segmenter", "baseline", "finetuned", "embeddings", "ranker", "forecaster")
FRAMEWORKS = ("pyTorch", "tensorFlow2", "keras", "transformers", "scikitLearn", "onnx", "other")
SDK_FRAMEWORK = {  # kagglesdk model_enums.py ModelFramework member names for the short forms used here
    "tensorFlow1": "MODEL_FRAMEWORK_TENSOR_FLOW_1", "tensorFlow2": "MODEL_FRAMEWORK_TENSOR_FLOW_2", "tfLite": "MODEL_FRAMEWORK_TF_LITE",
    "tfJs": "MODEL_FRAMEWORK_TF_JS", "pyTorch": "MODEL_FRAMEWORK_PY_TORCH", "jax": "MODEL_FRAMEWORK_JAX", "keras": "MODEL_FRAMEWORK_KERAS",
    "transformers": "MODEL_FRAMEWORK_TRANSFORMERS", "scikitLearn": "MODEL_FRAMEWORK_SCIKIT_LEARN", "onnx": "MODEL_FRAMEWORK_ONNX",
    "other": "MODEL_FRAMEWORK_OTHER", "gemmaCpp": "MODEL_FRAMEWORK_GEMMA_CPP",
}
SDK_INSTANCE_TYPE = {"unspecified": "MODEL_INSTANCE_TYPE_UNSPECIFIED", "baseModel": "MODEL_INSTANCE_TYPE_BASE_MODEL",
                     "kaggleVariant": "MODEL_INSTANCE_TYPE_KAGGLE_VARIANT", "externalVariant": "MODEL_INSTANCE_TYPE_EXTERNAL_VARIANT"}


def community_models(rng: random.Random) -> list[tuple]:
    """Synthetic user models: owners, slugs and texts invented; one fine-tunes Gemma, one a Hugging Face model."""
    owners = [f"{name}{rng.randint(10, 99)}" for name in ("akhilr", "mlfarmer", "priyanka", "dmitri", "kaggledev", "nadia", "tomasz", "yuki")]
    models = []
    for index in range(COMMUNITY + ADDED_LATER):
        owner, word, task = rng.choice(owners), rng.choice(WORDS), rng.choice(TASKS)
        slug = f"{word}-{task}-{index}"
        framework = rng.choice(FRAMEWORKS)
        day = f"2024-{rng.randint(1, 5):02d}-{rng.randint(1, 28):02d}" if index < COMMUNITY else f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        published = f"{day}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}.{rng.randint(0, 999):03d}Z"
        versions = [(framework, "default", rng.randint(1, 4))]
        dates = {FIRST: versions} if index < COMMUNITY else {LATER: versions}
        models.append((owner, slug, f"{word.upper()} {task}", owner, f"A {word} {task} for a Kaggle competition", published, "", "", dates))
    return models


def instance(owner, slug, framework, variation, version, ids, later: bool, license_name: str, base: dict | None) -> dict:
    display = framework[0].upper() + framework[1:]  # the url's framework segment, display-cased as in issue #586 ("TfLite")
    answer = {
        "hasBaseModelInstanceInformation": base is not None,
        "id": ids["instance"],
        "slug": variation,
        "framework": SDK_FRAMEWORK[framework] if later else framework,
        "fineTunable": framework in ("keras", "pyTorch", "jax", "transformers"),
        "overview": f"{variation} variation of {owner}/{slug}.",
        "usage": f"```python\nimport kagglehub\npath = kagglehub.model_download(\"{owner}/{slug}/{framework}/{variation}\")\n```\n",
        "downloadUrl": f"/models/{owner}/{slug}/{display}/{variation}/{version}/download",
        "versionId": ids["version"],
        "versionNumber": version,
        "trainingData": ["COCO 2017"] if "ssd" in slug else (["AudioSet"] if slug == "yamnet" else []),
        "url": f"{SITE}/models/{owner}/{slug}/{display}/{variation}",
        "licenseName": license_name,
        "modelInstanceType": ("kaggleVariant" if base.get("owner") else "externalVariant") if base else "unspecified",
        "baseModelInstanceInformation": base if base and base.get("owner") else None,
        "externalBaseModelUrl": base.get("url", "") if base else "",
    }
    if later:
        del answer["hasBaseModelInstanceInformation"]  # not a field of kagglesdk's ApiModelInstance
        answer["modelInstanceType"] = SDK_INSTANCE_TYPE[answer["modelInstanceType"]]
        answer["totalUncompressedBytes"] = ids["bytes"]
        if answer["baseModelInstanceInformation"]:
            answer["baseModelInstanceInformation"] = {**answer["baseModelInstanceInformation"], "framework": SDK_FRAMEWORK[answer["baseModelInstanceInformation"]["framework"]]}
        answer = sdk_form(answer)
    return answer


def sdk_form(value):
    """kagglesdk's serialiser: fields equal to their default left out (`to_dict(ignore_defaults=True)`)."""
    if isinstance(value, dict):
        return {key: sdk_form(item) for key, item in value.items() if item not in ("", 0, False, None, [], {})}
    if isinstance(value, list):
        return [sdk_form(item) for item in value]
    return value


def model_answer(entry: tuple, date: str, rng: random.Random, number: int) -> dict | None:
    owner, slug, title, author, subtitle, published, paper, provenance, by_date = entry
    dated = [day for day in sorted(by_date) if day <= date]
    if not dated:
        return None
    later = date == LATER
    model_number = MODEL_IDS.get((owner, slug), 1000 + number * 7)
    instances = []
    for position, (framework, variation, version) in enumerate(by_date[dated[-1]]):
        base = None  # two kinds of derived community model: a Kaggle variant of Gemma, an external variant
        if owner not in ("google", "tensorflow", "keras") and position == 0 and number % 17 == 3:
            base = {"id": 401, "owner": {"id": 1068, "isOrganization": True, "name": "Google", "slug": "google"}, "modelSlug": "gemma",
                    "instanceSlug": "gemma_2b_en", "framework": "keras"}
        elif owner not in ("google", "tensorflow", "keras") and position == 0 and number % 17 == 9:
            base = {"url": "https://huggingface.co/distilbert/distilbert-base-uncased"}
        ids = {"instance": model_number * 10 + position, "version": model_number * 100 + position * 10 + version,
               "bytes": rng.randint(2_000_000, 900_000_000)}
        instances.append(instance(owner, slug, framework, variation, version, ids, later, LICENSES.get(slug, APACHE), base))
    description = f"# {title}\n\n{subtitle}.\n" + (f"\nPaper: {paper}\n" if paper else "")
    answer = {
        "id": model_number,
        "ref": f"{owner}/{slug}",
        "title": title,
        "subtitle": subtitle,
        "author": author,
        "slug": slug,
        "isPrivate": False,
        "description": description,
        "instances": instances,
        "tags": [{"ref": "task/computer-vision" if "vision" in subtitle.lower() or "image" in subtitle.lower() else "task/nlp",
                  "name": "Computer Vision" if "vision" in subtitle.lower() or "image" in subtitle.lower() else "NLP"}],
        "publishTime": published,
        "provenanceSources": provenance,
        "url": f"{SITE}/models/{owner}/{slug}",
    }
    if later:
        answer["modelVersionLinks"] = []
        answer["voteCount"] = rng.randint(0, 40) if owner not in ("google", "tensorflow", "keras") else rng.randint(40, 900)
        answer["authorImageUrl"] = f"https://storage.googleapis.com/kaggle-avatars/thumbnails/{model_number}-kg.png"
        answer["updateTime"] = f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:00:00.000Z"
        if answer["updateTime"] < published:
            answer["updateTime"] = published
        answer = sdk_form(answer)
    return answer


def listing_entry(answer: dict) -> dict:
    """A listing entry: the model without its instances and description (the spider reads only `ref` there)."""
    return {key: value for key, value in answer.items() if key not in ("instances", "description")}


def write_json(path: Path, value) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def build(date: str) -> int:
    rng = random.Random(f"kaggle-{date}")
    folder = HERE / date
    shutil.rmtree(folder, ignore_errors=True)
    community = community_models(random.Random("kaggle-community"))
    removed = {entry[:2] for entry in community[:: COMMUNITY // REMOVED_LATER][:REMOVED_LATER]} if date == LATER else set()
    answers = []
    for number, entry in enumerate(TFHUB_MODELS + KAGGLE_MODELS + community):
        answer = None if entry[:2] in removed else model_answer(entry, date, rng, number)
        if answer is not None:
            answers.append(answer)
            write_json(folder / API / entry[0] / entry[1] / "get", answer)
    answers.sort(key=lambda answer: (answer["publishTime"], answer["ref"]), reverse=True)  # createTime: newest first
    pages = [answers[start : start + PAGE_SIZE] for start in range(0, len(answers), PAGE_SIZE)]
    tokens = [None] + [f"CAIQ{index * PAGE_SIZE}aBc{date.replace('-', '')}" for index in range(1, len(pages))]
    for index, page in enumerate(pages):
        body = {"models": [listing_entry(answer) for answer in page], "nextPageToken": tokens[index + 1] if index + 1 < len(pages) else "",
                "totalResults": len(answers)}
        if date == LATER:
            body = sdk_form(body)
        query = "sortBy=createTime&pageSize=100" + (f"&pageToken={tokens[index]}" if tokens[index] else "")
        write_json(folder / API / f"list?{query}", body)
    write_json(folder / "SNAPSHOT.json", {
        "store": "kaggle_models",
        "observed_at": f"{date}T12:00:00Z",
        "reconstructed": True,
        "source": {
            "repository": "RECONSTRUCTED from kagglesdk's published types and one pasted 2024 answer, not a recording (see SOURCES.md)",
            "built_by": "snapshots/kaggle_models/reconstruct.py",
            "evidence": "snapshots/kaggle_models/SOURCES.md",
            "value_form": "2024 server form: defaults sent, short enums" if date == FIRST else "kagglesdk form: defaults left out, enum member names",
        },
        "models": len(answers),
        "listing_pages": len(pages),
    })
    return len(answers)


def build_fixtures() -> None:
    """The same `get` answer in both value forms, for the test that they read the same."""
    entry = TFHUB_MODELS[0]
    for date, name in ((FIRST, "server_form"), (LATER, "sdk_form")):
        answer = model_answer((*entry[:-1], {FIRST: entry[-1][FIRST]}), date, random.Random("fixture"), 0)
        answer.pop("updateTime", None)  # fields the 2024 answer lacked, left out of both: only the form differs
        answer.pop("voteCount", None)
        answer.pop("authorImageUrl", None)
        for item in answer["instances"]:
            item.pop("totalUncompressedBytes", None)
        write_json(FIXTURES / f"tensorflow_ssd-mobilenet-v1_{name}.json", answer)


if __name__ == "__main__":
    for day in (FIRST, LATER):
        print(day, build(day), "models")
    build_fixtures()
