#!/usr/bin/env python3
"""Reference values for tailor's evaluation metrics (src/metrics/), computed once by the
reference implementations and committed as fixtures/metrics/expected.json, so the Rust tests
(tests/suite/metrics.rs) need no Python.

    make fixtures-metrics        # = python metrics_reference.py fixtures/metrics/inputs.json \
                                 #          fixtures/metrics/expected.json

References (versions pinned in pipelines/python/requirements-hf.txt):
- corpus BLEU-4: sacrebleu 2.6.0 `corpus_bleu(hyps, [refs])`, all defaults (13a tokenizer, exp
  smoothing, case kept);
- smoothed sentence BLEU-4: CodeXGLUE's code-to-text evaluator,
  https://github.com/microsoft/CodeXGLUE/blob/main/Code-Text/code-to-text/evaluator/bleu.py
  (Moses' bleu.py by hieuhoang1972, adapted by CodeXGLUE); its functions are copied below
  unchanged in logic (Python 3 spelling, `nonorm`/`preserve_case`/`eff_ref_len` at their
  defaults) and driven the way its `computeMaps` + `bleuFromMaps` drive them;
- top-k exact match: whitespace removed from both sides, as the paper says ("ignoring
  whitespace");
- coding style: scikit-learn 1.9.1 `TfidfVectorizer()` defaults and
  `sklearn.metrics.pairwise.cosine_similarity`, on the identifier documents committed in
  inputs.json (`style_documents`, extracted by tailor with tree-sitter-java);
- Kruskal-Wallis: scipy 1.17.1 `scipy.stats.kruskal`; Cliff's delta and Vargha-Delaney A12 from
  their definitions over all pairs;
- perplexity: exp(sum of token NLL / tokens);
- permutation p-values of Kruskal-Wallis H (Table 4), for the groups of
  permutation_inputs.json (read beside INPUTS.json, written as permutation_expected.json beside
  EXPECTED.json): scipy 1.17.1 `scipy.stats.permutation_test(..., permutation_type='independent',
  n_resamples=np.inf)` (every assignment, so exact) on `scipy.stats.kruskal`'s H with
  alternative='greater' (H ≥ observed: the two-sided test) and, for two groups, on the first
  group's mid-rank sum with alternative 'greater' and 'less' (the one-sided tests, ties
  included); `scipy.stats.mannwhitneyu(method='exact')` where there are no ties, as a second
  reference, and as the only one where enumeration is out of reach (20 against 20).
"""

import json
import math
import os
import re
import sys
import xml.sax.saxutils
from itertools import combinations

import numpy as np
import sacrebleu
import scipy
import scipy.stats
import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import cosine_similarity
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

# --- CodeXGLUE Code-Text/code-to-text/evaluator/bleu.py (verbatim logic) ---------------------
nonorm = 0
preserve_case = False
eff_ref_len = "shortest"

normalize1 = [
    ("<skipped>", ""),  # strip "skipped" tags
    (r"-\n", ""),  # strip end-of-line hyphenation and join lines
    (r"\n", " "),  # join lines
    #    (r'(\d)\s+(?=\d)', r'\1'), # join digits
]
normalize1 = [(re.compile(pattern), replace) for (pattern, replace) in normalize1]

normalize2 = [
    (r"([\{-\~\[-\` -\&\(-\+\:-\@\/])", r" \1 "),  # tokenize punctuation. apostrophe is missing
    (r"([^0-9])([\.,])", r"\1 \2 "),  # tokenize period and comma unless preceded by a digit
    (r"([\.,])([^0-9])", r" \1 \2"),  # tokenize period and comma unless followed by a digit
    (r"([0-9])(-)", r"\1 \2 "),  # tokenize dash when preceded by a digit
]
normalize2 = [(re.compile(pattern), replace) for (pattern, replace) in normalize2]


def normalize(s):
    """Normalize and tokenize text. This is lifted from NIST mteval-v11a.pl."""
    # Added to bypass NIST-style pre-processing of hyp and ref files -- wade
    if nonorm:
        return s.split()
    if type(s) is not str:
        s = " ".join(s)
    # language-independent part:
    for (pattern, replace) in normalize1:
        s = re.sub(pattern, replace, s)
    s = xml.sax.saxutils.unescape(s, {"&quot;": '"'})
    # language-dependent part (assuming Western languages):
    s = " %s " % s
    if not preserve_case:
        s = s.lower()  # this might not be identical to the original
    for (pattern, replace) in normalize2:
        s = re.sub(pattern, replace, s)
    return s.split()


