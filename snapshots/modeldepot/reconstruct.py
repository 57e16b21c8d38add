"""Rebuild the RECONSTRUCTED ModelDepot-via-Wayback replay (see SOURCES.md).

    python snapshots/modeldepot/reconstruct.py

Writes snapshots/modeldepot/wayback/: a replay of web.archive.org (CDX JSON pages and `id_` raw captures)
for modeldepot.io. User/model slugs are real (seen in public READMEs/code); page HTML and metadata values
are reconstructed. CDX `digest` values are the real base32(SHA-1) of the capture bodies written here.
"""
from __future__ import annotations

import base64
import gzip
import hashlib
import html
import json
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE / "wayback"
WB = "web.archive.org"
CDX_QUERY = ("url=modeldepot.io%2F&matchType=prefix&output=json"
             "&fl=urlkey,timestamp,original,mimetype,statuscode,digest,length"
             "&collapse=digest&from=2017&to=2021&limit=10&showResumeKey=true")

# --------------------------------------------------------------------------- model page states
SENTIMENT_V1 = dict(
    user="afowler", slug="sentiment-neuron", title="Sentiment Neuron",
    tagline="Classify the sentiment of a piece of text with OpenAI's sentiment neuron",
    tags=["nlp", "sentiment-analysis", "lstm"], category="Natural Language Processing",
    framework="TensorFlow 1.4", license="MIT", input="Text", output="Sentiment score (-1 to 1)",
    dataset="Amazon product reviews (82 million)", size="330 MB", stars=38,
    added="2018-03-12", updated="2018-05-02",
    download="https://modeldepot.io/assets/uploads/models/models/5c1f9a2e-8d3b-4e6a-b0c7-2f9d1e4a6b83_sentiment-neuron.zip",
    github="https://github.com/openai/generating-reviews-discovering-sentiment",
    paper="https://arxiv.org/abs/1704.01444", demo=None,
    overview=("A multiplicative LSTM trained on Amazon reviews, in which a single unit (the \"sentiment "
              "neuron\") tracks the sentiment of the text read so far.",
              "from encoder import Model\nmodel = Model()\nfeatures = model.transform(['I loved it!'])\n"
              "sentiment = features[:, 2388]"),
)
SENTIMENT_V2 = dict(SENTIMENT_V1, stars=57, updated="2018-11-20",
                    tagline="Detect positive or negative sentiment in English text with OpenAI's sentiment neuron",
                    demo="/afowler/sentiment-neuron/demo")
DELF = dict(
    user="mikeshi", slug="delf", title="DELF: DEep Local Features",
    tagline="Extract local image features for large-scale image retrieval",
    tags=["computer-vision", "image-retrieval", "tensorflow-hub"], category="Computer Vision",
    framework="TensorFlow Hub module", license="Apache-2.0", input="Image", output="Keypoint descriptors",
    dataset="Google-Landmarks", size="48 MB", stars=12, added="2018-04-20", updated="2018-04-20",
    download=None, hub_module="https://modeldepot.io/mikeshi/delf",
    github="https://github.com/tensorflow/models/tree/master/research/delf",
    paper="https://arxiv.org/abs/1612.06321", demo=None,
    overview=("Attentive local feature descriptor suitable for large-scale image retrieval. ModelDepot serves "
              "it as a TensorFlow Hub module.",
              "import tensorflow_hub as hub\nm = hub.Module('https://modeldepot.io/mikeshi/delf')"),
)
ENET = dict(
    user="timosaemann", slug="enet", title="ENet",
    tagline="A deep neural network architecture for real-time semantic segmentation",
    tags=["computer-vision", "semantic-segmentation", "caffe"], category="Computer Vision",
    framework="Caffe", license=None, input="Image", output="Segmentation mask",
    dataset="Cityscapes", size="1.4 MB", stars=9, added="2018-09-03", updated="2018-09-03",
    download="https://modeldepot.io/assets/uploads/models/models/8e2a4c6f-1b3d-4f5a-9c7e-0d2b4f6a8c1e_enet_weights.caffemodel",
    github="https://github.com/TimoSaemann/ENet", paper="https://arxiv.org/abs/1606.02147", demo=None,
    overview=("ENet is an efficient encoder-decoder network for semantic segmentation on embedded devices.",
              "$ cd ENet/caffe-enet && mkdir build && cd build && cmake .. && make all -j8"),
)
ICNET_V1 = dict(
    user="hellochick", slug="icnet", title="ICNet",
    tagline="Real-time semantic segmentation on high-resolution images",
    tags=["computer-vision", "semantic-segmentation"], category="Computer Vision",
    framework="TensorFlow 1.4", license="MIT", input="Image", output="Segmentation mask",
    dataset="Cityscapes, ADE20K", size="27 MB", stars=21, added="2018-10-22", updated="2018-10-22",
    download="https://modeldepot.io/assets/uploads/models/models/3d5f7a9b-2c4e-4a6b-8d0f-1e3a5c7b9d2f_icnet_cityscapes.npy",
    github="https://github.com/hellochick/ICNet-tensorflow", paper="https://arxiv.org/abs/1704.08545",
    demo="/hellochick/icnet/demo",
    overview=("ICNet uses an image cascade to achieve real-time segmentation of 1024x2048 images.",
              "python inference.py --img-path=./input/outdoor_1.png --dataset cityscapes"),
)
ICNET_V2 = dict(ICNET_V1, framework="TensorFlow 1.12", stars=34, updated="2019-06-30", demo=None,
                dataset="Cityscapes, ADE20K, CamVid")


