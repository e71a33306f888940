//! Compute accounting: FLOPs of a training step from the model's shapes, the batch's real
//! (unpadded) lengths and *what trains*, so customization cost is comparable across strategies
//! in PF-seconds (paper §4.4).
//!
//! The formula is Kaplan et al. 2020 ("Scaling Laws for Neural Language Models", Table 1) made
//! explicit per matrix multiplication of BART:
//! - forward: a linear map `[n, d_in] × [d_in, d_out]` costs `2·n·d_in·d_out`; attention costs
//!   `2·q·kv·d_model` for the scores `QKᵀ` and the same for `softmax(·)V` (Kaplan's
//!   `2·n_layer·n_ctx·d_attn` term, here with the real query and key lengths, prefixes included);
//!   the LM head is a linear map to the vocabulary. Embedding lookups, layer norms, softmax and
//!   activations are element-wise and left out, as Kaplan does.
//! - backward ≈ 2 × forward, split by what the gradients are for: every matmul has an
//!   *activation-gradient* product (w.r.t. its input, the same cost as its forward) needed only
//!   when a trainable parameter lies upstream of that input, and a *weight-gradient* product
//!   (same cost again) only when its weight trains. Attention's two products have two operands
//!   each; each operand's gradient is counted only when gradient must flow into it. So below the
//!   lowest trainable parameter there is no backward at all (L-LDB stops at the last decoder
//!   block), while L-EO and prefix pass activation gradients through the whole network but
//!   compute weight gradients only for their own tensors.
//!
//! What it does not model: recomputation, optimizer arithmetic (O(parameters), negligible next to
//! O(parameters × tokens)), padding (the real work of a padded batch is larger; we charge the
//! unpadded work, as the paper's token-based accounting does).

use std::collections::BTreeMap;

use crate::model::BartConfig;
use crate::model::params::NamedParam;

/// FLOPs of one example's forward and backward pass.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StepFlops {
    pub forward: f64,
    pub backward: f64,
}

impl StepFlops {
    pub fn total(&self) -> f64 {
        self.forward + self.backward
    }
}

impl std::ops::AddAssign for StepFlops {
    fn add_assign(&mut self, other: Self) {
        self.forward += other.forward;
        self.backward += other.backward;
    }
}

/// One of the four projections of an attention, as named in HF BART.
const PROJECTIONS: [&str; 4] = ["q_proj", "k_proj", "v_proj", "out_proj"];

/// What trains inside one attention: its projections' weights, its prefix, and LoRA factors
/// per projection (rank, trainable).
#[derive(Debug, Clone, Default)]
struct AttentionPlan {
    /// Which of q, k, v, out have a trainable weight or bias.
    trains: [bool; 4],
    /// Prefix length (0 = none) and whether the prefix trains.
    prefix_len: usize,
    prefix_trains: bool,
    /// LoRA rank per projection (0 = none) and whether its factors train.
    lora_rank: [usize; 4],
    lora_trains: [bool; 4],
}

/// What trains inside one encoder or decoder block.
#[derive(Debug, Clone, Default)]
struct BlockPlan {
    self_attn: AttentionPlan,
    /// Decoder blocks only.
    cross_attn: AttentionPlan,
    /// Any of the block's layer norms (they sit between the sub-layers; see [`Self::norm_after`]).
    self_norm: bool,
    cross_norm: bool,
    fc1: bool,
    fc2: bool,
    fc1_lora: (usize, bool),
    fc2_lora: (usize, bool),
    final_norm: bool,
}

/// The model seen by the accountant: shapes, and which parameters train.
#[derive(Debug, Clone)]
pub struct ComputeModel {
    d_model: f64,
    encoder_ffn: f64,
    decoder_ffn: f64,
    vocab: f64,
    /// `model.shared` (token embedding = tied LM head).
    shared: bool,
    /// Encoder / decoder positions and `layernorm_embedding`.
    encoder_embeddings: bool,
    decoder_embeddings: bool,
    encoder: Vec<BlockPlan>,
    decoder: Vec<BlockPlan>,
    /// The prefix MLP reparameterisation, if any: its shapes and whether it trains.
    prefix_mlp: PrefixMlpPlan,
}

