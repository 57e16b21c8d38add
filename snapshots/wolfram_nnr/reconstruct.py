"""Rebuild the RECONSTRUCTED Wolfram NNR replay snapshots (see SOURCES.md).

    python snapshots/wolfram_nnr/reconstruct.py

Writes snapshots/wolfram_nnr/<date>/ (SNAPSHOT.json + mirror files). Deterministic:
running it twice gives byte-identical output. Model names are real NetModel names
(realdata/wolfram); page structure and most metadata values are reconstructed.
"""
from __future__ import annotations

import html
from urllib.parse import quote
import json
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
SITE = "resources.wolframcloud.com"
API = "www.wolframcloud.com"
LISTING_PATH = ("obj/resourcesystem/api/1.0/SearchResources"
                "?ResourceTypes=NeuralNet&Format=json&Count=1000&WebFiltering=True")
BASE = f"https://{SITE}/NeuralNetRepository"

# --------------------------------------------------------------------------- models
# Each model: one dict of metadata as of 2019-03-01; CHANGES below patch it for 2024.
MODELS = {
    "Very Deep Net for Super-Resolution": dict(
        # Verbatim values from realdata/wolfram/resourceobject_metadata_unidentified_repo
        short="Very-Deep-Net-for-Super-Resolution",
        uuid="7a379346-3f69-40ce-b0df-0f34a9d9ee7b",
        description="Increase the resolution of an image",
        details="Released in 2016, this net uses an architecture inspired by VGG in order to create "
                "super-resolution images.",
        input_domains=["Image"], task=["Image Processing"], keywords=["vdsr", "super resolution"],
        training="A dataset of 291 images, expanded with data augmentation.",
        performance="This model achieves a peak signal-to-noise ratio of 30.76 on the Urban 100 dataset "
                    "with a scale factor of 2.",
        layers=40, params=665921, bytes=2837896,
        citation="J. Kim, J. Kwon Lee and K. Mu Lee, \"Accurate Image Super-Resolution Using Very Deep "
                 "Convolutional Networks\"",
        source="https://github.com/huangzehao/caffe-vdsr",
        rights=("MIT License", "https://opensource.org/licenses/MIT"),
        released="2018-07-26", history=[("1.1.0", "2018-07-26")], wl="11.3",
    ),
    "ResNet-50 Trained on ImageNet Competition Data": dict(
        short="ResNet-50-Trained-on-ImageNet-Competition-Data",
        uuid="4f2b3a5e-1c0d-4e7a-9a61-2d5c0b8e7f10",
        description="Identify the main object in an image",
        details="Released in 2015 by Microsoft Research Asia, the ResNet architecture obtained very "
                "successful results in the ImageNet and MS-COCO competitions using residual connections.",
        input_domains=["Image"], task=["Classification"], keywords=["resnet", "imagenet", "residual"],
        training="ImageNet Large Scale Visual Recognition Challenge 2012 classification dataset, "
                 "consisting of 1.2 million images with 1,000 classes of objects.",
        performance="This model achieves a top-1 accuracy of 75.3% and a top-5 accuracy of 92.2% on the "
                    "original ILSVRC2012 validation set.",
        layers=177, params=25610216, bytes=102592640,
        citation="K. He, X. Zhang, S. Ren, J. Sun, \"Deep Residual Learning for Image Recognition\", "
                 "arXiv:1512.03385 (2015)",
        source="https://github.com/KaimingHe/deep-residual-networks",
        rights=("MIT License", "https://opensource.org/licenses/MIT"),
        released="2017-06-14", history=[("1.0.0", "2017-06-14")], wl="11.1",
    ),
    "VGG-16 Trained on ImageNet Competition Data": dict(
        short="VGG-16-Trained-on-ImageNet-Competition-Data",
        uuid="9b1e7c42-5d3f-4a08-8e2b-6f4a1d7c3e95",
        description="Identify the main object in an image",
        details="Released in 2014 by the Visual Geometry Group at the University of Oxford, this family "
                "of architectures achieved second place for the 2014 ImageNet Classification competition.",
        input_domains=["Image"], task=["Classification"], keywords=["vgg", "imagenet"],
        training="ImageNet Large Scale Visual Recognition Challenge 2012 classification dataset.",
        performance="This model achieves a top-5 error rate of 7.3% on the ILSVRC2012 validation set.",
        layers=32, params=138357544, bytes=553467712,
        citation="K. Simonyan, A. Zisserman, \"Very Deep Convolutional Networks for Large-Scale Image "
                 "Recognition\", arXiv:1409.1556 (2014)",
        source="http://www.robots.ox.ac.uk/~vgg/research/very_deep/",
        rights=("Creative Commons Attribution 4.0 International License",
                "https://creativecommons.org/licenses/by/4.0/"),
        released="2017-06-14", history=[("1.0.0", "2017-06-14")], wl="11.1",
    ),
    "Wolfram ImageIdentify Net V1": dict(
        short="Wolfram-ImageIdentify-Net-V1",
        uuid="1d5f3c8a-7b2e-4f6d-a0c9-3e8b5a2d4f71",
        description="Identify the main object in an image",
        details="Released in 2015, this net was developed by Wolfram Research and powers the "
                "ImageIdentify function.",
        input_domains=["Image"], task=["Classification"], keywords=["imageidentify", "wolfram"],
        training="A proprietary dataset of images from many sources, covering about 4,300 classes.",
        performance=None,
        layers=232, params=15042466, bytes=60193760,
        citation=None, source=None,
        rights=("Wolfram Research", "https://www.wolfram.com/legal/terms/wolfram-cloud.html"),
        released="2017-06-14", history=[("1.0.0", "2017-06-14")], wl="11.1",
    ),
    "ConceptNet Numberbatch Word Vectors V17.06": dict(
        short="ConceptNet-Numberbatch-Word-Vectors-V17.06",
        uuid="c3a9e5d1-2f47-4b8c-9d06-7a1e3f5b8c24",
        description="Represent words as vectors",
        details="Released in 2017, these word representations combine knowledge from the ConceptNet "
                "semantic network with word embeddings trained on text.",
        input_domains=["Text"], task=["Feature Extraction"], keywords=["word embedding", "conceptnet"],
        training="ConceptNet 5.5, word2vec, GloVe and OpenSubtitles 2016 data.",
        performance=None,
        layers=1, params=124500300, bytes=498001204,
        citation="R. Speer, J. Chin, C. Havasi, \"ConceptNet 5.5: An Open Multilingual Graph of General "
                 "Knowledge\", AAAI (2017)",
        source="https://github.com/commonsense/conceptnet-numberbatch",
        rights=("Creative Commons Attribution-ShareAlike 4.0", "https://creativecommons.org/licenses/by-sa/4.0/"),
        released="2018-03-08", history=[("1.0.0", "2018-03-08")], wl="11.3",
    ),
    "GloVe 100-Dimensional Word Vectors Trained on Tweets": dict(
        short="GloVe-100-Dimensional-Word-Vectors-Trained-on-Tweets",
        uuid="5e7c1a3f-8b2d-4c69-a4e0-9f3d6b1c7a58",
        description="Represent words as vectors",
        details="Released in 2014 by the computer science department at Stanford University, this "
                "representation is trained using an original method called Global Vectors (GloVe).",
        input_domains=["Text"], task=["Feature Extraction"], keywords=["glove", "word embedding", "twitter"],
        training="2 billion tweets, 27 billion tokens, 1.2 million vocabulary.",
        performance=None,
        layers=1, params=119352000, bytes=477408128,
        citation="J. Pennington, R. Socher, C. D. Manning, \"GloVe: Global Vectors for Word "
                 "Representation\", EMNLP (2014)",
        source="https://nlp.stanford.edu/projects/glove/",
        rights=("Public Domain Dedication and License v1.0", "https://opendatacommons.org/licenses/pddl/1.0/"),
        released="2017-06-14", history=[("1.0.0", "2017-06-14")], wl="11.1",
    ),
    "Yahoo Open NSFW Model V1": dict(
        short="Yahoo-Open-NSFW-Model-V1",
        uuid="8a2c6e4b-1d9f-4e3a-b7c5-0f6d2a8e1b39",
        description="Determine whether an image is not safe for work",
        details="Released in 2016 by Yahoo, this net is a ResNet-50 variant fine-tuned to detect "
                "pornographic images.",
        input_domains=["Image"], task=["Classification"], keywords=["nsfw", "yahoo"],
        training="A proprietary dataset of images labeled as safe or not safe for work.",
        performance=None,
        layers=178, params=5964226, bytes=23886168,
        citation=None, source="https://github.com/yahoo/open_nsfw",
        rights=("BSD 2-Clause License", "https://opensource.org/licenses/BSD-2-Clause"),
        released="2017-09-20", history=[("1.0.0", "2017-09-20")], wl="11.2",
    ),
    "CycleGAN Horse-to-Zebra Translation Trained on ImageNet Competition Data": dict(
        short="CycleGAN-Horse-to-Zebra-Translation-Trained-on-ImageNet-Competition-Data",
        uuid="2b8d4f6a-3e1c-4a7b-9c05-6d2e8f4a1b73",
        description="Turn horses into zebras in a photo",
        details="Released in 2017, this net uses an encoder-decoder architecture trained with a "
                "cycle-consistency loss to translate between unpaired image collections.",
        input_domains=["Image"], task=["Image Processing"], keywords=["cyclegan", "style transfer", "gan"],
        training="ImageNet images of wild horses and zebras.",
        performance=None,
        layers=94, params=7837699, bytes=31372432,
        citation="J.-Y. Zhu, T. Park, P. Isola, A. A. Efros, \"Unpaired Image-to-Image Translation Using "
                 "Cycle-Consistent Adversarial Networks\", arXiv:1703.10593 (2017)",
        source="https://github.com/junyanz/pytorch-CycleGAN-and-pix2pix",
        rights=("BSD License", "https://github.com/junyanz/pytorch-CycleGAN-and-pix2pix/blob/master/LICENSE"),
        released="2018-06-28", history=[("1.0.0", "2018-06-28")], wl="11.3",
    ),
    "Deep Speech 2 Trained on Baidu English Data": dict(
        short="Deep-Speech-2-Trained-on-Baidu-English-Data",
        uuid="6f1a3c5e-9d7b-4b2e-8a46-1c0e5f7d3b92",
        description="Transcribe an English audio recording",
        details="Released by Baidu in 2015, this speech recognition net uses recurrent layers on top "
                "of convolutions applied to the audio spectrogram.",
        input_domains=["Audio"], task=["Speech Recognition"], keywords=["speech", "asr", "baidu"],
        training="Baidu's internal English speech corpus of about 12,000 hours.",
        performance="This model achieves a word error rate of 15.3% on LibriSpeech test-other.",
        layers=43, params=38296896, bytes=153210368,
        citation="D. Amodei et al., \"Deep Speech 2: End-to-End Speech Recognition in English and "
                 "Mandarin\", arXiv:1512.02595 (2015)",
        source="https://github.com/PaddlePaddle/DeepSpeech",
        rights=("Apache License 2.0", "https://www.apache.org/licenses/LICENSE-2.0"),
        released="2018-11-29", history=[("1.0.0", "2018-11-29")], wl="11.3",
    ),
    "SSD-VGG-300 Trained on PASCAL VOC Data": dict(
        short="SSD-VGG-300-Trained-on-PASCAL-VOC-Data",
        uuid="d4e6a8c2-5b3f-4d1a-9e07-2c8b6f4a1d85",
        description="Detect and localize objects in an image",
        details="Released in 2016, this net performs single-shot object detection on top of a VGG-16 "
                "feature extractor.",
        input_domains=["Image"], task=["Object Detection"], keywords=["ssd", "object detection", "vgg"],
        training="PASCAL VOC2007 and VOC2012 trainval data, 16,551 images with 20 object classes.",
        performance="This model achieves a mean average precision of 77.5% on the VOC2007 test set.",
        layers=144, params=26285486, bytes=105171912,
        citation="W. Liu et al., \"SSD: Single Shot MultiBox Detector\", arXiv:1512.02325 (2016)",
        source="https://github.com/weiliu89/caffe/tree/ssd",
        rights=("MIT License", "https://opensource.org/licenses/MIT"),
        released="2018-04-19", history=[("1.0.0", "2018-04-19")], wl="11.3",
    ),
    "LeNet Trained on MNIST Data": dict(
        short="LeNet-Trained-on-MNIST-Data",
        uuid="e7b9d1f3-4a6c-4e8b-a259-3d7f1b9e5c06",
        description="Identify the handwritten digit in an image",
        details="Released in 1998, LeNet is one of the first convolutional neural networks.",
        input_domains=["Image"], task=["Classification"], keywords=["lenet", "mnist", "digits"],
        training="MNIST database of 60,000 handwritten digit images.",
        performance="This model achieves 99.1% accuracy on the MNIST test set.",
        layers=9, params=431080, bytes=1730080,
        citation="Y. LeCun, L. Bottou, Y. Bengio, P. Haffner, \"Gradient-Based Learning Applied to "
                 "Document Recognition\", Proc. IEEE (1998)",
        source=None,
        rights=("Wolfram Research", "https://www.wolfram.com/legal/terms/wolfram-cloud.html"),
        released="2017-06-14", history=[("1.0.0", "2017-06-14")], wl="11.1",
    ),
}