def esc(s):
    return html.escape(str(s), quote=True)


def nav():
    return ('<nav class="navbar"><a class="brand" href="/">ModelDepot</a> <a href="/browse">Browse</a> '
            '<a href="/search">Search</a> <a href="/upload">Upload</a></nav>')


def overview_page(m: dict) -> str:
    base = f"/{m['user']}/{m['slug']}"
    meta = [("framework", "Framework", esc(m["framework"])),
            ("category", "Category", esc(m["category"]))]
    if m.get("license"):
        meta.append(("license", "License", esc(m["license"])))
    meta += [("input-type", "Input", esc(m["input"])), ("output-type", "Output", esc(m["output"])),
             ("dataset", "Trained On", esc(m["dataset"])), ("model-size", "Model Size", esc(m["size"])),
             ("added", "Added", f'<time datetime="{m["added"]}">{m["added"]}</time>'),
             ("updated", "Last Updated", f'<time datetime="{m["updated"]}">{m["updated"]}</time>')]
    dl = "\n".join(f'<div class="meta-row {k}"><dt>{lab}</dt><dd class="{k}">{v}</dd></div>' for k, lab, v in meta)
    links = []
    if m.get("download"):
        links.append(f'<a class="download-button" href="{esc(m["download"])}">Download Model</a>')
    if m.get("hub_module"):
        links.append(f'<code class="hub-module-url">{esc(m["hub_module"])}</code>')
    links.append(f'<a class="github-link" href="{esc(m["github"])}">View on GitHub</a>')
    links.append(f'<a class="paper-link" href="{esc(m["paper"])}">Paper</a>')
    if m.get("demo"):
        links.append(f'<a class="demo-link" href="{esc(m["demo"])}">Live Demo</a>')
    tabs = [("Overview", f"{base}/overview", True), ("Files", f"{base}/files", False)]
    if m.get("demo"):
        tabs.insert(1, ("Demo", m["demo"], False))
    active = ' class="active"'
    tabs_html = "".join(f'<li{active if a else ""}><a href="{h}">{t}</a></li>' for t, h, a in tabs)
    tags = "".join(f'<a class="tag" href="/search?tags={esc(t)}">{esc(t)}</a>' for t in m["tags"])
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{esc(m['title'])} by {esc(m['user'])} | ModelDepot</title>
<meta name="description" content="{esc(m['tagline'])}">
<meta property="og:url" content="https://modeldepot.io{base}/overview">
</head>
<body>
{nav()}
<main class="model-page" data-model-id="{m['user']}/{m['slug']}">
<div class="model-header">
<h1 class="model-title">{esc(m['title'])}</h1>
<a class="model-author" href="/{m['user']}">{esc(m['user'])}</a>
<p class="model-tagline">{esc(m['tagline'])}</p>
<div class="model-tags">{tags}</div>
<button class="star-button" type="button">Star <span class="star-count">{m['stars']}</span></button>
</div>
<ul class="model-tabs">{tabs_html}</ul>
<div class="model-body">
<aside class="model-sidebar">
<dl class="model-meta">
{dl}
</dl>
<div class="model-links">
{chr(10).join(links)}
</div>
</aside>
<article class="model-overview markdown-body">
<h2>Overview</h2>
<p>{esc(m['overview'][0])}</p>
<h2>Usage</h2>
<pre><code>{esc(m['overview'][1])}</code></pre>
</article>
</div>
</main>
<footer class="footer">&copy; ModelDepot</footer>
</body>
</html>
"""


def browse_page(models: list[tuple[dict, str]]) -> str:
    cards = []
    for m, href in models:
        cards.append(
            f'<div class="model-card" data-model="{m["user"]}/{m["slug"]}">\n'
            f'<a class="model-card-title" href="{href}">{esc(m["title"])}</a>\n'
            f'<a class="model-card-author" href="/{m["user"]}">{esc(m["user"])}</a>\n'
            f'<p class="model-card-description">{esc(m["tagline"])}</p>\n'
            f'<span class="framework-badge">{esc(m["framework"])}</span>\n'
            f'<span class="category-badge">{esc(m["category"])}</span>\n'
            f'<span class="star-count">{m["stars"]}</span>\n</div>')
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Browse Pre-trained Models | ModelDepot</title>
</head>
<body>
{nav()}
<main class="browse">
<h1>Browse Models</h1>
<p class="result-count">{len(models)} models</p>
<div class="model-list">
{chr(10).join(cards)}
</div>
</main>
</body>
</html>
"""


