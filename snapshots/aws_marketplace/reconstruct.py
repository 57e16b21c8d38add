"""Rebuild the RECONSTRUCTED AWS Marketplace replay snapshots (see SOURCES.md).

    python snapshots/aws_marketplace/reconstruct.py

Products, sellers, ids, GUIDs and prices are synthetic; the page/blob STRUCTURE follows the public
evidence cited in SOURCES.md. Deterministic output.
"""
from __future__ import annotations

import base64
import copy
import json
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
HOST = "aws.amazon.com"
ORIGIN = f"https://{HOST}"
PAGE_ID = "/lib/frontend/pages/ppV2/listing"          # [I] real value for a live listing unknown
GONE_PAGE_ID = "/lib/frontend/pages/ppV2/default"     # [S]

# Synthetic category GUIDs. ML parent and children; the parent is only ever a parentCategoryId.
ML = "7e2b91c4-5a0d-4c3e-9f18-2d6a8b3c0e51"
CAT = {
    "nlp": ("Natural Language Processing", "1f4c7a92-3b6e-4d05-8a2c-9e7b1d3f5a60", ML),
    "text": ("Text", "a83d5e17-6c2b-4f90-b1e4-3d7a9c5e2f08", ML),
    "cv": ("Computer Vision", "5b9e2d4a-7f1c-4a83-9d6e-0c2b8f4a6d13", ML),
    "speech": ("Speech Recognition", "c2f6a8d0-4e3b-4b71-a5c9-7d1e3f9b2a46", ML),
    "forecast": ("Forecasting", "9d3a5c7e-1b4f-4e62-8c0a-6f2d4b8e1c97", ML),
    "healthcare": ("Healthcare & Life Sciences", "e6a1c3f5-8d2b-4a94-b7e0-1c5d9f3a7b28",
                   "48bf064f-2c7e-4d1a-9b35-8e6f0a2c4d71"),
    "storage": ("Backup & Recovery", "3c7e9a1d-5f2b-4e86-a0d4-9b1f7c3e5a62",
                "579164ab-6e2d-4f0b-8c93-1a5e7d9b3f04"),
    "os": ("Operating Systems", "b4d8f2a6-1c9e-4b37-8e5a-0d3f7b1c9e85",
           "579164ab-6e2d-4f0b-8c93-1a5e7d9b3f04"),
    "fin": ("Finance & Accounting", "d0c382f0-7183-4a48-99dd-b18d2507e18d",
            "f1d47436-8a98-40db-b687-696723ec32cb"),
}
FT_NAME = {
    "SAGEMAKER_MODEL": "SageMaker Model", "SAGEMAKER_ALGORITHM": "SageMaker Algorithm",
    "SAAS": "SaaS", "AMAZON_MACHINE_IMAGE": "Amazon Machine Image", "API": "API-Based Agents & Tools",
}
STD_EULA = "https://s3.amazonaws.com/aws-mp-standard-contracts/Standard-Contact-for-AWS-Marketplace-2022-07-14.pdf"


def cats(*keys):
    return [{"categoryName": CAT[k][0], "categoryId": CAT[k][1], "parentCategoryId": CAT[k][2]} for k in keys]


def sm_cards(prices: dict, batch=True, training: dict | None = None, free_desc_sentinel=False):
    """SageMaker per-instance rate cards (dimensionKey suffixes .m.i.r / .m.i.b / .a.t)."""
    cards = []
    for inst, price in prices.items():
        cards.append({
            "dimensionKey": f"{inst}.m.i.r", "displayName": f"{inst} Inference (Real-Time)",
            "description": "!undefined" if free_desc_sentinel else
            f"Model inference on the {inst} instance type, real-time mode",
            "unit": "HostHrs", "price": price,
            "dimensionLabels": [{"type": "SAGEMAKER_OPTION", "value": "Model Real-Time Inference"}],
            "regionalPrices": []})
        if batch:
            cards.append({
                "dimensionKey": f"{inst}.m.i.b", "displayName": f"{inst} Inference (Batch)",
                "description": f"Model inference on the {inst} instance type, batch mode",
                "unit": "HostHrs", "price": price,
                "dimensionLabels": [{"type": "SAGEMAKER_OPTION", "value": "Model Batch Transform"}],
                "regionalPrices": []})
    for inst, price in (training or {}).items():
        cards.append({
            "dimensionKey": f"{inst}.a.t", "displayName": f"{inst} Algorithm Training",
            "description": f"Algorithm training on the {inst} instance type",
            "unit": "HostHrs", "price": price,
            "dimensionLabels": [{"type": "SAGEMAKER_OPTION", "value": "Algorithm Training"}],
            "regionalPrices": []})
    return cards