/// `prefix_mlp.embedding` `[len, d_model]`, `fc1` `d_model → hidden`, `fc2` `hidden → outputs`
/// (`outputs` = prefixed attentions × 2 × d_model).
#[derive(Debug, Clone, Copy, Default)]
struct PrefixMlpPlan {
    len: usize,
    hidden: usize,
    outputs: usize,
    trains: bool,
}

impl ComputeModel {
    /// Describe a model from its parameters (see [`crate::model::params::named_params`]) and the
    /// predicate saying which ones train (a strategy's selection).
    pub fn new(config: &BartConfig, params: &[NamedParam], trains: &dyn Fn(&str) -> bool) -> Self {
        let mut model = Self {
            d_model: config.d_model as f64,
            encoder_ffn: config.encoder_ffn_dim as f64,
            decoder_ffn: config.decoder_ffn_dim as f64,
            vocab: config.vocab_size as f64,
            shared: false,
            encoder_embeddings: false,
            decoder_embeddings: false,
            encoder: vec![BlockPlan::default(); config.encoder_layers],
            decoder: vec![BlockPlan::default(); config.decoder_layers],
            prefix_mlp: PrefixMlpPlan::default(),
        };
        for param in params {
            model.add(param, trains(&param.path));
        }
        model.place_mlp_prefixes();
        model
    }

    /// The attentions a prefix MLP feeds get its prefixes (every self-attention, and the
    /// cross-attentions when its output covers them, as `Strategy::attach` lays it out).
    fn place_mlp_prefixes(&mut self) {
        let mlp = self.prefix_mlp;
        if mlp.len == 0 || self.d_model == 0.0 {
            return;
        }
        let attentions = mlp.outputs / (2 * self.d_model as usize);
        let cross = attentions == self.encoder.len() + 2 * self.decoder.len();
        let plans = self.encoder.iter_mut().map(|b| &mut b.self_attn).chain(
            self.decoder.iter_mut().flat_map(|b| {
                let BlockPlan {
                    self_attn,
                    cross_attn,
                    ..
                } = b;
                std::iter::once(self_attn).chain(cross.then_some(cross_attn))
            }),
        );
        for plan in plans {
            plan.prefix_len = mlp.len;
            plan.prefix_trains = mlp.trains;
        }
    }

    fn add(&mut self, param: &NamedParam, trains: bool) {
        let parts: Vec<&str> = param.path.split('.').collect();
        match parts.as_slice() {
            ["model", "shared", ..] => self.shared |= trains,
            [
                "model",
                "encoder",
                "embed_positions" | "layernorm_embedding",
                ..,
            ] => self.encoder_embeddings |= trains,
            [
                "model",
                "decoder",
                "embed_positions" | "layernorm_embedding",
                ..,
            ] => self.decoder_embeddings |= trains,
            [
                "model",
                stack @ ("encoder" | "decoder"),
                "layers",
                index,
                rest @ ..,
            ] => {
                let Ok(index) = index.parse::<usize>() else {
                    return;
                };
                let blocks = if *stack == "encoder" {
                    &mut self.encoder
                } else {
                    &mut self.decoder
                };
                if let Some(block) = blocks.get_mut(index) {
                    block.add(rest, &param.shape, trains);
                }
            }
            ["prefix_mlp", "embedding", ..] => {
                self.prefix_mlp.len = param.shape.first().copied().unwrap_or(0);
                self.prefix_mlp.trains |= trains;
            }
            ["prefix_mlp", "fc1", "weight"] => {
                self.prefix_mlp.hidden = param.shape.get(1).copied().unwrap_or(0);
            }
            ["prefix_mlp", "fc2", "weight"] => {
                self.prefix_mlp.outputs = param.shape.get(1).copied().unwrap_or(0);
            }
            _ => {} // final_logits_bias: a buffer, never trained, no FLOPs
        }
    }