NEW_2024 = {
    # Real NetModel name; real page slug has NO hyphen in "GPT2" (slug != name with spaces -> '-').
    "GPT-2 Transformer Trained on WebText Data": dict(
        short="GPT2-Transformer-Trained-on-WebText-Data",
        uuid="0c4e8a2f-6b1d-4f3e-9a57-8d2b6e0f4c13",
        description="Generate text in English and represent text as a sequence of vectors",
        details="Released in 2019, this model is a transformer language model trained to predict the "
                "next token of web text.",
        input_domains=["Text"], task=["Language Modeling", "Feature Extraction"],
        keywords=["gpt-2", "transformer", "language model", "openai"],
        training="WebText, 8 million web pages (40 GB of text) linked from Reddit.",
        performance=None,
        layers=158, params=124439808, bytes=497815040,
        citation="A. Radford et al., \"Language Models are Unsupervised Multitask Learners\" (2019)",
        source="https://github.com/openai/gpt-2",
        rights=("Modified MIT License", "https://github.com/openai/gpt-2/blob/master/LICENSE"),
        released="2019-05-23", history=[("1.0.0", "2019-05-23"), ("2.0.0", "2021-07-01")], wl="12.0",
        variants=["124M", "355M", "774M", "1558M"],
    ),
    "YOLO V8 Detect Trained on MS-COCO Data": dict(
        short="YOLO-V8-Detect-Trained-on-MS-COCO-Data",
        uuid="a1c3e5b7-9d2f-4a6c-8e14-5b7d9f1a3c60",
        description="Detect and localize objects in an image",
        details="Released in 2023 by Ultralytics, YOLO V8 is an anchor-free single-stage object detector.",
        input_domains=["Image"], task=["Object Detection"], keywords=["yolo", "object detection", "coco"],
        training="MS-COCO 2017 training data, 118,000 images with 80 object classes.",
        performance="The nano variant achieves a box mAP50-95 of 37.3 on the COCO val2017 set.",
        layers=229, params=3157200, bytes=12734572,
        citation="G. Jocher, A. Chaurasia, J. Qiu, \"YOLO by Ultralytics\" (2023)",
        source="https://github.com/ultralytics/ultralytics",
        rights=("AGPL-3.0", "https://www.gnu.org/licenses/agpl-3.0.en.html"),
        released="2023-06-15", history=[("1.0.0", "2023-06-15")], wl="13.2",
        variants=["N", "S", "M", "L", "X"],
    ),
}