def count_ngrams(words, n=4):
    counts = {}
    for k in range(1, n + 1):
        for i in range(len(words) - k + 1):
            ngram = tuple(words[i : i + k])
            counts[ngram] = counts.get(ngram, 0) + 1
    return counts


def cook_refs(refs, n=4):
    """Takes a list of reference sentences for a single segment
    and returns an object that encapsulates everything that BLEU
    needs to know about them."""
    refs = [normalize(ref) for ref in refs]
    maxcounts = {}
    for ref in refs:
        counts = count_ngrams(ref, n)
        for (ngram, count) in counts.items():
            maxcounts[ngram] = max(maxcounts.get(ngram, 0), count)
    return ([len(ref) for ref in refs], maxcounts)


def cook_test(test, item, n=4):
    """Takes a test sentence and returns an object that
    encapsulates everything that BLEU needs to know about it."""
    (reflens, refmaxcounts) = item
    test = normalize(test)
    result = {}
    result["testlen"] = len(test)

    # Calculate effective reference sentence length.
    if eff_ref_len == "shortest":
        result["reflen"] = min(reflens)
    elif eff_ref_len == "average":
        result["reflen"] = float(sum(reflens)) / len(reflens)
    elif eff_ref_len == "closest":
        min_diff = None
        for reflen in reflens:
            if min_diff is None or abs(reflen - len(test)) < min_diff:
                min_diff = abs(reflen - len(test))
                result["reflen"] = reflen

    result["guess"] = [max(len(test) - k + 1, 0) for k in range(1, n + 1)]

    result["correct"] = [0] * n
    counts = count_ngrams(test, n)
    for (ngram, count) in counts.items():
        result["correct"][len(ngram) - 1] += min(refmaxcounts.get(ngram, 0), count)

    return result


def score_cooked(allcomps, n=4, ground=0, smooth=1):
    totalcomps = {"testlen": 0, "reflen": 0, "guess": [0] * n, "correct": [0] * n}
    for comps in allcomps:
        for key in ["testlen", "reflen"]:
            totalcomps[key] += comps[key]
        for key in ["guess", "correct"]:
            for k in range(n):
                totalcomps[key][k] += comps[key][k]
    logbleu = 0.0
    all_bleus = []
    for k in range(n):
        correct = totalcomps["correct"][k]
        guess = totalcomps["guess"][k]
        addsmooth = 0
        if smooth == 1 and k > 0:
            addsmooth = 1
        logbleu += math.log(correct + addsmooth + sys.float_info.min) - math.log(
            guess + addsmooth + sys.float_info.min
        )
        if guess == 0:
            all_bleus.append(-10000000)
        else:
            all_bleus.append(math.log(correct + sys.float_info.min) - math.log(guess))

    logbleu /= float(n)
    all_bleus.insert(0, logbleu)

    brevPenalty = min(0, 1 - float(totalcomps["reflen"] + 1) / (totalcomps["testlen"] + 1))
    for i in range(len(all_bleus)):
        if i == 0:
            all_bleus[i] += brevPenalty
        all_bleus[i] = math.exp(all_bleus[i])
    return all_bleus


def bleu(refs, candidate, ground=0, smooth=1):
    refs = cook_refs(refs)
    test = cook_test(candidate, refs)
    return score_cooked([test], ground=ground, smooth=smooth)


def splitPuncts(line):
    return " ".join(re.findall(r"[\w]+|[^\s\w]", line))


# m1 is the reference map
# m2 is the prediction map
def bleuFromMaps(m1, m2):
    score = [0] * 5
    num = 0.0

    for key in m1:
        if key in m2:
            bl = bleu(m1[key], m2[key][0])
            score = [score[i] + bl[i] for i in range(0, len(bl))]
            num += 1
    return [s * 100.0 / num for s in score]


# --- end of CodeXGLUE ----------------------------------------------------------------------


def codexglue_maps(hyps, refs):
    """`computeMaps` without its file reading: one reference per id, ids in input order."""
    prediction_map = {rid: [splitPuncts(h.strip().lower())] for rid, h in enumerate(hyps)}
    gold_map = {rid: [splitPuncts(r.strip().lower())] for rid, r in enumerate(refs)}
    return gold_map, prediction_map


def codexglue_bleu(hyps, refs):
    return bleuFromMaps(*codexglue_maps(hyps, refs))[0]