    /// FLOPs of one training example with `src_len` input and `tgt_len` target tokens.
    pub fn example(&self, src_len: usize, tgt_len: usize) -> StepFlops {
        let mut acc = Accountant::default();
        let (s, t, d) = (src_len as f64, tgt_len as f64, self.d_model);

        // Encoder stream: gradient flows once anything at or below the current op trains.
        let mut enc_flow = self.shared || self.encoder_embeddings;
        for block in &self.encoder {
            enc_flow = acc.attention(&block.self_attn, s, s, d, enc_flow, enc_flow);
            enc_flow |= block.self_norm;
            enc_flow = acc.feed_forward(block, s, d, self.encoder_ffn, enc_flow);
        }

        let mut dec_flow = self.shared || self.decoder_embeddings;
        for block in &self.decoder {
            dec_flow = acc.attention(&block.self_attn, t, t, d, dec_flow, dec_flow);
            dec_flow |= block.self_norm;
            // Cross-attention: queries from the decoder stream, keys/values from the encoder's
            // output.
            dec_flow = acc.attention(&block.cross_attn, t, s, d, dec_flow, enc_flow);
            dec_flow |= block.cross_norm;
            dec_flow = acc.feed_forward(block, t, d, self.decoder_ffn, dec_flow);
        }
        // LM head: the tied embedding, transposed.
        acc.linear(t, d, self.vocab, dec_flow, self.shared);
        acc.flops
    }

    /// FLOPs of a batch, from its examples' real lengths.
    pub fn batch(&self, lengths: impl IntoIterator<Item = (usize, usize)>) -> StepFlops {
        let mut total = StepFlops::default();
        for (src, tgt) in lengths {
            total += self.example(src, tgt);
        }
        total += self.prefix_mlp_step();
        total
    }

    /// The prefix MLP's work per step, once per batch: run (and differentiated) once for the
    /// encoder and once for the decoder, as the model computes it per call.
    fn prefix_mlp_step(&self) -> StepFlops {
        let mlp = self.prefix_mlp;
        let mut acc = Accountant::default();
        if mlp.len == 0 {
            return acc.flops;
        }
        let (n, d) = (mlp.len as f64, self.d_model);
        for _ in 0..2 {
            let flow = acc.linear(n, d, mlp.hidden as f64, mlp.trains, mlp.trains);
            acc.linear(n, mlp.hidden as f64, mlp.outputs as f64, flow, mlp.trains);
        }
        acc.flops
    }

    /// Whether any parameter trains at all (a strategy selecting nothing is a configuration error).
    pub fn trains_anything(&self) -> bool {
        self.shared
            || self.encoder_embeddings
            || self.decoder_embeddings
            || self
                .encoder
                .iter()
                .chain(&self.decoder)
                .any(BlockPlan::trains_anything)
    }
}

impl BlockPlan {
    fn add(&mut self, rest: &[&str], shape: &[usize], trains: bool) {
        match rest {
            [attn @ ("self_attn" | "encoder_attn"), tail @ ..] => {
                let plan = if *attn == "self_attn" {
                    &mut self.self_attn
                } else {
                    &mut self.cross_attn
                };
                plan.add(tail, shape, trains);
            }
            ["self_attn_layer_norm", ..] => self.self_norm |= trains,
            ["encoder_attn_layer_norm", ..] => self.cross_norm |= trains,
            ["final_layer_norm", ..] => self.final_norm |= trains,
            [fc @ ("fc1" | "fc2"), tail @ ..] => {
                let (weight, lora) = if *fc == "fc1" {
                    (&mut self.fc1, &mut self.fc1_lora)
                } else {
                    (&mut self.fc2, &mut self.fc2_lora)
                };
                if tail.iter().any(|p| p.contains("lora")) {
                    lora.0 = lora.0.max(lora_rank(shape));
                    lora.1 |= trains;
                } else {
                    *weight |= trains;
                }
            }
            _ => {}
        }
    }

    fn trains_anything(&self) -> bool {
        self.self_attn.trains_anything()
            || self.cross_attn.trains_anything()
            || self.self_norm
            || self.cross_norm
            || self.fc1
            || self.fc2
            || self.fc1_lora.1
            || self.fc2_lora.1
            || self.final_norm
    }
}

/// The rank of a LoRA factor: its smaller dimension.
fn lora_rank(shape: &[usize]) -> usize {
    shape.iter().copied().min().unwrap_or(0)
}

impl AttentionPlan {
    fn add(&mut self, tail: &[&str], shape: &[usize], trains: bool) {
        if tail.contains(&"prefix") {
            // `prefix.key` / `prefix.value`: `[len, d_model]`.
            self.prefix_len = self.prefix_len.max(shape.first().copied().unwrap_or(0));
            self.prefix_trains |= trains;
            return;
        }
        let Some(which) = PROJECTIONS
            .iter()
            .position(|p| tail.iter().any(|part| part == p))
        else {
            return;
        };
        if tail.iter().any(|part| part.contains("lora")) {
            self.lora_rank[which] = self.lora_rank[which].max(lora_rank(shape));
            self.lora_trains[which] |= trains;
        } else {
            self.trains[which] |= trains;
        }
    }