REMOVED_2024 = {"Yahoo Open NSFW Model V1"}


def changes_2024(models: dict) -> dict:
    """The 2019 -> 2024 differences (synthetic, documented in SOURCES.md)."""
    m = json.loads(json.dumps(models))
    for name in REMOVED_2024:
        del m[name]
    # new version + update date + changed size
    v = m["Very Deep Net for Super-Resolution"]
    v["history"].append(("2.0.0", "2022-02-14"))
    v["wl"] = "12.3"
    v["bytes"] = 2666012
    # licence change
    m["SSD-VGG-300 Trained on PASCAL VOC Data"]["rights"] = (
        "Apache License 2.0", "https://www.apache.org/licenses/LICENSE-2.0")
    m["SSD-VGG-300 Trained on PASCAL VOC Data"]["history"].append(("1.1.0", "2020-09-10"))
    # description edit and keyword added, no version change
    w = m["Wolfram ImageIdentify Net V1"]
    w["description"] = "Identify the main object in an image among 4,315 classes"
    w["keywords"] = w["keywords"] + ["classification"]
    m.update(json.loads(json.dumps(NEW_2024)))
    return m


# --------------------------------------------------------------------------- render
def esc(s) -> str:
    return html.escape(str(s), quote=True)


def fmt_date(iso: str) -> str:
    import datetime as dt
    d = dt.date.fromisoformat(iso)
    return d.strftime("%B ") + str(d.day) + d.strftime(", %Y")


