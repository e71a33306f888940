//! From examples to tensors, and the loss: teacher forcing as HF BART trains (`labels` = the
//! target's ids `<s> … </s>`, decoder inputs = labels shifted right after
//! `decoder_start_token_id`), token-level cross-entropy over real target positions only.

use burn::prelude::*;
use burn::tensor::activation::log_softmax;

use crate::data::tokenizer::PAD;
use crate::model::BartForConditionalGeneration;

/// One source/target pair as token ids (`<s> … </s>` both).
pub trait SeqPair {
    fn input_ids(&self) -> &[u32];
    fn target_ids(&self) -> &[u32];
}

impl SeqPair for crate::data::examples::Example {
    fn input_ids(&self) -> &[u32] {
        &self.input_ids
    }
    fn target_ids(&self) -> &[u32] {
        &self.target_ids
    }
}

/// A padded batch on the device.
#[derive(Debug, Clone)]
pub struct Batch {
    /// `[batch, src_len]`, padded with `<pad>`.
    pub input_ids: Tensor<2, Int>,
    /// `[batch, src_len]`, 1 = token.
    pub attention_mask: Tensor<2, Int>,
    /// `[batch, tgt_len]`: `decoder_start_token_id`, then the target without its last token.
    pub decoder_input_ids: Tensor<2, Int>,
    /// `[batch, tgt_len]`: the target, padded.
    pub labels: Tensor<2, Int>,
    /// `[batch, tgt_len]`, 1.0 on real target positions.
    pub label_mask: Tensor<2>,
    /// Real (unpadded) input and target tokens.
    pub input_tokens: usize,
    pub target_tokens: usize,
}

/// Pad a batch of examples into tensors on `device`.
pub fn collate<E: SeqPair>(examples: &[&E], decoder_start: u32, device: &Device) -> Batch {
    let rows = examples.len();
    let src_len = examples
        .iter()
        .map(|e| e.input_ids().len())
        .max()
        .unwrap_or(1)
        .max(1);
    let tgt_len = examples
        .iter()
        .map(|e| e.target_ids().len())
        .max()
        .unwrap_or(1)
        .max(1);
    let pad = i64::from(PAD);
    let mut input_ids = vec![pad; rows * src_len];
    let mut attention = vec![0i64; rows * src_len];
    let mut decoder_inputs = vec![pad; rows * tgt_len];
    let mut labels = vec![pad; rows * tgt_len];
    let mut label_mask = vec![0f32; rows * tgt_len];
    let (mut input_tokens, mut target_tokens) = (0, 0);
    for (row, example) in examples.iter().enumerate() {
        let (input, target) = (example.input_ids(), example.target_ids());
        input_tokens += input.len();
        target_tokens += target.len();
        for (i, &id) in input.iter().enumerate() {
            input_ids[row * src_len + i] = i64::from(id);
            attention[row * src_len + i] = 1;
        }
        for (i, &id) in target.iter().enumerate() {
            labels[row * tgt_len + i] = i64::from(id);
            label_mask[row * tgt_len + i] = 1.0;
            decoder_inputs[row * tgt_len + i] = if i == 0 {
                i64::from(decoder_start)
            } else {
                i64::from(target[i - 1])
            };
        }
    }
    let int = |values: Vec<i64>, len: usize| {
        Tensor::<2, Int>::from_data(TensorData::new(values, [rows, len]), device)
    };
    Batch {
        input_ids: int(input_ids, src_len),
        attention_mask: int(attention, src_len),
        decoder_input_ids: int(decoder_inputs, tgt_len),
        labels: int(labels, tgt_len),
        label_mask: Tensor::from_data(TensorData::new(label_mask, [rows, tgt_len]), device),
        input_tokens,
        target_tokens,
    }
}

/// Sum of the token negative log-likelihoods of the batch's real target positions, `[1]`.
pub fn nll_sum(model: &BartForConditionalGeneration, batch: &Batch) -> Tensor<1> {
    let logits = model.forward(
        batch.input_ids.clone(),
        Some(batch.attention_mask.clone()),
        batch.decoder_input_ids.clone(),
    ); // [batch, tgt_len, vocab]
    let log_probs = log_softmax(logits, 2);
    let picked: Tensor<3> = log_probs.gather(2, batch.labels.clone().unsqueeze_dim::<3>(2));
    let [rows, len, _] = picked.dims();
    let picked: Tensor<2> = picked.reshape([rows, len]);
    (picked * batch.label_mask.clone()).sum().neg()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Pair(Vec<u32>, Vec<u32>);
    impl SeqPair for Pair {
        fn input_ids(&self) -> &[u32] {
            &self.0
        }
        fn target_ids(&self) -> &[u32] {
            &self.1
        }
    }

    #[test]
    fn decoder_inputs_are_labels_shifted_right_after_the_start_token() {
        let device = Device::default();
        let a = Pair(vec![0, 5, 6, 2], vec![0, 9, 2]);
        let b = Pair(vec![0, 7, 2], vec![0, 8, 8, 8, 2]);
        let batch = collate(&[&a, &b], 2, &device);
        let ints = |t: Tensor<2, Int>| t.into_data().convert::<i64>().try_to_vec::<i64>().unwrap();
        assert_eq!(ints(batch.input_ids), vec![0, 5, 6, 2, 0, 7, 2, 1]);
        assert_eq!(ints(batch.attention_mask), vec![1, 1, 1, 1, 1, 1, 1, 0]);
        assert_eq!(ints(batch.labels), vec![0, 9, 2, 1, 1, 0, 8, 8, 8, 2]);
        assert_eq!(
            ints(batch.decoder_input_ids),
            vec![2, 0, 9, 1, 1, 2, 0, 8, 8, 8]
        );
        assert_eq!((batch.input_tokens, batch.target_tokens), (7, 8));
    }
}