def usage_term(cards, term_id):
    return {"termType": "UsageBasedPricingTerm", "id": term_id, "currencyCode": "USD",
            "rateCards": cards, "rateCardCount": len(cards), "totalRateCards": len(cards)}


def legal(kind="StandardEula", url=STD_EULA, tid="term-legal"):
    return {"termType": "LegalTerm", "id": tid, "documents": [{"type": kind, "url": url}]}


def support_term(text, tid="term-support"):
    return {"termType": "SupportTerm", "id": tid, "refundPolicy": text}


def fo(fid, ftype, version, created, notes=None, usage=None, rec=None, content=None):
    o = {"fulfillmentOptionId": fid, "fulfillmentOptionName": f"{ftype.lower()}-{version}",
         "fulfillmentOptionType": {"fulfillmentOptionTypeId": ftype, "fulfillmentOptionTypeName": FT_NAME[ftype]},
         "fulfillmentOptionVersion": version, "creationDate": created}
    if notes is not None:
        o["releaseNotes"] = notes
    if usage is not None:
        o["usageInstructions"] = usage
    if rec is not None:
        o["recommendation"] = rec
    if content is not None:
        o["supportedContentTypes"] = content
    return o


def reviews(avg=0, total=0, native=None, g2=None):
    d = {"AverageCustomerRating": avg, "TotalReviews": total, "ExternalReviewsCount": g2[1] if g2 else 0,
         "ProviderSummaries": [{"ProviderName": "AWSMP", "AverageRating": native if native is not None else avg,
                                "Count": total,
                                "Url": "https://aws.amazon.com/marketplace/reviews/reviews-list/{id}"}],
         "SyndicatedReviews": {}}
    if g2:
        d["SyndicatedReviews"]["G2"] = {"AverageCustomerRating": g2[0], "TotalReviews": g2[1],
                                        "ExternalUrl": "https://www.g2.com/products/{id}/reviews"}
    return d


