//! [`Engine`]: one base, the registered projects' adapters and retrieval indexes.
//!
//! CONTRACT (see the module above): `Engine::load(&EngineOptions) -> anyhow::Result<Engine>`,
//! `Engine::projects(&self) -> Vec<ProjectInfo>`, `Engine::max_k(&self) -> usize`,
//! `Engine::suggest_batch(&self, &[SuggestRequest]) -> Vec<Result<Vec<Candidate>, SuggestError>>`
//! (one result per request, in order). `Engine` is `Send`: `serve` moves it into its worker.
//!
//! A batch is answered in three steps. Each request is *prepared* alone (its project, `k`, the
//! focal method found and its model input built as the project's training inputs were, its
//! project's nearest tests retrieved), so a bad request fails there without touching the
//! others. The prepared requests are then *generated* together: every prefix or LoRA project's
//! requests in shared batches through the adapter bank, each other project's in batches of its
//! own model. Last, each request's candidates (its beams and its retrieved tests) are *scored*
//! by its project's model in one teacher-forced batch and ranked by mean token NLL.

use std::path::PathBuf;

use anyhow::{Context, Result, bail, ensure};
use burn::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};

use super::focal::find_method;
use super::{
    Candidate, EngineOptions, FocalSpec, ProjectInfo, Source, SuggestError, SuggestRequest,
};
use crate::adapt::registry::{self, Registered};
use crate::data::augment::join_retrieved;
use crate::data::context::{model_target, normalize_code};
use crate::data::examples::{ExampleSettings, truncate};
use crate::data::tokenizer::CodeTokenizer;
use crate::generate::GenerationConfig;
use crate::generate::requests::{Models, Outputs, Request, generate_requests};
use crate::generate::rerank::candidate_losses;
use crate::mining::Pair;
use crate::model::adapter::base_hash;
use crate::model::{AdapterBank, BartForConditionalGeneration, hf};
use crate::retrieve::query::declared_name;
use crate::retrieve::{Allowed, Bm25, FocalNames, Hit, ProjectIndex, adapt_test};
use crate::strategy::adapter::{load_adapter, load_bank, read_info};
use crate::tables::pairs::read_pairs;

/// One base and the registered projects adapted to it, ready to answer requests.
pub struct Engine {
    options: EngineOptions,
    device: Device,
    /// The plain base: what the bank binds per batch.
    base: BartForConditionalGeneration,
    tokenizer: CodeTokenizer,
    generation: GenerationConfig,
    /// The prefix and LoRA projects' adapters, stacked; `None` when there are none.
    bank: Option<AdapterBank>,
    /// The base with each other project's adapter applied, one model each.
    separate: Vec<BartForConditionalGeneration>,
    /// By name.
    projects: Vec<Project>,
}

// `serve` moves the engine into its worker thread.
const _: () = {
    const fn assert_send<T: Send>() {}
    assert_send::<Engine>();
};

/// Which model answers a project's requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// Row `index` of the adapter bank.
    Mixed(usize),
    /// `Engine::separate[index]`.
    Separate(usize),
}

/// A loaded project.
struct Project {
    info: ProjectInfo,
    examples: ExampleSettings,
    slot: Slot,
    /// Its pairs in pair-id order, the index's document order: `pairs[hit.doc]` is a hit's.
    pairs: Vec<Pair>,
    index: ProjectIndex,
}

impl Project {
    /// The test of the pair `hit` found, adapted to the query's method and class names.
    fn adapted(&self, hit: &Hit, names: FocalNames<'_>) -> String {
        let pair = &self.pairs[hit.doc];
        adapt_test(
            &pair.test_body,
            FocalNames::new(&pair.focal_method, &pair.focal_class),
            names,
        )
    }
}

/// A request ready to generate for.
struct Prepared {
    project: usize,
    k: usize,
    /// The model input's token ids (at the project's level, cut to its `max_input`, with the
    /// nearest test appended when its inputs were trained so).
    input_ids: Vec<u32>,
    /// The project's nearest existing tests, adapted to the method, best first.
    retrieved: Vec<(Hit, String)>,
    /// The focal method's name ("" when the request gave only text).
    method: String,
}