def page(name: str, m: dict) -> str:
    slug = m["short"]
    version, updated = m["history"][-1]
    rows = []

    def row(key, label, inner):
        rows.append(f'<div class="metadata-row" data-key="{key}"><dt>{esc(label)}</dt><dd>{inner}</dd></div>')

    row("InputDomains", "Input Domain",
        ", ".join(f'<a href="{BASE}/search/?f={quote("InputDomains:" + x)}">{esc(x)}</a>' for x in m["input_domains"]))
    row("TaskType", "Task Type",
        ", ".join(f'<a href="{BASE}/search/?f={quote("TaskType:" + x)}">{esc(x)}</a>' for x in m["task"]))
    row("Keywords", "Keywords", ", ".join(f'<span class="keyword">{esc(k)}</span>' for k in m["keywords"]))
    row("TrainingSetInformation", "Training Set Information", esc(m["training"]))
    if m.get("performance"):
        row("Performance", "Performance", esc(m["performance"]))
    if m.get("citation"):
        row("Citation", "Source/Reference/Citation", f'<span class="citation">{esc(m["citation"])}</span>')
    if m.get("source"):
        row("Source", "Source", f'<a class="source-link" href="{esc(m["source"])}">{esc(m["source"])}</a>')
    row("Rights", "Rights", f'<a class="rights" href="{esc(m["rights"][1])}">{esc(m["rights"][0])}</a>')
    row("ReleaseDate", "Release Date",
        f'<time datetime="{m["released"]}">{fmt_date(m["released"])}</time>')
    row("LatestUpdate", "Latest Update", f'<time datetime="{updated}">{fmt_date(updated)}</time>')
    row("Version", "Version", esc(version))
    row("WolframLanguageVersionRequired", "Requirements",
        f'Wolfram Language {esc(m["wl"])} or above')

    history = "\n".join(
        f'<li class="version-entry" data-version="{esc(v)}"><span class="version-number">{esc(v)}</span> '
        f'<time datetime="{d}">{fmt_date(d)}</time></li>'
        for v, d in reversed(m["history"]))

    variants = ""
    if m.get("variants"):
        opts = "".join(f'<li><code>"{esc(x)}"</code></li>' for x in m["variants"])
        variants = (f'<section id="netmodel-parameters"><h2>NetModel Parameters</h2>'
                    f'<p>This model consists of a family of individual nets, each identified by a '
                    f'specific parameter combination. Inspect the available parameters:</p>'
                    f'<pre class="wl-input">NetModel["{esc(name)}", "ParametersInformation"]</pre>'
                    f'<ul class="parameter-values">{opts}</ul></section>')

    size_mb = round(m["bytes"] / 1e6, 1)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{esc(name)} - Wolfram Neural Net Repository</title>