# ------------------------------------------------------------------------- products (date A)
P = {}
P["prodview-k3vq7ztm2xw4a"] = dict(
    name="Sentiment Analysis for Product Reviews", seller=("Nimbus Text Analytics", "seller-nimbus7q2"),
    product_id="prod-4nq8vz2kxm7ta",
    short="Classifies English product reviews as positive, negative or neutral, with a confidence score.",
    long="Nimbus Sentiment is a fine-tuned DistilBERT model packaged for Amazon SageMaker.\n\n"
         "**Input:** JSON lines with a `text` field. **Output:** label and score per line.",
    highlights=["Fine-tuned DistilBERT, 66M parameters", "Batch and real-time inference",
                "Accuracy 93.1% on the Amazon Reviews Polarity test set"],
    categories=cats("nlp", "text"),
    options=[fo("fo-7c1e0a44", "SAGEMAKER_MODEL", "GPU", "2025-03-11T17:02:44.512Z",
                notes="Initial release.", rec={"realTimeInferenceInstanceType": "ml.g5.xlarge",
                                               "batchTransformInstanceType": "ml.g5.xlarge"},
                content=["application/jsonlines"],
                usage="Deploy the model package, then invoke the endpoint with application/jsonlines input."),
             fo("fo-7c1e0a45", "SAGEMAKER_MODEL", "CPU", "2025-03-11T17:05:02.118Z",
                notes="Initial release.", rec={"realTimeInferenceInstanceType": "ml.m5.xlarge",
                                               "batchTransformInstanceType": "ml.m5.xlarge"},
                content=["application/jsonlines"],
                usage="Deploy the model package, then invoke the endpoint with application/jsonlines input.")],
    terms=[usage_term(sm_cards({"ml.m5.xlarge": "0.25000000", "ml.g5.xlarge": "0.90000000"}), "term-usage-1"),
           legal(), support_term("No refunds. Cancel the subscription at any time.")],
    reviews=reviews(), badges=["DEPLOYED_ON_AWS"],
    support=[("CREATOR_SUPPORT", "EMAIL", None, "support@nimbus-text.example"),
             ("AWS_SUPPORT", "LINK", "AWS infrastructure support", "https://aws.amazon.com/premiumsupport/")],
    links=[("LINK", "Model card", "https://nimbus-text.example/models/sentiment")],
    usage_links=[("LINK", "Sample notebook", "https://github.com/nimbus-text-example/sagemaker-sentiment")],
)
P["prodview-p8d2rj5nfy6sc"] = dict(
    name="Invoice and Receipt OCR", seller=("Ledgerline AI", "seller-ledger3k9"),
    product_id="prod-8x2mwq5rtk4ne",
    short="Extracts vendor, date, totals and line items from scanned invoices and receipts.",
    long="A layout-aware OCR model (LayoutLMv3 backbone) fine-tuned on 120,000 labelled invoices.",
    highlights=["Key-value and table extraction", "PNG, JPEG and PDF input"],
    categories=cats("cv", "text"),
    options=[fo("fo-2b7d9e10", "SAGEMAKER_MODEL", "1.4.0", "2025-05-20T09:14:03.000Z",
                notes="Improved line-item recall on multi-page PDFs.",
                rec={"realTimeInferenceInstanceType": "ml.g4dn.xlarge",
                     "batchTransformInstanceType": "ml.g4dn.2xlarge"},
                content=["image/png", "image/jpeg", "application/pdf"])],
    terms=[usage_term(sm_cards({"ml.g4dn.xlarge": "1.20000000", "ml.g4dn.2xlarge": "1.80000000"}), "term-usage-1"),
           {"termType": "FreeTrialPricingTerm", "id": "term-trial-1", "duration": "P14D"},
           legal("CustomEula", "https://ledgerline.example/legal/eula-2025.pdf"),
           support_term("Refunds within 30 days of first usage on request to billing@ledgerline.example.")],
    reviews=reviews(4, 2), badges=["FREE_TRIAL"],
    support=[("CREATOR_SUPPORT", "TEXT", None, "Email support@ledgerline.example, 9am-5pm CET, Mon-Fri.")],
    links=[], usage_links=[],
)
P["prodview-b6wz4mtq9hr2e"] = dict(
    name="AutoML Tabular Classifier", seller=("Gradient Grove", "seller-grove5m1"),
    product_id="prod-6d1ktz9vx3wqa",
    short="Trains gradient-boosted and neural ensembles on your CSV data and deploys the best model.",
    long="Bring a CSV with a `label` column. The algorithm searches XGBoost, LightGBM and MLP configurations.",
    highlights=["Automatic feature preprocessing", "Training and inference on CPU"],
    categories=cats("forecast"),
    options=[fo("fo-9e3a1c77", "SAGEMAKER_ALGORITHM", "1.2.1", "2024-11-02T12:00:00.000Z",
                notes="Fixes categorical encoding of unseen levels.",
                usage="Training channel 'train' (text/csv, header row, column 'label'). Hyperparameter "
                      "'max_trials' (default 20). Inference accepts text/csv without the label column.",
                rec={"trainingInstanceType": "ml.m5.2xlarge", "realTimeInferenceInstanceType": "ml.m5.large"},
                content=["text/csv"])],
    terms=[usage_term(sm_cards({"ml.m5.large": "0.10000000"}, training={"ml.m5.2xlarge": "0.50000000"}),
                      "term-usage-1"),
           legal(), support_term("No refunds.")],
    reviews=reviews(), badges=[],
    support=[("CREATOR_SUPPORT", "LINK", "Docs", "https://gradientgrove.example/docs")],
    links=[], usage_links=[("LINK", None, "https://gradientgrove.example/automl-quickstart")],
)
P["prodview-f2n7xk4ds8qlu"] = dict(
    name="Face Detection Lite", seller=("OpenEye Labs", "seller-openeye2p"),
    product_id="prod-3h7wzd2qkn9vs",
    short="Free lightweight face detector returning bounding boxes and five landmarks.",
    long="RetinaFace-MobileNet0.25, exported for SageMaker. Free to use; infrastructure charges apply.",
    highlights=["Free software", "Runs on CPU instances"],
    categories=cats("cv"),
    options=[fo("fo-4f8b2d61", "SAGEMAKER_MODEL", "1.0", "2023-08-30T08:30:00.000Z",
                notes="Initial release.", content=["image/jpeg"])],
    terms=[usage_term(sm_cards({"ml.m5.large": "0.00000000", "ml.c5.xlarge": "0.00000000"},
                               free_desc_sentinel=True), "term-usage-1"),
           legal(), support_term("This product is free; no refunds apply.")],
    reviews=reviews(5, 1), badges=["FREE_TIER"],
    support=[("CREATOR_SUPPORT", "LINK", "Issues", "https://github.com/openeye-labs-example/face-lite/issues")],
    links=[("LINK", "Source code", "https://github.com/openeye-labs-example/face-lite")], usage_links=[],
)
P["prodview-t5c9hm3wa7jgv"] = dict(
    name="English Speech-to-Text (Telephony)", seller=("Callwave Speech", "seller-callwv8d"),
    product_id="prod-9q4nxe7wtm2kd",
    short="Transcribes 8 kHz call-centre audio in English with speaker turns.",
    long="Conformer-CTC model trained on 20,000 hours of telephony speech.",
    highlights=["8 kHz telephony audio", "Word-level timestamps"],
    categories=cats("speech"),
    options=[fo("fo-1a6c8e32", "SAGEMAKER_MODEL", "2.1", "2024-02-14T15:45:10.000Z",
                notes="Adds word-level timestamps.", content=["audio/wav"])],
    terms=[usage_term(sm_cards({"ml.g4dn.xlarge": "2.00000000"}, batch=False), "term-usage-1"),
           legal(), support_term("Refunds at seller discretion.")],
    reviews=reviews(3.5, 4), badges=[],
    support=[("CREATOR_SUPPORT", "EMAIL", None, "help@callwave.example")], links=[], usage_links=[],
)
P["prodview-r4y8ne2kv6dzq"] = dict(
    name="Retail Demand Forecasting Model", seller=("Shelfwise Analytics", "seller-shelf6w3"),
    product_id="prod-2w8kqn5zxt7mb",
    short="Forecasts daily SKU-level demand 28 days ahead from sales history and promotions.",
    long="Temporal Fusion Transformer pre-trained on retail data; fine-tunes per store at inference time.",
    highlights=["Probabilistic P10/P50/P90 forecasts", "Handles promotions and holidays"],
    categories=cats("forecast"),
    options=[fo("fo-6d2f9b84", "SAGEMAKER_MODEL", "3.0.2", "2025-01-09T10:20:30.000Z",
                notes="Faster batch inference.", content=["text/csv", "application/json"])],
    terms=[usage_term(sm_cards({"ml.m5.2xlarge": "1.50000000", "ml.c5.4xlarge": "2.10000000"}), "term-usage-1"),
           legal(), support_term("Full refund within 14 days of subscription.")],
    reviews=reviews(5, 35, native=4.5, g2=(4, 12)), badges=["DEPLOYED_ON_AWS"],
    support=[("CREATOR_SUPPORT", "LINK", "Support portal", "https://shelfwise.example/support")],
    links=[], usage_links=[],
)
# Rendered by inline JavaScript only (no vike_pageContext): see js_page().
P["prodview-j7x3wq9lb5tmc"] = dict(
    name="Clinical Entity Extraction", seller=("MedLex Labs", "seller-medlex4r"),
    product_id="prod-5k9tzw2nqx8vd",
    short="Finds medications, dosages, conditions and procedures in clinical notes.",
    long="BioBERT-based named entity recognition for English clinical text.",
    highlights=["12 entity types", "Negation detection"],
    categories=cats("nlp", "healthcare"),
    options=[fo("fo-3e5a7c90", "SAGEMAKER_MODEL", "1.0.0", "2025-04-02T13:00:00.000Z",
                notes="Initial release.", usage="Invoke with text/plain; returns JSON entities.",
                content=["text/plain"])],
    terms=[usage_term(sm_cards({"ml.m5.large": "0.20000000", "ml.m5.xlarge": "0.30000000"}, batch=False),
                      "term-usage-1"),
           legal(), support_term("No refunds.")],
    reviews=reviews(4, 3), badges=[],
    support=[("CREATOR_SUPPORT", "EMAIL", None, "support@medlex.example")], links=[], usage_links=[],
    js_only=True,
)
# ------------------------------------------------------------------------- non-ML products
P["prodview-a4h6tpz8ce3ky"] = dict(
    name="Cloud Backup Manager", seller=("Vaultline", "seller-vault1x5"), product_id="prod-7m3xqw9ktz2nb",
    short="Policy-based backup of EC2, EBS and RDS.", long="SaaS backup service.", highlights=[],
    categories=cats("storage"),
    options=[fo("fo-5c2e8a13", "SAAS", "SaaS", "2016-09-23T00:00:00.000Z")],
    terms=[{"termType": "RecurringPaymentTerm", "id": "term-rec-1", "currencyCode": "USD",
            "billingPeriod": "Monthly", "price": "99.00"}, legal()],
    reviews=reviews(), badges=[], support=[], links=[], usage_links=[],
)
P["prodview-v2e5rn8dq4wjh"] = dict(
    name="Hardened Ubuntu 22.04 LTS", seller=("Bastion Images", "seller-bastn9k2"), product_id="prod-1q8wzx4tkm6nd",
    short="CIS Level 1 hardened Ubuntu image.", long="AMI.", highlights=[],
    categories=cats("os"),
    options=[fo("fo-8a1d4f27", "AMAZON_MACHINE_IMAGE", "2025.06.1", "2025-06-03T00:00:00.000Z")],
    terms=[usage_term([{"dimensionKey": "t3.medium", "displayName": "t3.medium", "description": "t3.medium",
                        "unit": "Hrs", "price": "0.02000000", "dimensionLabels": [], "regionalPrices": []}],
                      "term-usage-1"), legal()],
    reviews=reviews(), badges=[], support=[], links=[], usage_links=[],
)
P["prodview-q8u3fb6mz2kns"] = dict(
    name="Ledger Close Assistant MCP", seller=("Closebook", "seller-close7h4"), product_id="prod-4z9kxq2wnt5md",
    short="MCP server for month-end close workflows.", long="API-based agent tool.", highlights=[],
    categories=cats("fin"),
    options=[fo("fo-0b9c3e58", "API", "1.0", "2025-12-16T08:26:46.009Z")],
    terms=[{"termType": "ByolPricingTerm", "id": "term-byol-1"}, legal()],
    reviews=reviews(), badges=["BRING_YOUR_OWN_LICENSE"], support=[], links=[], usage_links=[],
)