def codexglue_sentence(hyp, ref):
    gold_map, prediction_map = codexglue_maps([hyp], [ref])
    return bleu(gold_map[0], prediction_map[0][0])[0] * 100.0


def sacre(hyps, refs):
    b = sacrebleu.corpus_bleu(hyps, [refs])
    return {
        "score": b.score,
        "counts": list(b.counts),
        "totals": list(b.totals),
        "precisions": list(b.precisions),
        "bp": b.bp,
        "sys_len": b.sys_len,
        "ref_len": b.ref_len,
    }


def exact_key(s):
    return re.sub(r"\s", "", s)


def top_k_exact(predictions, reference):
    hits, hit = [], False
    for k in range(5):
        if k < len(predictions) and exact_key(predictions[k]) == exact_key(reference):
            hit = True
        hits.append(hit)
    return hits


def style(dev_docs, gen_docs):
    vec = TfidfVectorizer().fit(dev_docs + gen_docs)
    per_test = [
        float(cosine_similarity(vec.transform([d]), vec.transform([g]))[0, 0])
        for d, g in zip(dev_docs, gen_docs)
    ]
    sides = vec.transform([" ".join(dev_docs), " ".join(gen_docs)])
    project = float(cosine_similarity(sides[0], sides[1])[0, 0])
    return {"project": project, "per_test": per_test, "vocabulary": len(vec.vocabulary_)}


def effect(x, y):
    gt = sum(1 for a in x for b in y if a > b)
    lt = sum(1 for a in x for b in y if a < b)
    eq = sum(1 for a in x for b in y if a == b)
    n = len(x) * len(y)
    return {"cliffs_delta": (gt - lt) / n, "a12": (gt + 0.5 * eq) / n}


# Enumerating more assignments than this takes SciPy minutes; larger two-group cases without ties
# use the exact Mann-Whitney distribution instead.
MAX_ENUMERATED = 3_000_000


def kruskal_h(*samples, axis=-1):
    return scipy.stats.kruskal(*samples, axis=axis).statistic


def rank_sum(x, y, axis=-1):
    """Mid-rank sum of `x` in the pooled sample: the statistic of both one-sided tests."""
    ranks = scipy.stats.rankdata(np.concatenate([x, y], axis=axis), axis=axis)
    return ranks[..., : x.shape[axis]].sum(axis=axis)


def exact_permutation(statistic, groups, alternative):
    res = scipy.stats.permutation_test(
        [np.asarray(g, dtype=float) for g in groups], statistic,
        permutation_type="independent", vectorized=True, n_resamples=np.inf,
        alternative=alternative, batch=20_000)
    return float(res.pvalue), len(res.null_distribution)


def assignments(sizes):
    count, placed = 1, 0
    for n in sizes:
        placed += n
        count *= math.comb(placed, n)
    return count


def permutation_case(case):
    groups = case["groups"]
    sizes = [len(g) for g in groups]
    values = [v for g in groups for v in g]
    ties = len(set(values)) < len(values)
    kw = scipy.stats.kruskal(*groups)
    out = {"name": case["name"], "sizes": sizes, "ties": ties, "assignments": assignments(sizes),
           "h": float(kw.statistic), "p_asymptotic": float(kw.pvalue)}
    enumerable = out["assignments"] <= MAX_ENUMERATED
    if enumerable:
        p, n = exact_permutation(kruskal_h, groups, "greater")
        assert n == out["assignments"], (case["name"], n)
        out["two_sided"] = p
        out["reference"] = "permutation_test"
    if len(groups) == 2:
        x, y = groups
        if enumerable:
            out["greater"], _ = exact_permutation(rank_sum, groups, "greater")
            out["less"], _ = exact_permutation(rank_sum, groups, "less")
        if not ties:
            mwu = {alt: float(scipy.stats.mannwhitneyu(x, y, alternative=alt,
                                                       method="exact").pvalue)
                   for alt in ("two-sided", "greater", "less")}
            out["mannwhitneyu_exact"] = mwu
            if not enumerable:
                out["two_sided"], out["greater"], out["less"] = (
                    mwu["two-sided"], mwu["greater"], mwu["less"])
                out["reference"] = "mannwhitneyu"
        out["effect"] = effect(x, y)
    assert "two_sided" in out, f"{case['name']}: no exact reference"
    return out


