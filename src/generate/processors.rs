//! HF logits processors that look at a hypothesis's tokens so far, applied on the host:
//! `RepetitionPenaltyLogitsProcessor` and `NoRepeatNGramLogitsProcessor` (transformers 5.x).
//! Both see the whole decoder sequence, the decoder start token included, as HF's do.

/// HF `RepetitionPenaltyLogitsProcessor`: every token already in `tokens` has its score
/// multiplied by `penalty` when negative and divided by it otherwise (each token once).
pub fn repetition_penalty(scores: &mut [f32], tokens: &[u32], penalty: f32) {
    if penalty == 1.0 {
        return;
    }
    let mut seen = tokens.to_vec();
    seen.sort_unstable();
    seen.dedup();
    for token in seen {
        if let Some(score) = scores.get_mut(token as usize) {
            *score = if *score < 0.0 {
                *score * penalty
            } else {
                *score / penalty
            };
        }
    }
}

/// The tokens that would complete an `n`-gram already present in `tokens` (HF
/// `NoRepeatNGramLogitsProcessor`): the last tokens of every earlier window whose first `n - 1`
/// tokens equal the sequence's last `n - 1`.
pub fn banned_ngram_tokens(tokens: &[u32], n: usize) -> Vec<u32> {
    if n == 0 || tokens.len() < n {
        return Vec::new();
    }
    let prefix = &tokens[tokens.len() + 1 - n..];
    tokens
        .windows(n)
        .filter(|w| &w[..n - 1] == prefix)
        .map(|w| w[n - 1])
        .collect()
}

/// Sets the scores of the tokens that would repeat an `n`-gram to -inf.
pub fn no_repeat_ngram(scores: &mut [f32], tokens: &[u32], n: usize) {
    for token in banned_ngram_tokens(tokens, n) {
        if let Some(score) = scores.get_mut(token as usize) {
            *score = f32::NEG_INFINITY;
        }
    }
}

/// The longest block [`ends_in_loop`] looks for.
pub const MAX_LOOP_PERIOD: usize = 16;

/// The fewest tokens a loop covers: a short block must repeat more often (`}` four times is
/// nested code, eight times a loop).
pub const MIN_LOOP_SPAN: usize = 8;

/// Whether `tokens` ends with one block of 1..=[`MAX_LOOP_PERIOD`] tokens repeated `repeats`
/// times in a row, and more often if that covers under [`MIN_LOOP_SPAN`] tokens (`repeats` 0 or
/// 1: never). A small model's beams fall into such loops
/// (`String[] { String[] { …`) and would run to the length limit; stopping them there is what
/// makes an interactive request's time the length of its real candidates.
pub fn ends_in_loop(tokens: &[u32], repeats: usize) -> bool {
    if repeats < 2 {
        return false;
    }
    (1..=MAX_LOOP_PERIOD).any(|period| {
        let span = period * repeats.max(MIN_LOOP_SPAN.div_ceil(period));
        span <= tokens.len() && {
            let tail = &tokens[tokens.len() - span..];
            let block = &tail[span - period..];
            tail.chunks_exact(period).all(|chunk| chunk == block)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loops_are_a_block_repeated_at_the_end() {
        // `a b c` three times at the end, after other tokens (9 ≥ MIN_LOOP_SPAN).
        let looped = [9, 8, 1, 2, 3, 1, 2, 3, 1, 2, 3];
        assert!(ends_in_loop(&looped, 3));
        assert!(!ends_in_loop(&looped, 4));
        // `a b` three times is 6 tokens: it must repeat 4 times.
        assert!(!ends_in_loop(&[1, 2, 1, 2, 1, 2], 3));
        assert!(ends_in_loop(&[1, 2, 1, 2, 1, 2, 1, 2], 3));
        // The repeats must be at the very end and adjacent.
        assert!(!ends_in_loop(&[1, 2, 3, 1, 2, 3, 1, 2, 3, 4], 3));
        assert!(!ends_in_loop(&[1, 2, 3, 1, 2, 3, 0, 1, 2, 3], 3));
        // A period-1 run counts once it covers MIN_LOOP_SPAN tokens.
        assert!(!ends_in_loop(&[5, 7, 7, 7, 7], 4));
        assert!(ends_in_loop(&[5, 7, 7, 7, 7, 7, 7, 7, 7], 4));
        // A period of MAX_LOOP_PERIOD counts; longer periods do not.
        let block: Vec<u32> = (0..MAX_LOOP_PERIOD as u32).collect();
        assert!(ends_in_loop(&block.repeat(2), 2));
        let long: Vec<u32> = (0..MAX_LOOP_PERIOD as u32 + 1).collect();
        assert!(!ends_in_loop(&long.repeat(2), 2));
        // Off, or too short to hold the repeats.
        assert!(!ends_in_loop(&looped, 0));
        assert!(!ends_in_loop(&looped, 1));
        assert!(!ends_in_loop(&[7, 7], 3));
    }

    #[test]
    fn ngrams_ban_the_continuations_of_the_last_n_minus_1_tokens() {
        // bigrams: after 5 came 6 and 7; the sequence ends with 5.
        assert_eq!(banned_ngram_tokens(&[2, 5, 6, 5, 7, 5], 2), vec![6, 7]);
        assert_eq!(banned_ngram_tokens(&[2, 5, 6, 5], 3), Vec::<u32>::new());
        assert_eq!(banned_ngram_tokens(&[2, 5, 6, 5, 6], 3), vec![5]);
        assert_eq!(banned_ngram_tokens(&[2, 5], 3), Vec::<u32>::new());
        assert_eq!(banned_ngram_tokens(&[2, 5, 6], 0), Vec::<u32>::new());
        // The start token counts: 2 2 → after 2 comes 2.
        assert_eq!(banned_ngram_tokens(&[2, 2], 2), vec![2]);
    }

    #[test]
    fn repetition_penalty_shrinks_seen_scores_once() {
        let mut scores = vec![1.5, -1.0, 3.0, -2.0];
        repetition_penalty(&mut scores, &[0, 1, 1], 1.5);
        assert_eq!(scores, vec![1.0, -1.5, 3.0, -2.0]);
    }
}