NEW_B = dict(
    name="Document Summarization LLM (7B)", seller=("Nimbus Text Analytics", "seller-nimbus7q2"),
    product_id="prod-8t2wzk5qnx3mv",
    short="Summarizes long business documents into bullet points or abstracts.",
    long="A 7B-parameter instruction-tuned model with a 32k-token context window, packaged for SageMaker.",
    highlights=["32k context", "Apache-2.0 base model"],
    categories=cats("nlp", "text"),
    options=[fo("fo-9d4b6e21", "SAGEMAKER_MODEL", "1.0.0", "2026-05-04T11:11:11.000Z",
                notes="Initial release.", rec={"realTimeInferenceInstanceType": "ml.g5.2xlarge"},
                content=["application/json"])],
    terms=[usage_term(sm_cards({"ml.g5.2xlarge": "3.00000000", "ml.g5.12xlarge": "9.00000000"}), "term-usage-1"),
           {"termType": "FreeTrialPricingTerm", "id": "term-trial-1", "duration": "P30D"},
           legal(), support_term("No refunds after the free trial.")],
    reviews=reviews(), badges=["FREE_TRIAL", "DEPLOYED_ON_AWS"],
    support=[("CREATOR_SUPPORT", "EMAIL", None, "support@nimbus-text.example")], links=[], usage_links=[],
)