/// The focal method of a request, resolved.
struct Focal {
    /// The model input as text, at the project's level (or as given).
    input: String,
    /// What BM25 searches the project's focal methods with: the method's own text.
    query: String,
    /// The method's and class's names, for adapting retrieved tests ("" when unknown).
    method: String,
    class: String,
}

impl Engine {
    /// Loads the base, every registered project adapted to it (or `options.projects`), their
    /// adapters (prefix/LoRA into one bank) and retrieval indexes.
    pub fn load(options: &EngineOptions) -> anyhow::Result<Engine> {
        ensure!(options.max_k >= 1, "max_k must be at least 1");
        let registered = registered_for(options)?;
        let device = options.backend.device(options.cuda)?;
        let base = hf::load_dir(&options.base, &device)
            .with_context(|| format!("loading the base {}", options.base.display()))?;
        let tokenizer = CodeTokenizer::load(&options.base).with_context(|| {
            format!(
                "the base {} has no usable tokenizer.json",
                options.base.display()
            )
        })?;
        ensure!(
            tokenizer.vocab_size() <= base.config.vocab_size,
            "the tokenizer of {} has {} tokens, more than the model's {}",
            options.base.display(),
            tokenizer.vocab_size(),
            base.config.vocab_size
        );
        let generation = generation_config(options, &base)?;

        let progress = ProgressBar::new(registered.len() as u64).with_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} projects loaded {elapsed} {msg}")
                .expect("valid template"),
        );
        let mut mixed: Vec<(String, PathBuf)> = Vec::new();
        let mut separate = Vec::new();
        let mut projects = Vec::new();
        for project in &registered {
            let name = &project.manifest.name;
            progress.set_message(name.clone());
            let adapter = project.paths.adapter_dir();
            let info = read_info(&adapter).with_context(|| format!("project {name}"))?;
            let mixes = info.strategy.mixes_in_batch();
            let slot = if mixes {
                mixed.push((name.clone(), adapter));
                Slot::Mixed(mixed.len() - 1)
            } else {
                let (model, _) = load_adapter(base.clone(), &options.base, &adapter, &device)
                    .with_context(|| format!("loading project {name}'s adapter"))?;
                separate.push(model);
                Slot::Separate(separate.len() - 1)
            };
            projects.push(load_project(project, info.strategy.name(), mixes, slot)?);
            progress.inc(1);
        }
        let bank = if mixed.is_empty() {
            None
        } else {
            Some(load_bank(&base, &options.base, &mixed, &device)?)
        };
        progress.finish_and_clear();
        Ok(Engine {
            options: options.clone(),
            device,
            base,
            tokenizer,
            generation,
            bank,
            separate,
            projects,
        })
    }

    /// The loaded projects, by name.
    pub fn projects(&self) -> Vec<ProjectInfo> {
        self.projects.iter().map(|p| p.info.clone()).collect()
    }

    /// The largest `k` a request may ask for.
    pub fn max_k(&self) -> usize {
        self.options.max_k
    }

    /// Candidates for every request, best first, one result per request in order: a bad
    /// request fails alone, never its batch.
    pub fn suggest_batch(
        &self,
        requests: &[SuggestRequest],
    ) -> Vec<Result<Vec<Candidate>, SuggestError>> {
        let prepared: Vec<Result<Prepared, SuggestError>> =
            requests.iter().map(|r| self.prepare(r)).collect();
        let generated = self.generate(&prepared);
        prepared
            .into_iter()
            .zip(generated)
            .map(|(prepared, generated)| {
                let prepared = prepared?;
                let beams = generated.map_err(SuggestError::Internal)?;
                self.rank(&prepared, beams).map_err(SuggestError::Internal)
            })
            .collect()
    }

    /// The project, `k`, input ids and retrieved tests of one request.
    fn prepare(&self, request: &SuggestRequest) -> Result<Prepared, SuggestError> {
        let project = self
            .projects
            .binary_search_by(|p| p.info.name.as_str().cmp(&request.project))
            .map_err(|_| SuggestError::UnknownProject {
                project: request.project.clone(),
                known: self.known(),
            })?;
        let max_k = self.options.max_k;
        if request.k == 0 || request.k > max_k {
            return Err(SuggestError::BadRequest(format!(
                "k is {}; ask for 1 to {max_k} candidates",
                request.k
            )));
        }
        let p = &self.projects[project];
        let focal = resolve_focal(&request.focal, p)?;
        let names = FocalNames::new(&focal.method, &focal.class);
        // Tests of similar methods often read the same once adapted (`testGetCount` of
        // several classes): keep the first k distinct ones, however deep they are.
        let mut seen = std::collections::HashSet::new();
        let retrieved: Vec<(Hit, String)> = p
            .index
            .search_text(&focal.query, p.index.len(), Allowed::All)
            .into_iter()
            .map(|hit| {
                let test = p.adapted(&hit, names);
                (hit, test)
            })
            .filter(|(_, test)| seen.insert(whitespace_free(test)))
            .take(request.k)
            .collect();
        let input_ids = self
            .input_ids(p, &focal.input, retrieved.first().map(|(_, t)| t.as_str()))
            .map_err(SuggestError::Internal)?;
        Ok(Prepared {
            project,
            k: request.k,
            input_ids,
            retrieved,
            method: focal.method,
        })
    }

    /// The input's ids as the project's training inputs were built: normalized, encoded, cut
    /// to `max_input`; with `examples.retrieved == 1`, the nearest test joined behind the
    /// separator (`crate::data::augment`).
    fn input_ids(&self, project: &Project, input: &str, nearest: Option<&str>) -> Result<Vec<u32>> {
        let max_input = project
            .examples
            .max_input
            .min(self.base.config.max_position_embeddings);
        let context = self.tokenizer.encode(&normalize_code(input))?;
        match nearest {
            Some(test) if project.examples.retrieved == 1 => {
                let test = self.tokenizer.encode(&model_target(test))?;
                Ok(join_retrieved(context, &test, max_input).0)
            }
            _ => Ok(truncate(context, max_input).0),
        }
    }

    /// The beams of every prepared request, in order (none for a request that failed to
    /// prepare): mixing projects share batches, the others are batched per project.
    fn generate(&self, prepared: &[Result<Prepared, SuggestError>]) -> Vec<Result<Outputs>> {
        let mut outputs: Vec<Result<Outputs>> = prepared.iter().map(|_| Ok(Vec::new())).collect();
        let mut mixed: Vec<(usize, Request<'_>)> = Vec::new();
        let mut separate: Vec<(usize, Request<'_>)> = Vec::new();
        for (i, p) in prepared.iter().enumerate() {
            let Ok(p) = p else { continue };
            let (list, adapter) = match self.projects[p.project].slot {
                Slot::Mixed(row) => (&mut mixed, row),
                Slot::Separate(model) => (&mut separate, model),
            };
            list.push((
                i,
                Request {
                    adapter,
                    input_ids: &p.input_ids,
                },
            ));
        }
        let refs: Vec<&BartForConditionalGeneration> = self.separate.iter().collect();
        let mut run = |models: Models<'_>, group: &[(usize, Request<'_>)]| {
            if group.is_empty() {
                return;
            }
            let requests: Vec<Request<'_>> = group.iter().map(|(_, r)| *r).collect();
            let result = generate_requests(
                &models,
                &requests,
                &self.generation,
                self.options.batch_size,
                &self.device,
                |_| {},
            );
            match result {
                Ok(outs) => {
                    for ((i, _), out) in group.iter().zip(outs) {
                        outputs[*i] = Ok(out);
                    }
                }
                Err(err) => {
                    for (i, _) in group {
                        outputs[*i] = Err(anyhow::anyhow!("generating: {err:#}"));
                    }
                }
            }
        };
        if let Some(bank) = &self.bank {
            run(
                Models::Mixed {
                    base: &self.base,
                    bank,
                },
                &mixed,
            );
        }
        run(Models::Separate(&refs), &separate);
        outputs
    }

    /// The request's top-k beams and retrieved tests scored by its project's model, exact
    /// duplicates dropped (whitespace ignored; the lower loss kept), best `k` first.
    fn rank(&self, prepared: &Prepared, beams: Outputs) -> Result<Vec<Candidate>> {
        let project = &self.projects[prepared.project];
        let mut candidates: Vec<(Source, String)> = Vec::new();
        for (rank, (ids, _score)) in beams.iter().take(prepared.k).enumerate() {
            let text = self.tokenizer.decode(ids)?;
            if !text.trim().is_empty() {
                candidates.push((
                    Source::Generated {
                        beam_rank: rank + 1,
                    },
                    text,
                ));
            }
        }
        for (hit, test) in &prepared.retrieved {
            candidates.push((
                Source::Retrieved {
                    pair_id: hit.pair_id.clone(),
                    bm25: hit.score,
                },
                test.clone(),
            ));
        }
        let max_target = project
            .examples
            .max_target
            .min(self.base.config.max_position_embeddings);
        let targets: Vec<Vec<u32>> = candidates
            .iter()
            .map(|(_, text)| {
                Ok(truncate(self.tokenizer.encode(&model_target(text))?, max_target).0)
            })
            .collect::<Result<_>>()?;
        let losses = match project.slot {
            Slot::Mixed(row) => {
                let bank = self.bank.as_ref().expect("a mixed project has a bank");
                // One row: the scorer shares the input's encoding and adapters across candidates.
                let model = bank.bind(&self.base, &[row]);
                candidate_losses(&model, &prepared.input_ids, &targets, &self.device)?
            }
            Slot::Separate(index) => candidate_losses(
                &self.separate[index],
                &prepared.input_ids,
                &targets,
                &self.device,
            )?,
        };
        let mut scored: Vec<Candidate> = candidates
            .into_iter()
            .zip(losses)
            .map(|((source, test), mean_nll)| {
                let shape = super::write::test_shape(&test, &prepared.method);
                Candidate {
                    well_formed: shape.well_formed,
                    empty: shape.empty,
                    calls_focal: shape.calls_focal,
                    source,
                    test,
                    mean_nll,
                }
            })
            .collect();
        // Well-formed first, then by loss. Stable: equal keys keep generated before retrieved,
        // each in its own order.
        scored.sort_by(|a, b| {
            b.well_formed
                .cmp(&a.well_formed)
                .then(a.empty.cmp(&b.empty))
                .then(b.calls_focal.cmp(&a.calls_focal))
                .then(a.mean_nll.total_cmp(&b.mean_nll))
        });
        let mut seen = std::collections::HashSet::new();
        scored.retain(|c| seen.insert(whitespace_free(&c.test)));
        scored.truncate(prepared.k);
        Ok(scored)
    }

    /// The loaded projects' names, for errors.
    fn known(&self) -> String {
        let names: Vec<&str> = self.projects.iter().map(|p| p.info.name.as_str()).collect();
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    }
}