<meta name="description" content="{esc(m['description'])}">
<link rel="canonical" href="{BASE}/resources/{slug}/">
</head>
<body class="resource-page neural-net">
<nav class="breadcrumb"><a href="{BASE}/">Wolfram Neural Net Repository</a></nav>
<main id="resource" data-resource-type="NeuralNet" data-resource-uuid="{m['uuid']}" data-shortname="{slug}">
<header class="resource-header">
<h1 class="resource-title">{esc(name)}</h1>
<p class="lead">{esc(m['description'])}</p>
<p class="details">{esc(m['details'])}</p>
<dl class="net-information">
<div class="net-stat" data-key="LayerCount"><dt>Number of layers</dt><dd>{m['layers']:,}</dd></div>
<div class="net-stat" data-key="ParameterCount"><dt>Parameter count</dt><dd>{m['params']:,}</dd></div>
<div class="net-stat" data-key="ByteCount"><dt>Trained size</dt><dd data-bytes="{m['bytes']}">{size_mb} MB</dd></div>
</dl>
</header>
<section id="examples">
<h2>Examples</h2>
<section id="resource-retrieval"><h3>Resource retrieval</h3>
<p>Get the pre-trained net:</p>
<pre class="wl-input">NetModel["{esc(name)}"]</pre>
</section>
{variants}
<section id="basic-usage"><h3>Basic usage</h3>
<p>Apply the net to an example input:</p>
<pre class="wl-input">NetModel["{esc(name)}"][input]</pre>
</section>
<section id="net-information"><h3>Net information</h3>
<p>Inspect the number of parameters of all arrays in the net:</p>
<pre class="wl-input">Information[NetModel["{esc(name)}"], "ArraysElementCounts"]</pre>
</section>
</section>
<aside class="resource-sidebar">
<dl class="resource-metadata">
{chr(10).join(rows)}
</dl>
<section id="resource-history"><h2>Resource History</h2>
<ul class="version-history">
{history}
</ul></section>
<a class="notebook-download" href="{BASE}/resources/{slug}/{slug}.nb">Download Example Notebook</a>
</aside>
</main>
</body>
</html>
"""


def listing(models: dict) -> str:
    items = []
    for name in sorted(models):
        m = models[name]
        items.append({
            "Name": name,
            "ShortName": m["short"],
            "UUID": m["uuid"],
            "ResourceType": "NeuralNet",
            "Description": m["description"],
            "ReleaseDate": m["released"],
            "LatestUpdate": m["history"][-1][1],
            "Version": m["history"][-1][0],
            "DocumentationLink": f"{BASE}/resources/{m['short']}/",
        })
    return json.dumps({"Resources": items}, indent=1, ensure_ascii=False) + "\n"


def write(date: str, models: dict, note: str) -> None:
    root = HERE / date
    if root.exists():
        shutil.rmtree(root)
    snap = {
        "store": "wolfram_nnr",
        "observed_at": f"{date}T00:00:00Z",
        "reconstructed": True,
        "source": {
            "repository": "RECONSTRUCTED from public evidence, not a recording (see SOURCES.md)",
            "built_by": "snapshots/wolfram_nnr/reconstruct.py",
            "evidence": "snapshots/wolfram_nnr/SOURCES.md",
            "model_names": "real NetModel names (realdata/wolfram/netmodel_names_rai-project; "
                           "LIVE-NOTES URL examples)",
            "note": note,
        },
        "model_count": len(models),
    }
    (root).mkdir(parents=True)
    (root / "SNAPSHOT.json").write_text(json.dumps(snap, indent=1) + "\n")
    lp = root / API / LISTING_PATH
    lp.parent.mkdir(parents=True, exist_ok=True)
    lp.write_text(listing(models))
    for name, m in models.items():
        p = root / SITE / "NeuralNetRepository" / "resources" / m["short"]
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(page(name, m))


if __name__ == "__main__":
    write("2019-03-01", MODELS, "11 models; structure reconstructed, not recorded")
    write("2024-06-01", changes_2024(MODELS),
          "12 models: +GPT-2, +YOLO V8 Detect, -Yahoo Open NSFW; VDSR 2.0.0; SSD-VGG-300 licence change; "
          "ImageIdentify description edit")