def date_b(products: dict) -> tuple[dict, set]:
    b = copy.deepcopy(products)
    # price change
    b["prodview-p8d2rj5nfy6sc"]["terms"][0] = usage_term(
        sm_cards({"ml.g4dn.xlarge": "0.95000000", "ml.g4dn.2xlarge": "1.80000000"}), "term-usage-2")
    # new version of the algorithm: a second fulfilment option, newer creationDate
    alg = b["prodview-b6wz4mtq9hr2e"]
    alg["options"].append(fo("fo-9e3a1c78", "SAGEMAKER_ALGORITHM", "2.0.0", "2026-03-18T16:40:00.000Z",
                             notes="New: time-budgeted search (hyperparameter 'max_runtime_minutes'); "
                                   "drops Python 3.8 images.",
                             usage=alg["options"][0]["usageInstructions"] + " New hyperparameter "
                                   "'max_runtime_minutes'.",
                             rec={"trainingInstanceType": "ml.m5.4xlarge",
                                  "realTimeInferenceInstanceType": "ml.m5.large"},
                             content=["text/csv"]))
    alg["terms"][0] = usage_term(sm_cards({"ml.m5.large": "0.10000000"},
                                          training={"ml.m5.2xlarge": "0.50000000", "ml.m5.4xlarge": "0.90000000"}),
                                 "term-usage-1")
    # EULA change (standard contract -> custom EULA)
    b["prodview-f2n7xk4ds8qlu"]["terms"][1] = legal("CustomEula", "https://openeye-labs.example/EULA-v2.pdf")
    # more reviews
    b["prodview-r4y8ne2kv6dzq"]["reviews"] = reviews(4.5, 41, native=4.4, g2=(4.5, 15))
    # JS-only page: new version
    b["prodview-j7x3wq9lb5tmc"]["options"] = [fo("fo-3e5a7c91", "SAGEMAKER_MODEL", "1.1.0", "2026-02-10T09:00:00.000Z",
                                                  notes="Adds allergy entity type.",
                                                  usage="Invoke with text/plain; returns JSON entities.",
                                                  content=["text/plain"])]
    b["prodview-m9ga5sk2ud7wx"] = copy.deepcopy(NEW_B)
    gone = {"prodview-t5c9hm3wa7jgv"}
    return b, gone