def permutation_expected(inputs_path, expected_path):
    """permutation_expected.json from permutation_inputs.json, both beside the main files."""
    src = os.path.join(os.path.dirname(inputs_path), "permutation_inputs.json")
    dst = os.path.join(os.path.dirname(expected_path), "permutation_expected.json")
    with open(src, encoding="utf-8") as f:
        cases = json.load(f)["cases"]
    expected = {
        "generated_by": {
            "script": "pipelines/python/metrics_reference.py",
            "python": sys.version.split()[0],
            "scipy": scipy.__version__,
            "numpy": np.__version__,
        },
        "cases": [permutation_case(c) for c in cases],
    }
    with open(dst, "w", encoding="utf-8") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")


def main(inputs_path, expected_path):
    with open(inputs_path, encoding="utf-8") as f:
        inputs = json.load(f)
    pairs = inputs["pairs"]
    top1 = [p["predictions"][0] if p["predictions"] else "" for p in pairs]
    devs = [p["developer"] for p in pairs]
    projects = sorted({p["project"] for p in pairs})

    texts = sorted({t for p in pairs for t in [p["developer"], *p["predictions"]]})
    tok = Tokenizer13a()

    per_prediction = []
    for p in pairs:
        for rank, pred in enumerate(p["predictions"], start=1):
            per_prediction.append({
                "id": p["id"],
                "rank": rank,
                "sacrebleu": sacre([pred], [p["developer"]]),
                "codexglue": codexglue_sentence(pred, p["developer"]),
            })

    edge_cases = [
        {"hyp": h, "ref": r, "sacrebleu": sacre([h], [r]), "codexglue": codexglue_sentence(h, r)}
        for h, r in inputs["bleu_edge_cases"]
    ]

    by_id = {p["id"]: p for p in pairs}
    docs = inputs["style_documents"]
    style_groups = []
    for g in inputs["style_groups"]:
        dev_docs = [docs[i]["developer"] for i in g["pairs"]]
        gen_docs = [docs[i]["generated"] for i in g["pairs"]]
        style_groups.append({**{k: g[k] for k in ("project", "strategy", "fold", "pairs")},
                             **style(dev_docs, gen_docs)})

    kruskal = []
    for s in inputs["kruskal"]:
        r = scipy.stats.kruskal(*s["groups"])
        effects = [{"i": i, "j": j, **effect(s["groups"][i], s["groups"][j])}
                   for i, j in combinations(range(len(s["groups"])), 2)]
        kruskal.append({"name": s["name"], "h": float(r.statistic), "p_value": float(r.pvalue),
                        "df": len(s["groups"]) - 1, "effects": effects})

    perplexity = []
    for s in inputs["perplexity"]:
        nll = 0.0
        tokens = 0
        for batch_nll, batch_tokens in s["batches"]:
            nll += batch_nll
            tokens += batch_tokens
        perplexity.append({"name": s["name"], "mean_loss": nll / tokens,
                           "perplexity": math.exp(nll / tokens)})

    expected = {
        "generated_by": {
            "script": "pipelines/python/metrics_reference.py",
            "python": sys.version.split()[0],
            "sacrebleu": sacrebleu.__version__,
            "scipy": scipy.__version__,
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
        },
        "tokenize_13a": {t: tok(t.rstrip()) for t in texts},
        "sacrebleu": {
            "all_top1": sacre(top1, devs),
            "per_project_top1": {
                pr: sacre([t for t, p in zip(top1, pairs) if p["project"] == pr],
                          [p["developer"] for p in pairs if p["project"] == pr])
                for pr in projects
            },
        },
        "codexglue": {
            "all_top1": codexglue_bleu(top1, devs),
            "per_project_top1": {
                pr: codexglue_bleu([t for t, p in zip(top1, pairs) if p["project"] == pr],
                                   [p["developer"] for p in pairs if p["project"] == pr])
                for pr in projects
            },
        },
        "per_prediction": per_prediction,
        "bleu_edge_cases": edge_cases,
        "top_k_exact": {p["id"]: top_k_exact(p["predictions"], p["developer"]) for p in pairs},
        "style": style_groups,
        "kruskal": kruskal,
        "perplexity": perplexity,
    }
    assert set(by_id) == {p["id"] for p in pairs}
    with open(expected_path, "w", encoding="utf-8") as f:
        json.dump(expected, f, indent=1, ensure_ascii=False)
        f.write("\n")
    permutation_expected(inputs_path, expected_path)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: metrics_reference.py INPUTS.json EXPECTED.json")
    main(sys.argv[1], sys.argv[2])