    fn trains_anything(&self) -> bool {
        self.trains.iter().any(|t| *t) || self.prefix_trains || self.lora_trains.iter().any(|t| *t)
    }
}

/// Sums forward and backward FLOPs op by op.
#[derive(Debug, Default)]
struct Accountant {
    flops: StepFlops,
}

impl Accountant {
    /// `[n, d_in] × [d_in, d_out]`; returns whether gradient flows out of it (into its output's
    /// consumers' view: something at or below trains).
    fn linear(
        &mut self,
        n: f64,
        d_in: f64,
        d_out: f64,
        input_flow: bool,
        weight_trains: bool,
    ) -> bool {
        let forward = 2.0 * n * d_in * d_out;
        self.flops.forward += forward;
        if input_flow {
            self.flops.backward += forward; // dL/dx
        }
        if weight_trains {
            self.flops.backward += forward; // dL/dW
        }
        input_flow || weight_trains
    }

    /// A linear map with an optional LoRA branch `x·A·B` (Hu et al. 2021) of rank `rank`.
    fn adapted_linear(
        &mut self,
        n: f64,
        d_in: f64,
        d_out: f64,
        input_flow: bool,
        weight_trains: bool,
        lora: (usize, bool),
    ) -> bool {
        let mut flow = self.linear(n, d_in, d_out, input_flow, weight_trains);
        let (rank, trains) = lora;
        if rank > 0 {
            let r = rank as f64;
            let down = self.linear(n, d_in, r, input_flow, trains);
            let up = self.linear(n, r, d_out, down, trains);
            flow |= up;
        }
        flow
    }

    /// One attention with `q` queries over `kv` keys (`+ prefix`), queries from a stream whose
    /// gradient flow is `q_flow` and keys/values from one with `kv_flow`. Returns the flow of
    /// its output.
    fn attention(
        &mut self,
        plan: &AttentionPlan,
        q: f64,
        kv: f64,
        d: f64,
        q_flow: bool,
        kv_flow: bool,
    ) -> bool {
        let lora = |i: usize| (plan.lora_rank[i], plan.lora_trains[i]);
        let query = self.adapted_linear(q, d, d, q_flow, plan.trains[0], lora(0));
        let key = self.adapted_linear(kv, d, d, kv_flow, plan.trains[1], lora(1));
        let value = self.adapted_linear(kv, d, d, kv_flow, plan.trains[2], lora(2));
        let key = key || plan.prefix_trains;
        let value = value || plan.prefix_trains;
        let keys = kv + plan.prefix_len as f64;
        // scores = Q Kᵀ: gradient into Q if it flows there, into K likewise.
        let scores = 2.0 * q * keys * d;
        self.flops.forward += scores;
        self.flops.backward += scores * (f64::from(u8::from(query)) + f64::from(u8::from(key)));
        let probs = query || key;
        // context = softmax(scores) V.
        let context = 2.0 * q * keys * d;
        self.flops.forward += context;
        self.flops.backward += context * (f64::from(u8::from(probs)) + f64::from(u8::from(value)));
        let context_flow = probs || value;
        self.adapted_linear(q, d, d, context_flow, plan.trains[3], lora(3))
    }

    fn feed_forward(&mut self, block: &BlockPlan, n: f64, d: f64, ffn: f64, flow: bool) -> bool {
        let hidden = self.adapted_linear(n, d, ffn, flow, block.fc1, block.fc1_lora);
        let out = self.adapted_linear(n, ffn, d, hidden, block.fc2, block.fc2_lora);
        out || block.final_norm
    }
}

/// Petaflop-seconds, the paper's unit (§4.4): 10¹⁵ FLOPs per second for a second.
pub fn pf_seconds(flops: f64) -> f64 {
    flops / 1e15
}

/// Model-FLOP utilisation: achieved FLOP/s over a peak the user states (TFLOP/s).
pub fn mfu(flops: f64, seconds: f64, peak_tflops: f64) -> Option<f64> {
    (seconds > 0.0 && peak_tflops > 0.0).then(|| flops / seconds / (peak_tflops * 1e12))
}