# ------------------------------------------------------------------------- rendering
def q(pid, name, data):
    return {"queryKey": ["disco", "get-listing-view", {"listingId": pid, "queryName": name}],
            "queryHash": json.dumps(["disco", "get-listing-view", {"listingId": pid, "queryName": name}],
                                    separators=(",", ":")),
            "state": {"data": data, "dataUpdateCount": 1, "error": None, "status": "success",
                      "fetchStatus": "idle"}}


def res(items):
    return [{"resourceLabel": lab, "resourceType": typ, "resourceName": name, "resourceValue": val}
            for (lab, typ, name, val) in items]


def blob(pid, p, all_products):
    overview = {
        "listingName": p["name"], "shortDescription": p["short"], "longDescription": p["long"],
        "highlights": p["highlights"],
        "creator": {"creatorName": p["seller"][0], "creatorId": p["seller"][1]},
        "categories": p["categories"],
        "listingThumbnailUrl": f"https://d7umqicpi7263.cloudfront.net/img/product/{pid[9:]}.png",
        "embeddedMedia": [], "badges": [], "vendorInsight": None, "solution": None, "integrationGuide": None,
        "overviewResources": [{"resourceType": t, "resourceName": n, "resourceValue": v} for t, n, v in p["links"]],
        "associatedEntities": [{"product": {"productId": p["product_id"]},
                                "offer": {"offerId": f"offer-{pid[9:]}", "offerName": "!undefined"}}],
    }
    detail = {"id": pid, "listingDetail": {"overview": overview, "support": {"supportResources": res(p["support"])}},
              "listingSummaryView": {"badges": p["badges"]}}
    usage = {"id": pid, "listingDetail": {
        "overview": {"listingName": p["name"]},  # Usage carries an overview WITHOUT categories (trap)
        "usage": {"fulfillmentOptions": p["options"],
                  "usageResources": [{"resourceType": t, "resourceName": n, "resourceValue": v}
                                     for t, n, v in p["usage_links"]]}}}
    pricing = {"summary": {"offerId": f"offer-{pid[9:]}", "authoredDate": max(o["creationDate"] for o in p["options"]),
                           "offer": {"availableFromTime": "!Date:" + p["options"][0]["creationDate"],
                                     "availabilityEndDate": "!undefined", "offerName": "!undefined"},
                           "terms": p["terms"]},
               "pricingSummaries": [{"aiPricingSummary": "AI-generated: this listing charges per instance hour."}]}
    ptype = "SageMaker" if p["options"][0]["fulfillmentOptionType"]["fulfillmentOptionTypeId"].startswith("SAGEMAKER") \
        else p["options"][0]["fulfillmentOptionType"]["fulfillmentOptionTypeId"]
    rv = json.loads(json.dumps(p["reviews"]).replace("{id}", pid))
    others = [o for o in sorted(all_products) if o != pid][:2]
    recos = {"discoRecommendations": [
        {"Id": o, "DisplayAttributes": {"Title": all_products[o]["name"]},
         "ProductAttributes": {"BaseProductId": all_products[o]["product_id"],
                               "Creator": {"DisplayName": all_products[o]["seller"][0]}},
         "Categories": [{"Id": c["categoryId"], "ParentId": c["parentCategoryId"], "DisplayName": c["categoryName"]}
                        for c in all_products[o]["categories"]]} for o in others]}
    queries = [
        q(pid, "Pricing", pricing),  # order deliberately not Detail-first: select by queryName
        q(pid, "Usage", usage),
        q(pid, "Detail", detail),
        {"queryKey": ["reviews", "reviewsV2", {"listingId": pid, "productType": ptype}],
         "state": {"data": rv, "status": "success"}},
        {"queryKey": ["disco", "recommendations", {"listingId": pid}], "state": {"data": recos, "status": "success"}},
        {"queryKey": ["disco", "listing-insight", {"listingId": pid}],
         "state": {"data": {"keyFeatures": ["AI-generated summary, not the seller's words"]}, "status": "success"}},
    ]
    return {"pageId": PAGE_ID, "urlPathname": f"/marketplace/pp/{pid}", "routeParams": {"listingId": pid},
            "dehydratedState": {"mutations": [], "queries": queries},
            "initialI18nStore": {"en": {"common": {"supportedServices": "Supported services",
                                                   "integrationProtocol": "Integration protocol",
                                                   "vendorInsights": "Vendor Insights"}}}}


def dump(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).replace("</", "<\\/")


def shell(title, body_inner):
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{title}</title>\n</head>\n<body>\n{body_inner}\n</body>\n</html>\n")


def product_page(pid, p, all_products):
    import html
    b = blob(pid, p, all_products)
    return shell(f"AWS Marketplace: {html.escape(p['name'])}",
                 '<div id="root"></div>\n'
                 f'<script id="vike_pageContext" type="application/json">{dump(b)}</script>\n'
                 '<script type="module" src="/marketplace/static/ppv2/entry-client.js" async></script>')


