//! Retrieval throughput (`make bench-retrieve`): queries/s of BM25 nearest neighbours within
//! each project, on a synthetic corpus the size of the default one (79,652 pairs), and of
//! tf-idf cosine beside BM25 on the largest project (the `_tfidf` cases).
//!
//! The corpus is generated here, seeded: projects whose sizes fall off like the default corpus's
//! (a few with thousands of pairs, most with tens), each with its own Zipf-distributed
//! vocabulary of camelCase identifiers beside words every project uses, and focal methods of
//! 10–80 identifiers. `all_pairs` is the workload: every pair's 5 nearest other pairs of
//! its project, indexing included.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tailor::mining::{Framework, Heuristic, Pair};
use tailor::retrieve::{
    Allowed, Bm25, ProjectIndex, Scorer, TOP_K, TfIdf, nearest_within_projects,
};

/// The default corpus's pair count.
const PAIRS: usize = 79_652;

/// A word of rank drawn from a Zipf(1) distribution over `n` words (inverse-CDF on harmonic
/// numbers, approximated by `n^u`).
fn zipf(rng: &mut ChaCha8Rng, n: usize) -> usize {
    let u: f64 = rng.random();
    ((n as f64).powf(u) as usize).saturating_sub(1).min(n - 1)
}

fn word(project: usize, rank: usize) -> String {
    // Short pronounceable words, distinct per (project, rank).
    const SYLLABLES: [&str; 16] = [
        "ka", "lo", "mi", "ne", "po", "ru", "sa", "te", "vi", "zo", "ba", "de", "fu", "gi", "ho",
        "ju",
    ];
    let mut n = rank * 977 + project * 31 + 1;
    let mut w = String::new();
    while n > 0 {
        w.push_str(SYLLABLES[n % 16]);
        n /= 16;
    }
    w
}

fn identifier(rng: &mut ChaCha8Rng, project: usize) -> String {
    const COMMON: [&str; 12] = [
        "get", "set", "value", "list", "name", "size", "add", "is", "to", "string", "index", "map",
    ];
    let parts = rng.random_range(1..=3);
    let mut id = String::new();
    for i in 0..parts {
        let w = if rng.random_bool(0.3) {
            COMMON[zipf(rng, COMMON.len())].to_string()
        } else {
            word(project, zipf(rng, 2000))
        };
        if i == 0 {
            id.push_str(&w);
        } else {
            let mut c = w.chars();
            id.extend(c.next().map(|f| f.to_ascii_uppercase()));
            id.push_str(c.as_str());
        }
    }
    id
}

/// `PAIRS` pairs over projects of Zipf-like sizes.
fn corpus() -> Vec<Pair> {
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    let mut pairs = Vec::with_capacity(PAIRS);
    let mut project = 0;
    while pairs.len() < PAIRS {
        let size = (6000 / (project + 1)).max(20).min(PAIRS - pairs.len());
        for i in 0..size {
            let name = identifier(&mut rng, project);
            let body: Vec<String> = (0..rng.random_range(10..80))
                .map(|_| identifier(&mut rng, project))
                .collect();
            let focal_body = format!(
                "public int {name}(int a) {{ return {}; }}",
                body.join(" + ")
            );
            pairs.push(Pair {
                pair_id: format!("{project:04}-{i:05}"),
                project_id: format!("project-{project}"),
                test_file: String::new(),
                test_class: String::new(),
                test_method: format!("test{name}"),
                test_body: format!("@Test void test() {{ assertEquals(1, x.{name}(1)); }}"),
                focal_file: String::new(),
                focal_class: "Foo".into(),
                focal_method: name,
                focal_signature: String::new(),
                focal_body,
                heuristic: Heuristic::Name,
                framework: Framework::Junit4,
                class_signature: String::new(),
                constructors: vec![],
                method_signatures: vec![],
                fields: vec![],
            });
        }
        project += 1;
    }
    pairs
}

fn bench(c: &mut Criterion) {
    let pairs = corpus();
    let projects = pairs.last().map_or(0, |p| {
        p.project_id
            .trim_start_matches("project-")
            .parse::<usize>()
            .unwrap()
            + 1
    });
    eprintln!(
        "retrieve bench: {} pairs in {projects} projects, {} threads",
        pairs.len(),
        rayon::current_num_threads()
    );

    let mut group = c.benchmark_group("retrieve");
    group.sample_size(10);
    group.throughput(Throughput::Elements(pairs.len() as u64));
    group.bench_function("all_pairs_top5", |b| {
        b.iter(|| {
            black_box(nearest_within_projects(
                black_box(&pairs),
                TOP_K,
                Bm25::default(),
            ))
        })
    });

    // The largest project alone, per scorer: indexing, then one query per pair (queries/s, one
    // thread). BM25's cases keep their names; tf-idf cosine's end in `_tfidf`, so criterion's
    // two throughputs give the ratio tf-idf / BM25.
    let largest: Vec<&Pair> = pairs
        .iter()
        .filter(|p| p.project_id == "project-0")
        .collect();
    let documents = || {
        largest
            .iter()
            .map(|p| (p.pair_id.as_str(), p.focal_body.as_str()))
    };
    group.throughput(Throughput::Elements(largest.len() as u64));
    for (suffix, scorer) in [
        ("", Scorer::Bm25(Bm25::default())),
        ("_tfidf", Scorer::TfIdf(TfIdf::default())),
    ] {
        let index = ProjectIndex::build(documents(), scorer);
        group.bench_function(format!("index_largest_project{suffix}"), |b| {
            b.iter(|| black_box(ProjectIndex::build(documents(), scorer)))
        });
        group.bench_function(format!("query_largest_project_1thread{suffix}"), |b| {
            b.iter(|| {
                let mut scratch = Vec::new();
                for doc in 0..index.len() {
                    black_box(index.search_doc_with(doc, TOP_K, Allowed::All, &mut scratch));
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
