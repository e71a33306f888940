#!/usr/bin/env python3
"""Reference scores for tailor's tf-idf cosine retrieval scorer (src/retrieve/index.rs,
`Scorer::TfIdf`), computed once by scikit-learn and committed as
fixtures/retrieve/tfidf_sklearn.json, so the Rust tests need no Python.

    make fixtures-retrieve       # = python retrieve_tfidf_reference.py fixtures/retrieve/tfidf_sklearn.json

Reference: scikit-learn 1.9.1 (pinned in pipelines/python/requirements-hf.txt)
`TfidfVectorizer(analyzer=str.split, sublinear_tf=S, smooth_idf=True, norm="l2")` fitted on the
documents, every query `transform`ed by it (terms the documents lack are dropped), and
`sklearn.metrics.pairwise.cosine_similarity(queries, documents)`, for S in {False, True}.

The documents are plain lowercase words that are not Java keywords, so tailor's term extraction
(`src/retrieve/terms.rs`) yields exactly their whitespace-separated words, which is what
`analyzer=str.split` gives scikit-learn; the Rust test checks that too. They cover a repeated
term (raw vs sublinear tf), a term in every document (`obj`: smoothed idf 1 + ln 1 = 1),
documents of very different lengths, a query term no document has, and a query sharing nothing.
"""

import json
import sys

import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import cosine_similarity

DOCUMENTS = [
    ("p01", "get user name user obj"),
    ("p02", "set user name value obj"),
    ("p03", "get user name user user user user count obj"),
    ("p04", "clear items size obj"),
    ("p05", "add items item size size obj"),
    ("p06", "name value map get put remove contains keys obj"),
    ("p07", "parse date format locale name obj"),
]

QUERIES = [
    "get user name",
    "user user user",
    "add item size unknownterm",
    "name",
    "nothing shared here",
]


def main(out_path: str) -> None:
    texts = [text for _, text in DOCUMENTS]
    cases = []
    for sublinear in (False, True):
        vectorizer = TfidfVectorizer(
            analyzer=str.split, sublinear_tf=sublinear, smooth_idf=True, norm="l2"
        )
        matrix = vectorizer.fit_transform(texts)
        # Free-text queries, then each document's own text (the index's self-query).
        queries = [("text", q) for q in QUERIES] + [("doc", doc_id) for doc_id, _ in DOCUMENTS]
        query_texts = [q if kind == "text" else dict(DOCUMENTS)[q] for kind, q in queries]
        scores = cosine_similarity(vectorizer.transform(query_texts), matrix)
        for (kind, query), row in zip(queries, scores):
            cases.append(
                {
                    "sublinear_tf": sublinear,
                    kind: query,
                    "scores": {
                        doc_id: float(score)
                        for (doc_id, _), score in zip(DOCUMENTS, row)
                        if score > 0.0
                    },
                }
            )
    fixture = {
        "generated_by": "pipelines/python/retrieve_tfidf_reference.py",
        "sklearn": sklearn.__version__,
        "documents": [{"id": doc_id, "text": text} for doc_id, text in DOCUMENTS],
        "cases": cases,
    }
    with open(out_path, "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: retrieve_tfidf_reference.py OUT.json")
    main(sys.argv[1])