def gone_page():
    ctx = {"pageId": GONE_PAGE_ID, "urlPathname": "/en/pp/default/index.html", "routeParams": {},
           "dehydratedState": {"mutations": [], "queries": []}}
    return shell("AWS Marketplace", '<div id="root"></div>\n'
                 f'<script id="vike_pageContext" type="application/json">{dump(ctx)}</script>')


JS_TEMPLATE = r"""<div id="app" data-state="loading"><p class="loading">Loading product details...</p></div>
<noscript>This page needs JavaScript.</noscript>
<script>
(function () {
  var d = JSON.parse(atob("__DATA__"));
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs) { e.setAttribute(k, attrs[k]); }
    if (text !== undefined && text !== null) { e.textContent = text; }
    return e;
  }
  setTimeout(function () {
    var app = document.getElementById("app");
    app.innerHTML = "";
    document.title = "AWS Marketplace: " + d.name;
    var h = el("header", {"data-testid": "listing-header"});
    h.appendChild(el("h1", {"data-testid": "listing-title"}, d.name));
    h.appendChild(el("a", {"data-testid": "seller-link", "href": "/marketplace/seller-profile?id=" + d.sellerId}, d.seller));
    h.appendChild(el("p", {"data-testid": "short-description"}, d.short));
    app.appendChild(h);
    var facts = el("dl", {"data-testid": "product-facts"});
    function fact(key, label, text, value) {
      var row = el("div", {"data-field": key, "data-value": value === undefined ? text : value});
      row.appendChild(el("dt", {}, label)); row.appendChild(el("dd", {}, text)); facts.appendChild(row);
    }
    fact("product-id", "Product ID", d.productId);
    fact("fulfillment-type", "Delivery method", d.ftName, d.ftId);
    fact("version", "Latest version", d.version);
    fact("creation-date", "Version date", d.created.slice(0, 10), d.created);
    fact("categories", "Categories", d.categories.join(", "));
    app.appendChild(facts);
    app.appendChild(el("section", {"data-testid": "long-description"}, d.long));
    var hl = el("ul", {"data-testid": "highlights"});
    d.highlights.forEach(function (x) { hl.appendChild(el("li", {}, x)); });
    app.appendChild(hl);
    var table = el("table", {"data-testid": "pricing-table", "data-currency": d.currency});
    d.cards.forEach(function (c) {
      var tr = el("tr", {"data-dimension-key": c.dimensionKey, "data-unit": c.unit});
      tr.appendChild(el("td", {"class": "dimension"}, c.displayName));
      tr.appendChild(el("td", {"class": "option"}, c.option));
      tr.appendChild(el("td", {"class": "price", "data-price": c.price}, "$" + Number(c.price).toFixed(2) + "/hr"));
      table.appendChild(tr);
    });
    app.appendChild(table);
    app.appendChild(el("a", {"data-testid": "eula-link", "data-eula-type": d.eulaType, "href": d.eulaUrl}, "End user license agreement"));
    app.appendChild(el("p", {"data-testid": "refund-policy"}, d.refund));
    app.appendChild(el("div", {"data-testid": "rating", "data-average": String(d.rating), "data-count": String(d.ratingCount)},
                       d.rating + " out of 5 (" + d.ratingCount + " reviews)"));
    app.appendChild(el("section", {"data-testid": "release-notes"}, d.releaseNotes));
    app.appendChild(el("section", {"data-testid": "usage-instructions"}, d.usage));
    app.appendChild(el("p", {"data-testid": "support"}, d.support));
    app.setAttribute("data-state", "ready");
  }, 200);
})();
</script>"""


def js_page(pid, p):
    opt = max(p["options"], key=lambda o: o["creationDate"])
    usage_t = next(t for t in p["terms"] if t["termType"] == "UsageBasedPricingTerm")
    lt = next(t for t in p["terms"] if t["termType"] == "LegalTerm")
    st = next(t for t in p["terms"] if t["termType"] == "SupportTerm")
    data = {
        "listingId": pid, "name": p["name"], "seller": p["seller"][0], "sellerId": p["seller"][1],
        "productId": p["product_id"], "short": p["short"], "long": p["long"], "highlights": p["highlights"],
        "ftId": opt["fulfillmentOptionType"]["fulfillmentOptionTypeId"],
        "ftName": opt["fulfillmentOptionType"]["fulfillmentOptionTypeName"],
        "version": opt["fulfillmentOptionVersion"], "created": opt["creationDate"],
        "categories": [c["categoryName"] for c in p["categories"]],
        "currency": usage_t["currencyCode"],
        "cards": [{"dimensionKey": c["dimensionKey"], "displayName": c["displayName"], "unit": c["unit"],
                   "price": c["price"], "option": c["dimensionLabels"][0]["value"]} for c in usage_t["rateCards"]],
        "eulaType": lt["documents"][0]["type"], "eulaUrl": lt["documents"][0]["url"],
        "refund": st["refundPolicy"], "rating": p["reviews"]["AverageCustomerRating"],
        "ratingCount": p["reviews"]["TotalReviews"], "releaseNotes": opt.get("releaseNotes", ""),
        "usage": opt.get("usageInstructions", ""),
        "support": "; ".join(v for (lab, _t, _n, v) in p["support"] if lab == "CREATOR_SUPPORT"),
    }
    encoded = base64.b64encode(json.dumps(data, separators=(",", ":")).encode("ascii")).decode()
    return shell("AWS Marketplace", JS_TEMPLATE.replace("__DATA__", encoded))


