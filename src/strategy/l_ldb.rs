//! `l-ldb` (paper §3.4): only the last decoder block trains, the block closest to the output.

use super::{Method, is_added};
use crate::model::BartConfig;
use crate::model::params::ParamGroup;

/// The last decoder block trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LLdb;

impl Method for LLdb {
    /// Every base parameter of the last decoder block (not a prefix or LoRA update another
    /// strategy would have attached there).
    fn trains(&self, path: &str, config: &BartConfig) -> bool {
        let last = config.decoder_layers.checked_sub(1);
        last.is_some_and(|last| ParamGroup::of(path) == Some(ParamGroup::DecoderBlock(last)))
            && !is_added(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Preset;

    #[test]
    fn l_ldb_selects_the_last_decoder_block_only() {
        let config = BartConfig::preset(Preset::Tiny);
        assert!(LLdb.trains("model.decoder.layers.1.fc1.weight", &config));
        assert!(LLdb.trains("model.decoder.layers.1.encoder_attn.k_proj.bias", &config));
        assert!(!LLdb.trains("model.decoder.layers.0.fc1.weight", &config));
        assert!(!LLdb.trains("model.encoder.layers.1.fc1.weight", &config));
        assert!(!LLdb.trains("model.shared.weight", &config));
        assert!(!LLdb.trains("model.decoder.layers.1.self_attn.prefix.key", &config));
    }
}