def digest(body: bytes) -> str:
    return base64.b32encode(hashlib.sha1(body).digest()).decode()


def length(body: bytes) -> str:
    # WARC record length: gzip'd payload + a WARC/HTTP header block (approximation)
    return str(len(gzip.compress(body, mtime=0)) + 512)


def surt(original: str) -> str:
    u = original.split("://", 1)[1]
    host, _, rest = u.partition("/")
    host = host.split(":")[0]
    if host.startswith("www."):
        host = host[4:]
    return ",".join(reversed(host.split("."))) + ")/" + rest.lower()


def build():
    if ROOT.exists():
        shutil.rmtree(ROOT)
    ROOT.mkdir(parents=True)
    rows = []  # (original, ts, mimetype, status, body or None)

    def cap(original, ts, body: str | bytes | None, mimetype="text/html", status="200", store=True):
        b = body.encode() if isinstance(body, str) else body
        rows.append((original, ts, mimetype, status, b))
        if store and status == "200" and b is not None:
            p = ROOT / WB / "web" / f"{ts}id_" / original.replace("://", ":/", 1)
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(b)

    home = lambda n: f"<!DOCTYPE html><html><head><title>ModelDepot</title></head><body>{nav()}<h1>Find the right " \
                     f"pre-trained model</h1><p>{n} models</p></body></html>\n"
    cap("https://modeldepot.io/", "20180615083005", home(2), store=False)
    cap("https://modeldepot.io/", "20200110072210", home(3), store=False)
    # browse: the listing as it stood at each capture date
    cap("https://modeldepot.io/browse", "20180615083012",
        browse_page([(SENTIMENT_V1, "/afowler/sentiment-neuron/overview"), (DELF, "/mikeshi/delf/overview")]))
    cap("https://modeldepot.io/browse", "20190320114508",
        browse_page([(SENTIMENT_V2, "/afowler/sentiment-neuron/overview"), (DELF, "/mikeshi/delf/overview"),
                     (ENET, "/timosaemann/enet"), (ICNET_V1, "/hellochick/icnet/overview")]))
    cap("https://modeldepot.io/browse", "20200110072233",
        browse_page([(SENTIMENT_V2, "/afowler/sentiment-neuron/overview"), (ENET, "/timosaemann/enet"),
                     (ICNET_V2, "/hellochick/icnet/overview")]))
    # model pages
    cap("https://modeldepot.io/afowler/sentiment-neuron/overview", "20180615083540", overview_page(SENTIMENT_V1))
    cap("https://modeldepot.io/afowler/sentiment-neuron/overview", "20190320115012", overview_page(SENTIMENT_V2))
    cap("https://modeldepot.io/afowler/sentiment-neuron", "20190320115000",
        "<html><body>Redirecting to /afowler/sentiment-neuron/overview</body></html>\n", status="301",
        store=False)
    cap("https://modeldepot.io/mikeshi/delf/overview", "20180615084101", overview_page(DELF))
    cap("https://modeldepot.io/mikeshi/delf/overview", "20200110073002",
        f"<!DOCTYPE html><html><head><title>Not Found | ModelDepot</title></head><body>{nav()}"
        "<h1>404</h1><p>This model could not be found.</p></body></html>\n", status="404", store=False)
    cap("http://modeldepot.io:80/timosaemann/enet", "20190320115530", overview_page(ENET))
    cap("https://modeldepot.io/hellochick/icnet/overview", "20190320120111", overview_page(ICNET_V1))
    cap("https://modeldepot.io/hellochick/icnet/overview", "20200110073340", overview_page(ICNET_V2))
    # non-model URLs that a prefix query also returns
    cap("https://modeldepot.io/search?q=yolo", "20190320120500",
        "<!DOCTYPE html><html><body>search results</body></html>\n", store=False)
    cap("https://modeldepot.io/assets/uploads/models/models/2ab9c908-15c0-438d-905e-e75363c52c72_azFace.zip",
        "20180615090000", b"PK\x03\x04 (zip payload not reproduced)", mimetype="application/zip", store=False)
    cap("https://modeldepot.io/static/js/main.4e8f1a2c.js", "20190320114510", "/* bundle */\n",
        mimetype="application/javascript", store=False)

    table = sorted(((surt(o), ts, o, mt, st, digest(b), length(b)) for o, ts, mt, st, b in rows),
                   key=lambda r: (r[0], r[1]))
    header = ["urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length"]
    page1, page2 = table[:10], table[10:]
    last = page1[-1]
    resume = (last[0].replace(",", "%2C").replace(")", "%29").replace("/", "%2F")
              + "+" + str(int(last[1]) + 1))

    def dump(rs, key=None):
        lines = [json.dumps(header)] + [json.dumps(list(r)) for r in rs]
        if key:
            lines += ["[]", json.dumps([key])]
        return "[" + ",\n".join(lines) + "]\n"

    cdx_dir = ROOT / WB / "cdx" / "search"
    cdx_dir.mkdir(parents=True)
    (cdx_dir / f"cdx?{CDX_QUERY}").write_text(dump(page1, resume))
    (cdx_dir / f"cdx?{CDX_QUERY}&resumeKey={resume}").write_text(dump(page2))
    snap = {"store": "modeldepot", "observed_at": "2026-08-20T00:00:00Z", "reconstructed": True,
            "source": {"repository": "RECONSTRUCTED Wayback Machine replay for modeldepot.io, not a recording "
                                     "(see SOURCES.md)",
                       "built_by": "snapshots/modeldepot/reconstruct.py",
                       "evidence": "snapshots/modeldepot/SOURCES.md",
                       "note": "one replay of web.archive.org as queried on observed_at; the store's own "
                               "history is in the capture timestamps"},
            "capture_dates": ["2018-06-15", "2019-03-20", "2020-01-10"],
            "cdx_rows": len(table), "resume_key": resume}
    (ROOT / "SNAPSHOT.json").write_text(json.dumps(snap, indent=1) + "\n")


if __name__ == "__main__":
    build()