/// `text` without whitespace: how exact duplicates are recognised.
fn whitespace_free(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// The registered projects to load: those adapted to the base (by hash), narrowed to
/// `options.projects`; an unknown name, or no project at all, is an error that says what is
/// registered.
fn registered_for(options: &EngineOptions) -> Result<Vec<Registered>> {
    let hash = base_hash(&options.base)
        .with_context(|| format!("hashing the base {}", options.base.display()))?;
    let mut registered = registry::for_base(&options.out, &hash)?;
    let names = |list: &[Registered]| -> String {
        let names: Vec<&str> = list.iter().map(|r| r.manifest.name.as_str()).collect();
        if names.is_empty() {
            "none".into()
        } else {
            names.join(", ")
        }
    };
    let other_bases = || -> String {
        let all = registry::list(&options.out).unwrap_or_default();
        let others: Vec<Registered> = all
            .into_iter()
            .filter(|r| r.manifest.base_hash != hash)
            .collect();
        if others.is_empty() {
            String::new()
        } else {
            format!("; adapted to other bases: {}", names(&others))
        }
    };
    if !options.projects.is_empty() {
        for wanted in &options.projects {
            if !registered.iter().any(|r| &r.manifest.name == wanted) {
                bail!(
                    "project {wanted:?} is not registered for the base {} in {} (registered \
                     for it: {}{})",
                    options.base.display(),
                    crate::layout::Layout::new(&options.out)
                        .adapters_dir()
                        .display(),
                    names(&registered),
                    other_bases()
                );
            }
        }
        registered.retain(|r| options.projects.contains(&r.manifest.name));
    }
    if registered.is_empty() {
        bail!(
            "no project is registered for the base {} in {}{}; run `tailor adapt --repo …` \
             first",
            options.base.display(),
            crate::layout::Layout::new(&options.out)
                .adapters_dir()
                .display(),
            other_bases()
        );
    }
    registered.sort_by(|a, b| a.manifest.name.cmp(&b.manifest.name));
    Ok(registered)
}

/// A project's pairs and their BM25 index, with what the engine says about it.
fn load_project(
    registered: &Registered,
    strategy: &str,
    mixes: bool,
    slot: Slot,
) -> Result<Project> {
    let manifest = &registered.manifest;
    manifest
        .examples
        .validate()
        .with_context(|| format!("project {}'s manifest", manifest.name))?;
    let path = registered.paths.pairs();
    let mut pairs = read_pairs(&path).with_context(|| {
        format!(
            "reading project {}'s pairs {}",
            manifest.name,
            path.display()
        )
    })?;
    pairs.sort_by(|a, b| a.pair_id.cmp(&b.pair_id));
    pairs.dedup_by(|a, b| a.pair_id == b.pair_id);
    let index = ProjectIndex::build(
        pairs
            .iter()
            .map(|p| (p.pair_id.as_str(), p.focal_body.as_str())),
        Bm25::default(),
    );
    Ok(Project {
        info: ProjectInfo {
            name: manifest.name.clone(),
            strategy: strategy.to_string(),
            pairs: pairs.len(),
            mixes,
            metrics: manifest.metrics.clone(),
        },
        examples: manifest.examples.clone(),
        slot,
        pairs,
        index,
    })
}

/// The focal method of a request: a Java method found in its source and its input built at
/// the project's level, or a text used as the input as given.
fn resolve_focal(spec: &FocalSpec, project: &Project) -> Result<Focal, SuggestError> {
    match spec {
        FocalSpec::Text(text) => {
            if normalize_code(text).is_empty() {
                return Err(SuggestError::BadRequest("the focal text is empty".into()));
            }
            Ok(Focal {
                input: text.clone(),
                query: text.clone(),
                method: declared_name(text).unwrap_or_default(),
                class: String::new(),
            })
        }
        FocalSpec::Java {
            source,
            origin,
            method,
        } => {
            let found = find_method(source, origin, method).map_err(SuggestError::Focal)?;
            Ok(Focal {
                input: found.model_input(project.examples.level),
                query: found.method.text.clone(),
                method: found.method.name.clone(),
                class: found.simple_class().to_string(),
            })
        }
    }
}

/// Beam width and length: the options, then the base's `generation_config.json`, then 5 beams
/// and 128 tokens; every beam is returned (a request takes its top `k`), and no sequence is
/// longer than the model's positions.
fn generation_config(
    options: &EngineOptions,
    base: &BartForConditionalGeneration,
) -> Result<GenerationConfig> {
    let mut config = GenerationConfig::for_model_dir(&options.base, base)?;
    if let Some(beams) = options.num_beams {
        config.num_beams = beams;
    }
    if let Some(length) = options.max_length {
        config.max_length = length;
    }
    ensure!(config.num_beams >= 1, "the beam width must be at least 1");
    ensure!(
        config.max_length >= 2,
        "the generated length must be at least 2"
    );
    config.max_length = config.max_length.min(base.config.max_position_embeddings);
    config.num_return_sequences = config.num_beams;
    config.stop_loops = options.stop_loops;
    Ok(config)
}
