//! `custom` (paper §3.2): the whole base model is fine-tuned on the project; its adapter is
//! therefore a whole model's tensors.

use super::Method;
use crate::model::BartConfig;
use crate::model::params::ParamGroup;

/// Every parameter trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Custom;

impl Method for Custom {
    /// Everything except `final_logits_bias` (a buffer in HF, not a parameter).
    fn trains(&self, path: &str, _config: &BartConfig) -> bool {
        ParamGroup::of(path) != Some(ParamGroup::LogitsBias)
    }
}