/// FLOPs per group of trainable parameters, for reports: which groups a predicate selects.
pub fn trainable_summary(
    params: &[NamedParam],
    trains: &dyn Fn(&str) -> bool,
) -> BTreeMap<String, usize> {
    let mut groups = BTreeMap::new();
    for param in params.iter().filter(|p| trains(&p.path)) {
        let group = crate::model::params::ParamGroup::of(&param.path)
            .map_or_else(|| "other".to_string(), |g| g.to_string());
        *groups.entry(group).or_insert(0) += param.numel();
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::params::{named_params, with_prefixes};
    use crate::model::{BartForConditionalGeneration, Preset};
    use burn::prelude::Device;

    fn tiny() -> (BartConfig, Vec<NamedParam>) {
        let config = BartConfig::preset(Preset::Tiny);
        let model = BartForConditionalGeneration::new(&config, &Device::default());
        (config.clone(), named_params(&model))
    }

    /// An independent count: every `Linear` weight of the model multiplies the rows of its
    /// stream, every attention does `QKᵀ` and `PV`, and the LM head maps to the vocabulary.
    fn direct_forward(config: &BartConfig, params: &[NamedParam], s: f64, t: f64) -> f64 {
        let mut flops = 0.0;
        for p in params.iter().filter(|p| p.is_transposed_in_hf()) {
            let rows = if p.path.starts_with("model.encoder")
                || p.path.contains("encoder_attn.k_proj")
                || p.path.contains("encoder_attn.v_proj")
            {
                s
            } else {
                t
            };
            flops += 2.0 * rows * (p.shape[0] * p.shape[1]) as f64;
        }
        let d = config.d_model as f64;
        let prefix = |stack: &str, attn: &str| {
            params
                .iter()
                .find(|p| p.path.contains(stack) && p.path.contains(&format!("{attn}.prefix.key")))
                .map_or(0.0, |p| p.shape[0] as f64)
        };
        flops += config.encoder_layers as f64 * 4.0 * s * (s + prefix("encoder", "self_attn")) * d;
        flops += config.decoder_layers as f64 * 4.0 * t * (t + prefix("decoder", "self_attn")) * d;
        flops +=
            config.decoder_layers as f64 * 4.0 * t * (s + prefix("decoder", "encoder_attn")) * d;
        flops + 2.0 * t * d * config.vocab_size as f64
    }

    #[test]
    fn forward_equals_a_direct_count_of_the_matmuls() {
        let (config, params) = tiny();
        let model = ComputeModel::new(&config, &params, &|_| true);
        for (s, t) in [(1, 1), (7, 3), (40, 17)] {
            let ours = model.example(s, t).forward;
            let direct = direct_forward(&config, &params, s as f64, t as f64);
            assert!(
                (ours - direct).abs() < 1e-6 * direct,
                "{s}/{t}: {ours} vs {direct}"
            );
        }
        // With prefixes on every self-attention and the cross-attention.
        let device = Device::default();
        let prefixed = with_prefixes(
            BartForConditionalGeneration::new(&config, &device),
            5,
            true,
            &device,
        );
        let params = named_params(&prefixed);
        let model = ComputeModel::new(&config, &params, &|p| p.contains("prefix"));
        let ours = model.example(9, 4).forward;
        let direct = direct_forward(&config, &params, 9.0, 4.0);
        assert!((ours - direct).abs() < 1e-6 * direct, "{ours} vs {direct}");
    }

    #[test]
    fn training_everything_costs_three_forwards_less_the_input_gradients_of_nothing() {
        // With the embeddings trainable, gradient flows everywhere: backward = 2 × forward.
        let (config, params) = tiny();
        let model = ComputeModel::new(&config, &params, &|p| p != "final_logits_bias");
        let flops = model.example(30, 12);
        assert!((flops.backward - 2.0 * flops.forward).abs() < 1e-9 * flops.forward);
    }

    #[test]
    fn the_last_decoder_block_costs_only_its_own_backward_and_the_heads() {
        let (config, params) = tiny();
        let last = config.decoder_layers - 1;
        let prefix = format!("model.decoder.layers.{last}.");
        let model = ComputeModel::new(&config, &params, &|p| p.starts_with(&prefix));
        let (s, t) = (30.0, 12.0);
        let flops = model.example(30, 12);
        let d = config.d_model as f64;
        let f = config.decoder_ffn_dim as f64;
        let v = config.vocab_size as f64;
        // LM head: activation gradient only (the tied embedding is frozen).
        let head = 2.0 * t * d * v;
        // Last block, from the top: fc2 and fc1 (dW + dx), cross out_proj (dW + dx), PV (both
        // operands: P from trainable q/k, V from trainable v_proj), QKᵀ (Q and K), cross q
        // (dW + dx), cross k/v (dW only), and the self-attention, whose q/k/v inputs come from
        // the frozen blocks below (dW only).
        let lin = |n: f64, a: f64, b: f64| 2.0 * n * a * b;
        let fc = 2.0 * (lin(t, d, f) + lin(t, f, d));
        let cross = 2.0 * lin(t, d, d) // out_proj
            + 2.0 * (2.0 * t * s * d) * 2.0 // PV and QKᵀ, two operands each
            + 2.0 * lin(t, d, d) // q: its input is this block's self-attention output
            + 2.0 * lin(s, d, d); // k, v: weight gradients only (the encoder is frozen)
        let selfattn = 2.0 * lin(t, d, d) + 2.0 * (2.0 * t * t * d) * 2.0 + 3.0 * lin(t, d, d);
        let expected = head + fc + cross + selfattn;
        assert!(
            (flops.backward - expected).abs() < 1e-9 * expected,
            "{} vs {expected}",
            flops.backward
        );
    }

    #[test]
    fn strategies_order_by_cost_as_the_paper_reports() {
        let (config, params) = tiny();
        let last = format!("model.decoder.layers.{}.", config.decoder_layers - 1);
        let cost = |trains: &dyn Fn(&str) -> bool| {
            ComputeModel::new(&config, &params, trains)
                .example(50, 20)
                .total()
        };
        let custom = cost(&|p| p != "final_logits_bias");
        let leo = cost(&|p| p.starts_with("model.shared") || p.contains("embed_positions"));
        let lldb = cost(&|p| p.starts_with(&last));
        let nothing = cost(&|_| false);
        assert!(lldb < leo && leo < custom, "{lldb} {leo} {custom}");
        // Frozen everything: the forward alone.
        let forward = ComputeModel::new(&config, &params, &|_| false)
            .example(50, 20)
            .forward;
        assert_eq!(nothing, forward);
        assert!(!ComputeModel::new(&config, &params, &|_| false).trains_anything());
    }

    #[test]
    fn a_prefix_mlp_costs_the_prefixes_it_feeds_plus_its_own_work_per_step() {
        use crate::strategy::{PrefixSettings, Strategy};
        let (config, _) = tiny();
        let device = Device::default();
        let prefix = PrefixSettings {
            len: 5,
            cross_attention: true,
            ..PrefixSettings::default()
        };
        let mlp = Strategy::Prefix {
            prefix: PrefixSettings {
                mlp_hidden: 16,
                ..prefix.clone()
            },
        };
        let direct = Strategy::Prefix { prefix };
        let account = |strategy: &Strategy| {
            let model =
                strategy.attach(BartForConditionalGeneration::new(&config, &device), &device);
            let params = named_params(&model);
            ComputeModel::new(&config, &params, &|p| strategy.trains(p, &config))
        };
        let (direct, mlp_model) = (account(&direct), account(&mlp));
        // Per example: the same attention work over the same prefixes.
        assert_eq!(direct.example(9, 4), mlp_model.example(9, 4));
        // Per step: plus the MLP, forward and backward, once for the encoder and once for the
        // decoder: 2 × 3 × 2 · len · (d·h + h·out).
        let d = config.d_model as f64;
        let out = (config.encoder_layers + 2 * config.decoder_layers) as f64 * 2.0 * d;
        let mlp_flops = 2.0 * 3.0 * 2.0 * 5.0 * (d * 16.0 + 16.0 * out);
        let extra =
            mlp_model.batch([(9, 4), (3, 2)]).total() - direct.batch([(9, 4), (3, 2)]).total();
        assert!(
            (extra - mlp_flops).abs() < 1e-6 * mlp_flops,
            "{extra} vs {mlp_flops}"
        );
    }

    #[test]
    fn mfu_and_pf_seconds() {
        assert_eq!(pf_seconds(2e15), 2.0);
        assert_eq!(mfu(1e12, 1.0, 2.0), Some(0.5));
        assert_eq!(mfu(1e12, 0.0, 2.0), None);
    }
}
