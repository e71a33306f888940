//! `l-eo` (paper §3.3): only the embeddings and the output layer train. BART ties the output
//! layer to the token embedding, so that is `model.shared` plus both learned position
//! embeddings.

use super::Method;
use crate::model::BartConfig;
use crate::model::params::ParamGroup;

/// The embeddings and (tied) output layer train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LEo;

impl Method for LEo {
    /// `model.shared` and both `embed_positions`.
    fn trains(&self, path: &str, _config: &BartConfig) -> bool {
        matches!(
            ParamGroup::of(path),
            Some(ParamGroup::TokenEmbeddings | ParamGroup::Positions)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Preset;

    #[test]
    fn l_eo_selects_embeddings_and_positions() {
        let config = BartConfig::preset(Preset::Tiny);
        assert!(LEo.trains("model.shared.weight", &config));
        assert!(LEo.trains("model.encoder.embed_positions.weight", &config));
        assert!(LEo.trains("model.decoder.embed_positions.weight", &config));
        assert!(!LEo.trains("model.encoder.layernorm_embedding.gamma", &config));
        assert!(!LEo.trains("final_logits_bias", &config));
    }
}