ROBOTS = """User-agent: *
Disallow: /marketplace/search*
Disallow: /marketplace/api/
Disallow: /marketplace/management/
Disallow: /marketplace/privatemarketplace/
Disallow: /marketplace/checkout/
Disallow: /*/marketplace/search*
Disallow: /search/
Disallow: /cdn-cgi/

Sitemap: https://aws.amazon.com/marketplace/sitemap
"""


def sitemap(ids: list[str], extra_reviews: list[str]) -> str:
    locs = [f"{ORIGIN}/marketplace", f"{ORIGIN}/marketplace/search",
            f"{ORIGIN}/marketplace/b/{ML}", f"{ORIGIN}/marketplace/solutions/machine-learning",
            f"{ORIGIN}/marketplace/seller-profile?id=seller-nimbus7q2&amp;ref=dtl"]
    for i in ids:
        locs.append(f"{ORIGIN}/marketplace/pp/{i}")
        locs.append(f"{ORIGIN}/marketplace/reviews/reviews-list/{i}")
    for i in extra_reviews:  # an id that appears ONLY under reviews-list: not a product page
        locs.append(f"{ORIGIN}/marketplace/reviews/reviews-list/{i}")
    locs.append(f"{ORIGIN}/marketplace/customer-connect/private-offer/{ids[0]}")
    body = "".join(f"<url><loc>{u}</loc></url>" for u in locs)
    # one single line, no lastmod/changefreq/priority, no trailing newline (as observed)
    return ('<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            + body + "</urlset>")


def write(date: str, products: dict, gone: set, note: str):
    root = HERE / date
    if root.exists():
        shutil.rmtree(root)
    (root / HOST / "marketplace" / "pp").mkdir(parents=True)
    ids = sorted(products) + sorted(gone - set(products))
    # interleave ML and non-ML in sitemap order the way a hash-ordered dump would
    ids = sorted(ids, key=lambda s: s[::-1])
    (root / HOST / "robots.txt").write_text(ROBOTS)
    (root / HOST / "marketplace" / "sitemap").write_text(sitemap(ids, ["prodview-zz0reviewonly"]))
    allp = dict(products)
    for pid in ids:
        f = root / HOST / "marketplace" / "pp" / pid
        if pid in gone:
            f.write_text(gone_page())
        elif products[pid].get("js_only"):
            f.write_text(js_page(pid, products[pid]))
        else:
            f.write_text(product_page(pid, products[pid], allp))
    ml = [i for i in ids if i not in gone and
          products[i]["options"][0]["fulfillmentOptionType"]["fulfillmentOptionTypeId"].startswith("SAGEMAKER")]
    snap = {"store": "aws_marketplace", "observed_at": f"{date}T00:00:00Z", "reconstructed": True,
            "source": {"repository": "RECONSTRUCTED from public evidence, not a recording (see SOURCES.md)",
                       "built_by": "snapshots/aws_marketplace/reconstruct.py",
                       "evidence": "snapshots/aws_marketplace/SOURCES.md", "note": note},
            "product_pages": len(ids), "ml_listings": len(ml), "delisted": sorted(gone)}
    (root / "SNAPSHOT.json").write_text(json.dumps(snap, indent=1) + "\n")


if __name__ == "__main__":
    write("2025-09-01", P, set(), "7 ML listings (1 JS-rendered) + 3 non-ML; synthetic products")
    pb, gone = date_b(P)
    del pb["prodview-t5c9hm3wa7jgv"]
    write("2026-08-20", pb, gone,
          "7 live ML listings + 1 delisted + 3 non-ML: OCR price cut, AutoML 2.0.0, Face Detection EULA change, "
          "Forecasting reviews 35->41, Clinical NER 1.1.0 (JS page), new Document Summarization LLM")
